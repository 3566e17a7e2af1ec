/* The CPU backend: dlt_backend over host memory and the ops' own `cpu`
 * kernels. Every graph has a backend and this is the default one, so the
 * planner, the executor, the reducer and the trainer have one path for all
 * devices. Its memory is the host's (host_memory = 1): a CPU graph keeps no
 * mirrors (its "device" buffers are its host buffers) and a CPU plan hands
 * out its own storage. Work is done when a call returns: there are no
 * streams, events or graphs to offer. The arithmetic is the one the CPU has
 * always done (element order of add, scale and clamp, the chunked sum of squares),
 * so CPU runs stay bit for bit what they were. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlt_backend.h"
#include "dlt_bf16.h"
#include "dlt_core.h"

#define SUMSQ_MIN_CHUNK 65536
#define SUMSQ_MAX_CHUNKS 256

static dlt_status c_alloc(void *ctx, size_t bytes, void **p)
{
    (void)ctx;
    *p = dlt_host_alloc(bytes, 0); /* 64-byte aligned; huge pages from 4 MiB */
    return *p ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "cpu: cannot allocate %zu bytes", bytes);
}

static void c_release(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* Copies between a buffer and itself (a host-memory plan's inputs and
 * outputs, a CPU graph's "device" copy) are nothing to do. */
static dlt_status c_copy(void *ctx, void *dst, const void *src, size_t n)
{
    (void)ctx;
    if (n && dst != src)
        memmove(dst, src, n);
    return DLT_OK;
}

static dlt_status c_memset(void *ctx, void *dst, int b, size_t n)
{
    (void)ctx;
    memset(dst, b, n);
    return DLT_OK;
}

static dlt_status c_add(void *ctx, float *dst, const float *src, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
    return DLT_OK;
}

/* Element by element: the thread count changes no bit. Vectorised
 * (DLT_SIMD_FOR): the scalar double multiply cost clipping 2.7 ms per
 * GPT-mini step (4.5 M gradients, 2 threads). */
static dlt_status c_scale(void *ctx, float *x, double a, size_t n)
{
    (void)ctx;
    dlt_host_scale(x, a, n);
    return DLT_OK;
}

void dlt_host_scale(float *x, double a, size_t n)
{
    DLT_SIMD_FOR(n, 32768, x[i] = (float)(x[i] * a));
}

/* WGAN's weight clipping: element by element, like scale. */
static dlt_status c_clamp(void *ctx, float *x, float lo, float hi, size_t n)
{
    (void)ctx;
#pragma omp parallel for schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++)
        x[i] = dlt_clamp_elem(x[i], lo, hi);
    return DLT_OK;
}

/* sum of x[i]^2 in double over SUMSQ_LANES interleaved accumulators (lane j:
 * i = j mod SUMSQ_LANES, in order), added pairwise, then the tail in order:
 * a fixed order that vectorises (one accumulator was a chain of dependent
 * adds, 3.6 ms per GPT-mini step on 2 threads), the same bits on any ISA. */
#define SUMSQ_LANES 8
static double sumsq_run(const float *x, size_t n)
{
    double a[SUMSQ_LANES] = {0};
    size_t i = 0;
    for (; i + SUMSQ_LANES <= n; i += SUMSQ_LANES)
        for (int j = 0; j < SUMSQ_LANES; j++)
            a[j] += (double)x[i + j] * (double)x[i + j];
    double s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; i < n; i++)
        s += (double)x[i] * (double)x[i];
    return s;
}

double dlt_host_sumsq(const float *x, size_t n)
{
    /* The chunking depends on n only, and the chunk sums are added in order,
     * so the total is bitwise the same for any number of threads. */
    size_t chunk = (n + SUMSQ_MAX_CHUNKS - 1) / SUMSQ_MAX_CHUNKS;
    if (chunk < SUMSQ_MIN_CHUNK)
        chunk = SUMSQ_MIN_CHUNK;
    const long nchunks = (long)((n + chunk - 1) / chunk);
    double part[SUMSQ_MAX_CHUNKS];
#pragma omp parallel for schedule(static) if (nchunks > 1)
    for (long c = 0; c < nchunks; c++) {
        size_t lo = (size_t)c * chunk, hi = lo + chunk < n ? lo + chunk : n;
        part[c] = sumsq_run(x + lo, hi - lo);
    }
    double total = 0;
    for (long c = 0; c < nchunks; c++)
        total += part[c];
    return total;
}

static dlt_status c_sumsq(void *ctx, const float *x, size_t n, double *out)
{
    (void)ctx;
    *out = dlt_host_sumsq(x, n);
    return DLT_OK;
}

static dlt_status c_sync(void *ctx)
{
    (void)ctx;
    return DLT_OK;
}

static int c_kernel(void *ctx, const dlt_op_def *op, dlt_kernel_fn *fn, dlt_workspace_fn *ws)
{
    (void)ctx;
    *fn = op->cpu;
    *ws = op->workspace;
    return op->cpu != NULL;
}

static int c_threads(void *ctx)
{
    (void)ctx;
    return dlt_get_num_threads();
}

/* Wall time since the previous call (the CPU's work is done when queued). */
static double last_mark;

static double c_elapsed(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec, d = last_mark > 0 ? t - last_mark : 0;
    last_mark = t;
    return d;
}

static dlt_status c_f32_to_bf16(void *ctx, dlt_bf16 *dst, const float *src, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        dst[i] = dlt_f32_to_bf16(src[i]);
    return DLT_OK;
}

static dlt_status c_bf16_to_f32(void *ctx, float *dst, const dlt_bf16 *src, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        dst[i] = dlt_bf16_to_f32(src[i]);
    return DLT_OK;
}

/* No "optim_step": on a host-memory backend the optimizer's state stays in
 * host memory and its own CPU rules step it (dlt_optim_to_device). */
static void *c_symbol(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "f32_to_bf16") == 0)
        return (void *)(dlt_f32_to_bf16_fn)c_f32_to_bf16;
    if (strcmp(name, "bf16_to_f32") == 0)
        return (void *)(dlt_bf16_to_f32_fn)c_bf16_to_f32;
    return NULL;
}

static dlt_backend cpu = {
    .name = "cpu",
    .ctx = NULL,
    .host_memory = 1,
    .alloc = c_alloc,
    .release = c_release,
    .alloc_host = c_alloc,
    .release_host = c_release,
    .upload = c_copy,
    .download = c_copy,
    .copy = c_copy,
    .memset = c_memset,
    .add = c_add,
    .scale = c_scale,
    .clamp = c_clamp,
    .sumsq = c_sumsq,
    .sync = c_sync,
    .kernel = c_kernel,
    .threads = c_threads,
    .elapsed = c_elapsed,
    .symbol = c_symbol,
};

dlt_backend *dlt_cpu_backend(void)
{
    return &cpu;
}
