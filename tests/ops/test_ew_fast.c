/* The fast paths of elementwise, reduction, accum and ReLU kernels against
 * naive loops: every broadcast pattern the coalescing
 * produces (same shape, scalar, per-row scalar, either side broadcast, both),
 * odd sizes and sizes above the OpenMP threshold, in-place use through the
 * planner, and results that do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"
#include "graph_impl.h"
#include "plan_impl.h"

typedef struct {
    int na, nb;
    int64_t a[4], b[4];
} bcase;

/* one case per loop shape after coalescing; the large ones go parallel */
static const bcase bcases[] = {
    {3, 3, {3, 5, 7}, {3, 5, 7}},             /* same shape, one contiguous row */
    {4, 4, {64, 16, 28, 28}, {64, 16, 28, 28}}, /* same shape, split across threads */
    {3, 0, {3, 5, 7}, {0}},                   /* rank-0 scalar b */
    {1, 3, {1}, {5, 3, 7}},                   /* scalar a */
    {4, 4, {64, 16, 28, 28}, {1, 16, 1, 1}},  /* channel broadcast: [1024, 784] rows, b per row */
    {4, 3, {5, 3, 7, 9}, {3, 1, 1}},          /* odd channel broadcast, lower rank */
    {4, 4, {1, 16, 1, 1}, {8, 16, 17, 17}},   /* a per row */
    {3, 3, {4, 1, 5}, {1, 3, 1}},             /* both broadcast */
    {2, 2, {7, 3}, {7, 1}},                   /* per-row scalar, short rows */
    {2, 2, {5, 1}, {1, 9}},                   /* outer product */
    {1, 3, {6}, {2, 3, 6}},                   /* a repeated over leading axes */
    {2, 2, {2, 50001}, {2, 1}},               /* few long rows: pieces of rows */
    {2, 1, {1, 100003}, {1}},                 /* one long row, scalar */
    {4, 4, {2, 1, 3, 1}, {1, 4, 3, 5}},       /* alternating patterns */
};
#define NB ((int)(sizeof bcases / sizeof bcases[0]))

static int64_t numel(int n, const int64_t *d)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= d[i];
    return p;
}

/* out shape and the naive broadcast index of each input */
static int out_shape(const bcase *c, int64_t *od)
{
    int nd = c->na > c->nb ? c->na : c->nb;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - c->na), ib = i - (nd - c->nb);
        int64_t da = ia >= 0 ? c->a[ia] : 1, db = ib >= 0 ? c->b[ib] : 1;
        od[i] = da > db ? da : db;
    }
    return nd;
}

static int64_t src_index(int nd, const int64_t *od, int n, const int64_t *d, int64_t o)
{
    int64_t idx = 0, mul = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int64_t k = o % od[i];
        o /= od[i];
        int j = i - (nd - n);
        if (j >= 0) {
            idx += (d[j] == 1 ? 0 : k) * mul;
            mul *= d[j];
        }
    }
    return idx;
}

static void run_threads(dlt_plan *p, int threads, int training)
{
    int saved = dlt_get_num_threads();
    dlt_set_num_threads(threads);
    dlt_exec_opts eo = {.training = training};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());
    dlt_set_num_threads(saved);
}

/* add, sub, mul, div: bitwise equal to the naive float expression with 1 and
 * 3 threads. Both inputs go through relu first (b is positive), so they are
 * temporaries the planner may overwrite in place: input 0's, or, where relu(a)
 * stays alive as a plan output, input 1's when it has the output's size
 * (DLT_OP_INPLACE_ANY; the test checks that the planner did). */
START_TEST(binary_patterns_match_naive)
{
    const bcase *c = &bcases[_i];
    int64_t od[4];
    int nd = out_shape(c, od);
    int64_t na = numel(c->na, c->a), nb = numel(c->nb, c->b), no = numel(nd, od);
    float *ad = malloc((size_t)na * 4), *bd = malloc((size_t)nb * 4), *ref = malloc((size_t)no * 4);
    dlt_test_fill_uniform(ad, (size_t)na, -1, 2, 1 + (uint64_t)_i);
    dlt_test_fill_uniform(bd, (size_t)nb, 0.5f, 2, 2 + (uint64_t)_i);
    for (int kind = 0; kind < 8; kind++) {
        int keep_a = kind >= 4;
        dlt_graph *g = dlt_graph_create(1);
        dlt_t a = dlt_input(g, "a", DLT_F32, c->na, c->a), b = dlt_input(g, "b", DLT_F32, c->nb, c->b);
        dlt_t ra = dlt_relu(g, a), rb = dlt_relu(g, b), y;
        switch (kind % 4) {
        case 0: y = dlt_add(g, ra, rb); break;
        case 1: y = dlt_sub(g, ra, rb); break;
        case 2: y = dlt_mul(g, ra, rb); break;
        default: y = dlt_div(g, ra, rb); break;
        }
        ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
        for (int64_t o = 0; o < no; o++) {
            float x = ad[src_index(nd, od, c->na, c->a, o)], w = bd[src_index(nd, od, c->nb, c->b, o)];
            x = x > 0.f ? x : 0.f;
            ref[o] = kind % 4 == 0 ? x + w : kind % 4 == 1 ? x - w : kind % 4 == 2 ? x * w : x / w;
        }
        dlt_plan *p;
        dlt_t outs[2] = {y, ra};
        ck_assert_int_eq(dlt_plan_create(g, keep_a ? 2 : 1, outs, NULL, &p), DLT_OK);
        if (keep_a && nb == no)
            ck_assert_int_eq(p->inplace_of[y], rb);
        for (int t = 1; t <= 3; t += 2) {
            memcpy(dlt_plan_data(p, a), ad, (size_t)na * 4);
            memcpy(dlt_plan_data(p, b), bd, (size_t)nb * 4);
            run_threads(p, t, 0);
            const float *got = dlt_plan_data(p, y);
            int64_t o = 0; /* first mismatch (one assertion: Check logs every call) */
            while (o < no && got[o] == ref[o])
                o++;
            ck_assert_msg(o == no, "case %d op %d threads %d: y[%lld] = %.9g, expected %.9g", _i, kind, t,
                          (long long)o, (double)got[o < no ? o : 0], (double)ref[o < no ? o : 0]);
        }
        dlt_plan_free(p);
        dlt_graph_free(g);
    }
    free(ad), free(bd), free(ref);
}
END_TEST

/* broadcast_to on the same patterns (a to the output shape) */
START_TEST(broadcast_to_matches_naive)
{
    const bcase *c = &bcases[_i];
    int64_t od[4];
    int nd = out_shape(c, od);
    int64_t na = numel(c->na, c->a), no = numel(nd, od);
    float *ad = malloc((size_t)na * 4), *got = malloc((size_t)no * 4);
    dlt_test_fill_uniform(ad, (size_t)na, -1, 1, 5 + (uint64_t)_i);
    dlt_graph *g = dlt_graph_create(1);
    dlt_t a = dlt_input(g, "a", DLT_F32, c->na, c->a);
    dlt_shape s = dlt_shape_make(DLT_F32, nd, od);
    dlt_t y = dlt_affine(g, dlt_broadcast_to(g, a, &s), 1.f, 0.f); /* an op even when no broadcast is needed */
    dlt_gc_feed f = {1, &a, (const void *[]){ad}, 0};
    dlt_test_eval(g, y, &f, got);
    int64_t o = 0;
    while (o < no && got[o] == ad[src_index(nd, od, c->na, c->a, o)])
        o++;
    ck_assert_msg(o == no, "case %d: element %lld", _i, (long long)o);
    dlt_graph_free(g);
    free(ad), free(got);
}
END_TEST

/* sum and mean over axis sets that hit each reduction path: inner runs, kept
 * inner axis, runs inside kept axes, size-1 axes, everything (blocked). */
typedef struct {
    int nd;
    int64_t d[4];
    int nax;
    int ax[4];
} rcase;
static const rcase rcases[] = {
    {4, {64, 16, 28, 28}, 3, {0, 2, 3}}, /* per channel of NCHW */
    {4, {64, 16, 28, 28}, 2, {2, 3}},    /* inner block */
    {4, {64, 16, 28, 28}, 1, {0}},       /* outer axis, kept inner axis */
    {3, {5, 7, 9}, 1, {1}},              /* middle axis */
    {3, {5, 7, 9}, 2, {0, 2}},
    {4, {3, 1, 5, 7}, 2, {1, 3}},        /* a size-1 reduced axis */
    {2, {7, 1}, 1, {1}},                 /* nothing left to sum */
    {2, {130, 700}, 1, {1}},
    {2, {1000, 1030}, 1, {0}},           /* kept inner axis wider than one column block */
    {1, {1000003}, 0, {0}},              /* full: fixed blocks */
    {4, {2, 3, 4, 5}, 0, {0}},           /* full, small */
    {4, {9, 2, 11, 3}, 2, {0, 2}},
};
#define NR ((int)(sizeof rcases / sizeof rcases[0]))

START_TEST(reductions_match_naive)
{
    const rcase *c = &rcases[_i];
    int64_t n = numel(c->nd, c->d);
    unsigned char red[4] = {0};
    for (int i = 0; i < c->nax; i++)
        red[c->ax[i]] = 1;
    if (c->nax == 0)
        memset(red, 1, sizeof red);
    int64_t nout = 1;
    for (int i = 0; i < c->nd; i++)
        nout *= red[i] ? 1 : c->d[i];
    float *x = malloc((size_t)n * 4), *got[2];
    double *ref = calloc((size_t)nout, sizeof(double));
    dlt_test_fill_uniform(x, (size_t)n, -1, 3, 9 + (uint64_t)_i);
    for (int64_t i = 0; i < n; i++) { /* output index: the kept coordinates */
        int64_t rem = i, o = 0, mul = 1;
        for (int j = c->nd - 1; j >= 0; j--) {
            int64_t k = rem % c->d[j];
            rem /= c->d[j];
            if (!red[j])
                o += k * mul, mul *= c->d[j];
        }
        ref[o] += x[i];
    }
    for (int mean = 0; mean < 2; mean++) {
        dlt_graph *g = dlt_graph_create(1);
        dlt_t xi = dlt_input(g, "x", DLT_F32, c->nd, c->d);
        dlt_t y = mean ? dlt_mean(g, xi, c->nax, c->ax, 1) : dlt_sum(g, xi, c->nax, c->ax, 0);
        ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
        ck_assert_int_eq(dlt_shape_numel(dlt_shape_of(g, y)), nout);
        dlt_plan *p;
        ck_assert_int_eq(dlt_plan_create(g, 1, &y, NULL, &p), DLT_OK);
        memcpy(dlt_plan_data(p, xi), x, (size_t)n * 4);
        for (int t = 0; t < 2; t++) {
            run_threads(p, t ? 3 : 1, 0);
            got[t] = malloc((size_t)nout * 4);
            memcpy(got[t], dlt_plan_data(p, y), (size_t)nout * 4);
        }
        ck_assert_msg(memcmp(got[0], got[1], (size_t)nout * 4) == 0, "case %d: thread-count dependent", _i);
        double cnt = (double)n / (double)nout;
        int64_t bad = -1;
        for (int64_t o = 0; o < nout && bad < 0; o++) {
            double r = mean ? ref[o] / cnt : ref[o];
            /* double accumulation: only the final f32 rounding (and the f32
             * 1/count of mean) separate the results */
            if (!(fabs(got[0][o] - r) <= 1e-6 * fabs(r) + 1e-6))
                bad = o;
        }
        ck_assert_msg(bad < 0, "case %d mean %d: y[%lld] = %.9g vs %.9g", _i, mean, (long long)bad,
                      bad < 0 ? 0.0 : (double)got[0][bad], bad < 0 ? 0.0 : ref[bad] / (mean ? cnt : 1.0));
        free(got[0]), free(got[1]);
        dlt_plan_free(p);
        dlt_graph_free(g);
    }
    free(x), free(ref);
}
END_TEST

/* accum of 1..11 inputs (more than DLT_MAX_IN chains nodes), odd sizes; the
 * first input is a temporary, so the sum may be written over it. */
START_TEST(accum_matches_naive)
{
    static const int64_t sizes[3] = {7, 1029, 40001};
    int64_t n = sizes[_i % 3];
    int k = 1 + _i;
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 1, &n), v[12];
    float *xd = malloc((size_t)n * 4), *got = malloc((size_t)n * 4);
    dlt_test_fill_uniform(xd, (size_t)n, -1, 1, 3);
    for (int j = 0; j < k; j++)
        v[j] = dlt_affine(g, x, (float)(j + 1), (float)j);
    v[k] = v[0]; /* one value twice */
    dlt_t y = dlt_accum(g, k + 1, v);
    dlt_gc_feed f = {1, &x, (const void *[]){xd}, 0};
    dlt_test_eval(g, y, &f, got);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        float s = xd[i] * 1.f + 0.f;
        for (int j = 1; j < k; j++)
            s += xd[i] * (float)(j + 1) + (float)j;
        s += xd[i] * 1.f + 0.f;
        worst = fmax(worst, fabs(got[i] - s) / (fabs(s) + 1));
    }
    /* the same sum in the same order: exact (the bound allows a different
     * rounding of the affine terms only) */
    ck_assert_msg(worst <= 1e-6, "k %d: relative error %g", k, worst);
    free(xd), free(got);
    dlt_graph_free(g);
}
END_TEST

/* relu and relu_grad exactly, including zeros, above the thread threshold */
START_TEST(relu_matches_naive)
{
    int64_t n = _i ? 70001 : 13;
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 1, &n);
    float *xd = malloc((size_t)n * 4), *cd = malloc((size_t)n * 4), *got = malloc((size_t)n * 4);
    dlt_test_fill_uniform(xd, (size_t)n, -1, 1, 4);
    dlt_test_fill_uniform(cd, (size_t)n, -1, 1, 5);
    for (int64_t i = 0; i < n; i += 5)
        xd[i] = 0.f;
    dlt_t y = dlt_relu(g, x), gx;
    dlt_t c = dlt_constant(g, DLT_F32, 1, &n, cd);
    ck_assert_int_eq(dlt_grad(g, dlt_sum(g, dlt_mul(g, y, c), 0, NULL, 0), 1, &x, &gx), DLT_OK);
    dlt_gc_feed f = {1, &x, (const void *[]){xd}, 0};
    int64_t i = 0;
    dlt_test_eval(g, y, &f, got);
    while (i < n && got[i] == (xd[i] > 0 ? xd[i] : 0.f))
        i++;
    ck_assert_int_eq(i, n);
    dlt_test_eval(g, gx, &f, got);
    for (i = 0; i < n && got[i] == (xd[i] > 0 ? cd[i] : 0.f);)
        i++;
    ck_assert_int_eq(i, n);
    free(xd), free(cd), free(got);
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ew_fast");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, binary_patterns_match_naive, 0, NB);
    tcase_add_loop_test(t, broadcast_to_matches_naive, 0, NB);
    tcase_add_loop_test(t, reductions_match_naive, 0, NR);
    tcase_add_loop_test(t, accum_matches_naive, 0, 11);
    tcase_add_loop_test(t, relu_matches_naive, 0, 2);
    suite_add_tcase(s, t);
    return dlt_test_run(s);
}
