/* GPU kernels of the rnn family (src/gpu/k_rnn.cu) against the CPU: the
 * fused LSTM and GRU cells forward and backward (the harness differentiates
 * every output, so lstm_cell_grad runs with dh and dc, and with dh alone
 * where only h is used), sizes not multiples of the block; three unrolled
 * steps of an LSTM and a GRU with their matmuls and parameters; and
 * categorical_sample, whose indices must be the CPU's exactly (tolerance 0
 * for integers): small and large K, a temperature, peaked rows where u S
 * often rounds to S, per-rank and global keying; then a device plan run for
 * several steps with CUDA graphs, whose replays must draw each step's
 * indices (the kernel reads the step from the device). Exits 77 without a CUDA
 * device; tests/gpu/emu_rnn runs it on the emulated kernels. */
#include <stdio.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_gpu.h"
#include "gpu_check.h"

typedef struct {
    int64_t n, h;
    int use_c; /* lstm: also return c (dc flows) */
} cell_case;

static int build_lstm(dlt_graph *g, dlt_t *outs, void *user)
{
    const cell_case *c = user;
    int64_t dg[2] = {c->n, 4 * c->h}, ds[2] = {c->n, c->h};
    dlt_t gates = gc_input(g, "gates", 2, dg, -3.f, 3.f);
    dlt_t cp = gc_input(g, "c_prev", 2, ds, -2.f, 2.f);
    outs[0] = dlt_lstm_cell(g, gates, cp, &outs[1]);
    return c->use_c ? 2 : 1;
}

static int build_gru(dlt_graph *g, dlt_t *outs, void *user)
{
    const cell_case *c = user;
    int64_t dg[2] = {c->n, 3 * c->h}, ds[2] = {c->n, c->h};
    dlt_t gi = gc_input(g, "gi", 2, dg, -3.f, 3.f);
    dlt_t gh = gc_input(g, "gh", 2, dg, -3.f, 3.f);
    dlt_t hp = gc_input(g, "h_prev", 2, ds, -1.f, 1.f);
    outs[0] = dlt_gru_cell(g, gi, gh, hp);
    return 1;
}

/* T = 3 steps of a one-layer cell over inputs x_t [4, 5], hidden 6, both
 * states starting from inputs: every backward op chained through time. */
static int build_unrolled(dlt_graph *g, dlt_t *outs, void *user)
{
    int gru = *(const int *)user, m = gru ? 3 : 4;
    int64_t dx[2] = {4, 5}, ds[2] = {4, 6}, dwi[2] = {m * 6, 5}, dwh[2] = {m * 6, 6},
            db[1] = {m * 6};
    dlt_t wi = dlt_param(g, "weight_ih", 2, dwi, dlt_init_uniform(-0.4, 0.4));
    dlt_t wh = dlt_param(g, "weight_hh", 2, dwh, dlt_init_uniform(-0.4, 0.4));
    dlt_t bi = dlt_param(g, "bias_ih", 1, db, dlt_init_uniform(-0.4, 0.4));
    dlt_t bh = dlt_param(g, "bias_hh", 1, db, dlt_init_uniform(-0.4, 0.4));
    dlt_t h = gc_input(g, "h0", 2, ds, -1.f, 1.f), c = gc_input(g, "c0", 2, ds, -1.f, 1.f);
    char name[8];
    for (int t = 0; t < 3; t++) {
        snprintf(name, sizeof name, "x%d", t);
        dlt_t x = gc_input(g, name, 2, dx, -1.f, 1.f);
        dlt_t gi = dlt_linear(g, x, wi, bi), gh = dlt_linear(g, h, wh, bh);
        h = gru ? dlt_gru_cell(g, gi, gh, h) : dlt_lstm_cell(g, dlt_add(g, gi, gh), c, &c);
    }
    outs[0] = h;
    if (gru)
        return 1;
    outs[1] = c;
    return 2;
}

typedef struct {
    int64_t n, k;
    float lo, hi, temp;
    int global;
} cat_case;

static int build_cat(dlt_graph *g, dlt_t *outs, void *user)
{
    const cat_case *c = user;
    int64_t d[2] = {c->n, c->k};
    dlt_t x = gc_input(g, "logits", 2, d, c->lo, c->hi);
    dlt_categorical_opts o = {.temperature = c->temp, .global = c->global, .first_sample = 17};
    outs[0] = dlt_categorical_sample(g, x, &o);
    /* a second node: its own stream */
    outs[1] = dlt_categorical_sample(g, x, &o);
    return 2;
}

/* ---------------------------------------------------------------- steps with graphs */
enum { STEPS = 5, SN = 300, SK = 6 };

static dlt_backend counted; /* the device's backend with graph launches counted */
static dlt_status (*real_launch)(void *, void *);
static int launches;

static dlt_status count_launch(void *ctx, void *graph)
{
    launches++;
    return real_launch(ctx, graph);
}

/* The indices at steps 100..100+STEPS, on the device with graphs or on the CPU. */
static int steps(int device, int32_t *out)
{
    int ok = 0;
    int64_t d[2] = {SN, SK};
    dlt_plan *p = NULL;
    dlt_graph *g = dlt_graph_create(2026);
    if (device && dlt_graph_set_backend(g, &counted) != DLT_OK)
        goto out;
    float logits[SN * SK];
    for (int i = 0; i < SN * SK; i++)
        logits[i] = (float)((i * 7919) % 13) * 0.25f - 1.5f;
    dlt_t x = dlt_constant(g, DLT_F32, 2, d, logits);
    dlt_t y = dlt_categorical_sample(g, x, NULL);
    if (dlt_plan_create(g, 1, &y, NULL, &p) != DLT_OK)
        goto out;
    for (int k = 0; k <= STEPS; k++) {
        dlt_exec_opts eo = {.training = 1, .step = 100 + k, .graph = device};
        if (dlt_plan_run(p, &eo) != DLT_OK || dlt_plan_wait(p) != DLT_OK)
            goto out;
        memcpy(out + (int64_t)k * SN, dlt_plan_data(p, y), SN * sizeof(int32_t));
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
    static int32_t cpu[(STEPS + 1) * SN], dev[(STEPS + 1) * SN];
    dlt_backend *be = dlt_gpu_backend(gc_gpu());
    if (!be->graph_launch) {
        printf("FAIL: the device has no graph support\n");
        return 0;
    }
    counted = *be;
    real_launch = be->graph_launch;
    counted.graph_launch = count_launch;
    if (!steps(0, cpu) || !steps(1, dev))
        return 0;
    int same = memcmp(cpu, dev, sizeof cpu) == 0, fresh = 1;
    for (int k = 1; k <= STEPS; k++)
        fresh &= memcmp(cpu + (k - 1) * SN, cpu + k * SN, SN * sizeof(int32_t)) != 0;
    /* run 0 warms up, run 1 is captured and launched, runs 2.. launch it again */
    int ok = same && fresh && launches == STEPS;
    printf("%s categorical_sample [%d,%d], steps 100..%d with graphs: %s%s; %d graph launches "
           "(expected %d)\n",
           ok ? "ok  " : "FAIL", SN, SK, 100 + STEPS,
           same ? "the CPU's indices" : "differ from the CPU",
           fresh ? ", new indices every step" : ", a step repeated the previous indices", launches,
           STEPS);
    return ok;
}

int main(void)
{
    if (!gc_init())
        return 77;
    static const cell_case cells[] = {{1, 1, 1}, {7, 37, 1}, {33, 129, 1}, {7, 37, 0}};
    char name[160];
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
        const cell_case *c = &cells[i];
        snprintf(name, sizeof name, "lstm_cell N=%lld H=%lld, %s", (long long)c->n, (long long)c->h,
                 c->use_c ? "h and c used" : "only h used (no dc)");
        gc_check(name, build_lstm, (void *)c, 1e-5);
        if (c->use_c) {
            snprintf(name, sizeof name, "gru_cell N=%lld H=%lld", (long long)c->n, (long long)c->h);
            gc_check(name, build_gru, (void *)c, 1e-5);
        }
    }
    static const int lstm = 0, gru = 1;
    gc_check("LSTM unrolled 3 steps [4,5] -> 6, gradients through time", build_unrolled,
             (void *)&lstm, 1e-5);
    gc_check("GRU unrolled 3 steps [4,5] -> 6, gradients through time", build_unrolled,
             (void *)&gru, 1e-5);
    static const cat_case cats[] = {
        {1, 1, -1.f, 1.f, 1.f, 0},      {1000, 2, -2.f, 2.f, 1.f, 0},
        {777, 13, -4.f, 4.f, 1.f, 0},   {333, 1000, -3.f, 3.f, 1.f, 0},
        {500, 10, -4.f, 4.f, 0.37f, 0}, {500, 10, -4.f, 4.f, 3.f, 1},
        {400, 7, -60.f, 60.f, 1.f, 0}, /* peaked: S is mostly one term */
    };
    for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++) {
        const cat_case *c = &cats[i];
        snprintf(name, sizeof name,
                 "categorical_sample [%lld,%lld] logits in [%g, %g), T=%g, %s keying, two nodes",
                 (long long)c->n, (long long)c->k, (double)c->lo, (double)c->hi, (double)c->temp,
                 c->global ? "global" : "per-rank");
        gc_check(name, build_cat, (void *)c, 0);
    }
    int ok = steps_with_graphs();
    return gc_finish() || !ok;
}
