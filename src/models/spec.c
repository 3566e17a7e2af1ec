/* Child networks from a spec (dlt_spec.h): the checks a spec must pass and
 * the graph builder. A spec is checked in full before the first node is
 * added, so a refused spec leaves one line naming the layer and field, never
 * a shape error from deep inside the graph. */
#include <stdio.h>
#include <string.h>

#include "dlt_models.h"
#include "dlt_ops.h"
#include "dlt_spec.h"

#define ERR_PREFIX "model.spec.layers[%d]."

static int odd_in_range(int k)
{
    return k >= 1 && k <= DLT_SPEC_MAX_KERNEL && k % 2 == 1;
}

dlt_status dlt_spec_check(const dlt_spec *s)
{
    if (s->nlayers < 1 || s->nlayers > DLT_SPEC_MAX_LAYERS)
        return dlt_seterr(DLT_ERR_INVALID, "model.spec.layers: %d layers; a spec has 1..%d",
                          s->nlayers, DLT_SPEC_MAX_LAYERS);
    if (s->stem_filters < 0 || s->stem_filters > DLT_SPEC_MAX_FILTERS)
        return dlt_seterr(DLT_ERR_INVALID,
                          "model.spec.stem_filters = %d: must be 0 (no stem) .. %d",
                          s->stem_filters, DLT_SPEC_MAX_FILTERS);
    for (int i = 0; i < s->nlayers; i++) {
        const dlt_spec_layer *l = &s->layer[i];
        if ((int)l->op < 0 || l->op >= DLT_SPEC_NOPS)
            return dlt_seterr(DLT_ERR_INVALID,
                              ERR_PREFIX "op = %d: not an op (conv, sepconv, maxpool, avgpool)", i,
                              (int)l->op);
        if (!odd_in_range(l->kernel_h))
            return dlt_seterr(DLT_ERR_INVALID,
                              ERR_PREFIX "kernel_h = %d: must be odd, 1..%d (\"same\" padding)", i,
                              l->kernel_h, DLT_SPEC_MAX_KERNEL);
        if (!odd_in_range(l->kernel_w))
            return dlt_seterr(DLT_ERR_INVALID,
                              ERR_PREFIX "kernel_w = %d: must be odd, 1..%d (\"same\" padding)", i,
                              l->kernel_w, DLT_SPEC_MAX_KERNEL);
        if (l->filters < 1 || l->filters > DLT_SPEC_MAX_FILTERS)
            return dlt_seterr(DLT_ERR_INVALID, ERR_PREFIX "filters = %d: must be 1..%d", i,
                              l->filters, DLT_SPEC_MAX_FILTERS);
        if (l->stride < 1 || l->stride > DLT_SPEC_MAX_STRIDE)
            return dlt_seterr(DLT_ERR_INVALID, ERR_PREFIX "stride = %d: must be 1..%d", i,
                              l->stride, DLT_SPEC_MAX_STRIDE);
        /* skips name layers 0..i-2: the previous layer is always the input */
        uint64_t allowed = i >= 2 ? (1ULL << (i - 1)) - 1 : 0;
        if (l->skip & ~allowed) {
            int j = 0;
            while (!((l->skip & ~allowed) >> j & 1))
                j++;
            if (i < 2)
                return dlt_seterr(
                    DLT_ERR_INVALID,
                    ERR_PREFIX "skip names layer %d: layer %d can skip from no layer (the previous "
                               "layer is always the input)",
                    i, j, i);
            return dlt_seterr(DLT_ERR_INVALID,
                              ERR_PREFIX
                              "skip names layer %d: a skip must name an earlier layer (0..%d; the "
                              "previous layer is always the input)",
                              i, j, i - 2);
        }
    }
    return DLT_OK;
}

static int ceil_div(int a, int b)
{
    return (a + b - 1) / b;
}

dlt_status dlt_spec_check_shape(const dlt_spec *s, int in_c, int in_h, int in_w, int *out_h,
                                int *out_w)
{
    dlt_status st = dlt_spec_check(s);
    if (st != DLT_OK)
        return st;
    if (in_c < 1 || in_h < 1 || in_w < 1)
        return dlt_seterr(DLT_ERR_SHAPE,
                          "model.spec: the input must be at least 1x1x1 (got %dx%dx%d)", in_c, in_h,
                          in_w);
    int h = in_h, w = in_w;
    for (int i = 0; i < s->nlayers; i++) {
        int st_ = s->layer[i].stride;
        if (st_ > h || st_ > w)
            return dlt_seterr(
                DLT_ERR_SHAPE,
                ERR_PREFIX "stride = %d: the image is %dx%d here (%dx%d at the input); the strides "
                           "would collapse it below 1x1",
                i, st_, h, w, in_h, in_w);
        h = ceil_div(h, st_), w = ceil_div(w, st_);
    }
    if (out_h)
        *out_h = h;
    if (out_w)
        *out_w = w;
    return DLT_OK;
}

/* ---------------------------------------------------------------- builder */

typedef struct {
    dlt_graph *g;
    float momentum, eps;
} ctx;

static dlt_t conv(ctx *c, const char *name, dlt_t x, int out_c, int kh, int kw, int stride,
                  int groups)
{
    const dlt_shape *xs = dlt_shape_of(c->g, x);
    if (!xs)
        return -1;
    int in_per_group = (int)xs->dim[1] / (groups > 0 ? groups : 1);
    int64_t ws[4] = {out_c, in_per_group, kh, kw};
    dlt_scope_push(c->g, name);
    /* as torchvision initialises convs: kaiming normal, fan_out, ReLU gain */
    dlt_t wt =
        dlt_param(c->g, "weight", 4, ws,
                  dlt_init_kaiming(DLT_INIT_KAIMING_NORMAL, DLT_FAN_OUT, 1.4142135623730951));
    dlt_conv2d_opts o = {.stride = {stride, stride}, .padding = {kh / 2, kw / 2}, .groups = groups};
    dlt_t y = dlt_conv2d(c->g, x, wt, -1, &o);
    dlt_scope_pop(c->g);
    return y;
}

static dlt_t bn_relu(ctx *c, dlt_t x)
{
    return dlt_nn_batch_norm_act(c->g, "bn", x, c->momentum, c->eps, dlt_init_const(1), -1, 1);
}

/* One layer's op on its (concatenated) input. */
static dlt_t layer_op(ctx *c, const dlt_spec_layer *l, dlt_t x)
{
    const dlt_shape *xs = dlt_shape_of(c->g, x);
    if (!xs)
        return -1;
    switch (l->op) {
    case DLT_SPEC_CONV:
        return bn_relu(c, conv(c, "conv", x, l->filters, l->kernel_h, l->kernel_w, l->stride, 1));
    case DLT_SPEC_SEPCONV: {
        int in_c = (int)xs->dim[1];
        dlt_t d = conv(c, "depthwise", x, in_c, l->kernel_h, l->kernel_w, l->stride, in_c);
        return bn_relu(c, conv(c, "pointwise", d, l->filters, 1, 1, 1, 1));
    }
    default: {
        dlt_t y = bn_relu(c, conv(c, "conv", x, l->filters, 1, 1, 1, 1));
        dlt_pool2d_opts po = {.kernel = {l->kernel_h, l->kernel_w},
                              .stride = {l->stride, l->stride},
                              .padding = {l->kernel_h / 2, l->kernel_w / 2},
                              .exclude_pad = 1};
        return l->op == DLT_SPEC_MAXPOOL ? dlt_maxpool2d(c->g, y, &po)
                                         : dlt_avgpool2d(c->g, y, &po);
    }
    }
}

/* h brought down to oh x ow: zero-pad bottom/right to a multiple of r, then
 * average-pool r x r with stride r (r = 1: h itself). */
static dlt_t shrink(ctx *c, dlt_t h, int r, int oh, int ow)
{
    const dlt_shape *s = dlt_shape_of(c->g, h);
    if (!s || r == 1)
        return h;
    int64_t ph = (int64_t)oh * r - s->dim[2], pw = (int64_t)ow * r - s->dim[3];
    if (ph > 0 || pw > 0) {
        int64_t before[4] = {0, 0, 0, 0}, after[4] = {0, 0, ph, pw};
        h = dlt_pad(c->g, h, before, after, DLT_PAD_CONSTANT, 0.f);
    }
    dlt_pool2d_opts po = {.kernel = {r, r}, .stride = {r, r}};
    return dlt_avgpool2d(c->g, h, &po);
}

dlt_t dlt_spec_build(dlt_graph *g, const dlt_spec *s, dlt_t x, int num_classes, float bn_momentum,
                     float bn_eps, dlt_t *features)
{
    if (features)
        *features = -1;
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    if (xs->ndim != 4) {
        char buf[96];
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "spec: input must be [N, C, H, W] (got %s)",
                              dlt_shape_str(xs, buf, sizeof buf));
    }
    if (num_classes < 1)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "spec: num_classes must be at least 1 (got %d)",
                              num_classes);
    dlt_status st =
        dlt_spec_check_shape(s, (int)xs->dim[1], (int)xs->dim[2], (int)xs->dim[3], NULL, NULL);
    if (st != DLT_OK) {
        char msg[512]; /* dlt_graph_fail may format into dlt_errmsg()'s buffer */
        snprintf(msg, sizeof msg, "%s", dlt_errmsg());
        return dlt_graph_fail(g, st, "%s", msg);
    }
    ctx c = {g, bn_momentum, bn_eps};
    dlt_t prev = x;
    if (s->stem_filters > 0) {
        dlt_scope_push(g, "stem");
        prev = bn_relu(&c, conv(&c, "conv", x, s->stem_filters, 3, 3, 1, 1));
        dlt_scope_pop(g);
    }
    dlt_t h[DLT_SPEC_MAX_LAYERS];
    int size_h = (int)xs->dim[2], size_w = (int)xs->dim[3];
    for (int i = 0; i < s->nlayers; i++) {
        const dlt_spec_layer *l = &s->layer[i];
        dlt_t in[DLT_SPEC_MAX_LAYERS];
        int n = 0;
        /* the skips' pooling belongs to the layer that reads them */
        dlt_scope_pushf(g, "layers.%d", i);
        in[n++] = prev;
        for (int j = 0; j + 1 < i; j++)
            if (l->skip >> j & 1) {
                /* the strides between h_j and h_{i-1}: each needs that many
                 * pixels left (the shape check), so r stays below 2 H */
                int r = 1;
                for (int k = j + 1; k < i; k++)
                    r *= s->layer[k].stride;
                in[n++] = shrink(&c, h[j], r, size_h, size_w);
            }
        h[i] = layer_op(&c, l, n > 1 ? dlt_concat(g, n, in, 1) : prev);
        dlt_scope_pop(g);
        size_h = ceil_div(size_h, l->stride), size_w = ceil_div(size_w, l->stride);
        prev = h[i];
    }
    dlt_t pooled = dlt_global_avgpool2d(g, prev);
    if (features)
        *features = pooled;
    return dlt_nn_linear(g, "fc", pooled, num_classes);
}

dlt_status dlt_spec_measure(const dlt_spec *s, int in_c, int in_h, int in_w, int classes,
                            int64_t *params, double *flops)
{
    *params = 0, *flops = 0;
    dlt_status st = dlt_spec_check_shape(s, in_c, in_h, in_w, NULL, NULL);
    if (st != DLT_OK)
        return st;
    dlt_graph *g = dlt_graph_create(0);
    if (!g)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int64_t dims[4] = {1, in_c, in_h, in_w};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, dims);
    dlt_t y = dlt_spec_build(g, s, x, classes, 0.1f, 1e-5f, NULL);
    if ((st = dlt_graph_status(g)) != DLT_OK) {
        st = dlt_seterr(st, "%s", dlt_graph_errmsg(g));
    } else {
        for (dlt_t v = 0; v < dlt_graph_num_values(g); v++)
            if (dlt_kind_of(g, v) == DLT_VAL_PARAM)
                *params += dlt_shape_numel(dlt_shape_of(g, v));
        *flops = dlt_graph_flops(g, 1, &y);
    }
    dlt_graph_free(g);
    return st;
}
