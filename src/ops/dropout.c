/* Dropout with inverted scaling. The mask is never stored: element i is kept
 * when dlt_rng_uniform(seed, stream, i) >= p, with the stream mixing the
 * builder's per-node id and the training step, so the backward op (the same
 * op with the same attributes, applied to dy) and the GPU backend recompute
 * exactly the same mask. Dropout is linear in x, so its gradient rule is
 * itself and every order of differentiation works. */
#include "dlt_ops.h"
#include "dropout_impl.h"
#include "vmath.h"

#define DROP_BLOCK 1024
#include "ops_util.h"

static dlt_status dropout_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "input must be f32");
    out[0] = in[0];
    return DLT_OK;
}

static dlt_status dropout_cpu(const dlt_kctx *k)
{
    const dropout_attr *a = DLT_CATTR(k->node, dropout_attr);
    const float *x = k->in[0];
    float *y = k->out[0];
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    if (!k->training || a->p == 0.f) {
        if (y != x) {
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > 32768)
            for (int64_t i = 0; i < n; i++)
                y[i] = x[i];
        }
        return DLT_OK;
    }
    uint64_t stream = dlt_dropout_stream(a->id, k->step), seed = k->seed;
    float p = a->p, scale = 1.0f / (1.0f - p);
    const dlt_vmath_ops *vm = dlt_vmath();
    if (!vm) { /* DLT_CPU_ISA=libm: one scalar draw per element */
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > 8192)
        for (int64_t i = 0; i < n; i++)
            y[i] = dlt_rng_uniform(seed, stream, (uint64_t)i) >= p ? x[i] * scale : 0.f;
        return DLT_OK;
    }
    /* the same draws and products, a block at a time on the vector path */
    int64_t nb = (n + DROP_BLOCK - 1) / DROP_BLOCK;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > 8192)
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * DROP_BLOCK, len = n - i0 < DROP_BLOCK ? n - i0 : DROP_BLOCK;
        vm->dropout(seed, stream, (uint64_t)i0, len, p, scale, x + i0, y + i0);
    }
    return DLT_OK;
}

static dlt_status dropout_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static double dropout_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return (double)dlt_shape_numel(out[0]);
}
const dlt_op_def dlt_op_def_dropout = {
    .id = DLT_OP_DROPOUT,
    .name = "dropout",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = dropout_shape,
    .grad = dropout_grad,
    .cpu = dropout_cpu,
    .flops = dropout_flops,
    .flags = DLT_OP_INPLACE,
};

static dlt_status dropout_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = dlt_node_add(g, &dlt_op_def_dropout, 1, &dy[0], n->attr, sizeof(dropout_attr));
    return DLT_OK;
}

dlt_t dlt_dropout(dlt_graph *g, dlt_t x, float p)
{
    if (!(p >= 0.f && p < 1.f))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "dropout: p must be in [0, 1), got %g", (double)p);
    if (!dlt_shape_of(g, x))
        return -1;
    dropout_attr a = {p, (uint64_t)dlt_graph_num_nodes(g) + 1};
    return dlt_node_add(g, &dlt_op_def_dropout, 1, &x, &a, sizeof a);
}
