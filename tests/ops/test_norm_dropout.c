/* Dropout: the mask against the counter RNG, reproducibility per (seed,
 * step), kept fraction, inverted scaling, the backward reusing the forward
 * mask, eval identity, errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"
#include "dropout_impl.h"

#define N 4099 /* odd size */

typedef struct {
    dlt_graph *g;
    dlt_t x, y, gx;
    dlt_plan *p;
} net;

/* y = dropout(x); gx = d sum(y * c)/dx for a constant c */
static net build(float prob, uint64_t seed, const float *c)
{
    net n;
    int64_t d[2] = {1, N};
    n.g = dlt_graph_create(seed);
    n.x = dlt_input(n.g, "x", DLT_F32, 2, d);
    n.y = dlt_dropout(n.g, n.x, prob);
    dlt_t cc = dlt_constant(n.g, DLT_F32, 2, d, c);
    dlt_t s = dlt_sum(n.g, dlt_mul(n.g, n.y, cc), 0, NULL, 0);
    ck_assert_int_eq(dlt_grad(n.g, s, 1, &n.x, &n.gx), DLT_OK);
    dlt_t outs[2] = {n.y, n.gx};
    ck_assert_msg(dlt_plan_create(n.g, 2, outs, NULL, &n.p) == DLT_OK, "%s", dlt_errmsg());
    return n;
}

static void run(net *n, const float *x, int training, int64_t step, float *y, float *gx)
{
    memcpy(dlt_plan_data(n->p, n->x), x, N * sizeof(float));
    dlt_exec_opts eo = {.training = training, .step = step};
    ck_assert_int_eq(dlt_plan_run(n->p, &eo), DLT_OK);
    memcpy(y, dlt_plan_data(n->p, n->y), N * sizeof(float));
    if (gx)
        memcpy(gx, dlt_plan_data(n->p, n->gx), N * sizeof(float));
}

static void unbuild(net *n)
{
    dlt_plan_free(n->p);
    dlt_graph_free(n->g);
}

static float x[N], c[N], ya_[N], yb_[N], g1[N];

START_TEST(mask_depends_on_seed_and_step_only)
{
    static const float ps[] = {0.1f, 0.5f, 0.8f};
    float p = ps[_i];
    for (int i = 0; i < N; i++)
        x[i] = 1.0f + (float)(i % 7); /* nonzero, so y == 0 means dropped */
    dlt_test_fill_uniform(c, N, -1, 1, 3);
    net a = build(p, 77, c), b = build(p, 77, c);
    run(&a, x, 1, 5, ya_, g1);
    run(&b, x, 1, 5, yb_, NULL);
    /* the documented mask: element i is kept when the scalar counter RNG's
     * draw at (graph seed, the node's stream at this step, i) is >= p */
    uint64_t stream = dlt_dropout_stream(DLT_CATTR(dlt_producer(a.g, a.y), dropout_attr)->id, 5);
    int64_t kept = 0, diff_step = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_float_eq(ya_[i], yb_[i]); /* same (seed, step): same mask */
        int keep = ya_[i] != 0.f;
        ck_assert_int_eq(keep, dlt_rng_uniform(77, stream, (uint64_t)i) >= p);
        kept += keep;
        /* inverted scaling, and the backward applies the same mask and scale */
        float want = keep ? x[i] / (1.0f - p) : 0.f;
        ck_assert(fabsf(ya_[i] - want) <= 1e-6f * fabsf(want));
        float gwant = keep ? c[i] / (1.0f - p) : 0.f;
        ck_assert(fabsf(g1[i] - gwant) <= 1e-6f * fabsf(gwant));
    }
    /* kept count ~ Binomial(N, 1 - p): within 3 sigma */
    double mu = N * (1.0 - p), sd = sqrt(N * p * (1.0 - p));
    ck_assert_msg(fabs((double)kept - mu) <= 3 * sd, "kept %lld of %d, expected %g +- %g", (long long)kept, N,
                  mu, 3 * sd);
    /* another step: a different mask */
    run(&a, x, 1, 6, yb_, NULL);
    for (int i = 0; i < N; i++)
        diff_step += (ya_[i] != 0.f) != (yb_[i] != 0.f);
    ck_assert_int_gt(diff_step, N / 20);
    /* another graph seed: a different mask */
    net d = build(p, 78, c);
    run(&d, x, 1, 5, yb_, NULL);
    int64_t diff_seed = 0;
    for (int i = 0; i < N; i++)
        diff_seed += (ya_[i] != 0.f) != (yb_[i] != 0.f);
    ck_assert_int_gt(diff_seed, N / 20);
    unbuild(&a), unbuild(&b), unbuild(&d);
}
END_TEST

START_TEST(two_dropout_nodes_have_different_masks)
{
    dlt_graph *g = dlt_graph_create(5);
    int64_t d[1] = {N};
    dlt_t xi = dlt_input(g, "x", DLT_F32, 1, d);
    dlt_t a = dlt_dropout(g, xi, 0.5f), b = dlt_dropout(g, xi, 0.5f);
    dlt_t outs[2] = {a, b};
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 2, outs, NULL, &p), DLT_OK);
    for (int i = 0; i < N; i++)
        ((float *)dlt_plan_data(p, xi))[i] = 1.f;
    dlt_exec_opts eo = {.training = 1};
    ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    const float *ya = dlt_plan_data(p, a), *yb = dlt_plan_data(p, b);
    int diff = 0;
    for (int i = 0; i < N; i++)
        diff += (ya[i] != 0.f) != (yb[i] != 0.f);
    ck_assert_int_gt(diff, N / 4);
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

START_TEST(eval_mode_is_identity)
{
    dlt_test_fill_uniform(x, N, -1, 1, 4);
    dlt_test_fill_uniform(c, N, -1, 1, 5);
    net a = build(0.5f, 1, c);
    run(&a, x, 0, 3, ya_, g1);
    for (int i = 0; i < N; i++) {
        ck_assert_float_eq(ya_[i], x[i]);
        ck_assert_float_eq(g1[i], c[i]);
    }
    unbuild(&a);
}
END_TEST

/* Gradcheck with training on: the plus/minus runs use the same step, so the
 * same mask; dropout is then linear and central differences are exact up to
 * f32 rounding of the loss (~1e-6 relative). Also through a second order. */
START_TEST(gradients_match_finite_differences)
{
    dlt_graph *g = dlt_graph_create(9);
    int64_t d[2] = {3, 37};
    dlt_t xi = dlt_input(g, "x", DLT_F32, 2, d);
    dlt_t w = dlt_param(g, "w", 2, d, dlt_init_uniform(-1, 1));
    dlt_t h = dlt_dropout(g, dlt_mul(g, xi, w), 0.3f);
    dlt_t y = dlt_mul(g, h, h);
    float xd[111];
    dlt_test_fill_uniform(xd, 111, -1, 1, 2);
    dlt_gc_feed f = {1, &xi, (const void *[]){xd}, 1};
    dlt_t wrt[2] = {xi, w};
    double an, nu;
    dlt_test_gradcheck(g, y, 2, wrt, &f, 1e-3, 4, &an, &nu);
    dlt_test_assert_close("dropout", an, nu, 1e-3, 1e-4);
    dlt_t s = dlt_sum(g, y, 0, NULL, 0), gx;
    ck_assert_int_eq(dlt_grad(g, s, 1, &xi, &gx), DLT_OK);
    dlt_test_gradcheck(g, gx, 2, wrt, &f, 1e-3, 5, &an, &nu);
    dlt_test_assert_close("dropout 2nd order", an, nu, 1e-3, 1e-4);
    dlt_graph_free(g);
}
END_TEST

START_TEST(bad_probability_is_reported)
{
    static const float bad[] = {1.0f, -0.1f, 1.5f, NAN};
    static const char *msg[] = {"dropout: p must be in [0, 1), got 1", "dropout: p must be in [0, 1), got -0.1",
                                "dropout: p must be in [0, 1), got 1.5", "dropout: p must be in [0, 1), got nan"};
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[1] = {4};
    dlt_t xi = dlt_input(g, "x", DLT_F32, 1, d);
    ck_assert_int_eq(dlt_dropout(g, xi, bad[_i]), -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_graph_errmsg(g), msg[_i]);
    dlt_graph_free(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dropout");
    TCase *t = tcase_create("dropout");
    tcase_add_loop_test(t, mask_depends_on_seed_and_step_only, 0, 3);
    tcase_add_test(t, two_dropout_nodes_have_different_masks);
    tcase_add_test(t, eval_mode_is_identity);
    tcase_add_test(t, gradients_match_finite_differences);
    tcase_add_loop_test(t, bad_probability_is_reported, 0, 4);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dlt_test_run(suite()); }
