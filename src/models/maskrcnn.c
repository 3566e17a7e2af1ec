/* Mask R-CNN's learned networks, in torchvision's order and names
 * (dlt_maskrcnn.h): ResNet body + FPN ("backbone"), the RPN head ("rpn.head"),
 * the box head and predictor ("roi_heads.box_head", "roi_heads.box_predictor")
 * and the mask head and predictor ("roi_heads.mask_head",
 * "roi_heads.mask_predictor"). Each conv is initialised as torchvision does
 * it: the body as its ResNets, the FPN kaiming-uniform with a = 1, the RPN
 * N(0, 0.01), the mask convs kaiming-normal (fan_out, ReLU), biases zero, the
 * fully connected layers as torch.nn.Linear. */
#include <math.h>

#include "dlt_maskrcnn.h"
#include "dlt_models.h"
#include "dlt_ops.h"
#include "resnet.h"

void dlt_maskrcnn_spec_default(dlt_maskrcnn_spec *s)
{
    *s = (dlt_maskrcnn_spec){.depth = 50,
                             .num_classes = 91,
                             .trainable_layers = 3,
                             .norm = 'f',
                             .norm_eps = 1e-5f,
                             .fpn_channels = 256,
                             .anchors = 3,
                             .box_pool = 7,
                             .representation = 1024,
                             .mask_channels = 256,
                             .mask_convs = 4};
}

/* A k x k conv with bias (zero) and the given weight initializer, stride 1,
 * "same" padding, under the scope `name`. */
static dlt_t conv(dlt_graph *g, const char *name, dlt_t x, int out_c, int k, dlt_init init)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    int64_t ws[4] = {out_c, s->dim[1], k, k}, bs[1] = {out_c};
    dlt_scope_push(g, name);
    dlt_t w = dlt_param(g, "weight", 4, ws, init);
    dlt_t b = dlt_param(g, "bias", 1, bs, dlt_init_const(0));
    dlt_scope_pop(g);
    dlt_conv2d_opts o = {.padding = {k / 2, k / 2}};
    return dlt_conv2d(g, x, w, b, &o);
}

static dlt_init kaiming_relu_fan_out(void)
{
    return dlt_init_kaiming(DLT_INIT_KAIMING_NORMAL, DLT_FAN_OUT, sqrt(2.0));
}

/* ---------------------------------------------------------------- backbone */

/* torchvision's FeaturePyramidNetwork with LastLevelMaxPool: a 1x1 lateral
 * ("inner_blocks.i.0") per stage, top-down from the coarsest by nearest 2x
 * upsampling and adding, a 3x3 output conv ("layer_blocks.i.0") per level,
 * and 'pool' = max pooling of the coarsest output with kernel 1, stride 2. */
static dlt_t fpn(dlt_graph *g, const dlt_maskrcnn_spec *s, const dlt_t c[4], dlt_t p[5])
{
    /* kaiming_uniform_(a=1): bound sqrt(6 / ((1 + a^2) fan_in)) = gain 1 */
    dlt_init init = dlt_init_kaiming(DLT_INIT_KAIMING_UNIFORM, DLT_FAN_IN, 1.0);
    dlt_t inner[4];
    for (int i = 0; i < 4; i++) { /* parameters in torchvision's order: inner 0..3, then layer 0..3 */
        dlt_scope_pushf(g, "inner_blocks.%d", i);
        inner[i] = conv(g, "0", c[i], s->fpn_channels, 1, init);
        dlt_scope_pop(g);
    }
    dlt_t last = inner[3], merged[4];
    merged[3] = last;
    for (int i = 2; i >= 0; i--) {
        const dlt_shape *lat = dlt_shape_of(g, inner[i]), *top = dlt_shape_of(g, last);
        if (!lat || !top)
            return -1;
        if (lat->dim[2] != 2 * top->dim[2] || lat->dim[3] != 2 * top->dim[3])
            return dlt_graph_fail(g, DLT_ERR_SHAPE,
                                  "Mask R-CNN: FPN level %d is %lldx%lld, level %d %lldx%lld: the image's "
                                  "height and width must be multiples of 32",
                                  i, (long long)lat->dim[2], (long long)lat->dim[3], i + 1, (long long)top->dim[2],
                                  (long long)top->dim[3]);
        last = merged[i] = dlt_add(g, inner[i], dlt_upsample_nearest2d(g, last, 2, 2));
    }
    for (int i = 0; i < 4; i++) {
        dlt_scope_pushf(g, "layer_blocks.%d", i);
        p[i] = conv(g, "0", merged[i], s->fpn_channels, 3, init);
        dlt_scope_pop(g);
    }
    dlt_pool2d_opts po = {.kernel = {1, 1}, .stride = {2, 2}};
    return p[4] = dlt_maxpool2d(g, p[3], &po);
}

dlt_t dlt_maskrcnn_backbone(dlt_graph *g, const dlt_maskrcnn_spec *s, dlt_t x, dlt_t p[5])
{
    if (s->trainable_layers < 0 || s->trainable_layers > 5)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "Mask R-CNN: trainable backbone layers must be 0..5 (got %d)",
                              s->trainable_layers);
    dlt_model_spec body = {.norm = s->norm, .bn_momentum = 0.1f, .bn_eps = s->norm_eps,
                           .frozen_stages = 5 - s->trainable_layers};
    dlt_t c[4];
    dlt_scope_push(g, "backbone");
    dlt_scope_push(g, "body");
    dlt_t top = dlt_resnet_imagenet_stages(g, &body, s->depth, x, c);
    dlt_scope_pop(g);
    dlt_scope_push(g, "fpn");
    dlt_t y = top < 0 ? -1 : fpn(g, s, c, p);
    dlt_scope_pop(g);
    dlt_scope_pop(g);
    return y;
}

/* ---------------------------------------------------------------- heads */

dlt_t dlt_maskrcnn_rpn_head(dlt_graph *g, const dlt_maskrcnn_spec *s, const dlt_t *feats, int n, dlt_t *obj,
                            dlt_t *deltas)
{
    dlt_init init = dlt_init_normal(0, 0.01);
    dlt_t y = -1;
    dlt_scope_push(g, "rpn");
    dlt_scope_push(g, "head");
    for (int i = 0; i < n; i++) {
        int prev = dlt_graph_set_reuse(g, i > 0); /* one head shared by every level */
        dlt_t t = dlt_relu(g, conv(g, "conv.0.0", feats[i], s->fpn_channels, 3, init));
        obj[i] = conv(g, "cls_logits", t, s->anchors, 1, init);
        y = deltas[i] = conv(g, "bbox_pred", t, 4 * s->anchors, 1, init);
        dlt_graph_set_reuse(g, prev);
    }
    dlt_scope_pop(g);
    dlt_scope_pop(g);
    return y;
}

dlt_t dlt_maskrcnn_box_head(dlt_graph *g, const dlt_maskrcnn_spec *s, dlt_t pooled, dlt_t *deltas)
{
    dlt_scope_push(g, "roi_heads");
    dlt_scope_push(g, "box_head"); /* TwoMLPHead */
    dlt_t h = dlt_flatten(g, pooled, 1, -1);
    h = dlt_relu(g, dlt_nn_linear(g, "fc6", h, s->representation));
    h = dlt_relu(g, dlt_nn_linear(g, "fc7", h, s->representation));
    dlt_scope_pop(g);
    dlt_scope_push(g, "box_predictor"); /* FastRCNNPredictor */
    dlt_t logits = dlt_nn_linear(g, "cls_score", h, s->num_classes);
    *deltas = dlt_nn_linear(g, "bbox_pred", h, 4 * s->num_classes);
    dlt_scope_pop(g);
    dlt_scope_pop(g);
    return logits;
}

dlt_t dlt_maskrcnn_mask_head(dlt_graph *g, const dlt_maskrcnn_spec *s, dlt_t pooled)
{
    dlt_scope_push(g, "roi_heads");
    dlt_scope_push(g, "mask_head"); /* MaskRCNNHeads: conv 3x3 + ReLU, mask_convs times */
    dlt_t h = pooled;
    for (int i = 0; i < s->mask_convs; i++) {
        dlt_scope_pushf(g, "%d", i);
        h = dlt_relu(g, conv(g, "0", h, s->mask_channels, 3, kaiming_relu_fan_out()));
        dlt_scope_pop(g);
    }
    dlt_scope_pop(g);
    dlt_scope_push(g, "mask_predictor"); /* MaskRCNNPredictor */
    const dlt_shape *hs = dlt_shape_of(g, h);
    dlt_t y = -1;
    if (hs) {
        int64_t ws[4] = {hs->dim[1], s->mask_channels, 2, 2}, bs[1] = {s->mask_channels};
        dlt_scope_push(g, "conv5_mask");
        dlt_t w = dlt_param(g, "weight", 4, ws, kaiming_relu_fan_out());
        dlt_t b = dlt_param(g, "bias", 1, bs, dlt_init_const(0));
        dlt_scope_pop(g);
        dlt_conv2d_opts o = {.stride = {2, 2}};
        h = dlt_relu(g, dlt_conv_transpose2d(g, h, w, b, &o));
        y = conv(g, "mask_fcn_logits", h, s->num_classes, 1, kaiming_relu_fan_out());
    }
    dlt_scope_pop(g);
    dlt_scope_pop(g);
    return y;
}
