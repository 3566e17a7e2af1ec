/* GFLOP/s of dltrain's conv2d (forward, input gradient, weight gradient) and
 * matmul on ResNet-like shapes, beside OpenBLAS sgemm on the equivalent GEMM
 * (M = OC, N = batch * OH * OW, K = C * KH * KW) with the same thread count.
 *
 *   bench/conv_bench [threads [min_seconds]]     (make bench builds it)
 *
 * Benchmarks want OpenBLAS's own kernel choice: run with
 *   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bench/conv_bench */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlt_ops.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double min_seconds = 1.0;

/* Best time of repeated runs (after one warm-up) until min_seconds pass. */
typedef void (*run_fn)(void *ctx);
static double best_time(run_fn fn, void *ctx)
{
    fn(ctx);
    double best = 1e30, start = now();
    int reps = 0;
    while (reps < 3 || now() - start < min_seconds) {
        double t0 = now();
        fn(ctx);
        double t = now() - t0;
        best = t < best ? t : best;
        reps++;
    }
    return best;
}

typedef struct {
    int m, n, k;
    float *a, *b, *c;
} gemm_ctx;

static void run_sgemm(void *p)
{
    gemm_ctx *g = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->m, g->n, g->k, 1.f, g->a, g->k, g->b, g->n,
                0.f, g->c, g->n);
}

static void run_plan(void *p)
{
    if (dlt_plan_run(p, NULL) != DLT_OK) {
        fprintf(stderr, "run: %s\n", dlt_errmsg());
        exit(1);
    }
}

static float *rnd(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((double)rand() / RAND_MAX - 0.5);
    return p;
}

static dlt_plan *plan_for(dlt_graph *g, dlt_t out)
{
    dlt_plan *p = NULL;
    if (dlt_plan_create(g, 1, &out, NULL, &p) != DLT_OK) {
        fprintf(stderr, "plan: %s\n", dlt_errmsg());
        exit(1);
    }
    return p;
}

static void fill_inputs(dlt_graph *g, dlt_plan *p, int n, const dlt_t *in)
{
    for (int i = 0; i < n; i++) {
        float *d = dlt_plan_data(p, in[i]);
        if (!d)
            continue;
        size_t numel = (size_t)dlt_shape_numel(dlt_shape_of(g, in[i]));
        float *src = rnd(numel);
        memcpy(d, src, numel * sizeof *d);
        free(src);
    }
}

typedef struct {
    const char *name;
    int n, c, h, w, oc, k, stride, pad;
} shape;

static double gflops(double flops, double t) { return flops / t * 1e-9; }

static void bench_shape(const shape *s)
{
    int oh = (s->h + 2 * s->pad - s->k) / s->stride + 1, ow = (s->w + 2 * s->pad - s->k) / s->stride + 1;
    double flops = 2.0 * s->n * s->oc * oh * ow * (double)s->c * s->k * s->k;
    /* the equivalent GEMM of the forward pass */
    gemm_ctx gm = {s->oc, s->n * oh * ow, s->c * s->k * s->k, NULL, NULL, NULL};
    gm.a = rnd((size_t)gm.m * gm.k);
    gm.b = rnd((size_t)gm.k * gm.n);
    gm.c = rnd((size_t)gm.m * gm.n);
    double t_gemm = best_time(run_sgemm, &gm);
    free(gm.a), free(gm.b), free(gm.c);

    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {s->n, s->c, s->h, s->w}, ws[4] = {s->oc, s->c, s->k, s->k};
    int64_t ys[4] = {s->n, s->oc, oh, ow};
    int64_t am[2] = {gm.n, gm.k}, bm[2] = {gm.k, gm.m};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), w = dlt_input(g, "w", DLT_F32, 4, ws);
    dlt_t dy = dlt_input(g, "dy", DLT_F32, 4, ys);
    dlt_t ma = dlt_input(g, "a", DLT_F32, 2, am), mb = dlt_input(g, "b", DLT_F32, 2, bm);
    dlt_conv2d_opts o = {.stride = {s->stride, s->stride}, .padding = {s->pad, s->pad}};
    dlt_t y = dlt_conv2d(g, x, w, -1, &o);
    dlt_t gx = dlt_conv2d_input_grad(g, dy, w, s->h, s->w, &o);
    dlt_t gw = dlt_conv2d_weight_grad(g, x, dy, s->k, s->k, &o);
    dlt_t mm = dlt_matmul(g, ma, mb, 0, 0);
    if (dlt_graph_status(g) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_graph_errmsg(g));
        exit(1);
    }
    dlt_t outs[4] = {y, gx, gw, mm};
    dlt_t ins[5] = {x, w, dy, ma, mb};
    double t[4];
    for (int i = 0; i < 4; i++) {
        dlt_plan *p = plan_for(g, outs[i]);
        fill_inputs(g, p, 5, ins);
        t[i] = best_time(run_plan, p);
        dlt_plan_free(p);
    }
    dlt_graph_free(g);
    double ref = gflops(flops, t_gemm);
    printf("%-22s %6d %6d %6d %8.1f %8.1f %8.1f %4.0f%% %8.1f %4.0f%% %8.1f %4.0f%%\n", s->name, gm.m,
           gm.n, gm.k, ref, gflops(flops, t[3]), gflops(flops, t[0]), 100 * gflops(flops, t[0]) / ref,
           gflops(flops, t[1]), 100 * gflops(flops, t[1]) / ref, gflops(flops, t[2]),
           100 * gflops(flops, t[2]) / ref);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    if (argc > 2)
        min_seconds = atof(argv[2]);
    dlt_set_num_threads(threads);
    static const shape shapes[] = {
        {"3x3 16->16 32x32 b32", 32, 16, 32, 32, 16, 3, 1, 1},
        {"3x3 32->32 16x16 b32", 32, 32, 16, 16, 32, 3, 1, 1},
        {"3x3 64->64 8x8 b32", 32, 64, 8, 8, 64, 3, 1, 1},
        {"3x3 64->64 56x56 b32", 32, 64, 56, 56, 64, 3, 1, 1},
        {"1x1 256->64 56x56 b32", 32, 256, 56, 56, 64, 1, 1, 0},
        {"3x3 s2 16->32 32x32 b32", 32, 16, 32, 32, 32, 3, 2, 1},
        {"3x3 64->64 56x56 b1", 1, 64, 56, 56, 64, 3, 1, 1},
    };
    printf("threads %d; GFLOP/s (%% of sgemm on the equivalent M x N x K GEMM)\n", dlt_get_num_threads());
    printf("%-22s %6s %6s %6s %8s %8s %8s %5s %8s %5s %8s %5s\n", "shape", "M", "N", "K", "sgemm",
           "matmul", "fwd", "", "bwd-in", "", "bwd-w", "");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        bench_shape(&shapes[i]);
    return 0;
}
