/* The multi-scale RoI pooler of Mask R-CNN (fpn_pool.c): torchvision's
 * MultiScaleRoIAlign with its LevelMapper, built from the roi family's ops
 * (src/ops/roi.c). Each roi gets its FPN level (roi_level) and is pooled once,
 * from that level's map, by one fused roi_align over all the maps. */
#ifndef DLT_FPN_POOL_H
#define DLT_FPN_POOL_H

#include "dlt_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int out_size;          /* bins per side: 7 (box head), 14 (mask head) */
    int sampling_ratio;    /* 2 in Mask R-CNN (<= 0: adaptive) */
    int image_h, image_w;  /* the (padded) image size the boxes are given in */
    float canonical_scale; /* 224 */
    int canonical_level;   /* k0 = 4 */
    float eps;             /* 1e-6 */
} dlt_fpn_pool_opts;

/* torchvision's box_roi_pool (7 x 7, sampling 2) and mask_roi_pool
 * (14 x 14, sampling 2) for images of image_h x image_w. */
dlt_fpn_pool_opts dlt_fpn_pool_box(int image_h, int image_w);
dlt_fpn_pool_opts dlt_fpn_pool_mask(int image_h, int image_w);

/* Pools rois (f32 [R, 5] with batch_idx -1, or boxes [R, 4] with an i32
 * batch_idx [R]) from nlev (1..4) maps [B, C, H_l, W_l], finest first (P2..P5)
 * -> [R, C, out_size, out_size]. Each map's scale is inferred as torchvision
 * does, 2^round(log2(H_l / image_h)), and the levels are k_min = -log2(scale
 * of map 0) .. k_max = -log2(scale of the last map). One map: plain roi_align,
 * no level. *level (may be NULL) receives the i32 [R] level index (-1 with one
 * map). Gradients flow to the maps, not to the rois. */
dlt_t dlt_fpn_pool(dlt_graph *g, int nlev, const dlt_t *feats, dlt_t rois, dlt_t batch_idx,
                   const dlt_fpn_pool_opts *o, dlt_t *level);

#ifdef __cplusplus
}
#endif
#endif
