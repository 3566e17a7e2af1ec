// GPU kernels of the backend itself (no op; accum, the core's op, is in
// k_accum.cu): the f32 add, scale, clamp and sum of squares, and the bf16
// conversions (the bf16 gradient reduction).
#include "dlt_bf16.h"
#include "gpu_impl.h"
#include "k_reduce.cuh"

using dlt_kred::block_sum; /* the reduce family's deterministic block sum */

static __global__ void add_kernel(int64_t n, float *dst, const float *src)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] += src[i];
}

extern "C" dlt_status dlt_gpu_add_f32(struct dlt_gpu *g, float *dst, const float *src, size_t n)
{
    if (n == 0)
        return DLT_OK;
    add_kernel<<<dlt_gpu_blocks(g, (int64_t)n, 256), 256, 0, g->stream>>>((int64_t)n, dst, src);
    return dlt_gpu_launched(NULL, "add_kernel");
}

static __global__ void scale_kernel(int64_t n, float *x, double a)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        x[i] = (float)((double)x[i] * a);
}

extern "C" dlt_status dlt_gpu_scale_f32(struct dlt_gpu *g, float *x, double a, size_t n)
{
    if (n == 0)
        return DLT_OK;
    scale_kernel<<<dlt_gpu_blocks(g, (int64_t)n, 256), 256, 0, g->stream>>>((int64_t)n, x, a);
    return dlt_gpu_launched(NULL, "scale_kernel");
}

// WGAN's weight clipping: the host's element rule (dlt_backend.h), so the
// bits are the CPU backend's, NaN passing through.
static __global__ void clamp_kernel(int64_t n, float *x, float lo, float hi)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        x[i] = dlt_clamp_elem(x[i], lo, hi);
}

extern "C" dlt_status dlt_gpu_clamp_f32(struct dlt_gpu *g, float *x, float lo, float hi, size_t n)
{
    if (n == 0)
        return DLT_OK;
    clamp_kernel<<<dlt_gpu_blocks(g, (int64_t)n, 256), 256, 0, g->stream>>>((int64_t)n, x, lo, hi);
    return dlt_gpu_launched(NULL, "clamp_kernel");
}

// Sum of squares in double: each block reduces a grid-stride share into
// partial[blockIdx.x] (fixed order, so the result is deterministic), then one
// block sums the partials.
static __global__ void sumsq_partial(int64_t n, const float *x, double *partial)
{
    double s = 0;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        s += (double)x[i] * (double)x[i];
    s = block_sum(s);
    if (threadIdx.x == 0)
        partial[blockIdx.x] = s;
}

static __global__ void sum_partials(int np, const double *partial, double *out)
{
    double s = 0;
    for (int i = threadIdx.x; i < np; i += blockDim.x)
        s += partial[i];
    s = block_sum(s);
    if (threadIdx.x == 0)
        *out = s;
}

extern "C" dlt_status dlt_gpu_sumsq_f32(struct dlt_gpu *g, const float *x, size_t n, double *out)
{
    unsigned blocks = dlt_gpu_blocks(g, (int64_t)n, 256);
    dlt_status st;
    if (blocks > DLT_GPU_PARTIALS - 1) /* the last slot holds the total */
        blocks = DLT_GPU_PARTIALS - 1;
    sumsq_partial<<<blocks, 256, 0, g->stream>>>((int64_t)n, x, g->d_partial);
    if ((st = dlt_gpu_launched(NULL, "sumsq_partial")) != DLT_OK)
        return st;
    sum_partials<<<1, 256, 0, g->stream>>>((int)blocks, g->d_partial, g->d_partial + DLT_GPU_PARTIALS - 1);
    if ((st = dlt_gpu_launched(NULL, "sum_partials")) != DLT_OK)
        return st;
    if ((st = dlt_gpu_check(cudaMemcpyAsync(g->h_result, g->d_partial + DLT_GPU_PARTIALS - 1, sizeof(double),
                                            cudaMemcpyDeviceToHost, g->stream),
                            NULL, "sumsq result")) != DLT_OK ||
        (st = dlt_gpu_check(cudaStreamSynchronize(g->stream), NULL, "sumsq")) != DLT_OK)
        return st;
    *out = *g->h_result;
    return DLT_OK;
}

// The backend symbols "f32_to_bf16" and "bf16_to_f32" (dlt_bf16.h): the same
// per-element functions as the host, so every backend rounds alike.
static __global__ void f32_to_bf16_kernel(int64_t n, dlt_bf16 *dst, const float *src)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = dlt_f32_to_bf16(src[i]);
}

static __global__ void bf16_to_f32_kernel(int64_t n, float *dst, const dlt_bf16 *src)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = dlt_bf16_to_f32(src[i]);
}

extern "C" dlt_status dlt_gpu_f32_to_bf16(void *ctx, dlt_bf16 *dst, const float *src, size_t n)
{
    struct dlt_gpu *g = (struct dlt_gpu *)ctx;
    if (n == 0)
        return DLT_OK;
    f32_to_bf16_kernel<<<dlt_gpu_blocks(g, (int64_t)n, 256), 256, 0, g->stream>>>((int64_t)n, dst, src);
    return dlt_gpu_launched(NULL, "f32_to_bf16_kernel");
}

extern "C" dlt_status dlt_gpu_bf16_to_f32(void *ctx, float *dst, const dlt_bf16 *src, size_t n)
{
    struct dlt_gpu *g = (struct dlt_gpu *)ctx;
    if (n == 0)
        return DLT_OK;
    bf16_to_f32_kernel<<<dlt_gpu_blocks(g, (int64_t)n, 256), 256, 0, g->stream>>>((int64_t)n, dst, src);
    return dlt_gpu_launched(NULL, "bf16_to_f32_kernel");
}
