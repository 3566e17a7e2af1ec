/* The backend interface: what a backend gives the core so that graphs and
 * plans can live in its memory and run its kernels. Every graph has one: the
 * CPU backend (cpu_backend.c: host memory, the ops' own `cpu` kernels) unless
 * a device backend (src/gpu) is set. The core knows nothing about CUDA; it
 * calls these functions only.
 *
 * Every call that moves data or runs a kernel is ordered on the backend's
 * compute stream and may return before the work is done; `sync` waits for it.
 * Errors are returned as a status with dlt_errmsg set (a failed launch or an
 * out-of-memory names the op or the size). */
#ifndef DLT_BACKEND_H
#define DLT_BACKEND_H

#include "dlt_opdef.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A backend kernel has the CPU kernel's signature; k->dev is the backend context
 * and every pointer in k is device memory. */
typedef dlt_status (*dlt_kernel_fn)(const dlt_kctx *k);
/* Device scratch bytes a kernel needs (same arguments as dlt_op_def.workspace). */
typedef size_t (*dlt_workspace_fn)(const dlt_node *n, const dlt_shape *const *in,
                                   const dlt_shape *const *out);

struct dlt_backend {
    const char *name; /* "cuda:0", "cpu" */
    void *ctx;        /* passed to every call and to kernels as dlt_kctx.dev */
    /* 1: its memory is host memory that host code may read and write as its
     * own (the CPU backend). A graph then keeps no host mirrors (its device
     * buffers are its host buffers), a plan hands out its arena and inputs
     * themselves (dlt_plan_data) and prefetches nothing, and an optimizer
     * keeps its state where it is. 0: device memory, reached by the copies
     * below only (a GPU, or the tests' stand-in device). */
    int host_memory;
    /* device memory (zeroed is not promised) */
    dlt_status (*alloc)(void *ctx, size_t bytes, void **ptr);
    void (*release)(void *ctx, void *ptr);
    /* page-locked host memory for staging (NULL-safe release) */
    dlt_status (*alloc_host)(void *ctx, size_t bytes, void **ptr);
    void (*release_host)(void *ctx, void *ptr);
    /* asynchronous copies on the compute stream: host -> device, device -> host,
     * device -> device */
    dlt_status (*upload)(void *ctx, void *dst, const void *src, size_t bytes);
    dlt_status (*download)(void *ctx, void *dst, const void *src, size_t bytes);
    dlt_status (*copy)(void *ctx, void *dst, const void *src, size_t bytes);
    dlt_status (*memset)(void *ctx, void *dst, int byte, size_t bytes);
    /* dst[i] += src[i] (f32) */
    dlt_status (*add)(void *ctx, float *dst, const float *src, size_t n);
    /* x[i] = (float)(x[i] * a), the product in double as the CPU forms it */
    dlt_status (*scale)(void *ctx, float *x, double a, size_t n);
    /* x[i] = min(max(x[i], lo), hi) (f32, in place): WGAN's weight clipping
     * after an optimizer step. A NaN stays NaN; lo > hi gives hi (as
     * dlt_clamp); x is device memory, like scale's. */
    dlt_status (*clamp)(void *ctx, float *x, float lo, float hi, size_t n);
    /* *out = sum of x[i]^2 accumulated in double (waits for the result) */
    dlt_status (*sumsq)(void *ctx, const float *x, size_t n, double *out);
    /* wait for everything queued on the compute stream */
    dlt_status (*sync)(void *ctx);
    /* Errors kernels met in their input and could only record (an index out
     * of range: the CPU refuses it, a GPU kernel notes the first); clears
     * them. Called after each run (waits). NULL: the backend has none. */
    dlt_status (*check)(void *ctx);
    /* The kernel for an op (and its workspace rule, NULL for none); returns 0
     * when the backend has no kernel for it. */
    int (*kernel)(void *ctx, const dlt_op_def *op, dlt_kernel_fn *fn, dlt_workspace_fn *ws);
    /* Threads a kernel may use (dlt_kctx.nthreads); NULL: 1. */
    int (*threads)(void *ctx);
    /* Profiling: elapsed seconds of the work queued since the last call
     * (waits for it). */
    double (*elapsed)(void *ctx);
    /* Named extensions for modules that are not ops (e.g. "optim_step", whose
     * type the optimizer defines); NULL when the backend has none by that name. */
    void *(*symbol)(void *ctx, const char *name);

    /* Overlap of the next batch's upload with compute (dlt_plan_prefetch,
     * dlt_exec_opts.async): a transfer stream beside the compute stream and the
     * DLT_EV_* events below. A backend sets all four or none; with none the
     * core uploads prefetched batches on the compute stream and runs plans
     * synchronously. An event holds its latest mark, whichever plan made it,
     * so waiting for it waits at least for the caller's own mark. */
    /* Mark event `ev` (DLT_EV_OUTPUTS, _DONE or _CONSUMED) on the compute
     * stream: it is passed when the work queued before it is done. */
    dlt_status (*record)(void *ctx, int ev);
    /* Block the host until the latest mark of `ev` (any DLT_EV_*) is passed;
     * returns at once for an event never marked. */
    dlt_status (*wait_host)(void *ctx, int ev);
    /* On the transfer stream: wait for the latest DLT_EV_CONSUMED mark (the
     * device staging is no longer needed by a run queued before), copy `bytes`
     * from pinned host memory `src` to device memory `dst`, mark
     * DLT_EV_PREFETCHED. `src` must stay unchanged until that mark is passed. */
    dlt_status (*prefetch)(void *ctx, void *dst, const void *src, size_t bytes);
    /* Make the compute stream wait for the latest DLT_EV_PREFETCHED mark. */
    dlt_status (*join_prefetch)(void *ctx);
    /* Graphs (dlt_exec_opts.graph; all four or none). capture_begin: from now
     * on the compute stream's work (kernels, copies, memsets, record) is
     * recorded, not run; capture_end: stop and return the recording as a
     * launchable graph in *graph, or an error (then the recorded work is
     * dropped: none of it ran); graph_launch: queue a graph on the compute
     * stream; graph_free: release one (NULL-safe). */
    dlt_status (*capture_begin)(void *ctx);
    dlt_status (*capture_end)(void *ctx, void **graph);
    dlt_status (*graph_launch)(void *ctx, void *graph);
    void (*graph_free)(void *ctx, void *graph);
};

/* The element rule of dlt_backend.clamp, for every backend's loop and kernel:
 * a NaN fails both comparisons and passes through; lo > hi gives hi. */
static inline DLT_HD float dlt_clamp_elem(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* The CPU backend (cpu_backend.c), the backend of every graph no other is
 * set for; never freed. */
dlt_backend *dlt_cpu_backend(void);
/* Sum of x[i]^2 in double over chunks fixed by n alone, added in order: the
 * same bits for any thread count (the CPU backend's sumsq, dlt_grad_sumsq). */
double dlt_host_sumsq(const float *x, size_t n);
/* x[i] = (float)(x[i] * a), vectorised, on the team from 32768 elements: the
 * CPU backend's scale, and the reducer's on host gradients. */
void dlt_host_scale(float *x, double a, size_t n);

/* `for (size_t i = 0; i < n; i++) stmt;` under `omp simd`, split over the
 * OpenMP team when n >= min. Two loops, not `parallel for simd if (...)`:
 * GCC 12 vectorises neither branch of that form. Element i's result does not
 * depend on the split, so neither do the bits. */
#define DLT_SIMD_FOR(n, min, stmt)                                                                   \
    do {                                                                                             \
        if ((n) >= (min)) {                                                                          \
            _Pragma("omp parallel for simd schedule(static)") for (size_t i = 0; i < (n); i++) stmt; \
        } else {                                                                                     \
            _Pragma("omp simd") for (size_t i = 0; i < (n); i++) stmt;                               \
        }                                                                                            \
    } while (0)

/* The events of dlt_backend.record / wait_host. */
enum {
    DLT_EV_OUTPUTS = 0, /* compute: a run's outputs are in host memory */
    DLT_EV_DONE,        /* compute: the end of a run */
    DLT_EV_CONSUMED,    /* compute: a run has copied its plan's device staging */
    DLT_EV_PREFETCHED,  /* transfer: the end of the latest prefetch copy */
    DLT_EV_COUNT
};

#ifdef __cplusplus
}
#endif
#endif
