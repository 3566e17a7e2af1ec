/* Mask R-CNN's test-time selection (src/train/det_infer.c) against
 * torchvision's RoIHeads.postprocess_detections and maskrcnn_inference
 * (tests/fixtures/det_infer.h5, made by det_infer_make_fixtures.py): two
 * images with padded proposal slots, all survivors (D = 100) and a truncated
 * list (D = 8); boxes, scores, labels in order, and the masks' sigmoids;
 * the RPN's filter_proposals (rpn_infer.h5, rpn_infer_make_fixtures.py) with
 * truncating and with the test-time top-n. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dlt_det_infer.h"
#include "dlt_test.h"

enum { B = 2, R = 40, C = 5, M = 28 };

START_TEST(postprocess_vs_torchvision)
{
    hid_t f = dlt_test_fixture_open("det_infer.h5");
    static float props[B * R * 4], logits[B * R * C], deltas[B * R * 4 * C];
    static float mlog[B * 8 * C * M * M];
    int32_t counts[B], sizes[B * 2];
    dlt_test_h5_read(f, "proposals", H5T_NATIVE_FLOAT, props, B * R * 4);
    dlt_test_h5_read(f, "logits", H5T_NATIVE_FLOAT, logits, B * R * C);
    dlt_test_h5_read(f, "deltas", H5T_NATIVE_FLOAT, deltas, B * R * 4 * C);
    dlt_test_h5_read(f, "mask_logits", H5T_NATIVE_FLOAT, mlog, B * 8 * C * M * M);
    dlt_test_h5_read(f, "counts", H5T_NATIVE_INT32, counts, B);
    dlt_test_h5_read(f, "sizes", H5T_NATIVE_INT32, sizes, B * 2);
    float valid[R];
    const int limits[2] = {100, 8};
    for (int li = 0; li < 2; li++) {
        int D = limits[li];
        dlt_det_infer_opts o;
        dlt_det_infer_opts_default(&o, C);
        o.detections = D;
        for (int b = 0; b < B; b++) {
            for (int r = 0; r < R; r++) /* padding slots carry garbage that must not matter */
                valid[r] = r < counts[b];
            float *boxes = malloc(sizeof(float) * 4 * D), *scores = malloc(sizeof(float) * D),
                  *dv = malloc(sizeof(float) * D);
            int32_t *labels = malloc(sizeof(int32_t) * D), *from = malloc(sizeof(int32_t) * D);
            int n;
            ck_assert_int_eq(dlt_det_postprocess(&o, R, props + b * R * 4, valid,
                                                 logits + b * R * C, deltas + b * R * 4 * C,
                                                 sizes[2 * b], sizes[2 * b + 1], boxes, scores,
                                                 labels, from, dv, &n),
                             DLT_OK);
            char name[64];
            snprintf(name, sizeof name, "d%d_%d_scores", D, b);
            float *ws = malloc(sizeof(float) * (n + 1)), *wb = malloc(sizeof(float) * 4 * (n + 1));
            int64_t *wl = malloc(sizeof(int64_t) * (n + 1));
            dlt_test_h5_read(f, name, H5T_NATIVE_FLOAT, ws, (size_t)n); /* fails on another count */
            snprintf(name, sizeof name, "d%d_%d_boxes", D, b);
            dlt_test_h5_read(f, name, H5T_NATIVE_FLOAT, wb, (size_t)n * 4);
            snprintf(name, sizeof name, "d%d_%d_labels", D, b);
            dlt_test_h5_read(f, name, H5T_NATIVE_INT64, wl, (size_t)n);
            double worst_box = 0, worst_score = 0;
            for (int k = 0; k < n; k++) {
                ck_assert_int_eq(labels[k], wl[k]);
                ck_assert_float_eq(dv[k], 1.f);
                ck_assert_int_lt(from[k], counts[b]);
                worst_score = fmax(worst_score, fabs(scores[k] - ws[k]));
                for (int c = 0; c < 4; c++)
                    worst_box = fmax(worst_box, fabs(boxes[4 * k + c] - wb[4 * k + c]));
            }
            for (int k = n; k < D; k++)
                ck_assert(dv[k] == 0.f && scores[k] == 0.f && labels[k] == 0);
            /* softmax's exp and sum order (torch vectorises them): rounding only */
            ck_assert_msg(worst_score < 1e-6, "scores differ by %g", worst_score);
            ck_assert_msg(worst_box < 1e-4, "boxes differ by %g", worst_box);
            printf("image %d, D = %3d: %2d detections, first %.4f (label %d), max |score| diff "
                   "%.2g, max |box| diff %.2g\n",
                   b, D, n, scores[0], labels[0], worst_score, worst_box);
            if (D == 8) { /* maskrcnn_inference on these detections' labels */
                float *probs = malloc(sizeof(float) * D * M * M),
                      *want = malloc(sizeof(float) * D * M * M);
                dlt_det_mask_probs(mlog + (size_t)b * 8 * C * M * M, n, C, M, labels, probs);
                snprintf(name, sizeof name, "d8_%d_masks", b);
                dlt_test_h5_read(f, name, H5T_NATIVE_FLOAT, want, (size_t)n * M * M);
                double e = dlt_test_max_abserr(probs, want, (size_t)n * M * M);
                printf("  masks: max |prob| diff %.2g\n", e);
                ck_assert(e < 1e-6);
                free(probs), free(want);
            }
            free(boxes), free(scores), free(dv), free(labels), free(from), free(ws), free(wb),
                free(wl);
        }
    }
    H5Fclose(f);
}
END_TEST

START_TEST(nothing_above_the_threshold)
{
    /* two classes, logits giving the foreground exp(-10) / (1 + exp(-10)) < 0.05 */
    const float prop[4] = {1, 1, 9, 9}, logit[2] = {5.f, -5.f}, delta[8] = {0};
    float boxes[8], scores[2], dv[2];
    int32_t labels[2];
    int n = -1;
    dlt_det_infer_opts o;
    dlt_det_infer_opts_default(&o, 2);
    o.detections = 2;
    ck_assert_int_eq(dlt_det_postprocess(&o, 1, prop, NULL, logit, delta, 10, 10, boxes, scores,
                                         labels, NULL, dv, &n),
                     DLT_OK);
    ck_assert_int_eq(n, 0);
    ck_assert(dv[0] == 0.f && dv[1] == 0.f);
    /* the same with the foreground winning: the decoded box is the proposal */
    const float flip[2] = {-5.f, 5.f};
    ck_assert_int_eq(dlt_det_postprocess(&o, 1, prop, NULL, flip, delta, 10, 10, boxes, scores,
                                         labels, NULL, dv, &n),
                     DLT_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(labels[0], 1);
    for (int c = 0; c < 4; c++)
        ck_assert_float_eq(boxes[c], prop[c]);
    ck_assert_float_eq_tol(scores[0], 1.0 / (1.0 + exp(-10.0)), 1e-6);
    o.num_classes = 1;
    ck_assert_int_eq(dlt_det_postprocess(&o, 1, prop, NULL, flip, delta, 10, 10, boxes, scores,
                                         labels, NULL, dv, &n),
                     DLT_ERR_INVALID);
}
END_TEST

START_TEST(rpn_filter_vs_torchvision)
{
    enum { A = 395 };
    hid_t f = dlt_test_fixture_open("rpn_infer.h5");
    static float obj[2 * A], props[2 * A * 4];
    int64_t per_level[3];
    int32_t sizes[4];
    dlt_test_h5_read(f, "objectness", H5T_NATIVE_FLOAT, obj, 2 * A);
    dlt_test_h5_read(f, "proposals", H5T_NATIVE_FLOAT, props, 2 * A * 4);
    dlt_test_h5_read(f, "per_level", H5T_NATIVE_INT64, per_level, 3);
    dlt_test_h5_read(f, "sizes", H5T_NATIVE_INT32, sizes, 4);
    const int pre[2] = {100, 1000}, post[2] = {60, 1000};
    for (int t = 0; t < 2; t++)
        for (int b = 0; b < 2; b++) {
            dlt_rpn_infer_opts o;
            dlt_rpn_infer_opts_default(&o);
            o.pre_nms_top_n = pre[t], o.post_nms_top_n = post[t];
            int P = post[t], n;
            float *out = malloc(sizeof(float) * 4 * P), *sc = malloc(sizeof(float) * P),
                  *v = malloc(sizeof(float) * P);
            ck_assert_int_eq(dlt_rpn_filter_proposals(&o, 3, per_level, obj + b * A,
                                                      props + b * A * 4, sizes[2 * b],
                                                      sizes[2 * b + 1], out, sc, v, &n),
                             DLT_OK);
            char name[64];
            float *wb = malloc(sizeof(float) * 4 * (n + 1)), *ws = malloc(sizeof(float) * (n + 1));
            snprintf(name, sizeof name, "p%d_%d_scores", pre[t], b);
            dlt_test_h5_read(f, name, H5T_NATIVE_FLOAT, ws, (size_t)n); /* fails on another count */
            snprintf(name, sizeof name, "p%d_%d_boxes", pre[t], b);
            dlt_test_h5_read(f, name, H5T_NATIVE_FLOAT, wb, (size_t)n * 4);
            /* the clipped boxes are the inputs' values: exact; sigmoid to rounding */
            for (int k = 0; k < n; k++) {
                ck_assert_float_eq(v[k], 1.f);
                for (int c = 0; c < 4; c++)
                    ck_assert_float_eq(out[4 * k + c], wb[4 * k + c]);
            }
            double e = dlt_test_max_abserr(sc, ws, (size_t)n);
            ck_assert(e < 1e-6);
            for (int k = n; k < P; k++)
                ck_assert(v[k] == 0.f && out[4 * k] == 0.f);
            printf("rpn image %d, top %4d / %4d: %3d proposals, max |score| diff %.2g\n", b, pre[t],
                   post[t], n, e);
            free(out), free(sc), free(v), free(wb), free(ws);
        }
    H5Fclose(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("det_infer");
    TCase *tc = tcase_create("det_infer");
    tcase_add_test(tc, postprocess_vs_torchvision);
    tcase_add_test(tc, nothing_above_the_threshold);
    tcase_add_test(tc, rpn_filter_vs_torchvision);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
