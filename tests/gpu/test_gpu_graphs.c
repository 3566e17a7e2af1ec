/* CUDA graphs (dlt_exec_opts.graph): a ResNet-20 (convolutions, batch norm
 * with running statistics, GEMM, cross-entropy) trained and evaluated with
 * graphs gives the same bits as without them, its inputs changing every step;
 * graphs are captured where expected (the second run, again when training
 * switches) and launched after; an MLP with dropout and gpt-tiny with
 * dropout in its residuals and attention, whose masks change every step,
 * match too; so does the trainer's overlapped loop (async runs, prefetched
 * batches) with graphs; and a capture that fails leaves the run going on
 * without graphs, with the same bits. Without a CUDA
 * device it exits 77; tests/gpu/emu_graphs runs it on the emulated kernels
 * (whose runtime records and replays captures). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_gpu.h"
#include "dlt_models.h"
#include "dlt_transformer.h"
#include "gpu_check.h"

enum { STEPS = 6, EVAL_AFTER = 3, NB = 4, SIDE = 12, NCLS = 10, T = 9, VOCAB = 23 };

/* The device's backend with counting capture and launch (the graph keeps a
 * pointer to it: static). */
static dlt_backend counted;
static dlt_status (*real_end)(void *, void **);
static dlt_status (*real_launch)(void *, void *);
static int captures, launches, refuse_captures;

/* refuse_captures: every capture fails (as one a library refused would) */
static dlt_status count_end(void *ctx, void **graph)
{
    dlt_status st = real_end(ctx, graph);
    if (st == DLT_OK && refuse_captures) {
        counted.graph_free(ctx, *graph);
        *graph = NULL;
        return dlt_seterr(DLT_ERR_INTERNAL, "test: capture refused");
    }
    captures += st == DLT_OK;
    return st;
}

static dlt_status count_launch(void *ctx, void *graph)
{
    launches++;
    return real_launch(ctx, graph);
}

typedef struct {
    float loss[STEPS + 1], logits[STEPS + 1][NB * T * VOCAB];
    float *params, *buffers;
    size_t np, nbuf;
} trace;

/* Batch k: images and labels, or (gpt) token ids and their next tokens. */
static void feed(dlt_plan *p, dlt_t x, dlt_t y, int k, int gpt)
{
    int32_t *yd = dlt_plan_data(p, y);
    if (gpt) {
        int32_t *xd = dlt_plan_data(p, x);
        for (int i = 0; i < NB * T; i++) {
            xd[i] = (int32_t)(dlt_rng_u64(23, (uint64_t)k, (uint64_t)i) % VOCAB);
            yd[i] = (int32_t)((xd[i] * 7 + 3) % VOCAB);
        }
        return;
    }
    float *xd = dlt_plan_data(p, x);
    for (int i = 0; i < NB * SIDE * SIDE; i++)
        xd[i] = dlt_rng_uniform(23, (uint64_t)k, (uint64_t)i) * 2 - 1;
    for (int i = 0; i < NB; i++)
        yd[i] = (int32_t)((i * 3 + k) % NCLS);
}

/* The model under test: a classifier of the zoo on images, or gpt-tiny (its
 * dropout on the residual branches and the attention probabilities). */
static dlt_t build(dlt_graph *g, const char *arch, float dropout, dlt_t *x, dlt_t *y, dlt_t *loss)
{
    if (!strcmp(arch, "gpt-tiny")) {
        dlt_transformer_spec s;
        dlt_transformer_spec_default(arch, &s);
        s.vocab = VOCAB, s.max_len = 16, s.hidden_dropout = s.attn_dropout = dropout;
        int64_t d[2] = {NB, T};
        *x = dlt_input(g, "ids", DLT_I32, 2, d);
        *y = dlt_input(g, "targets", DLT_I32, 2, d);
        dlt_t logits = dlt_gpt(g, &s, *x, NULL);
        *loss = dlt_token_loss(g, logits, *y, DLT_REDUCE_MEAN);
        return logits;
    }
    dlt_model_spec s;
    dlt_model_spec_default(arch, &s);
    s.in_channels = 1, s.in_h = SIDE, s.in_w = SIDE, s.num_classes = NCLS, s.dropout = dropout;
    int64_t xs[4] = {NB, 1, SIDE, SIDE}, ys[1] = {NB};
    *x = dlt_input(g, "x", DLT_F32, 4, xs);
    *y = dlt_input(g, "y", DLT_I32, 1, ys);
    dlt_t logits = dlt_model_classifier(g, &s, *x);
    *loss = dlt_cross_entropy(g, logits, *y, -100, 0, DLT_REDUCE_MEAN);
    return logits;
}

/* p -= 0.05 * grad on the device, between runs (an optimizer step) */
static int sgd(dlt_graph *g)
{
    dlt_backend *be = dlt_graph_get_backend(g);
    size_t n = dlt_params_numel(g);
    return be->scale(be->ctx, dlt_grads_dev(g), -0.05, n) == DLT_OK &&
           be->add(be->ctx, dlt_params_dev(g), dlt_grads_dev(g), n) == DLT_OK && be->sync(be->ctx) == DLT_OK;
}

/* STEPS training steps of `arch` with an evaluation run (training off) after
 * step EVAL_AFTER, on the counted backend; graph: dlt_exec_opts.graph;
 * overlapped: the trainer's loop (async runs, next batch prefetched). */
static int drive(const char *arch, float dropout, int graph, int overlapped, trace *t)
{
    int ok = 0, np, gpt = !strcmp(arch, "gpt-tiny");
    dlt_t *ps = NULL, *gs = NULL, x, y, loss;
    dlt_plan *p = NULL;
    dlt_graph *g = dlt_graph_create(9);
    dlt_graph_set_backend(g, &counted);
    dlt_t logits = build(g, arch, dropout, &x, &y, &loss);
    size_t nlogits = dlt_shape_numel(dlt_shape_of(g, logits));
    dlt_t outs[2] = {loss, logits};
    if (dlt_grad_params(g, loss, &np, &ps, &gs) != DLT_OK)
        goto out;
    dlt_plan_opts po = {.ngrads = np, .grad_params = ps, .grad_values = gs};
    if (dlt_plan_create(g, 2, outs, &po, &p) != DLT_OK)
        goto out;
    feed(p, x, y, 0, gpt);
    for (int k = 0; k <= STEPS; k++) {
        int eval = k == EVAL_AFTER, last = k == STEPS;
        dlt_exec_opts eo = {.training = !eval, .step = k, .rng_stream = 2, .async = overlapped, .graph = graph};
        if (dlt_plan_run(p, &eo) != DLT_OK || dlt_plan_wait_outputs(p) != DLT_OK)
            goto out;
        t->loss[k] = *(float *)dlt_plan_data(p, loss);
        memcpy(t->logits[k], dlt_plan_data(p, logits), nlogits * sizeof(float));
        if (overlapped && !last) {
            feed(p, x, y, k + 1, gpt);
            if (dlt_plan_prefetch(p) != DLT_OK)
                goto out;
        }
        if (dlt_plan_wait(p) != DLT_OK)
            goto out;
        if (!overlapped && !last)
            feed(p, x, y, k + 1, gpt);
        if (!eval && !sgd(g))
            goto out;
    }
    if (dlt_graph_download(g, DLT_SYNC_PARAMS | DLT_SYNC_BUFFERS) != DLT_OK)
        goto out;
    t->np = dlt_params_numel(g), t->nbuf = dlt_buffers_numel(g);
    t->params = malloc(t->np * sizeof(float) + 1);
    t->buffers = malloc(t->nbuf * sizeof(float) + 1);
    memcpy(t->params, dlt_params_data(g), t->np * sizeof(float));
    memcpy(t->buffers, dlt_buffers_data(g), t->nbuf * sizeof(float));
    ok = 1;
out:
    if (!ok)
        printf("FAIL %s run (graph %d, overlapped %d): %s\n", arch, graph, overlapped, dlt_errmsg());
    free(ps), free(gs);
    dlt_plan_free(p);
    dlt_graph_free(g);
    return ok;
}

/* Bit-for-bit: losses, logits of every run, parameters and buffers. */
static int same(const trace *a, const trace *b, char *where, size_t len)
{
    for (int k = 0; k <= STEPS; k++)
        if (memcmp(&a->loss[k], &b->loss[k], sizeof a->loss[k]) ||
            memcmp(a->logits[k], b->logits[k], sizeof a->logits[k])) {
            snprintf(where, len, "run %d: loss %.9g vs %.9g", k, a->loss[k], b->loss[k]);
            return 0;
        }
    if (a->np != b->np || memcmp(a->params, b->params, a->np * sizeof(float))) {
        snprintf(where, len, "the parameters");
        return 0;
    }
    if (a->nbuf != b->nbuf || memcmp(a->buffers, b->buffers, a->nbuf * sizeof(float))) {
        snprintf(where, len, "the running statistics");
        return 0;
    }
    return 1;
}

static void release(trace *t)
{
    free(t->params), free(t->buffers);
    memset(t, 0, sizeof *t);
}

/* One comparison: `arch` with graphs against without; the captures and
 * launches the graph run must make. */
static int check(const char *what, const char *arch, float dropout, int overlapped, int want_captures,
                 int want_launches)
{
    trace plain, graphs;
    char where[160] = "";
    memset(&plain, 0, sizeof plain), memset(&graphs, 0, sizeof graphs);
    int ok = drive(arch, dropout, 0, overlapped, &plain);
    int c0 = captures, l0 = launches;
    ok = ok && drive(arch, dropout, 1, overlapped, &graphs);
    int nc = captures - c0, nl = launches - l0;
    int pass = ok && same(&plain, &graphs, where, sizeof where) && nc == want_captures && nl == want_launches;
    printf("%s %s: %s (%d captures, %d launches; expected %d, %d; loss %.6f -> %.6f)\n", pass ? "ok  " : "FAIL",
           what, where[0] ? where : "same bits with and without graphs", nc, nl, want_captures, want_launches,
           plain.loss[0], plain.loss[STEPS]);
    release(&plain), release(&graphs);
    return pass;
}

int main(void)
{
    if (!gc_init())
        return 77;
    dlt_gpu *gpu = gc_gpu();
    dlt_backend *be = gpu ? dlt_gpu_backend(gpu) : NULL;
    if (!be || !be->capture_begin) {
        printf("FAIL: the device has no graph support\n");
        return 1;
    }
    counted = *be;
    real_end = be->capture_end, real_launch = be->graph_launch;
    counted.capture_end = count_end, counted.graph_launch = count_launch;
    /* 7 runs: warm-up, capture + launch, launch, eval (training off: capture
     * + launch), training again (capture + launch), launch, launch */
    int ok = check("resnet20, 6 training steps around an evaluation", "resnet20", 0, 0, 3, 6);
    ok = check("resnet20, the trainer's overlapped loop", "resnet20", 0, 1, 3, 6) && ok;
    /* dropout keys its masks by the step, which its kernel reads from the
     * device: a frozen step would repeat the first captured run's masks */
    ok = check("mlp with dropout (masks change every step)", "mlp", 0.25f, 0, 3, 6) && ok;
    /* and so do the attention kernels (forward and backward) */
    ok = check("gpt-tiny with dropout in the residuals and the attention", "gpt-tiny", 0.2f, 0, 3, 6) && ok;
    /* a failed capture: the run goes on without graphs, from then on */
    refuse_captures = 1;
    ok = check("resnet20, its capture refused (runs on without graphs)", "resnet20", 0, 0, 0, 0) && ok;
    refuse_captures = 0;
    return gc_finish() || !ok;
}
