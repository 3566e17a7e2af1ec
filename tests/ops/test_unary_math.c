/* Elementwise math and activations of the unary family: forward against naive
 * double references, first-order gradients against finite differences, the
 * derivative chain f' f'' f''' (each against finite differences of the order
 * below), WGAN-GP style second order, the GELUs' kept derivative, PReLU,
 * tensor ** tensor, and errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"
#include "plan_impl.h"
#include "unary_impl.h"
#include "vmath.h"

/* ---------------------------------------------------------------- cases */
static dlt_t b_exp(dlt_graph *g, dlt_t x) { return dlt_exp(g, x); }
static dlt_t b_ln(dlt_graph *g, dlt_t x) { return dlt_ln(g, x); }
static dlt_t b_sqrt(dlt_graph *g, dlt_t x) { return dlt_sqrt(g, x); }
static dlt_t b_rsqrt(dlt_graph *g, dlt_t x) { return dlt_rsqrt(g, x); }
static dlt_t b_pow25(dlt_graph *g, dlt_t x) { return dlt_pow(g, x, 2.5f); }
static dlt_t b_pow3(dlt_graph *g, dlt_t x) { return dlt_pow(g, x, 3.f); }
static dlt_t b_powm2(dlt_graph *g, dlt_t x) { return dlt_pow(g, x, -2.f); }
static dlt_t b_abs(dlt_graph *g, dlt_t x) { return dlt_abs(g, x); }
static dlt_t b_clamp(dlt_graph *g, dlt_t x) { return dlt_clamp(g, x, -0.5f, 0.7f); }
static dlt_t b_square(dlt_graph *g, dlt_t x) { return dlt_square(g, x); }
static dlt_t b_neg(dlt_graph *g, dlt_t x) { return dlt_neg(g, x); }
static dlt_t b_leaky(dlt_graph *g, dlt_t x) { return dlt_leaky_relu(g, x, 0.02f); }
static dlt_t b_elu(dlt_graph *g, dlt_t x) { return dlt_elu(g, x, 0.7f); }
static dlt_t b_selu(dlt_graph *g, dlt_t x) { return dlt_selu(g, x); }
static dlt_t b_gelu(dlt_graph *g, dlt_t x) { return dlt_gelu(g, x, DLT_GELU_EXACT); }
static dlt_t b_gelu_tanh(dlt_graph *g, dlt_t x) { return dlt_gelu(g, x, DLT_GELU_TANH); }
static dlt_t b_sigmoid(dlt_graph *g, dlt_t x) { return dlt_sigmoid(g, x); }
static dlt_t b_tanh(dlt_graph *g, dlt_t x) { return dlt_tanh(g, x); }
static dlt_t b_softplus(dlt_graph *g, dlt_t x) { return dlt_softplus(g, x, 2.f, 5.f); }

/* naive references, straight from the definitions */
static double r_exp(double x) { return exp(x); }
static double r_ln(double x) { return log(x); }
static double r_sqrt(double x) { return sqrt(x); }
static double r_rsqrt(double x) { return 1 / sqrt(x); }
static double r_pow25(double x) { return x * x * sqrt(x); }
static double r_pow3(double x) { return x * x * x; }
static double r_powm2(double x) { return 1 / (x * x); }
static double r_abs(double x) { return x < 0 ? -x : x; }
static double r_clamp(double x) { return x < -0.5 ? -0.5 : x > (double)0.7f ? (double)0.7f : x; }
static double r_square(double x) { return x * x; }
static double r_neg(double x) { return -x; }
static double r_leaky(double x) { return x > 0 ? x : (double)0.02f * x; }
static double r_elu(double x) { return x > 0 ? x : (double)0.7f * (exp(x) - 1); }
static double r_selu(double x)
{
    return 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (exp(x) - 1));
}
static double r_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double r_gelu_tanh(double x)
{
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_tanh(double x) { return (exp(2 * x) - 1) / (exp(2 * x) + 1); }
static double r_softplus(double x) { return 2 * x > 5 ? x : log(1 + exp(2 * x)) / 2; }

typedef struct {
    const char *name;
    dlt_t (*build)(dlt_graph *, dlt_t);
    double (*ref)(double);
    float lo, hi;
    float kinks[2]; /* points the gradient checks keep away from (NAN: none) */
    int zero_from;  /* derivative order from which the result is identically 0 (9: never) */
} ew_case;

static const ew_case cases[] = {
    {"exp", b_exp, r_exp, -3, 3, {NAN, NAN}, 9},
    {"ln", b_ln, r_ln, 0.2f, 4, {NAN, NAN}, 9},
    {"sqrt", b_sqrt, r_sqrt, 0.2f, 4, {NAN, NAN}, 9},
    {"rsqrt", b_rsqrt, r_rsqrt, 0.2f, 4, {NAN, NAN}, 9},
    {"pow2.5", b_pow25, r_pow25, 0.2f, 4, {NAN, NAN}, 9},
    {"pow3", b_pow3, r_pow3, -2, 2, {NAN, NAN}, 4},
    {"pow-2", b_powm2, r_powm2, 0.3f, 3, {NAN, NAN}, 9},
    {"abs", b_abs, r_abs, -3, 3, {0, NAN}, 2},
    {"clamp", b_clamp, r_clamp, -2, 2, {-0.5f, 0.7f}, 2},
    {"square", b_square, r_square, -3, 3, {NAN, NAN}, 3},
    {"neg", b_neg, r_neg, -3, 3, {NAN, NAN}, 2},
    {"leaky_relu", b_leaky, r_leaky, -3, 3, {0, NAN}, 2},
    {"elu", b_elu, r_elu, -3, 3, {0, NAN}, 9},
    {"selu", b_selu, r_selu, -3, 3, {0, NAN}, 9},
    {"gelu", b_gelu, r_gelu, -4, 4, {NAN, NAN}, 9},
    {"gelu_tanh", b_gelu_tanh, r_gelu_tanh, -4, 4, {NAN, NAN}, 9},
    {"sigmoid", b_sigmoid, r_sigmoid, -6, 6, {NAN, NAN}, 9},
    {"tanh", b_tanh, r_tanh, -3, 3, {NAN, NAN}, 9},
    {"softplus", b_softplus, r_softplus, -4, 4, {2.5f, NAN}, 9},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* Uniform in [lo, hi) but at least `margin` away from the case's kinks, so
 * that central differences never straddle one. */
static void fill_case(const ew_case *c, float *x, size_t n, float margin, uint64_t seed)
{
    dlt_test_fill_uniform(x, n, c->lo, c->hi, seed);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
            if (!isnan(c->kinks[k]) && fabsf(x[i] - c->kinks[k]) < margin)
                x[i] = c->kinks[k] + (x[i] < c->kinks[k] ? -margin : margin);
}

/* the elementwise kind (unary_impl.h) of a case, -1 for the others */
static int vm_kind(const char *name)
{
    static const char *const names[] = {"exp", "ln", "elu", "selu", "gelu", "gelu_tanh", "sigmoid", "tanh"};
    static const int kinds[] = {DLT_EW_EXP,  DLT_EW_LOG,       DLT_EW_ELU,     DLT_EW_SELU,
                                DLT_EW_GELU, DLT_EW_GELU_TANH, DLT_EW_SIGMOID, DLT_EW_TANH};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return kinds[i];
    return -1;
}

/* ---------------------------------------------------------------- forward */
START_TEST(forward_matches_naive)
{
    const ew_case *c = &cases[_i];
    /* odd sizes, a single element, and one above the threading threshold */
    static const int64_t shapes[][4] = {{1, 0, 0, 0}, {3, 5, 0, 0}, {2, 3, 1, 5}, {20011, 0, 0, 0}};
    static const int ranks[] = {1, 2, 4, 1};
    for (int s = 0; s < 4; s++) {
        dlt_graph *g = dlt_graph_create(1);
        dlt_t x = dlt_input(g, "x", DLT_F32, ranks[s], shapes[s]);
        dlt_t y = c->build(g, x);
        ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(g, x));
        float *xd = malloc(n * sizeof *xd), *yd = malloc(n * sizeof *yd), *ref = malloc(n * sizeof *ref);
        dlt_test_fill_uniform(xd, n, c->lo, c->hi, 100 + (uint64_t)s);
        for (size_t i = 0; i < n; i++)
            ref[i] = (float)c->ref(xd[i]);
        const void *data[1] = {xd};
        dlt_gc_feed f = {1, &x, data, 0};
        dlt_test_eval(g, y, &f, yd);
        /* both sides are double evaluations rounded once to f32: at most one
         * ulp apart (1.2e-7); the floor covers the reference's own cancellation
         * (e.g. 1 + erf(x) for GELU at x = -4). The kinds the vectorised f32
         * path runs (vmath.h, unless DLT_CPU_ISA=libm) are within 5.5 ulp of
         * the exact value (tests/ops/test_vmath measures it): 6 ulp here. */
        double tol = 2.5e-7;
        if (dlt_vmath() && dlt_vmath()->ew(vm_kind(c->name), 0, 0, 0, NULL, xd, yd, 0))
            tol = 6 * 1.2e-7;
        double e = dlt_test_max_relerr(yd, ref, n, 1e-6);
        ck_assert_msg(e <= tol, "%s shape %d: relerr %g (at most %g)", c->name, s, e, tol);
        free(xd), free(yd), free(ref);
        dlt_graph_free(g);
    }
}
END_TEST

/* ---------------------------------------------------------------- first order */
START_TEST(gradients_match_finite_differences)
{
    const ew_case *c = &cases[_i];
    dlt_graph *g = dlt_graph_create(2);
    int64_t dims[3] = {2, 7, 3};
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, dims);
    dlt_t y = c->build(g, x);
    float xd[42];
    fill_case(c, xd, 42, 0.01f, 11);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    double an, nu;
    dlt_test_gradcheck(g, y, 1, &x, &f, 1e-3, 5, &an, &nu);
    printf("1st order %-10s analytic %12.6f numeric %12.6f\n", c->name, an, nu);
    /* eps = 1e-3 and inputs >= 0.01 from kinks: truncation ~eps^2 f''' ~1e-6;
     * the f32 loss (|L| <~ 40) rounds to ~2.4e-6 per evaluation, i.e. ~2.4e-3 /
     * (2 eps) worst case in the difference: atol 5e-3 with rtol 1e-3 */
    dlt_test_assert_close(c->name, an, nu, 1e-3, 5e-3);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- derivative chain */
/* g_0 = f(x), g_k = d sum(g_{k-1}) / dx = f^(k)(x) elementwise. Each order is
 * compared with central differences of the order below, evaluated by the same
 * plan at x +- h (h measured in f32). */
START_TEST(derivative_chain_matches_finite_differences)
{
    const ew_case *c = &cases[_i];
    enum { N = 64, K = 4 };
    dlt_graph *g = dlt_graph_create(3);
    int64_t dims[1] = {N};
    dlt_t x = dlt_input(g, "x", DLT_F32, 1, dims), gk[K];
    gk[0] = c->build(g, x);
    for (int k = 1; k < K; k++)
        ck_assert_msg(dlt_grad(g, dlt_sum(g, gk[k - 1], 0, NULL, 0), 1, &x, &gk[k]) == DLT_OK, "%s: %s",
                      c->name, dlt_errmsg());
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, K, gk, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    float x0[N], xs[3][N], val[3][K][N];
    fill_case(c, x0, N, 0.01f, 21);
    const float h = 1e-3f;
    for (int i = 0; i < N; i++) {
        xs[0][i] = x0[i];
        xs[1][i] = x0[i] + h;
        xs[2][i] = x0[i] - h;
    }
    for (int s = 0; s < 3; s++) {
        memcpy(dlt_plan_data(p, x), xs[s], sizeof xs[s]);
        ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
        for (int k = 0; k < K; k++)
            memcpy(val[s][k], dlt_plan_data(p, gk[k]), sizeof val[s][k]);
    }
    for (int k = 1; k < K; k++)
        for (int i = 0; i < N; i++) {
            double an = val[0][k][i], dh = (double)xs[1][i] - xs[2][i];
            if (k >= c->zero_from) {
                ck_assert_msg(an == 0, "%s order %d at %g: %g, expected exactly 0", c->name, k, x0[i], an);
                continue;
            }
            double hi = val[1][k - 1][i], lo = val[2][k - 1][i], fd = (hi - lo) / dh;
            /* f32 rounding of the lower order (0.5 ulp each side, x4 margin)
             * divided by 2h, plus 1e-3 relative for truncation (h^2 f^(k+2) / 6) */
            double tol = 4 * 6e-8 * (fabs(hi) + fabs(lo)) / dh + 1e-3 * fabs(an) + 1e-6;
            ck_assert_msg(fabs(an - fd) <= tol, "%s order %d at x = %.7g: analytic %.9g, differences %.9g",
                          c->name, k, x0[i], an, fd);
        }
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

START_TEST(derivative_order_beyond_closed_forms_is_an_error)
{
    dlt_graph *g = dlt_graph_create(3);
    int64_t dims[1] = {4};
    dlt_t x = dlt_input(g, "x", DLT_F32, 1, dims), d = dlt_sigmoid(g, x);
    for (int k = 1; k <= 3; k++)
        ck_assert_int_eq(dlt_grad(g, dlt_sum(g, d, 0, NULL, 0), 1, &x, &d), DLT_OK);
    ck_assert_int_eq(dlt_grad(g, dlt_sum(g, d, 0, NULL, 0), 1, &x, &d), DLT_ERR_UNSUPPORTED);
    ck_assert_str_eq(dlt_errmsg(), "dlt_grad: gradient of sigmoid_grad ('grad.grad.grad.sigmoid.sigmoid_grad.sigmoid_grad.sigmoid_grad'): sigmoid: "
                                   "derivatives of order 4 are not implemented (at most 3)");
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- second order */
/* WGAN-GP: pen = (d sum(f(x W^T) r) / dx)^2, differentiated w.r.t. W and x. */
START_TEST(second_order_matches_finite_differences)
{
    const ew_case *c = &cases[_i];
    dlt_graph *g = dlt_graph_create(4);
    int64_t xs[2] = {4, 3}, ws[2] = {5, 3}, rs[2] = {4, 5};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, xs);
    dlt_t w = dlt_param(g, "w", 2, ws, dlt_init_uniform(-1, 1));
    dlt_t h = dlt_matmul(g, x, w, 0, 1);
    if (c->lo > 0) /* positive domain: h in (-3, 3) maps into [1.1, 2.9] */
        h = dlt_affine(g, h, 0.3f, 2.0f);
    float r[20];
    dlt_test_fill_uniform(r, 20, -1, 1, 6);
    dlt_t y = dlt_mul(g, c->build(g, h), dlt_constant(g, DLT_F32, 2, rs, r)), gx;
    ck_assert_int_eq(dlt_grad(g, dlt_sum(g, y, 0, NULL, 0), 1, &x, &gx), DLT_OK);
    dlt_t pen = dlt_mul(g, gx, gx);
    float xd[12];
    dlt_test_fill_uniform(xd, 12, -1, 1, 7);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_t wrt[2] = {w, x};
    double an, nu;
    /* neg is linear: the penalty does not read x at all */
    dlt_test_gradcheck(g, pen, strcmp(c->name, "neg") ? 2 : 1, wrt, &f, 1e-3, 8, &an, &nu);
    /* The f32 loss L = sum(r * pen), |r| <= 1, is rounded to a few ulp of
     * its terms' sum |pen|, so the central difference at eps = 1e-3 is
     * resolved to ~ FLT_EPSILON * sum|pen| / eps (about 1e-3 for pow2.5,
     * where sum|pen| ~ 10; which way it rounds depends on the machine's
     * summation order). Below that the check stays at rtol 3e-3 + 2e-4: a
     * wrong second derivative is off by O(1). */
    float pv[12];
    dlt_test_eval(g, pen, &f, pv);
    double mag = 0;
    for (int i = 0; i < 12; i++)
        mag += fabs(pv[i]);
    double atol = fmax(2e-4, FLT_EPSILON * mag / 1e-3);
    printf("2nd order %-10s analytic %12.6f numeric %12.6f (f32 resolution %.1e)\n", c->name, an, nu, atol);
    dlt_test_assert_close(c->name, an, nu, 3e-3, atol);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- kept derivative */
/* The GELUs' forward also writes d = f'(x) (output 1) when the plan reads it,
 * and the first-order gradient is the f32 product dy d. d is bitwise the
 * derivative op's f'(x) (dy = 1), the forward's value is unchanged, and on the
 * vector paths (where the derivative op is the same f32 product) dx is
 * bitwise the derivative op's dy f'(x); under libm that op rounds dy f' once,
 * in double. A plan without the backward gives d no storage. Sizes above the
 * threading threshold, with a ragged block. */
START_TEST(gelu_forward_keeps_its_derivative)
{
    const dlt_gelu_approx approx = _i ? DLT_GELU_TANH : DLT_GELU_EXACT;
    const dlt_ew_kind kind = _i ? DLT_EW_GELU_TANH : DLT_EW_GELU;
    enum { N = 3 * 20011 };
    dlt_graph *g = dlt_graph_create(5);
    int64_t dims[2] = {3, 20011};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, dims), r = dlt_input(g, "r", DLT_F32, 2, dims);
    dlt_t y = dlt_gelu(g, x, approx), d = dlt_node_output(g, y, 1), dx;
    ck_assert_int_ge(d, 0);
    ck_assert_int_eq(dlt_grad(g, dlt_sum(g, dlt_mul(g, y, r), 0, NULL, 0), 1, &x, &dx), DLT_OK);
    /* the derivative op from x: dy f'(x) and f'(x) */
    dlt_t ref = dlt_ew_deriv(g, r, x, kind, 1, 0, 0);
    dlt_t ref1 = dlt_ew_deriv(g, dlt_affine(g, x, 0.f, 1.f), x, kind, 1, 0, 0);
    float *xd = malloc(N * sizeof *xd), *rd = malloc(N * sizeof *rd), *y0 = malloc(N * sizeof *y0);
    dlt_test_fill_uniform(xd, N, -6, 6, 31);
    dlt_test_fill_uniform(rd, N, -2, 2, 32);
    dlt_plan *fwd = NULL, *both = NULL;
    dlt_t outs[5] = {y, dx, ref, d, ref1};
    ck_assert_msg(dlt_plan_create(g, 1, &y, NULL, &fwd) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_msg(dlt_plan_create(g, 5, outs, NULL, &both) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_ptr_null(dlt_plan_ptr(fwd, d));
    memcpy(dlt_plan_data(fwd, x), xd, N * sizeof *xd);
    ck_assert_int_eq(dlt_plan_run(fwd, NULL), DLT_OK);
    memcpy(y0, dlt_plan_data(fwd, y), N * sizeof *y0);
    memcpy(dlt_plan_data(both, x), xd, N * sizeof *xd);
    memcpy(dlt_plan_data(both, r), rd, N * sizeof *rd);
    ck_assert_int_eq(dlt_plan_run(both, NULL), DLT_OK);
    const float *y1 = dlt_plan_data(both, y), *g1 = dlt_plan_data(both, dx), *g0 = dlt_plan_data(both, ref);
    const float *d1 = dlt_plan_data(both, d), *f1 = dlt_plan_data(both, ref1);
    int vec = dlt_vmath() != NULL;
    for (int i = 0; i < N; i++) {
        float want = rd[i] * d1[i];
        ck_assert_msg(memcmp(&y1[i], &y0[i], sizeof *y0) == 0, "y at %d (x %a): %a, alone %a", i, xd[i], y1[i],
                      y0[i]);
        ck_assert_msg(memcmp(&d1[i], &f1[i], sizeof *f1) == 0, "d at %d (x %a): %a, derivative op %a", i, xd[i],
                      d1[i], f1[i]);
        ck_assert_msg(memcmp(&g1[i], &want, sizeof want) == 0, "dx at %d (x %a): %a, dy d %a", i, xd[i], g1[i],
                      want);
        ck_assert_msg(!vec || memcmp(&g1[i], &g0[i], sizeof *g0) == 0, "dx at %d (x %a): %a, derivative op %a", i,
                      xd[i], g1[i], g0[i]);
    }
    dlt_plan_free(fwd);
    dlt_plan_free(both);
    free(xd), free(rd), free(y0);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- prelu */
START_TEST(prelu_forward_and_gradients)
{
    static const struct {
        int rank;
        int64_t dims[3], wn;
    } cfg[] = {{3, {2, 3, 4}, 3}, {3, {2, 3, 4}, 1}, {2, {5, 3}, 3}, {1, {7}, 1}, {3, {1, 1, 5}, 1}};
    for (int t = 0; t < 5; t++) {
        dlt_graph *g = dlt_graph_create(5);
        int64_t wd[1] = {cfg[t].wn};
        dlt_t x = dlt_input(g, "x", DLT_F32, cfg[t].rank, cfg[t].dims);
        dlt_t w = dlt_param(g, "w", 1, wd, dlt_init_uniform(0.1, 0.4));
        dlt_t y = dlt_prelu(g, x, w);
        ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
        int64_t n = dlt_shape_numel(dlt_shape_of(g, x));
        int64_t c = cfg[t].rank >= 2 ? cfg[t].dims[1] : 1, inner = cfg[t].rank == 3 ? cfg[t].dims[2] : 1;
        float xd[24], yd[24], ref[24];
        ew_case kink = {"prelu", NULL, NULL, -2, 2, {0, NAN}, 2};
        fill_case(&kink, xd, (size_t)n, 0.01f, 30 + (uint64_t)t);
        const void *data[1] = {xd};
        dlt_gc_feed f = {1, &x, data, 0};
        dlt_test_eval(g, y, &f, yd);
        const float *wv = dlt_param_data(g, w);
        for (int64_t i = 0; i < n; i++) {
            float wi = cfg[t].wn == 1 ? wv[0] : wv[(i / inner) % c];
            ref[i] = xd[i] > 0 ? xd[i] : wi * xd[i];
        }
        ck_assert_double_eq(dlt_test_max_abserr(yd, ref, (size_t)n), 0); /* one f32 product */
        dlt_t wrt[2] = {x, w};
        double an, nu;
        dlt_test_gradcheck(g, y, 2, wrt, &f, 1e-3, 9, &an, &nu);
        dlt_test_assert_close("prelu", an, nu, 1e-3, 5e-3);
        dlt_graph_free(g);
    }
}
END_TEST

/* the weight gradient of prelu_dx is exercised by a penalty on d/dx */
START_TEST(prelu_second_order)
{
    dlt_graph *g = dlt_graph_create(6);
    int64_t xs[2] = {4, 3}, ws[2] = {5, 3}, pw[1] = {5};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, xs);
    dlt_t w = dlt_param(g, "w", 2, ws, dlt_init_uniform(-1, 1));
    dlt_t a = dlt_param(g, "a", 1, pw, dlt_init_uniform(0.1, 0.4));
    dlt_t y = dlt_prelu(g, dlt_matmul(g, x, w, 0, 1), a), gx;
    /* square the prelu output so that second derivatives reach every input */
    ck_assert_int_eq(dlt_grad(g, dlt_sum(g, dlt_mul(g, y, y), 0, NULL, 0), 1, &x, &gx), DLT_OK);
    float xd[12];
    dlt_test_fill_uniform(xd, 12, -1, 1, 7);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_t wrt[3] = {w, a, x};
    double an, nu;
    dlt_test_gradcheck(g, dlt_mul(g, gx, gx), 3, wrt, &f, 1e-3, 8, &an, &nu);
    dlt_test_assert_close("prelu 2nd", an, nu, 2e-3, 2e-4);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- pow_tensor */
START_TEST(pow_tensor_forward_and_gradients)
{
    dlt_graph *g = dlt_graph_create(7);
    int64_t as[2] = {2, 3}, bs[1] = {3};
    dlt_t a = dlt_input(g, "a", DLT_F32, 2, as);
    dlt_t b = dlt_param(g, "b", 1, bs, dlt_init_uniform(-1.5, 2.5));
    dlt_t y = dlt_pow_tensor(g, a, b);
    float ad[6], yd[6], ref[6];
    dlt_test_fill_uniform(ad, 6, 0.3f, 2.5f, 12);
    const void *data[1] = {ad};
    dlt_gc_feed f = {1, &a, data, 0};
    dlt_test_eval(g, y, &f, yd);
    const float *bv = dlt_param_data(g, b);
    for (int i = 0; i < 6; i++)
        ref[i] = (float)exp(bv[i % 3] * log((double)ad[i]));
    ck_assert_double_le(dlt_test_max_relerr(yd, ref, 6, 1e-6), 2.5e-7);
    dlt_t wrt[2] = {a, b}, gx;
    double an, nu;
    dlt_test_gradcheck(g, y, 2, wrt, &f, 1e-3, 13, &an, &nu);
    dlt_test_assert_close("pow_tensor", an, nu, 1e-3, 5e-3);
    /* second order through the composite gradient */
    ck_assert_int_eq(dlt_grad(g, dlt_sum(g, y, 0, NULL, 0), 1, &a, &gx), DLT_OK);
    dlt_test_gradcheck(g, dlt_mul(g, gx, gx), 2, wrt, &f, 1e-3, 14, &an, &nu);
    dlt_test_assert_close("pow_tensor 2nd", an, nu, 2e-3, 2e-4);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- errors */
static void expect_error(dlt_graph *g, dlt_t v, dlt_status st, const char *msg)
{
    ck_assert_int_eq(v, -1);
    ck_assert_int_eq(dlt_graph_status(g), st);
    ck_assert_str_eq(dlt_graph_errmsg(g), msg);
    dlt_graph_free(g);
}

START_TEST(bad_arguments_have_exact_messages)
{
    int64_t s3[1] = {3}, s234[3] = {2, 3, 4}, s4[1] = {4};
    dlt_graph *g = dlt_graph_create(1);
    expect_error(g, dlt_ln(g, dlt_input(g, "labels", DLT_I32, 1, s3)), DLT_ERR_DTYPE,
                 "log 'log': input must be f32 (inputs: 'labels' i32[3])");
    g = dlt_graph_create(1);
    dlt_scope_push(g, "enc");
    expect_error(g, dlt_gelu(g, dlt_input(g, "ids", DLT_U8, 1, s3), DLT_GELU_TANH), DLT_ERR_DTYPE,
                 "gelu_tanh 'enc.gelu_tanh': input must be f32 (inputs: 'ids' u8[3])");
    g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, s234);
    expect_error(g, dlt_prelu(g, x, dlt_param(g, "w", 1, s4, dlt_init_const(0.25))), DLT_ERR_SHAPE,
                 "prelu 'prelu': weight must be [1] or [3] (the channels on axis 1) "
                 "(inputs: 'x' f32[2,3,4], 'w' f32[4])");
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 3, s234);
    expect_error(g, dlt_pow_tensor(g, x, dlt_input(g, "e", DLT_F32, 1, s3)), DLT_ERR_SHAPE,
                 "pow_tensor 'pow_tensor': shapes do not broadcast (axis 2: 4 vs 3) "
                 "(inputs: 'x' f32[2,3,4], 'e' f32[3])");
    g = dlt_graph_create(1);
    expect_error(g, dlt_softplus(g, dlt_input(g, "x", DLT_F32, 1, s3), 0.f, 20.f), DLT_ERR_INVALID,
                 "softplus: beta must be positive and finite, got 0");
    g = dlt_graph_create(1);
    expect_error(g, dlt_clamp(g, dlt_input(g, "x", DLT_F32, 1, s3), NAN, 1.f), DLT_ERR_INVALID,
                 "clamp: min and max must not be NaN");
    g = dlt_graph_create(1);
    expect_error(g, dlt_pow(g, dlt_input(g, "x", DLT_F32, 1, s3), INFINITY), DLT_ERR_INVALID,
                 "pow: exponent must be finite, got inf");
    g = dlt_graph_create(1);
    expect_error(g, dlt_gelu(g, dlt_input(g, "x", DLT_F32, 1, s3), (dlt_gelu_approx)7), DLT_ERR_INVALID,
                 "gelu: unknown approximation 7");
    /* sticky: a failed input propagates without a new message */
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 1, s3);
    ck_assert_int_eq(dlt_sigmoid(g, dlt_softplus(g, x, -1.f, 20.f)), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "softplus: beta must be positive and finite, got -1");
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    dlt_set_num_threads(2);
    Suite *s = suite_create("unary_math");
    TCase *tc = tcase_create("unary_math");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, forward_matches_naive, 0, NCASES);
    tcase_add_loop_test(tc, gradients_match_finite_differences, 0, NCASES);
    tcase_add_loop_test(tc, derivative_chain_matches_finite_differences, 0, NCASES);
    tcase_add_test(tc, derivative_order_beyond_closed_forms_is_an_error);
    tcase_add_loop_test(tc, second_order_matches_finite_differences, 0, NCASES);
    tcase_add_loop_test(tc, gelu_forward_keeps_its_derivative, 0, 2);
    tcase_add_test(tc, prelu_forward_and_gradients);
    tcase_add_test(tc, prelu_second_order);
    tcase_add_test(tc, pow_tensor_forward_and_gradients);
    tcase_add_test(tc, bad_arguments_have_exact_messages);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
