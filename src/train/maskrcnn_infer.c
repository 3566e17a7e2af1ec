/* Mask R-CNN inference (dlt_maskrcnn_infer.h): one graph, three plans, the
 * selection on the host in between.
 *
 * The graph has the images x [B, 3, H, W], the pyramid P2..P5 as inputs of
 * the heads, and two roi inputs, proposals [B P, 5] and detections [B D, 5]
 * (batch index, x1, y1, x2, y2; batch index -1 marks an empty slot, which
 * pools to zeros). Plan 1 outputs the RPN head's objectness [B, A, H_l, W_l]
 * and deltas [B, 4A, H_l, W_l] of the five levels and the backbone's pyramid,
 * which the host copies into the heads' inputs; plan 2 outputs the box
 * head's class logits [B P, C] and box regression [B P, 4C], plan 3 the mask
 * logits [B D, C, 28, 28]. The anchors of all
 * levels are computed once at create, in torchvision's (level, row, column,
 * anchor) order, the order filter_proposals ranks them in. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_fpn_pool.h"
#include "dlt_maskrcnn_infer.h"
#include "dlt_ops.h"

enum { NLEV = 5, MASK_POOL = 14 };

struct dlt_mrcnn_infer {
    dlt_mrcnn_infer_config c;
    dlt_graph *g;
    dlt_t x, props, dets, obj[NLEV], deltas[NLEV], cls, box, mask;
    dlt_t feats[4], fin[4]; /* P2..P5 out of plan 1, and as inputs of plans 2 and 3 */
    dlt_plan *p_rpn, *p_box, *p_mask;
    int64_t per_level[NLEV], total; /* anchors per image */
    float *anchors;                 /* [total, 4] */
    float *obj_flat, *prop_flat;    /* one image: [total], [total, 4] */
    float *props_host;              /* [B P, 4] */
    float *props_valid;             /* [B P] */
};

void dlt_mrcnn_infer_config_default(dlt_mrcnn_infer_config *c, const dlt_maskrcnn_spec *s,
                                    int batch, int height, int width)
{
    memset(c, 0, sizeof *c);
    c->spec = *s;
    c->batch = batch, c->height = height, c->width = width;
    dlt_rpn_infer_opts_default(&c->rpn);
    dlt_det_infer_opts_default(&c->det, s->num_classes);
    for (int l = 0; l < NLEV; l++)
        c->sizes[l] = (float)(32 << l);
    c->ratios[0] = 0.5f, c->ratios[1] = 1.f, c->ratios[2] = 2.f;
}

static dlt_status build(dlt_mrcnn_infer *m)
{
    const dlt_mrcnn_infer_config *c = &m->c;
    dlt_graph *g = m->g;
    int B = c->batch, P = c->rpn.post_nms_top_n, D = c->det.detections;
    m->x = dlt_input(g, "images", DLT_F32, 4, (const int64_t[]){B, 3, c->height, c->width});
    m->props = dlt_input(g, "proposals", DLT_F32, 2, (const int64_t[]){(int64_t)B * P, 5});
    m->dets = dlt_input(g, "detections", DLT_F32, 2, (const int64_t[]){(int64_t)B * D, 5});
    dlt_t feats[NLEV];
    if (dlt_maskrcnn_backbone(g, &c->spec, m->x, feats) < 0 ||
        dlt_maskrcnn_rpn_head(g, &c->spec, feats, NLEV, m->obj, m->deltas) < 0)
        return dlt_seterr(DLT_ERR_INVALID, "Mask R-CNN inference: %s", dlt_graph_errmsg(g));
    /* the heads read the pyramid from inputs that plan 1's outputs fill, so
     * that plans 2 and 3 do not run the backbone again */
    for (int l = 0; l < 4; l++) {
        const dlt_shape *fs = dlt_shape_of(g, feats[l]);
        char name[16];
        snprintf(name, sizeof name, "pyramid%d", l);
        m->feats[l] = feats[l];
        m->fin[l] = dlt_input(g, name, DLT_F32, fs->ndim, fs->dim);
    }
    dlt_fpn_pool_opts bo = dlt_fpn_pool_box(c->height, c->width),
                      mo = dlt_fpn_pool_mask(c->height, c->width);
    dlt_t pooled = dlt_fpn_pool(g, 4, m->fin, m->props, -1, &bo, NULL);
    m->cls = dlt_maskrcnn_box_head(g, &c->spec, pooled, &m->box);
    dlt_t mp = dlt_fpn_pool(g, 4, m->fin, m->dets, -1, &mo, NULL);
    m->mask = dlt_maskrcnn_mask_head(g, &c->spec, mp);
    if (m->cls < 0 || m->box < 0 || m->mask < 0)
        return dlt_seterr(DLT_ERR_INVALID, "Mask R-CNN inference: %s", dlt_graph_errmsg(g));
    /* the anchors: one size per level (c->sizes), spec.anchors ratios */
    const int nratio = c->spec.anchors;
    m->total = 0;
    for (int l = 0; l < NLEV; l++) {
        const dlt_shape *s = dlt_shape_of(g, m->obj[l]);
        m->per_level[l] = dlt_anchor_count(1, nratio, s->dim[2], s->dim[3]);
        m->total += m->per_level[l];
    }
    m->anchors = malloc(sizeof(float) * 4 * (size_t)m->total);
    m->obj_flat = malloc(sizeof(float) * (size_t)m->total);
    m->prop_flat = malloc(sizeof(float) * 4 * (size_t)m->total);
    m->props_host = malloc(sizeof(float) * 4 * (size_t)B * P);
    m->props_valid = malloc(sizeof(float) * (size_t)B * P);
    if (!m->anchors || !m->obj_flat || !m->prop_flat || !m->props_host || !m->props_valid)
        return dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN inference: out of memory for %lld anchors",
                          (long long)m->total);
    int64_t at = 0;
    for (int l = 0; l < NLEV; l++) {
        const dlt_shape *s = dlt_shape_of(g, m->obj[l]);
        dlt_status st = dlt_anchor_grid(1, &c->sizes[l], nratio, c->ratios, s->dim[2], s->dim[3],
                                        c->height, c->width, m->anchors + 4 * at);
        if (st != DLT_OK)
            return st;
        at += m->per_level[l];
    }
    dlt_t outs[2 * NLEV + 4];
    memcpy(outs, m->obj, sizeof m->obj), memcpy(outs + NLEV, m->deltas, sizeof m->deltas);
    memcpy(outs + 2 * NLEV, m->feats, sizeof m->feats);
    dlt_status st = dlt_plan_create(g, 2 * NLEV + 4, outs, NULL, &m->p_rpn);
    if (st == DLT_OK)
        st = dlt_plan_create(g, 2, (const dlt_t[]){m->cls, m->box}, NULL, &m->p_box);
    if (st == DLT_OK)
        st = dlt_plan_create(g, 1, &m->mask, NULL, &m->p_mask);
    return st;
}

dlt_status dlt_mrcnn_infer_create(const dlt_mrcnn_infer_config *c, dlt_mrcnn_infer **out)
{
    *out = NULL;
    if (c->batch < 1 || c->height < 32 || c->width < 32 || c->height % 32 || c->width % 32 ||
        c->rpn.post_nms_top_n < 1 || c->det.detections < 1 || c->spec.anchors < 1 ||
        c->spec.anchors > 3 || c->det.num_classes != c->spec.num_classes)
        return dlt_seterr(DLT_ERR_INVALID,
                          "Mask R-CNN inference: batch %d of %dx%d (multiples of 32), %d "
                          "proposals, %d detections, %d classes for a network of %d",
                          c->batch, c->height, c->width, c->rpn.post_nms_top_n, c->det.detections,
                          c->det.num_classes, c->spec.num_classes);
    dlt_mrcnn_infer *m = calloc(1, sizeof *m);
    if (!m)
        return dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN inference: out of memory");
    m->c = *c;
    m->g = dlt_graph_create(0);
    dlt_status st = m->g ? build(m) : dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN inference: no graph");
    if (st != DLT_OK) {
        dlt_mrcnn_infer_free(m);
        return st;
    }
    *out = m;
    return DLT_OK;
}

void dlt_mrcnn_infer_free(dlt_mrcnn_infer *m)
{
    if (!m)
        return;
    dlt_plan_free(m->p_rpn), dlt_plan_free(m->p_box), dlt_plan_free(m->p_mask);
    dlt_graph_free(m->g);
    free(m->anchors), free(m->obj_flat), free(m->prop_flat), free(m->props_host),
        free(m->props_valid);
    free(m);
}

dlt_graph *dlt_mrcnn_infer_graph(dlt_mrcnn_infer *m)
{
    return m->g;
}

/* One parameter or buffer from src's storage of that name. */
static dlt_status copy_value(dlt_mrcnn_infer *m, dlt_graph *src, const dlt_param_info *pi)
{
    dlt_t v = dlt_param_lookup(src, pi->name);
    if (v < 0)
        return dlt_seterr(DLT_ERR_INVALID, "Mask R-CNN inference: the model has no '%s'", pi->name);
    if (dlt_shape_numel(dlt_shape_of(src, v)) != (int64_t)pi->numel)
        return dlt_seterr(DLT_ERR_INVALID,
                          "Mask R-CNN inference: '%s' has %lld values, the inference graph %zu",
                          pi->name, (long long)dlt_shape_numel(dlt_shape_of(src, v)), pi->numel);
    memcpy(dlt_param_data(m->g, pi->value), dlt_param_data(src, v), pi->numel * sizeof(float));
    return DLT_OK;
}

dlt_status dlt_mrcnn_infer_load(dlt_mrcnn_infer *m, dlt_graph *src)
{
    dlt_status st = DLT_OK;
    for (int i = 0; st == DLT_OK && i < dlt_num_params(m->g); i++)
        st = copy_value(m, src, dlt_param_at(m->g, i));
    for (int i = 0; st == DLT_OK && i < dlt_num_buffers(m->g); i++)
        st = copy_value(m, src, dlt_buffer_at(m->g, i));
    return st;
}

/* rois [n, 5] of image b from boxes [n, 4] with validity: batch index b, or
 * -1 (pools to zeros) for an empty slot */
static void to_rois(float *rois, const float *boxes, const float *valid, int n, int b)
{
    for (int k = 0; k < n; k++) {
        float *r = rois + 5 * k;
        r[0] = valid[k] != 0.f ? (float)b : -1.f;
        memcpy(r + 1, boxes + 4 * k, 4 * sizeof(float));
    }
}

dlt_status dlt_mrcnn_infer_run(dlt_mrcnn_infer *m, const float *images, const int32_t *image_sizes,
                               float *boxes, float *scores, int32_t *labels, float *valid,
                               float *masks)
{
    const dlt_mrcnn_infer_config *c = &m->c;
    int B = c->batch, P = c->rpn.post_nms_top_n, D = c->det.detections, C = c->spec.num_classes;
    size_t nx = (size_t)B * 3 * c->height * c->width;
    dlt_exec_opts eo = {0};
    /* plan 1: the RPN head */
    memcpy(dlt_plan_data(m->p_rpn, m->x), images, nx * sizeof(float));
    dlt_status st = dlt_plan_run(m->p_rpn, &eo);
    if (st != DLT_OK)
        return st;
    const float w1[4] = {1.f, 1.f, 1.f, 1.f};
    for (int b = 0; b < B; b++) {
        /* torchvision's (level, row, column, anchor) order from [B, A, H, W] maps */
        int64_t at = 0;
        for (int l = 0; l < NLEV; l++) {
            const dlt_shape *s = dlt_shape_of(m->g, m->obj[l]);
            int64_t A = s->dim[1], H = s->dim[2], W = s->dim[3];
            const float *o = (const float *)dlt_plan_data(m->p_rpn, m->obj[l]) + b * A * H * W;
            const float *d =
                (const float *)dlt_plan_data(m->p_rpn, m->deltas[l]) + b * 4 * A * H * W;
            for (int64_t y = 0; y < H; y++)
                for (int64_t xx = 0; xx < W; xx++)
                    for (int64_t a = 0; a < A; a++, at++) {
                        m->obj_flat[at] = o[(a * H + y) * W + xx];
                        float dd[4];
                        for (int k = 0; k < 4; k++)
                            dd[k] = d[((4 * a + k) * H + y) * W + xx];
                        dlt_det_decode_box(w1, logf(1000.f / 16.f), dd, m->anchors + 4 * at,
                                           m->prop_flat + 4 * at);
                    }
        }
        int n;
        st = dlt_rpn_filter_proposals(&c->rpn, NLEV, m->per_level, m->obj_flat, m->prop_flat,
                                      image_sizes[2 * b], image_sizes[2 * b + 1],
                                      m->props_host + (size_t)b * P * 4, NULL,
                                      m->props_valid + (size_t)b * P, &n);
        if (st != DLT_OK)
            return st;
    }
    /* plan 2: the box head on the proposals, from plan 1's pyramid */
    for (int l = 0; l < 4; l++) {
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(m->g, m->feats[l])) * sizeof(float);
        const void *src = dlt_plan_data(m->p_rpn, m->feats[l]);
        memcpy(dlt_plan_data(m->p_box, m->fin[l]), src, n);
        memcpy(dlt_plan_data(m->p_mask, m->fin[l]), src, n);
    }
    float *pr = dlt_plan_data(m->p_box, m->props);
    for (int b = 0; b < B; b++)
        to_rois(pr + (size_t)b * P * 5, m->props_host + (size_t)b * P * 4,
                m->props_valid + (size_t)b * P, P, b);
    if ((st = dlt_plan_run(m->p_box, &eo)) != DLT_OK)
        return st;
    const float *cls = dlt_plan_data(m->p_box, m->cls), *reg = dlt_plan_data(m->p_box, m->box);
    for (int b = 0; b < B; b++) {
        int n;
        size_t r0 = (size_t)b * P;
        st = dlt_det_postprocess(
            &c->det, P, m->props_host + r0 * 4, m->props_valid + r0, cls + r0 * C, reg + r0 * 4 * C,
            image_sizes[2 * b], image_sizes[2 * b + 1], boxes + (size_t)b * D * 4,
            scores + (size_t)b * D, labels + (size_t)b * D, NULL, valid + (size_t)b * D, &n);
        if (st != DLT_OK)
            return st;
    }
    /* plan 3: the mask head on the detections */
    float *dr = dlt_plan_data(m->p_mask, m->dets);
    for (int b = 0; b < B; b++)
        to_rois(dr + (size_t)b * D * 5, boxes + (size_t)b * D * 4, valid + (size_t)b * D, D, b);
    if ((st = dlt_plan_run(m->p_mask, &eo)) != DLT_OK)
        return st;
    const float *ml = dlt_plan_data(m->p_mask, m->mask);
    int M = 2 * MASK_POOL;
    dlt_det_mask_probs(ml, B * D, C, M, labels, masks);
    for (size_t i = 0; i < (size_t)B * D; i++)
        if (valid[i] == 0.f)
            memset(masks + i * M * M, 0, sizeof(float) * M * M);
    return DLT_OK;
}
