// Shared by the elementwise kernel files (k_unary.cu, k_activation.cu,
// k_dropout.cu, k_binary.cu): one grid-stride map over contiguous f32 tensors
// of the same size, y[i] = f(i, in0[i], in1[i]), float4 when every pointer is
// 16-byte aligned. C++ only; each file instantiates its own functors.
#ifndef DLT_K_MAP_CUH
#define DLT_K_MAP_CUH

#include "gpu_impl.h"

namespace {

const int kThreads = 256;

// y[i] = f(i, p0[i], p1[i]) (p1 read only when NIN == 2). y may alias p0 or p1:
// each element is read and written by one thread at one index. VEC: every
// pointer is 16-byte aligned, so four elements move as one float4; the n % 4
// tail is done by the first threads of the grid.
template <int NIN, bool VEC, class F>
__global__ void map_kernel(int64_t n, const float *p0, const float *p1, float *y, F f)
{
    int64_t t0 = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
    if (VEC) {
        int64_t nv = n >> 2;
        for (int64_t v = t0; v < nv; v += stride) {
            float4 a = reinterpret_cast<const float4 *>(p0)[v], b = a;
            if (NIN == 2)
                b = reinterpret_cast<const float4 *>(p1)[v];
            int64_t i = v * 4;
            float4 r;
            r.x = f(i, a.x, b.x);
            r.y = f(i + 1, a.y, b.y);
            r.z = f(i + 2, a.z, b.z);
            r.w = f(i + 3, a.w, b.w);
            reinterpret_cast<float4 *>(y)[v] = r;
        }
        int64_t i = nv * 4 + t0;
        if (i < n) {
            float a = p0[i];
            y[i] = f(i, a, NIN == 2 ? p1[i] : a);
        }
    } else {
        for (int64_t i = t0; i < n; i += stride) {
            float a = p0[i];
            y[i] = f(i, a, NIN == 2 ? p1[i] : a);
        }
    }
}

inline bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

template <int NIN, class F>
dlt_status map_launch(const dlt_kctx *k, const char *name, int64_t n, const float *p0, const float *p1,
                      float *y, F f)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    if (n <= 0)
        return DLT_OK;
    if (aligned16(p0) && (NIN == 1 || aligned16(p1)) && aligned16(y)) {
        int64_t nv = n >> 2;
        map_kernel<NIN, true, F><<<dlt_gpu_blocks(g, nv > 0 ? nv : 1, kThreads), kThreads, 0, g->stream>>>(
            n, p0, p1, y, f);
    } else {
        map_kernel<NIN, false, F><<<dlt_gpu_blocks(g, n, kThreads), kThreads, 0, g->stream>>>(n, p0, p1, y, f);
    }
    return dlt_gpu_launched(k, name);
}

} // namespace

#endif
