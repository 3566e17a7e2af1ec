/* COCO evaluation (src/train/coco_eval.c, coco_gt.c, coco_results.c) against
 * pycocotools' COCOeval: the 12 summary numbers for iouType bbox and segm on
 * the fixture sets of tests/fixtures/coco_eval_make_fixtures.py (results read
 * from JSON, the same detections in memory with bitmap masks, and written by
 * dlt_coco_results_write and read back), summarize()'s printed lines, and
 * malformed ground truth and results files (one line naming file and field). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coco_fixture.h"
#include "dlt_coco.h"
#include "dlt_test.h"

static double max_diff(const double *a, const double *b)
{
    double m = 0;
    for (int i = 0; i < DLT_COCO_NSTATS; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

/* The detections with bitmap masks instead of RLEs (what a model gives). */
static dlt_coco_det *as_bitmaps(const dlt_coco_gt *gt, const dlt_coco_det *d, int64_t n,
                                uint8_t ***masks)
{
    dlt_coco_det *out = malloc((size_t)n * sizeof *out);
    *masks = calloc((size_t)n, sizeof **masks);
    for (int64_t i = 0; i < n; i++) {
        out[i] = d[i];
        int h, w;
        ck_assert_int_eq(dlt_coco_gt_image_size(gt, d[i].image_id, &h, &w), DLT_OK);
        (*masks)[i] = malloc((size_t)h * (size_t)w);
        ck_assert_int_eq(dlt_coco_rle_decode(d[i].rle, (*masks)[i]), DLT_OK);
        out[i].rle = NULL, out[i].mask = (*masks)[i];
    }
    return out;
}

START_TEST(against_pycocotools)
{
    cJSON *root = coco_fixture_expected();
    const cJSON *c;
    int ncases = 0;
    double worst = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases"))
    {
        char gpath[4096], dpath[4096];
        const char *gname = cJSON_GetObjectItem(c, "gt")->valuestring;
        const char *dname = cJSON_GetObjectItem(c, "dt")->valuestring;
        const char *iou = cJSON_GetObjectItem(c, "iou")->valuestring;
        dlt_coco_iou_type type = strcmp(iou, "segm") == 0 ? DLT_COCO_SEGM : DLT_COCO_BBOX;
        double want[DLT_COCO_NSTATS], got[DLT_COCO_NSTATS];
        coco_fixture_doubles(cJSON_GetObjectItem(c, "stats"), want, DLT_COCO_NSTATS);
        dlt_coco_gt *gt;
        dlt_coco_det *dets;
        int64_t n;
        ck_assert_msg(dlt_coco_gt_load(coco_fixture_path(gname, gpath, sizeof gpath), &gt) ==
                          DLT_OK,
                      "%s", dlt_errmsg());
        ck_assert_msg(dlt_coco_results_load(coco_fixture_path(dname, dpath, sizeof dpath), gt,
                                            &dets, &n) == DLT_OK,
                      "%s", dlt_errmsg());
        ck_assert_msg(dlt_coco_evaluate(gt, dets, n, type, got) == DLT_OK, "%s", dlt_errmsg());
        double err = max_diff(got, want);
        printf("%s %s %s (%lld images, %lld annotations, %lld detections): max |C - "
               "pycocotools| %.3g\n   C:",
               gname, dname, iou, (long long)dlt_coco_gt_num_images(gt),
               (long long)dlt_coco_gt_num_annotations(gt), (long long)n, err);
        for (int i = 0; i < DLT_COCO_NSTATS; i++)
            printf(" %.6f", got[i]);
        printf("\n");
        ck_assert_double_le(err, 1e-6);
        worst = fmax(worst, err);

        /* summarize()'s lines */
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        dlt_coco_print_stats(mem, got);
        fclose(mem);
        ck_assert_str_eq(text, cJSON_GetObjectItem(c, "summary")->valuestring);
        free(text);

        /* in memory with bitmap masks (box-only results have box masks) */
        uint8_t **masks;
        dlt_coco_det *bm = as_bitmaps(gt, dets, n, &masks);
        double got2[DLT_COCO_NSTATS];
        ck_assert_int_eq(dlt_coco_evaluate(gt, bm, n, type, got2), DLT_OK);
        ck_assert_double_le(max_diff(got2, want), 1e-6);

        /* written as results JSON (box and compressed mask) and read back:
         * areas become box areas, which is what the bbox+segm fixture files hold */
        if (strstr(dname, "_segm") == NULL && strstr(dname, "_box") == NULL) {
            char tmp[] = "/tmp/coco_results_XXXXXX";
            int fd = mkstemp(tmp);
            ck_assert_int_ge(fd, 0);
            close(fd);
            ck_assert_int_eq(dlt_coco_results_write(tmp, gt, bm, n), DLT_OK);
            dlt_coco_det *back;
            int64_t nb;
            ck_assert_msg(dlt_coco_results_load(tmp, gt, &back, &nb) == DLT_OK, "%s", dlt_errmsg());
            ck_assert_int_eq(nb, n);
            for (int64_t i = 0; i < n; i++) {
                ck_assert_double_eq(back[i].score, dets[i].score);
                for (int k = 0; k < 4; k++)
                    ck_assert_double_eq(back[i].bbox[k], dets[i].bbox[k]);
                ck_assert_int_eq(back[i].rle->m, dets[i].rle->m);
                ck_assert_mem_eq(back[i].rle->cnts, dets[i].rle->cnts,
                                 (size_t)dets[i].rle->m * sizeof(uint32_t));
            }
            ck_assert_int_eq(dlt_coco_evaluate(gt, back, nb, type, got2), DLT_OK);
            ck_assert_double_le(max_diff(got2, want), 1e-6);
            dlt_coco_dets_free(back, nb);
            unlink(tmp);
        }
        for (int64_t i = 0; i < n; i++)
            free(masks[i]);
        free(masks), free(bm);
        dlt_coco_dets_free(dets, n);
        dlt_coco_gt_free(gt);
        ncases++;
    }
    printf("%d cases, worst |C - pycocotools| %.3g\n", ncases, worst);
    ck_assert_int_ge(ncases, 10);
    cJSON_Delete(root);
}
END_TEST

/* by hand: one image, one category; two ground truth boxes (one a crowd) and
 * three detections: the best matches the regular box at IoU 1, the second
 * lies inside the crowd (ignored: neither TP nor FP), the third misses. */
START_TEST(hand_case)
{
    const char *gtj =
        "{\"images\":[{\"id\":5,\"height\":100,\"width\":100}],\"categories\":[{\"id\":1}],"
        "\"annotations\":[{\"id\":1,\"image_id\":5,\"category_id\":1,\"bbox\":[0,0,10,10],"
        "\"area\":100,\"iscrowd\":0},{\"id\":2,\"image_id\":5,\"category_id\":1,\"bbox\":"
        "[50,50,40,40],\"area\":1600,\"iscrowd\":1}]}";
    char path[] = "/tmp/coco_gt_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, gtj, strlen(gtj)), (ssize_t)strlen(gtj));
    close(fd);
    dlt_coco_gt *gt;
    ck_assert_int_eq(dlt_coco_gt_load(path, &gt), DLT_OK);
    dlt_coco_det d[3] = {{.image_id = 5, .category_id = 1, .bbox = {0, 0, 10, 10}, .score = .9},
                         {.image_id = 5, .category_id = 1, .bbox = {60, 60, 5, 5}, .score = .8},
                         {.image_id = 5, .category_id = 1, .bbox = {20, 20, 5, 5}, .score = .7}};
    double s[DLT_COCO_NSTATS];
    ck_assert_int_eq(dlt_coco_evaluate(gt, d, 3, DLT_COCO_BBOX, s), DLT_OK);
    /* precision 1 (1 / (1 + eps) as COCOeval computes it) up to recall 1 at
     * every threshold (the miss comes later): AP = 1; the only regular box is small (area 100): APs
     * = 1, medium and large have none: -1; recall 1 with 1, 10 and 100 detections */
    const double want[DLT_COCO_NSTATS] = {1, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1};
    for (int i = 0; i < DLT_COCO_NSTATS; i++)
        ck_assert_double_eq_tol(s[i], want[i], 1e-15);
    /* the miss first: precision 1/2 at recall 1 */
    d[2].score = .95;
    ck_assert_int_eq(dlt_coco_evaluate(gt, d, 3, DLT_COCO_BBOX, s), DLT_OK);
    ck_assert_double_eq_tol(s[0], 0.5, 1e-12);
    ck_assert_double_eq(s[6], 0); /* AR@1: the one detection kept misses */
    /* segm needs masks */
    ck_assert_int_eq(dlt_coco_evaluate(gt, d, 3, DLT_COCO_SEGM, s), DLT_ERR_INVALID);
    /* an image the ground truth does not list */
    d[0].image_id = 6;
    ck_assert_int_eq(dlt_coco_evaluate(gt, d, 3, DLT_COCO_BBOX, s), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "image 6"));
    dlt_coco_gt_free(gt);
    unlink(path);

    /* a regular box A [0, 0, 10, 10] inside a crowd region C [0, 0, 40, 40]
     * and one detection [0, 0, 10, 12]: IoU 100 / 120 with A, 120 / 120 with
     * C. Up to t = .80 it matches A (a regular match ends the search before
     * the ignored C, although C's IoU is higher): a true positive; from .85
     * on only C qualifies: ignored. AP = 7 / 10 thresholds, AR the same. */
    const char *gtj2 =
        "{\"images\":[{\"id\":1,\"height\":50,\"width\":50}],\"categories\":[{\"id\":3}],"
        "\"annotations\":[{\"id\":7,\"image_id\":1,\"category_id\":3,\"bbox\":[0,0,40,40],"
        "\"area\":1600,\"iscrowd\":1},{\"id\":8,\"image_id\":1,\"category_id\":3,\"bbox\":"
        "[0,0,10,10],\"area\":100,\"iscrowd\":0}]}";
    strcpy(path, "/tmp/coco_gt_XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, gtj2, strlen(gtj2)), (ssize_t)strlen(gtj2));
    close(fd);
    ck_assert_int_eq(dlt_coco_gt_load(path, &gt), DLT_OK);
    dlt_coco_det one = {.image_id = 1, .category_id = 3, .bbox = {0, 0, 10, 12}, .score = .5};
    ck_assert_int_eq(dlt_coco_evaluate(gt, &one, 1, DLT_COCO_BBOX, s), DLT_OK);
    printf("regular match before a better crowd: AP %.17g, AR100 %.17g\n", s[0], s[8]);
    ck_assert_double_eq_tol(s[0], 0.7, 1e-12);
    ck_assert_double_eq_tol(s[8], 0.7, 1e-12);
    dlt_coco_gt_free(gt);
    unlink(path);
}
END_TEST

/* a file with text; returns its path (static buffer per slot) */
static const char *tmp_file(int slot, const char *text)
{
    static char paths[2][64];
    snprintf(paths[slot], sizeof paths[slot], "/tmp/coco_bad_XXXXXX");
    int fd = mkstemp(paths[slot]);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return paths[slot];
}

static void expect_gt_error(const char *text, const char *field)
{
    const char *p = tmp_file(0, text);
    dlt_coco_gt *gt = NULL;
    ck_assert_int_eq(dlt_coco_gt_load(p, &gt), DLT_ERR_INVALID);
    ck_assert_ptr_null(gt);
    const char *msg = dlt_errmsg();
    printf("%s\n", msg);
    ck_assert_ptr_nonnull(strstr(msg, p));
    ck_assert_msg(strstr(msg, field) != NULL, "'%s' does not name %s", msg, field);
    ck_assert_ptr_null(strchr(msg, '\n'));
    unlink(p);
}

START_TEST(malformed_json)
{
#define IMG "\"images\":[{\"id\":1,\"height\":10,\"width\":10}]"
#define CAT "\"categories\":[{\"id\":1}]"
#define ANN(x) "\"annotations\":[{\"id\":1,\"image_id\":1,\"category_id\":1," x "}]"
    expect_gt_error("{\"images\": [\n{\"id\": 1,\n", "line 3");
    expect_gt_error("{" IMG "," CAT "}", "annotations: missing");
    expect_gt_error("{" IMG "," ANN("\"bbox\":[1,2,3],\"area\":4,\"iscrowd\":0") "," CAT "}",
                    "annotations[0].bbox: expected an array of 4 numbers");
    expect_gt_error("{" IMG "," ANN("\"bbox\":[1,2,3,4],\"iscrowd\":0") "," CAT "}",
                    "annotations[0].area: missing");
    expect_gt_error("{" IMG "," ANN("\"bbox\":[1,2,3,4],\"area\":4,\"iscrowd\":2") "," CAT "}",
                    "annotations[0].iscrowd");
    expect_gt_error("{" IMG "," ANN("\"bbox\":[1,2,3,4],\"area\":4,\"iscrowd\":0,"
                                    "\"segmentation\":{\"size\":[10,10],\"counts\":\"a~\"}") "," CAT
                                                                                             "}",
                    "annotations[0].segmentation.counts");
    expect_gt_error("{" IMG "," ANN("\"bbox\":[1,2,3,4],\"area\":4,\"iscrowd\":0,"
                                    "\"segmentation\":{\"size\":[10,10],\"counts\":[50,3]}") "," CAT
                                                                                             "}",
                    "cover 53 pixels");
    expect_gt_error("{" IMG "," ANN("\"bbox\":[1,2,3,4],\"area\":4,\"iscrowd\":0,"
                                    "\"segmentation\":[[1,2,3]]") "," CAT "}",
                    "annotations[0].segmentation: polygon 0");
    /* 4 numbers first: pycocotools' frPyObjects takes them for a box and fails */
    expect_gt_error("{" IMG "," ANN("\"bbox\":[1,2,3,4],\"area\":4,\"iscrowd\":0,"
                                    "\"segmentation\":[[1,2,3,4]]") "," CAT "}",
                    "annotations[0].segmentation: polygon 0");
    expect_gt_error("{\"images\":[{\"id\":1.5,\"height\":10,\"width\":10}]," ANN(
                        "\"bbox\":[1,2,3,4],\"area\":4,\"iscrowd\":0") "," CAT "}",
                    "images[0].id: expected an integer id");

    /* results */
    const char *gp =
        tmp_file(1, "{" IMG "," ANN("\"bbox\":[1,2,3,4],\"area\":4,\"iscrowd\":0") "," CAT "}");
    dlt_coco_gt *gt;
    ck_assert_int_eq(dlt_coco_gt_load(gp, &gt), DLT_OK);
    struct {
        const char *text, *field;
    } bad[] = {
        {"{\"image_id\":1}", "expected a JSON list"},
        {"[{\"image_id\":2,\"category_id\":1,\"bbox\":[0,0,1,1],\"score\":1}]",
         "[0].image_id: image 2 is not in the ground truth"},
        {"[{\"image_id\":1,\"category_id\":1,\"bbox\":[0,0,1,1],\"score\":1},"
         "{\"image_id\":1,\"category_id\":1,\"score\":0.5}]",
         "[1].bbox: missing"},
        {"[{\"image_id\":1,\"category_id\":1,\"bbox\":[0,0,1,1]}]", "[0].score: missing"},
        {"[{\"image_id\":1,\"category_id\":1,\"score\":1,\"segmentation\":{\"size\":[5,5],"
         "\"counts\":\"0`0\"}}]",
         "[0].segmentation"},
        {"[{\"image_id\":1,\"category_id\":1,\"score\":1}]", "[0].segmentation: missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = tmp_file(0, bad[i].text);
        dlt_coco_det *d = NULL;
        int64_t n = -1;
        ck_assert_int_eq(dlt_coco_results_load(p, gt, &d, &n), DLT_ERR_INVALID);
        ck_assert_ptr_null(d);
        const char *msg = dlt_errmsg();
        printf("%s\n", msg);
        ck_assert_ptr_nonnull(strstr(msg, p));
        ck_assert_msg(strstr(msg, bad[i].field) != NULL, "'%s' does not name %s", msg,
                      bad[i].field);
        ck_assert_ptr_null(strchr(msg, '\n'));
        unlink(p);
    }
    dlt_coco_gt_free(gt);
    unlink(gp);
    ck_assert_int_eq(dlt_coco_gt_load("/nonexistent/gt.json", &gt), DLT_ERR_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "/nonexistent/gt.json"));
#undef IMG
#undef CAT
#undef ANN
}
END_TEST

/* dlt_coco_gt_keep_images: two images with one object each, one exact
 * detection on image 1. Over both images recall is 1/2 (precision 1 up to
 * it): AP = 51/101 (the recall points 0, .01, ..., .5); over image 1 alone
 * (COCOeval's imgIds = [1]) AP = 1; AR100 1/2 and 1. */
START_TEST(keep_images)
{
    const char *gp =
        tmp_file(0, "{\"images\":[{\"id\":1,\"height\":100,\"width\":100},"
                    "{\"id\":2,\"height\":100,\"width\":100}],\"categories\":[{\"id\":3}],"
                    "\"annotations\":[{\"id\":1,\"image_id\":1,\"category_id\":3,"
                    "\"bbox\":[10,10,20,20],\"area\":400,\"iscrowd\":0},"
                    "{\"id\":2,\"image_id\":2,\"category_id\":3,"
                    "\"bbox\":[50,50,20,20],\"area\":400,\"iscrowd\":0}]}");
    dlt_coco_gt *gt = NULL;
    ck_assert_int_eq(dlt_coco_gt_load(gp, &gt), DLT_OK);
    dlt_coco_det d = {.image_id = 1, .category_id = 3, .bbox = {10, 10, 20, 20}, .score = 0.9};
    double all[DLT_COCO_NSTATS], one[DLT_COCO_NSTATS];
    ck_assert_int_eq(dlt_coco_evaluate(gt, &d, 1, DLT_COCO_BBOX, all), DLT_OK);
    const int64_t ids[1] = {1}, bad[1] = {7};
    ck_assert_int_eq(dlt_coco_gt_keep_images(gt, ids, 1), DLT_OK);
    ck_assert_int_eq(dlt_coco_gt_num_annotations(gt), 1);
    ck_assert_int_eq(dlt_coco_gt_num_images(gt), 2);
    ck_assert_int_eq(dlt_coco_evaluate(gt, &d, 1, DLT_COCO_BBOX, one), DLT_OK);
    printf("keep_images: AP %.6f -> %.6f, AR100 %.3f -> %.3f\n", all[0], one[0], all[8], one[8]);
    ck_assert_double_eq_tol(all[0], 51.0 / 101.0, 1e-12);
    ck_assert_double_eq_tol(all[8], 0.5, 1e-12);
    ck_assert_double_eq_tol(one[0], 1.0, 1e-12);
    ck_assert_double_eq_tol(one[3], 1.0, 1e-12); /* small: area 400 */
    ck_assert_double_eq_tol(one[8], 1.0, 1e-12);
    ck_assert_int_eq(dlt_coco_gt_keep_images(gt, bad, 1), DLT_ERR_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "7"));
    dlt_coco_gt_free(gt);
    unlink(gp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coco_eval");
    TCase *tc = tcase_create("coco_eval");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, against_pycocotools);
    tcase_add_test(tc, hand_case);
    tcase_add_test(tc, malformed_json);
    tcase_add_test(tc, keep_images);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
