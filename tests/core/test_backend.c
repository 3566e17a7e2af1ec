/* The device-backend path of the core without a GPU, on the library's
 * stand-in device (dlt_standin_backend: memory in separate host blocks filled
 * with garbage, never the host mirrors; the ops' CPU kernels). A graph placed
 * on it must train bit for bit like the same graph on the CPU: staging of inputs
 * and outputs, constants, gradient binding (direct, copied, accumulated),
 * buffers written by kernels (batch norm), evaluation plans, host mirrors after
 * download/upload, and the fused optimizer path (tiles, per-parameter
 * coefficients) through the backend's "optim_step" symbol. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_models.h"
#include "dlt_ops.h"
#include "dlt_optim.h"
#include "dlt_test.h"
#include "dlt_gpu.h"

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
    if (strcmp(op->name, "topk_correct") == 0)
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
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
