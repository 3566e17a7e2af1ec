/* Losses and metrics: forward against naive double loops, first and second
 * order gradients against finite differences, PyTorch cross-entropy fixtures
 * (ignore_index, label smoothing), hand-computed metrics, argument errors. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

/* ---------------------------------------------------------------- cross-entropy */
typedef struct {
    int ndim;
    int64_t dim[4];
    int ignore;
    float smooth;
    dlt_reduction red;
} cecase;

static const cecase cec[] = {
    {2, {1, 3}, -100, 0.0f, DLT_REDUCE_MEAN},      {2, {5, 7}, 2, 0.1f, DLT_REDUCE_MEAN},
    {2, {6, 4}, -1, 0.3f, DLT_REDUCE_SUM},         {4, {3, 4, 2, 3}, 1, 0.2f, DLT_REDUCE_MEAN},
    {3, {2, 5, 3}, 0, 0.0f, DLT_REDUCE_NONE},      {2, {4, 9}, -100, 0.05f, DLT_REDUCE_NONE},
};
#define NCE ((int)(sizeof cec / sizeof cec[0]))

typedef struct {
    dlt_graph *g;
    dlt_t z, lab, y;
    int64_t N, C, P;
    float *zd;
    int32_t *ld;
} cenet;

static cenet ce_build(const cecase *c, uint64_t seed)
{
    cenet n;
    n.g = dlt_graph_create(seed);
    n.N = c->dim[0], n.C = c->dim[1], n.P = 1;
    int64_t ld[3];
    ld[0] = n.N;
    for (int i = 2; i < c->ndim; i++)
        n.P *= c->dim[i], ld[i - 1] = c->dim[i];
    n.z = dlt_input(n.g, "logits", DLT_F32, c->ndim, c->dim);
    n.lab = dlt_input(n.g, "labels", DLT_I32, c->ndim - 1, ld);
    n.y = dlt_cross_entropy(n.g, n.z, n.lab, c->ignore, c->smooth, c->red);
    ck_assert_msg(n.y >= 0, "%s", dlt_graph_errmsg(n.g));
    int64_t nz = n.N * n.C * n.P;
    n.zd = malloc((size_t)nz * sizeof(float));
    n.ld = malloc((size_t)(n.N * n.P) * sizeof(int32_t));
    dlt_test_fill_uniform(n.zd, (size_t)nz, -3, 3, seed);
    float *u = malloc((size_t)(n.N * n.P) * sizeof(float));
    dlt_test_fill_uniform(u, (size_t)(n.N * n.P), 0, (float)n.C, seed + 1);
    for (int64_t i = 0; i < n.N * n.P; i++)
        n.ld[i] = (int32_t)u[i];
    if (n.N * n.P > 1) /* at least one ignored position, one kept */
        n.ld[n.N * n.P - 1] = c->ignore;
    if (n.ld[0] == c->ignore)
        n.ld[0] = (c->ignore + 1) % (int32_t)n.C;
    free(u);
    return n;
}

static void ce_free(cenet *n)
{
    free(n->zd), free(n->ld);
    dlt_graph_free(n->g);
}

static void ce_ref(const cecase *c, const cenet *n, float *out)
{
    double tot = 0;
    int64_t cnt = 0;
    for (int64_t i = 0; i < n->N * n->P; i++) {
        const float *z = n->zd + (i / n->P) * n->C * n->P + i % n->P;
        double v = 0;
        if (n->ld[i] != c->ignore) {
            double m = -1e30, s = 0, all = 0;
            for (int64_t k = 0; k < n->C; k++)
                m = fmax(m, z[k * n->P]);
            for (int64_t k = 0; k < n->C; k++)
                s += exp(z[k * n->P] - m);
            double lse = m + log(s);
            for (int64_t k = 0; k < n->C; k++)
                all += lse - z[k * n->P];
            v = (1 - c->smooth) * (lse - z[n->ld[i] * n->P]) + c->smooth * all / (double)n->C;
            cnt++;
        }
        if (c->red == DLT_REDUCE_NONE)
            out[i] = (float)v;
        tot += v;
    }
    if (c->red != DLT_REDUCE_NONE)
        out[0] = (float)(c->red == DLT_REDUCE_MEAN ? tot / (double)cnt : tot);
}

START_TEST(cross_entropy_matches_naive)
{
    const cecase *c = &cec[_i];
    cenet n = ce_build(c, 10 + (uint64_t)_i);
    int64_t ny = c->red == DLT_REDUCE_NONE ? n.N * n.P : 1;
    float *y = malloc((size_t)ny * sizeof(float)), *ref = malloc((size_t)ny * sizeof(float));
    dlt_t ins[2] = {n.z, n.lab};
    dlt_gc_feed f = {2, ins, (const void *[]){n.zd, n.ld}, 1};
    dlt_test_eval(n.g, n.y, &f, y);
    ce_ref(c, &n, ref);
    /* log-sum-exp in double in both; only the f32 output rounding differs */
    ck_assert_double_le(dlt_test_max_relerr(y, ref, (size_t)ny, 1e-3), 1e-6);
    free(y), free(ref);
    ce_free(&n);
}
END_TEST

/* eps = 1e-3 on logits in [-3, 3]: truncation O(eps^2 * 3rd derivative) ~1e-6,
 * f32 loss rounding ~1e-7 * |L| / 2e-3 ~ 1e-4 absolute for |L| ~ 5. */
START_TEST(cross_entropy_gradients)
{
    const cecase *c = &cec[_i];
    cenet n = ce_build(c, 20 + (uint64_t)_i);
    dlt_t ins[2] = {n.z, n.lab};
    dlt_gc_feed f = {2, ins, (const void *[]){n.zd, n.ld}, 1};
    double an, nu;
    dlt_test_gradcheck(n.g, n.y, 1, &n.z, &f, 1e-3, 3, &an, &nu);
    dlt_test_assert_close("cross_entropy", an, nu, 2e-3, 3e-4);
    /* second order: the logits gradient of sum(y^2) (so dy varies) */
    dlt_t s = dlt_sum(n.g, dlt_mul(n.g, n.y, n.y), 0, NULL, 0), gz;
    ck_assert_int_eq(dlt_grad(n.g, s, 1, &n.z, &gz), DLT_OK);
    dlt_test_gradcheck(n.g, gz, 1, &n.z, &f, 1e-3, 4, &an, &nu);
    dlt_test_assert_close("cross_entropy 2nd order", an, nu, 3e-3, 3e-4);
    ce_free(&n);
}
END_TEST

/* ---------------------------------------------------------------- PyTorch fixtures */
START_TEST(cross_entropy_matches_torch)
{
    static const struct {
        const char *grp;
        int ndim;
        int64_t dim[3];
        int ignore;
        float smooth;
        dlt_reduction red;
    } fx[] = {{"ce1", 2, {7, 5}, -100, 0.1f, DLT_REDUCE_MEAN},
              {"ce2", 3, {2, 4, 3}, 2, 0.2f, DLT_REDUCE_MEAN},
              {"ce3", 2, {5, 6}, -100, 0.0f, DLT_REDUCE_SUM}};
    char nm[64];
    hid_t f = dlt_test_fixture_open("norm_fixtures.h5");
    for (int k = 0; k < 3; k++) {
        int64_t nz = 1, ld[2] = {fx[k].dim[0], fx[k].dim[2]};
        for (int i = 0; i < fx[k].ndim; i++)
            nz *= fx[k].dim[i];
        int64_t nl = nz / fx[k].dim[1];
        float *z = malloc((size_t)nz * sizeof *z), *dz = malloc((size_t)nz * sizeof *dz), loss;
        int32_t *lab = malloc((size_t)nl * sizeof *lab);
        snprintf(nm, sizeof nm, "%s/logits", fx[k].grp);
        dlt_test_h5_read(f, nm, H5T_NATIVE_FLOAT, z, (size_t)nz);
        snprintf(nm, sizeof nm, "%s/labels", fx[k].grp);
        dlt_test_h5_read(f, nm, H5T_NATIVE_INT32, lab, (size_t)nl);
        snprintf(nm, sizeof nm, "%s/loss", fx[k].grp);
        dlt_test_h5_read(f, nm, H5T_NATIVE_FLOAT, &loss, 1);
        snprintf(nm, sizeof nm, "%s/dlogits", fx[k].grp);
        dlt_test_h5_read(f, nm, H5T_NATIVE_FLOAT, dz, (size_t)nz);
        dlt_graph *g = dlt_graph_create(1);
        dlt_t zi = dlt_input(g, "logits", DLT_F32, fx[k].ndim, fx[k].dim);
        dlt_t li = dlt_input(g, "labels", DLT_I32, fx[k].ndim - 1, ld);
        dlt_t y = dlt_cross_entropy(g, zi, li, fx[k].ignore, fx[k].smooth, fx[k].red), gz;
        ck_assert_int_eq(dlt_grad(g, y, 1, &zi, &gz), DLT_OK);
        dlt_t outs[2] = {y, gz};
        dlt_plan *p;
        ck_assert_int_eq(dlt_plan_create(g, 2, outs, NULL, &p), DLT_OK);
        memcpy(dlt_plan_data(p, zi), z, (size_t)nz * sizeof *z);
        memcpy(dlt_plan_data(p, li), lab, (size_t)nl * sizeof *lab);
        ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
        /* 1e-5 relative; gradients of ignored rows are exactly 0 in both, and
         * the floor 1e-3 covers softmax entries that cancel against q */
        double e0 = dlt_test_max_relerr(dlt_plan_data(p, y), &loss, 1, 1e-3);
        double e1 = dlt_test_max_relerr(dlt_plan_data(p, gz), dz, (size_t)nz, 1e-3);
        ck_assert_msg(e0 <= 1e-5 && e1 <= 1e-5, "%s: loss error %g, gradient error %g", fx[k].grp, e0, e1);
        dlt_plan_free(p);
        dlt_graph_free(g);
        free(z), free(dz), free(lab);
    }
    H5Fclose(f);
}
END_TEST

/* ---------------------------------------------------------------- pointwise losses */
enum { L_MSE, L_L1, L_SL1, L_SL1_0, L_HUBER, L_BCE, L_BCE_PW, L_KL, NLOSS };
static const char *lname[NLOSS] = {"mse", "l1", "smooth_l1", "smooth_l1 beta 0", "huber", "bce", "bce pos_weight",
                                   "kl_div"};
#define BETA 0.5f
#define DELTA 1.5f

static double pw_ref(int kind, double x, double t, double p)
{
    double d = x - t, a = fabs(d);
    switch (kind) {
    case L_MSE:
        return d * d;
    case L_L1:
    case L_SL1_0:
        return a;
    case L_SL1:
        return a < BETA ? 0.5 * d * d / BETA : a - 0.5 * BETA;
    case L_HUBER:
        return a < DELTA ? 0.5 * d * d : DELTA * (a - 0.5 * DELTA);
    case L_BCE:
    case L_BCE_PW: {
        double s = 1 / (1 + exp(-x));
        return -(p * t * log(s) + (1 - t) * log(1 - s));
    }
    default:
        return t > 0 ? t * (log(t) - x) : 0;
    }
}

typedef struct {
    dlt_graph *g;
    dlt_t x, t, pw, y;
    float xd[3 * 5], td[3 * 5];
} pwnet;

#define PR 3
#define PC 5

static pwnet pw_build(int kind, dlt_reduction red, uint64_t seed)
{
    pwnet n;
    int64_t d[2] = {PR, PC}, pd[1] = {PC};
    n.g = dlt_graph_create(seed);
    n.x = dlt_input(n.g, "x", DLT_F32, 2, d);
    n.t = dlt_input(n.g, "t", DLT_F32, 2, d);
    n.pw = -1;
    switch (kind) {
    case L_MSE:
        n.y = dlt_mse_loss(n.g, n.x, n.t, red);
        break;
    case L_L1:
        n.y = dlt_l1_loss(n.g, n.x, n.t, red);
        break;
    case L_SL1:
        n.y = dlt_smooth_l1_loss(n.g, n.x, n.t, BETA, red);
        break;
    case L_SL1_0:
        n.y = dlt_smooth_l1_loss(n.g, n.x, n.t, 0.f, red);
        break;
    case L_HUBER:
        n.y = dlt_huber_loss(n.g, n.x, n.t, DELTA, red);
        break;
    case L_BCE:
        n.y = dlt_bce_with_logits(n.g, n.x, n.t, -1, red);
        break;
    case L_BCE_PW:
        n.pw = dlt_param(n.g, "pos_weight", 1, pd, dlt_init_uniform(0.5, 3));
        n.y = dlt_bce_with_logits(n.g, n.x, n.t, n.pw, red);
        break;
    default:
        n.y = dlt_kl_div(n.g, n.x, n.t, red);
        break;
    }
    ck_assert_msg(n.y >= 0, "%s", dlt_graph_errmsg(n.g));
    dlt_test_fill_uniform(n.td, PR * PC, -2, 2, seed);
    float u[PR * PC];
    dlt_test_fill_uniform(u, PR * PC, 0.05f, 2.0f, seed + 1);
    for (int i = 0; i < PR * PC; i++) {
        /* keep x - t away from the kinks (0, beta, delta) by more than eps */
        float dv = (i % 2 ? u[i] : -u[i]);
        if (fabsf(fabsf(dv) - BETA) < 0.02f || fabsf(fabsf(dv) - DELTA) < 0.02f)
            dv *= 1.1f;
        n.xd[i] = n.td[i] + dv;
        if (kind == L_BCE || kind == L_BCE_PW) /* targets in [0, 1] */
            n.td[i] = 0.5f + 0.25f * n.td[i];
        if (kind == L_KL) { /* target probabilities (one zero), log-prob inputs */
            n.td[i] = i == 3 ? 0.f : 0.1f + 0.2f * (n.td[i] + 2);
            n.xd[i] = -0.2f - 0.5f * u[i];
        }
    }
    return n;
}

static void pw_free(pwnet *n) { dlt_graph_free(n->g); }

START_TEST(pointwise_losses_match_naive)
{
    static const dlt_reduction reds[] = {DLT_REDUCE_MEAN, DLT_REDUCE_SUM, DLT_REDUCE_NONE, DLT_REDUCE_BATCHMEAN};
    int kind = _i % NLOSS;
    dlt_reduction red = reds[_i / NLOSS];
    pwnet n = pw_build(kind, red, 40 + (uint64_t)_i);
    float y[PR * PC], ref[PR * PC];
    dlt_t ins[2] = {n.x, n.t};
    dlt_gc_feed f = {2, ins, (const void *[]){n.xd, n.td}, 1};
    dlt_test_eval(n.g, n.y, &f, y);
    const float *pw = n.pw >= 0 ? dlt_param_data(n.g, n.pw) : NULL;
    double tot = 0;
    for (int i = 0; i < PR * PC; i++) {
        ref[i] = (float)pw_ref(kind, n.xd[i], n.td[i], pw ? pw[i % PC] : 1.0);
        tot += ref[i];
    }
    if (red == DLT_REDUCE_SUM)
        ref[0] = (float)tot;
    else if (red == DLT_REDUCE_MEAN)
        ref[0] = (float)(tot / (PR * PC));
    else if (red == DLT_REDUCE_BATCHMEAN)
        ref[0] = (float)(tot / PR);
    size_t ny = red == DLT_REDUCE_NONE ? PR * PC : 1;
    double err = dlt_test_max_relerr(y, ref, ny, 1e-3);
    ck_assert_msg(err <= 2e-6, "%s reduction %d: error %g", lname[kind], (int)red, err);
    pw_free(&n);
}
END_TEST

/* First order wrt input and target (and pos_weight), then second order: the
 * gradient wrt x of sum(loss^2 ...) checked again. Losses are smooth away from
 * the kinks the data avoids; eps = 1e-3 as for cross-entropy. */
START_TEST(pointwise_losses_gradients)
{
    int kind = _i;
    pwnet n = pw_build(kind, DLT_REDUCE_MEAN, 60 + (uint64_t)_i);
    if (kind == L_KL) /* t log t is not differentiable at the zero target */
        n.td[3] = 0.3f;
    dlt_t ins[2] = {n.x, n.t};
    dlt_gc_feed f = {2, ins, (const void *[]){n.xd, n.td}, 1};
    dlt_t wrt[3] = {n.x, n.t, n.pw};
    int nw = n.pw >= 0 ? 3 : 2;
    double an, nu;
    dlt_test_gradcheck(n.g, n.y, nw, wrt, &f, 1e-3, 5, &an, &nu);
    dlt_test_assert_close(lname[kind], an, nu, 2e-3, 1e-4);
    dlt_t e = dlt_l1_loss(n.g, n.x, n.t, DLT_REDUCE_NONE); /* nonlinear head */
    dlt_t s = dlt_sum(n.g, dlt_mul(n.g, n.y, dlt_sum(n.g, e, 0, NULL, 0)), 0, NULL, 0), gr[3];
    ck_assert_int_eq(dlt_grad(n.g, s, nw, wrt, gr), DLT_OK);
    for (int k = 0; k < nw; k++) {
        dlt_test_gradcheck(n.g, gr[k], nw, wrt, &f, 1e-3, 6 + (uint64_t)k, &an, &nu);
        dlt_test_assert_close(lname[kind], an, nu, 3e-3, 2e-4);
    }
    pw_free(&n);
}
END_TEST

/* ---------------------------------------------------------------- metrics */
START_TEST(topk_metrics_by_hand)
{
    /* 4 samples, 4 classes; label ranks: 1st, 3rd, 2nd (tied with 1st), 4th */
    static const float z[16] = {5, 1, 2, 0, 1, 3, 0, 2, 4, 4, 1, 0, 0, 1, 2, 3};
    static const int32_t lab[4] = {0, 0, 1, 0};
    dlt_graph *g = dlt_graph_create(1);
    int64_t zd[2] = {4, 4}, ld[1] = {4};
    dlt_t zi = dlt_input(g, "logits", DLT_F32, 2, zd), li = dlt_input(g, "labels", DLT_I32, 1, ld);
    dlt_t m[5] = {dlt_accuracy(g, zi, li), dlt_topk_correct(g, zi, li, 1), dlt_topk_correct(g, zi, li, 2),
                  dlt_topk_accuracy(g, zi, li, 3), dlt_topk_correct(g, zi, li, 4)};
    static const float want[5] = {0.5f, 2, 2, 0.75f, 4};
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 5, m, NULL, &p), DLT_OK);
    memcpy(dlt_plan_data(p, zi), z, sizeof z);
    memcpy(dlt_plan_data(p, li), lab, sizeof lab);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
    for (int i = 0; i < 5; i++)
        ck_assert_float_eq(*(float *)dlt_plan_data(p, m[i]), want[i]);
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- errors */
START_TEST(bad_arguments_are_reported)
{
    int64_t zd[2] = {4, 3}, ld[1] = {4}, od[2] = {4, 2};
    dlt_graph *g = dlt_graph_create(1);
    dlt_t z = dlt_input(g, "logits", DLT_F32, 2, zd), l = dlt_input(g, "labels", DLT_F32, 1, ld);
    ck_assert_int_eq(dlt_cross_entropy(g, z, l, -100, 0.f, DLT_REDUCE_MEAN), -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_DTYPE);
    ck_assert_str_eq(dlt_graph_errmsg(g), "cross_entropy: labels 'labels' must be i32, got f32[4]");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    z = dlt_input(g, "logits", DLT_F32, 2, zd);
    l = dlt_input(g, "labels", DLT_I32, 1, ld);
    ck_assert_int_eq(dlt_cross_entropy(g, z, l, -100, 1.5f, DLT_REDUCE_MEAN), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "cross_entropy: label_smoothing must be in [0, 1], got 1.5");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    z = dlt_input(g, "logits", DLT_F32, 2, zd);
    l = dlt_input(g, "labels", DLT_I32, 2, od);
    ck_assert_int_eq(dlt_cross_entropy(g, z, l, -100, 0.f, DLT_REDUCE_MEAN), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "cross_entropy 'cross_entropy': labels must be [N, d...] for logits "
                                          "[N, C, d...] (inputs: 'logits' f32[4,3], 'labels' i32[4,2])");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    z = dlt_input(g, "x", DLT_F32, 2, zd);
    l = dlt_input(g, "t", DLT_F32, 2, od);
    ck_assert_int_eq(dlt_mse_loss(g, z, l, DLT_REDUCE_MEAN), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "mse_loss: input 'x' f32[4,3] and target 't' f32[4,2] must be f32 of the same shape");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    z = dlt_input(g, "logits", DLT_F32, 2, zd);
    l = dlt_input(g, "labels", DLT_I32, 1, ld);
    ck_assert_int_eq(dlt_topk_correct(g, z, l, 4), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "topk_correct: k = 4 is outside [1, classes]");
    dlt_graph_free(g);

    /* a label outside [0, C) is a run-time error naming the position */
    g = dlt_graph_create(1);
    z = dlt_input(g, "logits", DLT_F32, 2, zd);
    l = dlt_input(g, "labels", DLT_I32, 1, ld);
    dlt_t y = dlt_cross_entropy(g, z, l, -100, 0.f, DLT_REDUCE_MEAN);
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 1, &y, NULL, &p), DLT_OK);
    ((int32_t *)dlt_plan_data(p, l))[2] = 3;
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "cross_entropy 'cross_entropy': label 3 at 2 is outside [0, 3)");
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loss");
    TCase *t = tcase_create("loss");
    tcase_set_timeout(t, 60);
    tcase_add_loop_test(t, cross_entropy_matches_naive, 0, NCE);
    tcase_add_loop_test(t, cross_entropy_gradients, 0, NCE);
    tcase_add_test(t, cross_entropy_matches_torch);
    tcase_add_loop_test(t, pointwise_losses_match_naive, 0, 4 * NLOSS);
    tcase_add_loop_test(t, pointwise_losses_gradients, 0, NLOSS);
    tcase_add_test(t, topk_metrics_by_hand);
    tcase_add_test(t, bad_arguments_are_reported);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dlt_test_run(suite()); }
