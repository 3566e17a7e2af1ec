/* Recompute mode (dlt_graph_set_recompute): the backward reads batch norm's
 * output from a norm_apply node instead of keeping it from the forward.
 * - A conv -> bn(+relu) -> conv -> bn(+relu) -> conv network gives the same
 *   loss, gradients and running statistics bit for bit with and without it,
 *   in training and eval mode, with and without gamma/beta and relu; the plan
 *   with it runs one norm_apply per such layer (none with a residual), and
 *   its activation arena is smaller.
 * - norm_apply's own gradient rule against finite differences (all five
 *   inputs), and second order through a recomputed output (a weight
 *   gradient differentiated again, as WGAN-GP does) against finite
 *   differences and against the same graph without recompute. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"
#include "norm_impl.h"

#define EPS 1e-5f
#define NB 8
#define CH 4
#define HW 12

typedef struct {
    dlt_graph *g;
    dlt_t x, loss;
    int nparams;
    dlt_t params[12];
} net;

/* x [NB, 3, HW, HW] -> conv 3x3 -> bn(+relu) -> conv 3x3 -> bn(+relu, +residual) -> conv 1x1 -> sum(* R) */
static net build(int recompute, int affine, int relu, int resid)
{
    net m;
    memset(&m, 0, sizeof m);
    m.g = dlt_graph_create(11);
    ck_assert_int_eq(dlt_graph_set_recompute(m.g, recompute), 1);
    int64_t xd[4] = {NB, 3, HW, HW}, w1[4] = {CH, 3, 3, 3}, w2[4] = {CH, CH, 3, 3}, w3[4] = {2, CH, 1, 1};
    int64_t c = CH;
    dlt_conv2d_opts pad = {.padding = {1, 1}};
    m.x = dlt_input(m.g, "x", DLT_F32, 4, xd);
    dlt_t h = m.x, prev = -1;
    for (int l = 0; l < 2; l++) {
        char nm[16];
        snprintf(nm, sizeof nm, "w%d", l + 1);
        dlt_t w = dlt_param(m.g, nm, 4, l ? w2 : w1, dlt_init_uniform(-0.4, 0.4));
        m.params[m.nparams++] = w;
        h = dlt_conv2d(m.g, h, w, -1, &pad);
        dlt_t gm = -1, bt = -1;
        if (affine) {
            snprintf(nm, sizeof nm, "gamma%d", l + 1);
            gm = dlt_param(m.g, nm, 1, &c, dlt_init_uniform(0.5, 1.5));
            snprintf(nm, sizeof nm, "beta%d", l + 1);
            bt = dlt_param(m.g, nm, 1, &c, dlt_init_uniform(-0.5, 0.5));
            m.params[m.nparams++] = gm;
            m.params[m.nparams++] = bt;
        }
        snprintf(nm, sizeof nm, "rm%d", l + 1);
        dlt_t rm = dlt_buffer(m.g, nm, 1, &c, dlt_init_uniform(-0.5, 0.5));
        snprintf(nm, sizeof nm, "rv%d", l + 1);
        dlt_t rv = dlt_buffer(m.g, nm, 1, &c, dlt_init_uniform(0.5, 2.0));
        dlt_t r = l == 1 && resid ? prev : -1;
        h = dlt_batch_norm_act(m.g, h, gm, bt, rm, rv, 0.1f, EPS, r, relu ? DLT_ACT_RELU : DLT_ACT_NONE);
        prev = h;
    }
    dlt_t w = dlt_param(m.g, "w3", 4, w3, dlt_init_uniform(-0.5, 0.5));
    m.params[m.nparams++] = w;
    h = dlt_conv2d(m.g, h, w, -1, NULL);
    const dlt_shape *s = dlt_shape_of(m.g, h);
    int64_t n = dlt_shape_numel(s);
    float *rd = malloc((size_t)n * 4);
    dlt_test_fill_uniform(rd, (size_t)n, -1, 1, 91);
    m.loss = dlt_sum(m.g, dlt_mul(m.g, h, dlt_constant(m.g, DLT_F32, s->ndim, s->dim, rd)), 0, NULL, 0);
    free(rd);
    ck_assert_msg(dlt_graph_status(m.g) == DLT_OK, "%s", dlt_graph_errmsg(m.g));
    return m;
}

/* The plan of the loss and its gradients wrt every parameter, bound in
 * parameter order (the planner visits them in the order the backward makes
 * them: planner_orders_gradients_by_producer below); the loss is the only
 * output. */
static dlt_plan *plan_of(net *m, int measure)
{
    dlt_t gr[12];
    ck_assert_msg(dlt_grad(m->g, m->loss, m->nparams, m->params, gr) == DLT_OK, "%s", dlt_errmsg());
    dlt_plan_opts o = {.ngrads = m->nparams, .grad_params = m->params, .grad_values = gr, .measure_only = measure};
    dlt_plan *p;
    ck_assert_msg(dlt_plan_create(m->g, 1, &m->loss, &o, &p) == DLT_OK, "%s", dlt_errmsg());
    return p;
}

static int count_op(const dlt_plan *p, const char *op)
{
    int k = 0;
    for (int i = 0; i < dlt_plan_num_steps(p); i++) {
        const char *o = dlt_plan_step_op(p, i); /* NULL: a gradient copy */
        k += o && strcmp(o, op) == 0;
    }
    return k;
}

/* Runs one step; res gets the loss, every parameter's gradient and the
 * buffers. Returns the number of floats. */
static size_t run(int recompute, int affine, int relu, int resid, int train, float *res, int *napply)
{
    net m = build(recompute, affine, relu, resid);
    dlt_plan *p = plan_of(&m, 0);
    *napply = count_op(p, "norm_apply");
    int64_t nx = NB * 3 * HW * HW;
    float *xd = dlt_plan_data(p, m.x);
    dlt_test_fill_uniform(xd, (size_t)nx, -1, 2, 92);
    dlt_exec_opts eo = {.training = train};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_int_eq(dlt_graph_download(m.g, DLT_SYNC_BUFFERS | DLT_SYNC_GRADS), DLT_OK);
    size_t k = 0;
    res[k++] = *(const float *)dlt_plan_data(p, m.loss);
    memcpy(res + k, dlt_grads_data(m.g), dlt_params_numel(m.g) * 4);
    k += dlt_params_numel(m.g);
    memcpy(res + k, dlt_buffers_data(m.g), dlt_buffers_numel(m.g) * 4);
    k += dlt_buffers_numel(m.g);
    dlt_plan_free(p);
    dlt_graph_free(m.g);
    return k;
}

START_TEST(recompute_is_bitwise)
{
    size_t cap = 4 * NB * 3 * HW * HW;
    float *a = malloc(cap * 4), *b = malloc(cap * 4);
    for (int v = 0; v < 16; v++) {
        int train = v & 1, relu = (v >> 1) & 1, affine = !((v >> 2) & 1), resid = (v >> 3) & 1;
        int na, nb;
        size_t n1 = run(1, affine, relu, resid, train, a, &na);
        size_t n0 = run(0, affine, relu, resid, train, b, &nb);
        ck_assert_uint_eq(n1, n0);
        /* each layer's output is read by the next conv's weight gradient
         * (and the relu mask); the second's is kept when it has a residual,
         * which would have to stay instead */
        ck_assert_int_eq(na, resid ? 1 : 2);
        ck_assert_int_eq(nb, 0);
        ck_assert_msg(memcmp(a, b, n1 * 4) == 0, "train %d relu %d affine %d resid %d: max error %g", train, relu,
                      affine, resid, dlt_test_max_relerr(a, b, n1, 1.0));
    }
    free(a), free(b);
}
END_TEST

/* The point of it: the recomputed outputs are not in memory from the forward
 * to the backward, so the plan's arena is smaller. */
START_TEST(recompute_shrinks_the_arena)
{
    dlt_mem_report r[2];
    for (int on = 0; on < 2; on++) {
        net m = build(on, 1, 1, 0);
        dlt_plan *p = plan_of(&m, 1);
        dlt_plan_memory(p, &r[on]);
        dlt_plan_free(p);
        dlt_graph_free(m.g);
    }
    /* y1 is NB*CH*HW*HW floats: at least most of one such tensor is saved */
    size_t y = (size_t)NB * CH * HW * HW * 4;
    ck_assert_msg(r[1].arena_bytes + y / 2 <= r[0].arena_bytes, "arena %zu with recompute, %zu without",
                  r[1].arena_bytes, r[0].arena_bytes);
}
END_TEST

/* The planner visits outputs and gradients by producer id (plan.c,
 * order_roots): a 4-layer MLP with batch norm (no workspaces, so the arena is
 * activations only) gets the same plan memory with its gradients bound in
 * parameter order, the first layer's first, as bound in the order the
 * backward makes them. Visited in parameter order, the first layer's
 * gradient would pull the whole data-gradient chain ahead of every weight
 * gradient and keep their inputs alive. */
START_TEST(planner_orders_gradients_by_producer)
{
    dlt_mem_report r[2];
    for (int sorted = 0; sorted < 2; sorted++) {
        net m;
        memset(&m, 0, sizeof m);
        m.g = dlt_graph_create(3);
        int64_t xd[2] = {256, 64}, wd[2] = {64, 64}, c = 64;
        dlt_t h = m.x = dlt_input(m.g, "x", DLT_F32, 2, xd);
        for (int l = 0; l < 4; l++) {
            char nm[16];
            snprintf(nm, sizeof nm, "w%d", l);
            dlt_t w = dlt_param(m.g, nm, 2, wd, dlt_init_uniform(-0.2, 0.2));
            snprintf(nm, sizeof nm, "g%d", l);
            dlt_t gm = dlt_param(m.g, nm, 1, &c, dlt_init_const(1));
            snprintf(nm, sizeof nm, "b%d", l);
            dlt_t bt = dlt_param(m.g, nm, 1, &c, dlt_init_const(0));
            m.params[m.nparams++] = w, m.params[m.nparams++] = gm, m.params[m.nparams++] = bt;
            h = dlt_batch_norm_act(m.g, dlt_matmul(m.g, h, w, 0, 1), gm, bt, -1, -1, 0.1f, EPS, -1, DLT_ACT_RELU);
        }
        m.loss = dlt_sum(m.g, dlt_mul(m.g, h, h), 0, NULL, 0);
        ck_assert_msg(dlt_graph_status(m.g) == DLT_OK, "%s", dlt_graph_errmsg(m.g));
        dlt_t gr[12], pg[12], pp[12];
        ck_assert_int_eq(dlt_grad(m.g, m.loss, m.nparams, m.params, gr), DLT_OK);
        memcpy(pg, gr, sizeof pg), memcpy(pp, m.params, sizeof pp);
        if (sorted) /* the trainer's binding order (src/dist): by producer */
            for (int i = 0; i < m.nparams; i++)
                for (int j = i + 1; j < m.nparams; j++)
                    if (dlt_producer_id(m.g, pg[j]) < dlt_producer_id(m.g, pg[i])) {
                        dlt_t t = pg[i];
                        pg[i] = pg[j], pg[j] = t, t = pp[i], pp[i] = pp[j], pp[j] = t;
                    }
        dlt_plan_opts o = {.ngrads = m.nparams, .grad_params = pp, .grad_values = pg, .measure_only = 1};
        dlt_plan *p;
        ck_assert_msg(dlt_plan_create(m.g, 1, &m.loss, &o, &p) == DLT_OK, "%s", dlt_errmsg());
        dlt_plan_memory(p, &r[sorted]);
        dlt_plan_free(p);
        dlt_graph_free(m.g);
    }
    ck_assert_msg(r[0].arena_bytes == r[1].arena_bytes, "arena %zu bound in parameter order, %zu by producer",
                  r[0].arena_bytes, r[1].arena_bytes);
}
END_TEST

/* norm_apply(x, mean, rstd[, gamma, beta]) with all five as free variables */
START_TEST(norm_apply_finite_differences)
{
    for (int v = 0; v < 4; v++) {
        int affine = !(v & 1), relu = (v >> 1) & 1;
        dlt_graph *g = dlt_graph_create(5);
        int64_t d[4] = {3, 2, 3, 4}, c = 2, n = 72;
        dlt_t x = dlt_input(g, "x", DLT_F32, 4, d), mean = dlt_input(g, "mean", DLT_F32, 1, &c);
        dlt_t rstd = dlt_input(g, "rstd", DLT_F32, 1, &c);
        dlt_t gm = dlt_param(g, "gamma", 1, &c, dlt_init_uniform(0.5, 1.5));
        dlt_t bt = dlt_param(g, "beta", 1, &c, dlt_init_uniform(-0.5, 0.5));
        dlt_norm_attr a;
        memset(&a, 0, sizeof a);
        a.kind = DLT_NORM_BATCH, a.affine = affine, a.A = 3, a.C = 2, a.S = 12, a.G = 2, a.eps = EPS;
        a.act = relu ? DLT_NORM_ACT_RELU : DLT_NORM_ACT_NONE;
        dlt_t in[5] = {x, mean, rstd, gm, bt};
        dlt_t y = dlt_node_add(g, &dlt_op_def_norm_apply, affine ? 5 : 3, in, &a, sizeof a);
        ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
        float xd[72], md[2] = {0.3f, -0.2f}, rd[2] = {1.3f, 0.7f};
        dlt_test_fill_uniform(xd, (size_t)n, -1.5f, 2.5f, 93);
        dlt_t ins[3] = {x, mean, rstd}, wrt[5] = {x, mean, rstd, gm, bt};
        dlt_gc_feed fd = {3, ins, (const void *[]){xd, md, rd}, 1};
        double an, nu;
        dlt_test_gradcheck(g, y, affine ? 5 : 3, wrt, &fd, 1e-3, 94 + (uint64_t)v, &an, &nu);
        dlt_test_assert_close("norm_apply", an, nu, 2e-3, 2e-3);
        dlt_graph_free(g);
    }
}
END_TEST

/* H = <dL/dw2, K>: w2's weight gradient reads the recomputed y1, so dH/d(x,
 * gamma1, beta1) goes through norm_apply's rule and then batch norm's
 * statistics. Without relu: H's relu masks would jump under the finite
 * differences' steps (norm_apply's relu is checked on its own above). Against finite differences, and against the graph without
 * recompute (the same derivative by another composition). */
static double second_order(int recompute, int train, double *numeric)
{
    net m = build(recompute, 1, 0, 0);
    dlt_t w2 = m.params[3], wrt1 = w2, g2;
    ck_assert_msg(dlt_grad(m.g, m.loss, 1, &wrt1, &g2) == DLT_OK, "%s", dlt_errmsg());
    const dlt_shape *s = dlt_shape_of(m.g, g2);
    float kd[CH * CH * 9];
    dlt_test_fill_uniform(kd, (size_t)dlt_shape_numel(s), -1, 1, 95);
    dlt_t h = dlt_sum(m.g, dlt_mul(m.g, g2, dlt_constant(m.g, DLT_F32, s->ndim, s->dim, kd)), 0, NULL, 0);
    int64_t nx = NB * 3 * HW * HW;
    float *xd = malloc((size_t)nx * 4);
    dlt_test_fill_uniform(xd, (size_t)nx, -1, 2, 96);
    dlt_t wrt[3] = {m.x, m.params[1], m.params[2]}; /* x, gamma1, beta1 */
    dlt_gc_feed fd = {1, &m.x, (const void *[]){xd}, train};
    double an, nu;
    dlt_test_gradcheck(m.g, h, 3, wrt, &fd, 1e-3, 97, &an, &nu);
    free(xd);
    dlt_graph_free(m.g);
    *numeric = nu;
    return an;
}

START_TEST(second_order_through_recompute)
{
    for (int train = 1; train >= 0; train--) {
        double nu1, nu0;
        double an1 = second_order(1, train, &nu1), an0 = second_order(0, train, &nu0);
        dlt_test_assert_close(train ? "d2 recompute train" : "d2 recompute eval", an1, nu1, 5e-3, 5e-3);
        dlt_test_assert_close(train ? "d2 with and without (train)" : "d2 with and without (eval)", an1, an0, 1e-4,
                              1e-6);
    }
}
END_TEST

START_TEST(norm_apply_refuses_a_residual)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {4, 3}, c = 3;
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, d), mean = dlt_input(g, "m", DLT_F32, 1, &c);
    dlt_norm_attr a;
    memset(&a, 0, sizeof a);
    a.kind = DLT_NORM_BATCH, a.A = 4, a.C = 3, a.S = 1, a.G = 3, a.eps = EPS, a.resid = 1;
    dlt_t in[3] = {x, mean, mean};
    ck_assert_int_lt(dlt_node_add(g, &dlt_op_def_norm_apply, 3, in, &a, sizeof a), 0);
    ck_assert_msg(strstr(dlt_graph_errmsg(g), "no residual") != NULL, "%s", dlt_graph_errmsg(g));
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_recompute");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, recompute_is_bitwise);
    tcase_add_test(t, recompute_shrinks_the_arena);
    tcase_add_test(t, planner_orders_gradients_by_producer);
    tcase_add_test(t, norm_apply_finite_differences);
    tcase_add_test(t, second_order_through_recompute);
    tcase_add_test(t, norm_apply_refuses_a_residual);
    suite_add_tcase(s, t);
    return dlt_test_run(s);
}
