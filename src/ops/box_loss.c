/* Mask R-CNN's losses with static shapes (box family): torchvision's RPN
 * loss (rpn.py compute_loss), box-head loss (roi_heads.py fastrcnn_loss) and
 * the mask loss's BCE (maskrcnn_loss, given the 28 x 28 targets), built
 * from existing differentiable ops: the sampled elements are f32 0/1 masks
 * (dlt_box_sample's) instead of index lists, and the class of each RoI
 * selects its box deltas and mask channel through a one-hot row (an
 * embedding of an identity table by the labels), so the gradient reaches
 * only the selected class. Normalisations are torchvision's, with the count
 * of sampled elements clamped to >= 1 (torchvision divides by 0 and gives NaN
 * when nothing is sampled; here such a loss is 0). */
#include <math.h>
#include <stdlib.h>

#include "dlt_ops.h"

/* sum over every axis */
static dlt_t total(dlt_graph *g, dlt_t x)
{
    return dlt_sum(g, x, 0, NULL, 0);
}

/* max(sum(w), 1) */
static dlt_t count(dlt_graph *g, dlt_t w)
{
    return dlt_clamp(g, total(g, w), 1.f, INFINITY);
}

dlt_t dlt_rpn_losses(dlt_graph *g, dlt_t objectness, dlt_t deltas, dlt_t targets, dlt_t pos,
                     dlt_t neg, dlt_t *box_loss)
{
    if (box_loss)
        *box_loss = -1;
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    dlt_t sampled = dlt_add(g, pos, neg), n = count(g, sampled);
    dlt_t bce = dlt_bce_with_logits(g, objectness, pos, -1, DLT_REDUCE_NONE);
    dlt_t obj = dlt_div(g, total(g, dlt_mul(g, sampled, bce)), n);
    if (box_loss) {
        dlt_t l1 = dlt_smooth_l1_loss(g, deltas, targets, 1.f / 9.f, DLT_REDUCE_NONE);
        dlt_t per = dlt_sum(g, l1, 1, (const int[]){-1}, 0); /* [..., A] */
        *box_loss = dlt_div(g, total(g, dlt_mul(g, pos, per)), n);
    }
    return obj;
}

/* The one-hot rows [R, C] of labels i32 [R] in [0, C). */
static dlt_t one_hot(dlt_graph *g, dlt_t labels, int64_t c)
{
    float *eye = calloc((size_t)(c * c), sizeof *eye);
    if (!eye)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "box losses: no memory for %lld classes",
                              (long long)c);
    for (int64_t i = 0; i < c; i++)
        eye[i * c + i] = 1.f;
    int64_t d[2] = {c, c};
    dlt_t t = dlt_constant(g, DLT_F32, 2, d, eye);
    free(eye);
    return dlt_embedding(g, t, labels);
}

dlt_t dlt_roi_losses(dlt_graph *g, dlt_t class_logits, dlt_t box_regression, dlt_t labels,
                     dlt_t targets, dlt_t sampled, dlt_t mask_logits, dlt_t mask_targets,
                     dlt_t *box_loss, dlt_t *mask_loss)
{
    if (box_loss)
        *box_loss = -1;
    if (mask_loss)
        *mask_loss = -1;
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    const dlt_shape *sl = dlt_shape_of(g, class_logits);
    if (!sl || sl->ndim != 2)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "roi losses: class logits must be [R, C]");
    int64_t r = sl->dim[0], c = sl->dim[1];
    dlt_t n = count(g, sampled);
    dlt_t ce = dlt_cross_entropy(g, class_logits, labels, -100, 0.f, DLT_REDUCE_NONE);
    dlt_t cls = dlt_div(g, total(g, dlt_mul(g, sampled, ce)), n);
    dlt_t oh = one_hot(g, labels, c); /* [R, C] */
    /* positives: sampled and not background (class 0) */
    dlt_t bg = dlt_slice_axis(g, oh, 1, 0, 1, 1); /* [R, 1] */
    dlt_t pos = dlt_mul(g, sampled, dlt_reshape(g, dlt_affine(g, bg, -1.f, 1.f), 1, &r));
    if (box_loss) {
        int64_t d3[3] = {r, c, 4}, d3o[3] = {r, c, 1};
        dlt_t reg = dlt_reshape(g, box_regression, 3, d3);
        dlt_t sel = dlt_sum(g, dlt_mul(g, reg, dlt_reshape(g, oh, 3, d3o)), 1, (const int[]){1},
                            0); /* [R, 4] */
        dlt_t l1 = dlt_smooth_l1_loss(g, sel, targets, 1.f / 9.f, DLT_REDUCE_NONE);
        dlt_t per = dlt_sum(g, l1, 1, (const int[]){1}, 0);
        *box_loss = dlt_div(g, total(g, dlt_mul(g, pos, per)), n);
    }
    if (mask_loss && mask_logits >= 0) {
        const dlt_shape *sm = dlt_shape_of(g, mask_logits);
        if (!sm || sm->ndim != 4 || sm->dim[0] != r || sm->dim[1] != c)
            return dlt_graph_fail(g, DLT_ERR_SHAPE, "roi losses: mask logits must be [R, C, M, M]");
        int64_t m2 = sm->dim[2] * sm->dim[3], d4[4] = {r, c, 1, 1};
        dlt_t sel = dlt_sum(g, dlt_mul(g, mask_logits, dlt_reshape(g, oh, 4, d4)), 1,
                            (const int[]){1}, 0); /* [R, M, M] */
        dlt_t bce = dlt_bce_with_logits(g, sel, mask_targets, -1, DLT_REDUCE_NONE);
        dlt_t per = dlt_sum(g, bce, 2, (const int[]){1, 2}, 0);
        dlt_t np = dlt_affine(g, count(g, pos), (float)m2, 0.f);
        *mask_loss = dlt_div(g, total(g, dlt_mul(g, pos, per)), np);
    }
    return cls;
}
