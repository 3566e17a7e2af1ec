// GPU kernels of the shape family (src/ops/shape_*.c): permute, concat,
// split2..4, slice, pad, pad_reflect(_grad) here; take, embedding, take_grad,
// gather and scatter_add in k_shape_gather.cu. reshape and stop_gradient are
// views (DLT_OP_VIEW): the executor runs no kernel for them, so none is
// registered.
//
// Everything but reflect padding is one strided block copy, as on the CPU
// (dlt_strided_copy): the same axis merging, then a memcpy when the block is
// contiguous, a shared-memory tiled transpose when one side is read with a
// stride in the inner axis but is contiguous along another, or else one thread
// per element. The kernels only move bytes, so results equal the CPU's bit for
// bit in every dtype.
#include <stdint.h>
#include <string.h>

#include "gpu_impl.h"
#include "shape_impl.h"
#include "shape_util.h"

// k_shape_gather.cu
extern "C" {
dlt_status dlt_gpu_shape_take(const dlt_kctx *k); // take and embedding
dlt_status dlt_gpu_shape_take_grad(const dlt_kctx *k);
dlt_status dlt_gpu_shape_gather(const dlt_kctx *k);
dlt_status dlt_gpu_shape_scatter_add(const dlt_kctx *k);
}

#define THREADS 256
#define TILE 32
#define TILE_ROWS 8 // a tile block is TILE x TILE_ROWS threads

// A block of dims d whose element (i0..) moves from src + sum(i * s) to dst + sum(i * t)
// (strides in elements), axes merged as the CPU merges them; nd >= 1.
struct copy_desc {
    int nd;
    int64_t d[DLT_MAX_DIMS], s[DLT_MAX_DIMS], t[DLT_MAX_DIMS];
};

// Size-1 axes dropped, neighbours contiguous on both sides joined (shape_util.c).
static void merge_axes(int ndim, const int64_t *dims, const int64_t *sstr, const int64_t *dstr,
                       copy_desc *c)
{
    int nd = 0;
    memset(c, 0, sizeof *c);
    for (int i = 0; i < ndim; i++) {
        if (dims[i] == 1)
            continue;
        if (nd > 0 && c->s[nd - 1] == sstr[i] * dims[i] && c->t[nd - 1] == dstr[i] * dims[i]) {
            c->d[nd - 1] *= dims[i];
            c->s[nd - 1] = sstr[i];
            c->t[nd - 1] = dstr[i];
            continue;
        }
        c->d[nd] = dims[i], c->s[nd] = sstr[i], c->t[nd] = dstr[i];
        nd++;
    }
    if (nd == 0) {
        c->d[0] = 1, c->s[0] = 1, c->t[0] = 1;
        nd = 1;
    }
    c->nd = nd;
}

// One thread per element; the unrolled loop keeps the descriptor in registers.
template <typename T>
static __global__ void strided_copy_kernel(int64_t total, copy_desc c, const T *src, T *dst)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = e, so = 0, doff = 0;
#pragma unroll
        for (int i = DLT_MAX_DIMS - 1; i >= 0; i--) {
            if (i < c.nd) {
                int64_t q = rem % c.d[i];
                rem /= c.d[i];
                so += q * c.s[i];
                doff += q * c.t[i];
            }
        }
        dst[doff] = src[so];
    }
}

// A batch of 2-D transposes: axis q (size ni) and the last axis (size nc) are
// copied in TILE x TILE tiles through shared memory; the remaining axes
// (nr of them, last fastest) number the batch. src_q_fast: the source is
// contiguous along q and the destination along the last axis (else the reverse).
struct tile_desc {
    int nr, src_q_fast;
    int64_t rd[DLT_MAX_DIMS], rs[DLT_MAX_DIMS], rt[DLT_MAX_DIMS];
    int64_t ni, si, ti, nc, sc, tc;
    int64_t nti, ntc, ntasks; // tiles along q, along the last axis, in all
};

template <typename T> static __global__ void tiled_copy_kernel(tile_desc p, const T *src, T *dst)
{
    __shared__ T tile[TILE][TILE + 1]; // +1: the column reads hit distinct banks
    for (int64_t task = blockIdx.x; task < p.ntasks; task += gridDim.x) {
        int64_t r = task / (p.nti * p.ntc), i0 = task / p.ntc % p.nti * TILE,
                c0 = task % p.ntc * TILE;
        int64_t so = 0, doff = 0;
#pragma unroll
        for (int i = DLT_MAX_DIMS - 1; i >= 0; i--) {
            if (i < p.nr) {
                int64_t q = r % p.rd[i];
                r /= p.rd[i];
                so += q * p.rs[i];
                doff += q * p.rt[i];
            }
        }
        // consecutive threads (threadIdx.x) walk the contiguous axis on each side
        for (int k = threadIdx.y; k < TILE; k += TILE_ROWS) {
            int li = p.src_q_fast ? (int)threadIdx.x : k, lc = p.src_q_fast ? k : (int)threadIdx.x;
            int64_t i = i0 + li, c = c0 + lc;
            if (i < p.ni && c < p.nc)
                tile[li][lc] = src[so + i * p.si + c * p.sc];
        }
        __syncthreads();
        for (int k = threadIdx.y; k < TILE; k += TILE_ROWS) {
            int li = p.src_q_fast ? k : (int)threadIdx.x, lc = p.src_q_fast ? (int)threadIdx.x : k;
            int64_t i = i0 + li, c = c0 + lc;
            if (i < p.ni && c < p.nc)
                dst[doff + i * p.ti + c * p.tc] = tile[li][lc];
        }
        __syncthreads(); // the next task overwrites the tile
    }
}

template <typename T>
static dlt_status launch_strided(const dlt_kctx *k, int64_t total, const copy_desc &c,
                                 const void *src, void *dst)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    strided_copy_kernel<T><<<dlt_gpu_blocks(g, total, THREADS), THREADS, 0, g->stream>>>(
        total, c, (const T *)src, (T *)dst);
    return dlt_gpu_launched(k, "strided_copy_kernel");
}

template <typename T>
static dlt_status launch_tiled(const dlt_kctx *k, const tile_desc &p, const void *src, void *dst)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t cap = (int64_t)g->sm_count * 32;
    unsigned blocks = (unsigned)(p.ntasks < cap ? p.ntasks : cap);
    tiled_copy_kernel<T>
        <<<blocks, dim3(TILE, TILE_ROWS), 0, g->stream>>>(p, (const T *)src, (T *)dst);
    return dlt_gpu_launched(k, "tiled_copy_kernel");
}

// A wider word for a block whose last axis is contiguous on both sides: every
// row, stride and base address a multiple of w bytes moves as w-byte words.
static size_t widen(copy_desc *c, size_t esz, const void *src, const void *dst)
{
    if (c->s[c->nd - 1] != 1 || c->t[c->nd - 1] != 1)
        return esz;
    for (size_t w = 16; w > esz; w /= 2) {
        int ok = (uintptr_t)src % w == 0 && (uintptr_t)dst % w == 0 &&
                 (size_t)c->d[c->nd - 1] * esz % w == 0;
        for (int i = 0; ok && i < c->nd - 1; i++)
            ok = (size_t)c->s[i] * esz % w == 0 && (size_t)c->t[i] * esz % w == 0;
        if (!ok)
            continue;
        int64_t f = (int64_t)(w / esz);
        c->d[c->nd - 1] /= f;
        for (int i = 0; i < c->nd - 1; i++) {
            c->s[i] /= f;
            c->t[i] /= f;
        }
        return w;
    }
    return esz;
}

static dlt_status gpu_strided_copy(const dlt_kctx *k, size_t esz, int ndim, const int64_t *dims,
                                   const void *src, const int64_t *sstr, void *dst,
                                   const int64_t *dstr)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t total = 1;
    for (int i = 0; i < ndim; i++)
        total *= dims[i];
    if (total <= 0)
        return DLT_OK;
    copy_desc c;
    merge_axes(ndim, dims, sstr, dstr, &c);
    int nd = c.nd;
    int64_t ss = c.s[nd - 1], ds = c.t[nd - 1];
    if (nd == 1 && ss == 1 && ds == 1)
        return dlt_gpu_check(
            cudaMemcpyAsync(dst, src, (size_t)total * esz, cudaMemcpyDeviceToDevice, g->stream), k,
            "cudaMemcpyAsync");
    for (int q = 0; !(ss == 1 && ds == 1) && q < nd - 1; q++) {
        int src_q_fast = ds == 1 && c.s[q] == 1;
        if (!src_q_fast && !(ss == 1 && c.t[q] == 1))
            continue;
        tile_desc p;
        memset(&p, 0, sizeof p);
        p.src_q_fast = src_q_fast;
        for (int i = 0; i < nd - 1; i++)
            if (i != q) {
                p.rd[p.nr] = c.d[i], p.rs[p.nr] = c.s[i], p.rt[p.nr] = c.t[i];
                p.nr++;
            }
        p.ni = c.d[q], p.si = c.s[q], p.ti = c.t[q];
        p.nc = c.d[nd - 1], p.sc = ss, p.tc = ds;
        p.nti = (p.ni + TILE - 1) / TILE;
        p.ntc = (p.nc + TILE - 1) / TILE;
        p.ntasks = total / (p.ni * p.nc) * p.nti * p.ntc;
        switch (esz) {
        case 1:
            return launch_tiled<uint8_t>(k, p, src, dst);
        case 2:
            return launch_tiled<uint16_t>(k, p, src, dst);
        case 8:
            return launch_tiled<unsigned long long>(k, p, src, dst);
        default:
            return launch_tiled<uint32_t>(k, p, src, dst);
        }
    }
    size_t w = widen(&c, esz, src, dst);
    total = total * (int64_t)esz / (int64_t)w;
    switch (w) {
    case 1:
        return launch_strided<uint8_t>(k, total, c, src, dst);
    case 2:
        return launch_strided<uint16_t>(k, total, c, src, dst);
    case 8:
        return launch_strided<unsigned long long>(k, total, c, src, dst);
    case 16:
        return launch_strided<uint4>(k, total, c, src, dst);
    default:
        return launch_strided<uint32_t>(k, total, c, src, dst);
    }
}

// ---------------------------------------------------------------- permute
static dlt_status permute_cuda(const dlt_kctx *k)
{
    const permute_attr *a = DLT_CATTR(k->node, permute_attr);
    const dlt_shape *si = k->in_shape[0], *so = k->out_shape[0];
    int64_t sstr[DLT_MAX_DIMS], ostr[DLT_MAX_DIMS];
    dlt_permute_geom(a, si, so, sstr, ostr);
    return gpu_strided_copy(k, dlt_dtype_size(si->dtype), so->ndim, so->dim, k->in[0], sstr,
                            k->out[0], ostr);
}

// ---------------------------------------------------------------- concat / split
// Each part is a [outer, w] block of the joined tensor's [outer, row] rows.
static dlt_status cat_move(const dlt_kctx *k, int joining)
{
    const cat_attr *a = DLT_CATTR(k->node, cat_attr);
    const dlt_shape *whole = joining ? k->out_shape[0] : k->in_shape[0];
    int nparts = joining ? k->node->nin : k->node->nout;
    size_t esz = dlt_dtype_size(whole->dtype);
    int64_t outer = dlt_dims_prod(whole, 0, a->axis),
            inner = dlt_dims_prod(whole, a->axis + 1, whole->ndim);
    int64_t row = whole->dim[a->axis] * inner, off = 0;
    for (int p = 0; p < nparts; p++) {
        const dlt_shape *ps = joining ? k->in_shape[p] : k->out_shape[p];
        int64_t w = ps->dim[a->axis] * inner, dims[2] = {outer, w}, pstr[2] = {w, 1},
                wstr[2] = {row, 1};
        dlt_status st;
        if (joining)
            st = gpu_strided_copy(k, esz, 2, dims, k->in[p], pstr,
                                  (char *)k->out[0] + (size_t)off * esz, wstr);
        else
            st = gpu_strided_copy(k, esz, 2, dims, (const char *)k->in[0] + (size_t)off * esz, wstr,
                                  k->out[p], pstr);
        if (st != DLT_OK)
            return st;
        off += w;
    }
    return DLT_OK;
}

static dlt_status concat_cuda(const dlt_kctx *k)
{
    return cat_move(k, 1);
}
static dlt_status split_cuda(const dlt_kctx *k)
{
    return cat_move(k, 0);
}

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

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_shape[] = {
    {DLT_OP_PERMUTE, permute_cuda, NULL},
    {DLT_OP_CONCAT, concat_cuda, NULL},
    {DLT_OP_SPLIT2, split_cuda, NULL},
    {DLT_OP_SPLIT3, split_cuda, NULL},
    {DLT_OP_SPLIT4, split_cuda, NULL},
    {DLT_OP_SLICE, slice_cuda, NULL},
    {DLT_OP_PAD, spad_cuda, NULL},
    {DLT_OP_PAD_REFLECT, rpad_cuda, NULL},
    {DLT_OP_PAD_REFLECT_GRAD, rpad_grad_cuda, NULL},
    {DLT_OP_TAKE, dlt_gpu_shape_take, NULL},
    {DLT_OP_EMBEDDING, dlt_gpu_shape_take, NULL},
    {DLT_OP_TAKE_GRAD, dlt_gpu_shape_take_grad, NULL},
    {DLT_OP_GATHER, dlt_gpu_shape_gather, NULL},
    {DLT_OP_SCATTER_ADD, dlt_gpu_shape_scatter_add, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
