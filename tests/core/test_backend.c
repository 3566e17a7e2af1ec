/* The device-backend path of the core without a GPU, on the library's
 * stand-in device (dlt_standin_backend: memory in separate host blocks filled
 * with garbage, never the host mirrors; the ops' CPU kernels). A graph placed
 * on it must train bit for bit like the same graph on the CPU: staging of inputs
 * and outputs, constants, gradient binding (direct, copied, accumulated),
 * buffers written by kernels (batch norm), evaluation plans, host mirrors after
 * download/upload, and the fused optimizer path (tiles, per-parameter
 * coefficients) through the backend's "optim_step" symbol. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_models.h"
#include "dlt_ops.h"
#include "dlt_optim.h"
#include "dlt_test.h"
#include "dlt_gpu.h"
#include "lazydev.h"
#include "standin.h"

/* The library's stand-in device, with its allocations counted (every block
 * must be released) and one op's kernel withheld (plans using it are refused). */
static int nallocs;
static dlt_backend hostdev, *standin;

static dlt_status counted_alloc(void *ctx, size_t bytes, void **p)
{
    dlt_status st = standin->alloc(ctx, bytes, p);
    nallocs += st == DLT_OK;
    return st;
}

static void counted_release(void *ctx, void *p)
{
    nallocs -= p != NULL;
    standin->release(ctx, p);
}

static int kernel_but_topk(void *ctx, const dlt_op_def *op, dlt_kernel_fn *fn, dlt_workspace_fn *ws)
{
    if (op->id == DLT_OP_TOPK_CORRECT)
        return 0;
    return standin->kernel(ctx, op, fn, ws);
}

typedef struct {
    float loss[4], eval_loss;
    float *params, *buffers, *slot;
    size_t np, nb;
} run_out;

/* ResNet-8-ish classifier (BN, shortcut B, dropout-free) or an MLP with
 * dropout; `accum` micro-steps per optimizer step; Adam(W) or SGD. */
static void run(int on_dev, const char *arch, int accum, const char *opt, run_out *r)
{
    dlt_graph *g = dlt_graph_create(21);
    dlt_model_spec s;
    ck_assert_int_eq(dlt_model_spec_default(arch, &s), DLT_OK);
    s.in_channels = 1, s.in_h = 12, s.in_w = 12, s.num_classes = 5;
    if (strcmp(arch, "mlp") == 0)
        s.dropout = 0.25f;
    if (on_dev)
        ck_assert_int_eq(dlt_graph_set_backend(g, &hostdev), DLT_OK);
    int64_t xs[4] = {6, 1, 12, 12}, ys[1] = {6};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), y = dlt_input(g, "y", DLT_I32, 1, ys);
    dlt_t logits = dlt_model_classifier(g, &s, x);
    dlt_t loss = dlt_cross_entropy(g, logits, y, -100, 0.1f, DLT_REDUCE_MEAN);
    int np;
    dlt_t *ps, *gs;
    ck_assert_int_eq(dlt_grad_params(g, loss, &np, &ps, &gs), DLT_OK);
    dlt_plan *tp, *ep;
    dlt_plan_opts po = {.ngrads = np, .grad_params = ps, .grad_values = gs, .accumulate = accum > 1};
    ck_assert_msg(dlt_plan_create(g, 1, &loss, &po, &tp) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_int_eq(dlt_plan_create(g, 1, &loss, NULL, &ep), DLT_OK);
    dlt_optim_config oc;
    dlt_optim_config_default(opt, &oc);
    oc.momentum = strcmp(opt, "sgd") == 0 ? 0.9 : 0;
    oc.lamb_skip_adapt_no_decay = 1;
    oc.weight_decay = 1e-2;
    oc.lr = 0.05;
    dlt_param_view *views = calloc((size_t)dlt_num_params(g) + 1, sizeof *views);
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        views[i] = (dlt_param_view){pi->name, pi->offset, pi->numel};
    }
    dlt_param_group_rule rules[1] = {{.pattern = "*bias", .set_weight_decay = 1, .lr_mult = 2}};
    dlt_optim *o;
    ck_assert_int_eq(dlt_optim_create(&oc, views, dlt_num_params(g), dlt_params_numel(g), rules, 1, &o), DLT_OK);
    if (on_dev)
        ck_assert_msg(dlt_optim_to_device(o, &hostdev) == DLT_OK, "%s", dlt_errmsg());
    for (int step = 0; step < 4; step++) {
        if (accum > 1) {
            memset(dlt_grads_data(g), 0, dlt_params_numel(g) * sizeof(float));
            ck_assert_int_eq(dlt_graph_upload(g, DLT_SYNC_GRADS), DLT_OK);
        }
        for (int m = 0; m < accum; m++) {
            float *xd = dlt_plan_data(tp, x);
            int32_t *yd = dlt_plan_data(tp, y);
            for (int i = 0; i < 6 * 144; i++)
                xd[i] = dlt_rng_uniform(3, (uint64_t)(step * accum + m), (uint64_t)i) * 2 - 1;
            for (int i = 0; i < 6; i++)
                yd[i] = (i + step + m) % 5;
            dlt_exec_opts eo = {.training = 1, .step = step * accum + m, .rng_stream = 1};
            ck_assert_msg(dlt_plan_run(tp, &eo) == DLT_OK, "%s", dlt_errmsg());
        }
        r->loss[step] = *(float *)dlt_plan_data(tp, loss);
        ck_assert_int_eq(dlt_optim_step(o, dlt_params_dev(g), dlt_grads_dev(g), 0.05), DLT_OK);
    }
    float *xd = dlt_plan_data(ep, x);
    int32_t *yd = dlt_plan_data(ep, y);
    for (int i = 0; i < 6 * 144; i++)
        xd[i] = 0.01f * (float)(i % 37) - 0.2f;
    for (int i = 0; i < 6; i++)
        yd[i] = i % 5;
    dlt_exec_opts eo = {.training = 0};
    ck_assert_int_eq(dlt_plan_run(ep, &eo), DLT_OK);
    r->eval_loss = *(float *)dlt_plan_data(ep, loss);
    ck_assert_int_eq(dlt_graph_download(g, DLT_SYNC_ALL), DLT_OK);
    ck_assert_int_eq(dlt_optim_download(o), DLT_OK);
    r->np = dlt_params_numel(g), r->nb = dlt_buffers_numel(g);
    r->params = malloc(r->np * sizeof(float));
    r->buffers = malloc((r->nb + 1) * sizeof(float));
    r->slot = malloc(r->np * sizeof(float));
    memcpy(r->params, dlt_params_data(g), r->np * sizeof(float));
    memcpy(r->buffers, dlt_buffers_data(g), r->nb * sizeof(float));
    memcpy(r->slot, dlt_optim_slot(o, 0), r->np * sizeof(float));
    free(views), free(ps), free(gs);
    dlt_optim_free(o);
    dlt_plan_free(tp);
    dlt_plan_free(ep);
    dlt_graph_free(g);
}

static void same_run(const char *arch, int accum, const char *opt)
{
    run_out a, b;
    run(0, arch, accum, opt, &a);
    run(1, arch, accum, opt, &b);
    for (int s = 0; s < 4; s++)
        ck_assert_msg(a.loss[s] == b.loss[s], "%s step %d loss: cpu %.9g device %.9g", arch, s, a.loss[s], b.loss[s]);
    ck_assert_msg(isfinite(a.loss[3]) && a.loss[3] != a.loss[0], "%s: the model trains", arch);
    ck_assert_msg(a.eval_loss == b.eval_loss, "%s eval loss: cpu %.9g device %.9g", arch, a.eval_loss, b.eval_loss);
    ck_assert_int_eq(memcmp(a.params, b.params, a.np * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.buffers, b.buffers, a.nb * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(a.slot, b.slot, a.np * sizeof(float)), 0);
    ck_assert_int_eq(nallocs, 0); /* every device block released */
    free(a.params), free(a.buffers), free(a.slot);
    free(b.params), free(b.buffers), free(b.slot);
}

/* LAMB's per-parameter norms are added per tile on a device, so the device
 * run agrees with the CPU to rounding (bitwise where a parameter fits one
 * tile); ResNet-20's larger convolutions span several tiles. */
START_TEST(resnet_lamb)
{
    run_out a, b;
    run(0, "resnet20", 1, "lamb", &a);
    run(1, "resnet20", 1, "lamb", &b);
    double err = 0, scale = 1e-30;
    for (size_t i = 0; i < a.np; i++) {
        double d = fabs((double)a.params[i] - b.params[i]);
        err = d > err ? d : err;
        scale = fabs(a.params[i]) > scale ? fabs(a.params[i]) : scale;
    }
    ck_assert_msg(err / scale < 1e-6, "lamb parameters: device vs cpu rel err %g", err / scale);
    ck_assert_msg(fabs(a.loss[3] - b.loss[3]) < 1e-5 * fabs(a.loss[3]), "lamb loss %g vs %g", a.loss[3], b.loss[3]);
    ck_assert_msg(isfinite(a.loss[3]) && a.loss[3] != a.loss[0], "lamb moves: %g -> %g", a.loss[0], a.loss[3]);
    ck_assert_int_eq(nallocs, 0);
    free(a.params), free(a.buffers), free(a.slot);
    free(b.params), free(b.buffers), free(b.slot);
}
END_TEST

START_TEST(resnet_bn_sgd) { same_run("resnet20", 1, "sgd"); }
END_TEST
START_TEST(mlp_dropout_adamw_accumulate) { same_run("mlp", 3, "adamw"); }
END_TEST

START_TEST(missing_kernel_refused)
{
    dlt_graph *g = dlt_graph_create(1);
    dlt_graph_set_backend(g, &hostdev);
    int64_t d[2] = {4, 3}, l[1] = {4};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, d), y = dlt_input(g, "y", DLT_I32, 1, l);
    dlt_t c = dlt_topk_correct(g, x, y, 1);
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 1, &c, NULL, &p), DLT_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(dlt_errmsg(), "hostdev backend has no kernel for topk_correct"), "%s", dlt_errmsg());
    dlt_graph_free(g);
    /* the layout is fixed once finalized: no moving a graph afterwards */
    g = dlt_graph_create(1);
    dlt_param(g, "w", 2, d, dlt_init_const(1));
    ck_assert_int_eq(dlt_graph_finalize(g, NULL, 0), DLT_OK);
    ck_assert_int_eq(dlt_graph_set_backend(g, &hostdev), DLT_ERR_INVALID);
    dlt_graph_free(g);
    ck_assert_int_eq(nallocs, 0);
}
END_TEST

/* ---------------------------------------------------------------- overlap */
/* Asynchronous runs and prefetching (dlt_exec_opts.async, dlt_plan_prefetch)
 * on five devices: the stand-in (every copy done at the call), the stand-in
 * without the overlap members (the core's fallback), and the late-running
 * device of lazydev.h with eager and with lazy transfers and without overlap
 * members. Every result must equal the CPU graph's plain loop bit for bit. */
enum { NDEV = 5, NSTEPS = 4, NB = 6, NCLS = 5, NPIX = 144 };
static const char *const dev_names[NDEV] = {"stand-in", "stand-in without overlap", "lazy, eager transfers",
                                            "lazy, lazy transfers", "lazy without overlap"};

static dlt_backend *open_dev(int i)
{
    static dlt_backend plain;
    if (i == 0)
        return &hostdev;
    if (i == 1) {
        plain = hostdev;
        plain.record = plain.wait_host = NULL;
        plain.prefetch = NULL;
        plain.join_prefetch = NULL;
        return &plain;
    }
    return lazydev_create(&hostdev, i == 2 ? LAZYDEV_EAGER_TRANSFER : i == 3 ? 0 : LAZYDEV_NO_OVERLAP);
}

static void close_dev(int i, dlt_backend *b)
{
    if (i >= 2) {
        ck_assert_msg(lazydev_early_releases(b) == 0, "%s: memory released under queued work", dev_names[i]);
        lazydev_destroy(b);
    }
    ck_assert_int_eq(nallocs, 0);
}

/* An MLP with dropout on a batch and its labels; the plan computes the loss
 * and the logits, gradients straight into the flat buffer. */
typedef struct {
    dlt_graph *g;
    dlt_plan *p;
    dlt_t x, y, logits, loss;
} net;

static void net_build(net *n, dlt_backend *be)
{
    dlt_model_spec s;
    n->g = dlt_graph_create(5);
    if (be)
        ck_assert_int_eq(dlt_graph_set_backend(n->g, be), DLT_OK);
    ck_assert_int_eq(dlt_model_spec_default("mlp", &s), DLT_OK);
    s.in_channels = 1, s.in_h = 12, s.in_w = 12, s.num_classes = NCLS, s.mlp_hidden = 24, s.dropout = 0.25f;
    int64_t xs[4] = {NB, 1, 12, 12}, ys[1] = {NB};
    n->x = dlt_input(n->g, "x", DLT_F32, 4, xs);
    n->y = dlt_input(n->g, "y", DLT_I32, 1, ys);
    n->logits = dlt_model_classifier(n->g, &s, n->x);
    n->loss = dlt_cross_entropy(n->g, n->logits, n->y, -100, 0, DLT_REDUCE_MEAN);
    int np;
    dlt_t *ps, *gs, outs[2] = {n->loss, n->logits};
    ck_assert_int_eq(dlt_grad_params(n->g, n->loss, &np, &ps, &gs), DLT_OK);
    dlt_plan_opts po = {.ngrads = np, .grad_params = ps, .grad_values = gs};
    ck_assert_msg(dlt_plan_create(n->g, 2, outs, &po, &n->p) == DLT_OK, "%s", dlt_errmsg());
    free(ps), free(gs);
}

static void net_free(net *n)
{
    dlt_plan_free(n->p);
    dlt_graph_free(n->g);
}

/* batch k into the plan's host staging */
static void feed(net *n, int k)
{
    float *x = dlt_plan_data(n->p, n->x);
    int32_t *y = dlt_plan_data(n->p, n->y);
    for (int i = 0; i < NB * NPIX; i++)
        x[i] = dlt_rng_uniform(9, (uint64_t)k, (uint64_t)i) * 2 - 1;
    for (int i = 0; i < NB; i++)
        y[i] = (int32_t)((i * 3 + k) % NCLS);
}

/* what a reader must never get: NaN pixels, labels out of range */
static void feed_garbage(net *n)
{
    memset(dlt_plan_data(n->p, n->x), 0xff, NB * NPIX * sizeof(float));
    int32_t *y = dlt_plan_data(n->p, n->y);
    for (int i = 0; i < NB; i++)
        y[i] = 1000;
}

static dlt_exec_opts step_opts(int k, int async)
{
    return (dlt_exec_opts){.training = 1, .step = k, .rng_stream = 1, .async = async};
}

/* p -= lr * grad, through the backend's scale and add on a device (queued
 * after the run like an optimizer step), the same arithmetic on the CPU */
static void sgd(net *n)
{
    dlt_backend *be = dlt_graph_get_backend(n->g);
    size_t np = dlt_params_numel(n->g);
    if (be) {
        ck_assert_int_eq(be->scale(be->ctx, dlt_grads_dev(n->g), -0.1, np), DLT_OK);
        ck_assert_int_eq(be->add(be->ctx, dlt_params_dev(n->g), dlt_grads_dev(n->g), np), DLT_OK);
        return;
    }
    float *p = dlt_params_data(n->g), *gr = dlt_grads_data(n->g);
    for (size_t i = 0; i < np; i++) {
        gr[i] = (float)(gr[i] * -0.1);
        p[i] += gr[i];
    }
}

typedef struct {
    float loss[NSTEPS], logits[NSTEPS][NB * NCLS];
    float *params;
    size_t np;
} trace;

static void record_outputs(net *n, trace *t, int k)
{
    t->loss[k] = *(float *)dlt_plan_data(n->p, n->loss);
    memcpy(t->logits[k], dlt_plan_data(n->p, n->logits), sizeof t->logits[k]);
}

static void record_params(net *n, trace *t)
{
    ck_assert_int_eq(dlt_graph_download(n->g, DLT_SYNC_PARAMS), DLT_OK);
    t->np = dlt_params_numel(n->g);
    t->params = malloc(t->np * sizeof(float));
    memcpy(t->params, dlt_params_data(n->g), t->np * sizeof(float));
}

/* The reference: the CPU graph, feed / run / read / step. */
static void plain_loop(trace *t)
{
    net n;
    net_build(&n, NULL);
    for (int k = 0; k < NSTEPS; k++) {
        feed(&n, k);
        dlt_exec_opts eo = step_opts(k, 0);
        ck_assert_int_eq(dlt_plan_run(n.p, &eo), DLT_OK);
        record_outputs(&n, t, k);
        sgd(&n);
    }
    record_params(&n, t);
    net_free(&n);
}

static void same_trace(const trace *a, const trace *b, const char *dev)
{
    for (int k = 0; k < NSTEPS; k++) {
        ck_assert_msg(a->loss[k] == b->loss[k], "%s step %d loss: cpu %.9g device %.9g", dev, k, a->loss[k],
                      b->loss[k]);
        ck_assert_msg(memcmp(a->logits[k], b->logits[k], sizeof a->logits[k]) == 0, "%s step %d logits", dev, k);
    }
    ck_assert_msg(isfinite(a->loss[NSTEPS - 1]) && a->loss[NSTEPS - 1] != a->loss[0], "the model trains");
    ck_assert_int_eq(a->np, b->np);
    ck_assert_msg(memcmp(a->params, b->params, a->np * sizeof(float)) == 0, "%s: parameters after the steps", dev);
}

/* On the late-running devices with overlap: how much is still queued. */
static void expect_queued(int dev, dlt_backend *be, int some, const char *when)
{
    if (dev == 2 || dev == 3)
        ck_assert_msg((lazydev_queued(be) > 0) == some, "%s: %s work queued %s", dev_names[dev],
                      some ? "some" : "no", when);
    else if (dev == 4) /* no events: runs are synchronous */
        ck_assert_msg(lazydev_queued(be) == 0, "%s: work queued %s", dev_names[dev], when);
}

/* (a) async runs: outputs after wait_outputs (the backward still queued),
 * everything after wait; the same numbers as synchronous runs. */
START_TEST(async_runs)
{
    trace ref, t;
    plain_loop(&ref);
    dlt_backend *be = open_dev(_i);
    net n;
    net_build(&n, be);
    for (int k = 0; k < NSTEPS; k++) {
        feed(&n, k);
        dlt_exec_opts eo = step_opts(k, 1);
        ck_assert_msg(dlt_plan_run(n.p, &eo) == DLT_OK, "%s", dlt_errmsg());
        expect_queued(_i, be, 1, "after an async run");
        ck_assert_int_eq(dlt_plan_wait_outputs(n.p), DLT_OK);
        expect_queued(_i, be, 1, "after wait_outputs (the backward)");
        record_outputs(&n, &t, k);
        ck_assert_int_eq(dlt_plan_wait(n.p), DLT_OK);
        expect_queued(_i, be, 0, "after wait");
        ck_assert_int_eq(dlt_plan_wait(n.p), DLT_OK); /* idempotent */
        sgd(&n);
    }
    record_params(&n, &t);
    same_trace(&ref, &t, dev_names[_i]);
    /* a run while one is pending waits for it first: one run queued at a time */
    dlt_exec_opts eo = step_opts(0, 1);
    ck_assert_int_eq(dlt_plan_run(n.p, &eo), DLT_OK);
    size_t one = _i == 2 || _i == 3 ? lazydev_queued(be) : 0;
    ck_assert_int_eq(dlt_plan_run(n.p, &eo), DLT_OK);
    if (_i == 2 || _i == 3)
        ck_assert_msg(lazydev_queued(be) == one, "%s: %zu operations queued after two runs, %zu after one",
                      dev_names[_i], lazydev_queued(be), one);
    net_free(&n);
    close_dev(_i, be);
    free(ref.params), free(t.params);
}
END_TEST

/* (b) a prefetched batch is the one the next run uses, whatever the host
 * staging holds by then; and a prefetch queued right behind an async run
 * leaves that run its own batch. */
START_TEST(prefetch_used)
{
    trace ref, t;
    plain_loop(&ref);
    dlt_backend *be = open_dev(_i);
    net n;
    net_build(&n, be);
    /* the CPU loop stepped between runs: so does this one; run 0 is queued
     * straight behind its prefetch (no wait in between) */
    feed(&n, 0);
    ck_assert_int_eq(dlt_plan_prefetch(n.p), DLT_OK);
    dlt_exec_opts eo = step_opts(0, 0);
    ck_assert_msg(dlt_plan_run(n.p, &eo) == DLT_OK, "%s", dlt_errmsg());
    record_outputs(&n, &t, 0);
    sgd(&n);
    /* the next run uploads the host staging again (no prefetch pending) */
    feed(&n, 1);
    eo = step_opts(1, 1);
    ck_assert_int_eq(dlt_plan_run(n.p, &eo), DLT_OK);
    ck_assert_int_eq(dlt_plan_wait_outputs(n.p), DLT_OK);
    record_outputs(&n, &t, 1);
    feed(&n, 2);
    ck_assert_int_eq(dlt_plan_prefetch(n.p), DLT_OK);
    ck_assert_int_eq(dlt_plan_wait(n.p), DLT_OK);
    feed_garbage(&n);
    sgd(&n);
    eo = step_opts(2, 1);
    ck_assert_int_eq(dlt_plan_run(n.p, &eo), DLT_OK);
    /* batch 3 prefetched while run 2 may not have taken batch 2 yet */
    if (be->wait_host)
        ck_assert_int_eq(be->wait_host(be->ctx, DLT_EV_PREFETCHED), DLT_OK); /* batch 2's copy is done */
    else
        ck_assert_int_eq(dlt_plan_wait(n.p), DLT_OK);
    feed(&n, 3);
    ck_assert_int_eq(dlt_plan_prefetch(n.p), DLT_OK);
    ck_assert_int_eq(dlt_plan_wait_outputs(n.p), DLT_OK);
    record_outputs(&n, &t, 2);
    ck_assert_int_eq(dlt_plan_wait(n.p), DLT_OK);
    feed_garbage(&n);
    sgd(&n);
    eo = step_opts(3, 0);
    ck_assert_int_eq(dlt_plan_run(n.p, &eo), DLT_OK);
    record_outputs(&n, &t, 3);
    sgd(&n);
    record_params(&n, &t);
    same_trace(&ref, &t, dev_names[_i]);
    net_free(&n);
    close_dev(_i, be);
    free(ref.params), free(t.params);
}
END_TEST

/* (c) the trainer's step: run k queued, its outputs read, batch k+1 written
 * and prefetched while the backward of k runs, then the rest of k waited for
 * and the parameters stepped. */
START_TEST(trainer_overlap)
{
    trace ref, t;
    plain_loop(&ref);
    dlt_backend *be = open_dev(_i);
    net n;
    net_build(&n, be);
    feed(&n, 0);
    for (int k = 0; k < NSTEPS; k++) {
        dlt_exec_opts eo = step_opts(k, 1);
        ck_assert_msg(dlt_plan_run(n.p, &eo) == DLT_OK, "%s", dlt_errmsg());
        ck_assert_int_eq(dlt_plan_wait_outputs(n.p), DLT_OK);
        expect_queued(_i, be, 1, "while the backward runs");
        record_outputs(&n, &t, k);
        if (k + 1 < NSTEPS) {
            feed(&n, k + 1);
            ck_assert_int_eq(dlt_plan_prefetch(n.p), DLT_OK);
        }
        ck_assert_int_eq(dlt_plan_wait(n.p), DLT_OK);
        expect_queued(_i, be, 0, "after wait");
        if (k + 1 < NSTEPS)
            feed_garbage(&n); /* the prefetched copy is what run k+1 uses */
        sgd(&n);
    }
    record_params(&n, &t);
    same_trace(&ref, &t, dev_names[_i]);
    net_free(&n);
    close_dev(_i, be);
    free(ref.params), free(t.params);
}
END_TEST

/* (d) freeing a plan with a run and a prefetch queued waits for them first
 * (the late devices count releases under queued work; ASan and the block
 * count see the rest); a CPU plan takes the calls as no-ops. */
START_TEST(free_pending)
{
    dlt_backend *be = open_dev(_i);
    net n;
    net_build(&n, be);
    feed(&n, 0);
    dlt_exec_opts eo = step_opts(0, 1);
    ck_assert_int_eq(dlt_plan_run(n.p, &eo), DLT_OK);
    feed(&n, 1); /* a misuse (the run may still read it): must not crash */
    ck_assert_int_eq(dlt_plan_prefetch(n.p), DLT_OK);
    dlt_plan_free(n.p);
    n.p = NULL;
    expect_queued(_i, be, 0, "after freeing the plan");
    dlt_graph_free(n.g);
    close_dev(_i, be);
    net_build(&n, NULL);
    ck_assert_int_eq(dlt_plan_prefetch(n.p), DLT_OK);
    ck_assert_int_eq(dlt_plan_wait_outputs(n.p), DLT_OK);
    ck_assert_int_eq(dlt_plan_wait(n.p), DLT_OK);
    net_free(&n);
}
END_TEST

/* Every graph has a backend: the CPU one unless another is set (NULL sets it
 * back). Its memory is host memory, so the graph keeps no mirrors and a plan
 * hands out its own storage; the run is the CPU kernels in order. */
START_TEST(cpu_is_a_backend)
{
    dlt_graph *g = dlt_graph_create(1);
    dlt_backend *cpu = dlt_cpu_backend();
    ck_assert_ptr_eq(dlt_graph_get_backend(g), cpu);
    ck_assert_int_eq(cpu->host_memory, 1);
    ck_assert_int_eq(dlt_graph_set_backend(g, &hostdev), DLT_OK);
    ck_assert_int_eq(dlt_graph_set_backend(g, NULL), DLT_OK);
    ck_assert_ptr_eq(dlt_graph_get_backend(g), cpu);
    int64_t d[2] = {2, 3};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, d), w = dlt_param(g, "w", 2, d, dlt_init_const(2));
    int ax[2] = {0, 1};
    dlt_t y = dlt_mul(g, x, w), loss = dlt_sum(g, y, 2, ax, 0);
    dlt_t gw;
    ck_assert_int_eq(dlt_grad(g, loss, 1, &w, &gw), DLT_OK);
    dlt_plan_opts po = {.ngrads = 1, .grad_params = &w, .grad_values = &gw};
    dlt_t outs[2] = {y, loss};
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 2, outs, &po, &p), DLT_OK);
    /* no mirrors: the device buffers are the host buffers */
    ck_assert_ptr_eq(dlt_params_dev(g), dlt_params_data(g));
    ck_assert_ptr_eq(dlt_grads_dev(g), dlt_grads_data(g));
    ck_assert_ptr_eq(dlt_plan_data(p, w), dlt_param_data(g, w));
    float *xs = dlt_plan_data(p, x);
    for (int i = 0; i < 6; i++)
        xs[i] = (float)i;
    ck_assert_int_eq(dlt_plan_prefetch(p), DLT_OK); /* nothing to stage */
    dlt_exec_opts eo = {.training = 1, .async = 1};
    ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    ck_assert_int_eq(dlt_plan_wait(p), DLT_OK);
    const float *ys = dlt_plan_data(p, y), *gr = dlt_grads_data(g);
    for (int i = 0; i < 6; i++) {
        ck_assert_float_eq(ys[i], 2.0f * (float)i);
        ck_assert_float_eq(gr[i], (float)i);
    }
    ck_assert_float_eq(*(const float *)dlt_plan_data(p, loss), 30.0f);
    char why[64];
    ck_assert_int_eq(dlt_plan_graphable(p, why, sizeof why), 0);
    /* graph moves are no-ops: the host data is the data */
    ck_assert_int_eq(dlt_graph_download(g, DLT_SYNC_ALL), DLT_OK);
    ck_assert_int_eq(dlt_graph_upload(g, DLT_SYNC_ALL), DLT_OK);
    ck_assert_float_eq(dlt_params_data(g)[0], 2.0f);
    /* the deterministic sum of squares the reducer and the clip share */
    double ss = -1;
    ck_assert_int_eq(cpu->sumsq(cpu->ctx, gr, 6, &ss), DLT_OK);
    ck_assert(ss == 55.0 && dlt_host_sumsq(gr, 6) == 55.0);
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

/* The clamp member (WGAN's weight clipping) of every backend in the tree
 * but the CUDA one (tests/gpu/test_gpu_core checks that against the CPU's):
 * the CPU backend (its threaded path too), the stand-in device and the lazy
 * device, against a naive loop: NaN kept (its payload too), infinities,
 * the bounds themselves and their neighbours, one-sided and inverted ranges
 * (lo > hi gives hi, as dlt_clamp). */
static float clamp_naive(float v, float lo, float hi)
{
    return isnan(v) ? v : fminf(fmaxf(v, lo), hi);
}

START_TEST(clamp_every_backend)
{
    static const float ranges[][2] = {{-0.01f, 0.01f}, {-INFINITY, 0.5f}, {-2.f, INFINITY}, {1.f, -1.f}, {3.f, 3.f}};
    enum { N = 70001 }; /* past the CPU backend's threading threshold */
    dlt_backend *lazy = lazydev_create(standin, 0);
    dlt_backend *bes[3] = {dlt_cpu_backend(), standin, lazy};
    dlt_backend *be = bes[_i];
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *dev = NULL;
    ck_assert_int_eq(be->alloc(be->ctx, N * sizeof *dev, (void **)&dev), DLT_OK);
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        float lo = ranges[r][0], hi = ranges[r][1];
        const float special[] = {NAN, -NAN, INFINITY, -INFINITY, lo, hi, nextafterf(lo, -INFINITY),
                                 nextafterf(lo, INFINITY), nextafterf(hi, -INFINITY), nextafterf(hi, INFINITY),
                                 0.f, -0.f, 1e-45f, FLT_MAX, -FLT_MAX};
        const int ns = (int)(sizeof special / sizeof special[0]);
        dlt_test_fill_uniform(x, N, -4, 4, 40 + r);
        for (int i = 0; i < ns; i++)
            x[i] = special[i];
        uint32_t payload = 0x7fc0beefu; /* a NaN with a payload */
        memcpy(&x[ns], &payload, sizeof payload);
        ck_assert_int_eq(be->upload(be->ctx, dev, x, N * sizeof *x), DLT_OK);
        ck_assert_int_eq(be->clamp(be->ctx, dev, lo, hi, N), DLT_OK);
        ck_assert_int_eq(be->download(be->ctx, y, dev, N * sizeof *y), DLT_OK);
        ck_assert_int_eq(be->sync(be->ctx), DLT_OK);
        for (int i = 0; i < N; i++) {
            float want = clamp_naive(x[i], lo, hi);
            if (isnan(want))
                ck_assert_msg(memcmp(&y[i], &x[i], sizeof y[i]) == 0, "%s [%d]: NaN not kept", be->name, i);
            else
                ck_assert_msg(y[i] == want, "%s [%d]: clamp(%g, %g, %g) = %g, want %g", be->name, i, (double)x[i],
                              (double)lo, (double)hi, (double)y[i], (double)want);
        }
    }
    be->release(be->ctx, dev);
    lazydev_destroy(lazy);
    free(x), free(y);
}
END_TEST

int main(void)
{
    /* the executor runs backend kernels with nthreads = 1; CPU results are
     * bitwise reproducible for a fixed thread count, so compare at one */
    dlt_set_num_threads(1);
    standin = dlt_standin_backend();
    hostdev = *standin;
    hostdev.name = "hostdev";
    hostdev.alloc = counted_alloc;
    hostdev.release = counted_release;
    hostdev.kernel = kernel_but_topk;
    Suite *s = suite_create("backend");
    TCase *tc = tcase_create("hostdev");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, resnet_bn_sgd);
    tcase_add_test(tc, resnet_lamb);
    tcase_add_test(tc, mlp_dropout_adamw_accumulate);
    tcase_add_test(tc, missing_kernel_refused);
    tcase_add_test(tc, cpu_is_a_backend);
    tcase_add_loop_test(tc, clamp_every_backend, 0, 3);
    suite_add_tcase(s, tc);
    TCase *ov = tcase_create("overlap");
    tcase_set_timeout(ov, 120);
    tcase_add_loop_test(ov, async_runs, 0, NDEV);
    tcase_add_loop_test(ov, prefetch_used, 0, NDEV);
    tcase_add_loop_test(ov, trainer_overlap, 0, NDEV);
    tcase_add_loop_test(ov, free_pending, 0, NDEV);
    suite_add_tcase(s, ov);
    return dlt_test_run(s);
}
