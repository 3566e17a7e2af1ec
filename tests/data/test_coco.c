/* dlprep coco and COCO's mask encodings against pycocotools
 * (tests/fixtures/coco_masks.h5 and tests/fixtures/coco/, made by
 * tests/fixtures/coco_make_fixtures.py): polygons and compressed RLE decoded
 * as pycocotools decodes them, the tiny instances file converted to a
 * detection shard (boxes, classes, crowd flags, masks, sizes, ids), the
 * max_size downscale, the max_boxes truncation, and one-line errors for
 * malformed files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_util.h"
#include "dlt_data.h"
#include "dlt_test.h"

#define OK(x) ck_assert_msg((x) == DLT_OK, "%s", dlt_errmsg())

static char *dir;
static char fixdir[4096];

static void setup(void)
{
    const char *top = getenv("top_srcdir");
    snprintf(fixdir, sizeof fixdir, "%s/tests/fixtures/coco", top ? top : DLT_TEST_SRCDIR);
    dir = dt_tmpdir();
}

static void teardown(void)
{
    dt_rmrf(dir);
    free(dir);
}

static size_t ds_len(hid_t f, const char *name)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    ck_assert_msg(ds >= 0, "fixture dataset %s missing", name);
    hid_t sp = H5Dget_space(ds);
    size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    H5Dclose(ds);
    return n;
}

START_TEST(polygons_as_pycocotools)
{
    hid_t f = dlt_test_fixture_open("coco_masks.h5");
    enum { H = 37, W = 41 };
    size_t nxy = ds_len(f, "poly/xy"), nq = ds_len(f, "poly/offsets") - 1;
    double *xy = malloc(nxy * sizeof *xy);
    int64_t *off = malloc((nq + 1) * sizeof *off);
    uint8_t *want = malloc(nq * H * W), m[H * W];
    dlt_test_h5_read(f, "poly/xy", H5T_NATIVE_DOUBLE, xy, nxy);
    dlt_test_h5_read(f, "poly/offsets", H5T_NATIVE_INT64, off, nq + 1);
    dlt_test_h5_read(f, "poly/masks", H5T_NATIVE_UINT8, want, nq * H * W);
    int64_t pixels = 0;
    for (size_t q = 0; q < nq; q++) {
        memset(m, 0, sizeof m);
        OK(dlt_coco_poly_fill(xy + off[q], (int)(off[q + 1] - off[q]) / 2, H, W, m));
        int bad = 0;
        for (int i = 0; i < H * W; i++)
            bad += m[i] != want[q * H * W + i], pixels += m[i];
        ck_assert_msg(bad == 0, "polygon %zu: %d of %d pixels differ from pycocotools", q, bad,
                      H * W);
    }
    ck_assert(pixels > 1000); /* the polygons are not all empty */
    free(xy), free(off), free(want);
    H5Fclose(f);
}
END_TEST

START_TEST(compressed_rle_as_pycocotools)
{
    hid_t f = dlt_test_fixture_open("coco_masks.h5");
    enum { H = 23, W = 19, Q = 8 };
    static uint8_t want[Q * H * W], m[H * W];
    static char strs[1 << 16];
    dlt_test_h5_read(f, "rle/masks", H5T_NATIVE_UINT8, want, sizeof want);
    hid_t g = H5Gopen2(f, "rle", H5P_DEFAULT);
    dlt_test_h5_attr_str(g, "strings", strs, sizeof strs);
    char *save = NULL, *s = strtok_r(strs, "\n", &save);
    for (int q = 0; q < Q; q++, s = strtok_r(NULL, "\n", &save)) {
        ck_assert_ptr_nonnull(s);
        uint32_t *counts;
        int64_t n;
        OK(dlt_coco_rle_decode_string(s, &counts, &n));
        memset(m, 0, sizeof m);
        OK(dlt_coco_rle_fill(counts, n, H, W, m));
        free(counts);
        ck_assert_msg(memcmp(m, want + q * H * W, sizeof m) == 0, "RLE %d ('%s') differs", q, s);
    }
    uint32_t bad[2] = {5, 1000};
    ck_assert_int_eq(dlt_coco_rle_fill(bad, 2, H, W, m), DLT_ERR_INVALID);
    ck_assert(dt_contains(dlt_errmsg(), "more than 23x19", NULL));
    H5Gclose(g);
    H5Fclose(f);
}
END_TEST

static int pix(int y, int x, int c)
{
    return (c == 0 ? 7 * y + 3 * x + 1 : c == 1 ? 5 * x + y : 9 * y) % 256;
}

static void convert(int max_size, int max_boxes)
{
    char ann[4200];
    snprintf(ann, sizeof ann, "%s/instances.json", fixdir);
    dlt_convert_opts o;
    dlt_convert_opts_default(&o);
    o.out_dir = dir;
    OK(dlt_convert_coco(fixdir, ann, max_size, max_boxes, &o));
}

static dlt_shard *open_out(void)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/train-00000-of-00001.h5", dir);
    dlt_shard *s;
    OK(dlt_shard_open(p, NULL, &s));
    return s;
}

/* Sample `row` (COCO image `id`, h×w) against the fixture, downscaled by 1/f. */
static void check_image(dlt_shard *s, hid_t f, int row, int id, int h, int w, int f_, int mmax)
{
    const dlt_shard_info *in = dlt_shard_get_info(s);
    int H = in->h, W = in->w, M = in->max_boxes, nh = h / f_, nw = w / f_;
    char name[64];
    snprintf(name, sizeof name, "img%d/classes", id);
    int n = (int)ds_len(f, name), keep = n < mmax ? n : mmax;
    uint8_t *img = malloc((size_t)H * W * 3), *masks = malloc((size_t)M * H * W);
    uint8_t *want = malloc((size_t)(n ? n : 1) * h * w), *crowd = malloc((size_t)M);
    float *boxes = malloc((size_t)M * 4 * sizeof *boxes), wb[8 * 4];
    int32_t *cls = malloc((size_t)M * sizeof *cls), wc[8], wcr[8], sizes[4];
    int64_t iid;
    int nb;
    OK(dlt_shard_read_detection(s, row, img, boxes, cls, masks, &nb));
    OK(dlt_shard_read_det_meta(s, row, sizes, &iid, crowd));
    ck_assert_int_eq(iid, id);
    ck_assert_int_eq(sizes[0], nh);
    ck_assert_int_eq(sizes[1], nw);
    ck_assert_int_eq(sizes[2], h);
    ck_assert_int_eq(sizes[3], w);
    ck_assert_int_eq(nb, keep);
    if (f_ == 1)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++)
                    ck_assert_int_eq(img[(y * W + x) * 3 + c], y < h && x < w ? pix(y, x, c) : 0);
    snprintf(name, sizeof name, "img%d/masks", id);
    dlt_test_h5_read(f, name, H5T_NATIVE_UINT8, want, (size_t)n * h * w);
    snprintf(name, sizeof name, "img%d/boxes", id);
    dlt_test_h5_read(f, name, H5T_NATIVE_FLOAT, wb, (size_t)n * 4);
    snprintf(name, sizeof name, "img%d/classes", id);
    dlt_test_h5_read(f, name, H5T_NATIVE_INT32, wc, (size_t)n);
    snprintf(name, sizeof name, "img%d/iscrowd", id);
    dlt_test_h5_read(f, name, H5T_NATIVE_INT32, wcr, (size_t)n);
    for (int j = 0; j < keep; j++) {
        for (int t = 0; t < 4; t++)
            ck_assert_float_eq_tol(boxes[4 * j + t], wb[4 * j + t] / (float)f_, 1e-5);
        ck_assert_int_eq(cls[j], wc[j]);
        ck_assert_int_eq(crowd[j], wcr[j]);
        int bad = 0, on = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int e = y < nh && x < nw ? want[((size_t)j * h + y * f_) * w + x * f_] : 0;
                bad += masks[((size_t)j * H + y) * W + x] != e, on += e;
            }
        ck_assert_msg(bad == 0, "image %d mask %d: %d pixels differ from pycocotools", id, j, bad);
        ck_assert(on > 0);
    }
    free(img), free(masks), free(want), free(crowd), free(boxes), free(cls);
}

START_TEST(coco_to_shard)
{
    convert(0, 0);
    dlt_shard *s = open_out();
    const dlt_shard_info *in = dlt_shard_get_info(s);
    ck_assert_int_eq(in->num_samples, 3);
    ck_assert_int_eq(in->h, 24); /* the largest image: 24x32 */
    ck_assert_int_eq(in->w, 32);
    ck_assert_int_eq(in->num_classes, 4);
    ck_assert_str_eq(in->class_names[0], "background");
    ck_assert_str_eq(in->class_names[1], "cat");
    ck_assert_str_eq(in->class_names[2], "N/A");
    ck_assert_str_eq(in->class_names[3], "dog");
    hid_t f = dlt_test_fixture_open("coco_masks.h5");
    check_image(s, f, 0, 7, 24, 32, 1, 100);
    check_image(s, f, 1, 3, 20, 16, 1, 100);
    check_image(s, f, 2, 5, 12, 10, 1, 100);
    dlt_shard_close(s);
    /* longer side capped at 16: image 7 halves (12x16), masks nearest, boxes scaled;
       at most 2 boxes: image 7 keeps its first 2 */
    convert(16, 2);
    s = open_out();
    ck_assert_int_eq(dlt_shard_get_info(s)->h, 16); /* 12x16 and image 3: 20x16 -> 16x13 */
    ck_assert_int_eq(dlt_shard_get_info(s)->w, 16);
    check_image(s, f, 0, 7, 24, 32, 2, 2);
    dlt_shard_close(s);
    H5Fclose(f);
}
END_TEST

static void expect_error(const char *json, const char *a, const char *b)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/bad.json", dir);
    FILE *fp = fopen(p, "w");
    fputs(json, fp);
    fclose(fp);
    dlt_convert_opts o;
    dlt_convert_opts_default(&o);
    o.out_dir = dir;
    dlt_status st = dlt_convert_coco(fixdir, p, 0, 0, &o);
    ck_assert_int_ne(st, DLT_OK);
    const char *msg = dlt_errmsg();
    ck_assert_msg(dt_contains(msg, "bad.json", a, b, NULL) && !strchr(msg, '\n'), "%s", msg);
}

#define IMG "{\"id\": 3, \"file_name\": \"b.png\", \"height\": 20, \"width\": 16}"
#define CAT "\"categories\": [{\"id\": 1, \"name\": \"cat\"}]"

START_TEST(malformed)
{
    expect_error("{\"images\": [" IMG "], \"annotations\": [}", "not valid JSON", "line 1");
    expect_error("{\"images\": [" IMG "], " CAT "}", "top level", "'annotations' is missing");
    expect_error("{\"images\": [" IMG "], \"annotations\": [{\"image_id\": 3, \"category_id\": "
                 "1}], " CAT "}",
                 "annotations[0]", "'bbox' is missing");
    expect_error("{\"images\": [" IMG "], \"annotations\": [{\"image_id\": 4, \"category_id\": "
                 "1, \"bbox\": [1, 1, 2, 2]}], " CAT "}",
                 "annotations[0]", "'image_id' names no image");
    expect_error("{\"images\": [{\"id\": 3, \"height\": 20, \"width\": 16}], "
                 "\"annotations\": [], " CAT "}",
                 "images[0]", "'file_name'");
    expect_error("{\"images\": [" IMG "], \"annotations\": [{\"image_id\": 3, \"category_id\": "
                 "1, \"bbox\": [1, 1, 2, 2], \"segmentation\": {\"size\": [20, 16], "
                 "\"counts\": [5, 400]}}], " CAT "}",
                 "annotations[0]", "segmentation");
    expect_error("{\"images\": [" IMG "], \"annotations\": [{\"image_id\": 3, \"category_id\": "
                 "1, \"bbox\": [1, 1, 2, 2], \"segmentation\": [[1, 2, 3]]}], " CAT "}",
                 "annotations[0]", "polygon");
    expect_error("{\"images\": [{\"id\": 3, \"file_name\": \"b.png\", \"height\": 21, "
                 "\"width\": 16}], \"annotations\": [], " CAT "}",
                 "b.png: is 20x16", "height 21");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coco");
    TCase *tc = tcase_create("coco");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, polygons_as_pycocotools);
    tcase_add_test(tc, compressed_rle_as_pycocotools);
    tcase_add_test(tc, coco_to_shard);
    tcase_add_test(tc, malformed);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
