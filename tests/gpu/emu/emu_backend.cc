/* A dlt_backend whose device memory is host memory and whose kernels are the
 * CUDA kernels of src/gpu run by the emulation (cuda_emu.h). Linked into the
 * tests/gpu/emu_* programs, it makes gpu_check.c compare the real kernel
 * sources against the CPU kernels without a GPU. */
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "gpu_check.h"
}
#include "dlt_bf16.h"
#include "gpu_impl.h"
#include "optim_elem.h"

extern "C" {
dlt_status dlt_gpu_add_f32(struct dlt_gpu *g, float *dst, const float *src, size_t n);
dlt_status dlt_gpu_scale_f32(struct dlt_gpu *g, float *x, double a, size_t n);
dlt_status dlt_gpu_clamp_f32(struct dlt_gpu *g, float *x, float lo, float hi, size_t n);
dlt_status dlt_gpu_sumsq_f32(struct dlt_gpu *g, const float *x, size_t n, double *out);
dlt_status dlt_gpu_optim_step(void *ctx, const dlt_optim_dev_args *a);
dlt_status dlt_gpu_f32_to_bf16(void *ctx, dlt_bf16 *dst, const float *src, size_t n);
dlt_status dlt_gpu_bf16_to_f32(void *ctx, float *dst, const dlt_bf16 *src, size_t n);
}

static const char *node_desc(const dlt_kctx *k, char *buf, size_t len)
{
    if (k && k->node)
        snprintf(buf, len, "%s '%s': ", k->node->op->name, k->node->name ? k->node->name : "");
    else
        buf[0] = '\0';
    return buf;
}

extern "C" dlt_status dlt_gpu_check(cudaError_t e, const dlt_kctx *k, const char *what)
{
    char b[256];
    if (e == cudaSuccess)
        return DLT_OK;
    (void)cudaGetLastError();
    return dlt_seterr(DLT_ERR_INTERNAL, "emulated GPU: %s%s: %s", node_desc(k, b, sizeof b), what,
                      cudaGetErrorString(e));
}

extern "C" dlt_status dlt_gpu_check_cublas(cublasStatus_t s, const dlt_kctx *k, const char *what)
{
    char b[256];
    return s == CUBLAS_STATUS_SUCCESS ? DLT_OK
                                      : dlt_seterr(DLT_ERR_INTERNAL, "emulated GPU: %s%s: cuBLAS status %d",
                                                   node_desc(k, b, sizeof b), what, (int)s);
}

extern "C" dlt_status dlt_gpu_check_cudnn(cudnnStatus_t s, const dlt_kctx *k, const char *what)
{
    char b[256];
    return s == CUDNN_STATUS_SUCCESS ? DLT_OK
                                     : dlt_seterr(DLT_ERR_INTERNAL, "emulated GPU: %s%s: cuDNN status %d",
                                                  node_desc(k, b, sizeof b), what, (int)s);
}

extern "C" dlt_status dlt_gpu_launched(const dlt_kctx *k, const char *kernel)
{
    return dlt_gpu_check(cudaGetLastError(), k, kernel);
}

/* Every family of the CUDA backend, convolutions through the emulated cuDNN
 * (emu_cudnn.cc). */
#define LIST_(name) dlt_gpu_kernels_##name,
static const dlt_gpu_kernel *const families[] = {DLT_GPU_KERNEL_LISTS(LIST_)};
#undef LIST_

static dlt_status e_alloc(void *, size_t bytes, void **p)
{
    *p = malloc(bytes ? bytes : 1);
    if (!*p)
        return dlt_seterr(DLT_ERR_NOMEM, "emulated GPU: cannot allocate %zu bytes", bytes);
    memset(*p, 0xab, bytes ? bytes : 1); /* device memory is not zeroed */
    return DLT_OK;
}

static void e_release(void *, void *p) { free(p); }

static dlt_status e_alloc_host(void *, size_t bytes, void **p)
{
    *p = calloc(1, bytes ? bytes : 1);
    return *p ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "emulated GPU: cannot allocate %zu bytes", bytes);
}

/* through the emulated runtime, so that a capture records them */
static dlt_status e_copy(void *, void *dst, const void *src, size_t n)
{
    return dlt_gpu_check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDefault, nullptr), NULL, "cudaMemcpyAsync");
}

static dlt_status e_memset(void *, void *dst, int b, size_t n)
{
    return dlt_gpu_check(cudaMemsetAsync(dst, b, n, nullptr), NULL, "cudaMemsetAsync");
}

static dlt_status e_add(void *ctx, float *dst, const float *src, size_t n)
{
    return dlt_gpu_add_f32((struct dlt_gpu *)ctx, dst, src, n);
}

static dlt_status e_scale(void *ctx, float *x, double a, size_t n)
{
    return dlt_gpu_scale_f32((struct dlt_gpu *)ctx, x, a, n);
}

static dlt_status e_clamp(void *ctx, float *x, float lo, float hi, size_t n)
{
    return dlt_gpu_clamp_f32((struct dlt_gpu *)ctx, x, lo, hi, n);
}

static dlt_status e_sumsq(void *ctx, const float *x, size_t n, double *out)
{
    return dlt_gpu_sumsq_f32((struct dlt_gpu *)ctx, x, n, out);
}

static dlt_status e_sync(void *) { return DLT_OK; }

/* As backend.c's: read the input-error flag, clear it when raised. */
static dlt_status e_check(void *ctx)
{
    struct dlt_gpu *g = (struct dlt_gpu *)ctx;
    *g->h_flag = *g->d_flag;
    if (!g->h_flag->pos)
        return DLT_OK;
    memset(g->d_flag, 0, sizeof *g->d_flag);
    return dlt_gpu_flag_error(g->h_flag);
}

/* The families' lists by op id, as backend.c indexes them (built once). */
struct kernel_table {
    dlt_gpu_kernel by_op[DLT_OP_COUNT];
    int bad;
    kernel_table() { bad = dlt_gpu_kernel_index(families, (int)(sizeof families / sizeof families[0]), by_op); }
};

static const kernel_table &kernel_tab()
{
    static const kernel_table t;
    return t;
}

static int e_kernel(void *, const dlt_op_def *op, dlt_kernel_fn *fn, dlt_workspace_fn *ws)
{
    const kernel_table &t = kernel_tab();
    if (op->id < 0 || op->id >= DLT_OP_COUNT || !t.by_op[op->id].fn)
        return 0;
    *fn = t.by_op[op->id].fn;
    *ws = t.by_op[op->id].ws;
    return 1;
}

static double e_elapsed(void *) { return 0; }

/* Overlap: the emulated streams run every call to its end, so a prefetch is
 * a plain copy and there is never anything to wait for. */
static dlt_status e_record(void *, int) { return DLT_OK; }

/* CUDA graphs as backend.c makes them, on the emulated stream capture */
static dlt_status e_capture_begin(void *)
{
    return dlt_gpu_check(cudaStreamBeginCapture(nullptr, cudaStreamCaptureModeThreadLocal), NULL,
                         "cudaStreamBeginCapture");
}

static dlt_status e_capture_end(void *, void **graph)
{
    cudaGraph_t gr = nullptr;
    cudaGraphExec_t exec = nullptr;
    *graph = nullptr;
    dlt_status st = dlt_gpu_check(cudaStreamEndCapture(nullptr, &gr), NULL, "cudaStreamEndCapture");
    if (st == DLT_OK)
        st = dlt_gpu_check(cudaGraphInstantiate(&exec, gr, 0), NULL, "cudaGraphInstantiate");
    if (gr)
        cudaGraphDestroy(gr);
    if (st == DLT_OK)
        *graph = exec;
    return st;
}

static dlt_status e_graph_launch(void *, void *graph)
{
    return dlt_gpu_check(cudaGraphLaunch((cudaGraphExec_t)graph, nullptr), NULL, "cudaGraphLaunch");
}

static void e_graph_free(void *, void *graph)
{
    if (graph)
        cudaGraphExecDestroy((cudaGraphExec_t)graph);
}
static dlt_status e_join(void *) { return DLT_OK; }

static void *e_symbol(void *, const char *name)
{
    if (strcmp(name, "optim_step") == 0)
        return (void *)(dlt_optim_dev_step_fn)dlt_gpu_optim_step;
    if (strcmp(name, "f32_to_bf16") == 0)
        return (void *)(dlt_f32_to_bf16_fn)dlt_gpu_f32_to_bf16;
    if (strcmp(name, "bf16_to_f32") == 0)
        return (void *)(dlt_bf16_to_f32_fn)dlt_gpu_bf16_to_f32;
    return NULL;
}

static double partials[DLT_GPU_PARTIALS], result;
static dlt_gpu_flag flag_dev, flag_host;

/* An H100-like device with few SMs: grid-stride loops then cover their range
 * with few blocks, and every block's threads run as fibers. */
static struct dlt_gpu *emu_device()
{
    static struct dlt_gpu g;
    g.device = 0;
    g.sm_count = 2;
    g.smem_per_block = 48 * 1024;
    g.gemm_compute = CUBLAS_COMPUTE_32F;
    if (!g.cudnn)
        cudnnCreate(&g.cudnn);
    g.d_partial = partials;
    g.h_result = &result;
    g.d_flag = &flag_dev;
    g.h_flag = &flag_host;
    g.backend.name = "emulated-cuda";
    g.backend.ctx = &g;
    g.backend.alloc = e_alloc;
    g.backend.release = e_release;
    g.backend.alloc_host = e_alloc_host;
    g.backend.release_host = e_release;
    g.backend.upload = e_copy;
    g.backend.download = e_copy;
    g.backend.copy = e_copy;
    g.backend.memset = e_memset;
    g.backend.add = e_add;
    g.backend.scale = e_scale;
    g.backend.clamp = e_clamp;
    g.backend.sumsq = e_sumsq;
    g.backend.sync = e_sync;
    g.backend.check = e_check;
    g.backend.kernel = e_kernel;
    g.backend.elapsed = e_elapsed;
    g.backend.symbol = e_symbol;
    g.backend.record = e_record;
    g.backend.wait_host = e_record;
    g.backend.prefetch = e_copy;
    g.backend.join_prefetch = e_join;
    g.backend.capture_begin = e_capture_begin;
    g.backend.capture_end = e_capture_end;
    g.backend.graph_launch = e_graph_launch;
    g.backend.graph_free = e_graph_free;
    return &g;
}

/* The emu_* tests are built with -Dgc_init=emu_gc_init: their cases then run
 * on this device instead of a GPU. */
extern "C" int emu_gc_init(void)
{
    gc_use_backend(&emu_device()->backend, "CUDA kernels emulated on the CPU");
    return gc_init();
}

/* The tests that open the device themselves (flat buffers, running
 * statistics) also get -Ddlt_gpu_open=emu_gpu_open etc. */
extern "C" dlt_status emu_gpu_open(int device, dlt_gpu **out)
{
    (void)device;
    *out = emu_device();
    return DLT_OK;
}
extern "C" void emu_gpu_close(dlt_gpu *) {}
/* As backend.c's dlt_gpu_has_kernel over the emulated lists; -1 when the lists
 * themselves are wrong (an id listed twice or out of range). */
extern "C" int emu_gpu_built(void) { return 1; }
extern "C" int emu_gpu_has_kernel(int op)
{
    const kernel_table &t = kernel_tab();
    if (t.bad)
        return -1;
    return op >= 0 && op < DLT_OP_COUNT && t.by_op[op].fn != NULL;
}
/* As backend.c's, without cuBLAS's math mode (the emulated GEMM follows
 * gemm_compute, the emulated cuDNN the math type k_conv.cu sets). */
extern "C" void emu_gpu_set_precision(dlt_gpu *g, dlt_precision p)
{
    static const cublasComputeType_t gemm[] = {CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32,
                                               CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_COMPUTE_32F_FAST_16F};
    g->precision = p;
    g->gemm_compute = gemm[(int)p < 0 || p > DLT_PREC_FP16 ? 0 : (int)p];
    g->conv_math = p == DLT_PREC_FP16 ? 2 : p == DLT_PREC_FP32 ? 0 : 1;
}
extern "C" dlt_backend *emu_gpu_backend(dlt_gpu *g) { return &g->backend; }
