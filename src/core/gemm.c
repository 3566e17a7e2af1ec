/* GEMM for CPU kernels: the library (OpenBLAS, or oneDNN's sgemm) runs
 * single-threaded and dltrain splits the output over its own OpenMP threads.
 * Two thread pools on one set of cores (OpenBLAS's pthreads waking while
 * OpenMP workers spin) cost more than a third of the step time in
 * measurements, and one pool keeps the result independent of anything but the
 * thread count.
 *
 * Which library: when dltrain is built with oneDNN, dnnl_sgemm runs the
 * GEMMs. It dispatches on CPU features at run time, while OpenBLAS picks its
 * kernels by CPU model at load time and falls back to an SSE3 core
 * ("Prescott") on a model newer than its build: Debian 12's OpenBLAS 0.3.21
 * on an Emerald Rapids node runs 10-23 GFLOP/s on one thread where oneDNN's
 * sgemm runs 69-140 (bench/gemm_bench, bench/results/gemm-2026-12-06.txt).
 * Where OpenBLAS's core does fit, oneDNN's sgemm is still as fast or faster
 * in whole steps: on AVX-512 (OpenBLAS's SkylakeX core, 2026-12-07,
 * bench/transformer_bench interleaved) GPT-mini 264 against 293 ms per step
 * on 2 threads and 520 against 572 on 1, BERT-mini 305 against 332 and 591
 * against 641; with both held to AVX2 (Haswell core) GPT-mini 388-391 against
 * 384-385 ms. Without oneDNN, OpenBLAS runs them, with a warning when its
 * core has no AVX2 kernels on a CPU that has them.
 *
 * Except where oneDNN runs AVX2 code: there (an AVX2-only node, or
 * DNNL_MAX_CPU_ISA=AVX2) its sgemm is weak on wide products with a long k
 * and a transposed operand, and OpenBLAS's AVX2 core (Haswell, Zen) is not,
 * so auto runs products with n >= 256 and either TN with k >= 256 (weight
 * gradients) or NT with k >= 512 (long data gradients) on OpenBLAS,
 * everything else on oneDNN. Measured one thread, AVX2 code on a Sapphire
 * Rapids core (bench/gemm_bench, 2026-12-07): GPT-mini's TN weight gradients
 * 79-91 GFLOP/s on oneDNN against 92-98 on OpenBLAS at 256-2048 tokens, its
 * NT data gradients at k 1024-4096 80-88 against 90-95 (k 768: even);
 * oneDNN keeps the forwards (101-104 against 94-96), the short-k NT
 * products, im2col's narrow TN weight gradients (n 64: 93-95 against 88) and
 * the attention heads' small products (96-102 against 83-89). A GPT-mini
 * step on one thread 730 -> 704-712 ms. With AVX-512 code oneDNN is ahead on
 * these shapes (OpenBLAS's SkylakeX core 5-13% behind; the one exception,
 * TN with m >= 2n, matmul.c runs flipped) and runs them all. The choice is a
 * function of the whole product's shape and the CPU, made before a GEMM is
 * split over threads, so results depend on the thread count no more than
 * before.
 * DLT_GEMM=openblas|dnnl|auto (unset: auto) forces one library for every
 * product: it is read once, at the first GEMM. */
#include "config.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef DLT_HAVE_DNNL
#include <dnnl.h>
#endif

#include "dlt_opdef.h"

enum { GEMM_OPENBLAS, GEMM_DNNL };
static int provider = GEMM_OPENBLAS;
static const char *provider_why = "";
static pthread_once_t provider_once = PTHREAD_ONCE_INIT;

/* OpenBLAS cores with AVX2+FMA (or wider) kernels, as openblas_get_corename()
 * names them. */
static int openblas_core_has_avx2(const char *core)
{
    static const char *const wide[] = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"};
    for (size_t i = 0; i < sizeof wide / sizeof *wide; i++)
        if (core && strcasecmp(core, wide[i]) == 0)
            return 1;
    return 0;
}

/* 1 when the CPU runs AVX2+FMA but OpenBLAS's core has no AVX2 kernels */
static int openblas_core_below_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           !openblas_core_has_avx2(openblas_get_corename());
#else
    return 0;
#endif
}

static int slow_core; /* OpenBLAS runs the GEMMs on a core below the CPU's */
static int long_k_openblas; /* auto, oneDNN at AVX2 code, OpenBLAS's core AVX2: the rule above */

#ifdef DLT_HAVE_DNNL
/* oneDNN's sgemm runs AVX-512 code on this CPU (DNNL_MAX_CPU_ISA honoured) */
static int dnnl_runs_avx512(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core) == (unsigned)dnnl_cpu_isa_avx512_core;
}
#endif

static void choose_provider(void)
{
    const char *e = getenv("DLT_GEMM");
    int forced = -1;
    if (e && strcmp(e, "openblas") == 0)
        forced = GEMM_OPENBLAS;
    else if (e && strcmp(e, "dnnl") == 0)
        forced = GEMM_DNNL;
    int below = openblas_core_below_cpu();
#ifndef DLT_HAVE_DNNL
    (void)forced;
    provider = GEMM_OPENBLAS;
    provider_why = "built without oneDNN";
#else
    if (forced >= 0) {
        provider = forced;
        provider_why = forced == GEMM_DNNL ? "DLT_GEMM=dnnl" : "DLT_GEMM=openblas";
    } else {
        provider = GEMM_DNNL;
        provider_why = "oneDNN dispatches on the CPU's features";
        long_k_openblas = !dnnl_runs_avx512() && openblas_core_has_avx2(openblas_get_corename());
        if (long_k_openblas)
            provider_why = "oneDNN at AVX2 code: OpenBLAS for n >= 256 and TN k >= 256 or NT k >= 512";
    }
    if (forced < 0 && e && *e && strcmp(e, "auto") != 0)
        provider_why = "DLT_GEMM ignored: not openblas|dnnl|auto";
#endif
    slow_core = provider == GEMM_OPENBLAS && below;
}

static int gemm_provider(void)
{
    pthread_once(&provider_once, choose_provider);
    return provider;
}

void dlt_gemm_provider_info(char *buf, size_t len)
{
    int p = gemm_provider();
    snprintf(buf, len, "%s (%s; OpenBLAS core %s)", p == GEMM_DNNL ? "oneDNN sgemm" : "OpenBLAS", provider_why,
             openblas_get_corename());
}

const char *dlt_gemm_warning(void)
{
    gemm_provider();
    if (!slow_core)
        return NULL;
#ifdef DLT_HAVE_DNNL
    return "GEMMs run OpenBLAS's core without AVX2 kernels on a CPU with AVX2+FMA (DLT_GEMM=openblas), "
           "several times below the CPU: unset DLT_GEMM to run oneDNN's sgemm";
#else
    return "GEMMs run OpenBLAS's core without AVX2 kernels on a CPU with AVX2+FMA (OpenBLAS predates this "
           "CPU model), several times below the CPU: set OPENBLAS_CORETYPE (e.g. Haswell or SkylakeX) or "
           "rebuild with libdnnl-dev for oneDNN's sgemm";
#endif
}

/* The products the rule above gives OpenBLAS: wide (n >= 256) with a long
 * k, decided on the whole GEMM before it is split over threads, so every
 * block of it runs the same library. */
static int long_k_product(CBLAS_TRANSPOSE TA, CBLAS_TRANSPOSE TB, int64_t n, int64_t k)
{
    if (!long_k_openblas || n < 256)
        return 0;
    if (TA == CblasTrans && TB == CblasNoTrans)
        return k >= 256;
    return TA == CblasNoTrans && TB == CblasTrans && k >= 512;
}

/* One GEMM on the calling thread, on oneDNN unless `openblas` (or built
 * without it, or oneDNN refused the arguments). */
static void gemm1(int openblas, CBLAS_TRANSPOSE TA, CBLAS_TRANSPOSE TB, int64_t m, int64_t n, int64_t k,
                  float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc)
{
#ifndef DLT_HAVE_DNNL
    (void)openblas;
#else
    if (!openblas && k > 0) {
        /* outside a parallel region oneDNN would fork omp_get_max_threads() */
        int outer = !omp_in_parallel() ? omp_get_max_threads() : 1;
        if (outer > 1)
            omp_set_num_threads(1);
        dnnl_status_t s = dnnl_sgemm(TA == CblasTrans ? 'T' : 'N', TB == CblasTrans ? 'T' : 'N', m, n, k, alpha,
                                     a, lda, b, ldb, beta, c, ldc);
        if (outer > 1)
            omp_set_num_threads(outer);
        if (s == dnnl_success)
            return;
    }
#endif
    cblas_sgemm(CblasRowMajor, TA, TB, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

void dlt_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc, int nthreads)
{
    CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    if (m <= 0 || n <= 0)
        return;
    int openblas = gemm_provider() == GEMM_OPENBLAS || long_k_product(TA, TB, n, k);
    /* below ~1 MFLOP per thread the fork costs more than it saves */
    double flops = 2.0 * (double)m * (double)n * (double)k;
    int nt = nthreads;
    if (omp_in_parallel() || nt <= 1 || flops < 2e6 * nt)
        nt = 1;
    if (nt == 1) {
        gemm1(openblas, TA, TB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    /* split the longer output dimension in blocks of 16 rows/columns */
    int by_rows = m >= n;
    int64_t len = by_rows ? m : n, blocks = (len + 15) / 16;
    if (blocks < nt)
        nt = (int)blocks;
#pragma omp parallel for schedule(static, 1) num_threads(nt)
    for (int t = 0; t < nt; t++) {
        int64_t lo = blocks * t / nt * 16, hi = blocks * (t + 1) / nt * 16;
        if (hi > len)
            hi = len;
        if (hi <= lo)
            continue;
        if (by_rows) {
            const float *as = ta ? a + lo : a + lo * lda;
            gemm1(openblas, TA, TB, hi - lo, n, k, alpha, as, lda, b, ldb, beta, c + lo * ldc, ldc);
        } else {
            const float *bs = tb ? b + lo * ldb : b + lo;
            gemm1(openblas, TA, TB, m, hi - lo, k, alpha, a, lda, bs, ldb, beta, c + lo, ldc);
        }
    }
}
