/* Named layers with the initialisers torchvision's models use. */
#include <math.h>

#include "dlt_models.h"
#include "dlt_ops.h"

dlt_t dlt_nn_conv(dlt_graph *g, const char *name, dlt_t x, int out_c, int k, int stride, int pad,
                  int bias)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s || s->ndim != 4)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: conv input must be [N, C, H, W]", name);
    int64_t ws[4] = {out_c, s->dim[1], k, k}, bs[1] = {out_c};
    dlt_scope_push(g, name);
    /* as torchvision's resnets and vggs initialise their convs: kaiming normal
     * (fan_out, relu gain), bias zero */
    dlt_t w = dlt_param(g, "weight", 4, ws, dlt_init_kaiming(DLT_INIT_KAIMING_NORMAL, DLT_FAN_OUT, sqrt(2.0)));
    dlt_t b = bias ? dlt_param(g, "bias", 1, bs, dlt_init_const(0)) : -1;
    dlt_conv2d_opts o = {.stride = {stride, stride}, .padding = {pad, pad}};
    dlt_t y = dlt_conv2d(g, x, w, b, &o);
    dlt_scope_pop(g);
    return y;
}

/* y = relu?(y + residual?), as separate ops (norms without a fused epilogue) */
static dlt_t epilogue(dlt_graph *g, dlt_t y, dlt_t residual, int relu)
{
    if (residual >= 0)
        y = dlt_add(g, y, residual);
    return relu ? dlt_relu(g, y) : y;
}

static void bn_params(dlt_graph *g, const char *name, int64_t C, dlt_init gamma_init, dlt_nn_norm_layer *l)
{
    int64_t c[1] = {C};
    if (name)
        dlt_scope_push(g, name);
    l->w = dlt_param(g, "weight", 1, c, gamma_init);
    l->b = dlt_param(g, "bias", 1, c, dlt_init_const(0));
    l->rm = dlt_buffer(g, "running_mean", 1, c, dlt_init_const(0));
    l->rv = dlt_buffer(g, "running_var", 1, c, dlt_init_const(1));
    if (name)
        dlt_scope_pop(g);
}

dlt_t dlt_nn_batch_norm_act(dlt_graph *g, const char *name, dlt_t x, float momentum, float eps,
                            dlt_init gamma_init, dlt_t residual, int relu)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    dlt_nn_norm_layer l;
    bn_params(g, name, xs->dim[1], gamma_init, &l);
    return dlt_batch_norm_act(g, x, l.w, l.b, l.rm, l.rv, momentum, eps, residual, relu ? DLT_ACT_RELU : DLT_ACT_NONE);
}

dlt_t dlt_nn_batch_norm(dlt_graph *g, const char *name, dlt_t x, float momentum, float eps,
                        dlt_init gamma_init)
{
    return dlt_nn_batch_norm_act(g, name, x, momentum, eps, gamma_init, -1, 0);
}

dlt_t dlt_nn_bn(dlt_graph *g, const char *name, dlt_t x, const dlt_model_spec *s, int zero_gamma)
{
    return dlt_nn_batch_norm(g, name, x, s->bn_momentum, s->bn_eps, dlt_init_const(zero_gamma ? 0.0 : 1.0));
}

static void frozen_params(dlt_graph *g, const char *name, int64_t C, dlt_nn_norm_layer *l)
{
    int64_t c[1] = {C};
    dlt_scope_push(g, name);
    l->w = dlt_buffer(g, "weight", 1, c, dlt_init_const(1));
    l->b = dlt_buffer(g, "bias", 1, c, dlt_init_const(0));
    l->rm = dlt_buffer(g, "running_mean", 1, c, dlt_init_const(0));
    l->rv = dlt_buffer(g, "running_var", 1, c, dlt_init_const(1));
    dlt_scope_pop(g);
}

static dlt_t frozen_apply(dlt_graph *g, const dlt_nn_norm_layer *l)
{
    const dlt_shape *xs = dlt_shape_of(g, l->x);
    if (!xs)
        return -1;
    int64_t bc[DLT_MAX_DIMS]; /* [1, C, 1, ...]: broadcast over the rest */
    for (int i = 0; i < xs->ndim; i++)
        bc[i] = i == 1 ? xs->dim[1] : 1;
    dlt_t scale = dlt_mul(g, l->w, dlt_rsqrt(g, dlt_affine(g, l->rv, 1.f, l->eps)));
    dlt_t shift = dlt_sub(g, l->b, dlt_mul(g, l->rm, scale));
    return dlt_add(g, dlt_mul(g, l->x, dlt_reshape(g, scale, xs->ndim, bc)), dlt_reshape(g, shift, xs->ndim, bc));
}

dlt_t dlt_nn_frozen_bn(dlt_graph *g, const char *name, dlt_t x, float eps)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    if (xs->ndim < 2)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: frozen batch norm input must be [N, C, ...]", name);
    dlt_nn_norm_layer l = {.kind = 'f', .x = x, .eps = eps};
    frozen_params(g, name, xs->dim[1], &l);
    return frozen_apply(g, &l);
}

int dlt_nn_norm_begin(dlt_graph *g, const char *name, dlt_t x, const dlt_model_spec *s, int zero_gamma,
                      dlt_nn_norm_layer *l)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return 0;
    if (xs->ndim < 2) {
        dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: normalisation input must be [N, C, ...]", name);
        return 0;
    }
    int64_t C = xs->dim[1];
    l->kind = s->norm == 'f' || s->norm == 'g' ? s->norm : 'b';
    l->x = x, l->momentum = s->bn_momentum, l->eps = s->bn_eps;
    l->rm = l->rv = -1;
    if (l->kind == 'f') {
        frozen_params(g, name, C, l);
    } else if (l->kind == 'b') {
        bn_params(g, name, C, dlt_init_const(zero_gamma ? 0.0 : 1.0), l);
    } else {
        int64_t c[1] = {C};
        dlt_scope_push(g, name);
        l->w = dlt_param(g, "weight", 1, c, dlt_init_const(zero_gamma ? 0.0 : 1.0));
        l->b = dlt_param(g, "bias", 1, c, dlt_init_const(0));
        dlt_scope_pop(g);
    }
    return dlt_graph_status(g) == DLT_OK;
}

dlt_t dlt_nn_norm_end(dlt_graph *g, const dlt_nn_norm_layer *l, dlt_t residual, int relu)
{
    if (l->kind == 'b')
        return dlt_batch_norm_act(g, l->x, l->w, l->b, l->rm, l->rv, l->momentum, l->eps, residual,
                                  relu ? DLT_ACT_RELU : DLT_ACT_NONE);
    dlt_t y = l->kind == 'f' ? frozen_apply(g, l) : dlt_group_norm(g, l->x, 32, l->w, l->b, l->eps);
    return epilogue(g, y, residual, relu);
}

dlt_t dlt_nn_norm_act(dlt_graph *g, const char *name, dlt_t x, const dlt_model_spec *s, int zero_gamma,
                      dlt_t residual, int relu)
{
    dlt_nn_norm_layer l;
    if (!dlt_nn_norm_begin(g, name, x, s, zero_gamma, &l))
        return -1;
    return dlt_nn_norm_end(g, &l, residual, relu);
}

dlt_t dlt_nn_norm(dlt_graph *g, const char *name, dlt_t x, const dlt_model_spec *s, int zero_gamma)
{
    return dlt_nn_norm_act(g, name, x, s, zero_gamma, -1, 0);
}

dlt_t dlt_nn_linear(dlt_graph *g, const char *name, dlt_t x, int out)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    int64_t in = s->dim[s->ndim - 1], ws[2] = {out, in}, bs[1] = {out};
    double bound = 1.0 / sqrt((double)in); /* torch.nn.Linear default */
    dlt_scope_push(g, name);
    dlt_t w = dlt_param(g, "weight", 2, ws, dlt_init_uniform(-bound, bound));
    dlt_t b = dlt_param(g, "bias", 1, bs, dlt_init_uniform(-bound, bound));
    dlt_t y = dlt_linear(g, x, w, b);
    dlt_scope_pop(g);
    return y;
}
