/* The device plumbing itself: a graph on the GPU keeps its parameters,
 * gradients, buffers, plans, inputs and outputs straight (accum, gradient
 * copies and accumulation into the flat gradient buffer), checked against
 * the same graph on the CPU; the backend's bf16 conversion kernels (the bf16
 * gradient reduction) against the host functions; its clamp (WGAN's weight
 * clipping) against the CPU backend's; asynchronous runs and
 * prefetched batches on the transfer stream give the plain loop's numbers.
 * Exits 77 without a CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_bf16.h"
#include "dlt_gpu.h"
#include "dlt_models.h"
#include "gpu_check.h"

/* fan-out: x used three times, so autodiff adds the contributions (accum) */
static int build_fanout(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    int64_t d[2] = {37, 129};
    dlt_t x = gc_input(g, "x", 2, d, -1, 1);
    dlt_t w = dlt_param(g, "w", 2, d, dlt_init_uniform(-1, 1));
    outs[0] = dlt_add(g, dlt_mul(g, x, w), dlt_mul(g, x, x));
    return 1;
}

/* Training through the flat gradient buffer: the plan binds gradients into
 * the device buffer (direct and by copy, and accumulated over two runs); the
 * host mirror after dlt_graph_download must equal the CPU's. */
static int flat_buffers(void)
{
    float *res[2] = {NULL, NULL};
    size_t n = 0;
    int ok = 1;
    dlt_gpu *gpu = NULL;
    if (dlt_gpu_open(0, &gpu) != DLT_OK) {
        printf("FAIL flat buffers: %s\n", dlt_errmsg());
        return 0;
    }
    for (int side = 0; side < 2 && ok; side++) {
        dlt_graph *g = dlt_graph_create(7);
        if (side)
            dlt_graph_set_backend(g, dlt_gpu_backend(gpu));
        int64_t d[2] = {5, 300};
        dlt_t x = dlt_input(g, "x", DLT_F32, 2, d);
        dlt_t w = dlt_param(g, "w", 2, d, dlt_init_uniform(-1, 1));
        dlt_t u = dlt_param(g, "unused", 1, d, dlt_init_const(2)); /* zeros gradient by copy */
        dlt_t loss = dlt_sum(g, dlt_mul(g, dlt_mul(g, x, w), w), 0, NULL, 0);
        dlt_t ps[2] = {w, u}, gs[2];
        dlt_plan *p = NULL;
        if (dlt_grad(g, loss, 2, ps, gs) != DLT_OK) {
            ok = 0;
            break;
        }
        dlt_plan_opts po = {.ngrads = 2, .grad_params = ps, .grad_values = gs, .accumulate = 1};
        if (dlt_plan_create(g, 1, &loss, &po, &p) != DLT_OK) {
            printf("FAIL flat buffers: %s\n", dlt_errmsg());
            ok = 0;
            dlt_graph_free(g);
            break;
        }
        float *xd = dlt_plan_data(p, x);
        for (int i = 0; i < 5 * 300; i++)
            xd[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
        dlt_exec_opts eo = {.training = 1};
        ok = dlt_plan_run(p, &eo) == DLT_OK && dlt_plan_run(p, &eo) == DLT_OK &&
             dlt_graph_download(g, DLT_SYNC_ALL) == DLT_OK;
        n = dlt_params_numel(g);
        res[side] = malloc(2 * n * sizeof(float) + sizeof(float));
        memcpy(res[side], dlt_grads_data(g), n * sizeof(float));
        memcpy(res[side] + n, dlt_params_data(g), n * sizeof(float));
        res[side][2 * n] = *(float *)dlt_plan_data(p, loss);
        dlt_plan_free(p);
        dlt_graph_free(g);
    }
    double err = 0;
    for (size_t i = 0; ok && i < 2 * n + 1; i++) {
        double e = fabs(res[0][i] - res[1][i]) / fmax(1, fabs(res[0][i]));
        err = e > err ? e : err;
    }
    ok = ok && err < 1e-5;
    printf("%s flat buffers (accumulated gradients, parameters, loss): rel err %.2e\n", ok ? "ok  " : "FAIL", err);
    free(res[0]);
    free(res[1]);
    dlt_gpu_close(gpu);
    return ok;
}

/* ---------------------------------------------------------------- overlap */
enum { OV_STEPS = 4, OV_NB = 64, OV_NCLS = 10, OV_PIX = 256 };
enum { OV_PLAIN, OV_TRAINER, OV_RACE };
static const char *const ov_mode[] = {"plain loop", "trainer overlap", "prefetch behind a queued run"};

typedef struct {
    float loss[OV_STEPS], logits[OV_STEPS][OV_NB * OV_NCLS];
    float *params;
    size_t np;
} ov_trace;

static void ov_feed(dlt_plan *p, dlt_t x, dlt_t y, int k, int garbage)
{
    float *xd = dlt_plan_data(p, x);
    int32_t *yd = dlt_plan_data(p, y);
    for (int i = 0; i < OV_NB * OV_PIX; i++)
        xd[i] = garbage ? NAN : dlt_rng_uniform(11, (uint64_t)k, (uint64_t)i) * 2 - 1;
    for (int i = 0; i < OV_NB; i++)
        yd[i] = garbage ? 1000 : (int32_t)((i * 7 + k) % OV_NCLS);
}

/* p -= 0.1 * grad: the backend's scale and add on the device (queued on the
 * compute stream like an optimizer step), the same arithmetic on the CPU */
static int ov_sgd(dlt_graph *g)
{
    dlt_backend *be = dlt_graph_get_backend(g);
    size_t n = dlt_params_numel(g);
    if (!be) {
        float *p = dlt_params_data(g), *gr = dlt_grads_data(g);
        for (size_t i = 0; i < n; i++) {
            gr[i] = (float)(gr[i] * -0.1);
            p[i] += gr[i];
        }
        return 1;
    }
    return be->scale(be->ctx, dlt_grads_dev(g), -0.1, n) == DLT_OK &&
           be->add(be->ctx, dlt_params_dev(g), dlt_grads_dev(g), n) == DLT_OK;
}

/* Work for the compute stream that changes nothing (x * 1 is exact): what
 * the host queues next meets a run that has not started. */
static int ov_busy(dlt_graph *g)
{
    dlt_backend *be = dlt_graph_get_backend(g);
    for (int r = 0; r < 300; r++)
        if (be->scale(be->ctx, dlt_grads_dev(g), 1.0, dlt_params_numel(g)) != DLT_OK)
            return 0;
    return 1;
}

#define OV_TRY(c)                                                  \
    do {                                                           \
        if (!(c)) {                                                \
            printf("FAIL %s: %s: %s\n", ov_mode[mode], #c, dlt_errmsg()); \
            ok = 0;                                                \
            goto out;                                              \
        }                                                          \
    } while (0)

/* A batch-64 MLP classifier (dropout, labels) trained OV_STEPS steps. */
static int ov_drive(dlt_backend *be, int mode, ov_trace *t)
{
    int ok = 1, np;
    dlt_model_spec s;
    dlt_t *ps = NULL, *gs = NULL;
    dlt_plan *p = NULL;
    dlt_graph *g = dlt_graph_create(5);
    if (be)
        dlt_graph_set_backend(g, be);
    dlt_model_spec_default("mlp", &s);
    s.in_channels = 1, s.in_h = 16, s.in_w = 16, s.num_classes = OV_NCLS, s.mlp_hidden = 128, s.dropout = 0.1f;
    int64_t xs[4] = {OV_NB, 1, 16, 16}, ys[1] = {OV_NB};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), y = dlt_input(g, "y", DLT_I32, 1, ys);
    dlt_t logits = dlt_model_classifier(g, &s, x);
    dlt_t loss = dlt_cross_entropy(g, logits, y, -100, 0, DLT_REDUCE_MEAN);
    dlt_t outs[2] = {loss, logits};
    OV_TRY(dlt_grad_params(g, loss, &np, &ps, &gs) == DLT_OK);
    dlt_plan_opts po = {.ngrads = np, .grad_params = ps, .grad_values = gs};
    OV_TRY(dlt_plan_create(g, 2, outs, &po, &p) == DLT_OK);
    ov_feed(p, x, y, 0, 0);
    if (mode == OV_RACE)
        OV_TRY(dlt_plan_prefetch(p) == DLT_OK);
    for (int k = 0; k < OV_STEPS; k++) {
        int next = k + 1 < OV_STEPS;
        dlt_exec_opts eo = {.training = 1, .step = k, .rng_stream = 1, .async = mode != OV_PLAIN};
        if (mode == OV_RACE) /* the compute stream busy: run k starts late */
            OV_TRY(ov_busy(g));
        OV_TRY(dlt_plan_run(p, &eo) == DLT_OK);
        if (mode == OV_RACE && next) {
            /* batch k+1 prefetched while run k has likely not taken batch k */
            OV_TRY(be->wait_host(be->ctx, DLT_EV_PREFETCHED) == DLT_OK); /* batch k read */
            ov_feed(p, x, y, k + 1, 0);
            OV_TRY(dlt_plan_prefetch(p) == DLT_OK);
        }
        OV_TRY(dlt_plan_wait_outputs(p) == DLT_OK);
        t->loss[k] = *(float *)dlt_plan_data(p, loss);
        memcpy(t->logits[k], dlt_plan_data(p, logits), sizeof t->logits[k]);
        if (mode == OV_TRAINER && next) {
            ov_feed(p, x, y, k + 1, 0); /* overlaps the backward of k */
            OV_TRY(dlt_plan_prefetch(p) == DLT_OK);
        }
        OV_TRY(dlt_plan_wait(p) == DLT_OK);
        if (next) /* plain: the next batch; else garbage: run k+1 must use its prefetched copy */
            ov_feed(p, x, y, k + 1, mode != OV_PLAIN);
        OV_TRY(ov_sgd(g));
    }
    OV_TRY(dlt_graph_download(g, DLT_SYNC_PARAMS) == DLT_OK);
    t->np = dlt_params_numel(g);
    t->params = malloc(t->np * sizeof(float));
    memcpy(t->params, dlt_params_data(g), t->np * sizeof(float));
out:
    free(ps), free(gs);
    dlt_plan_free(p);
    dlt_graph_free(g);
    return ok;
}
static double ov_err(const float *a, const float *b, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / fmax(1, fabs(a[i]));
        e = d > e || isnan(d) ? d : e;
    }
    return e;
}

/* (loss, logits, parameters) of run b against run a */
static double ov_compare(const ov_trace *a, const ov_trace *b)
{
    double e = ov_err(a->params, b->params, a->np);
    for (int k = 0; k < OV_STEPS; k++) {
        double l = ov_err(&a->loss[k], &b->loss[k], 1), g = ov_err(a->logits[k], b->logits[k], OV_NB * OV_NCLS);
        e = l > e || isnan(l) ? l : e;
        e = g > e || isnan(g) ? g : e;
    }
    return e;
}

/* The plain loop on the device against the CPU; the overlapped loops on the
 * device against the plain one (same kernels in the same order: equal but
 * for kernels whose atomics add in varying order). */
static int overlap(void)
{
    ov_trace t[4]; /* CPU plain, device plain, trainer, race */
    memset(t, 0, sizeof t);
    dlt_gpu *gpu = NULL;
    int ok = 1;
    if (dlt_gpu_open(0, &gpu) != DLT_OK) {
        printf("FAIL overlap: %s\n", dlt_errmsg());
        return 0;
    }
    dlt_backend *be = dlt_gpu_backend(gpu);
    ok = ov_drive(NULL, OV_PLAIN, &t[0]) && ov_drive(be, OV_PLAIN, &t[1]);
    if (ok) {
        double e = ov_compare(&t[0], &t[1]);
        int pass = e < 1e-4 && t[0].loss[OV_STEPS - 1] != t[0].loss[0];
        printf("%s overlap: %s on the device vs the CPU: rel err %.2e (loss %.6f -> %.6f)\n", pass ? "ok  " : "FAIL",
               ov_mode[OV_PLAIN], e, t[0].loss[0], t[0].loss[OV_STEPS - 1]);
        ok = pass;
    }
    for (int m = OV_TRAINER; m <= OV_RACE && ok; m++) {
        if (!ov_drive(be, m, &t[m + 1])) {
            ok = 0;
            break;
        }
        double e = ov_compare(&t[1], &t[m + 1]);
        int pass = e < 1e-5;
        printf("%s overlap: %s vs the plain loop on the device: rel err %.2e%s\n", pass ? "ok  " : "FAIL", ov_mode[m],
               e, e == 0 ? " (bitwise)" : "");
        ok = pass;
    }
    for (int i = 0; i < 4; i++)
        free(t[i].params);
    dlt_gpu_close(gpu);
    return ok;
}

/* f32 bit patterns that stress the rounding: ties either way, just off the
 * halfway point, the overflow to infinity, NaNs whose payload sits in the low
 * half, denormals, signed zeros; then splitmix64 bits. */
static uint32_t pattern(size_t i)
{
    static const uint32_t special[] = {
        0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x3f808001u, 0xbf808000u, 0x3fffffffu, 0x7f7fffffu,
        0x7f7f8000u, 0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0x7fffffffu,
        0xffc00001u, 0x00000000u, 0x80000000u, 0x00000001u, 0x80000001u, 0x00008000u, 0x00018000u,
        0x007fffffu, 0x00800000u};
    if (i < sizeof special / sizeof special[0])
        return special[i];
    uint64_t z = (uint64_t)i * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    /* every third pattern near the halfway point of its low half */
    return i % 3 ? (uint32_t)z : ((uint32_t)z & 0xffff0000u) | (0x7ffeu + (uint32_t)(z >> 40) % 4);
}

/* The backend's "f32_to_bf16" and "bf16_to_f32" against dlt_bf16.h on the
 * host, bit for bit, on sizes around block multiples and at an offset of one
 * element (the reducer converts buckets at any element offset); the element
 * after the range must stay untouched. */
static int bf16_conversions(void)
{
    static const size_t sizes[] = {1, 23, 255, 256, 257, 4097, 65536 + 77};
    dlt_gpu *gpu = NULL;
    if (dlt_gpu_open(0, &gpu) != DLT_OK) {
        printf("FAIL bf16 conversions: %s\n", dlt_errmsg());
        return 0;
    }
    dlt_backend *be = dlt_gpu_backend(gpu);
    dlt_f32_to_bf16_fn to = be->symbol ? (dlt_f32_to_bf16_fn)be->symbol(be->ctx, "f32_to_bf16") : NULL;
    dlt_bf16_to_f32_fn from = be->symbol ? (dlt_bf16_to_f32_fn)be->symbol(be->ctx, "bf16_to_f32") : NULL;
    int ok = to && from;
    size_t checked = 0, bad = 0, nmax = sizes[sizeof sizes / sizeof sizes[0] - 1] + 2;
    float *hf = malloc(nmax * sizeof *hf), *hf2 = malloc(nmax * sizeof *hf2);
    dlt_bf16 *hb = malloc(nmax * sizeof *hb), *hb2 = malloc(nmax * sizeof *hb2);
    float *df = NULL;
    dlt_bf16 *db = NULL;
    ok = ok && be->alloc(be->ctx, nmax * sizeof *df, (void **)&df) == DLT_OK &&
         be->alloc(be->ctx, nmax * sizeof *db, (void **)&db) == DLT_OK;
    for (size_t s = 0; ok && s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        for (size_t i = 0; i < n + 2; i++) {
            uint32_t u = pattern(i + 1000 * s);
            memcpy(&hf[i], &u, sizeof u);
            hb[i] = (dlt_bf16)(i * 40503u + s); /* every bf16 value, NaNs and infinities included */
        }
        /* f32 -> bf16 of elements [1, n + 1), the guards at 0 and n + 1 kept */
        ok = be->upload(be->ctx, df, hf, (n + 2) * sizeof *df) == DLT_OK &&
             be->memset(be->ctx, db, 0x5a, (n + 2) * sizeof *db) == DLT_OK &&
             to(be->ctx, db + 1, df + 1, n) == DLT_OK &&
             be->download(be->ctx, hb2, db, (n + 2) * sizeof *db) == DLT_OK &&
             /* bf16 -> f32 */
             be->upload(be->ctx, db, hb, (n + 2) * sizeof *db) == DLT_OK &&
             be->memset(be->ctx, df, 0x5a, (n + 2) * sizeof *df) == DLT_OK &&
             from(be->ctx, df + 1, db + 1, n) == DLT_OK &&
             be->download(be->ctx, hf2, df, (n + 2) * sizeof *df) == DLT_OK && be->sync(be->ctx) == DLT_OK;
        if (!ok) {
            printf("FAIL bf16 conversions, %zu elements: %s\n", n, dlt_errmsg());
            break;
        }
        for (size_t i = 0; i < n + 2; i++) {
            int in = i >= 1 && i <= n;
            dlt_bf16 wb = in ? dlt_f32_to_bf16(hf[i]) : 0x5a5a;
            float wf = in ? dlt_bf16_to_f32(hb[i]) : 0;
            if (!in)
                memset(&wf, 0x5a, sizeof wf);
            if (hb2[i] != wb || memcmp(&hf2[i], &wf, sizeof wf) != 0) {
                if (bad++ < 5) {
                    uint32_t gu, wu, xu;
                    memcpy(&gu, &hf2[i], 4), memcpy(&wu, &wf, 4), memcpy(&xu, &hf[i], 4);
                    printf("     %zu elements, [%zu]: f32 0x%08x -> 0x%04x (host 0x%04x); bf16 0x%04x -> 0x%08x "
                           "(host 0x%08x)\n",
                           n, i, xu, hb2[i], wb, hb[i], gu, wu);
                }
            }
        }
        checked += n;
    }
    ok = ok && bad == 0;
    printf("%s bf16 conversions (f32_to_bf16, bf16_to_f32), sizes 1 to %zu at an odd offset: %zu elements each "
           "way, %zu differ from the host\n",
           ok ? "ok  " : "FAIL", sizes[sizeof sizes / sizeof sizes[0] - 1], checked, bad);
    if (df)
        be->release(be->ctx, df);
    if (db)
        be->release(be->ctx, db);
    free(hf), free(hf2), free(hb), free(hb2);
    dlt_gpu_close(gpu);
    return ok;
}

/* The backend's clamp (WGAN's weight clipping) against the CPU backend's, bit
 * for bit, on the bit patterns above (NaNs with payloads, infinities,
 * denormals, signed zeros) and the bounds and their neighbours, for a
 * symmetric, a one-sided and an inverted range, at an odd offset; the
 * elements around the range stay untouched. */
static int clamp_ranges(void)
{
    static const float ranges[][2] = {{-0.01f, 0.01f}, {-INFINITY, 0.f}, {0.5f, INFINITY}, {1.f, -1.f}};
    const size_t n = 65536 + 77;
    dlt_gpu *gpu = NULL;
    if (dlt_gpu_open(0, &gpu) != DLT_OK) {
        printf("FAIL clamp: %s\n", dlt_errmsg());
        return 0;
    }
    dlt_backend *be = dlt_gpu_backend(gpu), *cpu = dlt_cpu_backend();
    float *h = malloc((n + 2) * sizeof *h), *want = malloc((n + 2) * sizeof *want);
    float *got = malloc((n + 2) * sizeof *got), *d = NULL;
    int ok = be->clamp && be->alloc(be->ctx, (n + 2) * sizeof *d, (void **)&d) == DLT_OK;
    size_t bad = 0;
    for (size_t r = 0; ok && r < sizeof ranges / sizeof ranges[0]; r++) {
        float lo = ranges[r][0], hi = ranges[r][1];
        for (size_t i = 0; i < n + 2; i++) {
            uint32_t u = pattern(i + 7 * r);
            memcpy(&h[i], &u, sizeof u);
        }
        const float edges[] = {lo, hi, nextafterf(lo, -INFINITY), nextafterf(lo, INFINITY),
                               nextafterf(hi, -INFINITY), nextafterf(hi, INFINITY)};
        for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++)
            h[100 + e] = edges[e];
        memcpy(want, h, (n + 2) * sizeof *h);
        ok = cpu->clamp(cpu->ctx, want + 1, lo, hi, n) == DLT_OK &&
             be->upload(be->ctx, d, h, (n + 2) * sizeof *d) == DLT_OK &&
             be->clamp(be->ctx, d + 1, lo, hi, n) == DLT_OK &&
             be->download(be->ctx, got, d, (n + 2) * sizeof *d) == DLT_OK && be->sync(be->ctx) == DLT_OK;
        for (size_t i = 0; ok && i < n + 2; i++)
            if (memcmp(&got[i], &want[i], sizeof got[i]) != 0 && bad++ < 5) {
                uint32_t x, g, w;
                memcpy(&x, &h[i], 4), memcpy(&g, &got[i], 4), memcpy(&w, &want[i], 4);
                printf("     clamp [%g, %g] [%zu]: 0x%08x -> 0x%08x (CPU 0x%08x)\n", (double)lo, (double)hi, i, x, g,
                       w);
            }
    }
    ok = ok && bad == 0;
    printf("%s clamp [-0.01, 0.01], [-inf, 0], [0.5, inf], [1, -1] on %zu elements at an odd offset: %zu differ from "
           "the CPU backend's\n",
           ok ? "ok  " : "FAIL", n, bad);
    if (d)
        be->release(be->ctx, d);
    free(h), free(want), free(got);
    dlt_gpu_close(gpu);
    return ok;
}

int main(void)
{
    if (!gc_init())
        return 77;
    int ok = flat_buffers();
    ok = bf16_conversions() && ok;
    ok = clamp_ranges() && ok;
    ok = overlap() && ok;
    gc_check("fan-out accum", build_fanout, NULL, 1e-5);
    return gc_finish() || !ok;
}
