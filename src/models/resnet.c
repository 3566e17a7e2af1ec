/* ResNets: CIFAR-style (He et al. 2015 §4.2: 6n+2 layers, 16/32/64 filters,
 * shortcut option A or B) and ImageNet-style (torchvision v1.5: basic and
 * bottleneck blocks, stride in the 3x3 conv). */
#include <stdio.h>

#include "dlt_models.h"
#include "dlt_ops.h"
#include "resnet.h"

/* Option A: subsample by the stride and zero-pad the new channels on both sides. */
static dlt_t shortcut_a(dlt_graph *g, dlt_t x, int out_c, int stride)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    if (stride > 1) /* x[:, :, ::stride, ::stride], as the stride-s 3x3 conv with padding 1 samples */
        x = dlt_slice_axis(g, dlt_slice_axis(g, x, 2, 0, DLT_SLICE_END, stride), 3, 0, DLT_SLICE_END, stride);
    int64_t extra = out_c - s->dim[1];
    if (extra > 0) {
        int64_t before[4] = {0, extra / 2, 0, 0}, after[4] = {0, extra - extra / 2, 0, 0};
        x = dlt_pad(g, x, before, after, DLT_PAD_CONSTANT, 0.f);
    }
    return x;
}

static dlt_t downsample(dlt_graph *g, dlt_t x, int out_c, int stride, const dlt_model_spec *s)
{
    dlt_scope_push(g, "downsample");
    dlt_t y = dlt_nn_conv(g, "0", x, out_c, 1, stride, 0, 0);
    y = dlt_nn_norm(g, "1", y, s, 0);
    dlt_scope_pop(g);
    return y;
}

/* conv3x3-bn-relu-conv3x3-bn + shortcut, relu. Norm, residual add and relu
 * are one fused node with batch norm (dlt_nn_norm_act); bn2's parameters are
 * created before the downsample branch's, as without fusion. */
static dlt_t basic_block(dlt_graph *g, dlt_t x, int planes, int stride, int cifar, const dlt_model_spec *s)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    int in_c = (int)xs->dim[1];
    dlt_t y = dlt_nn_norm_act(g, "bn1", dlt_nn_conv(g, "conv1", x, planes, 3, stride, 1, 0), s, 0, -1, 1);
    dlt_nn_norm_layer bn2;
    if (!dlt_nn_norm_begin(g, "bn2", dlt_nn_conv(g, "conv2", y, planes, 3, 1, 1, 0), s, s->zero_init_residual, &bn2))
        return -1;
    dlt_t sc = x;
    if (stride != 1 || in_c != planes)
        sc = cifar && s->shortcut == 'A' ? shortcut_a(g, x, planes, stride) : downsample(g, x, planes, stride, s);
    return dlt_nn_norm_end(g, &bn2, sc, 1);
}

/* 1x1 reduce, 3x3 (stride here: v1.5), 1x1 expand x4; fused as basic_block */
static dlt_t bottleneck(dlt_graph *g, dlt_t x, int planes, int stride, const dlt_model_spec *s)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    int in_c = (int)xs->dim[1], out_c = planes * 4;
    dlt_t y = dlt_nn_norm_act(g, "bn1", dlt_nn_conv(g, "conv1", x, planes, 1, 1, 0, 0), s, 0, -1, 1);
    y = dlt_nn_norm_act(g, "bn2", dlt_nn_conv(g, "conv2", y, planes, 3, stride, 1, 0), s, 0, -1, 1);
    dlt_nn_norm_layer bn3;
    if (!dlt_nn_norm_begin(g, "bn3", dlt_nn_conv(g, "conv3", y, out_c, 1, 1, 0, 0), s, s->zero_init_residual, &bn3))
        return -1;
    dlt_t sc = stride != 1 || in_c != out_c ? downsample(g, x, out_c, stride, s) : x;
    return dlt_nn_norm_end(g, &bn3, sc, 1);
}

/* The pooled features the final linear layer reads; features (may be NULL)
 * receives them. */
static dlt_t pool_fc(dlt_graph *g, const dlt_model_spec *s, dlt_t h, dlt_t *features)
{
    dlt_t pooled = dlt_global_avgpool2d(g, h);
    if (features)
        *features = pooled;
    return dlt_nn_linear(g, "fc", pooled, s->num_classes);
}

dlt_t dlt_resnet_cifar(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x, dlt_t *features)
{
    if ((depth - 2) % 6 != 0 || depth < 8)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "CIFAR ResNet depth must be 6n+2 (got %d)", depth);
    if (s->shortcut != 'A' && s->shortcut != 'B')
        return dlt_graph_fail(g, DLT_ERR_INVALID, "CIFAR ResNet shortcut must be 'A' or 'B'");
    int n = (depth - 2) / 6;
    dlt_t h = dlt_nn_norm_act(g, "bn1", dlt_nn_conv(g, "conv1", x, 16, 3, 1, 1, 0), s, 0, -1, 1);
    for (int stage = 0; stage < 3; stage++) {
        dlt_scope_pushf(g, "layer%d", stage + 1);
        for (int b = 0; b < n; b++) {
            dlt_scope_pushf(g, "%d", b);
            h = basic_block(g, h, 16 << stage, stage > 0 && b == 0 ? 2 : 1, 1, s);
            dlt_scope_pop(g);
        }
        dlt_scope_pop(g);
    }
    return pool_fc(g, s, h, features);
}

dlt_t dlt_resnet_imagenet_stages(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x, dlt_t c[4])
{
    static const int blocks[][4] = {{2, 2, 2, 2}, {3, 4, 6, 3}, {3, 4, 6, 3}, {3, 4, 23, 3}, {3, 8, 36, 3}};
    int idx = depth == 18 ? 0 : depth == 34 ? 1 : depth == 50 ? 2 : depth == 101 ? 3 : depth == 152 ? 4 : -1;
    if (idx < 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "ImageNet ResNet depth must be 18, 34, 50, 101 or 152 (got %d)",
                              depth);
    if (s->frozen_stages < 0 || s->frozen_stages > 5)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "ResNet frozen stages must be 0..5 (got %d)", s->frozen_stages);
    int bott = depth >= 50;
    int prev = dlt_graph_set_frozen(g, s->frozen_stages >= 1);
    dlt_t h;
    if (s->small_input) {
        h = dlt_nn_norm_act(g, "bn1", dlt_nn_conv(g, "conv1", x, 64, 3, 1, 1, 0), s, 0, -1, 1);
    } else {
        h = dlt_nn_norm_act(g, "bn1", dlt_nn_conv(g, "conv1", x, 64, 7, 2, 3, 0), s, 0, -1, 1);
        dlt_pool2d_opts po = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};
        h = dlt_maxpool2d(g, h, &po);
    }
    for (int stage = 0; stage < 4; stage++) {
        dlt_graph_set_frozen(g, s->frozen_stages >= stage + 2);
        dlt_scope_pushf(g, "layer%d", stage + 1);
        for (int b = 0; b < blocks[idx][stage]; b++) {
            int stride = stage > 0 && b == 0 ? 2 : 1;
            dlt_scope_pushf(g, "%d", b);
            h = bott ? bottleneck(g, h, 64 << stage, stride, s) : basic_block(g, h, 64 << stage, stride, 0, s);
            dlt_scope_pop(g);
        }
        dlt_scope_pop(g);
        if (c)
            c[stage] = h;
    }
    dlt_graph_set_frozen(g, prev);
    return h;
}

dlt_t dlt_resnet_imagenet(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x, dlt_t *features)
{
    dlt_t h = dlt_resnet_imagenet_stages(g, s, depth, x, NULL);
    return h < 0 ? -1 : pool_fc(g, s, h, features);
}
