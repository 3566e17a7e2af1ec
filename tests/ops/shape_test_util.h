/* Helpers shared by the shape family's tests: naive index arithmetic and the
 * gradient checks every op goes through. */
#ifndef SHAPE_TEST_UTIL_H
#define SHAPE_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

static inline int64_t st_numel(int nd, const int64_t *d)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= d[i];
    return n;
}

/* flat index -> multi-index, and back */
static inline void st_unravel(int64_t f, int nd, const int64_t *d, int64_t *idx)
{
    for (int i = nd - 1; i >= 0; i--) {
        idx[i] = f % d[i];
        f /= d[i];
    }
}

static inline int64_t st_ravel(int nd, const int64_t *d, const int64_t *idx)
{
    int64_t f = 0;
    for (int i = 0; i < nd; i++)
        f = f * d[i] + idx[i];
    return f;
}

static inline float *st_rand(int64_t n, uint64_t seed)
{
    float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
    dlt_test_fill_uniform(x, (size_t)n, -1, 1, seed);
    return x;
}

static inline void st_assert_ok(dlt_graph *g)
{
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
}

/* Every shape op is linear in its float inputs, so L = sum(y * r) is linear too
 * and central differences have no truncation error at any eps: a large eps
 * (0.25) shrinks the f32 rounding of L (half an ulp of |L| per evaluation,
 * divided by 2 eps; |L| <= ~50 here: < 1e-5) below rtol 1e-4, which still
 * catches any wrong element. */
#define ST_EPS 0.25
static inline void st_gradcheck(dlt_graph *g, dlt_t y, int nwrt, const dlt_t *wrt, const dlt_gc_feed *f,
                                const char *what)
{
    double an, nu;
    st_assert_ok(g);
    dlt_test_gradcheck(g, y, nwrt, wrt, f, ST_EPS, 17, &an, &nu);
    dlt_test_assert_close(what, an, nu, 1e-4, 1e-5);
}

/* Second order through the backward ops' own gradient rules: with gx = d sum(r y^2)/dx
 * (the backward op applied to 2 r y), pen = gx * gx is quadratic in x, and its
 * gradient runs the backward op's gradient rule. Central differences are exact
 * for quadratics too, so the same eps and tolerance apply. */
static inline void st_second_order(dlt_graph *g, dlt_t x, dlt_t y, const dlt_gc_feed *f, const char *what)
{
    const dlt_shape *ys = dlt_shape_of(g, y);
    ck_assert_ptr_nonnull(ys);
    int64_t n = dlt_shape_numel(ys);
    float *r = st_rand(n, 99);
    dlt_t rc = dlt_constant(g, DLT_F32, ys->ndim, ys->dim, r);
    free(r);
    dlt_t s = dlt_sum(g, dlt_mul(g, dlt_mul(g, y, y), rc), 0, NULL, 0), gx;
    ck_assert_msg(dlt_grad(g, s, 1, &x, &gx) == DLT_OK, "%s", dlt_errmsg());
    dlt_t pen = dlt_mul(g, gx, gx);
    double an, nu;
    st_assert_ok(g);
    dlt_test_gradcheck(g, pen, 1, &x, f, ST_EPS, 23, &an, &nu);
    dlt_test_assert_close(what, an, nu, 1e-4, 1e-5);
}

#endif
