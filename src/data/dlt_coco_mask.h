/* COCO's run-length encoded masks (RLE), as pycocotools' mask API defines
 * them: encoding and decoding bitmaps, the compressed counts string, area,
 * tight box, union/intersection, polygon rasterisation and IoU (coco_rle.c,
 * coco_poly.c). Shared by `dlprep coco` (masks of COCO annotations) and COCO
 * evaluation (src/train/dlt_coco.h).
 *
 * An RLE counts the pixels of an h x w image in column-major order (down the
 * first column, then the next) as alternating runs of 0s and 1s that start
 * with 0s (the first count may be 0). Bitmaps in this API are row-major
 * [h][w] bytes (nonzero = inside), the natural C layout; the encoder walks
 * them column by column. */
#ifndef DLT_COCO_MASK_H
#define DLT_COCO_MASK_H

#include <stdint.h>

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

#ifdef __cplusplus
}
#endif
#endif
