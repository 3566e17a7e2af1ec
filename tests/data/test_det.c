/* Detection data: the detection shard round trip (with sizes, ids, iscrowd),
 * the detection loader's resize, padding, flip and sharding against values
 * computed here independently, and the mask/RLE helpers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_util.h"
#include "dlt_data.h"
#include "dlt_test.h"

#define OK(x) ck_assert_msg((x) == DLT_OK, "%s", dlt_errmsg())

enum { CH = 24, CW = 32, C = 3, M = 4, IH = 20, IW = 30, N = 6 };

static char *dir;
static char path[4200];

static void setup(void)
{
    dir = dt_tmpdir();
    snprintf(path, sizeof path, "%s/det-00000-of-00001.h5", dir);
}

static void teardown(void)
{
    dt_rmrf(dir);
    free(dir);
}

/* Pixel (y, x, c) of sample i: affine in x and y, so bilinear resizing is exact. */
static int pix(int i, int y, int x, int c)
{
    return 4 * x + 2 * y + 10 + 20 * c + i;
}

/* Box j of sample i (j < nbox(i)); its mask is exactly the box. */
static int nbox(int i)
{
    return i % 3 + 1;
}
static void box_of(int i, int j, float b[4])
{
    b[0] = (float)(2 + i + 5 * j), b[1] = (float)(3 + j), b[2] = (float)(12 + i + 5 * j);
    b[3] = (float)(11 + 2 * j);
}

static void write_shard(void)
{
    const char *names[3] = {"background", "a", "b"};
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_DETECTION;
    spec.h = CH, spec.w = CW, spec.c = C, spec.num_classes = 3, spec.class_names = names;
    spec.max_boxes = M, spec.mask_h = CH, spec.mask_w = CW;
    dlt_shard_writer *w;
    OK(dlt_shard_writer_open(path, &spec, &w));
    static uint8_t img[CH * CW * C], masks[M * CH * CW];
    for (int i = 0; i < N; i++) {
        memset(img, 0, sizeof img);
        memset(masks, 0, sizeof masks);
        for (int y = 0; y < IH; y++)
            for (int x = 0; x < IW; x++)
                for (int c = 0; c < C; c++)
                    img[(y * CW + x) * C + c] = (uint8_t)pix(i, y, x, c);
        float boxes[M * 4];
        int32_t cls[M];
        uint8_t crowd[M];
        for (int j = 0; j < nbox(i); j++) {
            box_of(i, j, boxes + 4 * j);
            cls[j] = 1 + (i + j) % 2;
            crowd[j] = j == 2; /* the third box of a sample is a crowd region */
            for (int y = (int)boxes[4 * j + 1]; y < (int)boxes[4 * j + 3]; y++)
                for (int x = (int)boxes[4 * j]; x < (int)boxes[4 * j + 2]; x++)
                    masks[(j * CH + y) * CW + x] = 1;
        }
        dlt_det_sample s = {img,     IH,    IW,  2 * IH, 2 * IW, 1000 + i,
                            nbox(i), boxes, cls, crowd,  masks};
        OK(dlt_shard_write_det(w, &s));
    }
    OK(dlt_shard_writer_close(w));
}

START_TEST(shard_roundtrip)
{
    write_shard();
    dlt_shard *s;
    OK(dlt_shard_open(path, NULL, &s));
    const dlt_shard_info *in = dlt_shard_get_info(s);
    ck_assert_int_eq(in->num_samples, N);
    ck_assert_int_eq(in->max_boxes, M);
    ck_assert_int_eq(in->mask_h, CH);
    ck_assert_int_eq(in->num_classes, 3);
    ck_assert_int_eq(in->verified, 1);
    static uint8_t img[CH * CW * C], masks[M * CH * CW];
    float boxes[M * 4];
    int32_t cls[M], sizes[4];
    uint8_t crowd[M];
    int64_t id;
    int nb;
    for (int i = 0; i < N; i++) {
        OK(dlt_shard_read_detection(s, i, img, boxes, cls, masks, &nb));
        OK(dlt_shard_read_det_meta(s, i, sizes, &id, crowd));
        ck_assert_int_eq(nb, nbox(i));
        ck_assert_int_eq(id, 1000 + i);
        ck_assert_int_eq(sizes[0], IH);
        ck_assert_int_eq(sizes[1], IW);
        ck_assert_int_eq(sizes[2], 2 * IH);
        ck_assert_int_eq(sizes[3], 2 * IW);
        ck_assert_int_eq(img[(5 * CW + 7) * C + 1], pix(i, 5, 7, 1));
        ck_assert_int_eq(img[(21 * CW + 31) * C], 0); /* canvas past the image */
        for (int j = 0; j < M; j++) {
            float b[4] = {0, 0, 0, 0};
            if (j < nb)
                box_of(i, j, b);
            ck_assert_mem_eq(boxes + 4 * j, b, sizeof b);
            ck_assert_int_eq(cls[j], j < nb ? 1 + (i + j) % 2 : 0);
            ck_assert_int_eq(crowd[j], j < nb && j == 2);
            /* the mask is the box: count its pixels inside and outside */
            const uint8_t *mk = masks + (size_t)j * CH * CW;
            int inside = 0, outside = 0;
            for (int y = 0; y < CH; y++)
                for (int x = 0; x < CW; x++) {
                    int in_box = x >= b[0] && x < b[2] && y >= b[1] && y < b[3];
                    inside += in_box && mk[y * CW + x] == 1;
                    outside += !in_box && mk[y * CW + x] != 0;
                }
            ck_assert_int_eq(inside, (int)((b[2] - b[0]) * (b[3] - b[1])));
            ck_assert_int_eq(outside, 0);
        }
    }
    dlt_shard_close(s);
}
END_TEST

static void loader_cfg(dlt_det_loader_config *c, int threads)
{
    dlt_det_loader_config_default(c);
    c->base.paths = path;
    c->base.batch_size = 2;
    c->base.threads = threads;
    for (int k = 0; k < C; k++)
        c->base.mean[k] = 0, c->base.std[k] = 1;
    c->min_size = IH, c->max_size = 1333; /* scale 1 */
}

/* Checks sample k of batch b against sample idx of the shard: the resize by
 * factor f (nearest masks, exact bilinear of the affine pixels), the flip. */
static void check_sample(const dlt_det_batch *b, int k, int bh, int bw, int f)
{
    int i = (int)b->indices[k], rh = IH * f, rw = IW * f, fl = b->flipped[k];
    size_t plane = (size_t)bh * bw;
    ck_assert_int_eq(b->image_sizes[2 * k], rh);
    ck_assert_int_eq(b->image_sizes[2 * k + 1], rw);
    ck_assert_int_eq(b->orig_sizes[2 * k], 2 * IH);
    ck_assert_int_eq(b->orig_sizes[2 * k + 1], 2 * IW);
    ck_assert_float_eq_tol(b->scales[2 * k], (float)rh / (2 * IH), 1e-6);
    ck_assert_int_eq(b->image_ids[k], 1000 + i);
    for (int c = 0; c < C; c++)
        for (int y = 0; y < bh; y++)
            for (int x = 0; x < bw; x++) {
                float got = b->images[((size_t)k * C + c) * plane + (size_t)y * bw + x];
                float want = 0;
                if (y < rh && x < rw) {
                    int xs = fl ? rw - 1 - x : x; /* the unflipped resized column */
                    double fy = fmin(fmax((y + 0.5) / f - 0.5, 0), IH - 1);
                    double fx = fmin(fmax((xs + 0.5) / f - 0.5, 0), IW - 1);
                    want = (float)((4 * fx + 2 * fy + 10 + 20 * c + i) / 255.0);
                }
                ck_assert_msg(fabsf(got - want) < 1e-4f, "sample %d c%d (%d,%d): %g vs %g", i, c, y,
                              x, got, want);
            }
    ck_assert_int_eq(b->num_boxes[k], nbox(i));
    for (int j = 0; j < M; j++) {
        const float *o = b->boxes + ((size_t)k * M + j) * 4;
        ck_assert_int_eq(b->box_valid[k * M + j], j < nbox(i));
        if (j >= nbox(i)) {
            ck_assert(o[0] == 0 && o[1] == 0 && o[2] == 0 && o[3] == 0);
            ck_assert_int_eq(b->classes[k * M + j], 0);
            continue;
        }
        float s[4];
        box_of(i, j, s);
        for (int t = 0; t < 4; t++)
            s[t] *= (float)f;
        float want[4] = {fl ? (float)rw - s[2] : s[0], s[1], fl ? (float)rw - s[0] : s[2], s[3]};
        ck_assert_mem_eq(o, want, sizeof want); /* flipped: W - x2, W - x1 */
        ck_assert_int_eq(b->classes[k * M + j], 1 + (i + j) % 2);
        ck_assert_int_eq(b->iscrowd[k * M + j], j == 2);
        /* the mask follows: exactly the (scaled, flipped) box */
        const uint8_t *m = b->masks + ((size_t)k * M + j) * plane;
        for (int y = 0; y < bh; y++)
            for (int x = 0; x < bw; x++) {
                int in = x >= want[0] && x < want[2] && y >= want[1] && y < want[3];
                ck_assert_msg(m[(size_t)y * bw + x] == in, "mask %d of sample %d at (%d,%d)", j, i,
                              y, x);
            }
    }
}

START_TEST(loader_shapes_flip)
{
    write_shard();
    dlt_det_loader_config cfg;
    loader_cfg(&cfg, 0);
    cfg.base.flip = 1;
    cfg.base.shuffle = 1;
    dlt_det_loader *l;
    OK(dlt_det_loader_open(&cfg, &l));
    int c, bh, bw, m;
    dlt_det_loader_shape(l, &c, &bh, &bw, &m);
    ck_assert_int_eq(c, C);
    ck_assert_int_eq(bh, 32); /* 20x30 rounded up to 32 */
    ck_assert_int_eq(bw, 32);
    ck_assert_int_eq(m, M);
    ck_assert_int_eq(dlt_det_loader_steps_per_epoch(l), N / 2);
    ck_assert_str_eq(dlt_det_loader_class_name(l, 2), "b");
    int seen[2] = {0, 0};
    for (int s = 0; s < 3 * N / 2; s++) {
        dlt_det_batch b;
        OK(dlt_det_loader_next(l, &b));
        ck_assert_int_eq(b.size, 2);
        for (int k = 0; k < 2; k++) {
            check_sample(&b, k, bh, bw, 1);
            seen[b.flipped[k]]++;
        }
    }
    ck_assert(seen[0] > 0 && seen[1] > 0);
    dlt_det_loader_close(l);
}
END_TEST

START_TEST(loader_resize)
{
    write_shard();
    dlt_det_loader_config cfg;
    loader_cfg(&cfg, 2);
    cfg.min_size = 2 * IH; /* scale 2: 40x60, padded to 64x64 */
    cfg.base.flip = 1;
    dlt_det_loader *l;
    OK(dlt_det_loader_open(&cfg, &l));
    int c, bh, bw, m;
    dlt_det_loader_shape(l, &c, &bh, &bw, &m);
    ck_assert_int_eq(bh, 64);
    ck_assert_int_eq(bw, 64);
    for (int s = 0; s < N / 2; s++) {
        dlt_det_batch b;
        OK(dlt_det_loader_next(l, &b));
        for (int k = 0; k < 2; k++)
            check_sample(&b, k, bh, bw, 2);
    }
    dlt_det_loader_close(l);
    /* torchvision's rule: the longer side capped at max_size */
    int rh, rw;
    dlt_det_resized_size(20, 30, 40, 45, &rh, &rw);
    ck_assert_int_eq(rh, 30);
    ck_assert_int_eq(rw, 45);
}
END_TEST

/* torchvision's GeneralizedRCNNTransform (tests/fixtures/det_resize.h5): the
 * resize rule on a table of sizes, and a batch of two images of different
 * shapes with boxes and masks (min_size 50, max_size 60, ImageNet mean/std). */
START_TEST(loader_vs_torchvision)
{
    hid_t f = dlt_test_fixture_open("det_resize.h5");
    int32_t rows[12 * 6];
    dlt_test_h5_read(f, "sizes", H5T_NATIVE_INT32, rows, 12 * 6);
    for (int r = 0; r < 12; r++) {
        const int32_t *x = rows + 6 * r;
        int rh, rw;
        dlt_det_resized_size(x[0], x[1], x[2], x[3], &rh, &rw);
        ck_assert_msg(rh == x[4] && rw == x[5], "%dx%d (%d, %d): %dx%d, torchvision %dx%d", x[0],
                      x[1], x[2], x[3], rh, rw, x[4], x[5]);
    }
    enum { H = 30, W = 32, B = 64 };
    static uint8_t img[2 * H * W * 3], masks[2 * 3 * H * W], wm[2 * 3 * B * B];
    static float wimg[2 * 3 * B * B];
    float boxes[2 * 3 * 4], wb[2 * 3 * 4];
    int32_t sizes[4], ws[4], cls[3] = {1, 2, 1};
    dlt_test_h5_read(f, "in/images", H5T_NATIVE_UINT8, img, sizeof img);
    dlt_test_h5_read(f, "in/masks", H5T_NATIVE_UINT8, masks, sizeof masks);
    dlt_test_h5_read(f, "in/boxes", H5T_NATIVE_FLOAT, boxes, 24);
    dlt_test_h5_read(f, "in/sizes", H5T_NATIVE_INT32, sizes, 4);
    dlt_test_h5_read(f, "out/images", H5T_NATIVE_FLOAT, wimg, 2 * 3 * B * B);
    dlt_test_h5_read(f, "out/masks", H5T_NATIVE_UINT8, wm, sizeof wm);
    dlt_test_h5_read(f, "out/boxes", H5T_NATIVE_FLOAT, wb, 24);
    dlt_test_h5_read(f, "out/image_sizes", H5T_NATIVE_INT32, ws, 4);
    H5Fclose(f);
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_DETECTION;
    spec.h = spec.mask_h = H, spec.w = spec.mask_w = W, spec.c = 3, spec.num_classes = 3;
    spec.max_boxes = 3;
    dlt_shard_writer *w;
    OK(dlt_shard_writer_open(path, &spec, &w));
    for (int i = 0; i < 2; i++) {
        dlt_det_sample x = {img + i * H * W * 3,
                            sizes[2 * i],
                            sizes[2 * i + 1],
                            0,
                            0,
                            i,
                            3,
                            boxes + i * 12,
                            cls,
                            NULL,
                            masks + i * 3 * H * W};
        OK(dlt_shard_write_det(w, &x));
    }
    OK(dlt_shard_writer_close(w));
    dlt_det_loader_config cfg;
    dlt_det_loader_config_default(&cfg);
    cfg.base.paths = path, cfg.base.batch_size = 2, cfg.base.shuffle = 0, cfg.base.threads = 0;
    cfg.min_size = 50, cfg.max_size = 60;
    dlt_det_loader *l;
    OK(dlt_det_loader_open(&cfg, &l));
    int c, bh, bw, m;
    dlt_det_loader_shape(l, &c, &bh, &bw, &m);
    ck_assert_int_eq(bh, B);
    ck_assert_int_eq(bw, B);
    dlt_det_batch b;
    OK(dlt_det_loader_next(l, &b));
    ck_assert_mem_eq(b.image_sizes, ws, sizeof ws);
    double err = dlt_test_max_abserr(b.images, wimg, 2 * 3 * B * B);
    ck_assert_msg(err < 2e-5, "images differ from torchvision by %g", err);
    ck_assert_msg(dlt_test_max_abserr(b.boxes, wb, 24) < 1e-4, "boxes differ");
    ck_assert_mem_eq(b.masks, wm, sizeof wm);
    dlt_det_loader_close(l);
}
END_TEST

/* 2 ranks x batch 1 see what 1 rank x batch 2 sees; threads change nothing. */
START_TEST(loader_sharding)
{
    write_shard();
    dlt_det_loader_config cfg;
    loader_cfg(&cfg, 1);
    cfg.base.flip = 1;
    cfg.base.seed = 7;
    dlt_det_loader *one, *r[2];
    OK(dlt_det_loader_open(&cfg, &one));
    cfg.base.batch_size = 1, cfg.base.world_size = 2;
    for (int k = 0; k < 2; k++) {
        cfg.base.rank = k, cfg.base.threads = k * 2;
        OK(dlt_det_loader_open(&cfg, &r[k]));
    }
    size_t img = (size_t)C * 32 * 32;
    for (int s = 0; s < 2 * N / 2; s++) {
        dlt_det_batch b, x;
        OK(dlt_det_loader_next(one, &b));
        for (int k = 0; k < 2; k++) {
            OK(dlt_det_loader_next(r[k], &x));
            ck_assert_int_eq(x.indices[0], b.indices[k]);
            ck_assert_int_eq(x.flipped[0], b.flipped[k]);
            ck_assert_mem_eq(x.images, b.images + k * img, img * sizeof(float));
            ck_assert_mem_eq(x.boxes, b.boxes + k * M * 4, M * 4 * sizeof(float));
            ck_assert_mem_eq(x.masks, b.masks + k * M * 32 * 32, (size_t)M * 32 * 32);
        }
    }
    /* the cursor repeats batches */
    dlt_loader_cursor cur = {1, 1};
    dlt_det_batch a, b2;
    OK(dlt_det_loader_set_cursor(one, cur));
    OK(dlt_det_loader_next(one, &a));
    int64_t i0 = a.indices[0], i1 = a.indices[1];
    OK(dlt_det_loader_set_cursor(one, cur));
    OK(dlt_det_loader_next(one, &b2));
    ck_assert_int_eq(b2.indices[0], i0);
    ck_assert_int_eq(b2.indices[1], i1);
    dlt_det_loader_close(one);
    dlt_det_loader_close(r[0]);
    dlt_det_loader_close(r[1]);
}
END_TEST

START_TEST(loader_crowd_and_errors)
{
    write_shard();
    dlt_det_loader_config cfg;
    loader_cfg(&cfg, 0);
    cfg.base.shuffle = 0, cfg.base.batch_size = 3, cfg.skip_crowd = 1, cfg.masks = 0;
    dlt_det_loader *l;
    OK(dlt_det_loader_open(&cfg, &l));
    dlt_det_batch b;
    OK(dlt_det_loader_next(l, &b));
    ck_assert_ptr_null(b.masks);
    ck_assert_int_eq(b.num_boxes[2], 2); /* sample 2's third box is a crowd region */
    ck_assert_int_eq(b.box_valid[2 * M + 2], 0);
    dlt_det_loader_close(l);
    cfg.base.crop_pad = 4;
    ck_assert_int_eq(dlt_det_loader_open(&cfg, &l), DLT_ERR_INVALID);
    ck_assert(dt_contains(dlt_errmsg(), "crop_pad", NULL));
    loader_cfg(&cfg, 0);
    cfg.batch_h = 16;
    ck_assert_int_eq(dlt_det_loader_open(&cfg, &l), DLT_ERR_SHAPE);
    ck_assert(dt_contains(dlt_errmsg(), "batch shape 16x32", "20x30", NULL));
    /* an image-classification shard is refused by name */
    char p2[4300];
    snprintf(p2, sizeof p2, "%s/cls.h5", dir);
    dt_write_cls_shard(p2, 0, 4, 4, 4, 1, 2);
    loader_cfg(&cfg, 0);
    cfg.base.paths = p2;
    ck_assert_int_eq(dlt_det_loader_open(&cfg, &l), DLT_ERR_INVALID);
    ck_assert(dt_contains(dlt_errmsg(), "cls.h5", "image-classification", NULL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("detection data");
    TCase *tc = tcase_create("det");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, shard_roundtrip);
    tcase_add_test(tc, loader_shapes_flip);
    tcase_add_test(tc, loader_resize);
    tcase_add_test(tc, loader_vs_torchvision);
    tcase_add_test(tc, loader_sharding);
    tcase_add_test(tc, loader_crowd_and_errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
