// GPU kernels of the shape_slice family (shape_slice.c): slice and pad, a
// strided block copy (k_shape.cuh) plus a fill of the border, and reflect
// padding and its adjoint, one thread per element.
#include <string.h>

#include "gpu_impl.h"
#include "k_shape.cuh"
#include "shape_impl.h"
#include "shape_util.h"

#define THREADS 256

using dlt_kshape::gpu_strided_copy;

// ---------------------------------------------------------------- slice / pad
static dlt_status slice_cuda(const dlt_kctx *k)
{
    const slice_attr *a = DLT_CATTR(k->node, slice_attr);
    const dlt_shape *si = k->in_shape[0], *so = k->out_shape[0];
    int64_t sstr[DLT_MAX_DIMS], ostr[DLT_MAX_DIMS], off;
    dlt_status st = dlt_slice_geom(a, si, so, &off, sstr, ostr); // checked by the shape rule already
    if (st != DLT_OK)
        return st;
    size_t esz = dlt_dtype_size(si->dtype);
    return gpu_strided_copy(k, esz, so->ndim, so->dim, (const char *)k->in[0] + (size_t)off * esz,
                            sstr, k->out[0], ostr);
}

template <typename T> static __global__ void fill_kernel(int64_t n, T v, T *dst)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = v;
}

template <typename T> static dlt_status launch_fill(const dlt_kctx *k, int64_t n, T v, void *dst)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    fill_kernel<T><<<dlt_gpu_blocks(g, n, THREADS), THREADS, 0, g->stream>>>(n, v, (T *)dst);
    return dlt_gpu_launched(k, "fill_kernel");
}

// The CPU's fill_value: the value converted to the dtype on the host, as C converts it.
static dlt_status fill_value(const dlt_kctx *k, void *dst, dlt_dtype t, int64_t n, float v)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    if (n <= 0)
        return DLT_OK;
    if (v == 0)
        return dlt_gpu_check(cudaMemsetAsync(dst, 0, (size_t)n * dlt_dtype_size(t), g->stream), k,
                             "cudaMemsetAsync");
    switch (t) {
    case DLT_I32:
        return launch_fill<int32_t>(k, n, (int32_t)v, dst);
    case DLT_I64:
        return launch_fill<int64_t>(k, n, (int64_t)v, dst);
    case DLT_U8:
        return dlt_gpu_check(cudaMemsetAsync(dst, (uint8_t)v, (size_t)n, g->stream), k,
                             "cudaMemsetAsync");
    default: // f32 (the shape rule allows only 0 for f16/bf16)
        return launch_fill<float>(k, n, v, dst);
    }
}

static dlt_status spad_cuda(const dlt_kctx *k)
{
    const spad_attr *a = DLT_CATTR(k->node, spad_attr);
    const dlt_shape *si = k->in_shape[0], *so = k->out_shape[0];
    int64_t istr[DLT_MAX_DIMS], dstr[DLT_MAX_DIMS], off;
    size_t esz = dlt_dtype_size(si->dtype);
    dlt_status st = fill_value(k, k->out[0], so->dtype, dlt_shape_numel(so), a->value);
    if (st != DLT_OK)
        return st;
    dlt_pad_geom(a, si, so, &off, istr, dstr);
    return gpu_strided_copy(k, esz, si->ndim, si->dim, k->in[0], istr,
                            (char *)k->out[0] + (size_t)off * esz, dstr);
}

// ---------------------------------------------------------------- reflect pad
// y: shape yd, x: shape xd with dense strides xs; bf/af: padding per axis.
struct rpad_desc {
    int nd;
    int64_t yd[DLT_MAX_DIMS], xd[DLT_MAX_DIMS], xs[DLT_MAX_DIMS], ys[DLT_MAX_DIMS];
    int64_t bf[DLT_MAX_DIMS], af[DLT_MAX_DIMS];
};

static rpad_desc rpad_make(const rpad_attr *a, const dlt_shape *sy, const dlt_shape *sx)
{
    rpad_desc p;
    memset(&p, 0, sizeof p);
    p.nd = sx->ndim;
    dlt_dense_strides(sx, p.xs);
    dlt_dense_strides(sy, p.ys);
    for (int i = 0; i < p.nd; i++) {
        p.yd[i] = sy->dim[i], p.xd[i] = sx->dim[i];
        p.bf[i] = a->before[i], p.af[i] = a->after[i];
    }
    return p;
}

static __global__ void rpad_kernel(int64_t total, rpad_desc p, const float *x, float *y)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = e, off = 0;
#pragma unroll
        for (int i = DLT_MAX_DIMS - 1; i >= 0; i--) {
            if (i < p.nd) {
                off += dlt_reflect_index(rem % p.yd[i], p.bf[i], p.xd[i]) * p.xs[i];
                rem /= p.yd[i];
            }
        }
        y[e] = x[off];
    }
}

// dx[j] = 0 + the dy of every output position reflecting onto j, visited in
// the CPU's order (an odometer over every axis's preimages, last axis
// fastest), so the float sums equal the CPU's bit for bit. No atomics.
static __global__ void rpad_grad_kernel(int64_t total, rpad_desc p, const float *dy, float *dx)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t pre[DLT_MAX_DIMS][3], rem = e;
        int cnt[DLT_MAX_DIMS], ctr[DLT_MAX_DIMS];
        for (int i = p.nd - 1; i >= 0; i--) {
            cnt[i] = dlt_reflect_preimages(rem % p.xd[i], p.xd[i], p.bf[i], p.af[i], pre[i]);
            ctr[i] = 0;
            rem /= p.xd[i];
        }
        float s = 0;
        for (;;) {
            int64_t off = 0;
            for (int i = 0; i < p.nd; i++)
                off += pre[i][ctr[i]] * p.ys[i];
            s += dy[off];
            int i = p.nd - 1;
            while (i >= 0 && ++ctr[i] == cnt[i])
                ctr[i--] = 0;
            if (i < 0)
                break;
        }
        dx[e] = s;
    }
}

static dlt_status rpad_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const dlt_shape *sx = k->in_shape[0], *sy = k->out_shape[0];
    int64_t total = dlt_shape_numel(sy);
    if (total <= 0)
        return DLT_OK;
    rpad_desc p = rpad_make(DLT_CATTR(k->node, rpad_attr), sy, sx);
    rpad_kernel<<<dlt_gpu_blocks(g, total, THREADS), THREADS, 0, g->stream>>>(
        total, p, (const float *)k->in[0], (float *)k->out[0]);
    return dlt_gpu_launched(k, "rpad_kernel");
}

static dlt_status rpad_grad_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const dlt_shape *sy = k->in_shape[0], *sx = k->out_shape[0];
    int64_t total = dlt_shape_numel(sx);
    if (total <= 0)
        return DLT_OK;
    if (sx->ndim == 0) // the CPU copies the one element (0 + -0 would be +0)
        return dlt_gpu_check(cudaMemcpyAsync(k->out[0], k->in[0], sizeof(float),
                                             cudaMemcpyDeviceToDevice, g->stream),
                             k, "cudaMemcpyAsync");
    rpad_desc p = rpad_make(DLT_CATTR(k->node, rpad_attr), sy, sx);
    rpad_grad_kernel<<<dlt_gpu_blocks(g, total, THREADS), THREADS, 0, g->stream>>>(
        total, p, (const float *)k->in[0], (float *)k->out[0]);
    return dlt_gpu_launched(k, "rpad_grad_kernel");
}

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_shape_slice[] = {
    {DLT_OP_SLICE, slice_cuda, NULL},
    {DLT_OP_PAD, spad_cuda, NULL},
    {DLT_OP_PAD_REFLECT, rpad_cuda, NULL},
    {DLT_OP_PAD_REFLECT_GRAD, rpad_grad_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
