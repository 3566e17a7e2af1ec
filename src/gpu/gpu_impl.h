/* CUDA backend internals shared by the backend (backend.c) and the kernel files
 * src/gpu/k_NAME.cu (compiled as C++ by nvcc; C linkage throughout). */
#ifndef DLT_GPU_IMPL_H
#define DLT_GPU_IMPL_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "dlt_backend.h"
#include "dlt_gpu.h"
#include "gpu_flag.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One per process and device (a rank drives one GPU). Kernels get it as
 * (dlt_gpu *)k->dev and queue all their work on `stream`. */
struct dlt_gpu {
    int device;
    int sm_count;
    size_t smem_per_block;
    cudaStream_t stream;      /* compute: every kernel, copy and library call */
    cublasHandle_t cublas;    /* bound to `stream` */
    cublasLtHandle_t cublaslt;
    cudnnHandle_t cudnn;      /* bound to `stream` */
    int precision;            /* dlt_precision (dlt_gpu_set_precision) */
    cublasComputeType_t gemm_compute; /* of f32 GEMMs: 32F, or FAST_TF32/16BF/16F (inputs
                                       * rounded inside cuBLAS, f32 accumulation) */
    int conv_math;            /* cuDNN math level (k_conv.cu): 0 FMA, 1 TF32, 2 may convert to f16 */
    cudaEvent_t t0, t1;       /* profiling (dlt_backend.elapsed) */
    cudaStream_t xfer;        /* transfer: prefetches of the next batch (dlt_backend.prefetch) */
    cudaEvent_t ev[DLT_EV_COUNT]; /* dlt_backend.record / wait_host (no timing) */
    double *d_partial;        /* DLT_GPU_PARTIALS doubles: block partial sums (sumsq) */
    double *h_result;         /* pinned: one double read back */
    dlt_gpu_flag *d_flag;     /* input errors kernels met (gpu_flag.h), zeroed */
    dlt_gpu_flag *h_flag;     /* pinned: where check() reads it */
    int timing;
    int capturing;            /* a CUDA-graph capture of `stream` is open */
    dlt_backend backend;      /* the core's view of this device (ctx = this) */
};

#define DLT_GPU_PARTIALS 1024

/* Kernel lists: each kernel family file exports one, entries by op id
 * (dlt_op_list.h), terminated by {DLT_OP_COUNT}. The backend indexes them into
 * one array by id (dlt_gpu_kernel_index). */
typedef struct {
    int op; /* dlt_op_id */
    dlt_kernel_fn fn;
    dlt_workspace_fn ws; /* device scratch bytes, NULL: none */
} dlt_gpu_kernel;

/* Every kernel file, src/gpu/k_<name>.cu, that lists kernels: its list is
 * dlt_gpu_kernels_<name>. One per op family with kernels (dlt_op_list.h's
 * `cuda` column names each op's file); k_shape.cu (the shape family's shared
 * copy: its own ops are views), k_attention_bwd.cu (listed by k_attention.cu),
 * k_core.cu, k_optim.cu and selftest.cu list none. backend.c and the emulator
 * (tests/gpu/emu, which renames each list in emu_rename.h) index these lists. */
#define DLT_GPU_KERNEL_LISTS(X)                                                                \
    X(accum) X(unary) X(activation) X(binary) X(dropout) X(matmul) X(reduce) X(reduce_ext)     \
    X(softmax) X(metric) X(loss) X(loss_pw) X(conv) X(pool) X(upsample) X(norm) X(shape_ops)   \
    X(shape_slice) X(shape_gather) X(attention)                                              \
    X(random)                                                                                  \
    X(rnn)                                                                                     \
    X(box)                                                                                     \
    X(roi)                                                                                     \
    X(cast)

#define DLT_GPU_KERNEL_LIST_DECL_(name) extern const dlt_gpu_kernel dlt_gpu_kernels_##name[];
DLT_GPU_KERNEL_LISTS(DLT_GPU_KERNEL_LIST_DECL_)
#undef DLT_GPU_KERNEL_LIST_DECL_

/* by_op[id] = the entry for op id from the `n` lists (fn NULL where none has
 * one). Returns 0, or -1 when an entry's id is out of range or listed twice. */
static inline int dlt_gpu_kernel_index(const dlt_gpu_kernel *const *lists, int n, dlt_gpu_kernel *by_op)
{
    int bad = 0;
    for (int id = 0; id < DLT_OP_COUNT; id++)
        by_op[id].op = id, by_op[id].fn = NULL, by_op[id].ws = NULL;
    for (int f = 0; f < n; f++)
        for (const dlt_gpu_kernel *e = lists[f]; e->op != DLT_OP_COUNT; e++) {
            if (e->op < 0 || by_op[e->op].fn) {
                bad = 1;
                continue;
            }
            by_op[e->op] = *e;
        }
    return bad ? -1 : 0;
}

/* The context a kernel runs in. */
static inline struct dlt_gpu *dlt_gpu_of(const dlt_kctx *k) { return (struct dlt_gpu *)k->dev; }

/* Status from a CUDA runtime / cuBLAS / cuDNN result, naming the op and node
 * (k may be NULL). DLT_OK when the call succeeded. */
dlt_status dlt_gpu_check(cudaError_t e, const dlt_kctx *k, const char *what);
dlt_status dlt_gpu_check_cublas(cublasStatus_t s, const dlt_kctx *k, const char *what);
dlt_status dlt_gpu_check_cudnn(cudnnStatus_t s, const dlt_kctx *k, const char *what);
/* After a kernel launch: cudaGetLastError() as a status. */
dlt_status dlt_gpu_launched(const dlt_kctx *k, const char *kernel);

/* Blocks for a grid-stride loop over n elements (at most 32 blocks per SM). */
static inline unsigned dlt_gpu_blocks(const struct dlt_gpu *g, int64_t n, int threads)
{
    int64_t b = (n + threads - 1) / threads, cap = (int64_t)g->sm_count * 32;
    if (b < 1)
        b = 1;
    return (unsigned)(b < cap ? b : cap);
}

#ifdef __cplusplus
}
#endif
#endif
