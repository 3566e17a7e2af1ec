/* Nearest and bilinear upsampling: forward against naive loops and a
 * hand-computed PyTorch case, gradients of orders 1-3 against finite
 * differences, and the argument errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

typedef struct {
    int n, c, h, w, sh, sw;
} up_case;

static const up_case cases[] = {
    {1, 1, 2, 2, 2, 2}, {2, 3, 5, 4, 2, 3}, {1, 2, 3, 7, 3, 1}, {3, 1, 1, 4, 4, 2}, {2, 2, 6, 5, 1, 2},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* torch: src = (dst + 0.5) / scale - 0.5 clamped at 0, neighbours floor(src)
 * and floor(src) + 1 clamped at the edge; here in double */
static void lin_src(int64_t o, int s, int64_t n, int64_t *i0, int64_t *i1, double *l)
{
    double src = ((double)o + 0.5) / s - 0.5;
    if (src < 0)
        src = 0;
    *i0 = (int64_t)floor(src);
    *i1 = *i0 + 1 < n ? *i0 + 1 : n - 1;
    *l = src - (double)*i0;
}

static void up_ref(const up_case *k, int bilinear, const float *x, float *y)
{
    int64_t oh = (int64_t)k->h * k->sh, ow = (int64_t)k->w * k->sw;
    for (int p = 0; p < k->n * k->c; p++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++) {
                const float *xp = x + (int64_t)p * k->h * k->w;
                double v;
                if (!bilinear) {
                    v = xp[(i / k->sh) * k->w + j / k->sw];
                } else {
                    int64_t a0, a1, b0, b1;
                    double la, lb;
                    lin_src(i, k->sh, k->h, &a0, &a1, &la);
                    lin_src(j, k->sw, k->w, &b0, &b1, &lb);
                    v = (1 - la) * ((1 - lb) * xp[a0 * k->w + b0] + lb * xp[a0 * k->w + b1]) +
                        la * ((1 - lb) * xp[a1 * k->w + b0] + lb * xp[a1 * k->w + b1]);
                }
                y[(p * oh + i) * ow + j] = (float)v;
            }
}

static dlt_t up(dlt_graph *g, dlt_t x, int bilinear, int sh, int sw)
{
    return bilinear ? dlt_upsample_bilinear2d(g, x, sh, sw) : dlt_upsample_nearest2d(g, x, sh, sw);
}

static void forward_case(int i, int bilinear)
{
    const up_case *k = &cases[i];
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {k->n, k->c, k->h, k->w};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs);
    dlt_t y = up(g, x, bilinear, k->sh, k->sw);
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    int64_t nx = dlt_shape_numel(dlt_shape_of(g, x)), ny = dlt_shape_numel(dlt_shape_of(g, y));
    ck_assert_int_eq(ny, nx * k->sh * k->sw);
    float *xd = malloc((size_t)nx * sizeof *xd), *yd = malloc((size_t)ny * sizeof *yd);
    float *ref = malloc((size_t)ny * sizeof *ref);
    dlt_test_fill_uniform(xd, (size_t)nx, -1, 1, 4 + (uint64_t)i);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_test_eval(g, y, &f, yd);
    up_ref(k, bilinear, xd, ref);
    /* nearest copies; bilinear weights are k / (2 s) fractions, rounded once
     * in f32 against the double reference */
    ck_assert_double_le(dlt_test_max_relerr(yd, ref, (size_t)ny, 1.0), bilinear ? 1e-6 : 0);
    free(xd), free(yd), free(ref);
    dlt_graph_free(g);
}

START_TEST(nearest_forward_matches_naive) { forward_case(_i, 0); }
END_TEST
START_TEST(bilinear_forward_matches_naive) { forward_case(_i, 1); }
END_TEST

/* torch.nn.Upsample(scale_factor=2, mode='bilinear')(tensor([[[[1., 2.], [3., 4.]]]])) */
START_TEST(bilinear_matches_pytorch_by_hand)
{
    static const float x[4] = {1, 2, 3, 4};
    static const float want[16] = {1.00f, 1.25f, 1.75f, 2.00f, 1.50f, 1.75f, 2.25f, 2.50f,
                                   2.50f, 2.75f, 3.25f, 3.50f, 3.00f, 3.25f, 3.75f, 4.00f};
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {1, 1, 2, 2};
    dlt_t xv = dlt_input(g, "x", DLT_F32, 4, xs);
    dlt_t y = dlt_upsample_bilinear2d(g, xv, 2, 2);
    float yd[16];
    const void *data[1] = {x};
    dlt_gc_feed f = {1, &xv, data, 0};
    dlt_test_eval(g, y, &f, yd);
    ck_assert_double_le(dlt_test_max_abserr(yd, want, 16), 0);
    dlt_graph_free(g);
}
END_TEST

/* y = up(x); g1 = d sum(y^2) / dx (the backward op); g2 = d sum(g1^2) / dx
 * (the backward op's rule). All linear in x: central differences are exact
 * but for f32 rounding of the loss, ~1e-7 |L| / eps with eps = 0.05. */
static void grad_case(int i, int bilinear, int order)
{
    const up_case *k = &cases[i];
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {k->n, k->c, k->h, k->w};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs);
    dlt_t out = up(g, x, bilinear, k->sh, k->sw);
    for (int ord = 1; ord < order; ord++) {
        dlt_t l = dlt_sum(g, dlt_mul(g, out, out), 0, NULL, 0), gx;
        ck_assert_int_eq(dlt_grad(g, l, 1, &x, &gx), DLT_OK);
        out = gx;
    }
    int64_t nx = dlt_shape_numel(dlt_shape_of(g, x));
    float *xd = malloc((size_t)nx * sizeof *xd);
    dlt_test_fill_uniform(xd, (size_t)nx, -1, 1, 9 + (uint64_t)i);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    double an, nu;
    dlt_test_gradcheck(g, out, 1, &x, &f, 0.05, 40 + (uint64_t)(i + order), &an, &nu);
    dlt_test_assert_close(bilinear ? "bilinear" : "nearest", an, nu, 1e-4, 1e-5);
    free(xd);
    dlt_graph_free(g);
}

START_TEST(nearest_gradients) { grad_case(_i % NCASES, 0, 1 + _i / NCASES); }
END_TEST
START_TEST(bilinear_gradients) { grad_case(_i % NCASES, 1, 1 + _i / NCASES); }
END_TEST

START_TEST(argument_errors)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {1, 2, 3, 3};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs);
    ck_assert_int_eq(dlt_upsample_bilinear2d(g, x, 0, 2), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "upsample_bilinear2d: scale factors must be positive (got 0, 2)");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 3, xs);
    ck_assert_int_eq(dlt_upsample_nearest2d(g, x, 2, 2), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "upsample_nearest2d 'upsample_nearest2d': input must be NCHW "
                                          "(rank 4) (inputs: 'x' f32[1,2,3])");
    dlt_graph_free(g);
}
END_TEST

static Suite *up_suite(void)
{
    Suite *s = suite_create("upsample");
    TCase *tc = tcase_create("upsample");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, nearest_forward_matches_naive, 0, NCASES);
    tcase_add_loop_test(tc, bilinear_forward_matches_naive, 0, NCASES);
    tcase_add_test(tc, bilinear_matches_pytorch_by_hand);
    tcase_add_loop_test(tc, nearest_gradients, 0, 3 * NCASES);
    tcase_add_loop_test(tc, bilinear_gradients, 0, 3 * NCASES);
    tcase_add_test(tc, argument_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dlt_test_run(up_suite()); }
