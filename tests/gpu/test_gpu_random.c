/* GPU kernels of the random family (src/gpu/k_random.cu) against the CPU,
 * bit for bit (tolerance 0): random_normal and random_uniform of several
 * shapes and parameters (sizes not multiples of the block, several
 * grid-stride rounds), a uniform range where y = lo + (hi - lo) u often
 * rounds up to hi (the guard must give the same float below hi), evaluation
 * runs (they draw too), and the draws inside a graph with gradients flowing
 * around them (WGAN-GP's interpolation). Then a device plan run for several
 * steps with CUDA graphs: the kernels read the step from the device, so every
 * replayed run must draw that step's numbers, the CPU's. Exits 77 without a
 * CUDA device; tests/gpu/emu_random runs it on the emulated kernels. */
#include <stdio.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_gpu.h"
#include "gpu_check.h"

typedef struct {
    int normal;
    int ndim;
    int64_t dims[4];
    float a, b; /* mean, std or lo, hi */
} rcase;

static int build_random(dlt_graph *g, dlt_t *outs, void *user)
{
    const rcase *c = user;
    outs[0] = c->normal ? dlt_random_normal(g, c->ndim, c->dims, c->a, c->b)
                        : dlt_random_uniform(g, c->ndim, c->dims, c->a, c->b);
    /* a second node of the same kind: its own stream */
    outs[1] = c->normal ? dlt_random_normal(g, c->ndim, c->dims, c->a, c->b)
                        : dlt_random_uniform(g, c->ndim, c->dims, c->a, c->b);
    return 2;
}

/* x_hat = eps real + (1 - eps) fake with eps ~ U[0, 1) per sample [N,1,1,1],
 * fake = real + noise: gradients reach real through the mixes, none reaches
 * the random nodes. */
static int build_mix(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    int64_t d[4] = {6, 3, 5, 7}, e[4] = {6, 1, 1, 1};
    dlt_t real = gc_input(g, "real", 4, d, -1.f, 1.f);
    dlt_t eps = dlt_random_uniform(g, 4, e, 0.f, 1.f);
    dlt_t fake = dlt_add(g, real, dlt_random_normal(g, 4, d, 0.f, 0.1f));
    dlt_t one_minus = dlt_affine(g, eps, -1.f, 1.f);
    outs[0] = dlt_add(g, dlt_mul(g, eps, real), dlt_mul(g, one_minus, fake));
    outs[1] = eps;
    return 2;
}

/* ---------------------------------------------------------------- steps with graphs */
enum { STEPS = 5 };

/* The device's backend with its graph launches counted (static: the graph
 * keeps a pointer to it). */
static dlt_backend counted;
static dlt_status (*real_launch)(void *, void *);
static int launches;

static dlt_status count_launch(void *ctx, void *graph)
{
    launches++;
    return real_launch(ctx, graph);
}

/* outs[k] of a run at each step 0..STEPS (training off at step 2): on the
 * device with graphs, or on the CPU. */
static int steps(int device, float *out, int64_t n)
{
    int ok = 0;
    int64_t d[2] = {37, 111};
    dlt_plan *p = NULL;
    dlt_graph *g = dlt_graph_create(2024);
    if (device && dlt_graph_set_backend(g, &counted) != DLT_OK)
        goto out;
    dlt_t v[2] = {dlt_random_normal(g, 2, d, 1.f, 3.f), dlt_random_uniform(g, 2, d, -2.f, 5.f)};
    if (dlt_plan_create(g, 2, v, NULL, &p) != DLT_OK)
        goto out;
    for (int k = 0; k <= STEPS; k++) {
        dlt_exec_opts eo = {.training = k != 2, .step = 100 + k, .rng_stream = 3, .graph = device};
        if (dlt_plan_run(p, &eo) != DLT_OK || dlt_plan_wait(p) != DLT_OK)
            goto out;
        for (int j = 0; j < 2; j++)
            memcpy(out + ((int64_t)k * 2 + j) * n, dlt_plan_data(p, v[j]),
                   (size_t)n * sizeof(float));
    }
    ok = 1;
out:
    if (!ok)
        printf("FAIL %s steps run: %s\n", device ? "device" : "CPU", dlt_errmsg());
    dlt_plan_free(p);
    dlt_graph_free(g);
    return ok;
}

static int steps_with_graphs(void)
{
    enum { N = 37 * 111 };
    static float cpu[(STEPS + 1) * 2 * N], dev[(STEPS + 1) * 2 * N];
    dlt_backend *be = dlt_gpu_backend(gc_gpu());
    if (!be->graph_launch) {
        printf("FAIL: the device has no graph support\n");
        return 0;
    }
    counted = *be;
    real_launch = be->graph_launch;
    counted.graph_launch = count_launch;
    if (!steps(0, cpu, N) || !steps(1, dev, N))
        return 0;
    int same = memcmp(cpu, dev, sizeof cpu) == 0, fresh = 1;
    for (int k = 1; k <= STEPS; k++) /* each step draws anew */
        fresh &= memcmp(cpu + (int64_t)(k - 1) * 2 * N, cpu + (int64_t)k * 2 * N,
                        2 * N * sizeof(float)) != 0;
    /* run 0 warms up, run 1 is captured; from then on every run is a launch
     * (runs 2 and 3 capture again: training changes) */
    int ok = same && fresh && launches == STEPS;
    printf("%s random_normal and random_uniform [37,111], steps 100..%d with graphs (eval at 102): "
           "%s%s; %d graph launches (expected %d)\n",
           ok ? "ok  " : "FAIL", 100 + STEPS, same ? "the CPU's bits" : "differ from the CPU",
           fresh ? ", new numbers every step" : ", a step repeated the previous numbers", launches,
           (int)STEPS);
    return ok;
}

int main(void)
{
    if (!gc_init())
        return 77;
    static const rcase cases[] = {
        {1, 1, {1}, 0.f, 1.f},
        {1, 1, {1237}, 0.f, 1.f},
        {1, 3, {3, 7, 1001}, 0.5f, 2.f},
        {1, 2, {64, 130}, -3.f, 0.f}, /* std 0: all mean */
        {0, 1, {1237}, 0.f, 1.f},
        {0, 3, {3, 7, 1001}, -1.5f, 2.5f},
        {0, 4, {6, 1, 1, 1}, 0.f, 1.f},
        /* lo + (hi - lo) u lands on hi about one time in 16: the guard */
        {0, 2, {77, 131}, 1.f, 1.00000095367431640625f},
    };
    char name[160];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rcase *c = &cases[i];
        int len =
            snprintf(name, sizeof name, "%s(%g, %g) [",
                     c->normal ? "random_normal" : "random_uniform", (double)c->a, (double)c->b);
        for (int d = 0; d < c->ndim; d++)
            len += snprintf(name + len, sizeof name - (size_t)len, "%s%lld", d ? "," : "",
                            (long long)c->dims[d]);
        snprintf(name + len, sizeof name - (size_t)len, "], two nodes");
        gc_check(name, build_random, (void *)c, 0);
    }
    gc_check_eval("random_normal(0.5, 2) [3,7,1001] in an evaluation run", build_random,
                  (void *)&cases[2], 0);
    gc_check_eval("random_uniform(-1.5, 2.5) [3,7,1001] in an evaluation run", build_random,
                  (void *)&cases[5], 0);
    /* the mixes' gradients are sums in the harness's loss: float rounding */
    gc_check("WGAN-GP mix eps real + (1 - eps)(real + noise) [6,3,5,7]", build_mix, NULL, 1e-6);
    int ok = steps_with_graphs();
    return gc_finish() || !ok;
}
