// The shape family's common GPU code (src/ops/shape_*.c): the strided block
// copy that permute, concat and split (k_shape_ops.cu) and slice and pad
// (k_shape_slice.cu) run on, declared in k_shape.cuh. reshape and
// stop_gradient are views (DLT_OP_VIEW): the executor runs no kernel for them,
// so none is listed; take, gather and the rest of the indexing ops are in
// k_shape_gather.cu.
//
// The copy is the CPU's (dlt_strided_copy): the same axis merging, then a
// memcpy when the block is contiguous, a shared-memory tiled transpose when one
// side is read with a stride in the inner axis but is contiguous along
// another, or else one thread per element. The kernels only move bytes, so
// results equal the CPU's bit for bit in every dtype.
#include <stdint.h>
#include <string.h>

#include "gpu_impl.h"
#include "k_shape.cuh"
#include "shape_impl.h"
#include "shape_util.h"

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

dlt_status dlt_kshape::gpu_strided_copy(const dlt_kctx *k, size_t esz, int ndim, const int64_t *dims,
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
