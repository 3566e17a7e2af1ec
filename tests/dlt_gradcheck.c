/* Finite-difference gradient checks shared by op and engine tests. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

void dlt_test_eval(dlt_graph *g, dlt_t y, const dlt_gc_feed *feed, float *out)
{
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 1, &y, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    for (int i = 0; feed && i < feed->ninputs; i++) {
        void *dst = dlt_plan_data(p, feed->inputs[i]);
        if (dst)
            memcpy(dst, feed->in_data[i], dlt_shape_bytes(dlt_shape_of(g, feed->inputs[i])));
    }
    dlt_exec_opts eo = {.training = feed ? feed->training : 0};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());
    memcpy(out, dlt_plan_data(p, y), dlt_shape_bytes(dlt_shape_of(g, y)));
    dlt_plan_free(p);
}

void dlt_test_assert_close(const char *what, double a, double n, double rtol, double atol)
{
    double m = fabs(a) > fabs(n) ? fabs(a) : fabs(n);
    ck_assert_msg(fabs(a - n) <= rtol * m + atol, "%s: analytic %.9g vs numeric %.9g (rtol %g, atol %g)",
                  what, a, n, rtol, atol);
}

void dlt_test_gradcheck(dlt_graph *g, dlt_t y, int nwrt, const dlt_t *wrt, const dlt_gc_feed *feed,
                        double eps, uint64_t seed, double *analytic, double *numeric)
{
    const dlt_shape *ys = dlt_shape_of(g, y);
    ck_assert_msg(ys != NULL, "gradcheck: invalid output (%s)", dlt_graph_errmsg(g));
    int64_t ny = dlt_shape_numel(ys);
    float *r = malloc((size_t)ny * sizeof *r);
    dlt_test_fill_uniform(r, (size_t)ny, -1, 1, seed);
    dlt_t rc = dlt_constant(g, DLT_F32, ys->ndim, ys->dim, r);
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, rc), 0, NULL, 0);
    dlt_t *grads = malloc((size_t)nwrt * sizeof *grads);
    ck_assert_msg(dlt_grad(g, loss, nwrt, wrt, grads) == DLT_OK, "dlt_grad: %s", dlt_errmsg());
    int nout = nwrt + 1;
    dlt_t *outs = malloc((size_t)nout * sizeof *outs);
    outs[0] = loss;
    for (int i = 0; i < nwrt; i++)
        outs[i + 1] = grads[i];
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, nout, outs, NULL, &p) == DLT_OK, "plan: %s", dlt_errmsg());
    ck_assert_msg(dlt_plan_verify(p) == DLT_OK, "%s", dlt_errmsg());
    /* the storage each wrt value is read from: plan inputs or parameter data */
    float **x = malloc((size_t)nwrt * sizeof *x), **x0 = malloc((size_t)nwrt * sizeof *x0);
    float **dir = malloc((size_t)nwrt * sizeof *dir);
    for (int i = 0; feed && i < feed->ninputs; i++) {
        void *dst = dlt_plan_data(p, feed->inputs[i]);
        if (dst)
            memcpy(dst, feed->in_data[i], dlt_shape_bytes(dlt_shape_of(g, feed->inputs[i])));
    }
    for (int i = 0; i < nwrt; i++) {
        int64_t n = dlt_shape_numel(dlt_shape_of(g, wrt[i]));
        x[i] = dlt_plan_data(p, wrt[i]);
        ck_assert_msg(x[i] != NULL, "gradcheck: wrt[%d] has no storage", i);
        x0[i] = malloc((size_t)n * sizeof(float));
        memcpy(x0[i], x[i], (size_t)n * sizeof(float));
        dir[i] = malloc((size_t)n * sizeof(float));
        dlt_test_fill_uniform(dir[i], (size_t)n, -1, 1, seed * 7919 + (uint64_t)i + 1);
    }
    dlt_exec_opts eo = {.training = feed ? feed->training : 0};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "run: %s", dlt_errmsg());
    double an = 0;
    for (int i = 0; i < nwrt; i++) {
        const float *gi = dlt_plan_data(p, grads[i]);
        int64_t n = dlt_shape_numel(dlt_shape_of(g, wrt[i]));
        for (int64_t j = 0; j < n; j++)
            an += (double)gi[j] * dir[i][j];
    }
    double lp = 0, lm = 0;
    for (int sgn = -1; sgn <= 1; sgn += 2) {
        for (int i = 0; i < nwrt; i++) {
            int64_t n = dlt_shape_numel(dlt_shape_of(g, wrt[i]));
            for (int64_t j = 0; j < n; j++)
                x[i][j] = (float)(x0[i][j] + sgn * eps * dir[i][j]);
        }
        ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "run: %s", dlt_errmsg());
        double l = *(const float *)dlt_plan_data(p, loss);
        if (sgn < 0)
            lm = l;
        else
            lp = l;
    }
    for (int i = 0; i < nwrt; i++) {
        int64_t n = dlt_shape_numel(dlt_shape_of(g, wrt[i]));
        memcpy(x[i], x0[i], (size_t)n * sizeof(float));
        free(x0[i]);
        free(dir[i]);
    }
    *analytic = an;
    *numeric = (lp - lm) / (2 * eps);
    free(x), free(x0), free(dir), free(outs), free(grads), free(r);
    dlt_plan_free(p);
}
