/* The parsed COCO ground truth (dlt_coco_gt of dlt_coco.h), shared by the JSON
 * reader (coco_json.c) and the evaluation (coco_eval.c). Private to src/train. */
#ifndef DLT_COCO_GT_H
#define DLT_COCO_GT_H

#include <cJSON.h>

#include "dlt_coco.h"

typedef struct {
    int64_t id, image_id, category_id;
    double bbox[4]; /* x, y, w, h */
    double area;    /* the annotation's area field (the area ranges use it) */
    int iscrowd;    /* COCOeval's ignore flag */
    int has_segm;   /* rle holds the segmentation (polygons merged) */
    dlt_coco_rle rle;
} coco_ann;

struct dlt_coco_gt {
    char *path;
    int64_t nimg, ncat, nann;
    int64_t *img_ids; /* ascending (COCOeval sorts them) */
    int *img_h, *img_w;
    int64_t *cat_ids; /* ascending */
    coco_ann *anns;   /* in file order */
};

/* Index of an image or category id in the sorted arrays; -1 when absent. */
int64_t coco_gt_image_index(const dlt_coco_gt *gt, int64_t id);
int64_t coco_gt_category_index(const dlt_coco_gt *gt, int64_t id);

/* ---- JSON helpers (coco_json.c). ctx names the object ("annotations[3]");
 * every error is one line "PATH: CTX.FIELD: what was expected". */
/* Reads and parses a JSON file; errors name the line of a syntax error. */
dlt_status coco_json_read(const char *path, cJSON **root);
/* Required finite number / integral id (|id| < 2^53) member `name` of obj. */
dlt_status coco_json_number(const char *path, const char *ctx, const cJSON *obj, const char *name,
                            double *out);
dlt_status coco_json_id(const char *path, const char *ctx, const cJSON *obj, const char *name,
                        int64_t *out);
/* A segmentation as pycocotools' annToRLE reads it, for an h x w image:
 * polygons [[x0, y0, ...], ...] (rasterised, merged by union; the first of at
 * least 3 points, each of an even count of numbers), an
 * uncompressed RLE {"size": [h, w], "counts": [...]} or a compressed one
 * {"size": [h, w], "counts": "..."}. */
dlt_status coco_json_segm(const char *path, const char *ctx, const cJSON *seg, int h, int w,
                          dlt_coco_rle *out);
/* "PATH: CTX.FIELD: MESSAGE" as DLT_ERR_INVALID */
dlt_status coco_json_fail(const char *path, const char *ctx, const char *field, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

#endif
