/* Max, average and global average pooling: forward against naive loops,
 * gradients (first, second and third order, so every backward op's own rule
 * runs) against finite differences, and the argument errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

typedef struct {
    int n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, excl;
} pool_case;

/* odd sizes, batch 1, non-square windows and strides, overlapping windows,
 * padding, dilation (max only) and count_include_pad both ways (avg only) */
static const pool_case cases[] = {
    {1, 1, 5, 5, 2, 2, 2, 2, 0, 0, 1, 1, 0},
    {2, 3, 7, 9, 3, 3, 2, 2, 1, 1, 1, 1, 0},
    {1, 2, 8, 7, 3, 2, 1, 2, 1, 0, 2, 1, 1},
    {3, 2, 6, 6, 3, 3, 3, 3, 1, 1, 1, 1, 1},
    {2, 3, 9, 10, 2, 3, 1, 1, 1, 1, 2, 2, 0},
    {2, 1, 4, 11, 4, 5, 1, 3, 2, 2, 1, 1, 1},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static dlt_pool2d_opts opts_of(const pool_case *k, int avg)
{
    dlt_pool2d_opts o = {{k->kh, k->kw}, {k->sh, k->sw}, {k->ph, k->pw}, {avg ? 1 : k->dh, avg ? 1 : k->dw},
                         avg ? k->excl : 0};
    return o;
}

static int64_t out_dim(int64_t in, int k, int s, int p, int d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

static void pool_ref(const pool_case *k, int avg, const float *x, float *y)
{
    int dh = avg ? 1 : k->dh, dw = avg ? 1 : k->dw;
    int64_t oh = out_dim(k->h, k->kh, k->sh, k->ph, dh), ow = out_dim(k->w, k->kw, k->sw, k->pw, dw);
    for (int p = 0; p < k->n * k->c; p++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++) {
                double best = -INFINITY, sum = 0;
                int cnt = 0;
                for (int a = 0; a < k->kh; a++)
                    for (int b = 0; b < k->kw; b++) {
                        int64_t ih = i * k->sh - k->ph + a * dh, iw = j * k->sw - k->pw + b * dw;
                        if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w)
                            continue;
                        double v = x[(p * k->h + ih) * k->w + iw];
                        best = v > best ? v : best;
                        sum += v;
                        cnt++;
                    }
                double div = avg && k->excl ? cnt : k->kh * k->kw;
                y[(p * oh + i) * ow + j] = (float)(avg ? sum / div : best);
            }
}

/* Distinct values 0.01 apart, centred on 0: finite differences moving each by
 * at most eps = 4e-3 never change a window's argmax. */
static float *distinct_buf(int64_t n, uint64_t seed)
{
    float *p = malloc((size_t)n * sizeof *p), *u = malloc((size_t)n * sizeof *u);
    dlt_test_fill_uniform(u, (size_t)n, 0, 1, seed);
    for (int64_t i = 0; i < n; i++) {
        int64_t rank = 0;
        for (int64_t j = 0; j < n; j++)
            rank += u[j] < u[i] || (u[j] == u[i] && j < i);
        p[i] = 0.01f * (float)(rank - n / 2);
    }
    free(u);
    return p;
}

typedef struct {
    dlt_graph *g;
    dlt_t x, y;
    float *xd;
} built;

static built build(const pool_case *k, int avg, uint64_t seed)
{
    built b = {dlt_graph_create(seed), -1, -1, NULL};
    int64_t xs[4] = {k->n, k->c, k->h, k->w};
    b.x = dlt_input(b.g, "x", DLT_F32, 4, xs);
    dlt_pool2d_opts o = opts_of(k, avg);
    b.y = avg ? dlt_avgpool2d(b.g, b.x, &o) : dlt_maxpool2d(b.g, b.x, &o);
    ck_assert_msg(b.y >= 0, "%s", dlt_graph_errmsg(b.g));
    b.xd = distinct_buf(dlt_shape_numel(dlt_shape_of(b.g, b.x)), seed);
    return b;
}

static void forward_case(int i, int avg)
{
    const pool_case *k = &cases[i];
    built b = build(k, avg, 10 + (uint64_t)i);
    /* signed values for the forward check (max of negatives, padding never wins) */
    int64_t nx = dlt_shape_numel(dlt_shape_of(b.g, b.x)), ny = dlt_shape_numel(dlt_shape_of(b.g, b.y));
    dlt_test_fill_uniform(b.xd, (size_t)nx, -1, 1, 3 + (uint64_t)i);
    float *y = malloc((size_t)ny * sizeof *y), *ref = malloc((size_t)ny * sizeof *ref);
    const void *data[1] = {b.xd};
    dlt_gc_feed f = {1, &b.x, data, 0};
    dlt_test_eval(b.g, b.y, &f, y);
    pool_ref(k, avg, b.xd, ref);
    /* max is exact; a mean of <= 20 values rounds at ~1e-7 relative */
    ck_assert_double_le(dlt_test_max_relerr(y, ref, (size_t)ny, 1.0), avg ? 1e-6 : 0);
    free(y), free(ref), free(b.xd);
    dlt_graph_free(b.g);
}

START_TEST(maxpool_forward_matches_naive) { forward_case(_i, 0); }
END_TEST
START_TEST(avgpool_forward_matches_naive) { forward_case(_i, 1); }
END_TEST

/* Orders 1, 2 and 3: y = pool(x), g1 = d sum(y^2) / dx, g2 = d sum(g1^2) / dx.
 * Checking g1 runs the backward op's rule (gather for max pooling), checking
 * g2 runs the rule of that op in turn, so every op of the family has its rule
 * exercised. With the argmax fixed (see distinct_buf) each function is linear
 * in x, so central differences are exact but for the f32 rounding of the loss,
 * ~1e-7 |L| / eps, about 1e-4 of the derivative here. */
static void grad_case(int i, int avg, int order)
{
    const pool_case *k = &cases[i];
    dlt_graph *g = dlt_graph_create(5);
    int64_t xs[4] = {k->n, k->c, k->h, k->w};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs);
    dlt_pool2d_opts o = opts_of(k, avg);
    dlt_t y = avg ? dlt_avgpool2d(g, x, &o) : dlt_maxpool2d(g, x, &o);
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    dlt_t out = y;
    for (int ord = 1; ord < order; ord++) {
        dlt_t l = dlt_sum(g, dlt_mul(g, out, out), 0, NULL, 0), gx;
        ck_assert_int_eq(dlt_grad(g, l, 1, &x, &gx), DLT_OK);
        out = gx;
    }
    float *xd = distinct_buf(dlt_shape_numel(dlt_shape_of(g, x)), 20 + (uint64_t)i);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    double an, nu;
    /* average pooling has no argmax to keep: a larger step, less rounding noise */
    dlt_test_gradcheck(g, out, 1, &x, &f, avg ? 0.05 : 4e-3, 30 + (uint64_t)(i + order), &an, &nu);
    dlt_test_assert_close(avg ? "avgpool" : "maxpool", an, nu, 1e-3, 1e-4);
    free(xd);
    dlt_graph_free(g);
}

START_TEST(maxpool_gradients_match_finite_differences) { grad_case(_i, 0, 1); }
END_TEST
START_TEST(avgpool_gradients_match_finite_differences) { grad_case(_i, 1, 1); }
END_TEST
START_TEST(maxpool_higher_order) { grad_case(_i % NCASES, 0, 2 + _i / NCASES); }
END_TEST
START_TEST(avgpool_higher_order) { grad_case(_i % NCASES, 1, 2 + _i / NCASES); }
END_TEST

/* Ties go to the first maximum in scan order, so a constant image sends each
 * window's gradient to its top-left pixel. */
START_TEST(maxpool_ties_pick_first)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {1, 1, 4, 4};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs);
    dlt_pool2d_opts o = {.kernel = {2, 2}};
    dlt_t y = dlt_maxpool2d(g, x, &o);
    dlt_t l = dlt_sum(g, y, 0, NULL, 0), gx;
    ck_assert_int_eq(dlt_grad(g, l, 1, &x, &gx), DLT_OK);
    float xd[16], gd[16];
    for (int i = 0; i < 16; i++)
        xd[i] = 0.5f;
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_test_eval(g, gx, &f, gd);
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq(gd[i], (i / 4) % 2 == 0 && (i % 4) % 2 == 0 ? 1.f : 0.f);
    dlt_graph_free(g);
}
END_TEST

START_TEST(global_avgpool_matches_naive)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {3, 5, 7, 6};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs);
    dlt_t y = dlt_global_avgpool2d(g, x);
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    const dlt_shape *ys = dlt_shape_of(g, y);
    ck_assert_int_eq(ys->ndim, 2);
    ck_assert_int_eq(ys->dim[0], 3);
    ck_assert_int_eq(ys->dim[1], 5);
    float xd[630], yd[15], ref[15];
    dlt_test_fill_uniform(xd, 630, -1, 1, 2);
    for (int p = 0; p < 15; p++) {
        double s = 0;
        for (int i = 0; i < 42; i++)
            s += xd[p * 42 + i];
        ref[p] = (float)(s / 42);
    }
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_test_eval(g, y, &f, yd);
    ck_assert_double_le(dlt_test_max_relerr(yd, ref, 15, 1.0), 1e-6);
    double an, nu;
    dlt_test_gradcheck(g, y, 1, &x, &f, 0.05, 3, &an, &nu);
    /* linear: exact central difference up to f32 rounding */
    dlt_test_assert_close("global_avgpool2d", an, nu, 1e-4, 1e-5);
    dlt_graph_free(g);
}
END_TEST

static const char *pool_error(const int64_t *xs, int ndim, const dlt_pool2d_opts *o, int avg, dlt_graph **gp)
{
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, ndim, xs);
    dlt_t y = avg ? dlt_avgpool2d(g, x, o) : dlt_maxpool2d(g, x, o);
    ck_assert_int_eq(y, -1);
    *gp = g;
    return dlt_graph_errmsg(g);
}

START_TEST(argument_errors)
{
    dlt_graph *g;
    int64_t xs[4] = {2, 3, 5, 5};
    dlt_pool2d_opts big = {.kernel = {3, 3}, .padding = {2, 1}};
    ck_assert_str_eq(pool_error(xs, 4, &big, 0, &g),
                     "maxpool2d: padding (2, 1) must be at most half the kernel (3, 3)");
    dlt_graph_free(g);
    dlt_pool2d_opts dil = {.kernel = {2, 2}, .dilation = {2, 2}};
    ck_assert_str_eq(pool_error(xs, 4, &dil, 1, &g), "avgpool2d: dilation is not supported");
    dlt_graph_free(g);
    dlt_pool2d_opts k0 = {.kernel = {0, 2}};
    ck_assert_str_eq(pool_error(xs, 4, &k0, 0, &g), "maxpool2d: kernel size must be positive");
    dlt_graph_free(g);
    ck_assert_str_eq(pool_error(xs, 4, NULL, 1, &g), "avgpool2d: options with the kernel size are required");
    dlt_graph_free(g);
    dlt_pool2d_opts huge = {.kernel = {3, 8}, .padding = {1, 1}};
    ck_assert_str_eq(pool_error(xs, 4, &huge, 0, &g),
                     "maxpool2d 'maxpool2d': kernel 3x8 (dilated) larger than padded input 7x7 "
                     "(inputs: 'x' f32[2,3,5,5])");
    dlt_graph_free(g);
    dlt_pool2d_opts k2 = {.kernel = {2, 2}};
    ck_assert_ptr_nonnull(strstr(pool_error(xs, 3, &k2, 1, &g), ": input must be NCHW (rank 4)"));
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, xs);
    ck_assert_int_eq(dlt_global_avgpool2d(g, x), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "global_avgpool2d: input must be NCHW (rank 4), got 'x'");
    dlt_graph_free(g);
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, maxpool_forward_matches_naive, 0, NCASES);
    tcase_add_loop_test(tc, avgpool_forward_matches_naive, 0, NCASES);
    tcase_add_loop_test(tc, maxpool_gradients_match_finite_differences, 0, NCASES);
    tcase_add_loop_test(tc, avgpool_gradients_match_finite_differences, 0, NCASES);
    tcase_add_loop_test(tc, maxpool_higher_order, 0, 2 * NCASES);
    tcase_add_loop_test(tc, avgpool_higher_order, 0, 2 * NCASES);
    tcase_add_test(tc, maxpool_ties_pick_first);
    tcase_add_test(tc, global_avgpool_matches_naive);
    tcase_add_test(tc, argument_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dlt_test_run(pool_suite()); }
