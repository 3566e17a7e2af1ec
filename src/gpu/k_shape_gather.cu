// GPU kernels of the shape family's indexing ops (src/ops/shape_gather.c):
// take (index_select) and embedding, their adjoint take_grad, gather (torch.gather)
// and its adjoint scatter_add.
#include <stdint.h>

#include "gpu_impl.h"
#include "shape_impl.h"
#include "shape_util.h"

#define THREADS 256

// ---------------------------------------------------------------- take / gather
// The CPU fails the step on an index out of [0, n) before writing anything. A
// kernel cannot, so here such an index reads as zeros (take, embedding,
// gather) or adds nothing (take_grad, scatter_add), and the first one met is
// noted in the device's input-error flag (gpu_flag.h) that check() reports.

// The widest word (16, 8, 4, 2 or 1 bytes) that divides a row of `bytes` and
// both base addresses: take copies whole rows.
static size_t row_word(int64_t bytes, const void *a, const void *b)
{
    size_t w = 16;
    while (w > 1 && ((size_t)bytes % w || (uintptr_t)a % w || (uintptr_t)b % w))
        w /= 2;
    return w;
}

// y [outer, m, inner] = rows idx[j] of x [outer, n, inner]; inner counts T words.
template <typename T>
static __global__ void take_kernel(int64_t total, int64_t m, int64_t n, int64_t inner, const T *x,
                                   const int32_t *idx, T *y, dlt_gpu_flag *flag)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = e / inner, c = e - r * inner, o = r / m, j = r - o * m;
        int v = idx[j];
        if (v < 0 || v >= n) {
            if (c == 0)
                dlt_gpu_note(flag, j, v, DLT_BAD_TAKE);
            y[e] = T{};
        } else {
            y[e] = x[(o * n + v) * inner + c];
        }
    }
}

template <typename T>
static dlt_status launch_take(const dlt_kctx *k, int64_t total, int64_t m, int64_t n, int64_t inner)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    take_kernel<T><<<dlt_gpu_blocks(g, total, THREADS), THREADS, 0, g->stream>>>(
        total, m, n, inner, (const T *)k->in[0], (const int32_t *)k->in[1], (T *)k->out[0], g->d_flag);
    return dlt_gpu_launched(k, "take_kernel");
}

extern "C" dlt_status dlt_gpu_shape_take(const dlt_kctx *k)
{
    int ax = DLT_CATTR(k->node, idx_attr)->axis;
    const dlt_shape *sx = k->in_shape[0];
    int64_t m = dlt_shape_numel(k->in_shape[1]), n = sx->dim[ax];
    int64_t outer = dlt_dims_prod(sx, 0, ax), inner = dlt_dims_prod(sx, ax + 1, sx->ndim);
    int64_t row = inner * (int64_t)dlt_dtype_size(sx->dtype);
    if (outer * m * row <= 0)
        return DLT_OK;
    size_t w = row_word(row, k->in[0], k->out[0]);
    int64_t words = row / (int64_t)w, total = outer * m * words;
    switch (w) {
    case 16:
        return launch_take<uint4>(k, total, m, n, words);
    case 8:
        return launch_take<unsigned long long>(k, total, m, n, words);
    case 4:
        return launch_take<uint32_t>(k, total, m, n, words);
    case 2:
        return launch_take<uint16_t>(k, total, m, n, words);
    default:
        return launch_take<uint8_t>(k, total, m, n, words);
    }
}

// The adjoints scatter rows that may repeat (a token twice in a batch): f32
// atomicAdd, so the order of the adds, and the last bits of a sum, may differ
// from the CPU's (which adds in index order) and between runs.
static __global__ void take_grad_kernel(int64_t total, int64_t m, int64_t n, int64_t inner,
                                        const float *dy, const int32_t *idx, float *dx, dlt_gpu_flag *flag)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = e / inner, c = e - r * inner, o = r / m, j = r - o * m;
        int v = idx[j];
        if (v < 0 || v >= n) {
            if (c == 0)
                dlt_gpu_note(flag, j, v, DLT_BAD_TAKE_GRAD);
            continue;
        }
        atomicAdd(&dx[(o * n + v) * inner + c], dy[e]);
    }
}

extern "C" dlt_status dlt_gpu_shape_take_grad(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const idx_attr *a = DLT_CATTR(k->node, idx_attr);
    const dlt_shape *sx = k->out_shape[0];
    int64_t m = dlt_shape_numel(k->in_shape[1]), n = a->n;
    int64_t outer = dlt_dims_prod(sx, 0, a->axis), inner = dlt_dims_prod(sx, a->axis + 1, sx->ndim);
    int64_t total = outer * m * inner, nx = dlt_shape_numel(sx);
    if (nx <= 0)
        return DLT_OK;
    dlt_status st = dlt_gpu_check(
        cudaMemsetAsync(k->out[0], 0, (size_t)nx * sizeof(float), g->stream), k, "cudaMemsetAsync");
    if (st != DLT_OK || total <= 0)
        return st;
    take_grad_kernel<<<dlt_gpu_blocks(g, total, THREADS), THREADS, 0, g->stream>>>(
        total, m, n, inner, (const float *)k->in[0], (const int32_t *)k->in[1], (float *)k->out[0], g->d_flag);
    return dlt_gpu_launched(k, "take_grad_kernel");
}

// y[o, j, i] = x[o, idx[o, j, i], i]: x [outer, n, inner], idx and y [outer, m, inner].
template <typename T>
static __global__ void gather_kernel(int64_t total, int64_t m, int64_t n, int64_t inner, const T *x,
                                     const int32_t *idx, T *y, dlt_gpu_flag *flag)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t o = e / (m * inner), i = e % inner;
        int v = idx[e];
        if (v < 0 || v >= n) {
            dlt_gpu_note(flag, e, v, DLT_BAD_GATHER);
            y[e] = T{};
        } else {
            y[e] = x[(o * n + v) * inner + i];
        }
    }
}

template <typename T>
static dlt_status launch_gather(const dlt_kctx *k, int64_t total, int64_t m, int64_t n,
                                int64_t inner)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    gather_kernel<T><<<dlt_gpu_blocks(g, total, THREADS), THREADS, 0, g->stream>>>(
        total, m, n, inner, (const T *)k->in[0], (const int32_t *)k->in[1], (T *)k->out[0], g->d_flag);
    return dlt_gpu_launched(k, "gather_kernel");
}

extern "C" dlt_status dlt_gpu_shape_gather(const dlt_kctx *k)
{
    const idx_attr *a = DLT_CATTR(k->node, idx_attr);
    const dlt_shape *si = k->in_shape[1];
    int64_t m = si->dim[a->axis], total = dlt_shape_numel(si);
    int64_t inner = dlt_dims_prod(si, a->axis + 1, si->ndim);
    if (total <= 0)
        return DLT_OK;
    switch (dlt_dtype_size(k->in_shape[0]->dtype)) {
    case 1:
        return launch_gather<uint8_t>(k, total, m, a->n, inner);
    case 2:
        return launch_gather<uint16_t>(k, total, m, a->n, inner);
    case 8:
        return launch_gather<unsigned long long>(k, total, m, a->n, inner);
    default:
        return launch_gather<uint32_t>(k, total, m, a->n, inner);
    }
}

// dx[o, idx[o, j, i], i] += dy[o, j, i] (atomics: see take_grad_kernel)
static __global__ void scatter_add_kernel(int64_t total, int64_t m, int64_t n, int64_t inner,
                                          const float *dy, const int32_t *idx, float *dx, dlt_gpu_flag *flag)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t o = e / (m * inner), i = e % inner;
        int v = idx[e];
        if (v < 0 || v >= n) {
            dlt_gpu_note(flag, e, v, DLT_BAD_SCATTER);
            continue;
        }
        atomicAdd(&dx[(o * n + v) * inner + i], dy[e]);
    }
}

extern "C" dlt_status dlt_gpu_shape_scatter_add(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const idx_attr *a = DLT_CATTR(k->node, idx_attr);
    const dlt_shape *si = k->in_shape[1];
    int64_t m = si->dim[a->axis], total = dlt_shape_numel(si),
            nx = dlt_shape_numel(k->out_shape[0]);
    int64_t inner = dlt_dims_prod(si, a->axis + 1, si->ndim);
    if (nx <= 0)
        return DLT_OK;
    dlt_status st = dlt_gpu_check(
        cudaMemsetAsync(k->out[0], 0, (size_t)nx * sizeof(float), g->stream), k, "cudaMemsetAsync");
    if (st != DLT_OK || total <= 0)
        return st;
    scatter_add_kernel<<<dlt_gpu_blocks(g, total, THREADS), THREADS, 0, g->stream>>>(
        total, m, a->n, inner, (const float *)k->in[0], (const int32_t *)k->in[1],
        (float *)k->out[0], g->d_flag);
    return dlt_gpu_launched(k, "scatter_add_kernel");
}

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_shape_gather[] = {
    {DLT_OP_TAKE, dlt_gpu_shape_take, NULL},
    {DLT_OP_EMBEDDING, dlt_gpu_shape_take, NULL},
    {DLT_OP_TAKE_GRAD, dlt_gpu_shape_take_grad, NULL},
    {DLT_OP_GATHER, dlt_gpu_shape_gather, NULL},
    {DLT_OP_SCATTER_ADD, dlt_gpu_shape_scatter_add, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
