/* GPU norm kernels (src/gpu/k_norm.cu) against the CPU: batch norm in training
 * (batch statistics) and eval (running statistics) mode, layer norm, group and
 * instance norm, with and without gamma/beta, batch norm's fused epilogue
 * (relu, residual), with the saved statistics as
 * outputs, second order through norm_grad and through the norm_apply nodes
 * that recompute y for the backward, and the running statistics after
 * training steps. Exits 77 without a CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_gpu.h"
#include "dlt_opdef.h"
#include "gpu_check.h"

#define EPS 1e-5f
#define TOL 1e-5

enum { BN, LN, GN, IN };
typedef struct {
    int kind, ndim;
    int64_t dim[4];
    int arg;     /* groups (GN), number of normalised trailing dims (LN) */
    int affine;  /* gamma and beta */
    int running; /* BN: running buffers */
    int stats;   /* also return the saved mean and rstd */
    int second;  /* return d/dx (and d/dgamma) of sum(w * y^2) instead of y */
    int offset;  /* x in [50, 51): a large mean against the variance */
    int epi;     /* BN epilogue (dlt_batch_norm_act): 1 relu, 2 residual, 3 both */
} ncase;

static dlt_t norm_of(dlt_graph *g, const ncase *c, dlt_t x)
{
    int64_t pd[4], pn = 1;
    if (c->kind == LN) {
        pn = c->arg;
        for (int i = 0; i < pn; i++)
            pd[i] = c->dim[c->ndim - pn + i];
    } else {
        pd[0] = c->dim[1];
    }
    dlt_t gamma = -1, beta = -1, rm = -1, rv = -1;
    if (c->affine) {
        gamma = dlt_param(g, "gamma", (int)pn, pd, dlt_init_uniform(0.5, 1.5));
        beta = dlt_param(g, "beta", (int)pn, pd, dlt_init_uniform(-0.5, 0.5));
    }
    switch (c->kind) {
    case BN:
        if (c->running) {
            rm = dlt_buffer(g, "running_mean", 1, pd, dlt_init_uniform(-0.5, 0.5));
            rv = dlt_buffer(g, "running_var", 1, pd, dlt_init_uniform(0.5, 2.0));
        }
        if (c->epi) {
            dlt_t r = c->epi & 2 ? gc_input(g, "r", c->ndim, c->dim, -1.f, 1.f) : -1;
            return dlt_batch_norm_act(g, x, gamma, beta, rm, rv, 0.1f, EPS, r, c->epi & 1 ? DLT_ACT_RELU : DLT_ACT_NONE);
        }
        return dlt_batch_norm(g, x, gamma, beta, rm, rv, 0.1f, EPS);
    case LN:
        return dlt_layer_norm(g, x, (int)pn, pd, gamma, beta, EPS);
    case GN:
        return dlt_group_norm(g, x, c->arg, gamma, beta, EPS);
    default:
        return dlt_instance_norm(g, x, gamma, beta, EPS);
    }
}

static int build_norm(dlt_graph *g, dlt_t *outs, void *user)
{
    const ncase *c = user;
    dlt_t x = c->offset ? gc_input(g, "x_offset", c->ndim, c->dim, 50.f, 51.f)
                        : gc_input(g, "x", c->ndim, c->dim, -1.f, 3.f);
    dlt_t y = norm_of(g, c, x);
    if (y < 0)
        return 0;
    if (c->second) {
        /* y^2 so that the second derivative involves every statistic term */
        dlt_t w = gc_input(g, "w", c->ndim, c->dim, -1.f, 1.f);
        dlt_t L = dlt_sum(g, dlt_mul(g, dlt_mul(g, y, y), w), 0, NULL, 0);
        dlt_t wrt[2] = {x, c->affine ? dlt_param_lookup(g, "gamma") : -1}, gr[2];
        int nw = c->affine ? 2 : 1;
        if (dlt_grad(g, L, nw, wrt, gr) != DLT_OK)
            return 0;
        outs[0] = gr[0];
        if (nw == 2)
            outs[1] = gr[1];
        return nw;
    }
    outs[0] = y;
    if (!c->stats)
        return 1;
    outs[1] = dlt_node_output(g, y, 1);
    outs[2] = dlt_node_output(g, y, 2);
    return 3;
}

/* Second-order cases run other families' kernels too (reductions whose order
 * may differ from the CPU's), hence the looser tolerance. */
static void check(const char *name, const ncase *c, int eval)
{
    double tol = c->second ? 1e-4 : TOL;
    if (eval)
        gc_check_eval(name, build_norm, (void *)c, tol);
    else
        gc_check(name, build_norm, (void *)c, tol);
}

/* ---------------------------------------------------------------- running statistics
 * gc_check compares outputs and gradients only: here a graph with batch norm
 * runs two training steps and one eval step on the CPU and on the GPU; the
 * running buffers (after dlt_graph_download) and the eval output must agree. */
static int running_case(const char *name, const ncase *c)
{
    float *res[2] = {NULL, NULL};
    size_t nb = 0, ny = 0;
    int ok = 1;
    dlt_gpu *gpu = NULL;
    if (dlt_gpu_open(0, &gpu) != DLT_OK) {
        printf("FAIL %s: %s\n", name, dlt_errmsg());
        return 0;
    }
    ny = 1;
    for (int i = 0; i < c->ndim; i++)
        ny *= (size_t)c->dim[i];
    for (int side = 0; side < 2 && ok; side++) {
        dlt_graph *g = dlt_graph_create(99);
        dlt_plan *p = NULL;
        if (side && dlt_graph_set_backend(g, dlt_gpu_backend(gpu)) != DLT_OK) {
            ok = 0;
            dlt_graph_free(g);
            break;
        }
        dlt_t x = dlt_input(g, "x", DLT_F32, c->ndim, c->dim);
        dlt_t y = norm_of(g, c, x);
        if (y < 0 || dlt_plan_create(g, 1, &y, NULL, &p) != DLT_OK) {
            printf("  %s build/plan failed: %s\n", side ? "GPU" : "CPU",
                   y < 0 ? dlt_graph_errmsg(g) : dlt_errmsg());
            ok = 0;
            dlt_graph_free(g);
            break;
        }
        float *xd = dlt_plan_data(p, x);
        for (int step = 0; step < 3 && ok; step++) {
            for (size_t i = 0; i < ny; i++)
                xd[i] = 4 * dlt_rng_uniform(17, (uint64_t)step, i) - 1 + (float)step;
            dlt_exec_opts eo = {.training = step < 2, .step = step};
            ok = dlt_plan_run(p, &eo) == DLT_OK;
        }
        if (ok)
            ok = dlt_graph_download(g, DLT_SYNC_BUFFERS) == DLT_OK;
        if (!ok)
            printf("  %s run failed: %s\n", side ? "GPU" : "CPU", dlt_errmsg());
        nb = dlt_buffers_numel(g);
        res[side] = malloc((nb + ny) * sizeof(float));
        if (ok) {
            memcpy(res[side], dlt_buffers_data(g), nb * sizeof(float));
            memcpy(res[side] + nb, dlt_plan_data(p, y), ny * sizeof(float));
        }
        dlt_plan_free(p);
        dlt_graph_free(g);
    }
    double eb = 0, ey = 0;
    for (size_t i = 0; ok && i < nb + ny; i++) {
        double e = fabs((double)res[0][i] - res[1][i]) / fmax(1, fabs(res[0][i]));
        if (!(e <= (i < nb ? eb : ey)))
            *(i < nb ? &eb : &ey) = isnan(e) ? INFINITY : e;
    }
    ok = ok && eb <= TOL && ey <= TOL;
    printf("%s %s: running buffers %.2e, eval output %.2e\n", ok ? "ok  " : "FAIL", name, eb, ey);
    free(res[0]);
    free(res[1]);
    dlt_gpu_close(gpu);
    return ok;
}

/* ---------------------------------------------------------------- cases */
/* batch norm: NCHW and [N, C], S = 1 and S > 1, several parts per channel
 * (64*32*32 and 1000 rows), odd sizes, size-1 dims */
static const ncase bn_nchw = {BN, 4, {4, 3, 5, 7}, 0, 1, 1, 0, 0, 0, 0};
static const ncase bn_nc = {BN, 2, {37, 20}, 0, 1, 1, 0, 0, 0, 0};
static const ncase bn_big = {BN, 4, {64, 8, 32, 32}, 0, 1, 1, 0, 0, 0, 0};
static const ncase bn_rows = {BN, 2, {1000, 40}, 0, 1, 1, 0, 0, 0, 0};
static const ncase bn_plain = {BN, 4, {2, 5, 33, 17}, 0, 0, 0, 0, 0, 0, 0};
static const ncase bn_3d = {BN, 3, {3, 5, 7}, 0, 0, 1, 0, 0, 0, 0};
static const ncase bn_ones = {BN, 4, {5, 2, 1, 1}, 0, 1, 1, 0, 0, 0, 0};
static const ncase bn_wide = {BN, 2, {3, 1100}, 0, 1, 1, 0, 0, 0, 0};
static const ncase bn_stats = {BN, 4, {6, 4, 3, 3}, 0, 1, 1, 1, 0, 0, 0};
static const ncase bn_offset = {BN, 4, {8, 3, 9, 9}, 0, 1, 1, 0, 0, 1, 0};
static const ncase bn_second = {BN, 4, {4, 3, 5, 5}, 0, 1, 1, 0, 1, 0, 0};
static const ncase bn_second_nc = {BN, 2, {9, 6}, 0, 0, 1, 0, 1, 0, 0};
/* fused epilogue act(bn(x) + r): relu, residual, both; no affine (relu_grad
 * path); several parts per channel; second order through the epilogue */
static const ncase bn_relu = {BN, 4, {4, 3, 5, 7}, 0, 1, 1, 0, 0, 0, 1};
static const ncase bn_res = {BN, 4, {4, 3, 5, 7}, 0, 1, 1, 0, 0, 0, 2};
/* second order through a recomputed output (norm_apply and its rule: y is
 * read by the backward of y^2) */
static const ncase bn_relu_second = {BN, 4, {4, 3, 5, 5}, 0, 1, 1, 0, 1, 0, 1};
static const ncase bn_relu_second_plain = {BN, 2, {9, 6}, 0, 0, 1, 0, 1, 0, 1};
static const ncase bn_res_relu = {BN, 4, {4, 3, 5, 7}, 0, 1, 1, 0, 0, 0, 3};
static const ncase bn_res_relu_nc = {BN, 2, {37, 20}, 0, 1, 1, 0, 0, 0, 3};
static const ncase bn_res_relu_plain = {BN, 4, {2, 5, 3, 3}, 0, 0, 1, 0, 0, 0, 3};
static const ncase bn_res_relu_big = {BN, 4, {64, 8, 16, 16}, 0, 1, 1, 0, 0, 0, 3};
static const ncase bn_res_relu_second = {BN, 4, {4, 3, 5, 5}, 0, 1, 1, 0, 1, 0, 3};
/* layer norm over the last dim (odd widths) and the last two */
static const ncase ln_33 = {LN, 2, {7, 33}, 1, 1, 0, 0, 0, 0, 0};
static const ncase ln_768 = {LN, 3, {2, 5, 768}, 1, 1, 0, 0, 0, 0, 0};
static const ncase ln_1000 = {LN, 2, {3, 1000}, 1, 0, 0, 0, 0, 0, 0};
static const ncase ln_rows = {LN, 2, {300, 96}, 1, 1, 0, 0, 0, 0, 0};
static const ncase ln_two = {LN, 4, {2, 3, 4, 5}, 2, 1, 0, 0, 0, 0, 0};
static const ncase ln_one = {LN, 2, {1, 7}, 1, 1, 0, 0, 0, 0, 0};
static const ncase ln_big = {LN, 2, {5, 40000}, 1, 1, 0, 0, 0, 0, 0};
static const ncase ln_stats = {LN, 2, {6, 50}, 1, 1, 0, 1, 0, 0, 0};
static const ncase ln_offset = {LN, 2, {16, 129}, 1, 1, 0, 0, 0, 1, 0};
static const ncase ln_second = {LN, 2, {5, 33}, 1, 1, 0, 0, 1, 0, 0};
static const ncase ln_second_plain = {LN, 3, {2, 3, 17}, 1, 0, 0, 0, 1, 0, 0};
/* group norm: groups 1, 2, C; [N, C] input; instance norm */
static const ncase gn_1 = {GN, 4, {2, 6, 3, 5}, 1, 1, 0, 0, 0, 0, 0};
static const ncase gn_2 = {GN, 4, {2, 6, 3, 5}, 2, 1, 0, 0, 0, 0, 0};
static const ncase gn_c = {GN, 4, {2, 6, 3, 5}, 6, 1, 0, 0, 0, 0, 0};
static const ncase gn_plain = {GN, 4, {3, 6, 2, 2}, 3, 0, 0, 0, 0, 0, 0};
static const ncase gn_nc = {GN, 2, {4, 8}, 2, 1, 0, 0, 0, 0, 0};
static const ncase gn_big = {GN, 4, {4, 32, 16, 16}, 8, 1, 0, 0, 0, 0, 0};
static const ncase gn_stats = {GN, 3, {2, 4, 9}, 2, 1, 0, 1, 0, 0, 0};
static const ncase gn_second = {GN, 4, {2, 4, 3, 3}, 2, 1, 0, 0, 1, 0, 0};
static const ncase in_aff = {IN, 4, {2, 3, 4, 5}, 0, 1, 0, 0, 0, 0, 0};
static const ncase in_plain = {IN, 3, {1, 4, 9}, 0, 0, 0, 0, 0, 0, 0};
/* running statistics */
static const ncase run_nchw = {BN, 4, {4, 3, 5, 7}, 0, 1, 1, 0, 0, 0, 0};
static const ncase run_nc = {BN, 2, {300, 33}, 0, 0, 1, 0, 0, 0, 0};
static const ncase run_big = {BN, 4, {32, 5, 20, 20}, 0, 1, 1, 0, 0, 0, 0};

int main(void)
{
    if (!gc_init())
        return 77;
    check("batch_norm NCHW [4,3,5,7] train", &bn_nchw, 0);
    check("batch_norm NCHW [4,3,5,7] eval", &bn_nchw, 1);
    check("batch_norm [37,20] train", &bn_nc, 0);
    check("batch_norm [37,20] eval", &bn_nc, 1);
    check("batch_norm [64,8,32,32] train (parts)", &bn_big, 0);
    check("batch_norm [64,8,32,32] eval", &bn_big, 1);
    check("batch_norm [1000,40] train (parts)", &bn_rows, 0);
    check("batch_norm [1000,40] eval", &bn_rows, 1);
    check("batch_norm no affine, no running [2,5,33,17] train", &bn_plain, 0);
    check("batch_norm no affine, no running [2,5,33,17] eval (batch stats)", &bn_plain, 1);
    check("batch_norm no affine [3,5,7] train", &bn_3d, 0);
    check("batch_norm no affine [3,5,7] eval", &bn_3d, 1);
    check("batch_norm [5,2,1,1] train", &bn_ones, 0);
    check("batch_norm [5,2,1,1] eval", &bn_ones, 1);
    check("batch_norm [3,1100] train", &bn_wide, 0);
    check("batch_norm + mean, rstd train", &bn_stats, 0);
    check("batch_norm + mean, rstd eval", &bn_stats, 1);
    check("batch_norm x in [50,51) train", &bn_offset, 0);
    check("batch_norm second order train", &bn_second, 0);
    check("batch_norm second order eval", &bn_second, 1);
    check("batch_norm [9,6] second order train", &bn_second_nc, 0);
    check("batch_norm + relu train", &bn_relu, 0);
    check("batch_norm + relu eval", &bn_relu, 1);
    check("batch_norm + relu second order train", &bn_relu_second, 0);
    check("batch_norm + relu second order eval", &bn_relu_second, 1);
    check("batch_norm [9,6] no affine + relu second order train", &bn_relu_second_plain, 0);
    check("batch_norm + residual train", &bn_res, 0);
    check("batch_norm + residual, relu train", &bn_res_relu, 0);
    check("batch_norm + residual, relu eval", &bn_res_relu, 1);
    check("batch_norm [37,20] + residual, relu train", &bn_res_relu_nc, 0);
    check("batch_norm no affine + residual, relu train", &bn_res_relu_plain, 0);
    check("batch_norm [64,8,16,16] + residual, relu train (parts)", &bn_res_relu_big, 0);
    check("batch_norm + residual, relu second order train", &bn_res_relu_second, 0);
    check("batch_norm + residual, relu second order eval", &bn_res_relu_second, 1);

    check("layer_norm [7,33]", &ln_33, 0);
    check("layer_norm [2,5,768]", &ln_768, 0);
    check("layer_norm no affine [3,1000]", &ln_1000, 0);
    check("layer_norm [300,96] (parts)", &ln_rows, 0);
    check("layer_norm over [4,5] of [2,3,4,5]", &ln_two, 0);
    check("layer_norm [1,7]", &ln_one, 0);
    check("layer_norm [5,40000]", &ln_big, 0);
    check("layer_norm + mean, rstd", &ln_stats, 0);
    check("layer_norm x in [50,51)", &ln_offset, 0);
    check("layer_norm second order", &ln_second, 0);
    check("layer_norm no affine second order", &ln_second_plain, 0);

    check("group_norm G=1 [2,6,3,5]", &gn_1, 0);
    check("group_norm G=2 [2,6,3,5]", &gn_2, 0);
    check("group_norm G=C [2,6,3,5]", &gn_c, 0);
    check("group_norm G=3 no affine [3,6,2,2]", &gn_plain, 0);
    check("group_norm G=2 [4,8]", &gn_nc, 0);
    check("group_norm G=8 [4,32,16,16]", &gn_big, 0);
    check("group_norm + mean, rstd", &gn_stats, 0);
    check("group_norm second order", &gn_second, 0);
    check("instance_norm [2,3,4,5]", &in_aff, 0);
    check("instance_norm no affine [1,4,9]", &in_plain, 0);

    int ok = running_case("batch_norm running stats [4,3,5,7]", &run_nchw);
    ok &= running_case("batch_norm running stats [300,33] no affine", &run_nc);
    ok &= running_case("batch_norm running stats [32,5,20,20]", &run_big);
    return gc_finish() || !ok;
}
