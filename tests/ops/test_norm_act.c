/* Batch norm with a fused epilogue, y = act(bn(x) + r) (dlt_batch_norm_act),
 * against the composition relu(add(batch_norm(x), r)) on fixed inputs:
 * training and eval mode, with and without residual, relu or none, with and
 * without gamma/beta. Outputs, every gradient and the running statistics agree
 * bit for bit, and the fused graphs run no relu, relu_grad or add step. The
 * fused backward and its own gradient (second order) are checked against
 * finite differences; bad inputs fail with one clear line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

#define EPS 1e-5f

typedef struct {
    int ndim;
    int64_t dim[4];
} acase;

static const acase acases[] = {
    {4, {4, 3, 5, 6}}, /* S = 30: blocks */
    {2, {16, 8}},      /* S = 1: row sweeps */
    {4, {2, 5, 3, 3}}, /* S = 9 */
};
#define NA ((int)(sizeof acases / sizeof acases[0]))

typedef struct {
    dlt_graph *g;
    dlt_t x, r, gamma, beta, y;
    int64_t n, C;
} built;

/* fused: one batch_norm node with the epilogue; else the composition */
static built build(const acase *c, int fused, int affine, int resid, int relu)
{
    built b;
    memset(&b, 0, sizeof b);
    b.g = dlt_graph_create(5);
    b.x = dlt_input(b.g, "x", DLT_F32, c->ndim, c->dim);
    b.r = resid ? dlt_input(b.g, "r", DLT_F32, c->ndim, c->dim) : -1;
    b.n = 1;
    for (int i = 0; i < c->ndim; i++)
        b.n *= c->dim[i];
    b.C = c->dim[1];
    b.gamma = b.beta = -1;
    if (affine) {
        b.gamma = dlt_param(b.g, "gamma", 1, &b.C, dlt_init_uniform(0.5, 1.5));
        b.beta = dlt_param(b.g, "beta", 1, &b.C, dlt_init_uniform(-0.5, 0.5));
    }
    dlt_t rm = dlt_buffer(b.g, "rm", 1, &b.C, dlt_init_uniform(-0.5, 0.5));
    dlt_t rv = dlt_buffer(b.g, "rv", 1, &b.C, dlt_init_uniform(0.5, 2.0));
    if (fused) {
        b.y = dlt_batch_norm_act(b.g, b.x, b.gamma, b.beta, rm, rv, 0.1f, EPS, b.r,
                                 relu ? DLT_ACT_RELU : DLT_ACT_NONE);
    } else {
        b.y = dlt_batch_norm(b.g, b.x, b.gamma, b.beta, rm, rv, 0.1f, EPS);
        if (resid)
            b.y = dlt_add(b.g, b.y, b.r);
        if (relu)
            b.y = dlt_relu(b.g, b.y);
    }
    ck_assert_msg(dlt_graph_status(b.g) == DLT_OK, "%s", dlt_graph_errmsg(b.g));
    return b;
}

static int count_op(dlt_plan *p, const char *op)
{
    int k = 0;
    for (int i = 0; i < dlt_plan_num_steps(p); i++)
        k += strcmp(dlt_plan_step_op(p, i), op) == 0;
    return k;
}

/* Runs y and the gradients of sum(y * w) wrt x, r, gamma, beta (those that
 * exist) once; res gets y, the gradients, then the running buffers. */
static size_t run(const acase *c, int fused, int affine, int resid, int relu, int train, float *res)
{
    built b = build(c, fused, affine, resid, relu);
    float *xd = malloc((size_t)b.n * 4), *rd = malloc((size_t)b.n * 4), *wd = malloc((size_t)b.n * 4);
    dlt_test_fill_uniform(xd, (size_t)b.n, -1.5f, 2.5f, 51);
    dlt_test_fill_uniform(rd, (size_t)b.n, -1, 1, 52);
    dlt_test_fill_uniform(wd, (size_t)b.n, -1, 1, 53);
    const dlt_shape *ys = dlt_shape_of(b.g, b.y);
    dlt_t w = dlt_constant(b.g, DLT_F32, ys->ndim, ys->dim, wd);
    dlt_t loss = dlt_sum(b.g, dlt_mul(b.g, b.y, w), 0, NULL, 0);
    dlt_t wrt[4], gr[5];
    int nw = 0;
    wrt[nw++] = b.x;
    if (resid)
        wrt[nw++] = b.r;
    if (affine) {
        wrt[nw++] = b.gamma;
        wrt[nw++] = b.beta;
    }
    ck_assert_msg(dlt_grad(b.g, loss, nw, wrt, gr + 1) == DLT_OK, "%s", dlt_errmsg());
    gr[0] = b.y;
    dlt_plan *p;
    ck_assert_msg(dlt_plan_create(b.g, nw + 1, gr, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    if (fused) {
        ck_assert_int_eq(count_op(p, "relu") + count_op(p, "add"), 0);
        if (affine) { /* the mask and dr come from norm_backward */
            ck_assert_int_eq(count_op(p, "norm_backward"), 1);
            ck_assert_int_eq(count_op(p, "relu_grad"), 0);
        }
    }
    memcpy(dlt_plan_data(p, b.x), xd, (size_t)b.n * 4);
    if (resid)
        memcpy(dlt_plan_data(p, b.r), rd, (size_t)b.n * 4);
    dlt_exec_opts eo = {.training = train};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_int_eq(dlt_graph_download(b.g, DLT_SYNC_BUFFERS), DLT_OK);
    size_t k = 0;
    for (int i = 0; i <= nw; i++) {
        const dlt_shape *s = dlt_shape_of(b.g, gr[i]);
        size_t m = (size_t)dlt_shape_numel(s);
        memcpy(res + k, dlt_plan_data(p, gr[i]), m * 4);
        k += m;
    }
    memcpy(res + k, dlt_buffers_data(b.g), dlt_buffers_numel(b.g) * 4);
    k += dlt_buffers_numel(b.g);
    dlt_plan_free(p);
    dlt_graph_free(b.g);
    free(xd), free(rd), free(wd);
    return k;
}

START_TEST(fused_matches_composition)
{
    const acase *c = &acases[_i];
    int64_t n = 1;
    for (int i = 0; i < c->ndim; i++)
        n *= c->dim[i];
    size_t cap = (size_t)(4 * n + 8 * c->dim[1]);
    float *f = malloc(cap * 4), *u = malloc(cap * 4);
    for (int v = 0; v < 16; v++) {
        int train = v & 1, resid = (v >> 1) & 1, relu = (v >> 2) & 1, affine = !((v >> 3) & 1);
        size_t nf = run(c, 1, affine, resid, relu, train, f);
        size_t nu = run(c, 0, affine, resid, relu, train, u);
        ck_assert_uint_eq(nf, nu);
        /* the same float expressions and sums in the same order: the same bits
         * (a model's training fixtures see no difference either) */
        double e = dlt_test_max_relerr(f, u, nf, 1.0);
        ck_assert_msg(memcmp(f, u, nf * 4) == 0, "case %d train %d resid %d relu %d affine %d: error %g", _i, train,
                      resid, relu, affine, e);
    }
    free(f), free(u);
}
END_TEST

/* d<w, y>/d(x, r, gamma, beta) of the fused node against finite differences. */
START_TEST(fused_backward_finite_differences)
{
    static const acase small = {4, {3, 2, 2, 3}};
    for (int train = 1; train >= 0; train--) {
        built b = build(&small, 1, 1, 1, 1);
        float *xd = malloc((size_t)b.n * 4), *rd = malloc((size_t)b.n * 4);
        dlt_test_fill_uniform(xd, (size_t)b.n, -1.5f, 2.5f, 61);
        dlt_test_fill_uniform(rd, (size_t)b.n, -1, 1, 62);
        dlt_t wrt[4] = {b.x, b.r, b.gamma, b.beta}, ins[2] = {b.x, b.r};
        dlt_gc_feed fd = {2, ins, (const void *[]){xd, rd}, train};
        double an, nu;
        dlt_test_gradcheck(b.g, b.y, 4, wrt, &fd, 1e-3, 63, &an, &nu);
        dlt_test_assert_close(train ? "d train" : "d eval", an, nu, 2e-3, 2e-3);
        free(xd), free(rd);
        dlt_graph_free(b.g);
    }
}
END_TEST

/* Second order through norm_backward's epilogue: the gradients of
 * H = <dx, c1> + <dgamma, c2> + <dbeta, c3> + <dr, c4> of a nonlinear head. */
START_TEST(fused_second_order)
{
    static const acase small = {4, {3, 2, 2, 3}};
    for (int train = 1; train >= 0; train--) {
        built b = build(&small, 1, 1, 1, 1);
        int64_t n = b.n;
        float *xd = malloc((size_t)n * 4), *rd = malloc((size_t)n * 4), *cd = malloc((size_t)n * 4);
        float *c1 = malloc((size_t)n * 4), *c4 = malloc((size_t)n * 4), c2[2], c3[2];
        dlt_test_fill_uniform(xd, (size_t)n, -1.5f, 2.5f, 71);
        dlt_test_fill_uniform(rd, (size_t)n, -1, 1, 72);
        dlt_test_fill_uniform(cd, (size_t)n, -1, 1, 73);
        dlt_test_fill_uniform(c1, (size_t)n, -1, 1, 74);
        dlt_test_fill_uniform(c4, (size_t)n, -1, 1, 75);
        dlt_test_fill_uniform(c2, 2, -1, 1, 76);
        dlt_test_fill_uniform(c3, 2, -1, 1, 77);
        const dlt_shape *ys = dlt_shape_of(b.g, b.y);
        dlt_t cc = dlt_constant(b.g, DLT_F32, ys->ndim, ys->dim, cd);
        dlt_t s = dlt_sum(b.g, dlt_mul(b.g, dlt_add(b.g, b.y, dlt_mul(b.g, b.y, b.y)), cc), 0, NULL, 0);
        dlt_t wrt[4] = {b.x, b.gamma, b.beta, b.r}, gr[4];
        ck_assert_msg(dlt_grad(b.g, s, 4, wrt, gr) == DLT_OK, "%s", dlt_errmsg());
        dlt_t k1 = dlt_constant(b.g, DLT_F32, ys->ndim, ys->dim, c1);
        dlt_t k4 = dlt_constant(b.g, DLT_F32, ys->ndim, ys->dim, c4);
        dlt_t k2 = dlt_constant(b.g, DLT_F32, 1, &b.C, c2), k3 = dlt_constant(b.g, DLT_F32, 1, &b.C, c3);
        dlt_t h = dlt_add(b.g,
                          dlt_add(b.g, dlt_sum(b.g, dlt_mul(b.g, gr[0], k1), 0, NULL, 0),
                                  dlt_sum(b.g, dlt_mul(b.g, gr[3], k4), 0, NULL, 0)),
                          dlt_add(b.g, dlt_sum(b.g, dlt_mul(b.g, gr[1], k2), 0, NULL, 0),
                                  dlt_sum(b.g, dlt_mul(b.g, gr[2], k3), 0, NULL, 0)));
        dlt_t ins[2] = {b.x, b.r};
        dlt_gc_feed fd = {2, ins, (const void *[]){xd, rd}, train};
        double an, nu;
        dlt_test_gradcheck(b.g, h, 4, wrt, &fd, 1e-3, 78, &an, &nu);
        dlt_test_assert_close(train ? "d2 train" : "d2 eval", an, nu, 5e-3, 5e-3);
        free(xd), free(rd), free(cd), free(c1), free(c4);
        dlt_graph_free(b.g);
    }
}
END_TEST

START_TEST(bad_epilogue_inputs)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[4] = {2, 3, 4, 4}, e[4] = {2, 3, 4, 5};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, d), r = dlt_input(g, "res", DLT_F32, 4, e);
    ck_assert_int_lt(dlt_batch_norm_act(g, x, -1, -1, -1, -1, 0.1f, EPS, r, DLT_ACT_RELU), 0);
    ck_assert_msg(strstr(dlt_graph_errmsg(g), "residual 'res'") != NULL, "%s", dlt_graph_errmsg(g));
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 4, d);
    ck_assert_int_lt(dlt_batch_norm_act(g, x, -1, -1, -1, -1, 0.1f, EPS, -1, (dlt_act)7), 0);
    ck_assert_msg(strstr(dlt_graph_errmsg(g), "activation") != NULL, "%s", dlt_graph_errmsg(g));
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_act");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, fused_matches_composition, 0, NA);
    tcase_add_test(t, fused_backward_finite_differences);
    tcase_add_test(t, fused_second_order);
    tcase_add_test(t, bad_epilogue_inputs);
    suite_add_tcase(s, t);
    return dlt_test_run(s);
}
