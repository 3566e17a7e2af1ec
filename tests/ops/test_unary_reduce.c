/* Softmax / log-softmax over an axis, max / min (first index on ties),
 * variance and column sums: forward against naive loops, gradients against finite differences
 * (first and second order), in-place planning, and bad-argument messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

/* ---------------------------------------------------------------- softmax */
typedef struct {
    int rank;
    int64_t dims[3];
    int axis;
} sm_case;

static const sm_case sm_cases[] = {
    {2, {1, 5, 0}, 1}, {2, {4, 7, 0}, 0}, {2, {4, 7, 0}, -1}, {3, {2, 3, 4}, 0},
    {3, {2, 3, 4}, 1}, {3, {2, 3, 4}, 2}, {3, {3, 1, 2}, 1},  {2, {9000, 3, 0}, 1},
};
#define NSM ((int)(sizeof sm_cases / sizeof sm_cases[0]))

/* naive: loops over (outer, inner) with the axis in the middle, in double */
static void softmax_ref(const sm_case *c, const float *x, float *y, int log_form)
{
    int ax = c->axis < 0 ? c->axis + c->rank : c->axis;
    int64_t outer = 1, n = c->dims[ax], inner = 1;
    for (int i = 0; i < ax; i++)
        outer *= c->dims[i];
    for (int i = ax + 1; i < c->rank; i++)
        inner *= c->dims[i];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *px = x + o * n * inner + i;
            double m = -INFINITY, z = 0;
            for (int64_t j = 0; j < n; j++)
                m = fmax(m, px[j * inner]);
            for (int64_t j = 0; j < n; j++)
                z += exp(px[j * inner] - m);
            for (int64_t j = 0; j < n; j++) {
                double v = px[j * inner] - m;
                y[o * n * inner + i + j * inner] = (float)(log_form ? v - log(z) : exp(v) / z);
            }
        }
}

START_TEST(softmax_forward_matches_naive)
{
    const sm_case *c = &sm_cases[_i];
    for (int log_form = 0; log_form < 2; log_form++) {
        dlt_graph *g = dlt_graph_create(1);
        dlt_t x = dlt_input(g, "x", DLT_F32, c->rank, c->dims);
        dlt_t y = log_form ? dlt_log_softmax(g, x, c->axis) : dlt_softmax(g, x, c->axis);
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(g, x));
        float *xd = malloc(n * sizeof *xd), *yd = malloc(n * sizeof *yd),
              *ref = malloc(n * sizeof *ref);
        dlt_test_fill_uniform(xd, n, -5, 5, 40 + (uint64_t)_i);
        xd[0] += 1000; /* overflows exp() unless shifted by the maximum */
        softmax_ref(c, xd, ref, log_form);
        const void *data[1] = {xd};
        dlt_gc_feed f = {1, &x, data, 0};
        dlt_test_eval(g, y, &f, yd);
        /* the same double computation in a different order: a few ulp; the floor
         * covers softmax values below 1e-6 and log-softmax near 0 */
        double e = dlt_test_max_relerr(yd, ref, n, 1e-6);
        ck_assert_msg(e <= 5e-7, "case %d log %d: %g", _i, log_form, e);
        for (size_t i = 0; i < n; i++)
            ck_assert(isfinite(yd[i]) || (log_form && yd[i] == -INFINITY));
        free(xd), free(yd), free(ref);
        dlt_graph_free(g);
    }
}
END_TEST

START_TEST(softmax_gradients_first_and_second_order)
{
    const sm_case *c = &sm_cases[_i];
    if (c->dims[0] > 100)
        return; /* the big case only checks the threaded forward */
    for (int log_form = 0; log_form < 2; log_form++) {
        dlt_graph *g = dlt_graph_create(2);
        dlt_t x = dlt_input(g, "x", DLT_F32, c->rank, c->dims);
        dlt_t y = log_form ? dlt_log_softmax(g, x, c->axis) : dlt_softmax(g, x, c->axis), gx;
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(g, x));
        float xd[32];
        dlt_test_fill_uniform(xd, n, -2, 2, 50 + (uint64_t)_i);
        const void *data[1] = {xd};
        dlt_gc_feed f = {1, &x, data, 0};
        double an, nu;
        dlt_test_gradcheck(g, y, 1, &x, &f, 1e-3, 51, &an, &nu);
        /* smooth; |L| <= n: f32 loss resolution ~ulp(L)/(2 eps) ~ 1e-4 */
        dlt_test_assert_close(log_form ? "log_softmax" : "softmax", an, nu, 1e-3, 5e-4);
        /* second order: penalty on the input gradient of sum(y^2 r) (sum(y r)
         * alone has a zero gradient for log-softmax when r is constant per row) */
        float r[32];
        dlt_test_fill_uniform(r, n, -1, 1, 52);
        dlt_t rc = dlt_constant(g, DLT_F32, c->rank, c->dims, r);
        ck_assert_int_eq(
            dlt_grad(g, dlt_sum(g, dlt_mul(g, dlt_mul(g, y, y), rc), 0, NULL, 0), 1, &x, &gx),
            DLT_OK);
        dlt_test_gradcheck(g, dlt_mul(g, gx, gx), 1, &x, &f, 1e-3, 53, &an, &nu);
        printf("softmax case %d log %d: 2nd order analytic %.6f numeric %.6f\n", _i, log_form, an,
               nu);
        dlt_test_assert_close(log_form ? "log_softmax 2nd" : "softmax 2nd", an, nu, 3e-3, 2e-4);
        dlt_graph_free(g);
    }
}
END_TEST

/* A chain of in-place ops with the planner's poison mode: freed memory reads
 * as NaN, so any kernel reading a handed-over buffer would show. */
START_TEST(inplace_chain_with_poison)
{
    int64_t dims[2] = {6, 9};
    float xd[54], out[2][54], ref[54];
    dlt_test_fill_uniform(xd, 54, -3, 3, 60);
    for (int poison = 0; poison < 2; poison++) {
        dlt_graph *g = dlt_graph_create(1);
        dlt_t x = dlt_input(g, "x", DLT_F32, 2, dims);
        dlt_t y = dlt_log_softmax(
            g, dlt_softmax(g, dlt_gelu(g, dlt_tanh(g, dlt_sigmoid(g, x)), 0), 0), 1);
        dlt_plan *p;
        dlt_plan_opts o = {.poison = poison};
        ck_assert_int_eq(dlt_plan_create(g, 1, &y, &o, &p), DLT_OK);
        ck_assert_int_eq(dlt_plan_verify(p), DLT_OK);
        dlt_mem_report r;
        dlt_plan_memory(p, &r);
        ck_assert_uint_le(r.arena_bytes, 2 * 54 * sizeof(float) + 256); /* reused in place */
        memcpy(dlt_plan_data(p, x), xd, sizeof xd);
        ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
        memcpy(out[poison], dlt_plan_data(p, y), sizeof out[poison]);
        dlt_plan_free(p);
        dlt_graph_free(g);
    }
    ck_assert_int_eq(memcmp(out[0], out[1], sizeof out[0]), 0);
    /* reference: the chain in double */
    double t[54];
    for (int i = 0; i < 54; i++) {
        double v = tanh(1 / (1 + exp(-(double)xd[i])));
        t[i] = 0.5 * v * (1 + erf(v / sqrt(2.0)));
    }
    for (int j = 0; j < 9; j++) { /* softmax over axis 0 */
        double z = 0;
        for (int i = 0; i < 6; i++)
            z += exp(t[i * 9 + j]);
        for (int i = 0; i < 6; i++)
            t[i * 9 + j] = exp(t[i * 9 + j]) / z;
    }
    for (int i = 0; i < 6; i++) { /* log-softmax over axis 1 */
        double z = 0;
        for (int j = 0; j < 9; j++)
            z += exp(t[i * 9 + j]);
        for (int j = 0; j < 9; j++)
            ref[i * 9 + j] = (float)(t[i * 9 + j] - log(z));
    }
    /* four f32 roundings along the chain */
    ck_assert_double_le(dlt_test_max_relerr(out[0], ref, 54, 1e-3), 1e-6);
}
END_TEST

/* ---------------------------------------------------------------- max / min */
typedef struct {
    int naxes, axes[3], keepdim;
} rd_case;
static const rd_case rd_cases[] = {{0, {0}, 0},    {1, {0}, 0},    {1, {1}, 1},      {1, {-1}, 0},
                                   {2, {0, 2}, 1}, {2, {2, 0}, 0}, {3, {0, 1, 2}, 1}};
#define NRD ((int)(sizeof rd_cases / sizeof rd_cases[0]))

/* For x [3,4,5] and a case: group id of every element, and the group count. */
static int group_of(const rd_case *c, int64_t i, int *ngroups)
{
    int red[3] = {0, 0, 0}, idx[3] = {(int)(i / 20), (int)(i / 5 % 4), (int)(i % 5)},
        dims[3] = {3, 4, 5};
    for (int k = 0; k < c->naxes; k++)
        red[(c->axes[k] + 3) % 3] = 1;
    if (c->naxes == 0)
        red[0] = red[1] = red[2] = 1;
    int gid = 0, ng = 1;
    for (int d = 0; d < 3; d++)
        if (!red[d])
            gid = gid * dims[d] + idx[d], ng *= dims[d];
    *ngroups = ng;
    return gid;
}

/* naive max and the first-index argmax per group (row-major order = index order) */
static void max_ref(const rd_case *c, const float *x, float *m, int *arg, int *ng)
{
    for (int i = 0; i < 60; i++) {
        int gid = group_of(c, i, ng);
        if (arg[gid] < 0 || x[i] > m[gid])
            m[gid] = x[i], arg[gid] = i;
    }
}

START_TEST(max_min_forward_and_tie_gradients)
{
    const rd_case *c = &rd_cases[_i];
    int64_t dims[3] = {3, 4, 5};
    float xd[60], r[60];
    for (int i = 0; i < 60; i++) /* many ties: values in {0, 1, 2} */
        xd[i] = (float)((i * 7 + 3) % 11 % 3);
    dlt_test_fill_uniform(r, 60, -1, 1, 70);
    for (int use_min = 0; use_min < 2; use_min++) {
        dlt_graph *g = dlt_graph_create(1);
        dlt_t x = dlt_input(g, "x", DLT_F32, 3, dims);
        dlt_t y = (use_min ? dlt_min : dlt_max)(g, x, c->naxes, c->axes, c->keepdim), gx;
        const dlt_shape *ys = dlt_shape_of(g, y);
        int ng = 0, arg[60];
        float m[60], neg[60], yd[60], gd[60];
        for (int i = 0; i < 60; i++)
            arg[i] = -1, neg[i] = use_min ? -xd[i] : xd[i];
        max_ref(c, neg, m, arg, &ng);
        ck_assert_int_eq(dlt_shape_numel(ys), ng);
        ck_assert_int_eq(ys->ndim, c->keepdim ? 3 : 3 - (c->naxes ? c->naxes : 3));
        /* gradient of sum(y * r[:ng]): r[g] lands on the first extremum of group g only */
        dlt_t rc = dlt_constant(g, DLT_F32, ys->ndim, ys->dim, r);
        ck_assert_int_eq(dlt_grad(g, dlt_sum(g, dlt_mul(g, y, rc), 0, NULL, 0), 1, &x, &gx),
                         DLT_OK);
        const void *data[1] = {xd};
        dlt_gc_feed f = {1, &x, data, 0};
        dlt_test_eval(g, y, &f, yd);
        dlt_test_eval(g, gx, &f, gd);
        for (int k = 0; k < ng; k++)
            ck_assert_float_eq(yd[k], use_min ? -m[k] : m[k]);
        for (int i = 0; i < 60; i++) {
            int gi = group_of(c, i, &ng);
            ck_assert_float_eq(gd[i], arg[gi] == i ? r[gi] : 0.f);
        }
        dlt_graph_free(g);
    }
}
END_TEST

START_TEST(max_gradients_first_and_second_order)
{
    const rd_case *c = &rd_cases[_i];
    dlt_graph *g = dlt_graph_create(2);
    int64_t dims[3] = {3, 4, 5}, ws[2] = {5, 5};
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, dims), gx;
    /* parameters must exist before the first plan finalises the layout */
    dlt_t w = dlt_param(g, "w", 2, ws, dlt_init_uniform(-0.2, 0.2));
    float xd[60];
    for (int i = 0; i < 60; i++) /* distinct values >= 0.05 apart: no argmax switch within eps */
        xd[i] = 0.05f * (float)((i * 37) % 60) - 1.5f;
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    double an, nu;
    dlt_t y = dlt_max(g, x, c->naxes, c->axes, c->keepdim);
    dlt_test_gradcheck(g, y, 1, &x, &f, 1e-3, 71, &an, &nu);
    dlt_test_assert_close("max", an, nu, 1e-3,
                          2e-4); /* linear near x: exact up to f32 loss rounding */
    /* second order through max_grad / max_pick: max over a smooth map of x */
    /* x plus a small smooth term (< 0.045, under the 0.05 spacing of x) */
    dlt_t h = dlt_add(g, x, dlt_affine(g, dlt_square(g, dlt_matmul(g, x, w, 0, 0)), 0.02f, 0.f));
    dlt_t m = dlt_max(g, h, c->naxes, c->axes, c->keepdim);
    ck_assert_int_eq(dlt_grad(g, dlt_sum(g, dlt_mul(g, m, m), 0, NULL, 0), 1, &x, &gx), DLT_OK);
    dlt_t wrt[2] = {x, w};
    dlt_test_gradcheck(g, dlt_mul(g, gx, gx), 2, wrt, &f, 1e-3, 72, &an, &nu);
    printf("max case %d: 2nd order analytic %.6f numeric %.6f\n", _i, an, nu);
    dlt_test_assert_close("max 2nd", an, nu, 3e-3, 2e-4);
    dlt_graph_free(g);
}
END_TEST

START_TEST(max_nan_propagates_to_first_nan)
{
    int64_t dims[1] = {5};
    float xd[5] = {1, NAN, 3, NAN, 2}, yd, gd[5];
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 1, dims), gx;
    dlt_t y = dlt_max(g, x, 0, NULL, 0);
    ck_assert_int_eq(dlt_grad(g, y, 1, &x, &gx), DLT_OK);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_test_eval(g, y, &f, &yd);
    dlt_test_eval(g, gx, &f, gd);
    ck_assert(isnan(yd));
    for (int i = 0; i < 5; i++)
        ck_assert_float_eq(gd[i], i == 1 ? 1.f : 0.f);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- var */
START_TEST(var_forward_matches_naive)
{
    const rd_case *c = &rd_cases[_i];
    int64_t dims[3] = {3, 4, 5};
    float xd[60];
    dlt_test_fill_uniform(xd, 60, -1, 1, 80);
    for (int i = 0; i < 60; i++)
        xd[i] += 1e4f; /* a large common offset: one-pass E[x^2] - E[x]^2 would lose it all */
    for (int corr = 0; corr <= 2; corr++) {
        dlt_graph *g = dlt_graph_create(1);
        dlt_t x = dlt_input(g, "x", DLT_F32, 3, dims);
        dlt_t y = dlt_var(g, x, c->naxes, c->axes, corr, c->keepdim);
        ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
        int ng = 0, cnt[60] = {0};
        double mean[60] = {0}, ss[60] = {0};
        float yd[60], ref[60];
        for (int i = 0; i < 60; i++) {
            int gi = group_of(c, i, &ng);
            mean[gi] += xd[i], cnt[gi]++;
        }
        for (int k = 0; k < ng; k++)
            mean[k] /= cnt[k];
        for (int i = 0; i < 60; i++) {
            int gi = group_of(c, i, &ng);
            ss[gi] += (xd[i] - mean[gi]) * (xd[i] - mean[gi]);
        }
        for (int k = 0; k < ng; k++)
            ref[k] = (float)(ss[k] / (cnt[k] - corr));
        const void *data[1] = {xd};
        dlt_gc_feed f = {1, &x, data, 0};
        dlt_test_eval(g, y, &f, yd);
        ck_assert_double_le(dlt_test_max_relerr(yd, ref, (size_t)ng, 1e-6), 2.5e-7);
        dlt_graph_free(g);
    }
}
END_TEST

START_TEST(var_degenerate_counts_follow_torch)
{
    int64_t dims[2] = {2, 1};
    float xd[2] = {3, 5}, yd[2];
    for (int corr = 0; corr <= 2; corr++) {
        dlt_graph *g = dlt_graph_create(1);
        dlt_t x = dlt_input(g, "x", DLT_F32, 2, dims);
        int ax = 1;
        dlt_t y = dlt_var(g, x, 1, &ax, corr, 0); /* N = 1 per group */
        const void *data[1] = {xd};
        dlt_gc_feed f = {1, &x, data, 0};
        dlt_test_eval(g, y, &f, yd);
        if (corr == 0)
            ck_assert(yd[0] == 0 && yd[1] == 0);
        else
            ck_assert(isnan(yd[0]) && isnan(yd[1])); /* 0 / max(1 - c, 0) = 0 / 0, torch: nan */
        dlt_graph_free(g);
    }
}
END_TEST

START_TEST(var_gradients_first_and_second_order)
{
    const rd_case *c = &rd_cases[_i];
    dlt_graph *g = dlt_graph_create(3);
    int64_t dims[3] = {3, 4, 5}, ws[2] = {5, 5};
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, dims), gx;
    dlt_t w = dlt_param(g, "w", 2, ws, dlt_init_uniform(-0.5, 0.5));
    float xd[60];
    dlt_test_fill_uniform(xd, 60, -1, 1, 81);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    double an, nu;
    dlt_t y = dlt_var(g, x, c->naxes, c->axes, 1, c->keepdim);
    dlt_test_gradcheck(g, y, 1, &x, &f, 1e-3, 82, &an, &nu);
    dlt_test_assert_close("var", an, nu, 1e-3, 2e-4); /* quadratic: central differences exact */
    dlt_t v = dlt_var(g, dlt_tanh(g, dlt_matmul(g, x, w, 0, 0)), c->naxes, c->axes, 0, c->keepdim);
    ck_assert_int_eq(dlt_grad(g, dlt_sum(g, dlt_mul(g, v, v), 0, NULL, 0), 1, &x, &gx), DLT_OK);
    dlt_t wrt[2] = {x, w};
    dlt_test_gradcheck(g, dlt_mul(g, gx, gx), 2, wrt, &f, 1e-3, 83, &an, &nu);
    printf("var case %d: 2nd order analytic %.6f numeric %.6f\n", _i, an, nu);
    dlt_test_assert_close("var 2nd", an, nu, 3e-3, 2e-4);
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

/* ---------------------------------------------------------------- column sums */
/* Sums that keep the innermost axis (a bias gradient): against double sums,
 * and the same bits on 1, 2 and 3 threads. The first three have few column
 * tasks and are summed in row blocks (reduce.c's col_row_blocks), the last
 * in whole columns. */
typedef struct {
    int rank;
    int64_t dims[3];
    int axis;
} col_case;

static const col_case col_cases[] = {
    {2, {2048, 256, 0}, 0},
    {3, {3, 600, 70}, 1},
    {2, {1000, 1300, 0}, 0},
    {2, {600, 5000, 0}, 0},
};
#define NCOL ((int)(sizeof col_cases / sizeof col_cases[0]))

START_TEST(column_sums_match_double_on_any_thread_count)
{
    const col_case *c = &col_cases[_i];
    int64_t outer = c->rank == 3 ? c->dims[0] : 1, n = c->dims[c->axis], K = c->dims[c->rank - 1];
    size_t total = (size_t)(outer * n * K), nout = (size_t)(outer * K);
    float *xd = malloc(total * sizeof *xd), *yd = malloc(nout * sizeof *yd),
          *y1 = malloc(nout * sizeof *y1), *ref = malloc(nout * sizeof *ref);
    dlt_test_fill_uniform(xd, total, -1, 1, 90 + (uint64_t)_i);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < K; j++) {
            double s = 0;
            for (int64_t r = 0; r < n; r++)
                s += xd[(o * n + r) * K + j];
            ref[o * K + j] = (float)s;
        }
    for (int threads = 1; threads <= 3; threads++) {
        dlt_set_num_threads(threads);
        dlt_graph *g = dlt_graph_create(1);
        dlt_t x = dlt_input(g, "x", DLT_F32, c->rank, c->dims);
        int ax = c->axis;
        dlt_t y = dlt_sum(g, x, 1, &ax, 0);
        ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
        const void *data[1] = {xd};
        dlt_gc_feed f = {1, &x, data, 0};
        dlt_test_eval(g, y, &f, yd);
        ck_assert_double_le(dlt_test_max_abserr(yd, ref, nout),
                            1e-4); /* |sum| <= ~60, f32 rounding 4e-6 */
        if (threads == 1)
            memcpy(y1, yd, nout * sizeof *yd);
        else
            ck_assert_msg(memcmp(y1, yd, nout * sizeof *yd) == 0, "%d threads: other bits than 1",
                          threads);
        dlt_graph_free(g);
    }
    dlt_set_num_threads(2);
    free(xd), free(yd), free(y1), free(ref);
}
END_TEST

START_TEST(bad_arguments_have_exact_messages)
{
    int64_t d2[2] = {4, 6}, d3[1] = {3};
    int ax3 = 3, axes[2] = {0, -3};
    dlt_graph *g = dlt_graph_create(1);
    expect_error(g, dlt_softmax(g, dlt_input(g, "x", DLT_F32, 2, d2), 2), DLT_ERR_SHAPE,
                 "softmax: axis 2 out of range for 'x' of rank 2");
    g = dlt_graph_create(1);
    expect_error(g, dlt_log_softmax(g, dlt_input(g, "x", DLT_F32, 2, d2), -3), DLT_ERR_SHAPE,
                 "log_softmax: axis -3 out of range for 'x' of rank 2");
    g = dlt_graph_create(1);
    expect_error(g, dlt_log_softmax(g, dlt_input(g, "labels", DLT_I32, 1, d3), 0), DLT_ERR_DTYPE,
                 "log_softmax 'log_softmax': input must be f32 (inputs: 'labels' i32[3])");
    g = dlt_graph_create(1);
    expect_error(g, dlt_max(g, dlt_input(g, "x", DLT_F32, 2, d2), 1, &ax3, 0), DLT_ERR_SHAPE,
                 "max: axis 3 out of range for 'x' of rank 2");
    g = dlt_graph_create(1);
    expect_error(g, dlt_var(g, dlt_input(g, "x", DLT_F32, 2, d2), 2, axes, 1, 0), DLT_ERR_SHAPE,
                 "var: axis -3 out of range for 'x' of rank 2");
    g = dlt_graph_create(1);
    expect_error(g, dlt_var(g, dlt_input(g, "x", DLT_F32, 2, d2), 0, NULL, -1, 0), DLT_ERR_INVALID,
                 "var: correction must be >= 0, got -1");
    g = dlt_graph_create(1);
    expect_error(g, dlt_max(g, dlt_input(g, "ids", DLT_I64, 1, d3), 0, NULL, 0), DLT_ERR_DTYPE,
                 "max 'max': input must be f32 (inputs: 'ids' i64[3])");
}
END_TEST

int main(void)
{
    dlt_set_num_threads(2);
    Suite *s = suite_create("unary_reduce");
    TCase *tc = tcase_create("unary_reduce");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, softmax_forward_matches_naive, 0, NSM);
    tcase_add_loop_test(tc, softmax_gradients_first_and_second_order, 0, NSM);
    tcase_add_test(tc, inplace_chain_with_poison);
    tcase_add_loop_test(tc, max_min_forward_and_tie_gradients, 0, NRD);
    tcase_add_loop_test(tc, max_gradients_first_and_second_order, 0, NRD);
    tcase_add_test(tc, max_nan_propagates_to_first_nan);
    tcase_add_loop_test(tc, var_forward_matches_naive, 0, NRD);
    tcase_add_test(tc, var_degenerate_counts_follow_torch);
    tcase_add_loop_test(tc, var_gradients_first_and_second_order, 0, NRD);
    tcase_add_loop_test(tc, column_sums_match_double_on_any_thread_count, 0, NCOL);
    tcase_add_test(tc, bad_arguments_have_exact_messages);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
