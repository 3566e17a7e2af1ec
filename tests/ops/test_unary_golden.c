/* The unary family against PyTorch (fixtures from tests/fixtures/unary_make_fixtures.py):
 * forward, gradient and a second-order product for every elementwise function
 * (GELU in both forms included) and for softmax / log-softmax. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

#ifndef UNARY_SRCDIR
#define UNARY_SRCDIR "."
#endif

static size_t read_fixture(const char *file, const char *dset, float **out)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", top ? top : UNARY_SRCDIR, file);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "cannot open fixture %s", path);
    hid_t ds = H5Dopen2(f, dset, H5P_DEFAULT);
    ck_assert_msg(ds >= 0, "%s: no dataset %s", path, dset);
    hid_t sp = H5Dget_space(ds);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    *out = malloc((size_t)n * sizeof(float));
    ck_assert_int_ge(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out), 0);
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    return (size_t)n;
}

/* y = f(x); gx = d sum(y dy)/dx; ggx = d sum(gx v)/dx, evaluated in one plan */
static void eval_three(dlt_graph *g, dlt_t x, dlt_t y, const float *xd, const float *dyd, const float *vd,
                       float *yo, float *gxo, float *ggxo)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    dlt_t dyc = dlt_constant(g, DLT_F32, s->ndim, s->dim, dyd);
    dlt_t vc = dlt_constant(g, DLT_F32, s->ndim, s->dim, vd);
    dlt_t gx, ggx;
    ck_assert_msg(dlt_grad(g, dlt_sum(g, dlt_mul(g, y, dyc), 0, NULL, 0), 1, &x, &gx) == DLT_OK, "%s",
                  dlt_errmsg());
    ck_assert_msg(dlt_grad(g, dlt_sum(g, dlt_mul(g, gx, vc), 0, NULL, 0), 1, &x, &ggx) == DLT_OK, "%s",
                  dlt_errmsg());
    dlt_t outs[3] = {y, gx, ggx};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 3, outs, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    size_t bytes = dlt_shape_bytes(s);
    memcpy(dlt_plan_data(p, x), xd, bytes);
    ck_assert_msg(dlt_plan_run(p, NULL) == DLT_OK, "%s", dlt_errmsg());
    memcpy(yo, dlt_plan_data(p, y), bytes);
    memcpy(gxo, dlt_plan_data(p, gx), bytes);
    memcpy(ggxo, dlt_plan_data(p, ggx), bytes);
    dlt_plan_free(p);
}

static dlt_t apply_fn(dlt_graph *g, const char *name, dlt_t x)
{
    if (!strcmp(name, "gelu"))
        return dlt_gelu(g, x, DLT_GELU_EXACT);
    if (!strcmp(name, "gelu_tanh"))
        return dlt_gelu(g, x, DLT_GELU_TANH);
    if (!strcmp(name, "sigmoid"))
        return dlt_sigmoid(g, x);
    if (!strcmp(name, "tanh"))
        return dlt_tanh(g, x);
    if (!strcmp(name, "softplus"))
        return dlt_softplus(g, x, 2.f, 5.f);
    if (!strcmp(name, "softplus_default"))
        return dlt_softplus(g, x, 1.f, 20.f);
    if (!strcmp(name, "elu"))
        return dlt_elu(g, x, 0.7f);
    if (!strcmp(name, "selu"))
        return dlt_selu(g, x);
    if (!strcmp(name, "leaky_relu"))
        return dlt_leaky_relu(g, x, 0.02f);
    if (!strcmp(name, "exp"))
        return dlt_exp(g, x);
    if (!strcmp(name, "log"))
        return dlt_ln(g, x);
    if (!strcmp(name, "sqrt"))
        return dlt_sqrt(g, x);
    if (!strcmp(name, "rsqrt"))
        return dlt_rsqrt(g, x);
    if (!strcmp(name, "pow"))
        return dlt_pow(g, x, 2.5f);
    if (!strcmp(name, "pow_int"))
        return dlt_pow(g, x, 3.f);
    if (!strcmp(name, "abs"))
        return dlt_abs(g, x);
    if (!strcmp(name, "clamp"))
        return dlt_clamp(g, x, -0.5f, 0.7f);
    return dlt_square(g, x);
}

static const char *act_names[] = {"gelu", "gelu_tanh", "sigmoid", "tanh", "softplus", "softplus_default",
                                  "elu", "selu", "leaky_relu", "exp", "log", "sqrt", "rsqrt", "pow",
                                  "pow_int", "abs", "clamp", "square"};
#define NACT ((int)(sizeof act_names / sizeof act_names[0]))

/* The brief: 1e-5 relative. Ours are double evaluations rounded once; torch's
 * f32 formulas carry a few ulp (~3e-7 relative), and a difference of nearly
 * equal terms (e.g. f'' of tanh-GELU at large |x|) is compared to an absolute
 * floor of 1e-6, two orders above f32 rounding of O(1) intermediates. */
#define GOLD_RTOL 1e-5
#define GOLD_ATOL 1e-6

/* max_i |a_i - b_i| / (rtol |b_i| + atol): <= 1 passes; prints the worst element */
static double gold_err(const char *what, const float *x, const float *a, const float *b, size_t n)
{
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (GOLD_RTOL * fabs(b[i]) + GOLD_ATOL);
        if (!(e <= worst)) /* NaN counts as the worst */
            worst = e, wi = i;
    }
    if (!(worst <= 1))
        printf("  %s: worst at x[%zu] = %.9g: ours %.9g torch %.9g\n", what, wi, x ? x[wi] : NAN, a[wi], b[wi]);
    return worst;
}

START_TEST(elementwise_match_pytorch)
{
    const char *name = act_names[_i];
    char ds[128];
    float *x, *y, *dy, *gx, *v, *ggx;
#define RD(var, key) (snprintf(ds, sizeof ds, "/%s/" key, name), read_fixture("unary_act.h5", ds, &(var)))
    size_t n = RD(x, "x");
    RD(y, "y"), RD(dy, "dy"), RD(gx, "gx"), RD(v, "v"), RD(ggx, "ggx");
#undef RD
    dlt_graph *g = dlt_graph_create(1);
    int64_t dims[1] = {(int64_t)n};
    dlt_t xi = dlt_input(g, "x", DLT_F32, 1, dims);
    dlt_t yv = apply_fn(g, name, xi);
    ck_assert_msg(yv >= 0, "%s", dlt_graph_errmsg(g));
    float *yo = malloc(n * sizeof(float)), *go = malloc(n * sizeof(float)), *ggo = malloc(n * sizeof(float));
    eval_three(g, xi, yv, x, dy, v, yo, go, ggo);
    double ey = gold_err("y", x, yo, y, n), eg = gold_err("grad", x, go, gx, n);
    double egg = gold_err("2nd", x, ggo, ggx, n);
    printf("%-16s error / tolerance: y %.3f  grad %.3f  2nd %.3f\n", name, ey, eg, egg);
    ck_assert_msg(ey <= 1, "%s forward: %g", name, ey);
    ck_assert_msg(eg <= 1, "%s gradient: %g", name, eg);
    ck_assert_msg(egg <= 1, "%s second order: %g", name, egg);
    free(x), free(y), free(dy), free(gx), free(v), free(ggx), free(yo), free(go), free(ggo);
    dlt_graph_free(g);
}
END_TEST

START_TEST(softmax_match_pytorch)
{
    static const struct {
        const char *grp;
        int log_form, axis;
    } cases[] = {{"softmax_1", 0, 1}, {"softmax_-1", 0, -1}, {"log_softmax_0", 1, 0}, {"log_softmax_2", 1, 2}};
    char ds[128];
    float *x, *y, *dy, *gx, *v, *ggx;
    size_t n = read_fixture("unary_softmax.h5", "/x", &x);
#define RD(var, key) (snprintf(ds, sizeof ds, "/%s/" key, cases[_i].grp), read_fixture("unary_softmax.h5", ds, &(var)))
    RD(y, "y"), RD(dy, "dy"), RD(gx, "gx"), RD(v, "v"), RD(ggx, "ggx");
#undef RD
    dlt_graph *g = dlt_graph_create(1);
    int64_t dims[3] = {3, 4, 5};
    dlt_t xi = dlt_input(g, "x", DLT_F32, 3, dims);
    dlt_t yv = cases[_i].log_form ? dlt_log_softmax(g, xi, cases[_i].axis) : dlt_softmax(g, xi, cases[_i].axis);
    float *yo = malloc(n * sizeof(float)), *go = malloc(n * sizeof(float)), *ggo = malloc(n * sizeof(float));
    eval_three(g, xi, yv, x, dy, v, yo, go, ggo);
    double ey = gold_err("y", x, yo, y, n), eg = gold_err("grad", x, go, gx, n);
    double egg = gold_err("2nd", x, ggo, ggx, n);
    printf("%-16s error / tolerance: y %.3f  grad %.3f  2nd %.3f\n", cases[_i].grp, ey, eg, egg);
    ck_assert_msg(ey <= 1 && eg <= 1 && egg <= 1, "%s: %g %g %g", cases[_i].grp, ey, eg, egg);
    free(x), free(y), free(dy), free(gx), free(v), free(ggx), free(yo), free(go), free(ggo);
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    dlt_set_num_threads(2);
    Suite *s = suite_create("unary_golden");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, elementwise_match_pytorch, 0, NACT);
    tcase_add_loop_test(tc, softmax_match_pytorch, 0, 4);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
