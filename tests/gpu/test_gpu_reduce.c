/* GPU reduce-family kernels (src/gpu/k_matmul.cu, k_reduce*.cu, k_softmax.cu,
 * k_metric.cu, k_loss*.cu) against the CPU: matmul (transposes, batches,
 * broadcast batch axes), sum/mean over any axes (the split and multi-pass
 * paths), broadcast_to, max (ties and NaN through a constant input), var,
 * softmax / log_softmax on any axis with first and second order,
 * cross_entropy (ignore_index, smoothing, every reduction, spatial, its HVP
 * through a gradient built in the case), every pointwise loss kind with first
 * and second order, topk_correct (ties, labels out of range). Exits 77
 * without a CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_gpu.h"
#include "dlt_opdef.h"
#include "gpu_check.h"

#define TOL 1e-5
#define TOL_MM 2e-5 /* long f32 dot products in a different summation order */

/* Input names carry their case tag: gc_input keeps the first range per name. */
static dlt_t in_f(dlt_graph *g, const char *tag, const char *name, int ndim, const int64_t *d,
                  float lo, float hi)
{
    char b[64];
    snprintf(b, sizeof b, "%s_%s", name, tag);
    return gc_input(g, b, ndim, d, lo, hi);
}

static dlt_t in_i(dlt_graph *g, const char *tag, const char *name, int ndim, const int64_t *d,
                  int lo, int hi)
{
    char b[64];
    snprintf(b, sizeof b, "%s_%s", name, tag);
    return gc_input_int(g, b, ndim, d, lo, hi);
}

/* A constant with ties and NaN: values k/4 for k in [-4, 4), NaN every 37th. */
static dlt_t tie_const(dlt_graph *g, int ndim, const int64_t *d, int nan)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= d[i];
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = dlt_rng_u64(99, 0, (uint64_t)i);
        v[i] = nan && r % 37 == 0 ? NAN : (float)((int)(r % 8) - 4) / 4.f;
    }
    dlt_t c = dlt_constant(g, DLT_F32, ndim, d, v);
    free(v);
    return c;
}

/* ---------------------------------------------------------------- matmul */
typedef struct {
    const char *tag;
    int na, nb;
    int64_t a[5], b[5];
    int ta, tb;
} mmcase;

static int build_mm(dlt_graph *g, dlt_t *outs, void *user)
{
    const mmcase *c = user;
    dlt_t a = in_f(g, c->tag, "a", c->na, c->a, -1, 1),
          b = in_f(g, c->tag, "b", c->nb, c->b, -1, 1);
    outs[0] = dlt_matmul(g, a, b, c->ta, c->tb);
    return 1;
}

static void test_matmul(void)
{
    static const mmcase cs[] = {
        {"nn", 2, 2, {37, 50}, {50, 29}, 0, 0},
        {"tn", 2, 2, {50, 37}, {50, 29}, 1, 0},
        {"nt", 2, 2, {37, 50}, {29, 50}, 0, 1},
        {"tt", 2, 2, {50, 37}, {29, 50}, 1, 1},
        {"batch", 3, 3, {3, 17, 33}, {3, 33, 20}, 0, 0},
        {"batch_tt", 3, 3, {3, 33, 17}, {3, 20, 33}, 1, 1},
        {"shared_b", 4, 2, {2, 5, 13, 7}, {7, 9}, 0, 0}, /* one GEMM over all rows */
        {"shared_bt", 4, 2, {2, 5, 13, 7}, {9, 7}, 0, 1},
        {"shared_b_ta", 3, 2, {4, 7, 13}, {7, 9}, 1, 0}, /* batched, b stride 0 */
        {"shared_a", 2, 3, {6, 8}, {5, 8, 3}, 0, 0},     /* a stride 0 */
        {"bcast", 4, 3, {4, 1, 6, 8}, {3, 8, 5}, 0, 0},  /* a host loop of batched calls */
        {"bcast_t", 4, 4, {1, 3, 8, 6}, {2, 1, 5, 8}, 1, 1},
        {"vec", 2, 2, {1, 64}, {64, 1}, 0, 0},
        {"k1", 3, 3, {2, 9, 1}, {2, 1, 11}, 0, 0},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "matmul %s", cs[i].tag);
        gc_check(name, build_mm, (void *)&cs[i], TOL_MM);
    }
}

/* The reduced-precision GEMMs (train.precision): within the rounding of their
 * inputs (bf16: 8 significant bits, f16 and tf32: 11), and visibly rounded
 * (a GEMM big enough for cuBLAS to take tensor cores). */
static void test_matmul_precision(void)
{
    static const mmcase c = {"prec", 2, 2, {192, 256}, {256, 160}, 0, 0};
    static const struct {
        dlt_precision p;
        const char *name;
        double tol;
    } modes[] = {{DLT_PREC_TF32, "tf32", 3e-3}, {DLT_PREC_BF16, "bf16", 1e-2}, {DLT_PREC_FP16, "fp16", 3e-3}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "matmul 192x256x160 in %s", modes[i].name);
        dlt_gpu_set_precision(gc_gpu(), modes[i].p);
        gc_check_lossy(name, build_mm, (void *)&c, modes[i].tol, 2e-5);
    }
    dlt_gpu_set_precision(gc_gpu(), DLT_PREC_FP32);
    gc_check("matmul 192x256x160 back in fp32", build_mm, (void *)&c, TOL_MM);
}

/* ---------------------------------------------------------------- sum, mean, broadcast_to */
typedef struct {
    const char *tag;
    int ndim;
    int64_t d[5];
    int naxes, axes[5], keepdim, mean;
} redcase;

static int build_sum(dlt_graph *g, dlt_t *outs, void *user)
{
    const redcase *c = user;
    dlt_t x = in_f(g, c->tag, "x", c->ndim, c->d, -1, 2);
    outs[0] = c->mean ? dlt_mean(g, x, c->naxes, c->axes, c->keepdim)
                      : dlt_sum(g, x, c->naxes, c->axes, c->keepdim);
    return 1;
}

static void test_sum(void)
{
    static const redcase cs[] = {
        {"all", 2, {1000, 37}, 0, {0}, 0, 0},          /* one long row, split */
        {"all_big", 1, {300001}, 0, {0}, 0, 1},        /* mean, split in 74 chunks */
        {"rows", 2, {300, 5}, 1, {-1}, 0, 0},          /* short rows: one thread each */
        {"rows_long", 2, {4, 5000}, 1, {1}, 1, 0},     /* a block per row */
        {"rows_mid", 2, {70, 333}, 1, {1}, 0, 1},      /* a warp per row */
        {"cols", 2, {513, 70}, 1, {0}, 0, 0},          /* columns, split */
        {"cols_big", 2, {20000, 3}, 1, {0}, 1, 0},     /* three columns, many chunks */
        {"bias", 4, {6, 7, 5, 9}, 3, {0, 2, 3}, 1, 0}, /* two passes */
        {"mixed", 4, {3, 4, 5, 6}, 2, {1, 3}, 0, 1},   /* two passes, kept between */
        {"size1", 3, {5, 1, 3}, 1, {1}, 0, 1},         /* only a size-1 axis: a copy */
        {"none", 3, {2, 1, 4}, 2, {0, 1}, 1, 0},
        {"alt", 5, {3, 2, 4, 3, 5}, 3, {0, 2, 4}, 0, 0}, /* three passes */
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s %s", cs[i].mean ? "mean" : "sum", cs[i].tag);
        gc_check(name, build_sum, (void *)&cs[i], TOL);
    }
}

static int build_bto(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    int64_t d[3] = {3, 1, 5}, t[4] = {2, 3, 4, 5};
    dlt_t x = gc_input(g, "x_bto", 3, d, -1, 1);
    dlt_shape s = dlt_shape_make(DLT_F32, 4, t);
    outs[0] = dlt_broadcast_to(g, x, &s);
    return 1;
}

/* ---------------------------------------------------------------- max, var */
static int build_max(dlt_graph *g, dlt_t *outs, void *user)
{
    const redcase *c = user;
    dlt_t x = in_f(g, c->tag, "x", c->ndim, c->d, -2, 2);
    outs[0] = c->mean ? dlt_min(g, x, c->naxes, c->axes, c->keepdim)
                      : dlt_max(g, x, c->naxes, c->axes, c->keepdim);
    return 1;
}

/* Ties and NaN: the gradient of sum(max(x) * s) with respect to x (max_grad)
 * shows which element each group picked; the harness differentiates that
 * with respect to s (max_pick). */
static int build_max_ties(dlt_graph *g, dlt_t *outs, void *user)
{
    const redcase *c = user;
    dlt_t x = tie_const(g, c->ndim, c->d, 1);
    dlt_t m = dlt_max(g, x, c->naxes, c->axes, 1);
    dlt_t s = in_f(g, c->tag, "s", c->ndim, dlt_shape_of(g, m)->dim, -1, 1);
    dlt_t L = dlt_sum(g, dlt_mul(g, m, s), 0, NULL, 0), gx;
    if (dlt_grad(g, L, 1, &x, &gx) != DLT_OK)
        return 0;
    outs[0] = m;
    outs[1] = gx;
    return 2;
}

static int build_var(dlt_graph *g, dlt_t *outs, void *user)
{
    const redcase *c = user;
    dlt_t x = in_f(g, c->tag, "x", c->ndim, c->d, -1, 3);
    outs[0] = dlt_var(g, x, c->naxes, c->axes, c->mean, c->keepdim); /* mean: the correction */
    return 1;
}

static void test_max_var(void)
{
    static const redcase mx[] = {
        {"mid", 3, {7, 33, 5}, 1, {1}, 0, 0},   {"last", 2, {40, 100}, 1, {-1}, 1, 0},
        {"all", 1, {3000}, 0, {0}, 0, 0},       {"outer", 3, {4, 6, 50}, 2, {0, 2}, 1, 0},
        {"first", 2, {64, 1100}, 1, {0}, 0, 0}, /* groups along the outer axis: a thread each */
        {"min", 3, {5, 9, 3}, 1, {2}, 0, 1},
    };
    for (size_t i = 0; i < sizeof mx / sizeof mx[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s %s", mx[i].mean ? "min" : "max", mx[i].tag);
        gc_check(name, build_max, (void *)&mx[i], TOL);
    }
    static const redcase ties[] = {
        {"ties_last", 2, {30, 20}, 1, {1}, 0, 0},
        {"ties_mid", 3, {4, 40, 3}, 1, {1}, 0, 0},
        {"ties_two", 3, {5, 6, 7}, 2, {0, 2}, 0, 0},
        {"ties_block", 2, {3, 5000}, 1, {1}, 0, 0},
    };
    for (size_t i = 0; i < sizeof ties / sizeof ties[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "max %s", ties[i].tag);
        gc_check(name, build_max_ties, (void *)&ties[i], 0);
    }
    static const redcase vr[] = {
        {"mid", 3, {6, 40, 3}, 1, {1}, 0, 1},
        {"all", 2, {50, 61}, 0, {0}, 0, 0},
        {"last", 2, {8, 3000}, 1, {1}, 1, 1},
        {"two", 3, {5, 6, 7}, 2, {0, 2}, 1, 2},
    };
    for (size_t i = 0; i < sizeof vr / sizeof vr[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "var %s", vr[i].tag);
        gc_check(name, build_var, (void *)&vr[i], TOL);
    }
}

/* ---------------------------------------------------------------- softmax */
typedef struct {
    const char *tag;
    int ndim;
    int64_t d[4];
    int axis, log_form, second;
} smcase;

static int build_sm(dlt_graph *g, dlt_t *outs, void *user)
{
    const smcase *c = user;
    dlt_t x = in_f(g, c->tag, "x", c->ndim, c->d, -4, 4);
    dlt_t y = c->log_form ? dlt_log_softmax(g, x, c->axis) : dlt_softmax(g, x, c->axis);
    if (!c->second) {
        outs[0] = y;
        return 1;
    }
    /* d/dx of sum(w * y^2): softmax_grad's own gradient rule runs backward */
    dlt_t w = in_f(g, c->tag, "w", c->ndim, c->d, -1, 1);
    dlt_t L = dlt_sum(g, dlt_mul(g, dlt_mul(g, y, y), w), 0, NULL, 0), gx;
    if (dlt_grad(g, L, 1, &x, &gx) != DLT_OK)
        return 0;
    outs[0] = gx;
    return 1;
}

static void test_softmax(void)
{
    static const smcase cs[] = {
        {"last", 2, {37, 100}, -1, 0, 0},      {"mid", 3, {4, 7, 9}, 1, 0, 0},
        {"first", 3, {5, 3, 4}, 0, 0, 0},      {"long", 2, {3, 3000}, 1, 0, 0},
        {"one", 2, {6, 1}, 1, 0, 0},           {"log_last", 2, {37, 100}, -1, 1, 0},
        {"log_mid", 4, {2, 6, 5, 3}, 1, 1, 0}, {"log_long", 2, {2, 5000}, -1, 1, 0},
        {"second", 2, {9, 40}, -1, 0, 1},      {"second_mid", 3, {3, 5, 4}, 1, 0, 1},
        {"log_second", 2, {9, 40}, -1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s %s", cs[i].log_form ? "log_softmax" : "softmax", cs[i].tag);
        gc_check(name, build_sm, (void *)&cs[i], TOL);
    }
}

/* ---------------------------------------------------------------- cross_entropy */
typedef struct {
    const char *tag;
    int ndim;
    int64_t d[4];
    int lab_lo, ignore, red, second;
    float smooth;
} cecase;

static int build_ce(dlt_graph *g, dlt_t *outs, void *user)
{
    const cecase *c = user;
    int64_t ld[3];
    ld[0] = c->d[0];
    for (int i = 2; i < c->ndim; i++)
        ld[i - 1] = c->d[i];
    dlt_t z = in_f(g, c->tag, "z", c->ndim, c->d, -3, 3);
    dlt_t lab = in_i(g, c->tag, "lab", c->ndim - 1, ld, c->lab_lo, (int)c->d[1] - 1);
    dlt_t L = dlt_cross_entropy(g, z, lab, c->ignore, c->smooth, (dlt_reduction)c->red);
    if (!c->second) {
        outs[0] = L;
        return 1;
    }
    /* the gradient as an output: the harness differentiates cross_entropy_grad
     * (its dy input and, through cross_entropy_hvp, the logits) */
    dlt_t s = L;
    if (c->red == DLT_REDUCE_NONE)
        s = dlt_sum(g, dlt_mul(g, L, in_f(g, c->tag, "w", c->ndim - 1, ld, -1, 1)), 0, NULL, 0);
    dlt_t gz;
    if (dlt_grad(g, s, 1, &z, &gz) != DLT_OK)
        return 0;
    outs[0] = L;
    outs[1] = gz;
    return 2;
}

static void test_ce(void)
{
    static const cecase cs[] = {
        {"mean", 2, {37, 10}, 0, -100, DLT_REDUCE_MEAN, 0, 0.f},
        {"sum", 2, {37, 10}, 0, -100, DLT_REDUCE_SUM, 0, 0.f},
        {"none", 2, {37, 10}, 0, -100, DLT_REDUCE_NONE, 0, 0.f},
        {"ignore", 2, {41, 12}, -1, -1, DLT_REDUCE_MEAN, 0, 0.f},
        {"ignore_in_range", 2, {41, 12}, 0, 3, DLT_REDUCE_MEAN, 0, 0.f},
        {"smooth", 2, {29, 100}, 0, -100, DLT_REDUCE_MEAN, 0, 0.1f},
        {"smooth_ignore", 2, {29, 100}, -1, -1, DLT_REDUCE_SUM, 0, 0.2f},
        {"spatial", 4, {4, 5, 3, 7}, -1, -1, DLT_REDUCE_MEAN, 0, 0.f},
        {"spatial_none", 3, {3, 6, 11}, 0, -100, DLT_REDUCE_NONE, 0, 0.05f},
        {"vocab", 2, {8, 5000}, 0, -100, DLT_REDUCE_MEAN, 0, 0.f},
        {"many", 2, {9000, 33}, -1, -1, DLT_REDUCE_MEAN, 0, 0.f}, /* more blocks than partials */
        {"hvp_mean", 2, {13, 50}, -1, -1, DLT_REDUCE_MEAN, 1, 0.1f},
        {"hvp_sum", 3, {3, 6, 5}, 0, -100, DLT_REDUCE_SUM, 1, 0.f},
        {"hvp_none", 2, {13, 7}, -1, -1, DLT_REDUCE_NONE, 1, 0.3f},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "cross_entropy %s", cs[i].tag);
        gc_check(name, build_ce, (void *)&cs[i], TOL);
    }
}

/* ---------------------------------------------------------------- pointwise losses */
enum { L_SL1, L_L1, L_HUBER, L_BCE, L_BCE_PW, L_KL };
typedef struct {
    const char *tag;
    int kind, red, second;
    float beta;
} pwcase;

static int build_pw(dlt_graph *g, dlt_t *outs, void *user)
{
    const pwcase *c = user;
    int64_t d[3] = {6, 7, 9};
    int kl = c->kind == L_KL, bce = c->kind == L_BCE || c->kind == L_BCE_PW;
    dlt_t x = in_f(g, c->tag, "x", 3, d, kl ? -3.f : -2.f, kl ? 0.f : 2.f);
    dlt_t t = in_f(g, c->tag, "t", 3, d, bce || kl ? 0.f : -2.f, bce || kl ? 1.f : 2.f);
    dlt_reduction r = (dlt_reduction)c->red;
    dlt_t L;
    switch (c->kind) {
    case L_SL1:
        L = dlt_smooth_l1_loss(g, x, t, c->beta, r);
        break;
    case L_L1:
        L = dlt_l1_loss(g, x, t, r);
        break;
    case L_HUBER:
        L = dlt_huber_loss(g, x, t, c->beta, r);
        break;
    case L_BCE:
        L = dlt_bce_with_logits(g, x, t, -1, r);
        break;
    case L_BCE_PW: {
        int64_t pd[1] = {9};
        L = dlt_bce_with_logits(g, x, t, in_f(g, c->tag, "p", 1, pd, 0.5f, 3.f), r);
        break;
    }
    default:
        L = dlt_kl_div(g, x, t, r);
    }
    if (!c->second) {
        outs[0] = L;
        return 1;
    }
    dlt_t s = c->red == DLT_REDUCE_NONE
                  ? dlt_sum(g, dlt_mul(g, L, in_f(g, c->tag, "w", 3, d, -1, 1)), 0, NULL, 0)
                  : L;
    dlt_t gr[2], wrt[2] = {x, t};
    if (dlt_grad(g, s, 2, wrt, gr) != DLT_OK)
        return 0;
    outs[0] = gr[0];
    outs[1] = gr[1];
    return 2;
}

static void test_pw(void)
{
    static const pwcase cs[] = {
        {"smooth_l1", L_SL1, DLT_REDUCE_MEAN, 0, 0.7f},
        {"smooth_l1_none", L_SL1, DLT_REDUCE_NONE, 0, 1.5f},
        {"l1", L_L1, DLT_REDUCE_SUM, 0, 0.f},
        {"huber", L_HUBER, DLT_REDUCE_MEAN, 0, 0.8f},
        {"bce", L_BCE, DLT_REDUCE_MEAN, 0, 0.f},
        {"bce_pw", L_BCE_PW, DLT_REDUCE_SUM, 0, 0.f},
        {"kl", L_KL, DLT_REDUCE_BATCHMEAN, 0, 0.f},
        {"kl_none", L_KL, DLT_REDUCE_NONE, 0, 0.f},
        {"smooth_l1_2nd", L_SL1, DLT_REDUCE_MEAN, 1, 0.7f},
        {"bce_2nd", L_BCE, DLT_REDUCE_NONE, 1, 0.f},
        {"bce_pw_2nd", L_BCE_PW, DLT_REDUCE_MEAN, 1, 0.f},
        {"kl_2nd", L_KL, DLT_REDUCE_SUM, 1, 0.f},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "pointwise_loss %s", cs[i].tag);
        gc_check(name, build_pw, (void *)&cs[i], TOL);
    }
}

/* ---------------------------------------------------------------- topk_correct */
typedef struct {
    const char *tag;
    int ndim;
    int64_t d[4];
    int k, fraction;
} tkcase;

/* logits: a constant with ties (no gradient flows into a metric) */
static int build_topk(dlt_graph *g, dlt_t *outs, void *user)
{
    const tkcase *c = user;
    int64_t ld[3];
    ld[0] = c->d[0];
    for (int i = 2; i < c->ndim; i++)
        ld[i - 1] = c->d[i];
    dlt_t z = tie_const(g, c->ndim, c->d, 0);
    dlt_t lab = in_i(g, c->tag, "lab", c->ndim - 1, ld, -1, (int)c->d[1]); /* -1 and C: wrong */
    outs[0] = c->fraction ? dlt_topk_accuracy(g, z, lab, c->k) : dlt_topk_correct(g, z, lab, c->k);
    return 1;
}

static void test_topk(void)
{
    static const tkcase cs[] = {
        {"top1", 2, {50, 10}, 1, 0},        {"top3_frac", 2, {50, 10}, 3, 1},
        {"spatial", 4, {3, 6, 4, 5}, 2, 1}, {"wide", 2, {70, 100}, 5, 0},
        {"vocab", 2, {9, 5000}, 1, 1},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "topk_correct %s", cs[i].tag);
        gc_check(name, build_topk, (void *)&cs[i], 0);
    }
}

int main(void)
{
    if (!gc_init())
        return 77;
    test_matmul();
    test_matmul_precision();
    test_sum();
    gc_check("broadcast_to", build_bto, NULL, TOL);
    test_max_var();
    test_softmax();
    test_ce();
    test_pw();
    test_topk();
    return gc_finish();
}
