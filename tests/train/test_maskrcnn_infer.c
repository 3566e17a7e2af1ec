/* Mask R-CNN inference end to end (src/train/maskrcnn_infer.c) against
 * torchvision's MaskRCNN in eval mode (tests/fixtures/maskrcnn_infer.h5, made
 * by maskrcnn_infer_make_fixtures.py): the small networks of test_maskrcnn
 * with hashed weights on two 64x64 images; the detections' labels in order,
 * boxes, scores, and the masks pasted into the image (dlt_det_paste_mask). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_det_post.h"
#include "dlt_maskrcnn_infer.h"
#include "dlt_ops.h"
#include "dlt_test.h"

enum { B = 2, S = 64, D = 100, M = 28 };

static int64_t count_of(hid_t f, const char *name)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    ck_assert_msg(ds >= 0, "no dataset %s", name);
    hid_t sp = H5Dget_space(ds);
    int64_t n = (int64_t)H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp), H5Dclose(ds);
    return n;
}

START_TEST(maskrcnn_eval_vs_torchvision)
{
    dlt_maskrcnn_spec s;
    dlt_maskrcnn_spec_default(&s);
    s.depth = 18, s.num_classes = 5, s.fpn_channels = 32, s.representation = 64,
    s.mask_channels = 32;
    dlt_mrcnn_infer_config c;
    dlt_mrcnn_infer_config_default(&c, &s, B, S, S);
    dlt_mrcnn_infer *m;
    ck_assert_msg(dlt_mrcnn_infer_create(&c, &m) == DLT_OK, "%s", dlt_errmsg());
    dlt_graph *g = dlt_mrcnn_infer_graph(m);
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        dlt_test_hash_param(pi->name, &pi->shape, dlt_param_data(g, pi->value));
    }
    for (int i = 0; i < dlt_num_buffers(g); i++) {
        const dlt_param_info *bi = dlt_buffer_at(g, i);
        dlt_test_hash_param(bi->name, &bi->shape, dlt_param_data(g, bi->value));
    }
    hid_t f = dlt_test_fixture_open("maskrcnn_infer.h5");
    float *x = malloc(sizeof(float) * B * 3 * S * S);
    dlt_test_h5_read(f, "x", H5T_NATIVE_FLOAT, x, B * 3 * S * S);
    const int32_t sizes[B * 2] = {S, S, S, S};
    float *boxes = malloc(sizeof(float) * B * D * 4), *scores = malloc(sizeof(float) * B * D),
          *valid = malloc(sizeof(float) * B * D), *masks = malloc(sizeof(float) * B * D * M * M);
    int32_t *labels = malloc(sizeof(int32_t) * B * D);
    ck_assert_msg(dlt_mrcnn_infer_run(m, x, sizes, boxes, scores, labels, valid, masks) == DLT_OK,
                  "%s", dlt_errmsg());
    float *pasted = malloc(sizeof(float) * S * S);
    for (int b = 0; b < B; b++) {
        char name[32];
        snprintf(name, sizeof name, "b%d_scores", b);
        int64_t n = count_of(f, name);
        int got = 0;
        while (got < D && valid[b * D + got] != 0.f)
            got++;
        printf("image %d: %d detections (torchvision %lld)\n", b, got, (long long)n);
        ck_assert_int_eq(got, n);
        float *ws = malloc(sizeof(float) * (n + 1)), *wb = malloc(sizeof(float) * 4 * (n + 1)),
              *wm = malloc(sizeof(float) * (n + 1) * S * S);
        int64_t *wl = malloc(sizeof(int64_t) * (n + 1));
        dlt_test_h5_read(f, name, H5T_NATIVE_FLOAT, ws, (size_t)n);
        snprintf(name, sizeof name, "b%d_boxes", b);
        dlt_test_h5_read(f, name, H5T_NATIVE_FLOAT, wb, (size_t)n * 4);
        snprintf(name, sizeof name, "b%d_labels", b);
        dlt_test_h5_read(f, name, H5T_NATIVE_INT64, wl, (size_t)n);
        snprintf(name, sizeof name, "b%d_masks", b);
        dlt_test_h5_read(f, name, H5T_NATIVE_FLOAT, wm, (size_t)n * S * S);
        double eb = 0, es = 0, em = 0;
        for (int k = 0; k < n; k++) {
            ck_assert_int_eq(labels[b * D + k], wl[k]);
            es = fmax(es, fabs(scores[b * D + k] - ws[k]));
            for (int j = 0; j < 4; j++)
                eb = fmax(eb, fabs(boxes[(b * D + k) * 4 + j] - wb[4 * k + j]));
            dlt_det_paste_mask(masks + (size_t)(b * D + k) * M * M, M, boxes + (b * D + k) * 4, S,
                               S, pasted);
            for (int p = 0; p < S * S; p++)
                em = fmax(em, fabs(pasted[p] - wm[(size_t)k * S * S + p]));
        }
        printf("  max |box| diff %.3g, |score| diff %.3g, |mask| diff %.3g\n", eb, es, em);
        /* f32 convolutions summed in another order through ResNet-18, the FPN and
         * the heads with hashed (not trained) weights: about 1e-4 relative
         * (torchvision itself in f32 and in f64 differs by 0.006 and 0.02 px in
         * the boxes, 1.1e-4 and 0.9e-4 in the scores; under valgrind's other
         * BLAS path these come to 0.022 px and 2.8e-4); the selections (counts,
         * labels, their order) are exact above */
        ck_assert_msg(eb < 0.05 && es < 1e-3 && em < 1e-2, "image %d differs", b);
        free(ws), free(wb), free(wm), free(wl);
    }
    /* a second inference object with the weights copied by name from the first
     * (what a task's evaluation does from its training graph): the same bits */
    dlt_mrcnn_infer *m2;
    ck_assert_int_eq(dlt_mrcnn_infer_create(&c, &m2), DLT_OK);
    ck_assert_msg(dlt_mrcnn_infer_load(m2, g) == DLT_OK, "%s", dlt_errmsg());
    float *b2 = malloc(sizeof(float) * B * D * 4), *s2 = malloc(sizeof(float) * B * D),
          *v2 = malloc(sizeof(float) * B * D), *m2k = malloc(sizeof(float) * B * D * M * M);
    int32_t *l2 = malloc(sizeof(int32_t) * B * D);
    ck_assert_int_eq(dlt_mrcnn_infer_run(m2, x, sizes, b2, s2, l2, v2, m2k), DLT_OK);
    ck_assert(!memcmp(b2, boxes, sizeof(float) * B * D * 4) &&
              !memcmp(s2, scores, sizeof(float) * B * D) &&
              !memcmp(l2, labels, sizeof(int32_t) * B * D) &&
              !memcmp(m2k, masks, sizeof(float) * B * D * M * M));
    free(b2), free(s2), free(v2), free(m2k), free(l2);
    dlt_mrcnn_infer_free(m2);
    /* a graph without the heads is refused, naming what it lacks */
    dlt_graph *small = dlt_graph_create(0);
    dlt_t p = dlt_param(small, "backbone.body.conv1.weight", 4, (const int64_t[]){64, 3, 7, 7},
                        dlt_init_const(0));
    ck_assert_int_ge(p, 0);
    ck_assert_int_eq(dlt_graph_finalize(small, NULL, 0), DLT_OK);
    ck_assert_int_eq(dlt_mrcnn_infer_create(&c, &m2), DLT_OK);
    ck_assert_int_eq(dlt_mrcnn_infer_load(m2, small), DLT_ERR_INVALID);
    printf("load from a partial graph: %s\n", dlt_errmsg());
    dlt_mrcnn_infer_free(m2);
    dlt_graph_free(small);
    free(pasted), free(x), free(boxes), free(scores), free(valid), free(masks), free(labels);
    H5Fclose(f);
    dlt_mrcnn_infer_free(m);
}
END_TEST

static dlt_status hashed(dlt_graph *g, void *user)
{
    (void)user;
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        dlt_test_hash_param(pi->name, &pi->shape, dlt_param_data(g, pi->value));
    }
    for (int i = 0; i < dlt_num_buffers(g); i++) {
        const dlt_param_info *bi = dlt_buffer_at(g, i);
        dlt_test_hash_param(bi->name, &bi->shape, dlt_param_data(g, bi->value));
    }
    return DLT_OK;
}

/* One 40x48 image of bytes through dlt_mrcnn_detect: the transform (resize to
 * 53x64, pad to 64x64), inference, boxes and masks in the image's pixels as
 * torchvision returns them; the picture has the best box's outline. */
START_TEST(detect_one_image_vs_torchvision)
{
    enum { PH = 40, PW = 48 };
    dlt_maskrcnn_spec s;
    dlt_maskrcnn_spec_default(&s);
    s.depth = 18, s.num_classes = 5, s.fpn_channels = 32, s.representation = 64,
    s.mask_channels = 32;
    hid_t f = dlt_test_fixture_open("maskrcnn_infer.h5");
    dlt_image8 im = {.h = PH, .w = PW, .c = 3, .px = malloc(PH * PW * 3)};
    dlt_test_h5_read(f, "photo", H5T_NATIVE_UINT8, im.px, PH * PW * 3);
    dlt_mrcnn_detect_opts o = {.min_size = 64, .max_size = 64};
    dlt_det_draw_opts_default(&o.draw);
    dlt_mrcnn_found got;
    dlt_image8 pic;
    ck_assert_msg(dlt_mrcnn_detect(&s, hashed, NULL, &im, &o, &got, &pic) == DLT_OK, "%s",
                  dlt_errmsg());
    int64_t n = count_of(f, "photo_scores");
    printf("photo: %d detections (torchvision %lld)\n", got.n, (long long)n);
    ck_assert_int_eq(got.n, n);
    float *ws = malloc(sizeof(float) * n), *wb = malloc(sizeof(float) * 4 * n),
          *wm = malloc(sizeof(float) * n * PH * PW);
    int64_t *wl = malloc(sizeof(int64_t) * n);
    dlt_test_h5_read(f, "photo_scores", H5T_NATIVE_FLOAT, ws, (size_t)n);
    dlt_test_h5_read(f, "photo_boxes", H5T_NATIVE_FLOAT, wb, (size_t)n * 4);
    dlt_test_h5_read(f, "photo_labels", H5T_NATIVE_INT64, wl, (size_t)n);
    dlt_test_h5_read(f, "photo_masks", H5T_NATIVE_FLOAT, wm, (size_t)n * PH * PW);
    double eb = 0, es = 0, em = 0;
    int same = 0;
    for (int k = 0; k < n; k++) {
        same += got.labels[k] == wl[k];
        es = fmax(es, fabs(got.scores[k] - ws[k]));
        for (int j = 0; j < 4; j++)
            eb = fmax(eb, fabs(got.boxes[4 * k + j] - wb[4 * k + j]));
        em = fmax(em, dlt_test_max_abserr(got.masks + (size_t)k * PH * PW, wm + (size_t)k * PH * PW,
                                          PH * PW));
    }
    printf("  %d labels the same in order, max |box| diff %.3g, |score| diff %.3g, |mask| diff "
           "%.3g\n",
           same, eb, es, em);
    ck_assert_int_eq(same, n);
    ck_assert_msg(eb < 0.05 && es < 1e-3 && em < 1e-2, "photo differs");
    /* the picture: the image with the best detection's outline in its class colour */
    ck_assert_int_eq(pic.h, PH);
    ck_assert_int_eq(pic.w, PW);
    uint8_t rgb[3];
    dlt_draw_palette(got.labels[0], rgb);
    int x1 = (int)floorf(got.boxes[0]), y2 = (int)ceilf(got.boxes[3]) - 1;
    const uint8_t *p = pic.px + ((size_t)y2 * PW + x1) * 3;
    ck_assert(got.scores[0] >= o.draw.score_min);
    ck_assert(p[0] == rgb[0] && p[1] == rgb[1] && p[2] == rgb[2]);
    dlt_image8_free(&pic), dlt_image8_free(&im);
    dlt_mrcnn_found_free(&got);
    free(ws), free(wb), free(wm), free(wl);
    H5Fclose(f);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("maskrcnn_infer");
    TCase *tc = tcase_create("maskrcnn_infer");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, maskrcnn_eval_vs_torchvision);
    tcase_add_test(tc, detect_one_image_vs_torchvision);
    suite_add_tcase(su, tc);
    return dlt_test_run(su);
}
