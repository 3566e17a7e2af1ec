/* RoIAlign (torchvision.ops.roi_align) and FPN level assignment
 * (torchvision's LevelMapper), the ops behind Mask R-CNN's box and mask
 * poolers (src/models/fpn_pool.c). The math is in roi_impl.h, shared with
 * the CUDA kernels (src/gpu/k_roi.cu).
 *
 *   roi_align(x_0..x_{L-1}, rois [, batch_idx] [, level]) -> f32 [R, C, PH, PW]
 *     Maps are f32, or all u8 (0/1 masks, forward only: no gradient flows to
 *     them; the samples are the f32 path's bits). One map (L = 1): every roi from x_0 at spatial_scale, as roi_align. With
 *     L = 2..4 maps (the fused multi-level pooler) roi r reads map level[r]
 *     at that map's scale: each roi is pooled once, from its own level. rois
 *     is [R, 5] (batch index, x1, y1, x2, y2) or [R, 4] with an i32 batch
 *     index [R]. One map with a level input and `select` = l pools only the
 *     rois at level l (the others give zeros): the adjoint of one level's
 *     backward.
 *   roi_align_backward(dy, rois [, batch_idx] [, level]) -> [B, C, H, W]
 *     The scatter-add of dy through the bilinear weights into one map (the
 *     rois at level `select` when there is a level input). Linear in dy: its
 *     gradient is roi_align again, so double backward works.
 *   roi_level(rois or boxes) -> i32 [R], a level index in [0, k_max - k_min].
 *
 * There is no gradient with respect to the rois (torchvision has none), nor
 * through roi_level, which only selects (its output is an index). */
#include <math.h>
#include <string.h>

#include "dlt_ops.h"
#include "roi_impl.h"

/* ---------------------------------------------------------------- shapes */
static char *shp(const dlt_shape *s, char *buf, size_t n)
{
    return dlt_shape_str(s, buf, n);
}

/* The inputs after the maps (rois, batch index, level), all with R rows. */
static dlt_status roi_index_shapes(const roi_attr *a, const dlt_shape *in, int64_t *nroi)
{
    char b1[96], b2[96];
    const dlt_shape *rois = &in[0];
    int64_t cols = a->has_bidx ? 4 : 5;
    if (rois->dtype != DLT_F32 || rois->ndim != 2 || rois->dim[1] != cols)
        return dlt_seterr(DLT_ERR_SHAPE,
                          a->has_bidx ? "rois must be f32 [R, 4] (x1, y1, x2, y2) with a batch "
                                        "index input; got %s"
                                      : "rois must be f32 [R, 5] (batch index, x1, y1, x2, y2); "
                                        "got %s",
                          shp(rois, b1, sizeof b1));
    *nroi = rois->dim[0];
    int k = 1;
    if (a->has_bidx) {
        const dlt_shape *s = &in[k++];
        if (s->dtype != DLT_I32 || s->ndim != 1 || s->dim[0] != *nroi)
            return dlt_seterr(DLT_ERR_SHAPE, "batch index must be i32 [%lld] (one per roi); got %s",
                              (long long)*nroi, shp(s, b2, sizeof b2));
    }
    if (a->has_level) {
        const dlt_shape *s = &in[k++];
        if (s->dtype != DLT_I32 || s->ndim != 1 || s->dim[0] != *nroi)
            return dlt_seterr(DLT_ERR_SHAPE, "level must be i32 [%lld] (one per roi); got %s",
                              (long long)*nroi, shp(s, b2, sizeof b2));
    }
    return DLT_OK;
}

static dlt_status align_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const roi_attr *a = DLT_CATTR(n, roi_attr);
    char b1[96], b2[96];
    for (int l = 0; l < a->nlev; l++) {
        if ((in[l].dtype != DLT_F32 && in[l].dtype != DLT_U8) || in[l].ndim != 4)
            return dlt_seterr(DLT_ERR_SHAPE, "feature map %d must be f32 (or u8) [B, C, H, W]; got %s", l,
                              shp(&in[l], b1, sizeof b1));
        if (in[l].dtype != in[0].dtype)
            return dlt_seterr(DLT_ERR_SHAPE, "feature map %d is %s but map 0 is %s (one element type)", l,
                              shp(&in[l], b1, sizeof b1), shp(&in[0], b2, sizeof b2));
        if (in[l].dim[0] != in[0].dim[0] || in[l].dim[1] != in[0].dim[1])
            return dlt_seterr(DLT_ERR_SHAPE,
                              "feature map %d is %s but map 0 is %s (B and C must agree)", l,
                              shp(&in[l], b1, sizeof b1), shp(&in[0], b2, sizeof b2));
    }
    int64_t r;
    dlt_status st = roi_index_shapes(a, in + a->nlev, &r);
    if (st != DLT_OK)
        return st;
    out[0] = dlt_shape_make(DLT_F32, 4, (const int64_t[]){r, in[0].dim[1], a->ph, a->pw});
    return DLT_OK;
}

static dlt_status align_bwd_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const roi_attr *a = DLT_CATTR(n, roi_attr);
    char b1[96];
    int64_t r;
    dlt_status st = roi_index_shapes(a, in + 1, &r);
    if (st != DLT_OK)
        return st;
    if (in[0].dtype != DLT_F32 || in[0].ndim != 4 || in[0].dim[0] != r || in[0].dim[1] != a->c ||
        in[0].dim[2] != a->ph || in[0].dim[3] != a->pw)
        return dlt_seterr(DLT_ERR_SHAPE, "gradient must be f32 [%lld, %lld, %d, %d]; got %s",
                          (long long)r, (long long)a->c, a->ph, a->pw, shp(&in[0], b1, sizeof b1));
    out[0] = dlt_shape_make(DLT_F32, 4, (const int64_t[]){a->b, a->c, a->h, a->w});
    return DLT_OK;
}

static dlt_status level_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    (void)n;
    char b1[96];
    if (in[0].dtype != DLT_F32 || in[0].ndim != 2 || (in[0].dim[1] != 4 && in[0].dim[1] != 5))
        return dlt_seterr(DLT_ERR_SHAPE,
                          "boxes must be f32 [R, 4] (x1, y1, x2, y2) or rois [R, 5]; got %s",
                          shp(&in[0], b1, sizeof b1));
    out[0] = dlt_shape_make(DLT_I32, 1, (const int64_t[]){in[0].dim[0]});
    return DLT_OK;
}

/* ---------------------------------------------------------------- gradients */
/* The index inputs (rois, batch index, level) of node n, starting at input k. */
static int index_inputs(const roi_attr *a, const dlt_node *n, int k, dlt_t *in)
{
    int m = 0;
    in[m++] = n->in[k++];
    if (a->has_bidx)
        in[m++] = n->in[k++];
    if (a->has_level)
        in[m++] = n->in[k++];
    return m;
}

/* d/d x_l = roi_align_backward(dy) into map l (the rois at level l when there
 * are several maps); nothing for the rois, batch index and level, nor for
 * u8 maps (masks, data). */
static dlt_status align_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const roi_attr *a = DLT_CATTR(n, roi_attr);
    for (int l = 0; l < a->nlev; l++) {
        roi_attr b = *a;
        const dlt_shape *s = dlt_shape_of(g, n->in[l]);
        if (s->dtype != DLT_F32)
            continue;
        b.nlev = 1;
        b.scale[0] = a->scale[l];
        if (a->nlev > 1)
            b.select = l;
        b.b = s->dim[0], b.c = s->dim[1], b.h = s->dim[2], b.w = s->dim[3];
        dlt_t in[4];
        in[0] = dy[0];
        int m = 1 + index_inputs(a, n, a->nlev, in + 1);
        dx[l] = dlt_node_add(g, &dlt_op_def_roi_align_backward, m, in, &b, sizeof b);
        if (dx[l] < 0)
            return dlt_graph_status(g);
    }
    return DLT_OK;
}

/* The backward is linear in dy, and roi_align with the same rois is its adjoint. */
static dlt_status align_bwd_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const roi_attr *a = DLT_CATTR(n, roi_attr);
    dlt_t in[4];
    in[0] = dy[0];
    int m = 1 + index_inputs(a, n, 1, in + 1);
    dx[0] = dlt_node_add(g, &dlt_op_def_roi_align, m, in, a, sizeof *a);
    return dx[0] < 0 ? dlt_graph_status(g) : DLT_OK;
}

/* roi_level only selects: its output is an index, the boxes get no gradient. */
static dlt_status level_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    (void)g, (void)n, (void)dy, (void)dx;
    return DLT_OK;
}

/* ---------------------------------------------------------------- CPU kernels */
static roi_src src_of(const roi_attr *a, const dlt_kctx *k, int first, int64_t nbatch)
{
    roi_src s = {.rois = k->in[first], .nbatch = nbatch};
    int i = first + 1;
    if (a->has_bidx)
        s.bidx = k->in[i++];
    if (a->has_level)
        s.level = k->in[i++];
    return s;
}

/* One roi per task; within it bin by bin, sample by sample, with the channel
 * loop innermost (the weights are computed once per sample), so every output
 * is the sum roi_bin_value forms, in its order: any thread count gives the
 * same bits, and so does the GPU. The sums of a bin live in a block of
 * ALIGN_CBLK contiguous floats while its samples are added (accumulating in
 * the output, one float every ph pw, cost a fifth of the forward). */
enum { ALIGN_CBLK = 256 };
static dlt_status align_cpu(const dlt_kctx *k)
{
    const roi_attr *a = DLT_CATTR(k->node, roi_attr);
    const dlt_shape *x0 = k->in_shape[0], *ys = k->out_shape[0];
    int64_t nroi = ys->dim[0], c = ys->dim[1], bins = (int64_t)a->ph * a->pw;
    roi_src s = src_of(a, k, a->nlev, x0->dim[0]);
    float *y = k->out[0];
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (nroi * c * bins > 16384)
    for (int64_t r = 0; r < nroi; r++) {
        float *yr = y + r * c * bins;
        int lev;
        const float *box;
        int64_t b = roi_source(a, &s, r, &lev, &box);
        if (b < 0) {
            memset(yr, 0, (size_t)(c * bins) * sizeof *yr);
            continue;
        }
        const dlt_shape *xs = k->in_shape[lev];
        int64_t h = xs->dim[2], w = xs->dim[3], hw = h * w;
        int u8 = xs->dtype == DLT_U8;
        roi_bins q = roi_bins_of(a, box, a->scale[lev]);
        float acc[ALIGN_CBLK];
        for (int i = 0; i < a->ph; i++)
            for (int j = 0; j < a->pw; j++) {
                float *yo = yr + i * a->pw + j; /* channel ch at yo[ch * bins] */
                /* the sums run in a contiguous block of channels, not in
                 * the output's stride: the same additions in the same order */
                for (int64_t c0 = 0; c0 < c; c0 += ALIGN_CBLK) {
                    int64_t nc = c - c0 < ALIGN_CBLK ? c - c0 : ALIGN_CBLK;
                    for (int64_t ch = 0; ch < nc; ch++)
                        acc[ch] = 0.f;
                    for (int64_t sm = 0; sm < (int64_t)q.gh * q.gw; sm++) {
                        roi_tap t;
                        if (!roi_sample_tap(&q, i, j, sm, h, w, &t))
                            continue;
                        if (u8) {
                            for (int64_t ch = 0; ch < nc; ch++)
                                acc[ch] += roi_tap_value(&t, roi_plane(k->in[lev], 1, b * c + c0 + ch, hw), 1);
                        } else {
                            const float *pl = (const float *)k->in[lev] + (b * c + c0) * hw;
                            for (int64_t ch = 0; ch < nc; ch++, pl += hw)
                                acc[ch] += roi_tap_value(&t, pl, 0);
                        }
                    }
                    for (int64_t ch = 0; ch < nc; ch++)
                        yo[(c0 + ch) * bins] = acc[ch] / q.count;
                }
            }
    }
    return DLT_OK;
}

/* Deterministic scatter: each thread owns a block of channels of dx (all
 * images) and walks every roi, bin and sample in order, so each dx element
 * receives its terms in the order (roi, bin, sample, tap) whatever the thread
 * count: torchvision's CPU order. No two threads write the same element. */
static dlt_status align_bwd_cpu(const dlt_kctx *k)
{
    const roi_attr *a = DLT_CATTR(k->node, roi_attr);
    const dlt_shape *dys = k->in_shape[0];
    int64_t nroi = dys->dim[0], c = a->c, h = a->h, w = a->w, hw = h * w;
    int64_t bins = (int64_t)a->ph * a->pw;
    roi_src s = src_of(a, k, 1, a->b);
    const float *dy = k->in[0];
    float *dx = k->out[0];
    int nblk = k->nthreads > 1 ? k->nthreads : 1;
    if (nblk > c)
        nblk = (int)c;
    if (nroi * c * bins <= 16384)
        nblk = 1;
#pragma omp parallel for schedule(static) num_threads(nblk)
    for (int blk = 0; blk < nblk; blk++) {
        int64_t c0 = c * blk / nblk, c1 = c * (blk + 1) / nblk;
        for (int64_t b = 0; b < a->b; b++)
            memset(dx + (b * c + c0) * hw, 0, (size_t)((c1 - c0) * hw) * sizeof *dx);
        for (int64_t r = 0; r < nroi; r++) {
            int lev;
            const float *box;
            int64_t b = roi_source(a, &s, r, &lev, &box);
            if (b < 0)
                continue;
            roi_bins q = roi_bins_of(a, box, a->scale[0]);
            for (int i = 0; i < a->ph; i++)
                for (int j = 0; j < a->pw; j++) {
                    const float *g =
                        dy + r * c * bins + i * a->pw + j; /* channel ch: g[ch * bins] */
                    for (int64_t sm = 0; sm < (int64_t)q.gh * q.gw; sm++) {
                        roi_tap t;
                        if (!roi_sample_tap(&q, i, j, sm, h, w, &t))
                            continue;
                        for (int64_t ch = c0; ch < c1; ch++) {
                            float gv = g[ch * bins], *p = dx + (b * c + ch) * hw;
                            for (int u = 0; u < 4; u++)
                                p[t.o[u]] += roi_div(roi_mul(gv, t.w[u]), q.count);
                        }
                    }
                }
        }
    }
    return DLT_OK;
}

static dlt_status level_cpu(const dlt_kctx *k)
{
    const roi_level_attr *a = DLT_CATTR(k->node, roi_level_attr);
    const dlt_shape *s = k->in_shape[0];
    const float *boxes = k->in[0];
    int32_t *lv = k->out[0];
    for (int64_t r = 0; r < s->dim[0]; r++)
        lv[r] = roi_level_of(a, boxes + r * s->dim[1] + a->col);
    return DLT_OK;
}

/* Per output element: 4 multiplies and 4 adds per sample (of the taps'
 * weights), counted at the fixed sampling ratio (2 per axis when adaptive,
 * a guess: the count depends on the data). */
static double align_flops(const dlt_node *n, const dlt_shape *const *in,
                          const dlt_shape *const *out)
{
    (void)in;
    const roi_attr *a = DLT_CATTR(n, roi_attr);
    int g = a->sampling > 0 ? a->sampling : 2;
    return 8.0 * g * g * (double)dlt_shape_numel(out[0]);
}

static double align_bwd_flops(const dlt_node *n, const dlt_shape *const *in,
                              const dlt_shape *const *out)
{
    (void)out;
    const roi_attr *a = DLT_CATTR(n, roi_attr);
    int g = a->sampling > 0 ? a->sampling : 2;
    return 8.0 * g * g * (double)dlt_shape_numel(in[0]);
}

const dlt_op_def dlt_op_def_roi_align = {
    .id = DLT_OP_ROI_ALIGN,
    .name = "roi_align",
    .nin_min = 2,
    .nin_max = DLT_ROI_MAX_LEVELS + 3,
    .nout = 1,
    .shape = align_shape,
    .grad = align_grad,
    .cpu = align_cpu,
    .flops = align_flops,
};

const dlt_op_def dlt_op_def_roi_align_backward = {
    .id = DLT_OP_ROI_ALIGN_BACKWARD,
    .name = "roi_align_backward",
    .nin_min = 2,
    .nin_max = 4,
    .nout = 1,
    .shape = align_bwd_shape,
    .grad = align_bwd_grad,
    .cpu = align_bwd_cpu,
    .flops = align_bwd_flops,
};

/* No gradient: the level is an index (the rule gives the boxes none). */
const dlt_op_def dlt_op_def_roi_level = {
    .id = DLT_OP_ROI_LEVEL,
    .name = "roi_level",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = level_shape,
    .grad = level_grad,
    .cpu = level_cpu,
};

/* ---------------------------------------------------------------- builders */
static int opts_ok(dlt_graph *g, const char *op, const dlt_roi_align_opts *o)
{
    if (dlt_graph_status(g) != DLT_OK)
        return 0;
    if (!o) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: no options given", op);
        return 0;
    }
    if (o->out_h <= 0 || o->out_w <= 0) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: output size %d x %d must be positive", op, o->out_h,
                       o->out_w);
        return 0;
    }
    return 1;
}

static dlt_t align_add(dlt_graph *g, int nlev, const dlt_t *feats, const float *scales, dlt_t rois,
                       dlt_t batch_idx, dlt_t level, const dlt_roi_align_opts *o)
{
    roi_attr a = {.nlev = nlev,
                  .ph = o->out_h,
                  .pw = o->out_w,
                  .sampling = o->sampling_ratio,
                  .aligned = o->aligned != 0,
                  .has_bidx = batch_idx >= 0,
                  .has_level = level >= 0};
    dlt_t in[DLT_ROI_MAX_LEVELS + 3];
    int m = 0;
    for (int l = 0; l < nlev; l++) {
        if (!(scales[l] > 0.f) || !isfinite(scales[l]))
            return dlt_graph_fail(g, DLT_ERR_INVALID,
                                  "roi_align: spatial scale %g of map %d must be finite and > 0",
                                  (double)scales[l], l);
        a.scale[l] = scales[l];
        in[m++] = feats[l];
    }
    in[m++] = rois;
    if (batch_idx >= 0)
        in[m++] = batch_idx;
    if (level >= 0)
        in[m++] = level;
    return dlt_node_add(g, &dlt_op_def_roi_align, m, in, &a, sizeof a);
}

dlt_t dlt_roi_align(dlt_graph *g, dlt_t x, dlt_t rois, dlt_t batch_idx, const dlt_roi_align_opts *o)
{
    if (!opts_ok(g, "roi_align", o))
        return -1;
    return align_add(g, 1, &x, &o->spatial_scale, rois, batch_idx, -1, o);
}

dlt_t dlt_roi_align_levels(dlt_graph *g, int nlev, const dlt_t *feats, const float *scales,
                           dlt_t rois, dlt_t batch_idx, dlt_t level, const dlt_roi_align_opts *o)
{
    if (!opts_ok(g, "roi_align", o))
        return -1;
    if (nlev < 1 || nlev > DLT_ROI_MAX_LEVELS || !feats || !scales)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "roi_align: %d feature maps (1..%d with scales)",
                              nlev, DLT_ROI_MAX_LEVELS);
    if (nlev > 1 && level < 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "roi_align: %d feature maps need a level input (roi_level)", nlev);
    return align_add(g, nlev, feats, scales, rois, batch_idx, nlev > 1 ? level : -1, o);
}

dlt_t dlt_roi_level(dlt_graph *g, dlt_t rois, const dlt_roi_level_opts *o)
{
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (!o || o->k_min > o->k_max || !(o->canonical_scale > 0.f) || !isfinite(o->eps))
        return dlt_graph_fail(
            g, DLT_ERR_INVALID,
            "roi_level: need k_min <= k_max, canonical scale > 0 and a finite eps");
    const dlt_shape *s = dlt_shape_of(g, rois);
    roi_level_attr a = {.k_min = o->k_min,
                        .k_max = o->k_max,
                        .canonical_level = o->canonical_level,
                        .canonical_scale = o->canonical_scale,
                        .eps = o->eps,
                        .col = s && s->ndim == 2 && s->dim[1] == 5 ? 1 : 0};
    return dlt_node_add(g, &dlt_op_def_roi_level, 1, &rois, &a, sizeof a);
}
