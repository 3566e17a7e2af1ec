// Shared by the pooling (k_pool.cu) and upsampling (k_upsample.cu) kernels:
// separately rounded float operations, the planes-and-extents geometry, and
// one thread per output element in grid-stride loops over a functor (each
// file's functors are host-callable too). C++ only.
#ifndef DLT_K_POOL_CUH
#define DLT_K_POOL_CUH

#include <cmath>

#include "conv_impl.h"
#include "gpu_impl.h"

namespace
{

const int THREADS = 256;

#define HD __host__ __device__

// Separately rounded float operations (plain operators on the host, where
// this file's functors are also unit-checked).
HD inline float add_rn(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}
HD inline float sub_rn(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fsub_rn(a, b);
#else
    return a - b;
#endif
}
HD inline float mul_rn(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}
HD inline float div_rn(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}

// Planes (N C) and the image / pooled (or small / large) extents.
struct geom2 {
    int64_t planes, h, w, oh, ow;
};

geom2 geom_of(const dlt_shape *img, const dlt_shape *pooled)
{
    geom2 q = {img->dim[0] * img->dim[1], img->dim[2], img->dim[3], pooled->dim[2], pooled->dim[3]};
    return q;
}

// One thread per element i < total: f(i).
template <typename F> __global__ void each_kernel(int64_t total, F f)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x)
        f(i);
}

template <typename F>
dlt_status launch(const dlt_kctx *k, int64_t total, const F &f, const char *name)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    if (total == 0)
        return DLT_OK;
    each_kernel<<<dlt_gpu_blocks(g, total, THREADS), THREADS, 0, g->stream>>>(total, f);
    return dlt_gpu_launched(k, name);
}

const float *fin(const dlt_kctx *k, int i)
{
    return (const float *)k->in[i];
}
float *fout(const dlt_kctx *k)
{
    return (float *)k->out[0];
}

} // namespace

#endif
