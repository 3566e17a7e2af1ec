/* Indexing with i32 indices: take (index_select / embedding lookup) and
 * gather (torch.gather), and their adjoints, scatter-adds. The adjoints are
 * deterministic without atomics: each task owns a block of output columns and
 * adds the contributions in index order, so results do not even depend on the
 * thread count. Indices out of range fail the step with the offending position. */
#include <string.h>

#include "dlt_ops.h"
#include "ops_util.h"
#include "shape_impl.h"
#include "shape_util.h"

/* columns per scatter task: long enough rows for the vector unit, enough tasks
 * to share among threads */
#define SCATTER_BLOCK 64

static dlt_status check_indices(const int32_t *idx, int64_t m, int64_t n)
{
    for (int64_t i = 0; i < m; i++)
        if (idx[i] < 0 || idx[i] >= n)
            return dlt_seterr(DLT_ERR_INVALID, "index %d at position %lld is out of range [0, %lld)",
                              (int)idx[i], (long long)i, (long long)n);
    return DLT_OK;
}

/* ---------------------------------------------------------------- take */
/* y = x[..., idx, ...]: x [outer, n, inner], idx any shape [K...], y [outer, K..., inner]. */
static dlt_status take_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    int ax = DLT_CATTR(n, idx_attr)->axis;
    if (in[1].dtype != DLT_I32)
        return dlt_seterr(DLT_ERR_DTYPE, "indices must be i32, got %s", dlt_dtype_name(in[1].dtype));
    if (ax < 0 || ax >= in[0].ndim)
        return dlt_seterr(DLT_ERR_SHAPE, "axis %d out of range", ax);
    if (in[0].ndim - 1 + in[1].ndim > DLT_MAX_DIMS)
        return dlt_seterr(DLT_ERR_SHAPE, "result would have rank %d > %d", in[0].ndim - 1 + in[1].ndim,
                          DLT_MAX_DIMS);
    out[0] = in[0];
    out[0].ndim = 0;
    for (int i = 0; i < ax; i++)
        out[0].dim[out[0].ndim++] = in[0].dim[i];
    for (int i = 0; i < in[1].ndim; i++)
        out[0].dim[out[0].ndim++] = in[1].dim[i];
    for (int i = ax + 1; i < in[0].ndim; i++)
        out[0].dim[out[0].ndim++] = in[0].dim[i];
    return DLT_OK;
}

static dlt_status take_cpu(const dlt_kctx *k)
{
    int ax = DLT_CATTR(k->node, idx_attr)->axis;
    const dlt_shape *sx = k->in_shape[0];
    const int32_t *idx = k->in[1];
    int64_t m = dlt_shape_numel(k->in_shape[1]), n = sx->dim[ax];
    int64_t outer = dlt_dims_prod(sx, 0, ax), inner = dlt_dims_prod(sx, ax + 1, sx->ndim);
    size_t esz = dlt_dtype_size(sx->dtype), row = (size_t)inner * esz;
    dlt_status st = check_indices(idx, m, n);
    if (st != DLT_OK)
        return st;
    const char *x = k->in[0];
    char *y = k->out[0];
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (outer * m * inner > 32768)
    for (int64_t r = 0; r < outer * m; r++) {
        int64_t o = r / m, j = r % m;
        memcpy(y + (size_t)r * row, x + (size_t)(o * n + idx[j]) * row, row);
    }
    return DLT_OK;
}

/* dx [outer, n, inner] = sum over j of dy [outer, j, inner] into row idx[j]. */
static dlt_status take_grad_cpu(const dlt_kctx *k)
{
    const idx_attr *a = DLT_CATTR(k->node, idx_attr);
    const dlt_shape *sx = k->out_shape[0];
    const float *dy = k->in[0];
    const int32_t *idx = k->in[1];
    float *dx = k->out[0];
    int64_t m = dlt_shape_numel(k->in_shape[1]), n = a->n;
    int64_t outer = dlt_dims_prod(sx, 0, a->axis), inner = dlt_dims_prod(sx, a->axis + 1, sx->ndim);
    int64_t nblk = (inner + SCATTER_BLOCK - 1) / SCATTER_BLOCK;
    dlt_status st = check_indices(idx, m, n);
    if (st != DLT_OK)
        return st;
    memset(dx, 0, (size_t)dlt_shape_numel(sx) * sizeof *dx);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (outer * m * inner > 32768)
    for (int64_t t = 0; t < outer * nblk; t++) {
        int64_t o = t / nblk, c0 = (t % nblk) * SCATTER_BLOCK;
        int64_t c1 = c0 + SCATTER_BLOCK < inner ? c0 + SCATTER_BLOCK : inner;
        for (int64_t j = 0; j < m; j++) {
            const float *src = dy + (o * m + j) * inner;
            float *dst = dx + (o * n + idx[j]) * inner;
            for (int64_t c = c0; c < c1; c++)
                dst[c] += src[c];
        }
    }
    return DLT_OK;
}

/* shape of x: dy's dims with the index dims replaced by n */
static dlt_status take_grad_shape(const dlt_node *nd, const dlt_shape *in, dlt_shape *out)
{
    const idx_attr *a = DLT_CATTR(nd, idx_attr);
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "gradient must be f32");
    if (in[1].dtype != DLT_I32)
        return dlt_seterr(DLT_ERR_DTYPE, "indices must be i32, got %s", dlt_dtype_name(in[1].dtype));
    int rest = in[0].ndim - a->axis - in[1].ndim;
    if (rest < 0)
        return dlt_seterr(DLT_ERR_SHAPE, "gradient rank too small");
    out[0] = in[0];
    out[0].ndim = a->axis + 1 + rest;
    out[0].dim[a->axis] = a->n;
    for (int i = 0; i < rest; i++)
        out[0].dim[a->axis + 1 + i] = in[0].dim[a->axis + in[1].ndim + i];
    return DLT_OK;
}

static double scatter_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return (double)dlt_shape_numel(in[0]);
}

static dlt_status take_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status take_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

const dlt_op_def dlt_op_def_take = {
    .id = DLT_OP_TAKE,
    .name = "take",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = take_shape,
    .grad = take_grad,
    .cpu = take_cpu,
};
/* the same op under the name models and summaries use for token lookups */
const dlt_op_def dlt_op_def_embedding = {
    .id = DLT_OP_EMBEDDING,
    .name = "embedding",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = take_shape,
    .grad = take_grad,
    .cpu = take_cpu,
};
const dlt_op_def dlt_op_def_take_grad = {
    .id = DLT_OP_TAKE_GRAD,
    .name = "take_grad",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = take_grad_shape,
    .grad = take_grad_grad,
    .cpu = take_grad_cpu,
    .flops = scatter_flops,
};

static dlt_status take_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    idx_attr a = *DLT_CATTR(n, idx_attr);
    a.n = dlt_shape_of(g, n->in[0])->dim[a.axis];
    dlt_t in[2] = {dy[0], n->in[1]};
    dx[0] = dlt_node_add(g, &dlt_op_def_take_grad, 2, in, &a, sizeof a);
    return DLT_OK;
}

static dlt_status take_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    idx_attr a = *DLT_CATTR(n, idx_attr);
    dlt_t in[2] = {dy[0], n->in[1]};
    dx[0] = dlt_node_add(g, &dlt_op_def_take, 2, in, &a, sizeof a);
    return DLT_OK;
}

dlt_t dlt_index_select(dlt_graph *g, dlt_t x, int axis, dlt_t idx)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    idx_attr a = {dlt_axis(axis, s->ndim), 0};
    if (a.axis < 0)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "index_select: axis %d out of range for '%s' of rank %d",
                              axis, dlt_name_of(g, x), s->ndim);
    a.n = s->dim[a.axis];
    dlt_t in[2] = {x, idx};
    return dlt_node_add(g, &dlt_op_def_take, 2, in, &a, sizeof a);
}

dlt_t dlt_embedding(dlt_graph *g, dlt_t table, dlt_t ids)
{
    const dlt_shape *s = dlt_shape_of(g, table);
    if (!s)
        return -1;
    if (s->ndim != 2)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "embedding: table '%s' must have rank 2 [V, D], got rank %d",
                              dlt_name_of(g, table), s->ndim);
    idx_attr a = {0, s->dim[0]};
    dlt_t in[2] = {table, ids};
    return dlt_node_add(g, &dlt_op_def_embedding, 2, in, &a, sizeof a);
}

/* ---------------------------------------------------------------- gather */
/* torch.gather: idx has x's shape except along axis; y[o, j, i] = x[o, idx[o, j, i], i]. */
static dlt_status gather_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const idx_attr *a = DLT_CATTR(n, idx_attr);
    const dlt_shape *x = &in[0], *ix = &in[1];
    if (ix->dtype != DLT_I32)
        return dlt_seterr(DLT_ERR_DTYPE, "indices must be i32, got %s", dlt_dtype_name(ix->dtype));
    if (x->ndim != ix->ndim)
        return dlt_seterr(DLT_ERR_SHAPE, "indices must have the input's rank");
    for (int i = 0; i < x->ndim; i++)
        if (i != a->axis && x->dim[i] != ix->dim[i])
            return dlt_seterr(DLT_ERR_SHAPE, "indices must match the input outside axis %d", a->axis);
    if (x->dim[a->axis] != a->n)
        return dlt_seterr(DLT_ERR_SHAPE, "axis %d must have size %lld", a->axis, (long long)a->n);
    out[0] = *ix;
    out[0].dtype = x->dtype;
    return DLT_OK;
}

static dlt_status gather_cpu(const dlt_kctx *k)
{
    const idx_attr *a = DLT_CATTR(k->node, idx_attr);
    const dlt_shape *si = k->in_shape[1];
    const int32_t *idx = k->in[1];
    int64_t m = si->dim[a->axis], n = a->n, total = dlt_shape_numel(si);
    int64_t inner = dlt_dims_prod(si, a->axis + 1, si->ndim);
    size_t esz = dlt_dtype_size(k->in_shape[0]->dtype);
    dlt_status st = check_indices(idx, total, n);
    if (st != DLT_OK)
        return st;
    const char *x = k->in[0];
    char *y = k->out[0];
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (total > 32768)
    for (int64_t e = 0; e < total; e++) {
        int64_t o = e / (m * inner), i = e % inner;
        memcpy(y + (size_t)e * esz, x + (size_t)((o * n + idx[e]) * inner + i) * esz, esz);
    }
    return DLT_OK;
}

static dlt_status scatter_shape(const dlt_node *nd, const dlt_shape *in, dlt_shape *out)
{
    const idx_attr *a = DLT_CATTR(nd, idx_attr);
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "gradient must be f32");
    if (in[1].dtype != DLT_I32)
        return dlt_seterr(DLT_ERR_DTYPE, "indices must be i32, got %s", dlt_dtype_name(in[1].dtype));
    if (!(in[0].ndim == in[1].ndim && dlt_shape_numel(&in[0]) == dlt_shape_numel(&in[1])))
        return dlt_seterr(DLT_ERR_SHAPE, "gradient and indices differ in shape");
    out[0] = in[0];
    out[0].dim[a->axis] = a->n;
    return DLT_OK;
}

/* dx[o, c, i] = sum over j (ascending) of dy[o, j, i] where idx[o, j, i] == c */
static dlt_status scatter_cpu(const dlt_kctx *k)
{
    const idx_attr *a = DLT_CATTR(k->node, idx_attr);
    const dlt_shape *si = k->in_shape[1];
    const float *dy = k->in[0];
    const int32_t *idx = k->in[1];
    float *dx = k->out[0];
    int64_t m = si->dim[a->axis], n = a->n, total = dlt_shape_numel(si);
    int64_t outer = dlt_dims_prod(si, 0, a->axis), inner = dlt_dims_prod(si, a->axis + 1, si->ndim);
    int64_t nblk = (inner + SCATTER_BLOCK - 1) / SCATTER_BLOCK;
    dlt_status st = check_indices(idx, total, n);
    if (st != DLT_OK)
        return st;
    memset(dx, 0, (size_t)dlt_shape_numel(k->out_shape[0]) * sizeof *dx);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (total > 32768)
    for (int64_t t = 0; t < outer * nblk; t++) {
        int64_t o = t / nblk, c0 = (t % nblk) * SCATTER_BLOCK;
        int64_t c1 = c0 + SCATTER_BLOCK < inner ? c0 + SCATTER_BLOCK : inner;
        for (int64_t j = 0; j < m; j++) {
            int64_t base = (o * m + j) * inner;
            for (int64_t c = c0; c < c1; c++)
                dx[(o * n + idx[base + c]) * inner + c] += dy[base + c];
        }
    }
    return DLT_OK;
}

static dlt_status gather_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status scatter_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

const dlt_op_def dlt_op_def_gather = {
    .id = DLT_OP_GATHER,
    .name = "gather",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = gather_shape,
    .grad = gather_grad,
    .cpu = gather_cpu,
};
const dlt_op_def dlt_op_def_scatter_add = {
    .id = DLT_OP_SCATTER_ADD,
    .name = "scatter_add",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = scatter_shape,
    .grad = scatter_grad,
    .cpu = scatter_cpu,
    .flops = scatter_flops,
};

static dlt_status gather_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t in[2] = {dy[0], n->in[1]};
    dx[0] = dlt_node_add(g, &dlt_op_def_scatter_add, 2, in, n->attr, sizeof(idx_attr));
    return DLT_OK;
}

static dlt_status scatter_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t in[2] = {dy[0], n->in[1]};
    dx[0] = dlt_node_add(g, &dlt_op_def_gather, 2, in, n->attr, sizeof(idx_attr));
    return DLT_OK;
}

dlt_t dlt_gather(dlt_graph *g, dlt_t x, int axis, dlt_t idx)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    idx_attr a = {dlt_axis(axis, s->ndim), 0};
    if (a.axis < 0)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "gather: axis %d out of range for '%s' of rank %d", axis,
                              dlt_name_of(g, x), s->ndim);
    a.n = s->dim[a.axis];
    dlt_t in[2] = {x, idx};
    return dlt_node_add(g, &dlt_op_def_gather, 2, in, &a, sizeof a);
}
