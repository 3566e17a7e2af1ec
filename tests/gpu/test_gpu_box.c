/* GPU kernels of the box family (src/gpu/k_box.cu) against the CPU: box_iou,
 * encode, decode and decode's gradient (boxes from fixed random corners,
 * deltas random inputs), topk with many ties (rows longer than a block, k
 * beyond one scan chunk), NMS with classes, padding and duplicate boxes (the
 * kept lists equal: integer outputs match exactly), the matcher with and
 * without low-quality matches, the sampler, and the losses (existing ops
 * composed) with their gradients. Then the sampler run for several steps
 * with CUDA graphs: the kernel reads the step from the device, so every
 * replayed run must draw that step's subset, the CPU's. Exits 77 without a CUDA device;
 * tests/gpu/emu_box runs it on the emulated kernels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_gpu.h"
#include "gpu_check.h"

/* n boxes [.., 4] as a constant: corners in [0, span), sizes in [1, 16);
 * every 9th box a copy of the one before (ties of IoU 1), every 13th empty */
static dlt_t boxes(dlt_graph *g, int ndim, const int64_t *dims, uint64_t seed, float span)
{
    int64_t n = 1;
    for (int i = 0; i < ndim - 1; i++)
        n *= dims[i];
    float *b = malloc((size_t)n * 4 * sizeof *b);
    for (int64_t i = 0; i < n; i++) {
        float x = span * dlt_rng_uniform(seed, 0, (uint64_t)i),
              y = span * dlt_rng_uniform(seed, 1, (uint64_t)i);
        float w = 1.f + 15.f * dlt_rng_uniform(seed, 2, (uint64_t)i);
        float h = 1.f + 15.f * dlt_rng_uniform(seed, 3, (uint64_t)i);
        b[4 * i] = x, b[4 * i + 1] = y, b[4 * i + 2] = x + w, b[4 * i + 3] = y + h;
        if (i % 9 == 8)
            for (int c = 0; c < 4; c++)
                b[4 * i + c] = b[4 * (i - 1) + c];
        if (i % 13 == 12)
            b[4 * i + 2] = b[4 * i];
    }
    dlt_t v = dlt_constant(g, DLT_F32, ndim, dims, b);
    free(b);
    return v;
}

/* scores with ties: multiples of 1/8 */
static dlt_t tied(dlt_graph *g, int ndim, const int64_t *dims, uint64_t seed)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= dims[i];
    float *s = malloc((size_t)n * sizeof *s);
    for (int64_t i = 0; i < n; i++)
        s[i] = floorf(8.f * dlt_rng_uniform(seed, 5, (uint64_t)i)) / 8.f;
    dlt_t v = dlt_constant(g, DLT_F32, ndim, dims, s);
    free(s);
    return v;
}

static int build_iou(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    int64_t da[3] = {3, 37, 4}, db[3] = {3, 300, 4};
    outs[0] = dlt_box_iou(g, boxes(g, 3, da, 1, 40.f), boxes(g, 3, db, 2, 40.f));
    return 1;
}

static int build_coder(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    const float w[4] = {10.f, 10.f, 5.f, 5.f};
    int64_t db[2] = {517, 4}, dd[2] = {517, 12};
    dlt_t b = boxes(g, 2, db, 3, 100.f);
    outs[0] = dlt_box_encode(g, boxes(g, 2, db, 4, 100.f), b, w);
    /* deltas in [-6, 24): many dw / 5 above the clip log(1000 / 16) */
    dlt_t d = gc_input(g, "deltas", 2, dd, -6.f, 24.f);
    outs[1] = dlt_box_decode(g, d, b, w, logf(1000.f / 16.f));
    return 2;
}

typedef struct {
    int64_t rows, n, k;
} topk_case;

static int build_topk(dlt_graph *g, dlt_t *outs, void *user)
{
    const topk_case *c = user;
    int64_t d[2] = {c->rows, c->n};
    dlt_t x = c->n > 100 ? tied(g, 2, d, 6) : gc_input(g, "x", 2, d, -1.f, 1.f), idx;
    outs[0] = dlt_topk(g, x, c->k, &idx);
    outs[1] = idx;
    return 2;
}

typedef struct {
    int classes, valid;
    float thr;
    int64_t n, k;
} nms_case;

static int build_nms(dlt_graph *g, dlt_t *outs, void *user)
{
    const nms_case *c = user;
    int64_t db[3] = {3, c->n, 4}, ds[2] = {3, c->n};
    dlt_t cls = c->classes ? gc_input_int(g, "cls", 2, ds, 0, 2) : -1;
    dlt_t valid = -1;
    if (c->valid) { /* a third absent */
        float *v = malloc((size_t)(3 * c->n) * sizeof *v);
        for (int64_t i = 0; i < 3 * c->n; i++)
            v[i] = i % 3 == 1 ? 0.f : 1.f;
        valid = dlt_constant(g, DLT_F32, 2, ds, v);
        free(v);
    }
    outs[0] =
        dlt_nms(g, boxes(g, 3, db, 7, 60.f), tied(g, 2, ds, 8), cls, valid, c->thr, c->k, &outs[1]);
    return 2;
}

static int build_match(dlt_graph *g, dlt_t *outs, void *user)
{
    int allow = *(const int *)user;
    int64_t dg[3] = {2, 5, 4}, da[3] = {2, 600, 4}, dc[1] = {2};
    const int32_t cnt[2] = {5, 3};
    dlt_t q = dlt_box_iou(g, boxes(g, 3, dg, 9, 60.f), boxes(g, 3, da, 10, 60.f));
    outs[0] = dlt_box_match(g, q, dlt_constant(g, DLT_I32, 1, dc, cnt), 0.7f, 0.3f, allow);
    return 1;
}

static int build_sample(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    int64_t d[2] = {3, 2000};
    dlt_t lab = gc_input_int(g, "labels", 2, d, -1, 3);
    outs[0] = dlt_box_sample(g, lab, 256, 0.5f, 4, &outs[1]);
    return 2;
}

/* Mask R-CNN's losses (box_loss.c: existing ops over 0/1 masks) and their
 * gradients: the RPN's, and the RoI heads' class, box and mask terms. */
static int build_losses(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    int64_t d2[2] = {2, 300}, d3[3] = {2, 300, 4}, dl[2] = {64, 6}, dr[2] = {64, 24},
            dt[2] = {64, 4}, ds[1] = {64}, dm[4] = {64, 6, 14, 14}, dmt[3] = {64, 14, 14};
    dlt_t lab = gc_input_int(g, "labels", 2, d2, -1, 1), neg;
    dlt_t pos = dlt_box_sample(g, lab, 64, 0.25f, 0, &neg);
    outs[0] = dlt_rpn_losses(g, gc_input(g, "objectness", 2, d2, -3.f, 3.f),
                             gc_input(g, "deltas", 3, d3, -1.f, 1.f),
                             gc_input(g, "targets", 3, d3, -1.f, 1.f), pos, neg, &outs[1]);
    dlt_t sampled = dlt_affine(g, gc_input(g, "coin", 1, ds, 0.f, 1.f), 0.f, 1.f);
    dlt_t lb, lm;
    outs[2] = dlt_roi_losses(g, gc_input(g, "class_logits", 2, dl, -2.f, 2.f),
                             gc_input(g, "box_regression", 2, dr, -1.f, 1.f),
                             gc_input_int(g, "roi_labels", 1, ds, 0, 5),
                             gc_input(g, "roi_targets", 2, dt, -1.f, 1.f), sampled,
                             gc_input(g, "mask_logits", 4, dm, -3.f, 3.f),
                             gc_input(g, "mask_targets", 3, dmt, 0.f, 1.f), &lb, &lm);
    outs[3] = dlt_add(g, lb, lm); /* at most 4 outputs */
    return 4;
}

/* ---------------------------------------------------------------- steps with graphs */
enum { STEPS = 4, SN = 3 * 1500 };

/* box_sample's two masks at steps 100..100 + STEPS on the device with CUDA
 * graphs (the kernel reads the step from the device) or on the CPU. */
static int sample_steps(int device, float *out)
{
    int ok = 0;
    int64_t d[2] = {3, 1500};
    dlt_plan *p = NULL;
    dlt_graph *g = dlt_graph_create(77);
    int32_t *lab = malloc(SN * sizeof *lab);
    for (int i = 0; i < SN; i++)
        lab[i] = i % 11 == 0 ? 1 : i % 4 == 0 ? -1 : 0;
    if (device && dlt_graph_set_backend(g, dlt_gpu_backend(gc_gpu())) != DLT_OK)
        goto out;
    dlt_t v[2];
    v[0] = dlt_box_sample(g, dlt_constant(g, DLT_I32, 2, d, lab), 128, 0.25f, 6, &v[1]);
    if (dlt_plan_create(g, 2, v, NULL, &p) != DLT_OK)
        goto out;
    for (int k = 0; k <= STEPS; k++) {
        dlt_exec_opts eo = {.training = 1, .step = 100 + k, .graph = device};
        if (dlt_plan_run(p, &eo) != DLT_OK || dlt_plan_wait(p) != DLT_OK)
            goto out;
        for (int j = 0; j < 2; j++)
            memcpy(out + ((int64_t)k * 2 + j) * SN, dlt_plan_data(p, v[j]), SN * sizeof(float));
    }
    ok = 1;
out:
    if (!ok)
        printf("FAIL %s sampler steps: %s\n", device ? "device" : "CPU", dlt_errmsg());
    free(lab);
    dlt_plan_free(p);
    dlt_graph_free(g);
    return ok;
}

static int sampler_steps_with_graphs(void)
{
    static float cpu[(STEPS + 1) * 2 * SN], dev[(STEPS + 1) * 2 * SN];
    if (!sample_steps(0, cpu) || !sample_steps(1, dev))
        return 0;
    int same = memcmp(cpu, dev, sizeof cpu) == 0, fresh = 1;
    for (int k = 1; k <= STEPS; k++)
        fresh &= memcmp(cpu + (int64_t)(k - 1) * 2 * SN, cpu + (int64_t)k * 2 * SN,
                        2 * SN * sizeof(float)) != 0;
    int ok = same && fresh;
    printf("%s box_sample [3,1500], steps 100..%d with graphs: %s%s\n", ok ? "ok  " : "FAIL",
           100 + STEPS, same ? "the CPU's draws" : "differ from the CPU",
           fresh ? ", a new draw every step" : ", a step repeated the previous draw");
    return ok;
}

int main(void)
{
    if (!gc_init())
        return 77;
    gc_check("box_iou [3,37,4] x [3,300,4] (copies, empty boxes)", build_iou, NULL, 0);
    /* logf / expf of the device's library: an ulp or so */
    gc_check("box_encode [517,4] and box_decode [517,12] (clipped dw, dh), d/d deltas", build_coder,
             NULL, 1e-6);
    static const topk_case tk[] = {{4, 50, 7}, {3, 3000, 300}, {2, 1000, 1000}, {1, 1, 1}};
    char name[128];
    for (size_t i = 0; i < sizeof tk / sizeof tk[0]; i++) {
        snprintf(name, sizeof name, "topk k=%lld of [%lld,%lld]%s", (long long)tk[i].k,
                 (long long)tk[i].rows, (long long)tk[i].n, tk[i].n > 100 ? " (ties)" : "");
        gc_check(name, build_topk, (void *)&tk[i], 0);
    }
    static const nms_case nc[] = {
        {1, 1, 0.5f, 400, 100}, {0, 0, 0.3f, 400, 50}, {1, 0, 0.7f, 300, 300}, {0, 1, 0.f, 50, 10}};
    for (size_t i = 0; i < sizeof nc / sizeof nc[0]; i++) {
        snprintf(name, sizeof name, "nms [3,%lld] thr %.2g K=%lld%s%s", (long long)nc[i].n,
                 (double)nc[i].thr, (long long)nc[i].k, nc[i].classes ? ", classes" : "",
                 nc[i].valid ? ", padding" : "");
        gc_check(name, build_nms, (void *)&nc[i], 0);
    }
    static const int allow[2] = {1, 0};
    gc_check("box_match [2,5,600] counts 5, 3, low-quality matches", build_match, (void *)&allow[0],
             0);
    gc_check("box_match [2,5,600] counts 5, 3", build_match, (void *)&allow[1], 0);
    gc_check("box_sample [3,2000] 256 per image, fraction 0.5", build_sample, NULL, 0);
    /* sums over many terms: float rounding of the existing ops' kernels */
    gc_check("rpn and roi losses (class, box, mask) with gradients", build_losses, NULL, 1e-5);
    int ok = sampler_steps_with_graphs();
    return gc_finish() || !ok;
}
