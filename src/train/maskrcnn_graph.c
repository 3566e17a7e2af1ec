/* Mask R-CNN's training graph with static shapes, torchvision's MaskRCNN in
 * training mode (GeneralizedRCNN -> RegionProposalNetwork -> RoIHeads):
 *
 *   backbone + FPN -> RPN head on the 5 levels -> per-anchor logits and
 *   deltas, concatenated level-major as torchvision's
 *   concat_box_prediction_layers;
 *   RPN targets: IoU of the ground truth with the anchors, the Matcher
 *   (0.7 / 0.3 with low-quality matches), the sampler (rpn_batch x
 *   rpn_pos_fraction), BoxCoder targets with weights 1 -> dlt_rpn_losses;
 *   proposals (no gradient: stop_gradient on the head outputs): decode,
 *   top pre_nms_top_n per level by objectness, clip to each image's resized
 *   size, small boxes invalid, NMS with the levels as classes, the first
 *   post_nms_top_n kept with their validity;
 *   RoI targets: proposals plus the ground truth, the Matcher (fg/bg, no
 *   low-quality), labels = the matched box's class or 0, the sampler
 *   (roi_batch x roi_pos_fraction); the sampled RoIs are SELECTED by a topk
 *   over the sample mask (R per image, the gathered mask their validity),
 *   so the box head runs on R RoIs; BoxCoder (10, 10, 5, 5) targets;
 *   multi-level RoIAlign 7 x 7 -> box head -> dlt_roi_losses;
 *   mask branch: the first P sampled positives (a topk over the positive
 *   mask), 14 x 14 pooler -> mask head, targets the roi_align of the matched
 *   ground-truth masks at 28 x 28 (torchvision's project_masks_on_boxes),
 *   BCE of the label's channel averaged over the positives' pixels.
 *
 * Per-image gathers (matched boxes, labels, selected RoIs) flatten the
 * image axis and index with b * n + i, computed with dlt_cast (indices are
 * i32; the arithmetic runs in f32, exact below 2^24). Index codes -2/-1 of
 * the Matcher become sampler labels by a shift (m + 1: -1 ignored, 0
 * negative, >= 1 positive) and gather indices by a clamp. */
#include <math.h>
#include <stdlib.h>

#include "dlt_fpn_pool.h"
#include "dlt_ops.h"
#include "maskrcnn_graph.h"

#define NLEV 5 /* FPN levels with anchors: '0'..'3' and 'pool' */

void dlt_maskrcnn_train_spec_default(dlt_maskrcnn_train_spec *s, const dlt_maskrcnn_spec *net)
{
    *s = (dlt_maskrcnn_train_spec){.net = *net,
                                   .sizes = {32, 64, 128, 256, 512},
                                   .ratios = {0.5f, 1.f, 2.f},
                                   .pre_nms_top_n = 2000,
                                   .post_nms_top_n = 2000,
                                   .rpn_nms = 0.7f,
                                   .rpn_fg = 0.7f,
                                   .rpn_bg = 0.3f,
                                   .rpn_pos_fraction = 0.5f,
                                   .rpn_batch = 256,
                                   .min_box = 1e-3f,
                                   .roi_fg = 0.5f,
                                   .roi_bg = 0.5f,
                                   .roi_pos_fraction = 0.25f,
                                   .roi_batch = 512,
                                   .rois = 512,
                                   .positives = 128};
}

static dlt_t f32c(dlt_graph *g, dlt_t x)
{
    return dlt_cast(g, x, DLT_F32, 1, 0, -INFINITY, INFINITY);
}

/* i32 [B, N] flat row indices b * n + clamp(idx + shift, 0, n - 1) */
static dlt_t flat_index(dlt_graph *g, dlt_t idx, int64_t b, int64_t n, double shift)
{
    float *off = malloc((size_t)b * sizeof *off);
    if (!off)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "maskrcnn: out of memory");
    for (int64_t i = 0; i < b; i++)
        off[i] = (float)(i * n);
    dlt_t o = dlt_constant(g, DLT_F32, 2, (const int64_t[]){b, 1}, off);
    free(off);
    dlt_t f = dlt_cast(g, idx, DLT_F32, 1, shift, 0, (double)(n - 1));
    return dlt_cast(g, dlt_add(g, f, o), DLT_I32, 1, 0, 0, (double)(b * n - 1));
}

/* rows of table [B, n, D...] (or [B, n]) picked per image by idx i32 [B, K]
 * (shifted and clamped into [0, n)) -> [B, K, D...] */
static dlt_t gather_rows(dlt_graph *g, dlt_t table, dlt_t idx, double shift)
{
    const dlt_shape *s = dlt_shape_of(g, table);
    if (!s)
        return -1;
    int64_t b = s->dim[0], n = s->dim[1], d[DLT_MAX_DIMS];
    d[0] = b * n;
    for (int i = 2; i < s->ndim; i++)
        d[i - 1] = s->dim[i];
    dlt_t flat = dlt_reshape(g, table, s->ndim - 1, d);
    return dlt_index_select(g, flat, 0, flat_index(g, idx, b, n, shift));
}

/* 1 where x >= 0, else 0 (f32): floor(clamp(x 2^100 + 1, 0, 1)) */
static dlt_t step_ge0(dlt_graph *g, dlt_t x)
{
    return f32c(g, dlt_cast(g, x, DLT_I32, 0x1p100, 1, 0, 1));
}

/* A constant [B, N] i32 whose row is `row` for every image. */
static dlt_t rows_i32(dlt_graph *g, int64_t b, int64_t n, const int32_t *row)
{
    int32_t *v = malloc((size_t)(b * n) * sizeof *v);
    if (!v)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "maskrcnn: out of memory");
    for (int64_t i = 0; i < b * n; i++)
        v[i] = row[i % n];
    dlt_t c = dlt_constant(g, DLT_I32, 2, (const int64_t[]){b, n}, v);
    free(v);
    return c;
}

/* The image index b of each of B x K rows, i32 [B K]. */
static dlt_t batch_index(dlt_graph *g, int64_t b, int64_t k)
{
    int32_t *v = malloc((size_t)(b * k) * sizeof *v);
    if (!v)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "maskrcnn: out of memory");
    for (int64_t i = 0; i < b * k; i++)
        v[i] = (int32_t)(i / k);
    dlt_t c = dlt_constant(g, DLT_I32, 1, (const int64_t[]){b * k}, v);
    free(v);
    return c;
}

/* The RPN head's outputs of every level flattened as torchvision: logits
 * [B, A_l] and deltas [B, A_l, 4] in (cell row-major, anchor) order. */
static void flatten_level(dlt_graph *g, int64_t b, int na, dlt_t obj, dlt_t del, dlt_t *o, dlt_t *d)
{
    const dlt_shape *s = dlt_shape_of(g, obj);
    if (!s) {
        *o = *d = -1;
        return;
    }
    int64_t h = s->dim[2], w = s->dim[3];
    *o = dlt_reshape(g, dlt_permute(g, obj, 4, (const int[]){0, 2, 3, 1}), 2,
                     (const int64_t[]){b, h * w * na});
    dlt_t d5 = dlt_reshape(g, del, 5, (const int64_t[]){b, na, 4, h, w});
    *d = dlt_reshape(g, dlt_permute(g, d5, 5, (const int[]){0, 3, 4, 1, 2}), 3,
                     (const int64_t[]){b, h * w * na, 4});
}

/* Boxes [B, N, 4] clipped to [0, lim] (lim [B, 1, 4] = w, h, w, h):
 * lim - relu(lim - relu(x)). */
static dlt_t clip_boxes(dlt_graph *g, dlt_t x, dlt_t lim)
{
    return dlt_sub(g, lim, dlt_relu(g, dlt_sub(g, lim, dlt_relu(g, x))));
}

/* 1 where both sides of boxes [B, N, 4] are >= min (remove_small_boxes) */
static dlt_t not_small(dlt_graph *g, dlt_t boxes, float min)
{
    dlt_t lo = dlt_slice_axis(g, boxes, 2, 0, 2, 1), hi = dlt_slice_axis(g, boxes, 2, 2, 4, 1);
    dlt_t ok = step_ge0(g, dlt_affine(g, dlt_sub(g, hi, lo), 1.f, -min)); /* [B, N, 2] */
    return dlt_squeeze(g, dlt_min(g, ok, 1, (const int[]){2}, 1), 1, (const int[]){2});
}

/* The RPN: targets and losses, and the proposals [B, post, 4] with their
 * validity [B, post]. */
static void rpn(dlt_graph *g, const dlt_maskrcnn_train_spec *s, dlt_maskrcnn_train_graph *t,
                const dlt_t *p, dlt_t *props, dlt_t *props_valid)
{
    const int64_t B = s->batch;
    const int na = s->net.anchors;
    dlt_t obj[NLEV], del[NLEV], o[NLEV], d[NLEV], anc[NLEV];
    int64_t cnt[NLEV];
    dlt_maskrcnn_rpn_head(g, &s->net, p, NLEV, obj, del);
    for (int l = 0; l < NLEV; l++) {
        flatten_level(g, B, na, obj[l], del[l], &o[l], &d[l]);
        const dlt_shape *sh = dlt_shape_of(g, obj[l]);
        if (!sh)
            return;
        anc[l] = dlt_anchors(g, 1, &s->sizes[l], na, s->ratios, sh->dim[2], sh->dim[3], s->image_h,
                             s->image_w);
        cnt[l] = sh->dim[2] * sh->dim[3] * na;
    }
    dlt_t objectness = dlt_concat(g, NLEV, o, 1), deltas = dlt_concat(g, NLEV, d, 1);
    int64_t atot = 0;
    for (int l = 0; l < NLEV; l++)
        atot += cnt[l];
    dlt_shape bs = dlt_shape_make(DLT_F32, 3, (const int64_t[]){B, atot, 4});
    dlt_t anchors = dlt_broadcast_to(g, dlt_concat(g, NLEV, anc, 0), &bs);

    /* targets: the Matcher's codes shifted into the sampler's labels */
    dlt_t m = dlt_box_match(g, dlt_box_iou(g, t->gt_boxes, anchors), t->gt_count, s->rpn_fg,
                            s->rpn_bg, 1);
    dlt_t labels = dlt_cast(g, m, DLT_I32, 1, 1, -1, INFINITY), neg;
    dlt_t pos = dlt_box_sample(g, labels, s->rpn_batch, s->rpn_pos_fraction, s->first_sample, &neg);
    /* non-positives regress to their own anchor (targets 0, weight 0): an
     * image without ground truth matches the zero box, whose log is -inf */
    dlt_t pw = dlt_unsqueeze(g, pos, 2);
    dlt_t ref = dlt_add(g, dlt_mul(g, gather_rows(g, t->gt_boxes, m, 0), pw),
                        dlt_mul(g, anchors, dlt_affine(g, pw, -1.f, 1.f)));
    dlt_t targets = dlt_box_encode(g, ref, anchors, NULL);
    t->rpn_obj = dlt_rpn_losses(g, objectness, deltas, targets, pos, neg, &t->rpn_box);

    /* proposals, without gradient */
    dlt_t boxes =
        dlt_box_decode(g, dlt_stop_gradient(g, deltas), anchors, NULL, logf(1000.f / 16.f));
    dlt_t logit = dlt_stop_gradient(g, objectness);
    dlt_t top_s[NLEV], top_b[NLEV], top_l[NLEV];
    int64_t start = 0, ksum = 0;
    for (int l = 0; l < NLEV; l++) {
        int64_t k = s->pre_nms_top_n < cnt[l] ? s->pre_nms_top_n : cnt[l];
        dlt_t idx;
        /* top-n on the logits, NMS on their sigmoid (rpn.py filter_proposals) */
        top_s[l] = dlt_topk(g, dlt_slice_axis(g, logit, 1, start, start + cnt[l], 1), k, &idx);
        top_b[l] = gather_rows(g, dlt_slice_axis(g, boxes, 1, start, start + cnt[l], 1), idx, 0);
        int32_t *lv = malloc((size_t)k * sizeof *lv);
        if (!lv) {
            dlt_graph_fail(g, DLT_ERR_NOMEM, "maskrcnn: out of memory");
            return;
        }
        for (int64_t i = 0; i < k; i++)
            lv[i] = l;
        top_l[l] = rows_i32(g, B, k, lv);
        free(lv);
        start += cnt[l];
        ksum += k;
    }
    dlt_t cand = clip_boxes(g, dlt_concat(g, NLEV, top_b, 1), t->image_max);
    dlt_t score = dlt_sigmoid(g, dlt_concat(g, NLEV, top_s, 1)),
          level = dlt_concat(g, NLEV, top_l, 1);
    dlt_t keep = dlt_nms(g, cand, score, level, not_small(g, cand, s->min_box), s->rpn_nms,
                         s->post_nms_top_n < ksum ? s->post_nms_top_n : ksum, props_valid);
    *props = gather_rows(g, cand, keep, 0);
}

/* The box head's and mask head's targets and losses on the proposals. */
static void roi_heads(dlt_graph *g, const dlt_maskrcnn_train_spec *s, dlt_maskrcnn_train_graph *t,
                      const dlt_t *p, dlt_t props, dlt_t props_valid)
{
    const int64_t B = s->batch, M = s->max_boxes;
    const int C = s->net.num_classes;
    dlt_t all = dlt_concat(g, 2, (const dlt_t[]){props, t->gt_boxes}, 1);
    dlt_t valid = dlt_concat(g, 2, (const dlt_t[]){props_valid, t->gt_valid}, 1); /* [B, N] */
    dlt_t m =
        dlt_box_match(g, dlt_box_iou(g, t->gt_boxes, all), t->gt_count, s->roi_fg, s->roi_bg, 0);
    /* the class of the matched box (column 0 of gt_labels: background for
     * m = -1); padding proposals get -1 (ignored): label v + (v - 1) */
    dlt_t cls = gather_rows(g, t->gt_labels, m, 1);
    dlt_t lab = dlt_add(g, dlt_mul(g, cls, valid), dlt_affine(g, valid, 1.f, -1.f));
    dlt_t neg, pos = dlt_box_sample(g, dlt_cast(g, lab, DLT_I32, 1, 0, -1, INFINITY), s->roi_batch,
                                    s->roi_pos_fraction, s->first_sample, &neg);

    /* the R sampled RoIs per image */
    dlt_t sel, sel_valid = dlt_topk(g, dlt_add(g, pos, neg), s->rois, &sel);
    const int64_t R = s->rois, RB = B * R;
    dlt_t boxes = dlt_reshape(g, gather_rows(g, all, sel, 0), 2, (const int64_t[]){RB, 4});
    dlt_t labels = dlt_reshape(g, gather_rows(g, cls, sel, 0), 1, (const int64_t[]){RB});
    dlt_t msel = gather_rows(g, f32c(g, m), sel, 0);
    dlt_t matched = gather_rows(g, t->gt_boxes, dlt_cast(g, msel, DLT_I32, 1, 0, 0, M - 1), 0);
    /* the positives' targets; every other row encodes the unit box against
     * itself (a padding row's boxes may be empty: log 0) */
    dlt_t vp = dlt_reshape(g, gather_rows(g, pos, sel, 0), 2, (const int64_t[]){RB, 1});
    dlt_t unit =
        dlt_mul(g, dlt_affine(g, vp, -1.f, 1.f),
                dlt_constant(g, DLT_F32, 2, (const int64_t[]){1, 4}, (const float[]){0, 0, 1, 1}));
    dlt_t ref =
        dlt_add(g, dlt_mul(g, dlt_reshape(g, matched, 2, (const int64_t[]){RB, 4}), vp), unit);
    dlt_t targets = dlt_box_encode(g, ref, dlt_add(g, dlt_mul(g, boxes, vp), unit),
                                   (const float[]){10, 10, 5, 5});
    t->roi_labels = labels;
    t->roi_boxes = boxes;
    t->roi_sampled = dlt_reshape(g, sel_valid, 1, (const int64_t[]){RB});
    dlt_t bidx = batch_index(g, B, R);
    dlt_fpn_pool_opts bo = dlt_fpn_pool_box(s->image_h, s->image_w);
    dlt_t deltas, logits = dlt_maskrcnn_box_head(
                      g, &s->net, dlt_fpn_pool(g, 4, p, boxes, bidx, &bo, NULL), &deltas);
    t->cls =
        dlt_roi_losses(g, logits, deltas, dlt_cast(g, labels, DLT_I32, 1, 0, 0, C - 1), targets,
                       dlt_reshape(g, sel_valid, 1, (const int64_t[]){RB}), -1, -1, &t->box, NULL);

    /* the mask branch on the first P sampled positives per image */
    const int64_t P = s->positives, PB = B * P;
    dlt_t psel, pvalid = dlt_topk(g, pos, P, &psel);
    dlt_t pboxes = dlt_reshape(g, gather_rows(g, all, psel, 0), 2, (const int64_t[]){PB, 4});
    dlt_t plabels = dlt_reshape(g, gather_rows(g, cls, psel, 0), 1, (const int64_t[]){PB});
    dlt_t pm = gather_rows(g, f32c(g, m), psel, 0); /* [B, P] matched gt */
    dlt_fpn_pool_opts mo = dlt_fpn_pool_mask(s->image_h, s->image_w);
    dlt_t mlogits = dlt_maskrcnn_mask_head(
        g, &s->net, dlt_fpn_pool(g, 4, p, pboxes, batch_index(g, B, P), &mo, NULL));
    /* targets: torchvision's project_masks_on_boxes, roi_align of the matched
     * gt mask (row b M + m of gt_masks) at 28 x 28, scale 1, adaptive, not aligned */
    const dlt_shape *ms = dlt_shape_of(g, mlogits);
    if (!ms)
        return;
    const int64_t S = ms->dim[2];
    dlt_roi_align_opts ro = {
        .out_h = (int)S, .out_w = (int)S, .spatial_scale = 1.f, .sampling_ratio = 0};
    dlt_t gidx = dlt_reshape(g, flat_index(g, dlt_cast(g, pm, DLT_I32, 1, 0, 0, M - 1), B, M, 0), 1,
                             (const int64_t[]){PB});
    dlt_t mt = dlt_reshape(g, dlt_roi_align(g, t->gt_masks, pboxes, gidx, &ro), 3,
                           (const int64_t[]){PB, S, S});
    /* the label's channel: a one-hot row (an embedding of the identity) times the logits */
    float *eye = calloc((size_t)C * C, sizeof *eye);
    if (!eye) {
        dlt_graph_fail(g, DLT_ERR_NOMEM, "maskrcnn: out of memory");
        return;
    }
    for (int i = 0; i < C; i++)
        eye[(size_t)i * C + i] = 1.f;
    dlt_t id = dlt_constant(g, DLT_F32, 2, (const int64_t[]){C, C}, eye);
    free(eye);
    dlt_t oh = dlt_embedding(g, id, dlt_cast(g, plabels, DLT_I32, 1, 0, 0, C - 1)); /* [PB, C] */
    dlt_t chan =
        dlt_sum(g, dlt_mul(g, mlogits, dlt_reshape(g, oh, 4, (const int64_t[]){PB, C, 1, 1})), 1,
                (const int[]){1}, 0); /* [PB, S, S] */
    dlt_t bce = dlt_bce_with_logits(g, chan, mt, -1, DLT_REDUCE_NONE);
    dlt_t pw = dlt_reshape(g, pvalid, 3, (const int64_t[]){PB, 1, 1});
    dlt_t npix = dlt_clamp(g, dlt_affine(g, dlt_sum(g, pvalid, 0, NULL, 0), (float)(S * S), 0.f),
                           1.f, INFINITY);
    t->mask = dlt_div(g, dlt_sum(g, dlt_mul(g, bce, pw), 0, NULL, 0), npix);
}

dlt_t dlt_maskrcnn_train_build(dlt_graph *g, const dlt_maskrcnn_train_spec *s,
                               dlt_maskrcnn_train_graph *t)
{
    const int64_t B = s->batch, M = s->max_boxes, H = s->image_h, W = s->image_w;
    if (B < 1 || M < 1 || H % 32 || W % 32 || H < 32 || W < 32 || s->rois < 1 || s->positives < 1)
        return dlt_graph_fail(
            g, DLT_ERR_INVALID,
            "maskrcnn: batch %lld, %lld boxes, %lldx%lld images (multiples of 32), "
            "%d RoIs and %d positives per image: each must be positive",
            (long long)B, (long long)M, (long long)H, (long long)W, s->rois, s->positives);
    t->images = dlt_input(g, "images", DLT_F32, 4, (const int64_t[]){B, 3, H, W});
    t->gt_boxes = dlt_input(g, "gt_boxes", DLT_F32, 3, (const int64_t[]){B, M, 4});
    t->gt_labels = dlt_input(g, "gt_labels", DLT_F32, 2, (const int64_t[]){B, M + 1});
    t->gt_count = dlt_input(g, "gt_count", DLT_I32, 1, (const int64_t[]){B});
    t->gt_valid = dlt_input(g, "gt_valid", DLT_F32, 2, (const int64_t[]){B, M});
    t->gt_masks = dlt_input(g, "gt_masks", DLT_U8, 4, (const int64_t[]){B * M, 1, H, W});
    t->image_max = dlt_input(g, "image_max", DLT_F32, 3, (const int64_t[]){B, 1, 4});
    dlt_t p[5];
    if (dlt_maskrcnn_backbone(g, &s->net, t->images, p) < 0)
        return -1;
    dlt_t props = -1, props_valid = -1;
    rpn(g, s, t, p, &props, &props_valid);
    t->props_valid = props_valid;
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    roi_heads(g, s, t, p, props, props_valid);
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    dlt_t parts[5] = {t->rpn_obj, t->rpn_box, t->cls, t->box, t->mask};
    t->loss = parts[0];
    for (int i = 1; i < 5; i++)
        t->loss = dlt_add(g, t->loss, parts[i]);
    return dlt_set_name(g, t->loss, "loss");
}
