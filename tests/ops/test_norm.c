/* Batch, layer, group and instance norm: forward against naive double loops,
 * first and second order gradients against finite differences, running
 * statistics by hand, PyTorch golden values, and argument errors. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

enum { BN, LN, GN, IN };
typedef struct {
    int kind, ndim;
    int64_t dim[4];
    int arg; /* groups (GN), number of normalised dims (LN) */
    int affine;
} ncase;

static const ncase cases[] = {
    {BN, 2, {2, 3}, 0, 1},       {BN, 4, {2, 4, 3, 5}, 0, 1}, {BN, 3, {3, 5, 7}, 0, 0},
    {BN, 4, {5, 2, 1, 1}, 0, 1}, {LN, 2, {1, 7}, 1, 1},       {LN, 3, {3, 4, 5}, 2, 1},
    {LN, 3, {2, 3, 6}, 1, 0},    {GN, 4, {2, 6, 3, 5}, 3, 1}, {GN, 3, {1, 4, 7}, 2, 0},
    {GN, 4, {3, 6, 2, 2}, 1, 1}, {IN, 4, {2, 3, 4, 5}, 0, 1}, {IN, 3, {1, 4, 9}, 0, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))
#define EPS 1e-5f

typedef struct {
    dlt_graph *g;
    dlt_t x, gamma, beta, rm, rv, y;
    int64_t n, A, C, S, G; /* geometry as the reference sees it */
    float *xd;
} built;

static built build(const ncase *c, uint64_t seed)
{
    built b;
    memset(&b, 0, sizeof b);
    b.g = dlt_graph_create(seed);
    b.x = dlt_input(b.g, "x", DLT_F32, c->ndim, c->dim);
    b.n = 1;
    for (int i = 0; i < c->ndim; i++)
        b.n *= c->dim[i];
    int64_t pd[4], np = 1;
    int pn = 1;
    if (c->kind == LN) {
        pn = c->arg;
        for (int i = 0; i < pn; i++)
            pd[i] = c->dim[c->ndim - pn + i], np *= pd[i];
        b.A = b.n / np, b.C = np, b.S = 1, b.G = 1;
    } else {
        pd[0] = np = c->dim[1];
        b.A = c->dim[0], b.C = c->dim[1], b.S = b.n / (b.A * b.C);
        b.G = c->kind == GN ? c->arg : c->kind == IN ? b.C : 1;
    }
    b.gamma = b.beta = b.rm = b.rv = -1;
    if (c->affine) {
        b.gamma = dlt_param(b.g, "gamma", pn, pd, dlt_init_uniform(0.5, 1.5));
        b.beta = dlt_param(b.g, "beta", pn, pd, dlt_init_uniform(-0.5, 0.5));
    }
    switch (c->kind) {
    case BN:
        b.rm = dlt_buffer(b.g, "running_mean", 1, pd, dlt_init_const(0));
        b.rv = dlt_buffer(b.g, "running_var", 1, pd, dlt_init_const(1));
        b.y = dlt_batch_norm(b.g, b.x, b.gamma, b.beta, b.rm, b.rv, 0.1f, EPS);
        break;
    case LN:
        b.y = dlt_layer_norm(b.g, b.x, pn, pd, b.gamma, b.beta, EPS);
        break;
    case GN:
        b.y = dlt_group_norm(b.g, b.x, c->arg, b.gamma, b.beta, EPS);
        break;
    default:
        b.y = dlt_instance_norm(b.g, b.x, b.gamma, b.beta, EPS);
        break;
    }
    ck_assert_msg(dlt_graph_status(b.g) == DLT_OK, "%s", dlt_graph_errmsg(b.g));
    b.xd = malloc((size_t)b.n * sizeof(float));
    /* an offset and scale per case so the statistics are not trivially 0 and 1 */
    dlt_test_fill_uniform(b.xd, (size_t)b.n, -1.5f, 2.5f, seed + 11);
    return b;
}

static void unbuild(built *b)
{
    free(b->xd);
    dlt_graph_free(b->g);
}

/* Naive reference: element (a, c, s) belongs to statistic c (batch norm) or
 * (a, c / (C/G)) (group norms). */
static void ref_norm(const built *b, int batch, const float *x, const float *gam, const float *bet, float *y)
{
    int64_t A = b->A, C = b->C, S = b->S, cpg = C / b->G;
    int64_t nst = batch ? C : A * b->G;
    for (int64_t st = 0; st < nst; st++) {
        double s = 0, q = 0, m;
        int64_t cnt = 0;
        for (int pass = 0; pass < 3; pass++)
            for (int64_t a = 0; a < A; a++)
                for (int64_t c = 0; c < C; c++) {
                    int64_t id = batch ? c : a * b->G + c / cpg;
                    if (id != st)
                        continue;
                    for (int64_t k = 0; k < S; k++) {
                        int64_t o = (a * C + c) * S + k;
                        if (pass == 0)
                            s += x[o], cnt++;
                        else if (pass == 1)
                            q += (x[o] - s / cnt) * (x[o] - s / cnt);
                        else {
                            m = s / cnt;
                            double v = (x[o] - m) / sqrt(q / cnt + EPS);
                            y[o] = (float)(gam ? v * gam[c] + bet[c] : v);
                        }
                    }
                }
    }
}

START_TEST(forward_matches_naive)
{
    const ncase *c = &cases[_i];
    built b = build(c, 100 + (uint64_t)_i);
    float *y = malloc((size_t)b.n * sizeof(float)), *ref = malloc((size_t)b.n * sizeof(float));
    dlt_gc_feed f = {1, &b.x, (const void *[]){b.xd}, 1};
    dlt_test_eval(b.g, b.y, &f, y);
    ref_norm(&b, c->kind == BN, b.xd, c->affine ? dlt_param_data(b.g, b.gamma) : NULL,
             c->affine ? dlt_param_data(b.g, b.beta) : NULL, ref);
    /* normalised values of magnitude <= ~3: f32 rounding of mean, rstd and the
     * affine map stays within a few ulps */
    double err = dlt_test_max_relerr(y, ref, (size_t)b.n, 1.0);
    ck_assert_msg(err < 1e-5, "case %d: forward error %g", _i, err);
    free(y), free(ref);
    unbuild(&b);
}
END_TEST

/* wrt: x, and gamma, beta where present */
static int wrt_of(const built *b, dlt_t *wrt)
{
    int n = 0;
    wrt[n++] = b->x;
    if (b->gamma >= 0)
        wrt[n++] = b->gamma, wrt[n++] = b->beta;
    return n;
}

/* Central differences with eps = 1e-3 on f32 runs: the loss sum(r * y) has
 * magnitude ~sqrt(n) <= 12 and f32 rounding ~1e-6 of it, i.e. ~5e-4 absolute
 * noise after dividing by 2 eps, and the O(eps^2) truncation term is smaller;
 * directional derivatives are O(1..10). */
#define GC_EPS 1e-3
#define GC_RTOL 2e-3
#define GC_ATOL 2e-3

START_TEST(gradients_match_finite_differences)
{
    const ncase *c = &cases[_i];
    for (int training = 1; training >= (c->kind == BN ? 0 : 1); training--) {
        built b = build(c, 200 + (uint64_t)_i);
        dlt_t wrt[3];
        int nw = wrt_of(&b, wrt);
        dlt_gc_feed f = {1, &b.x, (const void *[]){b.xd}, training};
        double an, nu;
        dlt_test_gradcheck(b.g, b.y, nw, wrt, &f, GC_EPS, 7 + (uint64_t)_i, &an, &nu);
        dlt_test_assert_close(training ? "norm train" : "norm eval", an, nu, GC_RTOL, GC_ATOL);
        unbuild(&b);
    }
}
END_TEST

/* Second order: the input and gamma gradients of sum(c * y) are themselves
 * checked against finite differences (through norm_grad's rule). */
START_TEST(second_order_matches_finite_differences)
{
    const ncase *c = &cases[_i];
    for (int training = 1; training >= (c->kind == BN ? 0 : 1); training--) {
        for (int which = 0; which < (c->affine ? 2 : 1); which++) {
            built b = build(c, 300 + (uint64_t)_i);
            const dlt_shape *ys = dlt_shape_of(b.g, b.y);
            float *cd = malloc((size_t)b.n * sizeof(float));
            dlt_test_fill_uniform(cd, (size_t)b.n, -1, 1, 99);
            dlt_t cc = dlt_constant(b.g, DLT_F32, ys->ndim, ys->dim, cd);
            /* a nonlinear head so the upstream gradient depends on y */
            dlt_t yy = dlt_mul(b.g, b.y, b.y);
            dlt_t s = dlt_sum(b.g, dlt_mul(b.g, dlt_add(b.g, b.y, yy), cc), 0, NULL, 0);
            dlt_t wrt[3], gr[3];
            int nw = wrt_of(&b, wrt);
            ck_assert_msg(dlt_grad(b.g, s, nw, wrt, gr) == DLT_OK, "%s", dlt_errmsg());
            dlt_gc_feed f = {1, &b.x, (const void *[]){b.xd}, training};
            double an, nu;
            dlt_test_gradcheck(b.g, gr[which], nw, wrt, &f, GC_EPS, 17 + (uint64_t)_i, &an, &nu);
            /* as above, but the gradients being differentiated have terms up to
             * ~16 (gamma * c * (1 + 2y)), so the f32 noise of the finite
             * difference reaches ~1e-3 absolute */
            dlt_test_assert_close(which ? "d2 via dgamma" : "d2 via dx", an, nu, 5e-3, 5e-3);
            free(cd);
            unbuild(&b);
        }
    }
}
END_TEST

/* Runs plan p (training) from b's input on 1 and then 4 threads; res[t][k]
 * gets a copy of outs[k] (sz[k] floats) of run t, to free. */
static void run_on_1_and_4_threads(dlt_plan *p, const built *b, int nout, const dlt_t *outs, const size_t *sz,
                                   float *res[2][3])
{
    int saved = dlt_get_num_threads();
    for (int t = 0; t < 2; t++) {
        dlt_set_num_threads(t ? 4 : 1);
        memcpy(dlt_plan_data(p, b->x), b->xd, (size_t)b->n * sizeof(float));
        dlt_exec_opts eo = {.training = 1};
        ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
        for (int k = 0; k < nout; k++) {
            res[t][k] = malloc(sz[k] * sizeof(float));
            memcpy(res[t][k], dlt_plan_data(p, outs[k]), sz[k] * sizeof(float));
        }
    }
    dlt_set_num_threads(saved);
}

/* Inputs above the OpenMP threshold: forward and input gradient match the
 * naive reference and are bitwise the same with 1 and 4 threads. */
START_TEST(large_inputs_are_thread_count_independent)
{
    static const ncase big[2] = {{BN, 4, {8, 16, 17, 17}, 0, 1}, {GN, 4, {4, 32, 17, 17}, 8, 1}};
    const ncase *c = &big[_i];
    built b = build(c, 500 + (uint64_t)_i);
    size_t n = (size_t)b.n;
    float *cd = malloc(n * sizeof(float)), *out[2][3], *ref = malloc(n * sizeof(float));
    dlt_test_fill_uniform(cd, n, -1, 1, 3);
    const dlt_shape *ys = dlt_shape_of(b.g, b.y);
    dlt_t s = dlt_sum(b.g, dlt_mul(b.g, b.y, dlt_constant(b.g, DLT_F32, ys->ndim, ys->dim, cd)), 0, NULL, 0), gx;
    ck_assert_int_eq(dlt_grad(b.g, s, 1, &b.x, &gx), DLT_OK);
    dlt_t outs[2] = {b.y, gx};
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(b.g, 2, outs, NULL, &p), DLT_OK);
    size_t sz[2] = {n, n};
    run_on_1_and_4_threads(p, &b, 2, outs, sz, out);
    ck_assert_int_eq(memcmp(out[0][0], out[1][0], n * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(out[0][1], out[1][1], n * sizeof(float)), 0);
    ref_norm(&b, c->kind == BN, b.xd, dlt_param_data(b.g, b.gamma), dlt_param_data(b.g, b.beta), ref);
    ck_assert_double_le(dlt_test_max_relerr(out[0][0], ref, n, 1.0), 1e-5);
    for (int t = 0; t < 2; t++)
        free(out[t][0]), free(out[t][1]);
    free(cd), free(ref);
    dlt_plan_free(p);
    unbuild(&b);
}
END_TEST

START_TEST(running_statistics_after_three_steps)
{
    ncase c = {BN, 4, {3, 2, 2, 3}, 0, 1};
    built b = build(&c, 5);
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(b.g, 1, &b.y, NULL, &p), DLT_OK);
    double rm[2] = {0, 0}, rv[2] = {1, 1};
    float x[36];
    for (int step = 0; step < 3; step++) {
        dlt_test_fill_uniform(x, 36, -1.0f + step, 2.0f + 2 * step, 40 + (uint64_t)step);
        memcpy(dlt_plan_data(p, b.x), x, sizeof x);
        dlt_exec_opts eo = {.training = 1, .step = step};
        ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
        for (int ch = 0; ch < 2; ch++) {
            double s = 0, q = 0;
            for (int a = 0; a < 3; a++)
                for (int k = 0; k < 6; k++)
                    s += x[(a * 2 + ch) * 6 + k];
            double m = s / 18;
            for (int a = 0; a < 3; a++)
                for (int k = 0; k < 6; k++)
                    q += (x[(a * 2 + ch) * 6 + k] - m) * (x[(a * 2 + ch) * 6 + k] - m);
            rm[ch] = 0.9 * rm[ch] + 0.1 * m;
            rv[ch] = 0.9 * rv[ch] + 0.1 * q / 17; /* unbiased */
        }
    }
    const float *grm = dlt_param_data(b.g, b.rm), *grv = dlt_param_data(b.g, b.rv);
    for (int ch = 0; ch < 2; ch++) {
        ck_assert_double_le(fabs(grm[ch] - rm[ch]), 1e-6 * (1 + fabs(rm[ch])));
        ck_assert_double_le(fabs(grv[ch] - rv[ch]), 1e-6 * (1 + fabs(rv[ch])));
    }
    /* eval mode leaves them alone and normalises with them */
    float before[2] = {grm[0], grv[0]};
    dlt_exec_opts ev = {.training = 0};
    ck_assert_int_eq(dlt_plan_run(p, &ev), DLT_OK);
    ck_assert_float_eq(grm[0], before[0]);
    ck_assert_float_eq(grv[0], before[1]);
    const float *y = dlt_plan_data(p, b.y), *gam = dlt_param_data(b.g, b.gamma), *bet = dlt_param_data(b.g, b.beta);
    for (int i = 0; i < 36; i++) {
        int ch = (i / 6) % 2;
        double want = (x[i] - grm[ch]) / sqrt(grv[ch] + EPS) * gam[ch] + bet[ch];
        ck_assert_double_le(fabs(y[i] - want), 1e-5 * (1 + fabs(want)));
    }
    dlt_plan_free(p);
    unbuild(&b);
}
END_TEST

START_TEST(batch_norm_without_running_stats_uses_batch_stats)
{
    dlt_graph *g = dlt_graph_create(3);
    int64_t d[2] = {5, 3};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, d);
    dlt_t y = dlt_batch_norm(g, x, -1, -1, -1, -1, 0.1f, EPS);
    float xd[15], y0[15], y1[15];
    dlt_test_fill_uniform(xd, 15, -1, 3, 8);
    dlt_gc_feed f0 = {1, &x, (const void *[]){xd}, 0}, f1 = {1, &x, (const void *[]){xd}, 1};
    dlt_test_eval(g, y, &f0, y0);
    dlt_test_eval(g, y, &f1, y1);
    for (int i = 0; i < 15; i++)
        ck_assert_float_eq(y0[i], y1[i]);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- PyTorch fixtures */
static void fcheck(const char *what, const float *got, hid_t f, const char *ds, size_t n)
{
    float *want = malloc(n * sizeof *want);
    dlt_test_h5_read(f, ds, H5T_NATIVE_FLOAT, want, n);
    /* 1e-5 relative; values near zero come from cancelling O(1) terms (the
     * closed-form gradients), so the floor 1e-2 allows 1e-7 absolute: an f32
     * ulp of those terms */
    double err = dlt_test_max_relerr(got, want, n, 1e-2);
    ck_assert_msg(err <= 1e-5, "%s vs %s: relative error %g (max abs %g)", what, ds, err,
                  dlt_test_max_abserr(got, want, n));
    free(want);
}

/* One training step (and for "bn" an eval run) of y, dx, dgamma, dbeta for
 * upstream dy against torch. */
static void torch_norm_case(const char *grp, int kind, int ndim, const int64_t *dim)
{
    hid_t f = dlt_test_fixture_open("norm_fixtures.h5");
    char nm[64];
    int64_t n = 1, C = kind == LN ? dim[1] * dim[2] : dim[1];
    for (int i = 0; i < ndim; i++)
        n *= dim[i];
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, ndim, dim), y, rm = -1, rv = -1;
    int64_t pd[2] = {kind == LN ? dim[1] : dim[1], kind == LN ? dim[2] : 1};
    int pn = kind == LN ? 2 : 1;
    dlt_t gamma = dlt_param(g, "gamma", pn, pd, dlt_init_const(1));
    dlt_t beta = dlt_param(g, "beta", pn, pd, dlt_init_const(0));
    if (kind == BN) {
        rm = dlt_buffer(g, "rm", 1, pd, dlt_init_const(0));
        rv = dlt_buffer(g, "rv", 1, pd, dlt_init_const(1));
        y = dlt_batch_norm(g, x, gamma, beta, rm, rv, 0.1f, 1e-5f);
    } else {
        y = dlt_layer_norm(g, x, 2, pd, gamma, beta, 1e-5f);
    }
    float *dy = malloc((size_t)n * sizeof *dy), *xd = malloc((size_t)n * sizeof *xd);
    snprintf(nm, sizeof nm, "%s/dy", grp);
    dlt_test_h5_read(f, nm, H5T_NATIVE_FLOAT, dy, (size_t)n);
    snprintf(nm, sizeof nm, "%s/x", grp);
    dlt_test_h5_read(f, nm, H5T_NATIVE_FLOAT, xd, (size_t)n);
    dlt_t dyc = dlt_constant(g, DLT_F32, ndim, dim, dy);
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, dyc), 0, NULL, 0);
    dlt_t wrt[3] = {x, gamma, beta}, gr[3];
    ck_assert_int_eq(dlt_grad(g, loss, 3, wrt, gr), DLT_OK);
    dlt_t outs[4] = {y, gr[0], gr[1], gr[2]};
    dlt_plan *p;
    ck_assert_msg(dlt_plan_create(g, 4, outs, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    memcpy(dlt_plan_data(p, x), xd, (size_t)n * sizeof(float));
    snprintf(nm, sizeof nm, "%s/gamma", grp);
    dlt_test_h5_read(f, nm, H5T_NATIVE_FLOAT, dlt_param_data(g, gamma), (size_t)C);
    snprintf(nm, sizeof nm, "%s/beta", grp);
    dlt_test_h5_read(f, nm, H5T_NATIVE_FLOAT, dlt_param_data(g, beta), (size_t)C);
    if (kind == BN) {
        snprintf(nm, sizeof nm, "%s/rm0", grp);
        dlt_test_h5_read(f, nm, H5T_NATIVE_FLOAT, dlt_param_data(g, rm), (size_t)C);
        snprintf(nm, sizeof nm, "%s/rv0", grp);
        dlt_test_h5_read(f, nm, H5T_NATIVE_FLOAT, dlt_param_data(g, rv), (size_t)C);
    }
    for (int mode = 1; mode >= (strcmp(grp, "bn") == 0 ? 0 : 1); mode--) {
        dlt_exec_opts eo = {.training = mode};
        ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
        const char *sfx = mode ? "" : "_eval";
        const char *names[4] = {"y", "dx", "dgamma", "dbeta"};
        for (int k = 0; k < 4; k++) {
            snprintf(nm, sizeof nm, "%s/%s%s", grp, names[k], sfx);
            fcheck(grp, dlt_plan_data(p, outs[k]), f, nm, (size_t)(k < 2 ? n : C));
        }
        if (kind == BN && mode) {
            snprintf(nm, sizeof nm, "%s/rm", grp);
            fcheck("running_mean", dlt_param_data(g, rm), f, nm, (size_t)C);
            snprintf(nm, sizeof nm, "%s/rv", grp);
            fcheck("running_var", dlt_param_data(g, rv), f, nm, (size_t)C);
        }
    }
    dlt_plan_free(p);
    free(dy), free(xd);
    dlt_graph_free(g);
    H5Fclose(f);
}

START_TEST(batch_norm_matches_torch)
{
    int64_t d4[4] = {4, 3, 3, 5}, d2[2] = {6, 4};
    torch_norm_case("bn", BN, 4, d4);
    torch_norm_case("bn2d", BN, 2, d2);
}
END_TEST

/* A layer norm's dgamma and dbeta come from per-block sums of NORM_LN_ROWS
 * rows added in block order (norm_kernels.c): with more rows than a block
 * (not a multiple of it) and enough elements for the threaded loops, they
 * match naive double sums and are bitwise the same with 1 and 4 threads, as
 * dx is. */
START_TEST(layer_norm_param_grads_blocked)
{
    const ncase c = {LN, 2, {100, 400}, 1, 1};
    built b = build(&c, 77);
    size_t n = (size_t)b.n, C = (size_t)b.C;
    float *cd = malloc(n * sizeof(float));
    dlt_test_fill_uniform(cd, n, -1, 1, 5);
    dlt_t s = dlt_sum(b.g, dlt_mul(b.g, b.y, dlt_constant(b.g, DLT_F32, 2, c.dim, cd)), 0, NULL, 0), gr[3];
    dlt_t wrt[3] = {b.x, b.gamma, b.beta};
    ck_assert_int_eq(dlt_grad(b.g, s, 3, wrt, gr), DLT_OK);
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(b.g, 3, gr, NULL, &p), DLT_OK);
    size_t sz[3] = {n, C, C};
    float *out[2][3];
    run_on_1_and_4_threads(p, &b, 3, gr, sz, out);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(memcmp(out[0][k], out[1][k], sz[k] * sizeof(float)), 0);
    /* dbeta[c] = sum_a cd, dgamma[c] = sum_a cd xhat, xhat from double statistics */
    double *rg = calloc(C, sizeof(double)), *rb = calloc(C, sizeof(double)), *mg = calloc(C, sizeof(double));
    for (int64_t a = 0; a < b.A; a++) {
        const float *xr = b.xd + a * b.C;
        double m = 0, q = 0;
        for (int64_t j = 0; j < b.C; j++)
            m += xr[j];
        m /= (double)b.C;
        for (int64_t j = 0; j < b.C; j++)
            q += (xr[j] - m) * (xr[j] - m);
        double r = 1 / sqrt(q / (double)b.C + EPS);
        for (int64_t j = 0; j < b.C; j++) {
            double g = cd[a * b.C + j], xh = (xr[j] - m) * r;
            rb[j] += g;
            rg[j] += g * xh;
            mg[j] += fabs(g * xh) + fabs(g);
        }
    }
    for (size_t j = 0; j < C; j++) {
        ck_assert_msg(fabs(out[0][2][j] - rb[j]) <= 1e-6 * mg[j], "dbeta[%zu] = %g, want %g", j, out[0][2][j], rb[j]);
        ck_assert_msg(fabs(out[0][1][j] - rg[j]) <= 1e-6 * mg[j], "dgamma[%zu] = %g, want %g", j, out[0][1][j],
                      rg[j]);
    }
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 3; k++)
            free(out[t][k]);
    free(rg), free(rb), free(mg), free(cd);
    dlt_plan_free(p);
    unbuild(&b);
}
END_TEST

START_TEST(layer_norm_matches_torch)
{
    int64_t d[3] = {3, 4, 5};
    torch_norm_case("ln", LN, 3, d);
}
END_TEST

/* ---------------------------------------------------------------- errors */
START_TEST(bad_arguments_are_reported)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[3] = {2, 6, 4}, ns[2] = {6, 5}, c4[1] = {4};
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, d);
    ck_assert_int_eq(dlt_layer_norm(g, x, 2, ns, -1, -1, 1e-5f), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g),
                     "layer_norm: normalized shape [6,5] does not match the trailing dims of 'x' f32[2,6,4]");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 3, d);
    ck_assert_int_eq(dlt_group_norm(g, x, 4, -1, -1, 1e-5f), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "group_norm: 6 channels cannot be split into 4 groups");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 3, d);
    dlt_t gm = dlt_param(g, "gamma", 1, c4, dlt_init_const(1)), bt = dlt_param(g, "beta", 1, c4, dlt_init_const(0));
    ck_assert_int_eq(dlt_batch_norm(g, x, gm, bt, -1, -1, 0.1f, 1e-5f), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "batch_norm: gamma 'gamma' is f32[4], expected 6 f32 values");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 3, d);
    dlt_t p = dlt_param(g, "rm", 1, d + 1, dlt_init_const(0)), q = dlt_param(g, "rv", 1, d + 1, dlt_init_const(1));
    ck_assert_int_eq(dlt_batch_norm(g, x, -1, -1, p, q, 0.1f, 1e-5f), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "batch_norm: running statistics must be dlt_buffer values");
    dlt_graph_free(g);

    /* a single value per channel cannot be normalised with batch statistics */
    g = dlt_graph_create(1);
    int64_t one[2] = {1, 3};
    x = dlt_input(g, "x", DLT_F32, 2, one);
    p = dlt_buffer(g, "rm", 1, one + 1, dlt_init_const(0));
    q = dlt_buffer(g, "rv", 1, one + 1, dlt_init_const(1));
    dlt_t y = dlt_batch_norm(g, x, -1, -1, p, q, 0.1f, 1e-5f);
    dlt_plan *pl;
    ck_assert_int_eq(dlt_plan_create(g, 1, &y, NULL, &pl), DLT_OK);
    dlt_exec_opts eo = {.training = 1};
    ck_assert_int_eq(dlt_plan_run(pl, &eo), DLT_ERR_SHAPE);
    ck_assert_str_eq(dlt_errmsg(), "batch_norm 'batch_norm': training needs more than one value per channel");
    dlt_plan_free(pl);
    dlt_graph_free(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("norm");
    TCase *t = tcase_create("norm");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, forward_matches_naive, 0, NCASES);
    tcase_add_loop_test(t, gradients_match_finite_differences, 0, NCASES);
    tcase_add_loop_test(t, second_order_matches_finite_differences, 0, NCASES);
    tcase_add_loop_test(t, large_inputs_are_thread_count_independent, 0, 2);
    tcase_add_test(t, running_statistics_after_three_steps);
    tcase_add_test(t, batch_norm_without_running_stats_uses_batch_stats);
    tcase_add_test(t, batch_norm_matches_torch);
    tcase_add_test(t, layer_norm_matches_torch);
    tcase_add_test(t, layer_norm_param_grads_blocked);
    tcase_add_test(t, bad_arguments_are_reported);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dlt_test_run(suite()); }
