/* COCO detection evaluation (docs/metrics.md, "COCO mAP"): box and mask
 * average precision and recall computed as pycocotools' COCOeval defines them
 * (iouType "bbox" and "segm", the default parameters), COCO's run-length
 * encoded masks (RLE) with their compressed string form, and the COCO JSON
 * files around them: ground truth as COCO instances JSON, detections as a
 * COCO results JSON or in memory, and a writer of results JSON. A trainer
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

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- RLE */
typedef struct {
    int h, w;       /* image height and width */
    int64_t m;      /* number of runs */
    uint32_t *cnts; /* m run lengths (0s, 1s, 0s, ...); owned, free with dlt_coco_rle_free */
} dlt_coco_rle;

void dlt_coco_rle_free(dlt_coco_rle *r); /* frees cnts and zeroes r; NULL is a no-op */
/* A deep copy of src into dst. */
dlt_status dlt_coco_rle_copy(const dlt_coco_rle *src, dlt_coco_rle *dst);
/* The RLE of the row-major bitmap mask [h * w] (nonzero = 1). h, w >= 0. */
dlt_status dlt_coco_rle_encode(const uint8_t *mask, int h, int w, dlt_coco_rle *out);
/* Writes the row-major bitmap [r->h * r->w] (0/1) of r; DLT_ERR_INVALID when
 * the runs do not add up to h * w. */
dlt_status dlt_coco_rle_decode(const dlt_coco_rle *r, uint8_t *mask);
/* Foreground pixels (the sum of the odd-numbered runs). */
uint64_t dlt_coco_rle_area(const dlt_coco_rle *r);
/* The tight box [x, y, w, h] of the foreground in pixels (all 0 for an empty
 * mask), as pycocotools' toBbox: a run of 1s that wraps into a further column
 * spans the whole height. */
void dlt_coco_rle_bbox(const dlt_coco_rle *r, double bbox[4]);
/* COCO's compressed counts string: each count (from the fourth on, its
 * difference to the count two before) in 5-bit groups, least significant
 * first, sign-extended from the last group's bit 4, each group + 48 as one
 * character with bit 5 set when more groups follow. *out is malloc'ed,
 * NUL-terminated. */
dlt_status dlt_coco_rle_to_string(const dlt_coco_rle *r, char **out);
/* Parses such a string for an h x w image; DLT_ERR_INVALID naming the
 * character offset for characters outside '0'..'o' (48..111), a string that
 * ends inside a count, or a count outside 0..2^32-1. The runs are not checked
 * against h * w (dlt_coco_rle_check does). */
dlt_status dlt_coco_rle_from_string(const char *s, int h, int w, dlt_coco_rle *out);
/* DLT_ERR_INVALID unless the runs add up to h * w. */
dlt_status dlt_coco_rle_check(const dlt_coco_rle *r);
/* Union (intersect = 0) or intersection (intersect = 1) of n >= 1 RLEs of one
 * size (DLT_ERR_INVALID otherwise), as pycocotools' merge. */
dlt_status dlt_coco_rle_merge(const dlt_coco_rle *rs, int n, int intersect, dlt_coco_rle *out);
/* Rasterises the polygon xy [2k] (x0, y0, x1, y1, ...; pixel centres at
 * integer coordinates) into an h x w RLE exactly as pycocotools' frPoly: the
 * outline is walked at 5x resolution and a pixel is inside when its centre is
 * below an odd number of the outline's crossings of its column. */
dlt_status dlt_coco_rle_from_poly(const double *xy, int k, int h, int w, dlt_coco_rle *out);
/* IoU matrix o [m * n] (row d, column g) between the m detections dt and the
 * n ground truths gt: |d & g| / |d | g|, or |d & g| / |d| when iscrowd[g]
 * (iscrowd may be NULL: none); 0 when they do not intersect. DLT_ERR_INVALID
 * when two masks of different sizes meet (pycocotools gives -1 there). */
dlt_status dlt_coco_rle_iou(const dlt_coco_rle *dt, int64_t m, const dlt_coco_rle *gt, int64_t n,
                            const uint8_t *iscrowd, double *o);
/* The same for boxes [x, y, w, h] (dt [4m], gt [4n]) as pycocotools' bbIou. */
void dlt_coco_box_iou(const double *dt, int64_t m, const double *gt, int64_t n,
                      const uint8_t *iscrowd, double *o);

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
