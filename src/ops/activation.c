/* Activations: ReLU, PReLU, and the builders of the elementwise activations
 * (leaky ReLU, ELU, SELU, GELU, sigmoid, tanh, softplus) whose kernels and
 * derivatives are in unary.c. */
#include <math.h>

#include "dlt_ops.h"
#include "ops_util.h"
#include "unary_impl.h"

static dlt_status same_shape_f32(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "input must be f32");
    for (int i = 1; i < n->nin; i++)
        if (!dlt_shape_equal(&in[0], &in[i]))
            return dlt_seterr(DLT_ERR_SHAPE, "inputs must have the same shape");
    out[0] = in[0];
    return DLT_OK;
}

static double numel_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return (double)dlt_shape_numel(out[0]);
}

static dlt_status relu_cpu(const dlt_kctx *k)
{
    const float *x = k->in[0];
    float *y = k->out[0];
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    /* branch-free select so it vectorises (signs are random: a branch mispredicts
     * half the time); y may alias x (in place), element i reads only x[i] */
#pragma omp parallel for simd schedule(static) num_threads(k->nthreads) if (n > 32768)
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] > 0.f ? x[i] : 0.f;
    return DLT_OK;
}

/* relu_grad(dy, x) = dy * [x > 0]; linear in dy, piecewise constant in x. */
static dlt_status relu_grad_cpu(const dlt_kctx *k)
{
    const float *dy = k->in[0], *x = k->in[1];
    float *dx = k->out[0];
    int64_t n = dlt_shape_numel(k->out_shape[0]);
#pragma omp parallel for simd schedule(static) num_threads(k->nthreads) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float d = dy[i]; /* loaded unconditionally: a conditional load blocks vectorisation */
        dx[i] = x[i] > 0.f ? d : 0.f;
    }
    return DLT_OK;
}

static dlt_status relu_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
const dlt_op_def dlt_op_def_relu_grad = {
    .id = DLT_OP_RELU_GRAD,
    .name = "relu_grad",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = same_shape_f32,
    .grad = relu_grad_grad,
    .cpu = relu_grad_cpu,
    .flops = numel_flops,
    .flags = DLT_OP_INPLACE,
};

static dlt_status relu_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t in[2] = {dy[0], n->in[1]};
    dx[0] = dlt_node_add(g, &dlt_op_def_relu_grad, 2, in, NULL, 0);
    return DLT_OK;
}

static dlt_status relu_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t in[2] = {dy[0], n->in[0]};
    dx[0] = dlt_node_add(g, &dlt_op_def_relu_grad, 2, in, NULL, 0);
    return DLT_OK;
}

const dlt_op_def dlt_op_def_relu = {
    .id = DLT_OP_RELU,
    .name = "relu",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = same_shape_f32,
    .grad = relu_grad,
    .cpu = relu_cpu,
    .flops = numel_flops,
    .flags = DLT_OP_INPLACE,
};

dlt_t dlt_relu(dlt_graph *g, dlt_t x) { return dlt_node_add(g, &dlt_op_def_relu, 1, &x, NULL, 0); }

/* ---------------------------------------------------------------- elementwise activations
 * (the shared derivative machinery is in unary.c) */
dlt_t dlt_leaky_relu(dlt_graph *g, dlt_t x, float slope)
{
    return dlt_ew_apply(g, x, DLT_EW_LEAKY_RELU, slope, 0);
}

dlt_t dlt_elu(dlt_graph *g, dlt_t x, float alpha) { return dlt_ew_apply(g, x, DLT_EW_ELU, alpha, 1); }

/* PyTorch's constants (Klambauer et al. 2017), rounded to f32 as torch does */
dlt_t dlt_selu(dlt_graph *g, dlt_t x)
{
    return dlt_ew_apply(g, x, DLT_EW_SELU, 1.6732632423543772848f, 1.0507009873554804934f);
}

dlt_t dlt_gelu(dlt_graph *g, dlt_t x, dlt_gelu_approx approx)
{
    if (approx != DLT_GELU_EXACT && approx != DLT_GELU_TANH)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "gelu: unknown approximation %d", (int)approx);
    return dlt_ew_apply(g, x, approx == DLT_GELU_TANH ? DLT_EW_GELU_TANH : DLT_EW_GELU, 0, 0);
}

dlt_t dlt_sigmoid(dlt_graph *g, dlt_t x) { return dlt_ew_apply(g, x, DLT_EW_SIGMOID, 0, 0); }
dlt_t dlt_tanh(dlt_graph *g, dlt_t x) { return dlt_ew_apply(g, x, DLT_EW_TANH, 0, 0); }

dlt_t dlt_softplus(dlt_graph *g, dlt_t x, float beta, float threshold)
{
    if (!(beta > 0) || !isfinite(beta))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "softplus: beta must be positive and finite, got %g",
                              (double)beta);
    if (isnan(threshold))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "softplus: threshold must not be NaN");
    return dlt_ew_apply(g, x, DLT_EW_SOFTPLUS, beta, threshold);
}

/* ---------------------------------------------------------------- prelu
 * y = x > 0 ? x : w[c] x, c the index on axis 1 (PyTorch's channel axis; inputs
 * of rank < 2 have one channel), w of 1 or C elements. */
static dlt_status prelu_check(const dlt_shape *x, const dlt_shape *w)
{
    int64_t c = x->ndim >= 2 ? x->dim[1] : 1, wn = dlt_shape_numel(w);
    if (x->dtype != DLT_F32 || w->dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "inputs must be f32");
    if (w->ndim > 1 || (wn != 1 && wn != c))
        return dlt_seterr(DLT_ERR_SHAPE, "weight must be [1] or [%lld] (the channels on axis 1)",
                          (long long)c);
    return DLT_OK;
}

/* prelu(x, w) or prelu_dx(dy, x, w); the output has x's shape */
static dlt_status prelu_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const dlt_shape *x = &in[n->nin - 2], *w = &in[n->nin - 1];
    dlt_status st = prelu_check(x, w);
    if (st != DLT_OK)
        return st;
    if (n->nin == 3 && !dlt_shape_equal(&in[0], x))
        return dlt_seterr(DLT_ERR_SHAPE, "gradient and input must have the same shape");
    out[0] = *x;
    return DLT_OK;
}

/* prelu: y = x > 0 ? x : w x; prelu_dx: y = x > 0 ? dy : w dy (torch's rule at 0).
 * Elementwise, so correct in place. */
static dlt_status prelu_cpu(const dlt_kctx *k)
{
    int nin = k->node->nin;
    const dlt_shape *xs = k->in_shape[nin - 2];
    const float *x = k->in[nin - 2], *w = k->in[nin - 1], *v = k->in[0];
    float *y = k->out[0];
    int64_t n = dlt_shape_numel(xs), c = xs->ndim >= 2 ? xs->dim[1] : 1, inner = 1;
    int64_t wn = dlt_shape_numel(k->in_shape[nin - 1]);
    for (int i = 2; i < xs->ndim; i++)
        inner *= xs->dim[i];
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float wi = wn == 1 ? w[0] : w[inner ? (i / inner) % c : 0];
        y[i] = x[i] > 0.f ? v[i] : wi * v[i];
    }
    return DLT_OK;
}

/* Sum a tensor shaped like x down to w's shape: over every axis but 1, or all. */
static dlt_t prelu_wsum(dlt_graph *g, dlt_t t, dlt_t w)
{
    const dlt_shape *ts = dlt_shape_of(g, t), *ws = dlt_shape_of(g, w);
    int axes[DLT_MAX_DIMS], na = 0;
    if (!ts || !ws)
        return -1;
    if (dlt_shape_numel(ws) > 1)
        for (int i = 0; i < ts->ndim; i++)
            if (i != 1)
                axes[na++] = i;
    dlt_t s = na ? dlt_sum(g, t, na, axes, 0) : dlt_sum(g, t, 0, NULL, 0);
    return dlt_reshape(g, s, ws->ndim, ws->dim);
}

static dlt_status prelu_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
const dlt_op_def dlt_op_def_prelu = {
    .id = DLT_OP_PRELU,
    .name = "prelu",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = prelu_shape,
    .grad = prelu_grad,
    .cpu = prelu_cpu,
    .flops = numel_flops,
    .flags = DLT_OP_INPLACE,
};
const dlt_op_def dlt_op_def_prelu_dx = {
    .id = DLT_OP_PRELU_DX,
    .name = "prelu_dx",
    .nin_min = 3,
    .nin_max = 3,
    .nout = 1,
    .shape = prelu_shape,
    .grad = prelu_grad,
    .cpu = prelu_cpu,
    .flops = numel_flops,
    .flags = DLT_OP_INPLACE,
};

/* prelu(x, w): dx = prelu_dx(dy, x, w), dw = sum(dy * min(x, 0)).
 * prelu_dx(d, x, w): linear in d; piecewise constant in x; dw = sum(dy * d [x <= 0]). */
static dlt_status prelu_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    int nin = n->nin;
    dlt_t x = n->in[nin - 2], w = n->in[nin - 1], in[3] = {dy[0], x, w}, wpart;
    dx[0] = dlt_node_add(g, &dlt_op_def_prelu_dx, 3, in, NULL, 0);
    if (nin == 2)
        wpart = dlt_clamp(g, x, -INFINITY, 0.f);
    else
        wpart = dlt_ew_deriv(g, n->in[0], x, DLT_EW_CLAMP, 1, -INFINITY, 0.f);
    dx[nin - 1] = prelu_wsum(g, dlt_mul(g, dy[0], wpart), w);
    return DLT_OK;
}

dlt_t dlt_prelu(dlt_graph *g, dlt_t x, dlt_t weight)
{
    dlt_t in[2] = {x, weight};
    return dlt_node_add(g, &dlt_op_def_prelu, 2, in, NULL, 0);
}
