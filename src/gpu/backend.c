/* The CUDA backend: one device context (compute and transfer streams, cuBLAS,
 * cuDNN) and the dlt_backend functions the core calls for memory, copies,
 * events and kernels. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_bf16.h"
#include "gpu_impl.h"
#include "optim_elem.h"

/* k_core.cu */
dlt_status dlt_gpu_add_f32(struct dlt_gpu *g, float *dst, const float *src, size_t n);
dlt_status dlt_gpu_scale_f32(struct dlt_gpu *g, float *x, double a, size_t n);
dlt_status dlt_gpu_clamp_f32(struct dlt_gpu *g, float *x, float lo, float hi, size_t n);
dlt_status dlt_gpu_sumsq_f32(struct dlt_gpu *g, const float *x, size_t n, double *out);
dlt_status dlt_gpu_optim_step(void *ctx, const dlt_optim_dev_args *a);               /* k_optim.cu */
dlt_status dlt_gpu_f32_to_bf16(void *ctx, dlt_bf16 *dst, const float *src, size_t n); /* k_core.cu */
dlt_status dlt_gpu_bf16_to_f32(void *ctx, float *dst, const dlt_bf16 *src, size_t n);

static const char *node_desc(const dlt_kctx *k, char *buf, size_t len)
{
    if (k && k->node)
        snprintf(buf, len, "%s '%s': ", k->node->op->name, k->node->name ? k->node->name : "");
    else
        buf[0] = '\0';
    return buf;
}

dlt_status dlt_gpu_check(cudaError_t e, const dlt_kctx *k, const char *what)
{
    char b[256];
    if (e == cudaSuccess)
        return DLT_OK;
    (void)cudaGetLastError();
    return dlt_seterr(e == cudaErrorMemoryAllocation ? DLT_ERR_NOMEM : DLT_ERR_INTERNAL, "%s%s: %s",
                      node_desc(k, b, sizeof b), what, cudaGetErrorString(e));
}

dlt_status dlt_gpu_check_cublas(cublasStatus_t s, const dlt_kctx *k, const char *what)
{
    char b[256];
    if (s == CUBLAS_STATUS_SUCCESS)
        return DLT_OK;
    return dlt_seterr(DLT_ERR_INTERNAL, "%s%s: %s", node_desc(k, b, sizeof b), what, cublasGetStatusString(s));
}

dlt_status dlt_gpu_check_cudnn(cudnnStatus_t s, const dlt_kctx *k, const char *what)
{
    char b[256];
    if (s == CUDNN_STATUS_SUCCESS)
        return DLT_OK;
    return dlt_seterr(DLT_ERR_INTERNAL, "%s%s: %s", node_desc(k, b, sizeof b), what, cudnnGetErrorString(s));
}

dlt_status dlt_gpu_launched(const dlt_kctx *k, const char *kernel)
{
    return dlt_gpu_check(cudaGetLastError(), k, kernel);
}

/* ---------------------------------------------------------------- backend functions */
static dlt_status be_alloc(void *ctx, size_t bytes, void **ptr)
{
    (void)ctx;
    *ptr = NULL;
    cudaError_t e = cudaMalloc(ptr, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        *ptr = NULL;
        return dlt_seterr(DLT_ERR_NOMEM, "GPU: cannot allocate %zu bytes of device memory: %s", bytes,
                          cudaGetErrorString(e));
    }
    return DLT_OK;
}

static void be_release(void *ctx, void *ptr)
{
    (void)ctx;
    if (ptr)
        cudaFree(ptr);
}

static dlt_status be_alloc_host(void *ctx, size_t bytes, void **ptr)
{
    (void)ctx;
    *ptr = NULL;
    cudaError_t e = cudaMallocHost(ptr, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        *ptr = NULL;
        return dlt_seterr(DLT_ERR_NOMEM, "GPU: cannot allocate %zu bytes of pinned host memory: %s", bytes,
                          cudaGetErrorString(e));
    }
    memset(*ptr, 0, bytes ? bytes : 1);
    return DLT_OK;
}

static void be_release_host(void *ctx, void *ptr)
{
    (void)ctx;
    if (ptr)
        cudaFreeHost(ptr);
}

static dlt_status copy_kind(struct dlt_gpu *g, void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                            const char *what)
{
    if (!bytes)
        return DLT_OK;
    return dlt_gpu_check(cudaMemcpyAsync(dst, src, bytes, kind, g->stream), NULL, what);
}

static dlt_status be_upload(void *ctx, void *dst, const void *src, size_t bytes)
{
    return copy_kind(ctx, dst, src, bytes, cudaMemcpyHostToDevice, "copy to the GPU");
}

static dlt_status be_download(void *ctx, void *dst, const void *src, size_t bytes)
{
    return copy_kind(ctx, dst, src, bytes, cudaMemcpyDeviceToHost, "copy from the GPU");
}

static dlt_status be_copy(void *ctx, void *dst, const void *src, size_t bytes)
{
    return copy_kind(ctx, dst, src, bytes, cudaMemcpyDeviceToDevice, "copy on the GPU");
}

static dlt_status be_memset(void *ctx, void *dst, int byte, size_t bytes)
{
    struct dlt_gpu *g = ctx;
    if (!bytes)
        return DLT_OK;
    return dlt_gpu_check(cudaMemsetAsync(dst, byte, bytes, g->stream), NULL, "cudaMemsetAsync");
}

static dlt_status be_add(void *ctx, float *dst, const float *src, size_t n)
{
    return dlt_gpu_add_f32(ctx, dst, src, n);
}

static dlt_status be_scale(void *ctx, float *x, double a, size_t n) { return dlt_gpu_scale_f32(ctx, x, a, n); }

static dlt_status be_clamp(void *ctx, float *x, float lo, float hi, size_t n)
{
    return dlt_gpu_clamp_f32(ctx, x, lo, hi, n);
}

static dlt_status be_sumsq(void *ctx, const float *x, size_t n, double *out)
{
    return dlt_gpu_sumsq_f32(ctx, x, n, out);
}

/* The input-error flag (gpu_flag.h): one copy and one wait; cleared when raised. */
static dlt_status be_check(void *ctx)
{
    struct dlt_gpu *g = ctx;
    dlt_status st;
    if ((st = dlt_gpu_check(cudaMemcpyAsync(g->h_flag, g->d_flag, sizeof *g->h_flag, cudaMemcpyDeviceToHost,
                                            g->stream),
                            NULL, "reading the input-error flag")) != DLT_OK ||
        (st = dlt_gpu_check(cudaStreamSynchronize(g->stream), NULL, "GPU work failed")) != DLT_OK)
        return st;
    if (!g->h_flag->pos)
        return DLT_OK;
    dlt_gpu_flag f = *g->h_flag;
    if ((st = dlt_gpu_check(cudaMemsetAsync(g->d_flag, 0, sizeof *g->d_flag, g->stream), NULL,
                            "clearing the input-error flag")) != DLT_OK)
        return st;
    return dlt_gpu_flag_error(&f);
}

static dlt_status be_sync(void *ctx)
{
    struct dlt_gpu *g = ctx;
    return dlt_gpu_check(cudaStreamSynchronize(g->stream), NULL, "GPU work failed");
}

#define LIST_(name) dlt_gpu_kernels_##name,
static const dlt_gpu_kernel *const families[] = {DLT_GPU_KERNEL_LISTS(LIST_)};
#undef LIST_

/* The families' lists by op id, built once (the lists are constant). */
static dlt_gpu_kernel kernels[DLT_OP_COUNT];
static int kernels_bad; /* an id listed twice or out of range */
static pthread_once_t kernels_once = PTHREAD_ONCE_INIT;

static void kernels_build(void)
{
    kernels_bad = dlt_gpu_kernel_index(families, (int)(sizeof families / sizeof families[0]), kernels) != 0;
}

static const dlt_gpu_kernel *kernel_of(int id)
{
    pthread_once(&kernels_once, kernels_build);
    return id >= 0 && id < DLT_OP_COUNT && kernels[id].fn ? &kernels[id] : NULL;
}

static int be_kernel(void *ctx, const dlt_op_def *op, dlt_kernel_fn *fn, dlt_workspace_fn *ws)
{
    (void)ctx;
    const dlt_gpu_kernel *k = kernel_of(op->id);
    if (!k)
        return 0;
    *fn = k->fn;
    *ws = k->ws;
    return 1;
}

int dlt_gpu_has_kernel(int op)
{
    const dlt_gpu_kernel *k = kernel_of(op);
    return kernels_bad ? -1 : k != NULL;
}

static double be_elapsed(void *ctx)
{
    struct dlt_gpu *g = ctx;
    float ms = 0;
    if (!g->timing) {
        cudaEventRecord(g->t0, g->stream);
        g->timing = 1;
        return 0;
    }
    cudaEventRecord(g->t1, g->stream);
    if (cudaEventSynchronize(g->t1) != cudaSuccess || cudaEventElapsedTime(&ms, g->t0, g->t1) != cudaSuccess) {
        (void)cudaGetLastError();
        ms = 0;
    }
    cudaEventRecord(g->t0, g->stream);
    return 1e-3 * ms;
}

/* ---------------------------------------------------------------- overlap */
static dlt_status be_record(void *ctx, int ev)
{
    struct dlt_gpu *g = ctx;
    if (ev < 0 || ev >= DLT_EV_COUNT || ev == DLT_EV_PREFETCHED)
        return dlt_seterr(DLT_ERR_INVALID, "GPU: event %d is not one the compute stream marks", ev);
    /* inside a capture a plain record only orders streams: External makes it
     * a node of the graph that marks the event each time the graph runs */
    if (g->capturing)
        return dlt_gpu_check(cudaEventRecordWithFlags(g->ev[ev], g->stream, cudaEventRecordExternal), NULL,
                             "cudaEventRecordWithFlags (capture)");
    return dlt_gpu_check(cudaEventRecord(g->ev[ev], g->stream), NULL, "cudaEventRecord");
}

/* CUDA graphs: stream capture of the compute stream (thread-local mode: other
 * threads' CUDA calls are not affected), instantiated once. */
static dlt_status be_capture_begin(void *ctx)
{
    struct dlt_gpu *g = ctx;
    dlt_status st = dlt_gpu_check(cudaStreamBeginCapture(g->stream, cudaStreamCaptureModeThreadLocal), NULL,
                                  "cudaStreamBeginCapture");
    g->capturing = st == DLT_OK;
    return st;
}

static dlt_status be_capture_end(void *ctx, void **graph)
{
    struct dlt_gpu *g = ctx;
    cudaGraph_t gr = NULL;
    cudaGraphExec_t exec = NULL;
    *graph = NULL;
    g->capturing = 0;
    dlt_status st = dlt_gpu_check(cudaStreamEndCapture(g->stream, &gr), NULL, "cudaStreamEndCapture");
    if (st == DLT_OK)
        st = dlt_gpu_check(cudaGraphInstantiate(&exec, gr, 0), NULL, "cudaGraphInstantiate");
    if (gr)
        cudaGraphDestroy(gr);
    if (st == DLT_OK)
        *graph = exec;
    return st;
}

static dlt_status be_graph_launch(void *ctx, void *graph)
{
    struct dlt_gpu *g = ctx;
    return dlt_gpu_check(cudaGraphLaunch((cudaGraphExec_t)graph, g->stream), NULL, "cudaGraphLaunch");
}

static void be_graph_free(void *ctx, void *graph)
{
    (void)ctx;
    if (graph)
        cudaGraphExecDestroy((cudaGraphExec_t)graph);
}

static dlt_status be_wait_host(void *ctx, int ev)
{
    struct dlt_gpu *g = ctx;
    if (ev < 0 || ev >= DLT_EV_COUNT)
        return dlt_seterr(DLT_ERR_INVALID, "GPU: no event %d (expected 0..%d)", ev, DLT_EV_COUNT - 1);
    return dlt_gpu_check(cudaEventSynchronize(g->ev[ev]), NULL, "GPU work failed");
}

/* The copy waits until the runs queued before have taken the device staging
 * (their CONSUMED mark), so it may overlap what they do after that. */
static dlt_status be_prefetch(void *ctx, void *dst, const void *src, size_t bytes)
{
    struct dlt_gpu *g = ctx;
    dlt_status st;
    if ((st = dlt_gpu_check(cudaStreamWaitEvent(g->xfer, g->ev[DLT_EV_CONSUMED], 0), NULL,
                            "cudaStreamWaitEvent (transfer stream)")) != DLT_OK)
        return st;
    if (bytes && (st = dlt_gpu_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g->xfer), NULL,
                                     "prefetch to the GPU")) != DLT_OK)
        return st;
    return dlt_gpu_check(cudaEventRecord(g->ev[DLT_EV_PREFETCHED], g->xfer), NULL, "cudaEventRecord (transfer stream)");
}

static dlt_status be_join_prefetch(void *ctx)
{
    struct dlt_gpu *g = ctx;
    return dlt_gpu_check(cudaStreamWaitEvent(g->stream, g->ev[DLT_EV_PREFETCHED], 0), NULL,
                         "cudaStreamWaitEvent (compute stream)");
}

static dlt_status create_overlap(struct dlt_gpu *g)
{
    dlt_status st;
    if ((st = dlt_gpu_check(cudaStreamCreateWithFlags(&g->xfer, cudaStreamNonBlocking), NULL,
                            "cudaStreamCreate (transfer stream)")) != DLT_OK)
        return st;
    for (int i = 0; i < DLT_EV_COUNT; i++)
        if ((st = dlt_gpu_check(cudaEventCreateWithFlags(&g->ev[i], cudaEventDisableTiming), NULL,
                                "cudaEventCreate")) != DLT_OK)
            return st;
    return DLT_OK;
}

static void *be_symbol(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "optim_step") == 0)
        return (void *)(dlt_optim_dev_step_fn)dlt_gpu_optim_step;
    if (strcmp(name, "f32_to_bf16") == 0)
        return (void *)(dlt_f32_to_bf16_fn)dlt_gpu_f32_to_bf16;
    if (strcmp(name, "bf16_to_f32") == 0)
        return (void *)(dlt_bf16_to_f32_fn)dlt_gpu_bf16_to_f32;
    return NULL;
}

/* ---------------------------------------------------------------- context */
dlt_status dlt_gpu_open(int device, dlt_gpu **out)
{
    struct cudaDeviceProp prop;
    dlt_status st;
    *out = NULL;
    int n = dlt_gpu_device_count();
    if (n == 0)
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "no CUDA device (driver or GPU missing)");
    if (device < 0 || device >= n)
        return dlt_seterr(DLT_ERR_INVALID, "CUDA device %d does not exist (this node has %d)", device, n);
    dlt_gpu *g = calloc(1, sizeof *g);
    if (!g)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    g->device = device;
    if ((st = dlt_gpu_check(cudaSetDevice(device), NULL, "cudaSetDevice")) ||
        (st = dlt_gpu_check(cudaGetDeviceProperties(&prop, device), NULL, "cudaGetDeviceProperties")) ||
        (st = dlt_gpu_check(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking), NULL,
                            "cudaStreamCreate")) ||
        (st = dlt_gpu_check(cudaEventCreate(&g->t0), NULL, "cudaEventCreate")) ||
        (st = dlt_gpu_check(cudaEventCreate(&g->t1), NULL, "cudaEventCreate")) ||
        (st = dlt_gpu_check_cublas(cublasCreate(&g->cublas), NULL, "cublasCreate")) ||
        (st = dlt_gpu_check_cublas(cublasSetStream(g->cublas, g->stream), NULL, "cublasSetStream")) ||
        (st = dlt_gpu_check_cublas(cublasLtCreate(&g->cublaslt), NULL, "cublasLtCreate")) ||
        (st = dlt_gpu_check_cudnn(cudnnCreate(&g->cudnn), NULL, "cudnnCreate")) ||
        (st = dlt_gpu_check_cudnn(cudnnSetStream(g->cudnn, g->stream), NULL, "cudnnSetStream")) ||
        (st = dlt_gpu_check(cudaMalloc((void **)&g->d_partial, DLT_GPU_PARTIALS * sizeof(double)), NULL,
                            "cudaMalloc")) ||
        (st = dlt_gpu_check(cudaMallocHost((void **)&g->h_result, sizeof(double)), NULL, "cudaMallocHost")) ||
        (st = dlt_gpu_check(cudaMalloc((void **)&g->d_flag, sizeof *g->d_flag), NULL, "cudaMalloc")) ||
        (st = dlt_gpu_check(cudaMemset(g->d_flag, 0, sizeof *g->d_flag), NULL, "cudaMemset")) ||
        (st = dlt_gpu_check(cudaMallocHost((void **)&g->h_flag, sizeof *g->h_flag), NULL, "cudaMallocHost")) ||
        (st = create_overlap(g))) {
        dlt_gpu_close(g);
        return st;
    }
    g->sm_count = prop.multiProcessorCount;
    g->smem_per_block = prop.sharedMemPerBlock;
    dlt_gpu_set_precision(g, DLT_PREC_FP32);
    static char names[16][16];
    snprintf(names[device & 15], sizeof names[0], "cuda:%d", device);
    g->backend = (dlt_backend){
        .name = names[device & 15],
        .ctx = g,
        .alloc = be_alloc,
        .release = be_release,
        .alloc_host = be_alloc_host,
        .release_host = be_release_host,
        .upload = be_upload,
        .download = be_download,
        .copy = be_copy,
        .memset = be_memset,
        .add = be_add,
        .scale = be_scale,
        .clamp = be_clamp,
        .sumsq = be_sumsq,
        .sync = be_sync,
        .check = be_check,
        .kernel = be_kernel,
        .elapsed = be_elapsed,
        .symbol = be_symbol,
        .record = be_record,
        .wait_host = be_wait_host,
        .prefetch = be_prefetch,
        .join_prefetch = be_join_prefetch,
        .capture_begin = be_capture_begin,
        .capture_end = be_capture_end,
        .graph_launch = be_graph_launch,
        .graph_free = be_graph_free,
    };
    *out = g;
    return DLT_OK;
}

void dlt_gpu_close(dlt_gpu *g)
{
    if (!g)
        return;
    if (g->stream)
        cudaStreamSynchronize(g->stream);
    if (g->xfer)
        cudaStreamSynchronize(g->xfer);
    if (g->d_partial)
        cudaFree(g->d_partial);
    if (g->h_result)
        cudaFreeHost(g->h_result);
    if (g->d_flag)
        cudaFree(g->d_flag);
    if (g->h_flag)
        cudaFreeHost(g->h_flag);
    if (g->cudnn)
        cudnnDestroy(g->cudnn);
    if (g->cublaslt)
        cublasLtDestroy(g->cublaslt);
    if (g->cublas)
        cublasDestroy(g->cublas);
    if (g->t0)
        cudaEventDestroy(g->t0);
    if (g->t1)
        cudaEventDestroy(g->t1);
    for (int i = 0; i < DLT_EV_COUNT; i++)
        if (g->ev[i])
            cudaEventDestroy(g->ev[i]);
    if (g->xfer)
        cudaStreamDestroy(g->xfer);
    if (g->stream)
        cudaStreamDestroy(g->stream);
    free(g);
}

dlt_backend *dlt_gpu_backend(dlt_gpu *g) { return g ? &g->backend : NULL; }
void *dlt_gpu_stream(dlt_gpu *g) { return g ? (void *)g->stream : NULL; }

void dlt_gpu_set_precision(dlt_gpu *g, dlt_precision p)
{
    static const cublasComputeType_t gemm[] = {CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32,
                                               CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_COMPUTE_32F_FAST_16F};
    if ((int)p < 0 || p > DLT_PREC_FP16)
        p = DLT_PREC_FP32;
    g->precision = p;
    g->gemm_compute = gemm[p];
    /* cuDNN has no bf16 conversion of f32 data: bf16 convolutions run in TF32 */
    g->conv_math = p == DLT_PREC_FP16 ? 2 : p == DLT_PREC_FP32 ? 0 : 1;
    cublasSetMathMode(g->cublas, p == DLT_PREC_FP32 ? CUBLAS_DEFAULT_MATH : CUBLAS_TF32_TENSOR_OP_MATH);
}
