/* Mask R-CNN's multi-scale RoI pooler (dlt_fpn_pool.h), as torchvision's
 * MultiScaleRoIAlign: infer each map's scale from its height and the image's,
 * map every roi to a level with the FPN heuristic (roi_level), then pool.
 *
 * torchvision pools level by level on the rois of that level (a dynamic
 * split). With static shapes that would be nlev roi_aligns over all R rois,
 * each masked to its own level and summed: nlev times the sampling work,
 * nlev [R, C, P, P] temporaries and the select/mask arithmetic, forward and
 * backward. The fused roi_align instead reads each roi from the map its level
 * names, so the pooler costs what one roi_align costs; its backward is one
 * scatter per map over the rois of that map's level. */
#include <math.h>

#include "dlt_fpn_pool.h"
#include "dlt_ops.h"

static dlt_fpn_pool_opts preset(int size, int image_h, int image_w)
{
    dlt_fpn_pool_opts o = {.out_size = size,
                           .sampling_ratio = 2,
                           .image_h = image_h,
                           .image_w = image_w,
                           .canonical_scale = 224.f,
                           .canonical_level = 4,
                           .eps = 1e-6f};
    return o;
}

dlt_fpn_pool_opts dlt_fpn_pool_box(int image_h, int image_w)
{
    return preset(7, image_h, image_w);
}

dlt_fpn_pool_opts dlt_fpn_pool_mask(int image_h, int image_w)
{
    return preset(14, image_h, image_w);
}

/* torchvision's _infer_scale: 2 ** round(log2(H_map / H_image)) with the
 * log and round (half to even) in float32. */
static float infer_scale(int64_t map_h, int image_h)
{
    float approx = (float)((double)map_h / (double)image_h);
    return exp2f(rintf(log2f(approx)));
}

dlt_t dlt_fpn_pool(dlt_graph *g, int nlev, const dlt_t *feats, dlt_t rois, dlt_t batch_idx,
                   const dlt_fpn_pool_opts *o, dlt_t *level)
{
    if (level)
        *level = -1;
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (!o || o->image_h <= 0 || o->image_w <= 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "fpn_pool: the image size must be positive");
    if (nlev < 1 || nlev > 4 || !feats)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "fpn_pool: %d feature maps (1..4)", nlev);
    float scales[4];
    for (int l = 0; l < nlev; l++) {
        const dlt_shape *s = dlt_shape_of(g, feats[l]);
        if (!s || s->ndim != 4)
            return dlt_graph_fail(g, DLT_ERR_SHAPE, "fpn_pool: feature map %d must be [B, C, H, W]",
                                  l);
        scales[l] = infer_scale(s->dim[2], o->image_h);
    }
    dlt_roi_align_opts ro = {.out_h = o->out_size,
                             .out_w = o->out_size,
                             .spatial_scale = scales[0],
                             .sampling_ratio = o->sampling_ratio,
                             .aligned = 0};
    if (nlev == 1)
        return dlt_roi_align(g, feats[0], rois, batch_idx, &ro);
    dlt_roi_level_opts lo = {.k_min = (int)-log2f(scales[0]),
                             .k_max = (int)-log2f(scales[nlev - 1]),
                             .canonical_scale = o->canonical_scale,
                             .canonical_level = o->canonical_level,
                             .eps = o->eps};
    dlt_t lv = dlt_roi_level(g, rois, &lo);
    if (level)
        *level = lv;
    return dlt_roi_align_levels(g, nlev, feats, scales, rois, batch_idx, lv, &ro);
}
