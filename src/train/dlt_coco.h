/* COCO detection evaluation (docs/metrics.md, "COCO mAP"): box and mask
 * average precision and recall computed as pycocotools' COCOeval defines them
 * (iouType "bbox" and "segm", the default parameters), COCO's run-length
 * encoded masks (RLE) with their compressed string form, and the COCO JSON
 * files around them: ground truth as COCO instances JSON, detections as a
 * COCO results JSON or in memory, and a writer of results JSON (the RLE masks
 * themselves are src/data's dlt_coco_mask.h, which dlprep coco decodes with).
 * A trainer
 * evaluates with
 *
 *     dlt_coco_gt_load("val.json", &gt);
 *     dlt_coco_det dets[n] = {...};                 // image, category, box, score, mask
 *     dlt_coco_evaluate(gt, dets, n, DLT_COCO_SEGM, stats);
 *     dlt_coco_print_stats(stdout, DLT_COCO_SEGM, stats);
 *
 * Masks and RLEs follow COCO's layout: an RLE counts the pixels of an h x w
 * image in column-major order (down the first column, then the next) as
 * alternating runs of 0s and 1s that start with 0s (the first count may be 0).
 * Bitmaps in this API are row-major [h][w] bytes (nonzero = inside), the
 * natural C layout; the encoder walks them column by column. */
#ifndef DLT_COCO_H
#define DLT_COCO_H

#include <stdint.h>
#include <stdio.h>

#include "dlt_base.h"
#include "dlt_coco_mask.h" /* the RLE masks (src/data) */

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- ground truth */
typedef struct dlt_coco_gt dlt_coco_gt;
/* Parses a COCO instances JSON file: "images" (id, height, width),
 * "categories" (id) and "annotations" (id, image_id, category_id, bbox
 * [x, y, w, h], area, iscrowd, and segmentation: polygons, an uncompressed RLE
 * {"size", "counts": [..]} or a compressed one {"size", "counts": "..."}; an
 * annotation without segmentation can only be evaluated as boxes). Errors are
 * one line naming the file and the field, e.g. "val.json: annotations[3].bbox:
 * expected an array of 4 numbers". */
dlt_status dlt_coco_gt_load(const char *path, dlt_coco_gt **out);
void dlt_coco_gt_free(dlt_coco_gt *gt); /* NULL is a no-op */
int64_t dlt_coco_gt_num_images(const dlt_coco_gt *gt);
int64_t dlt_coco_gt_num_annotations(const dlt_coco_gt *gt);
/* Height and width of image `image_id`; DLT_ERR_NOTFOUND for an unknown id. */
dlt_status dlt_coco_gt_image_size(const dlt_coco_gt *gt, int64_t image_id, int *h, int *w);
/* Keeps the annotations of the images ids[0..n) only: evaluating detections
 * of those images then is COCOeval's with params.imgIds = ids (an image with
 * neither ground truth nor detections counts for nothing). DLT_ERR_NOTFOUND
 * names an id gt lacks. */
dlt_status dlt_coco_gt_keep_images(dlt_coco_gt *gt, const int64_t *ids, int64_t n);

/* ---------------------------------------------------------------- detections */
typedef struct {
    int64_t image_id, category_id;
    double bbox[4]; /* x, y, w, h */
    double score;
    /* the area the area ranges see: `area` when has_area, else bbox[2] *
     * bbox[3], which is what pycocotools' loadRes takes for results that
     * carry a box (as the writer below writes them); for the mask area that
     * loadRes takes for mask-only results set area = dlt_coco_rle_area and
     * has_area = 1 (a zero-initialised detection has the box area) */
    double area;
    int has_area;
    /* segm evaluation: the mask as an RLE of the image's size, or else as a
     * row-major bitmap [h * w] of the image's size; both NULL: no mask */
    const dlt_coco_rle *rle;
    const uint8_t *mask;
} dlt_coco_det;

/* A COCO results JSON file (a list of {image_id, category_id, bbox, score} or
 * {image_id, category_id, segmentation, score} or both) read as pycocotools'
 * loadRes reads it: every image_id must be one of gt's images; when the first
 * result has a non-empty bbox every area is bbox w * h, otherwise the mask's
 * area; a result without bbox gets its mask's dlt_coco_rle_bbox. *dets (n
 * entries) and the RLEs they point to are owned by the caller: free with
 * dlt_coco_dets_free(*dets, n). */
dlt_status dlt_coco_results_load(const char *path, const dlt_coco_gt *gt, dlt_coco_det **dets,
                                 int64_t *n);
void dlt_coco_dets_free(dlt_coco_det *dets, int64_t n);
/* Writes dets as a COCO results JSON list: image_id, category_id, bbox,
 * score, and segmentation {"size": [h, w], "counts": "<compressed>"} for a
 * detection with a mask (a bitmap takes its image's size from gt). */
dlt_status dlt_coco_results_write(const char *path, const dlt_coco_gt *gt, const dlt_coco_det *dets,
                                  int64_t n);

/* ---------------------------------------------------------------- evaluation */
typedef enum { DLT_COCO_BBOX = 0, DLT_COCO_SEGM = 1 } dlt_coco_iou_type;
enum { DLT_COCO_NSTATS = 12 };
/* COCOeval's evaluate(), accumulate() and summarize() with the default
 * parameters (all of gt's images and categories, IoU thresholds .50:.05:.95,
 * 101 recall points, areas all/small/medium/large, maxDets 1/10/100):
 * stats = AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl, each
 * -1 where no category has ground truth to average over. Detections of
 * categories gt does not list are dropped; an image_id gt does not list is
 * DLT_ERR_INVALID; a segm detection without a mask is DLT_ERR_INVALID. */
dlt_status dlt_coco_evaluate(const dlt_coco_gt *gt, const dlt_coco_det *dets, int64_t n,
                             dlt_coco_iou_type type, double stats[DLT_COCO_NSTATS]);
/* The 12 lines of pycocotools' summarize(). */
void dlt_coco_print_stats(FILE *out, const double stats[DLT_COCO_NSTATS]);

#ifdef __cplusplus
}
#endif
#endif
