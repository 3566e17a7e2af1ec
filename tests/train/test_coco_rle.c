/* COCO RLE masks (src/train/coco_rle.c, coco_poly.c) against pycocotools
 * (tests/fixtures/coco_eval_expected.json, "rle": encodings and compressed
 * strings of bitmaps, polygon rasterisations, merges, areas, boxes, mask and
 * box IoUs) and against naive bitmap loops: round trips bitmap -> RLE ->
 * string -> RLE -> bitmap, union / intersection and IoU of random masks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coco_fixture.h"
#include "dlt_coco.h"
#include "dlt_test.h"

static const cJSON *rle_section(cJSON *root, const char *name)
{
    const cJSON *s = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "rle"), name);
    ck_assert_msg(cJSON_IsArray(s), "fixture rle.%s missing", name);
    return s;
}

static int jint(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(o, name);
    ck_assert_msg(cJSON_IsNumber(v), "fixture field %s missing", name);
    return v->valueint;
}

/* An RLE from a JSON list of run lengths */
static void rle_from_runs(const cJSON *runs, int h, int w, dlt_coco_rle *r)
{
    int m = cJSON_GetArraySize(runs);
    double *v = malloc((size_t)(m ? m : 1) * sizeof *v);
    coco_fixture_doubles(runs, v, m);
    r->h = h, r->w = w, r->m = m;
    r->cnts = malloc((size_t)(m ? m : 1) * sizeof *r->cnts);
    for (int i = 0; i < m; i++)
        r->cnts[i] = (uint32_t)v[i];
    free(v);
}

static void assert_runs(const dlt_coco_rle *r, const dlt_coco_rle *want)
{
    ck_assert_int_eq(r->m, want->m);
    for (int64_t i = 0; i < r->m; i++)
        ck_assert_uint_eq(r->cnts[i], want->cnts[i]);
}

START_TEST(bitmaps_against_pycocotools)
{
    cJSON *root = coco_fixture_expected();
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, rle_section(root, "masks"))
    {
        int h = jint(c, "h"), w = jint(c, "w");
        size_t np = (size_t)h * (size_t)w;
        double *mv = malloc(np * sizeof *mv), bb[4], want_bb[4];
        uint8_t *mask = malloc(np), *back = malloc(np);
        coco_fixture_doubles(cJSON_GetObjectItem(c, "mask"), mv, (int)np);
        for (size_t i = 0; i < np; i++)
            mask[i] = (uint8_t)mv[i];
        dlt_coco_rle r, want, parsed;
        rle_from_runs(cJSON_GetObjectItem(c, "runs"), h, w, &want);
        ck_assert_int_eq(dlt_coco_rle_encode(mask, h, w, &r), DLT_OK);
        assert_runs(&r, &want); /* the naive column-major runs */
        char *s;
        ck_assert_int_eq(dlt_coco_rle_to_string(&r, &s), DLT_OK);
        ck_assert_str_eq(s, cJSON_GetObjectItem(c, "counts")->valuestring); /* pycocotools */
        ck_assert_int_eq(dlt_coco_rle_from_string(s, h, w, &parsed), DLT_OK);
        assert_runs(&parsed, &want);
        ck_assert_int_eq(dlt_coco_rle_decode(&parsed, back), DLT_OK);
        ck_assert_mem_eq(back, mask, np);
        ck_assert_uint_eq(dlt_coco_rle_area(&r), (uint64_t)jint(c, "area"));
        dlt_coco_rle_bbox(&r, bb);
        coco_fixture_doubles(cJSON_GetObjectItem(c, "bbox"), want_bb, 4);
        for (int k = 0; k < 4; k++)
            ck_assert_double_eq(bb[k], want_bb[k]);
        printf("%dx%d mask: %lld runs, \"%.24s%s\", area %llu, box %g %g %g %g\n", h, w,
               (long long)r.m, s, strlen(s) > 24 ? "..." : "",
               (unsigned long long)dlt_coco_rle_area(&r), bb[0], bb[1], bb[2], bb[3]);
        free(s), free(mv), free(mask), free(back);
        dlt_coco_rle_free(&r), dlt_coco_rle_free(&want), dlt_coco_rle_free(&parsed);
        n++;
    }
    ck_assert_int_ge(n, 8);
    cJSON_Delete(root);
}
END_TEST

START_TEST(polygons_against_pycocotools)
{
    cJSON *root = coco_fixture_expected();
    const cJSON *c, *polys = rle_section(root, "polygons");
    int n = cJSON_GetArraySize(polys), i = 0;
    dlt_coco_rle *r = calloc((size_t)n, sizeof *r);
    cJSON_ArrayForEach(c, polys)
    {
        int h = jint(c, "h"), w = jint(c, "w"),
            k = cJSON_GetArraySize(cJSON_GetObjectItem(c, "xy"));
        double *xy = malloc((size_t)k * sizeof *xy);
        coco_fixture_doubles(cJSON_GetObjectItem(c, "xy"), xy, k);
        ck_assert_int_eq(dlt_coco_rle_from_poly(xy, k / 2, h, w, &r[i]), DLT_OK);
        ck_assert_int_eq(dlt_coco_rle_check(&r[i]), DLT_OK);
        char *s;
        ck_assert_int_eq(dlt_coco_rle_to_string(&r[i], &s), DLT_OK);
        printf("polygon %d (%d points, %dx%d): area %llu (pycocotools %d), \"%s\"\n", i, k / 2, h,
               w, (unsigned long long)dlt_coco_rle_area(&r[i]), jint(c, "area"), s);
        ck_assert_str_eq(s, cJSON_GetObjectItem(c, "counts")->valuestring);
        ck_assert_uint_eq(dlt_coco_rle_area(&r[i]), (uint64_t)jint(c, "area"));
        free(s), free(xy);
        i++;
    }
    cJSON_ArrayForEach(c, rle_section(root, "merges"))
    {
        dlt_coco_rle pair[2], m;
        dlt_coco_rle_copy(&r[jint(c, "a")], &pair[0]);
        dlt_coco_rle_copy(&r[jint(c, "b")], &pair[1]);
        ck_assert_int_eq(dlt_coco_rle_merge(pair, 2, jint(c, "intersect"), &m), DLT_OK);
        char *s;
        ck_assert_int_eq(dlt_coco_rle_to_string(&m, &s), DLT_OK);
        ck_assert_str_eq(s, cJSON_GetObjectItem(c, "counts")->valuestring);
        free(s);
        dlt_coco_rle_free(&m), dlt_coco_rle_free(&pair[0]), dlt_coco_rle_free(&pair[1]);
    }
    for (i = 0; i < n; i++)
        dlt_coco_rle_free(&r[i]);
    free(r);
    cJSON_Delete(root);
}
END_TEST

START_TEST(iou_against_pycocotools)
{
    cJSON *root = coco_fixture_expected();
    const cJSON *c = cJSON_GetArrayItem(rle_section(root, "iou"), 0);
    int h = jint(c, "h"), w = jint(c, "w");
    const cJSON *dts = cJSON_GetObjectItem(c, "dt"), *gts = cJSON_GetObjectItem(c, "gt");
    int m = cJSON_GetArraySize(dts), n = cJSON_GetArraySize(gts);
    dlt_coco_rle *dr = calloc((size_t)m, sizeof *dr), *gr = calloc((size_t)n, sizeof *gr);
    for (int i = 0; i < m; i++)
        rle_from_runs(cJSON_GetArrayItem(dts, i), h, w, &dr[i]);
    for (int j = 0; j < n; j++)
        rle_from_runs(cJSON_GetArrayItem(gts, j), h, w, &gr[j]);
    double crowd_d[16], want[64], got[64];
    uint8_t crowd[16];
    coco_fixture_doubles(cJSON_GetObjectItem(c, "iscrowd"), crowd_d, n);
    for (int j = 0; j < n; j++)
        crowd[j] = (uint8_t)crowd_d[j];
    coco_fixture_doubles(cJSON_GetObjectItem(c, "iou"), want, m * n);
    ck_assert_int_eq(dlt_coco_rle_iou(dr, m, gr, n, crowd, got), DLT_OK);
    double err = 0;
    for (int i = 0; i < m * n; i++)
        err = fmax(err, fabs(got[i] - want[i]));
    printf("mask IoU %dx%d: max |C - pycocotools| %.3g\n", m, n, err);
    ck_assert_double_eq(err, 0);
    for (int i = 0; i < m; i++)
        dlt_coco_rle_free(&dr[i]);
    for (int j = 0; j < n; j++)
        dlt_coco_rle_free(&gr[j]);
    free(dr), free(gr);

    c = cJSON_GetArrayItem(rle_section(root, "box_iou"), 0);
    m = cJSON_GetArraySize(cJSON_GetObjectItem(c, "dt")) / 4;
    n = cJSON_GetArraySize(cJSON_GetObjectItem(c, "gt")) / 4;
    double db[64], gb[64];
    coco_fixture_doubles(cJSON_GetObjectItem(c, "dt"), db, 4 * m);
    coco_fixture_doubles(cJSON_GetObjectItem(c, "gt"), gb, 4 * n);
    coco_fixture_doubles(cJSON_GetObjectItem(c, "iscrowd"), crowd_d, n);
    for (int j = 0; j < n; j++)
        crowd[j] = (uint8_t)crowd_d[j];
    coco_fixture_doubles(cJSON_GetObjectItem(c, "iou"), want, m * n);
    dlt_coco_box_iou(db, m, gb, n, crowd, got);
    err = 0;
    for (int i = 0; i < m * n; i++)
        err = fmax(err, fabs(got[i] - want[i]));
    printf("box IoU %dx%d: max |C - pycocotools| %.3g\n", m, n, err);
    ck_assert_double_eq(err, 0);
    cJSON_Delete(root);
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* a random mask of a few rectangles, or noise */
static void random_mask(uint8_t *m, int h, int w, int noise)
{
    memset(m, 0, (size_t)h * (size_t)w);
    if (noise) {
        for (int i = 0; i < h * w; i++)
            m[i] = next_u32() % 3 == 0;
        return;
    }
    for (int r = 0; r < 3; r++) {
        int y0 = (int)(next_u32() % (unsigned)h), x0 = (int)(next_u32() % (unsigned)w);
        int y1 = y0 + (int)(next_u32() % (unsigned)h), x1 = x0 + (int)(next_u32() % (unsigned)w);
        for (int y = y0; y < y1 && y < h; y++)
            for (int x = x0; x < x1 && x < w; x++)
                m[y * w + x] = 1;
    }
}

START_TEST(round_trips_and_naive_merges)
{
    const int sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {5, 9}, {31, 17}, {64, 80}, {300, 2}};
    for (int s = 0; s < 7; s++)
        for (int rep = 0; rep < 6; rep++) {
            int h = sizes[s][0], w = sizes[s][1];
            size_t np = (size_t)h * (size_t)w;
            uint8_t *a = malloc(np), *b = malloc(np), *back = malloc(np), *naive = malloc(np);
            random_mask(a, h, w, rep % 2);
            random_mask(b, h, w, rep % 3 == 0);
            dlt_coco_rle ra, rb, parsed, un, in;
            ck_assert_int_eq(dlt_coco_rle_encode(a, h, w, &ra), DLT_OK);
            ck_assert_int_eq(dlt_coco_rle_encode(b, h, w, &rb), DLT_OK);
            char *str;
            ck_assert_int_eq(dlt_coco_rle_to_string(&ra, &str), DLT_OK);
            ck_assert_int_eq(dlt_coco_rle_from_string(str, h, w, &parsed), DLT_OK);
            assert_runs(&parsed, &ra);
            ck_assert_int_eq(dlt_coco_rle_decode(&parsed, back), DLT_OK);
            ck_assert_mem_eq(back, a, np);
            /* union and intersection against bitwise loops; IoU against counts */
            dlt_coco_rle pair[2] = {ra, rb};
            ck_assert_int_eq(dlt_coco_rle_merge(pair, 2, 0, &un), DLT_OK);
            ck_assert_int_eq(dlt_coco_rle_merge(pair, 2, 1, &in), DLT_OK);
            uint64_t ni = 0, nu = 0, na = 0;
            for (size_t i = 0; i < np; i++) {
                ni += a[i] && b[i], nu += a[i] || b[i], na += a[i] != 0;
                naive[i] = a[i] || b[i];
            }
            ck_assert_int_eq(dlt_coco_rle_decode(&un, back), DLT_OK);
            ck_assert_mem_eq(back, naive, np);
            for (size_t i = 0; i < np; i++)
                naive[i] = a[i] && b[i];
            ck_assert_int_eq(dlt_coco_rle_decode(&in, back), DLT_OK);
            ck_assert_mem_eq(back, naive, np);
            double iou[2];
            uint8_t crowd[1] = {1};
            ck_assert_int_eq(dlt_coco_rle_iou(&ra, 1, &rb, 1, NULL, &iou[0]), DLT_OK);
            ck_assert_int_eq(dlt_coco_rle_iou(&ra, 1, &rb, 1, crowd, &iou[1]), DLT_OK);
            ck_assert_double_eq(iou[0], ni ? (double)ni / (double)nu : 0.0);
            ck_assert_double_eq(iou[1], ni ? (double)ni / (double)na : 0.0);
            free(str), free(a), free(b), free(back), free(naive);
            dlt_coco_rle_free(&ra), dlt_coco_rle_free(&rb), dlt_coco_rle_free(&parsed);
            dlt_coco_rle_free(&un), dlt_coco_rle_free(&in);
        }
}
END_TEST

START_TEST(bad_strings_and_sizes)
{
    dlt_coco_rle r;
    ck_assert_int_eq(dlt_coco_rle_from_string("12~4", 2, 2, &r), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "offset 2"));
    ck_assert_int_eq(dlt_coco_rle_from_string("1P", 2, 2, &r), DLT_ERR_INVALID); /* 'P' continues */
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "ends inside a count"));
    ck_assert_int_eq(dlt_coco_rle_from_string("22", 2, 2, &r), DLT_OK); /* runs 2, 2 */
    ck_assert_int_eq(dlt_coco_rle_check(&r), DLT_OK);
    dlt_coco_rle_free(&r);
    ck_assert_int_eq(dlt_coco_rle_from_string("23", 2, 2, &r), DLT_OK);
    ck_assert_int_eq(dlt_coco_rle_check(&r), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "cover 5 pixels"));
    uint8_t m[4];
    ck_assert_int_eq(dlt_coco_rle_decode(&r, m), DLT_ERR_INVALID);
    dlt_coco_rle pair[2] = {r, r}, out;
    pair[1].w = 3;
    ck_assert_int_eq(dlt_coco_rle_merge(pair, 2, 0, &out), DLT_ERR_INVALID);
    double iou;
    ck_assert_int_eq(dlt_coco_rle_iou(&pair[0], 1, &pair[1], 1, NULL, &iou), DLT_ERR_INVALID);
    dlt_coco_rle_free(&r);
    double xy[4] = {0, 0, NAN, 1};
    ck_assert_int_eq(dlt_coco_rle_from_poly(xy, 2, 4, 4, &r), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "coordinate 2"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coco_rle");
    TCase *tc = tcase_create("coco_rle");
    tcase_add_test(tc, bitmaps_against_pycocotools);
    tcase_add_test(tc, polygons_against_pycocotools);
    tcase_add_test(tc, iou_against_pycocotools);
    tcase_add_test(tc, round_trips_and_naive_merges);
    tcase_add_test(tc, bad_strings_and_sizes);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
