/* CUDA backend entry points visible to the rest of dltrain. Built as stubs
 * (reporting no device) when configured --without-cuda. */
#ifndef DLT_GPU_H
#define DLT_GPU_H

#include "dlt_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the library was built with the CUDA backend. */
int dlt_gpu_built(void);
/* Number of usable CUDA devices; 0 without CUDA, driver or device. Never fails. */
int dlt_gpu_device_count(void);
/* Versions as integers as the libraries report them (0 when absent). */
typedef struct {
    int runtime, driver, cudnn, nccl, cublas;
} dlt_gpu_versions;
void dlt_gpu_get_versions(dlt_gpu_versions *v);
/* Name of device `dev` into buf ("" when absent). */
void dlt_gpu_device_name(int dev, char *buf, size_t len);
/* Runs y[i] += a * x[i] for i < n with a CUDA kernel compiled into the library,
 * copying x and y through device memory. Proves the toolchain end to end. */
dlt_status dlt_gpu_selftest_axpy(size_t n, float a, const float *x, float *y);

/* 1 when the CUDA backend has a kernel for op `op` (a dlt_op_id, the index of
 * dlt_op_table); needs no device. 0 without CUDA or for an id out of range;
 * -1 when the backend's kernel lists are themselves wrong (an op listed twice). */
int dlt_gpu_has_kernel(int op);

/* A device opened for training: compute stream, cuBLAS/cuDNN handles and the
 * backend the core uses (dlt_graph_set_backend). One per process and device. */
typedef struct dlt_gpu dlt_gpu;
dlt_status dlt_gpu_open(int device, dlt_gpu **out);
void dlt_gpu_close(dlt_gpu *gpu);
struct dlt_backend *dlt_gpu_backend(dlt_gpu *gpu);
/* Compute precision of GEMMs and convolutions (train.precision). Tensors,
 * gradients, their reduction and the optimizer state stay f32 in every mode:
 *   FP32  true f32 (FMA) everywhere;
 *   TF32  TF32 tensor cores for GEMMs and convolutions;
 *   BF16  GEMMs on bf16 tensor cores (cuBLAS rounds the f32 inputs to bf16 and
 *         accumulates in f32), convolutions in TF32 (cuDNN converts f32 data
 *         to f16 only, never to bf16);
 *   FP16  GEMMs on f16 tensor cores (inputs rounded to f16, f32 accumulation),
 *         convolutions allowed to convert their data to f16. Small gradients
 *         flush to zero in f16: train with loss scaling (the trainer's
 *         dynamic scaler is on by default with fp16). */
typedef enum { DLT_PREC_FP32 = 0, DLT_PREC_TF32, DLT_PREC_BF16, DLT_PREC_FP16 } dlt_precision;
void dlt_gpu_set_precision(dlt_gpu *gpu, dlt_precision p);
/* The compute stream (a cudaStream_t) the kernels run on. */
void *dlt_gpu_stream(dlt_gpu *gpu);

#ifdef __cplusplus
}
#endif
#endif
