/* GEMM libraries side by side on one thread (dlt_gemm runs the library on one
 * thread per block, src/core/gemm.c): OpenBLAS with the core it picked for
 * this CPU, oneDNN's sgemm when dltrain is built with it, and dlt_gemm itself
 * (the library its rule picks for each product), on the layers of BERT-mini /
 * GPT-mini and of im2col convolutions, each layer's three products (NN
 * forward, NT data gradient, TN weight gradient, with their own shapes).
 * Prints GFLOP/s and the ratio; asserts nothing. Figures depend on what else
 * runs: compare one run's columns.
 *
 *   bench/gemm_bench [seconds per cell, default 0.3]
 */
#include "config.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dlt_opdef.h"

#ifdef DLT_HAVE_DNNL
#include <dnnl.h>
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    const char *what;
    int m, n, k; /* the forward product: m rows (tokens, pixels), n outputs, k inputs */
} shape;

/* GPT-mini / BERT-mini at 2048 tokens (d 256, feed-forward 1024, 4 heads of
 * 64, vocabulary 4096), one attention head's 128 x 128 blocks, im2col layers */
static const shape shapes[] = {
    {"qkv projection", 2048, 768, 256},   {"attention out", 2048, 256, 256},
    {"feed-forward up", 2048, 1024, 256}, {"feed-forward down", 2048, 256, 1024},
    {"lm head 4k vocab", 2048, 4096, 256}, {"scores, one head", 128, 128, 64},
    {"context, one head", 128, 64, 128},  {"im2col 3x3 64->64", 3136, 64, 576},
    {"im2col 1x1 256->64", 3136, 64, 256},
};

/* the three products of a layer y = x w (x [m, k], w [k, n]) as C = op(A) op(B)
 * [M, N] with inner K: forward NN (m, n, k), data gradient dx = dy w^T NT
 * (m, k, n), weight gradient dw = x^T dy TN (k, n, m) */
typedef struct {
    char ta, tb;
    int M, N, K;
} product;

static product pass_of(const shape *s, int p)
{
    if (p == 0)
        return (product){'N', 'N', s->m, s->n, s->k};
    if (p == 1)
        return (product){'N', 'T', s->m, s->k, s->n};
    return (product){'T', 'N', s->k, s->n, s->m};
}

enum { LIB_OPENBLAS, LIB_DNNL, LIB_DLT };

static void run1(int lib, const product *q, const float *a, const float *b, float *c)
{
    int lda = q->ta == 'T' ? q->M : q->K, ldb = q->tb == 'T' ? q->K : q->N;
    if (lib == LIB_DLT) { /* what dltrain's kernels run: the rule of src/core/gemm.c */
        dlt_gemm(q->ta == 'T', q->tb == 'T', q->M, q->N, q->K, 1.0f, a, lda, b, ldb, 0.0f, c, q->N, 1);
        return;
    }
#ifdef DLT_HAVE_DNNL
    if (lib == LIB_DNNL) {
        dnnl_sgemm(q->ta, q->tb, q->M, q->N, q->K, 1.0f, a, lda, b, ldb, 0.0f, c, q->N);
        return;
    }
#endif
    cblas_sgemm(CblasRowMajor, q->ta == 'T' ? CblasTrans : CblasNoTrans, q->tb == 'T' ? CblasTrans : CblasNoTrans,
                q->M, q->N, q->K, 1.0f, a, lda, b, ldb, 0.0f, c, q->N);
}

static double gflops(int lib, const product *q, const float *a, const float *b, float *c, double secs)
{
    double fl = 2.0 * q->M * q->N * q->K;
    run1(lib, q, a, b, c); /* warm-up: JIT, caches */
    int reps = 0;
    double t0 = now(), t;
    do {
        run1(lib, q, a, b, c);
        reps++;
    } while ((t = now() - t0) < secs);
    return fl * reps / t / 1e9;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    char rule[256];
    openblas_set_num_threads(1);
    omp_set_num_threads(1);
    dlt_gemm_provider_info(rule, sizeof rule);
    printf("one thread; OpenBLAS core %s", openblas_get_corename());
#ifdef DLT_HAVE_DNNL
    const dnnl_version_t *v = dnnl_version();
    printf(", oneDNN %d.%d.%d", v->major, v->minor, v->patch);
    int dnnl = 1;
#else
    printf(", built without oneDNN");
    int dnnl = 0;
#endif
    printf("; dltrain: %s\nGFLOP/s; ratio oneDNN / OpenBLAS; dltrain runs dlt_gemm (its pick per product)\n", rule);
    printf("%-20s %4s %6s %6s %6s %9s %9s %6s %9s\n", "layer", "pass", "M", "N", "K", "OpenBLAS",
           dnnl ? "oneDNN" : "", dnnl ? "ratio" : "", "dltrain");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        size_t big = (size_t)(s->m > s->n ? s->m : s->n) * (size_t)(s->k > s->n ? s->k : s->n) +
                     (size_t)s->m * (size_t)s->k;
        float *a = malloc(big * sizeof(float)), *b = malloc(big * sizeof(float)), *c = malloc(big * sizeof(float));
        if (!a || !b || !c)
            return 1;
        for (size_t j = 0; j < big; j++)
            a[j] = (float)((j * 7919) % 1000) / 1000.0f - 0.5f, b[j] = (float)((j * 104729) % 1000) / 1000.0f - 0.5f;
        for (int p = 0; p < 3; p++) {
            product q = pass_of(s, p);
            double ob = gflops(LIB_OPENBLAS, &q, a, b, c, secs);
            printf("%-20s  %c%c  %6d %6d %6d %9.1f", s->what, q.ta, q.tb, q.M, q.N, q.K, ob);
            if (dnnl) {
                double dn = gflops(LIB_DNNL, &q, a, b, c, secs);
                printf(" %9.1f %6.2f", dn, dn / ob);
            } else {
                printf(" %9s %6s", "", "");
            }
            printf(" %9.1f\n", gflops(LIB_DLT, &q, a, b, c, secs));
        }
        free(a), free(b), free(c);
    }
    return 0;
}
