// Self-test kernel: proves nvcc output is linked into libdltrain and runs.
#include <cuda_runtime.h>
#include <stddef.h>

static __global__ void axpy_kernel(size_t n, float a, const float *x, float *y)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] += a * x[i];
}

extern "C" cudaError_t dlt_gpu_launch_axpy(size_t n, float a, const float *x, float *y)
{
    unsigned blocks = (unsigned)((n + 255) / 256);
    if (n == 0)
        return cudaSuccess;
    axpy_kernel<<<blocks, 256>>>(n, a, x, y);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return e;
    return cudaDeviceSynchronize();
}
