/* Mask R-CNN's host-side evaluation (src/train/maskrcnn_eval.c) against
 * torchvision and pycocotools (tests/fixtures/maskrcnn_eval.h5 and
 * maskrcnn_eval_gt.json, made by maskrcnn_eval_make_fixtures.py): fixed
 * detections of two resized images mapped back to their source sizes (boxes as
 * resize_boxes, masks as paste_masks_in_image > 0.5, pixel for pixel), then
 * COCOeval's 12 numbers for bbox and segm; the results JSON read back gives
 * the same box numbers; a wrong image id or source size is refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlt_maskrcnn_eval.h"
#include "dlt_test.h"

enum { B = 2, D = 6, M = 28 };

typedef struct {
    float boxes[B * D * 4], scores[B * D], valid[B * D], masks[B * D * M * M];
    int32_t labels[B * D], image_sizes[B * 2], orig_sizes[B * 2];
    int64_t image_ids[B];
    float want_xywh[B * D * 4];
    double stats_bbox[DLT_COCO_NSTATS], stats_segm[DLT_COCO_NSTATS];
} fixture;

static void load(fixture *x, hid_t f)
{
    dlt_test_h5_read(f, "boxes", H5T_NATIVE_FLOAT, x->boxes, B * D * 4);
    dlt_test_h5_read(f, "scores", H5T_NATIVE_FLOAT, x->scores, B * D);
    dlt_test_h5_read(f, "valid", H5T_NATIVE_FLOAT, x->valid, B * D);
    dlt_test_h5_read(f, "masks", H5T_NATIVE_FLOAT, x->masks, B * D * M * M);
    dlt_test_h5_read(f, "labels", H5T_NATIVE_INT32, x->labels, B * D);
    dlt_test_h5_read(f, "image_sizes", H5T_NATIVE_INT32, x->image_sizes, B * 2);
    dlt_test_h5_read(f, "orig_sizes", H5T_NATIVE_INT32, x->orig_sizes, B * 2);
    dlt_test_h5_read(f, "image_ids", H5T_NATIVE_INT64, x->image_ids, B);
    dlt_test_h5_read(f, "want_xywh", H5T_NATIVE_FLOAT, x->want_xywh, B * D * 4);
    dlt_test_h5_read(f, "stats_bbox", H5T_NATIVE_DOUBLE, x->stats_bbox, DLT_COCO_NSTATS);
    dlt_test_h5_read(f, "stats_segm", H5T_NATIVE_DOUBLE, x->stats_segm, DLT_COCO_NSTATS);
}

static dlt_mrcnn_dets dets_of(fixture *x)
{
    return (dlt_mrcnn_dets){.batch = B,
                            .nimages = B,
                            .per_image = D,
                            .mask_size = M,
                            .boxes = x->boxes,
                            .scores = x->scores,
                            .labels = x->labels,
                            .valid = x->valid,
                            .masks = x->masks,
                            .image_sizes = x->image_sizes,
                            .orig_sizes = x->orig_sizes,
                            .image_ids = x->image_ids};
}

static const char *gt_path(void)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/tests/fixtures/maskrcnn_eval_gt.json", DLT_TEST_SRCDIR);
    return p;
}

static void check_stats(const char *what, const double *got, const double *want)
{
    for (int i = 0; i < DLT_COCO_NSTATS; i++) {
        printf("%s[%2d] = %8.5f  pycocotools %8.5f\n", what, i, got[i], want[i]);
        ck_assert_msg(fabs(got[i] - want[i]) < 1e-12, "%s stat %d: %.15g vs %.15g", what, i, got[i],
                      want[i]);
    }
}

START_TEST(eval_vs_pycocotools)
{
    fixture *x = malloc(sizeof *x);
    hid_t f = dlt_test_fixture_open("maskrcnn_eval.h5");
    load(x, f);
    dlt_mrcnn_eval *e;
    ck_assert_int_eq(dlt_mrcnn_eval_open(gt_path(), &e), DLT_OK);
    /* one image per call, as two batches of one would come */
    for (int b = 0; b < B; b++) {
        dlt_mrcnn_dets d = dets_of(x);
        d.batch = d.nimages = 1;
        d.boxes += b * D * 4, d.scores += b * D, d.valid += b * D, d.labels += b * D;
        d.masks += (size_t)b * D * M * M, d.image_sizes += 2 * b, d.orig_sizes += 2 * b;
        d.image_ids += b;
        ck_assert_int_eq(dlt_mrcnn_eval_add(e, &d), DLT_OK);
    }
    /* boxes in source pixels and the pasted, thresholded masks, slot by slot */
    int64_t i = 0;
    for (int b = 0; b < B; b++) {
        int h = x->orig_sizes[2 * b], w = x->orig_sizes[2 * b + 1];
        char name[32];
        snprintf(name, sizeof name, "want_mask_%lld", (long long)x->image_ids[b]);
        uint8_t *want = malloc((size_t)D * h * w), *got = malloc((size_t)h * w);
        dlt_test_h5_read(f, name, H5T_NATIVE_UINT8, want, (size_t)D * h * w);
        for (int k = 0; k < D; k++) {
            if (x->valid[b * D + k] == 0.f)
                continue;
            const dlt_coco_det *d = dlt_mrcnn_eval_det(e, i++);
            ck_assert_ptr_nonnull(d);
            ck_assert_int_eq(d->image_id, x->image_ids[b]);
            ck_assert_int_eq(d->category_id, x->labels[b * D + k]);
            ck_assert_double_eq(d->score, x->scores[b * D + k]);
            for (int c = 0; c < 4; c++) /* both f32 products and differences */
                ck_assert_double_eq(d->bbox[c], x->want_xywh[(b * D + k) * 4 + c]);
            ck_assert_ptr_nonnull(d->rle);
            ck_assert_int_eq(dlt_coco_rle_decode(d->rle, got), DLT_OK);
            int on = 0;
            for (int p = 0; p < h * w; p++) {
                ck_assert_int_eq(got[p], want[(size_t)k * h * w + p]);
                on += got[p];
            }
            printf("image %lld slot %d: box %.3f %.3f %.3f %.3f, %d mask pixels\n",
                   (long long)d->image_id, k, d->bbox[0], d->bbox[1], d->bbox[2], d->bbox[3], on);
        }
        free(want), free(got);
    }
    ck_assert_int_eq(dlt_mrcnn_eval_count(e), i);
    ck_assert_ptr_null(dlt_mrcnn_eval_det(e, i));

    char json[] = "/tmp/dlt_mrcnn_evalXXXXXX";
    int fd = mkstemp(json);
    ck_assert_int_ge(fd, 0);
    close(fd);
    double box[DLT_COCO_NSTATS], segm[DLT_COCO_NSTATS];
    ck_assert_int_eq(dlt_mrcnn_eval_finish(e, json, box, segm), DLT_OK);
    check_stats("bbox", box, x->stats_bbox);
    check_stats("segm", segm, x->stats_segm);

    /* the results JSON as pycocotools would read it: boxes give the same numbers */
    dlt_coco_gt *gt;
    ck_assert_int_eq(dlt_coco_gt_load(gt_path(), &gt), DLT_OK);
    dlt_coco_det *back;
    int64_t n;
    ck_assert_int_eq(dlt_coco_results_load(json, gt, &back, &n), DLT_OK);
    ck_assert_int_eq(n, i);
    double again[DLT_COCO_NSTATS];
    ck_assert_int_eq(dlt_coco_evaluate(gt, back, n, DLT_COCO_BBOX, again), DLT_OK);
    for (int s = 0; s < DLT_COCO_NSTATS; s++)
        ck_assert_double_eq_tol(again[s], x->stats_bbox[s], 1e-12);
    for (int64_t k = 0; k < n; k++)
        ck_assert_ptr_nonnull(back[k].rle);
    dlt_coco_dets_free(back, n);
    dlt_coco_gt_free(gt);
    unlink(json);
    dlt_mrcnn_eval_free(e);
    H5Fclose(f);
    free(x);
}
END_TEST

START_TEST(refuses_unknown_images_and_sizes)
{
    fixture *x = malloc(sizeof *x);
    hid_t f = dlt_test_fixture_open("maskrcnn_eval.h5");
    load(x, f);
    H5Fclose(f);
    dlt_mrcnn_eval *e;
    ck_assert_int_eq(dlt_mrcnn_eval_open(gt_path(), &e), DLT_OK);
    dlt_mrcnn_dets d = dets_of(x);
    x->image_ids[1] = 99;
    ck_assert_int_eq(dlt_mrcnn_eval_add(e, &d), DLT_ERR_INVALID);
    x->image_ids[1] = 12, x->orig_sizes[0] = 61;
    ck_assert_int_eq(dlt_mrcnn_eval_add(e, &d), DLT_ERR_INVALID);
    x->orig_sizes[0] = 60;
    /* a category table too short for label 3 */
    ck_assert_int_eq(dlt_mrcnn_eval_set_categories(e, (const int64_t[]){0, 1, 2}, 3), DLT_OK);
    dlt_mrcnn_eval_free(e);
    ck_assert_int_eq(dlt_mrcnn_eval_open(gt_path(), &e), DLT_OK);
    ck_assert_int_eq(dlt_mrcnn_eval_set_categories(e, (const int64_t[]){0, 1, 2}, 3), DLT_OK);
    ck_assert_int_eq(dlt_mrcnn_eval_add(e, &d), DLT_ERR_INVALID);
    dlt_mrcnn_eval_free(e);
    /* without masks: boxes only, and the mask metrics are refused */
    ck_assert_int_eq(dlt_mrcnn_eval_open(gt_path(), &e), DLT_OK);
    d.masks = NULL, d.mask_size = 0;
    ck_assert_int_eq(dlt_mrcnn_eval_add(e, &d), DLT_OK);
    double box[DLT_COCO_NSTATS], segm[DLT_COCO_NSTATS];
    ck_assert_int_eq(dlt_mrcnn_eval_finish(e, NULL, box, NULL), DLT_OK);
    for (int s = 0; s < DLT_COCO_NSTATS; s++)
        ck_assert_double_eq_tol(box[s], x->stats_bbox[s], 1e-12);
    ck_assert_int_eq(dlt_mrcnn_eval_finish(e, NULL, NULL, segm), DLT_ERR_INVALID);
    dlt_mrcnn_eval_free(e);
    ck_assert_int_eq(dlt_mrcnn_eval_open("/nonexistent/gt.json", &e), DLT_ERR_NOTFOUND);
    ck_assert_ptr_null(e);
    free(x);
}
END_TEST

START_TEST(ground_truth_beside_the_shards)
{
    char *p = NULL;
    char pat[4200];
    snprintf(pat, sizeof pat, "%s/tests/fixtures/maskrcnn-*.h5", DLT_TEST_SRCDIR);
    /* no instances_maskrcnn.json there */
    ck_assert_int_eq(dlt_mrcnn_eval_gt_beside(pat, &p), DLT_ERR_NOTFOUND);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(dlt_mrcnn_eval_gt_beside("noprefix.h5", &p), DLT_ERR_INVALID);
    char dir[] = "/tmp/dlt_gt_besideXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char json[4200];
    snprintf(json, sizeof json, "%s/instances_val.json", dir);
    FILE *f = fopen(json, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(pat, sizeof pat, "%s/val-*.h5", dir);
    ck_assert_int_eq(dlt_mrcnn_eval_gt_beside(pat, &p), DLT_OK);
    ck_assert_str_eq(p, json);
    free(p);
    unlink(json);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("maskrcnn_eval");
    TCase *tc = tcase_create("maskrcnn_eval");
    tcase_add_test(tc, eval_vs_pycocotools);
    tcase_add_test(tc, refuses_unknown_images_and_sizes);
    tcase_add_test(tc, ground_truth_beside_the_shards);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
