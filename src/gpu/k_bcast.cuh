// Shared by the broadcasting binary kernels: add, sub, mul, div (k_binary.cu)
// and pow_tensor (k_unary.cu). The pair is coalesced as on the CPU
// (dlt_bcast_init), and each side is then classified:
//   contiguous  its index is the output's index i
//   scalar      every stride 0: element 0
//   axis        one coalesced axis j moves it (stride 1): (i / inner_j) % dim_j
//               (bias [C] over [N, C]; channel scale [1,C,1,1] over [N,C,H,W];
//               per-row [N, 1] over [N, C])
// Pairs with a contiguous side and 16-byte aligned contiguous pointers take a
// float4 kernel; everything else takes the general strided kernel (up to
// DLT_MAX_DIMS axes). Add, sub, mul and div round exactly as on the CPU.
// bin_run<OP> runs one op; each file instantiates its own. C++ only.
#ifndef DLT_K_BCAST_CUH
#define DLT_K_BCAST_CUH

#include "gpu_impl.h"

extern "C" {
#include "ops_util.h"
}
#include "binary_impl.h"
#include "k_map.cuh" // kThreads, aligned16

namespace {

enum { OP_ADD = BIN_ADD, OP_SUB = BIN_SUB, OP_MUL = BIN_MUL, OP_DIV = BIN_DIV, OP_POW };
enum { SIDE_CONTIG, SIDE_SCALAR, SIDE_AXIS, SIDE_GENERAL };

template <int OP>
__device__ __forceinline__ float bin_op(float a, float b)
{
    if (OP == OP_ADD)
        return a + b;
    if (OP == OP_SUB)
        return a - b;
    if (OP == OP_MUL)
        return a * b;
    if (OP == OP_DIV)
        return a / b;
    return (float)pow((double)a, (double)b); // as the CPU: double pow rounded once
}

struct Side {
    int64_t inner, mod; // SIDE_AXIS: index = (i / inner) % mod
};

// Index of the axis side at element i; small: i < 2^32 (32-bit division).
__device__ __forceinline__ int64_t axis_index(int64_t i, const Side &s, bool small)
{
    if (small)
        return ((uint32_t)i / (uint32_t)s.inner) % (uint32_t)s.mod;
    return (i / s.inner) % s.mod;
}

template <int M>
__device__ __forceinline__ float load1(const float *p, int64_t i, const Side &s, bool small)
{
    if (M == SIDE_CONTIG)
        return p[i];
    if (M == SIDE_SCALAR)
        return p[0];
    return p[axis_index(i, s, small)];
}

// Elements 4v .. 4v+3 (the float4 v of the output).
template <int M>
__device__ __forceinline__ float4 load4(const float *p, int64_t v, const Side &s, bool small)
{
    if (M == SIDE_CONTIG)
        return reinterpret_cast<const float4 *>(p)[v];
    if (M == SIDE_SCALAR) {
        float x = p[0];
        return make_float4(x, x, x, x);
    }
    // one division pair for the first element, then step (r, m) along
    int64_t i = v * 4, q, r, m;
    if (small) {
        uint32_t qq = (uint32_t)i / (uint32_t)s.inner;
        q = qq;
        r = (int64_t)((uint32_t)i - qq * (uint32_t)s.inner);
        m = (int64_t)(qq % (uint32_t)s.mod);
    } else {
        q = i / s.inner;
        r = i - q * s.inner;
        m = q % s.mod;
    }
    float e[4];
    for (int j = 0; j < 4; j++) {
        e[j] = p[m];
        if (++r == s.inner) {
            r = 0;
            if (++m == s.mod)
                m = 0;
        }
    }
    return make_float4(e[0], e[1], e[2], e[3]);
}

// y may alias a contiguous side (in place): one thread reads and writes each index.
template <int OP, int MA, int MB>
__global__ void bin_fast_kernel(int64_t n, const float *a, Side sa, const float *b, Side sb, float *y, bool small)
{
    int64_t t0 = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
    int64_t nv = n >> 2;
    for (int64_t v = t0; v < nv; v += stride) {
        float4 x = load4<MA>(a, v, sa, small), z = load4<MB>(b, v, sb, small), r;
        r.x = bin_op<OP>(x.x, z.x);
        r.y = bin_op<OP>(x.y, z.y);
        r.z = bin_op<OP>(x.z, z.z);
        r.w = bin_op<OP>(x.w, z.w);
        reinterpret_cast<float4 *>(y)[v] = r;
    }
    int64_t i = nv * 4 + t0; // the n % 4 tail: the first threads of the grid
    if (i < n)
        y[i] = bin_op<OP>(load1<MA>(a, i, sa, small), load1<MB>(b, i, sb, small));
}

struct Strides {
    int nd;
    int64_t dim[DLT_MAX_DIMS], sa[DLT_MAX_DIMS], sb[DLT_MAX_DIMS];
};

// Any broadcast: offsets from the output index axis by axis. I: uint32_t when
// every index fits (faster division), else int64_t.
template <int OP, class I>
__global__ void bin_general_kernel(int64_t n, const float *a, const float *b, float *y, Strides s)
{
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        I r = (I)i, oa = 0, ob = 0;
        for (int d = s.nd - 1; d >= 0 && r; d--) {
            I dim = (I)s.dim[d], q = r / dim, idx = r - q * dim;
            oa += idx * (I)s.sa[d];
            ob += idx * (I)s.sb[d];
            r = q;
        }
        y[i] = bin_op<OP>(a[oa], b[ob]);
    }
}

// Classify one side of the coalesced nest (strides st).
int classify(const dlt_bcast_iter *it, const int64_t *st, Side *s)
{
    int64_t e = 1;
    int contig = 1, nz = 0, j = -1;
    for (int d = it->ndim - 1; d >= 0; d--) {
        if (st[d] != e)
            contig = 0;
        e *= it->dim[d];
        if (st[d] != 0)
            nz++, j = d;
    }
    if (contig)
        return SIDE_CONTIG;
    if (nz == 0)
        return SIDE_SCALAR;
    if (nz == 1 && st[j] == 1) {
        s->inner = 1;
        for (int d = j + 1; d < it->ndim; d++)
            s->inner *= it->dim[d];
        s->mod = it->dim[j];
        return SIDE_AXIS;
    }
    return SIDE_GENERAL;
}

template <int OP, int MA, int MB>
void launch_fast(struct dlt_gpu *g, int64_t n, const float *a, Side sa, const float *b, Side sb, float *y)
{
    int64_t nv = n >> 2;
    bin_fast_kernel<OP, MA, MB><<<dlt_gpu_blocks(g, nv > 0 ? nv : 1, kThreads), kThreads, 0, g->stream>>>(
        n, a, sa, b, sb, y, n <= (int64_t)UINT32_MAX);
}

template <int OP>
dlt_status bin_run(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const float *a = (const float *)k->in[0], *b = (const float *)k->in[1];
    float *y = (float *)k->out[0];
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    if (n == 0)
        return DLT_OK;
    dlt_bcast_iter it;
    dlt_bcast_init(&it, k->in_shape[0], k->in_shape[1], k->out_shape[0]);
    Side sa = {1, 1}, sb = {1, 1};
    int ma = classify(&it, it.sa, &sa), mb = classify(&it, it.sb, &sb);
    bool ok = aligned16(y) && (ma != SIDE_CONTIG || aligned16(a)) && (mb != SIDE_CONTIG || aligned16(b));
    if (ok && ma == SIDE_CONTIG && mb == SIDE_CONTIG)
        launch_fast<OP, SIDE_CONTIG, SIDE_CONTIG>(g, n, a, sa, b, sb, y);
    else if (ok && ma == SIDE_CONTIG && mb == SIDE_SCALAR)
        launch_fast<OP, SIDE_CONTIG, SIDE_SCALAR>(g, n, a, sa, b, sb, y);
    else if (ok && ma == SIDE_SCALAR && mb == SIDE_CONTIG)
        launch_fast<OP, SIDE_SCALAR, SIDE_CONTIG>(g, n, a, sa, b, sb, y);
    else if (ok && ma == SIDE_CONTIG && mb == SIDE_AXIS)
        launch_fast<OP, SIDE_CONTIG, SIDE_AXIS>(g, n, a, sa, b, sb, y);
    else if (ok && ma == SIDE_AXIS && mb == SIDE_CONTIG)
        launch_fast<OP, SIDE_AXIS, SIDE_CONTIG>(g, n, a, sa, b, sb, y);
    else {
        Strides s;
        s.nd = it.ndim;
        for (int d = 0; d < DLT_MAX_DIMS; d++) {
            s.dim[d] = d < it.ndim ? it.dim[d] : 1;
            s.sa[d] = d < it.ndim ? it.sa[d] : 0;
            s.sb[d] = d < it.ndim ? it.sb[d] : 0;
        }
        unsigned blocks = dlt_gpu_blocks(g, n, kThreads);
        // uint32_t needs every output index and every input offset below 2^32
        if (n <= (int64_t)UINT32_MAX && dlt_shape_numel(k->in_shape[0]) <= (int64_t)UINT32_MAX &&
            dlt_shape_numel(k->in_shape[1]) <= (int64_t)UINT32_MAX)
            bin_general_kernel<OP, uint32_t><<<blocks, kThreads, 0, g->stream>>>(n, a, b, y, s);
        else
            bin_general_kernel<OP, int64_t><<<blocks, kThreads, 0, g->stream>>>(n, a, b, y, s);
    }
    return dlt_gpu_launched(k, "binary_kernel");
}

} // namespace

#endif
