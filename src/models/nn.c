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

dlt_t dlt_nn_batch_norm(dlt_graph *g, const char *name, dlt_t x, float momentum, float eps,
                        dlt_init gamma_init)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    int64_t c[1] = {xs->dim[1]};
    if (name)
        dlt_scope_push(g, name);
    dlt_t gamma = dlt_param(g, "weight", 1, c, gamma_init);
    dlt_t beta = dlt_param(g, "bias", 1, c, dlt_init_const(0));
    dlt_t rm = dlt_buffer(g, "running_mean", 1, c, dlt_init_const(0));
    dlt_t rv = dlt_buffer(g, "running_var", 1, c, dlt_init_const(1));
    dlt_t y = dlt_batch_norm(g, x, gamma, beta, rm, rv, momentum, eps);
    if (name)
        dlt_scope_pop(g);
    return y;
}

dlt_t dlt_nn_bn(dlt_graph *g, const char *name, dlt_t x, const dlt_model_spec *s, int zero_gamma)
{
    return dlt_nn_batch_norm(g, name, x, s->bn_momentum, s->bn_eps, dlt_init_const(zero_gamma ? 0.0 : 1.0));
}

dlt_t dlt_nn_frozen_bn(dlt_graph *g, const char *name, dlt_t x, float eps)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    if (xs->ndim < 2)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: frozen batch norm input must be [N, C, ...]", name);
    int64_t c[1] = {xs->dim[1]}, bc[DLT_MAX_DIMS]; /* [1, C, 1, ...]: broadcast over the rest */
    for (int i = 0; i < xs->ndim; i++)
        bc[i] = i == 1 ? xs->dim[1] : 1;
    dlt_scope_push(g, name);
    dlt_t w = dlt_buffer(g, "weight", 1, c, dlt_init_const(1));
    dlt_t b = dlt_buffer(g, "bias", 1, c, dlt_init_const(0));
    dlt_t rm = dlt_buffer(g, "running_mean", 1, c, dlt_init_const(0));
    dlt_t rv = dlt_buffer(g, "running_var", 1, c, dlt_init_const(1));
    dlt_scope_pop(g);
    dlt_t scale = dlt_mul(g, w, dlt_rsqrt(g, dlt_affine(g, rv, 1.f, eps)));
    dlt_t shift = dlt_sub(g, b, dlt_mul(g, rm, scale));
    return dlt_add(g, dlt_mul(g, x, dlt_reshape(g, scale, xs->ndim, bc)), dlt_reshape(g, shift, xs->ndim, bc));
}

dlt_t dlt_nn_norm(dlt_graph *g, const char *name, dlt_t x, const dlt_model_spec *s, int zero_gamma)
{
    if (s->norm == 'f')
        return dlt_nn_frozen_bn(g, name, x, s->bn_eps);
    if (s->norm != 'g')
        return dlt_nn_bn(g, name, x, s, zero_gamma);
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    int64_t c[1] = {xs->dim[1]};
    dlt_scope_push(g, name);
    dlt_t gamma = dlt_param(g, "weight", 1, c, dlt_init_const(zero_gamma ? 0.0 : 1.0));
    dlt_t beta = dlt_param(g, "bias", 1, c, dlt_init_const(0));
    dlt_scope_pop(g);
    return dlt_group_norm(g, x, 32, gamma, beta, s->bn_eps);
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
