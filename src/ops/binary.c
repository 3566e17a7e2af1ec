/* Elementwise binary arithmetic with broadcasting: add, sub, mul, div; affine. */
#include "dlt_ops.h"
#include "binary_impl.h"
#include "ops_util.h"

static dlt_status bin_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    if (in[0].dtype != DLT_F32 || in[1].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "inputs must be f32");
    return dlt_broadcast_shape(&in[0], &in[1], &out[0]);
}

/* One row piece of n elements. The inner stride of a or b is 1 or 0 after
 * coalescing, so there are three loop shapes per operation, each a plain
 * `omp simd` loop (GCC vectorises these at -O2). y may be a (in place): each
 * element is read before it is written at the same index, so no restrict. */
#define BIN_ROW(OP)                                                                                          \
    do {                                                                                                     \
        if (sa && sb) {                                                                                      \
            _Pragma("omp simd") for (int64_t c = 0; c < n; c++) py[c] = pa[c] OP pb[c];                     \
        } else if (sa) {                                                                                     \
            float bv = pb[0];                                                                                \
            _Pragma("omp simd") for (int64_t c = 0; c < n; c++) py[c] = pa[c] OP bv;                        \
        } else if (sb) {                                                                                     \
            float av = pa[0];                                                                                \
            _Pragma("omp simd") for (int64_t c = 0; c < n; c++) py[c] = av OP pb[c];                        \
        } else {                                                                                             \
            for (int64_t c = 0; c < n; c++)                                                                  \
                py[c] = pa[0] OP pb[0];                                                                      \
        }                                                                                                    \
    } while (0)

static void bin_row(int kind, const float *pa, int64_t sa, const float *pb, int64_t sb, float *py, int64_t n)
{
    switch (kind) {
    case BIN_ADD:
        BIN_ROW(+);
        break;
    case BIN_SUB:
        BIN_ROW(-);
        break;
    case BIN_MUL:
        BIN_ROW(*);
        break;
    default:
        BIN_ROW(/);
        break;
    }
}

static dlt_status bin_cpu(const dlt_kctx *k)
{
    const float *a = k->in[0], *b = k->in[1];
    float *y = k->out[0];
    int kind = DLT_CATTR(k->node, bin_attr)->kind;
    dlt_bcast_iter it;
    dlt_bcast_init(&it, k->in_shape[0], k->in_shape[1], k->out_shape[0]);
    int64_t sa = dlt_bcast_sa(&it), sb = dlt_bcast_sb(&it);
    dlt_ew_split sp = dlt_ew_split_make(it.rows, it.cols, k->nthreads);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (it.rows * it.cols > DLT_EW_PAR_MIN)
    for (int64_t t = 0; t < sp.ntasks; t++) {
        int64_t r, c0, len, oa, ob;
        dlt_ew_task(&sp, t, &r, &c0, &len);
        dlt_bcast_row(&it, r, &oa, &ob);
        bin_row(kind, a + oa + c0 * sa, sa, b + ob + c0 * sb, sb, y + r * it.cols + c0, len);
    }
    return DLT_OK;
}

static dlt_status bin_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t a = n->in[0], b = n->in[1], y = n->out[0];
    const dlt_shape *sa = dlt_shape_of(g, a), *sb = dlt_shape_of(g, b);
    switch (DLT_CATTR(n, bin_attr)->kind) {
    case BIN_ADD:
        dx[0] = dlt_sum_to(g, dy[0], sa);
        dx[1] = dlt_sum_to(g, dy[0], sb);
        break;
    case BIN_SUB:
        dx[0] = dlt_sum_to(g, dy[0], sa);
        dx[1] = dlt_sum_to(g, dlt_affine(g, dy[0], -1.f, 0.f), sb);
        break;
    case BIN_MUL:
        dx[0] = dlt_sum_to(g, dlt_mul(g, dy[0], b), sa);
        dx[1] = dlt_sum_to(g, dlt_mul(g, dy[0], a), sb);
        break;
    default: /* y = a / b: da = dy / b, db = -dy * y / b */
        dx[0] = dlt_sum_to(g, dlt_div(g, dy[0], b), sa);
        dx[1] = dlt_sum_to(g, dlt_affine(g, dlt_div(g, dlt_mul(g, dy[0], y), b), -1.f, 0.f), sb);
        break;
    }
    return DLT_OK;
}

static double bin_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return (double)dlt_shape_numel(out[0]);
}

const dlt_op_def dlt_op_def_add = {
    .id = DLT_OP_ADD,
    .name = "add",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = bin_shape,
    .grad = bin_grad,
    .cpu = bin_cpu,
    .flops = bin_flops,
    .flags = DLT_OP_INPLACE | DLT_OP_INPLACE_ANY,
};
const dlt_op_def dlt_op_def_sub = {
    .id = DLT_OP_SUB,
    .name = "sub",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = bin_shape,
    .grad = bin_grad,
    .cpu = bin_cpu,
    .flops = bin_flops,
    .flags = DLT_OP_INPLACE | DLT_OP_INPLACE_ANY,
};
const dlt_op_def dlt_op_def_mul = {
    .id = DLT_OP_MUL,
    .name = "mul",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = bin_shape,
    .grad = bin_grad,
    .cpu = bin_cpu,
    .flops = bin_flops,
    .flags = DLT_OP_INPLACE | DLT_OP_INPLACE_ANY,
};
const dlt_op_def dlt_op_def_div = {
    .id = DLT_OP_DIV,
    .name = "div",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = bin_shape,
    .grad = bin_grad,
    .cpu = bin_cpu,
    .flops = bin_flops,
    .flags = DLT_OP_INPLACE | DLT_OP_INPLACE_ANY,
};

static dlt_t binary(dlt_graph *g, const dlt_op_def *op, int kind, dlt_t a, dlt_t b)
{
    bin_attr at = {kind};
    dlt_t in[2] = {a, b};
    return dlt_node_add(g, op, 2, in, &at, sizeof at);
}

dlt_t dlt_add(dlt_graph *g, dlt_t a, dlt_t b) { return binary(g, &dlt_op_def_add, BIN_ADD, a, b); }
dlt_t dlt_sub(dlt_graph *g, dlt_t a, dlt_t b) { return binary(g, &dlt_op_def_sub, BIN_SUB, a, b); }
dlt_t dlt_mul(dlt_graph *g, dlt_t a, dlt_t b) { return binary(g, &dlt_op_def_mul, BIN_MUL, a, b); }
dlt_t dlt_div(dlt_graph *g, dlt_t a, dlt_t b) { return binary(g, &dlt_op_def_div, BIN_DIV, a, b); }

/* ---------------------------------------------------------------- affine */

static dlt_status affine_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "input must be f32");
    out[0] = in[0];
    return DLT_OK;
}

static dlt_status affine_cpu(const dlt_kctx *k)
{
    const affine_attr *a = DLT_CATTR(k->node, affine_attr);
    const float *x = k->in[0];
    float *y = k->out[0], s = a->s, t = a->t;
    int64_t n = dlt_shape_numel(k->out_shape[0]);
#pragma omp parallel for simd schedule(static) num_threads(k->nthreads) if (n > DLT_EW_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * s + t;
    return DLT_OK;
}

static dlt_status affine_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = dlt_affine(g, dy[0], DLT_CATTR(n, affine_attr)->s, 0.f);
    return DLT_OK;
}

const dlt_op_def dlt_op_def_affine = {
    .id = DLT_OP_AFFINE,
    .name = "affine",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = affine_shape,
    .grad = affine_grad,
    .cpu = affine_cpu,
    .flops = bin_flops,
    .flags = DLT_OP_INPLACE,
};

dlt_t dlt_affine(dlt_graph *g, dlt_t a, float s, float t)
{
    affine_attr at = {s, t};
    return dlt_node_add(g, &dlt_op_def_affine, 1, &a, &at, sizeof at);
}
