/* GEMM libraries side by side on one thread (dlt_gemm runs the library on one
 * thread per block, src/core/gemm.c): OpenBLAS with the core it picked for
 * this CPU, and oneDNN's sgemm when dltrain is built with it, on the GEMM
 * shapes of BERT-mini / GPT-mini (1024 tokens, d 256, feed-forward 1024, 4
 * heads of 64) and of im2col convolutions, all three passes (NN forward, NT
 * data gradient, TN weight gradient). Prints GFLOP/s and the ratio; asserts
 * nothing. Figures depend on what else runs: compare one run's columns.
 *
 *   bench/gemm_bench [seconds per cell, default 0.3]
 */
#include "config.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
    int m, n, k;
} shape;

static const shape shapes[] = {
    {"qkv projection", 1024, 768, 256},    {"attention out", 1024, 256, 256},
    {"feed-forward up", 1024, 1024, 256},  {"feed-forward down", 1024, 256, 1024},
    {"scores, one head", 128, 128, 64},    {"context, one head", 128, 64, 128},
    {"lm head 8k vocab", 1024, 8192, 256}, {"im2col 3x3 64->64", 64, 3136, 576},
    {"im2col 1x1 256->64", 64, 3136, 256},
};

enum { LIB_OPENBLAS, LIB_DNNL };

static void run1(int lib, char ta, char tb, const shape *s, const float *a, const float *b, float *c)
{
    int lda = ta == 'T' ? s->m : s->k, ldb = tb == 'T' ? s->k : s->n;
#ifdef DLT_HAVE_DNNL
    if (lib == LIB_DNNL) {
        dnnl_sgemm(ta, tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
        return;
    }
#endif
    (void)lib;
    cblas_sgemm(CblasRowMajor, ta == 'T' ? CblasTrans : CblasNoTrans, tb == 'T' ? CblasTrans : CblasNoTrans, s->m,
                s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
}

static double gflops(int lib, char ta, char tb, const shape *s, const float *a, const float *b, float *c,
                     double secs)
{
    double fl = 2.0 * s->m * s->n * s->k;
    run1(lib, ta, tb, s, a, b, c); /* warm-up: JIT, caches */
    int reps = 0;
    double t0 = now(), t;
    do {
        run1(lib, ta, tb, s, a, b, c);
        reps++;
    } while ((t = now() - t0) < secs);
    return fl * reps / t / 1e9;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    openblas_set_num_threads(1);
    omp_set_num_threads(1);
    printf("one thread; OpenBLAS core %s", openblas_get_corename());
#ifdef DLT_HAVE_DNNL
    const dnnl_version_t *v = dnnl_version();
    printf(", oneDNN %d.%d.%d", v->major, v->minor, v->patch);
    int nlib = 2;
#else
    printf(", built without oneDNN");
    int nlib = 1;
#endif
    printf("; GFLOP/s\n%-20s %6s %6s %6s  %4s %9s %9s %6s\n", "shape", "M", "N", "K", "pass", "OpenBLAS",
           nlib > 1 ? "oneDNN" : "", nlib > 1 ? "ratio" : "");
    static const char passes[3][2] = {{'N', 'N'}, {'N', 'T'}, {'T', 'N'}};
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
            double g[2] = {0, 0};
            for (int lib = 0; lib < nlib; lib++)
                g[lib] = gflops(lib, passes[p][0], passes[p][1], s, a, b, c, secs);
            printf("%-20s %6d %6d %6d  %c%c   %9.1f", s->what, s->m, s->n, s->k, passes[p][0], passes[p][1], g[0]);
            if (nlib > 1)
                printf(" %9.1f %6.2f", g[1], g[1] / g[0]);
            printf("\n");
        }
        free(a), free(b), free(c);
    }
    return 0;
}
