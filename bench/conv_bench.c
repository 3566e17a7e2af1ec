/* GFLOP/s of dltrain's conv2d (forward, input gradient, weight gradient) on
 * ResNet-20 and ResNet-50 layer shapes, beside this machine's sgemm on the
 * equivalent GEMM (M = OC, N = batch * OH * OW, K = C * KH * KW) with the same
 * thread count: dlt_gemm, the GEMM dltrain's kernels run (OpenBLAS, or oneDNN's
 * sgemm where OpenBLAS runs a core below the CPU's; src/core/gemm.c).
 *
 *   bench/conv_bench [threads [min_seconds [name_filter]]]   (make bench builds it)
 *
 * Each shape runs on every CPU provider: DLT_CONV=im2col, with oneDNN its
 * plain-layout and blocked-layout variants (DLT_CONV=dnnl,
 * DLT_CONV_LAYOUT=plain|blocked), `direct` (auto, except that every data
 * gradient the direct kernel handles runs on it), and `auto`, what plans run by default
 * (DLT_CONV=auto: oneDNN with its per-shape layout, the direct data gradient
 * for images of <= 4 channels; src/ops/conv_provider.c).
 *
 * Benchmarks want OpenBLAS's own kernel choice: run with
 *   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bench/conv_bench */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlt_opdef.h"
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
    dlt_gemm(0, 0, g->m, g->n, g->k, 1.f, g->a, g->k, g->b, g->n, 0.f, g->c, g->n, dlt_get_num_threads());
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

/* The providers compared: DLT_CONV and, for oneDNN, DLT_CONV_LAYOUT. */
static const struct {
    const char *label, *conv, *layout;
    int dnnl; /* needs oneDNN */
} providers[] = {
    {"im2col", "im2col", "blocked", 0},
    {"dnnl-plain", "dnnl", "plain", 1},
    {"dnnl-blocked", "dnnl", "blocked", 1},
    {"direct", "direct", "auto", 0}, /* auto, but the direct data gradient wherever it applies (<= 4 image channels) */
    {"auto", "auto", "auto", 0},
};
enum { NPROV = sizeof providers / sizeof providers[0] };

static void bench_shape(const shape *s)
{
    int oh = (s->h + 2 * s->pad - s->k) / s->stride + 1, ow = (s->w + 2 * s->pad - s->k) / s->stride + 1;
    double flops = 2.0 * s->n * s->oc * oh * ow * (double)s->c * s->k * s->k;
    /* the equivalent GEMM of the forward pass, on as many threads as the convolutions */
    gemm_ctx gm = {s->oc, s->n * oh * ow, s->c * s->k * s->k, NULL, NULL, NULL};
    gm.a = rnd((size_t)gm.m * gm.k);
    gm.b = rnd((size_t)gm.k * gm.n);
    gm.c = rnd((size_t)gm.m * gm.n);
    double t_gemm = best_time(run_sgemm, &gm);
    free(gm.a), free(gm.b), free(gm.c);

    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {s->n, s->c, s->h, s->w}, ws[4] = {s->oc, s->c, s->k, s->k};
    int64_t ys[4] = {s->n, s->oc, oh, ow};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), w = dlt_input(g, "w", DLT_F32, 4, ws);
    dlt_t dy = dlt_input(g, "dy", DLT_F32, 4, ys);
    dlt_conv2d_opts o = {.stride = {s->stride, s->stride}, .padding = {s->pad, s->pad}};
    dlt_t y = dlt_conv2d(g, x, w, -1, &o);
    dlt_t gx = dlt_conv2d_input_grad(g, dy, w, s->h, s->w, &o);
    dlt_t gw = dlt_conv2d_weight_grad(g, x, dy, s->k, s->k, &o);
    if (dlt_graph_status(g) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_graph_errmsg(g));
        exit(1);
    }
    dlt_t outs[3] = {y, gx, gw};
    dlt_t ins[3] = {x, w, dy};
    double ref = gflops(flops, t_gemm);
    for (int pv = 0, first = 1; pv < NPROV; pv++) {
        if (providers[pv].dnnl && !dlt_conv_dnnl_built())
            continue;
        if (!strcmp(providers[pv].conv, "direct") && s->c > 4) /* the same as auto there */
            continue;
        double t[3], tsum = 0;
        setenv("DLT_CONV", providers[pv].conv, 1);
        setenv("DLT_CONV_LAYOUT", providers[pv].layout, 1);
        for (int i = 0; i < 3; i++) {
            dlt_plan *p = plan_for(g, outs[i]);
            fill_inputs(g, p, 3, ins);
            t[i] = best_time(run_plan, p);
            tsum += t[i];
            dlt_plan_free(p);
        }
        printf("%-24s %5d %6d %5d %7.1f  %-12s %7.1f %4.0f%% %7.1f %4.0f%% %7.1f %4.0f%% %7.1f %4.0f%%\n",
               first ? s->name : "", gm.m, gm.n, gm.k, ref, providers[pv].label, gflops(flops, t[0]),
               100 * gflops(flops, t[0]) / ref, gflops(flops, t[1]), 100 * gflops(flops, t[1]) / ref,
               gflops(flops, t[2]), 100 * gflops(flops, t[2]) / ref, gflops(3 * flops, tsum),
               100 * gflops(3 * flops, tsum) / ref);
        fflush(stdout);
        first = 0;
    }
    unsetenv("DLT_CONV");
    unsetenv("DLT_CONV_LAYOUT");
    dlt_graph_free(g);
}

/* ResNet-20 (CIFAR-style: 16/32/64 channels, 3x3, the 1x1 s2 shortcuts are
 * option A in the model, no conv) at 28x28 and 32x32, batch 64 and 128; the
 * distinct conv shapes of ResNet-50 v1.5 at 224x224, batch 32; the DCGAN
 * image layer. */
#define R20(hw, b)                                                                                       \
    {"r20 3->16 " #hw " b" #b, b, 3, hw, hw, 16, 3, 1, 1},                                                 \
        {"r20 16->16 " #hw " b" #b, b, 16, hw, hw, 16, 3, 1, 1},                                           \
        {"r20 s2 16->32 " #hw " b" #b, b, 16, hw, hw, 32, 3, 2, 1},                                        \
        {"r20 32->32 " #hw "/2 b" #b, b, 32, (hw) / 2, (hw) / 2, 32, 3, 1, 1},                             \
        {"r20 s2 32->64 " #hw "/2 b" #b, b, 32, (hw) / 2, (hw) / 2, 64, 3, 2, 1},                          \
        {"r20 64->64 " #hw "/4 b" #b, b, 64, (hw) / 4, (hw) / 4, 64, 3, 1, 1}
static const shape shapes[] = {
    R20(28, 64), R20(28, 128), R20(32, 64), R20(32, 128),
    {"r50 7x7 s2 3->64 224", 32, 3, 224, 224, 64, 7, 2, 3},
    {"r50 1x1 64->64 56", 32, 64, 56, 56, 64, 1, 1, 0},
    {"r50 3x3 64->64 56", 32, 64, 56, 56, 64, 3, 1, 1},
    {"r50 1x1 64->256 56", 32, 64, 56, 56, 256, 1, 1, 0},
    {"r50 1x1 256->64 56", 32, 256, 56, 56, 64, 1, 1, 0},
    {"r50 1x1 256->128 56", 32, 256, 56, 56, 128, 1, 1, 0},
    {"r50 3x3 s2 128->128 56", 32, 128, 56, 56, 128, 3, 2, 1},
    {"r50 1x1 s2 256->512 56", 32, 256, 56, 56, 512, 1, 2, 0},
    {"r50 3x3 128->128 28", 32, 128, 28, 28, 128, 3, 1, 1},
    {"r50 1x1 512->128 28", 32, 512, 28, 28, 128, 1, 1, 0},
    {"r50 3x3 256->256 14", 32, 256, 14, 14, 256, 3, 1, 1},
    {"r50 1x1 1024->256 14", 32, 1024, 14, 14, 256, 1, 1, 0},
    {"r50 3x3 512->512 7", 32, 512, 7, 7, 512, 3, 1, 1},
    {"r50 1x1 2048->512 7", 32, 2048, 7, 7, 512, 1, 1, 0},
    /* jobs/dcgan_fmnist.toml's image layer (the discriminator's first conv;
     * its bwd-in is also the generator's last ConvTranspose), batch 64 */
    {"dcgan 4x4 s2 1->64 28", 64, 1, 28, 28, 64, 4, 2, 1},
    /* jobs/resnet20_fmnist.toml's input layer (one channel) */
    {"r20 1->16 28 b64", 64, 1, 28, 28, 16, 3, 1, 1},
};

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    if (argc > 2)
        min_seconds = atof(argv[2]);
    const char *only = argc > 3 ? argv[3] : NULL; /* shapes whose name contains this */
    dlt_set_num_threads(threads);
    char info[256];
    dlt_conv_provider_info(info, sizeof info);
    printf("threads %d; conv: %s\n", dlt_get_num_threads(), info);
    dlt_gemm_provider_info(info, sizeof info);
    printf("sgemm: dlt_gemm on %s\n", info);
    printf("GFLOP/s (%% of sgemm on the forward's M x N x K GEMM, same threads); fwd+bwd: all three\n");
    printf("%-24s %5s %6s %5s %7s  %-12s %7s %5s %7s %5s %7s %5s %7s %5s\n", "shape", "M", "N", "K", "sgemm",
           "provider", "fwd", "", "bwd-in", "", "bwd-w", "", "fwd+bwd", "");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!only || strstr(shapes[i].name, only))
            bench_shape(&shapes[i]);
    return 0;
}
