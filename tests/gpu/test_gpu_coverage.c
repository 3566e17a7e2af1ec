/* Every op the model zoo uses, forward and backward (and the second-order
 * ops of a gradient penalty), has a CUDA kernel: a model that trains on the
 * CPU can be placed on the GPU. Runs without a device (kernel tables only) in
 * CUDA builds; SKIP (77) in CPU-only builds. A new op without a GPU kernel
 * fails here, naming the op and the model that uses it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_gpu.h"
#include "dlt_models.h"
#include "dlt_opdef.h"
#include "dlt_ops.h"
#include "dlt_transformer.h"

static int missing;

/* the ops of every step of a plan for `outs` (sizes only: nothing allocated) */
static void check_plan(dlt_graph *g, const char *what, int n, const dlt_t *outs)
{
    dlt_plan *p;
    dlt_plan_opts po = {.measure_only = 1};
    if (dlt_graph_status(g) != DLT_OK || dlt_plan_create(g, n, outs, &po, &p) != DLT_OK) {
        printf("FAIL %s: cannot plan: %s %s\n", what, dlt_graph_errmsg(g), dlt_errmsg());
        missing++;
        return;
    }
    int nsteps = dlt_plan_num_steps(p), bad = 0;
    for (int i = 0; i < nsteps; i++) {
        const char *op = dlt_plan_step_op(p, i);
        if (!strcmp(op, "grad_copy") || !strcmp(op, "grad_add") || !strcmp(op, "reshape") ||
            !strcmp(op, "stop_gradient") || dlt_gpu_has_kernel(op))
            continue;
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= !strcmp(dlt_plan_step_op(p, j), op);
        if (!seen) {
            printf("FAIL %s: op '%s' (node '%s') has no CUDA kernel\n", what, op, dlt_plan_step_name(p, i));
            bad++;
        }
    }
    if (!bad)
        printf("ok   %s: %d steps, every op has a CUDA kernel\n", what, nsteps);
    missing += bad;
    dlt_plan_free(p);
}

/* loss and gradients of every parameter (and of the input when asked, with a
 * gradient-penalty term whose own gradient needs second-order ops) */
static void check_training(dlt_graph *g, const char *what, dlt_t loss, dlt_t x_for_penalty)
{
    int np;
    dlt_t *ps, *gs;
    if (x_for_penalty >= 0) {
        dlt_t gx;
        if (dlt_grad(g, loss, 1, &x_for_penalty, &gx) == DLT_OK) {
            dlt_t pen = dlt_sum(g, dlt_square(g, gx), 0, NULL, 0);
            loss = dlt_add(g, loss, pen);
        }
    }
    if (dlt_graph_status(g) != DLT_OK || dlt_grad_params(g, loss, &np, &ps, &gs) != DLT_OK) {
        printf("FAIL %s: %s %s\n", what, dlt_graph_errmsg(g), dlt_errmsg());
        missing++;
        return;
    }
    dlt_t *outs = malloc(((size_t)np + 1) * sizeof *outs);
    outs[0] = loss;
    memcpy(outs + 1, gs, (size_t)np * sizeof *gs);
    check_plan(g, what, np + 1, outs);
    free(outs), free(ps), free(gs);
}

static void classifier(const char *arch, int c, int hw, int penalty)
{
    dlt_model_spec s;
    dlt_graph *g = dlt_graph_create(1);
    char what[96];
    snprintf(what, sizeof what, "%s%s", arch, penalty ? " with a gradient penalty" : "");
    if (dlt_model_spec_default(arch, &s) != DLT_OK) {
        printf("FAIL %s: %s\n", arch, dlt_errmsg());
        missing++;
        dlt_graph_free(g);
        return;
    }
    s.in_channels = c, s.in_h = hw, s.in_w = hw;
    int64_t xs[4] = {2, c, hw, hw}, ys[1] = {2};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), y = dlt_input(g, "y", DLT_I32, 1, ys);
    dlt_t logits = dlt_model_classifier(g, &s, x);
    dlt_t loss = dlt_cross_entropy(g, logits, y, -100, 0.1f, DLT_REDUCE_MEAN);
    dlt_t correct = dlt_topk_correct(g, logits, y, 5 < s.num_classes ? 5 : 1);
    check_plan(g, what, 1, &correct);
    check_training(g, what, loss, penalty ? x : -1);
    dlt_graph_free(g);
}

static void transformer(const char *arch)
{
    dlt_transformer_spec s;
    dlt_graph *g = dlt_graph_create(1);
    if (dlt_transformer_spec_default(arch, &s) != DLT_OK) {
        printf("FAIL %s: %s\n", arch, dlt_errmsg());
        missing++;
        dlt_graph_free(g);
        return;
    }
    s.vocab = 50, s.max_len = 16;
    int64_t d[2] = {2, 8};
    dlt_t ids = dlt_input(g, "ids", DLT_I32, 2, d), labels = dlt_input(g, "labels", DLT_I32, 2, d);
    dlt_t loss;
    if (s.family == DLT_TF_GPT) {
        loss = dlt_causal_lm_loss(g, dlt_gpt(g, &s, ids, NULL), labels, DLT_REDUCE_MEAN);
    } else if (s.family == DLT_TF_BERT) {
        dlt_bert_out bo;
        int64_t b[1] = {2};
        dlt_t nsp = dlt_input(g, "nsp", DLT_I32, 1, b), lens = dlt_input(g, "lens", DLT_I32, 1, b);
        dlt_bert(g, &s, ids, -1, lens, DLT_BERT_PRETRAIN, &bo);
        loss = dlt_add(g, dlt_mlm_loss(g, bo.mlm_logits, labels, DLT_REDUCE_MEAN),
                       dlt_nsp_loss(g, bo.nsp_logits, nsp, DLT_REDUCE_MEAN));
    } else {
        loss = dlt_token_loss(g, dlt_seq2seq(g, &s, ids, -1, ids), labels, DLT_REDUCE_MEAN);
    }
    check_training(g, arch, loss, -1);
    dlt_graph_free(g);
}

int main(void)
{
    if (!dlt_gpu_built()) {
        printf("SKIP: built without CUDA\n");
        return 77;
    }
    if (dlt_gpu_has_kernel("no_such_op") || !dlt_gpu_has_kernel("conv2d")) {
        printf("FAIL: the kernel lookup itself is wrong\n");
        return 1;
    }
    classifier("mlp", 1, 28, 0);
    classifier("resnet20", 1, 28, 0);
    classifier("resnet18", 3, 32, 0);
    classifier("resnet50", 3, 64, 0);
    classifier("vgg11", 3, 32, 0);
    classifier("resnet20", 3, 32, 1); /* WGAN-GP style: gradients of gradients */
    transformer("bert-tiny");
    transformer("gpt-tiny");
    transformer("transformer-tiny");
    printf("%s\n", missing ? "some ops have no CUDA kernel" : "every op has a CUDA kernel");
    return missing ? 1 : 0;
}
