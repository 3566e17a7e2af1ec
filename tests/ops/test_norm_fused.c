/* The fused normalisation backward (norm_backward: dx, dgamma, dbeta in one
 * node) and the blocked statistics against naive double loops, on every
 * kernel path (long blocks, short blocks in row sweeps, several channel
 * chunks, group and layer norm), bitwise independent of the thread count; and
 * second order through the dgamma/dbeta outputs against finite differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

enum { BN, LN, GN };
typedef struct {
    int kind, ndim;
    int64_t dim[4];
    int arg; /* groups (GN) */
} fcase;

static const fcase fcases[] = {
    {BN, 4, {16, 16, 17, 17}, 0}, /* S = 289: blocks */
    {BN, 2, {64, 40}, 0},         /* S = 1: row sweeps */
    {BN, 3, {8, 300, 3}, 0},      /* S = 3: row sweeps over several channel chunks */
    {BN, 4, {3, 5, 4, 4}, 0},     /* S = 16: the smallest block */
    {LN, 2, {37, 300}, 0},        /* S = 1 group statistics, chunked parameter sums */
    {GN, 4, {4, 32, 17, 17}, 8},
    {GN, 4, {3, 6, 5, 5}, 6},     /* instance norm */
};
#define NF ((int)(sizeof fcases / sizeof fcases[0]))
#define EPS 1e-5

typedef struct {
    dlt_graph *g;
    dlt_t x, gamma, beta, rm, rv, y;
    int64_t n, A, C, S, G;
} built;

static built build(const fcase *c)
{
    built b;
    memset(&b, 0, sizeof b);
    b.g = dlt_graph_create(3);
    b.x = dlt_input(b.g, "x", DLT_F32, c->ndim, c->dim);
    b.n = 1;
    for (int i = 0; i < c->ndim; i++)
        b.n *= c->dim[i];
    int64_t C = c->kind == LN ? c->dim[c->ndim - 1] : c->dim[1];
    b.gamma = dlt_param(b.g, "gamma", 1, &C, dlt_init_uniform(0.5, 1.5));
    b.beta = dlt_param(b.g, "beta", 1, &C, dlt_init_uniform(-0.5, 0.5));
    if (c->kind == LN) {
        b.A = b.n / C, b.C = C, b.S = 1, b.G = 1;
        b.y = dlt_layer_norm(b.g, b.x, 1, &C, b.gamma, b.beta, (float)EPS);
    } else {
        b.A = c->dim[0], b.C = C, b.S = b.n / (b.A * C), b.G = c->kind == GN ? c->arg : C;
        if (c->kind == BN) {
            b.rm = dlt_buffer(b.g, "rm", 1, &C, dlt_init_const(0.25));
            b.rv = dlt_buffer(b.g, "rv", 1, &C, dlt_init_const(2));
            b.y = dlt_batch_norm(b.g, b.x, b.gamma, b.beta, b.rm, b.rv, 0.1f, (float)EPS);
        } else {
            b.y = dlt_group_norm(b.g, b.x, c->arg, b.gamma, b.beta, (float)EPS);
        }
    }
    ck_assert_msg(dlt_graph_status(b.g) == DLT_OK, "%s", dlt_graph_errmsg(b.g));
    return b;
}

/* statistic of element (a, c): channel c (batch) or (a, group of c) */
static int64_t stat_of(const built *b, int batch, int64_t a, int64_t c)
{
    return batch ? c : a * b->G + c / (b->C / b->G);
}

/* Closed-form backward in double: stats from the batch (train) or from the
 * running buffers rm = 0.25, rv = 2 (batch norm eval). */
static void ref_backward(const built *b, int batch, int train, const float *x, const float *dy, const float *gam,
                         double *dx, double *dg, double *db)
{
    int64_t A = b->A, C = b->C, S = b->S, ns = batch ? C : A * b->G;
    double *m = calloc((size_t)ns, 8), *r = calloc((size_t)ns, 8), *cnt = calloc((size_t)ns, 8);
    double *s1 = calloc((size_t)ns, 8), *s2 = calloc((size_t)ns, 8), *q = calloc((size_t)ns, 8);
#define LOOP                                                                                                 \
    for (int64_t a = 0; a < A; a++)                                                                          \
        for (int64_t c = 0; c < C; c++)                                                                      \
            for (int64_t s = 0, st = stat_of(b, batch, a, c); s < S; s++)
    LOOP m[st] += x[(a * C + c) * S + s], cnt[st]++;
    for (int64_t i = 0; i < ns; i++)
        m[i] /= cnt[i];
    LOOP q[st] += (x[(a * C + c) * S + s] - m[st]) * (x[(a * C + c) * S + s] - m[st]);
    for (int64_t i = 0; i < ns; i++) {
        r[i] = train ? 1.0 / sqrt(q[i] / cnt[i] + EPS) : 1.0 / sqrt(2.0 + EPS);
        if (!train)
            m[i] = 0.25;
    }
    for (int64_t c = 0; c < C; c++)
        dg[c] = db[c] = 0;
    LOOP {
        int64_t o = (a * C + c) * S + s;
        double xh = (x[o] - m[st]) * r[st], u = dy[o] * (double)gam[c];
        dg[c] += dy[o] * xh, db[c] += dy[o];
        s1[st] += u, s2[st] += u * xh;
    }
    LOOP {
        int64_t o = (a * C + c) * S + s;
        double xh = (x[o] - m[st]) * r[st], u = dy[o] * (double)gam[c];
        dx[o] = train ? r[st] * (u - s1[st] / cnt[st] - xh * s2[st] / cnt[st]) : r[st] * u;
    }
#undef LOOP
    free(m), free(r), free(cnt), free(s1), free(s2), free(q);
}

static double max_err(const float *got, const double *ref, int64_t n)
{
    double e = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) {
        e = fmax(e, fabs(got[i] - ref[i]));
        mx = fmax(mx, fabs(ref[i]));
    }
    return e / (mx > 0 ? mx : 1);
}

START_TEST(fused_backward_matches_naive)
{
    const fcase *c = &fcases[_i];
    for (int train = 1; train >= (c->kind == BN ? 0 : 1); train--) {
        built b = build(c);
        int64_t n = b.n, C = b.C;
        float *xd = malloc((size_t)n * 4), *cd = malloc((size_t)n * 4);
        dlt_test_fill_uniform(xd, (size_t)n, -1.5f, 2.5f, 21 + (uint64_t)_i);
        dlt_test_fill_uniform(cd, (size_t)n, -1, 1, 22 + (uint64_t)_i);
        const dlt_shape *ys = dlt_shape_of(b.g, b.y);
        /* dy = c: the loss is linear in y */
        dlt_t cc = dlt_constant(b.g, DLT_F32, ys->ndim, ys->dim, cd);
        dlt_t loss = dlt_sum(b.g, dlt_mul(b.g, b.y, cc), 0, NULL, 0);
        dlt_t wrt[3] = {b.x, b.gamma, b.beta}, gr[3];
        ck_assert_msg(dlt_grad(b.g, loss, 3, wrt, gr) == DLT_OK, "%s", dlt_errmsg());
        dlt_plan *p;
        ck_assert_int_eq(dlt_plan_create(b.g, 3, gr, NULL, &p), DLT_OK);
        int fused = 0, sums = 0;
        for (int i = 0; i < dlt_plan_num_steps(p); i++) {
            fused += strcmp(dlt_plan_step_op(p, i), "norm_backward") == 0;
            sums += strcmp(dlt_plan_step_op(p, i), "sum") == 0;
        }
        ck_assert_int_eq(fused, 1);
        ck_assert_int_eq(sums, 0); /* dgamma, dbeta come from the fused node */
        float *out[2][3];
        int64_t len[3] = {n, C, C};
        int saved = dlt_get_num_threads();
        for (int t = 0; t < 2; t++) {
            dlt_set_num_threads(t ? 3 : 1);
            memcpy(dlt_plan_data(p, b.x), xd, (size_t)n * 4);
            dlt_exec_opts eo = {.training = train};
            ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
            for (int k = 0; k < 3; k++) {
                out[t][k] = malloc((size_t)len[k] * 4);
                memcpy(out[t][k], dlt_plan_data(p, gr[k]), (size_t)len[k] * 4);
            }
        }
        dlt_set_num_threads(saved);
        for (int k = 0; k < 3; k++)
            ck_assert_msg(memcmp(out[0][k], out[1][k], (size_t)len[k] * 4) == 0, "case %d: output %d depends on threads",
                          _i, k);
        double *dx = malloc((size_t)n * 8), *dg = malloc((size_t)C * 8), *db = malloc((size_t)C * 8);
        ref_backward(&b, c->kind == BN, train, xd, cd, dlt_param_data(b.g, b.gamma), dx, dg, db);
        /* sums of <= 5000 O(1) terms in double, one f32 rounding of each
         * per-element term: errors ~1e-7 of the largest value */
        double e[3] = {max_err(out[0][0], dx, n), max_err(out[0][1], dg, C), max_err(out[0][2], db, C)};
        for (int k = 0; k < 3; k++)
            ck_assert_msg(e[k] < 2e-6, "case %d train %d: output %d error %g", _i, train, k, e[k]);
        for (int t = 0; t < 2; t++)
            for (int k = 0; k < 3; k++)
                free(out[t][k]);
        free(dx), free(dg), free(db), free(xd), free(cd);
        dlt_plan_free(p);
        dlt_graph_free(b.g);
    }
}
END_TEST

/* Second order through all three outputs of norm_backward at once: the
 * gradients of H = <dx, c1> + <dgamma, c2> + <dbeta, c3> (dx, dgamma, dbeta of
 * a nonlinear head) against finite differences, wrt x, gamma and beta. */
START_TEST(second_order_through_parameter_grads)
{
    static const fcase small[3] = {{BN, 4, {3, 2, 2, 3}, 0}, {GN, 3, {2, 4, 5}, 2}, {LN, 2, {3, 5}, 0}};
    const fcase *c = &small[_i];
    for (int train = 1; train >= (c->kind == BN ? 0 : 1); train--) {
        built b = build(c);
        float *xd = malloc((size_t)b.n * 4), *cd = malloc((size_t)b.n * 4), *c1 = malloc((size_t)b.n * 4);
        float c2[8], c3[8];
        dlt_test_fill_uniform(xd, (size_t)b.n, -1.5f, 2.5f, 31);
        dlt_test_fill_uniform(cd, (size_t)b.n, -1, 1, 32);
        dlt_test_fill_uniform(c1, (size_t)b.n, -1, 1, 33);
        dlt_test_fill_uniform(c2, 8, -1, 1, 34);
        dlt_test_fill_uniform(c3, 8, -1, 1, 35);
        const dlt_shape *ys = dlt_shape_of(b.g, b.y);
        dlt_t cc = dlt_constant(b.g, DLT_F32, ys->ndim, ys->dim, cd);
        dlt_t yy = dlt_mul(b.g, b.y, b.y);
        dlt_t s = dlt_sum(b.g, dlt_mul(b.g, dlt_add(b.g, b.y, yy), cc), 0, NULL, 0);
        dlt_t wrt[3] = {b.x, b.gamma, b.beta}, gr[3];
        ck_assert_msg(dlt_grad(b.g, s, 3, wrt, gr) == DLT_OK, "%s", dlt_errmsg());
        dlt_t k1 = dlt_constant(b.g, DLT_F32, ys->ndim, ys->dim, c1);
        dlt_t k2 = dlt_constant(b.g, DLT_F32, 1, &b.C, c2), k3 = dlt_constant(b.g, DLT_F32, 1, &b.C, c3);
        dlt_t h = dlt_add(b.g, dlt_sum(b.g, dlt_mul(b.g, gr[0], k1), 0, NULL, 0),
                          dlt_add(b.g, dlt_sum(b.g, dlt_mul(b.g, gr[1], k2), 0, NULL, 0),
                                  dlt_sum(b.g, dlt_mul(b.g, gr[2], k3), 0, NULL, 0)));
        dlt_gc_feed f = {1, &b.x, (const void *[]){xd}, train};
        double an, nu;
        dlt_test_gradcheck(b.g, h, 3, wrt, &f, 1e-3, 41 + (uint64_t)_i, &an, &nu);
        /* as test_norm's second-order check: terms up to ~16, f32 noise of the
         * central difference ~1e-3 absolute */
        dlt_test_assert_close(train ? "d2 train" : "d2 eval", an, nu, 5e-3, 5e-3);
        free(xd), free(cd), free(c1);
        dlt_graph_free(b.g);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_fused");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, fused_backward_matches_naive, 0, NF);
    tcase_add_loop_test(t, second_order_through_parameter_grads, 0, 3);
    suite_add_tcase(s, t);
    return dlt_test_run(s);
}
