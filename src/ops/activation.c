/* Activations: ReLU (more in the activation family). */
#include "dlt_ops.h"
#include "ops_util.h"

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
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > 32768)
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
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > 32768)
    for (int64_t i = 0; i < n; i++)
        dx[i] = x[i] > 0.f ? dy[i] : 0.f;
    return DLT_OK;
}

static dlt_status relu_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static const dlt_op_def op_relu_grad = {"relu_grad", 2, 2, 1, same_shape_f32, relu_grad_grad,
                                        relu_grad_cpu, NULL, numel_flops, DLT_OP_INPLACE};

static dlt_status relu_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t in[2] = {dy[0], n->in[1]};
    dx[0] = dlt_node_add(g, &op_relu_grad, 2, in, NULL, 0);
    return DLT_OK;
}

static dlt_status relu_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t in[2] = {dy[0], n->in[0]};
    dx[0] = dlt_node_add(g, &op_relu_grad, 2, in, NULL, 0);
    return DLT_OK;
}

static const dlt_op_def op_relu = {"relu", 1, 1, 1, same_shape_f32, relu_grad, relu_cpu, NULL,
                                   numel_flops, DLT_OP_INPLACE};

dlt_t dlt_relu(dlt_graph *g, dlt_t x) { return dlt_node_add(g, &op_relu, 1, &x, NULL, 0); }
