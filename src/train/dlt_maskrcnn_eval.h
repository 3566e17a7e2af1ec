/* Mask R-CNN's evaluation on the host (maskrcnn_eval.c): a plan's fixed-shape
 * detections of a batch ([B, D] slots with validity, boxes in the resized
 * image's pixels, 28 x 28 mask probabilities) become COCO detections of the
 * source images, as torchvision's GeneralizedRCNNTransform.postprocess and its
 * detection reference (coco_eval.py) make them: boxes scaled back
 * (resize_boxes), masks pasted into the source image (dlt_det_paste_mask) and
 * thresholded at 0.5, run-length encoded (dlt_coco.h). At the end the box and
 * mask metrics are COCOeval's against the data set's ground truth JSON, and
 * the detections may be written as a COCO results JSON. A task's evaluation
 * calls
 *
 *     dlt_mrcnn_eval_open("data/detsynth/instances_val.json", &ev);
 *     for each batch: dlt_mrcnn_eval_add(ev, &dets);
 *     dlt_mrcnn_eval_finish(ev, "run/val_results.json", box_stats, segm_stats);
 *     dlt_mrcnn_eval_free(ev);
 *
 * (in data parallel runs each rank adds its own images; the trainer gathers
 * the detections or runs the evaluation on one rank). */
#ifndef DLT_MASKRCNN_EVAL_H
#define DLT_MASKRCNN_EVAL_H

#include <stdint.h>

#include "dlt_coco.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One batch of detections, all arrays row-major. */
typedef struct {
    int batch;                  /* B slots; images n >= B are ignored (see nimages) */
    int nimages;                /* the first nimages of the batch are real (a last,
                                   partial batch); <= batch */
    int per_image;              /* D detection slots per image */
    int mask_size;              /* M (28); 0: no masks (box metrics only) */
    const float *boxes;         /* [B, D, 4] x1, y1, x2, y2 in the resized image */
    const float *scores;        /* [B, D] */
    const int32_t *labels;      /* [B, D] contiguous class indices (1..C-1) */
    const float *valid;         /* [B, D] 0: an empty slot; NULL: all valid */
    const float *masks;         /* [B, D, M, M] probabilities of the label's mask, or NULL */
    const int32_t *image_sizes; /* [B, 2] h, w of the resized image (the loader's) */
    const int32_t *orig_sizes;  /* [B, 2] h, w of the source image (the ground truth's) */
    const int64_t *image_ids;   /* [B] COCO image ids */
} dlt_mrcnn_dets;

typedef struct dlt_mrcnn_eval dlt_mrcnn_eval;

/* The ground truth beside a split's shards, as dlprep detection-synth writes
 * it (the shards do not name it): for shards DIR/PREFIX-... (a file or a
 * glob pattern such as "data/detsynth/val-*.h5"), DIR/instances_PREFIX.json;
 * DLT_ERR_NOTFOUND naming that path when there is no such file. *out is
 * malloc'd. */
dlt_status dlt_mrcnn_eval_gt_beside(const char *shards, char **out);

/* Loads the ground truth (COCO instances JSON). Category ids are the labels
 * unless dlt_mrcnn_eval_set_categories says otherwise. */
dlt_status dlt_mrcnn_eval_open(const char *gt_json, dlt_mrcnn_eval **out);
/* label l (1..n-1) is COCO category ids[l]; the table is copied. */
dlt_status dlt_mrcnn_eval_set_categories(dlt_mrcnn_eval *e, const int64_t *ids, int n);
/* Converts and keeps a batch's valid detections. DLT_ERR_INVALID names the
 * image when its id is not in the ground truth or its source size differs
 * from the ground truth's, or a label outside the category table. */
dlt_status dlt_mrcnn_eval_add(dlt_mrcnn_eval *e, const dlt_mrcnn_dets *d);
/* The evaluation of part of the ground truth's images (a capped
 * validation): dlt_coco_gt_keep_images (COCOeval's params.imgIds). The
 * results JSON is unchanged; a full evaluation of it counts the other images'
 * objects as missed. */
dlt_status dlt_mrcnn_eval_keep_images(dlt_mrcnn_eval *e, const int64_t *ids, int64_t n);
/* Detections kept so far. */
int64_t dlt_mrcnn_eval_count(const dlt_mrcnn_eval *e);
/* The i-th kept detection (its box is x, y, w, h in source pixels; rle set
 * when masks were given); NULL past the end. Valid until the next add. */
const dlt_coco_det *dlt_mrcnn_eval_det(const dlt_mrcnn_eval *e, int64_t i);
/* COCOeval's 12 numbers for boxes (box, may be NULL) and masks (segm, may be
 * NULL; DLT_ERR_INVALID when detections came without masks); results_json
 * (may be NULL) receives all detections as a COCO results JSON, each with its
 * box and mask. Masks are evaluated with their own areas, as pycocotools'
 * loadRes does for mask-only results (torchvision's reference); the file,
 * read back by loadRes or dltrain coco-eval, gives the box areas instead,
 * which moves APs/m/l of segm only. No
 * detections: every number is 0 where the ground truth has objects. */
dlt_status dlt_mrcnn_eval_finish(dlt_mrcnn_eval *e, const char *results_json,
                                 double box[DLT_COCO_NSTATS], double segm[DLT_COCO_NSTATS]);
void dlt_mrcnn_eval_free(dlt_mrcnn_eval *e); /* NULL is a no-op */

#ifdef __cplusplus
}
#endif
#endif
