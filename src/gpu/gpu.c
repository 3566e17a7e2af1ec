/* Device discovery and version reporting for the CUDA backend. */
#include "dlt_gpu.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>
#include <stdio.h>

/* Launches the self-test kernel (selftest.cu). */
cudaError_t dlt_gpu_launch_axpy(size_t n, float a, const float *x, float *y);

int dlt_gpu_built(void) { return 1; }

int dlt_gpu_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

void dlt_gpu_get_versions(dlt_gpu_versions *v)
{
    v->runtime = v->driver = v->nccl = v->cublas = 0;
    if (cudaRuntimeGetVersion(&v->runtime) != cudaSuccess)
        v->runtime = 0;
    if (cudaDriverGetVersion(&v->driver) != cudaSuccess)
        v->driver = 0;
    v->cudnn = (int)cudnnGetVersion();
    if (ncclGetVersion(&v->nccl) != ncclSuccess)
        v->nccl = 0;
    v->cublas = CUBLAS_VER_MAJOR * 10000 + CUBLAS_VER_MINOR * 100 + CUBLAS_VER_PATCH;
}

void dlt_gpu_device_name(int dev, char *buf, size_t len)
{
    struct cudaDeviceProp p;
    if (!len)
        return;
    buf[0] = '\0';
    if (cudaGetDeviceProperties(&p, dev) == cudaSuccess)
        snprintf(buf, len, "%s", p.name);
    else
        (void)cudaGetLastError();
}

#define CUDA_TRY(call)                                                                  \
    do {                                                                                \
        cudaError_t e_ = (call);                                                        \
        if (e_ != cudaSuccess) {                                                        \
            st = dlt_seterr(DLT_ERR_INTERNAL, "%s: %s", #call, cudaGetErrorString(e_)); \
            goto out;                                                                   \
        }                                                                               \
    } while (0)

dlt_status dlt_gpu_selftest_axpy(size_t n, float a, const float *x, float *y)
{
    dlt_status st = DLT_OK;
    float *dx = NULL, *dy = NULL;
    if (dlt_gpu_device_count() == 0)
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "no CUDA device");
    CUDA_TRY(cudaMalloc((void **)&dx, n * sizeof *dx));
    CUDA_TRY(cudaMalloc((void **)&dy, n * sizeof *dy));
    CUDA_TRY(cudaMemcpy(dx, x, n * sizeof *x, cudaMemcpyHostToDevice));
    CUDA_TRY(cudaMemcpy(dy, y, n * sizeof *y, cudaMemcpyHostToDevice));
    CUDA_TRY(dlt_gpu_launch_axpy(n, a, dx, dy));
    CUDA_TRY(cudaMemcpy(y, dy, n * sizeof *y, cudaMemcpyDeviceToHost));
out:
    cudaFree(dx);
    cudaFree(dy);
    return st;
}
