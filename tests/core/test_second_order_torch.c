/* Second-order autodiff against PyTorch (tests/fixtures/second_order.h5, made
 * by tests/fixtures/second_order_make_fixtures.py): the WGAN-GP penalty
 * P = mean_i (||dD/dx_i||_2 - 1)^2 of a small MLP critic and of a small conv
 * critic, D the sum of the critic's outputs, and dP/d(every parameter, x) —
 * the gradient of a gradient, compared with torch.autograd.grad(create_graph=True). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlt_ops.h"
#include "dlt_test.h"

#define MAXP 8

typedef struct {
    dlt_graph *g;
    dlt_t x, params[MAXP];
    int nparams;
} critic;

static dlt_t add_param(critic *c, const char *name, int ndim, const int64_t *dims)
{
    ck_assert_int_lt(c->nparams, MAXP);
    dlt_t v =
        dlt_param(c->g, name, ndim, dims, dlt_init_const(0)); /* values come from the fixture */
    c->params[c->nparams++] = v;
    return v;
}

static dlt_t linear_layer(critic *c, const char *scope, dlt_t h, int64_t fin, int64_t fout)
{
    dlt_scope_push(c->g, scope);
    dlt_t w = add_param(c, "weight", 2, (const int64_t[]){fout, fin});
    dlt_t b = add_param(c, "bias", 1, (const int64_t[]){fout});
    dlt_scope_pop(c->g);
    return dlt_linear(c->g, h, w, b);
}

static dlt_t conv_layer(critic *c, const char *scope, dlt_t h, int64_t cin, int64_t cout, int k,
                        int stride)
{
    dlt_scope_push(c->g, scope);
    dlt_t w = add_param(c, "weight", 4, (const int64_t[]){cout, cin, k, k});
    dlt_t b = add_param(c, "bias", 1, (const int64_t[]){cout});
    dlt_scope_pop(c->g);
    dlt_conv2d_opts o = {.stride = {stride, stride}, .padding = {1, 1}};
    return dlt_conv2d(c->g, h, w, b, &o);
}

/* x [6, 5] -> Linear(5, 16) -> LeakyReLU(0.2) -> Linear(16, 16) -> tanh -> Linear(16, 1) */
static dlt_t build_mlp(critic *c)
{
    c->x = dlt_input(c->g, "x", DLT_F32, 2, (const int64_t[]){6, 5});
    dlt_t h = dlt_leaky_relu(c->g, linear_layer(c, "fc1", c->x, 5, 16), 0.2f);
    h = dlt_tanh(c->g, linear_layer(c, "fc2", h, 16, 16));
    return linear_layer(c, "fc3", h, 16, 1);
}

/* x [3, 2, 8, 8] -> Conv2d(2, 4, 3, s1, p1) -> LeakyReLU(0.2) -> Conv2d(4, 8, 4, s2, p1)
 * -> LeakyReLU(0.2) -> flatten -> Linear(128, 1) */
static dlt_t build_conv(critic *c)
{
    c->x = dlt_input(c->g, "x", DLT_F32, 4, (const int64_t[]){3, 2, 8, 8});
    dlt_t h = dlt_leaky_relu(c->g, conv_layer(c, "conv1", c->x, 2, 4, 3, 1), 0.2f);
    h = dlt_leaky_relu(c->g, conv_layer(c, "conv2", h, 4, 8, 4, 2), 0.2f);
    return linear_layer(c, "fc", dlt_flatten(c->g, h, 1, -1), 8 * 4 * 4, 1);
}

/* P = mean_i (sqrt(sum_j g_ij^2) - 1)^2 over the samples (axis 0) of g = dD/dx;
 * no epsilon under the root, as in the fixture (the norms are 1.6 to 3.6). */
static dlt_t gradient_penalty(critic *c, dlt_t y)
{
    dlt_graph *g = c->g;
    dlt_t d = dlt_sum(g, y, 0, NULL, 0), gx;
    ck_assert_msg(dlt_grad(g, d, 1, &c->x, &gx) == DLT_OK, "%s", dlt_errmsg());
    int nd = dlt_shape_of(g, gx)->ndim, axes[DLT_MAX_DIMS];
    for (int i = 1; i < nd; i++)
        axes[i - 1] = i;
    dlt_t norm = dlt_sqrt(g, dlt_sum(g, dlt_square(g, gx), nd - 1, axes, 0));
    return dlt_mean(g, dlt_square(g, dlt_affine(g, norm, 1.f, -1.f)), 0, NULL, 0);
}

static size_t numel(dlt_graph *g, dlt_t v)
{
    return (size_t)dlt_shape_numel(dlt_shape_of(g, v));
}

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs((double)a[i]) > m ? fabs((double)a[i]) : m;
    return m;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The reference is PyTorch in float64 from the same f32 inputs, rounded once;
 * we run forward, backward and double backward in f32 (dot products of <= 128
 * terms, six dependent stages). Errors are measured against each tensor's
 * scale: |ours - ref| <= TOL * max(|ref_i|, max_j |ref_j|), i.e. a relative
 * floor of the tensor's largest magnitude (1 for the all-zero tensors: the conv
 * critic is piecewise linear, so dP/dx and dP/d(bias) vanish exactly, as does
 * the last bias's gradient in both). PyTorch's own float32 run is within 5.4e-7
 * of the float64 values on this scale (printed beside ours; dltrain: 4.3e-7), so
 * 1e-5 leaves a 20x margin for another summation order while a wrong or missing
 * second-order term (O(1) of the scale) fails it. A purely elementwise 1e-5
 * would not do: small entries come from cancelling sums, and even PyTorch's f32
 * run is 3.4e-5 off on them with a floor of 1% of the scale. */
#define TOL 1e-5

static void check_critic(const char *name, dlt_t (*build)(critic *))
{
    critic c = {.g = dlt_graph_create(1)};
    dlt_graph *g = c.g;
    dlt_t pen = gradient_penalty(&c, build(&c));
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s: %s", name, dlt_graph_errmsg(g));

    /* outputs: P, then dP/d(params in creation order), then dP/dx */
    int nwrt = c.nparams + 1;
    dlt_t wrt[MAXP + 1], outs[MAXP + 2];
    memcpy(wrt, c.params, (size_t)c.nparams * sizeof *wrt);
    wrt[c.nparams] = c.x;
    outs[0] = pen;
    ck_assert_msg(dlt_grad(g, pen, nwrt, wrt, outs + 1) == DLT_OK, "%s: %s", name, dlt_errmsg());
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, nwrt + 1, outs, NULL, &p) == DLT_OK, "%s: %s", name,
                  dlt_errmsg());
    ck_assert_msg(dlt_plan_verify(p) == DLT_OK, "%s: %s", name, dlt_errmsg());

    hid_t f = dlt_test_fixture_open("second_order.h5");
    hid_t grp = H5Gopen2(f, name, H5P_DEFAULT);
    ck_assert_msg(grp >= 0, "no group %s", name);
    char path[256];
    for (int i = 0; i < c.nparams; i++) {
        snprintf(path, sizeof path, "params/%s", dlt_name_of(g, c.params[i]));
        dlt_test_h5_read(grp, path, H5T_NATIVE_FLOAT, dlt_param_data(g, c.params[i]),
                         numel(g, c.params[i]));
    }
    dlt_test_h5_read(grp, "x", H5T_NATIVE_FLOAT, dlt_plan_data(p, c.x), numel(g, c.x));

    double t0 = now();
    ck_assert_msg(dlt_plan_run(p, NULL) == DLT_OK, "%s: %s", name, dlt_errmsg());
    double t1 = now();
    printf("%s: %d plan steps, one run %.3f ms\n", name, dlt_plan_num_steps(p), 1e3 * (t1 - t0));

    for (int k = 0; k <= nwrt; k++) {
        const char *what = k == 0 ? "P" : k == nwrt ? "x" : dlt_name_of(g, c.params[k - 1]);
        size_t n = numel(g, outs[k]);
        float *ref = malloc(n * sizeof *ref), *t32 = malloc(n * sizeof *t32);
        const float *ours = dlt_plan_data(p, outs[k]);
        ck_assert_ptr_nonnull(ours);
        snprintf(path, sizeof path, k ? "grad/%s" : "%s", what);
        dlt_test_h5_read(grp, path, H5T_NATIVE_FLOAT, ref, n);
        snprintf(path, sizeof path, k ? "torch_f32/grad/%s" : "torch_f32/%s", what);
        dlt_test_h5_read(grp, path, H5T_NATIVE_FLOAT, t32, n);
        double scale = max_abs(ref, n), floor = scale > 0 ? scale : 1;
        double err = dlt_test_max_relerr(ours, ref, n, floor);
        double err_t32 = dlt_test_max_relerr(t32, ref, n, floor);
        printf("  %-14s max|ref| %-9.4g dltrain err %-9.2e torch f32 err %.2e\n", k ? what : "P",
               scale, err, err_t32);
        ck_assert_msg(err <= TOL, "%s dP/d%s: error %g (max |ref| %g)", name, what, err, scale);
        free(ref);
        free(t32);
    }
    H5Gclose(grp);
    H5Fclose(f);
    dlt_plan_free(p);
    dlt_graph_free(g);
}

START_TEST(mlp_penalty_matches_pytorch)
{
    check_critic("mlp", build_mlp);
}
END_TEST

START_TEST(conv_penalty_matches_pytorch)
{
    check_critic("conv", build_conv);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("second_order_torch");
    TCase *tc = tcase_create("wgan_gp");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, mlp_penalty_matches_pytorch);
    tcase_add_test(tc, conv_penalty_matches_pytorch);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
