/* The engine end to end: graph building, autodiff (first and second order),
 * planner memory reuse and safety, executor, and the documented build errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

/* y = relu(x W1^T + b1) W2^T + b2, naive reference */
static void mlp_ref(const float *x, const float *w1, const float *b1, const float *w2, const float *b2,
                    int n, int din, int dh, int dout, float *y)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < dout; o++) {
            double acc = b2[o];
            for (int h = 0; h < dh; h++) {
                double a = b1[h];
                for (int k = 0; k < din; k++)
                    a += (double)x[i * din + k] * w1[h * din + k];
                acc += (a > 0 ? a : 0) * w2[o * dh + h];
            }
            y[i * dout + o] = (float)acc;
        }
}

typedef struct {
    dlt_graph *g;
    dlt_t x, w1, b1, w2, b2, y;
} mlp;

static mlp build_mlp(int n, int din, int dh, int dout)
{
    mlp m;
    m.g = dlt_graph_create(42);
    int64_t xs[2] = {n, din}, w1s[2] = {dh, din}, b1s[1] = {dh}, w2s[2] = {dout, dh}, b2s[1] = {dout};
    m.x = dlt_input(m.g, "x", DLT_F32, 2, xs);
    dlt_scope_push(m.g, "fc1");
    m.w1 = dlt_param(m.g, "weight", 2, w1s, dlt_init_kaiming(DLT_INIT_KAIMING_UNIFORM, DLT_FAN_IN, 1));
    m.b1 = dlt_param(m.g, "bias", 1, b1s, dlt_init_uniform(-0.5, 0.5));
    dlt_t h = dlt_relu(m.g, dlt_linear(m.g, m.x, m.w1, m.b1));
    dlt_scope_pop(m.g);
    dlt_scope_push(m.g, "fc2");
    m.w2 = dlt_param(m.g, "weight", 2, w2s, dlt_init_xavier(DLT_INIT_XAVIER_NORMAL, 1));
    m.b2 = dlt_param(m.g, "bias", 1, b2s, dlt_init_normal(0, 0.1));
    m.y = dlt_linear(m.g, h, m.w2, m.b2);
    dlt_scope_pop(m.g);
    ck_assert_msg(dlt_graph_status(m.g) == DLT_OK, "%s", dlt_graph_errmsg(m.g));
    return m;
}

START_TEST(mlp_forward_matches_naive)
{
    /* odd sizes and batch 1 */
    static const int cfg[][4] = {{1, 3, 5, 2}, {7, 13, 9, 4}, {32, 64, 33, 10}};
    int n = cfg[_i][0], din = cfg[_i][1], dh = cfg[_i][2], dout = cfg[_i][3];
    mlp m = build_mlp(n, din, dh, dout);
    float *x = malloc(sizeof(float) * n * din), *y = malloc(sizeof(float) * n * dout);
    float *ref = malloc(sizeof(float) * n * dout);
    dlt_test_fill_uniform(x, (size_t)n * din, -1, 1, 5);
    const void *data[1] = {x};
    dlt_gc_feed f = {1, &m.x, data, 0};
    dlt_test_eval(m.g, m.y, &f, y);
    ck_assert_str_eq(dlt_name_of(m.g, m.w1), "fc1.weight");
    mlp_ref(x, dlt_param_data(m.g, m.w1), dlt_param_data(m.g, m.b1), dlt_param_data(m.g, m.w2),
            dlt_param_data(m.g, m.b2), n, din, dh, dout, ref);
    /* f32 sums of din + dh (<= 97) products of magnitude <= ~2: worst-case
     * rounding 97 * 2 * 6e-8 ~ 1.2e-5 absolute, relative above magnitude 1 */
    ck_assert_double_le(dlt_test_max_relerr(y, ref, (size_t)n * dout, 1.0), 2e-5);
    free(x), free(y), free(ref);
    dlt_graph_free(m.g);
}
END_TEST

/* matmul with every transpose pair against naive double loops, on shapes
 * where the CPU kernel runs A^T B as (B^T A)^T (m >= 2n: _i 0) and where it
 * does not (_i 1), on 1 and 2 threads (bitwise the same). */
START_TEST(matmul_transposes_match_naive)
{
    const int64_t M = _i ? 20 : 70, N = _i ? 70 : 20, K = 33;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            dlt_graph *g = dlt_graph_create(1);
            int64_t as[2] = {ta ? K : M, ta ? M : K}, bs[2] = {tb ? N : K, tb ? K : N};
            dlt_t a = dlt_input(g, "a", DLT_F32, 2, as), b = dlt_input(g, "b", DLT_F32, 2, bs);
            dlt_t y = dlt_matmul(g, a, b, ta, tb);
            dlt_plan *p;
            ck_assert_int_eq(dlt_plan_create(g, 1, &y, NULL, &p), DLT_OK);
            float *ad = dlt_plan_data(p, a), *bd = dlt_plan_data(p, b), got[2][70 * 20];
            dlt_test_fill_uniform(ad, (size_t)(M * K), -1, 1, 31);
            dlt_test_fill_uniform(bd, (size_t)(K * N), -1, 1, 32);
            for (int t = 0; t < 2; t++) {
                dlt_set_num_threads(t + 1);
                dlt_exec_opts eo = {0};
                ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
                memcpy(got[t], dlt_plan_data(p, y), (size_t)(M * N) * 4);
            }
            ck_assert_msg(memcmp(got[0], got[1], (size_t)(M * N) * 4) == 0, "ta %d tb %d: thread-count dependent",
                          ta, tb);
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double r = 0;
                    for (int64_t k = 0; k < K; k++)
                        r += (double)(ta ? ad[k * M + i] : ad[i * K + k]) * (tb ? bd[j * K + k] : bd[k * N + j]);
                    ck_assert_msg(fabs(got[0][i * N + j] - r) <= 1e-5 * (1 + fabs(r)),
                                  "ta %d tb %d y[%lld,%lld] = %g, expected %g", ta, tb, (long long)i, (long long)j,
                                  (double)got[0][i * N + j], r);
                }
            dlt_plan_free(p);
            dlt_graph_free(g);
        }
    dlt_set_num_threads(0);
}
END_TEST

START_TEST(mlp_gradients_match_finite_differences)
{
    mlp m = build_mlp(6, 5, 7, 3);
    float x[30];
    dlt_test_fill_uniform(x, 30, -1, 1, 9);
    const void *data[1] = {x};
    dlt_gc_feed f = {1, &m.x, data, 0};
    dlt_t wrt[5] = {m.x, m.w1, m.b1, m.w2, m.b2};
    double an, nu;
    dlt_test_gradcheck(m.g, m.y, 5, wrt, &f, 1e-3, 3, &an, &nu);
    /* piecewise-linear net: central differences are exact unless a ReLU kink
     * lies within eps; f32 loss rounding gives ~1e-4 relative at eps = 1e-3 */
    dlt_test_assert_close("mlp", an, nu, 2e-3, 1e-4);
    dlt_graph_free(m.g);
}
END_TEST

/* Second order: d/dW of ||d(sum y r)/dx||^2 through a smooth net (x*x products). */
START_TEST(second_order_matches_finite_differences)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[2] = {4, 3}, ws[2] = {5, 3}, w2s[2] = {2, 5};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, xs);
    dlt_t w = dlt_param(g, "w", 2, ws, dlt_init_uniform(-1, 1));
    dlt_t w2 = dlt_param(g, "w2", 2, w2s, dlt_init_uniform(-1, 1));
    dlt_t h = dlt_matmul(g, x, w, 0, 1);
    dlt_t h2 = dlt_mul(g, h, h); /* smooth, so second derivatives are nonzero */
    dlt_t y = dlt_matmul(g, dlt_relu(g, h2), w2, 0, 1);
    dlt_t s = dlt_sum(g, y, 0, NULL, 0), gx;
    ck_assert_int_eq(dlt_grad(g, s, 1, &x, &gx), DLT_OK);
    dlt_t pen = dlt_mul(g, gx, gx); /* gradient penalty integrand */
    float xd[12];
    dlt_test_fill_uniform(xd, 12, -1, 1, 4);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_t wrt[3] = {w, w2, x};
    double an, nu;
    dlt_test_gradcheck(g, pen, 3, wrt, &f, 1e-3, 8, &an, &nu);
    dlt_test_assert_close("grad penalty", an, nu, 2e-3, 1e-4);
    dlt_graph_free(g);
}
END_TEST

START_TEST(broadcast_and_reduce_gradients)
{
    dlt_graph *g = dlt_graph_create(2);
    int64_t as[3] = {2, 3, 4}, bs[3] = {1, 3, 1}, cs[1] = {4};
    dlt_t a = dlt_input(g, "a", DLT_F32, 3, as);
    dlt_t b = dlt_param(g, "b", 3, bs, dlt_init_uniform(0.5, 1.5));
    dlt_t c = dlt_param(g, "c", 1, cs, dlt_init_uniform(0.5, 1.5));
    int ax[1] = {1};
    dlt_t y = dlt_div(g, dlt_sub(g, dlt_mul(g, a, b), c), dlt_add(g, b, c));
    y = dlt_mean(g, dlt_mul(g, y, y), 1, ax, 1);
    float ad[24];
    dlt_test_fill_uniform(ad, 24, -1, 1, 5);
    const void *data[1] = {ad};
    dlt_gc_feed f = {1, &a, data, 0};
    dlt_t wrt[3] = {a, b, c};
    double an, nu;
    dlt_test_gradcheck(g, y, 3, wrt, &f, 1e-3, 6, &an, &nu);
    dlt_test_assert_close("broadcast", an, nu, 1e-3, 1e-4);
    dlt_graph_free(g);
}
END_TEST

/* The gradient w.r.t. a value a node produced (not a leaf), as WGAN-GP takes
 * it at its interpolates: d sum(y^2) / dy = 2 y for y = 3 x + 1, against the
 * hand-computed values (it used to come out as zeros). */
START_TEST(gradient_wrt_a_produced_value)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[1] = {4};
    dlt_t x = dlt_input(g, "x", DLT_F32, 1, xs);
    dlt_t y = dlt_affine(g, x, 3.0f, 1.0f);
    dlt_t gy, gx;
    ck_assert_int_eq(dlt_grad(g, dlt_sum(g, dlt_square(g, y), 0, NULL, 0), 1, &y, &gy), DLT_OK);
    ck_assert_int_eq(dlt_grad(g, dlt_sum(g, dlt_square(g, y), 0, NULL, 0), 1, &x, &gx), DLT_OK);
    dlt_t outs[2] = {gy, gx};
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 2, outs, NULL, &p), DLT_OK);
    const float xv[4] = {-1.0f, 0.0f, 0.5f, 2.0f};
    memcpy(dlt_plan_data(p, x), xv, sizeof xv);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
    const float *a = dlt_plan_data(p, gy), *b = dlt_plan_data(p, gx);
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq(a[i], 2.0f * (3.0f * xv[i] + 1.0f));
        ck_assert_float_eq(b[i], 6.0f * (3.0f * xv[i] + 1.0f));
    }
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

/* A chain of N equal layers: the arena stays the same size as N grows. */
static size_t chain_arena(int nlayers, int poison, float *out)
{
    dlt_graph *g = dlt_graph_create(7);
    int64_t xs[2] = {8, 64}, ws[2] = {64, 64};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, xs), h = x;
    for (int i = 0; i < nlayers; i++) {
        dlt_scope_pushf(g, "layer%d", i);
        dlt_t w = dlt_param(g, "weight", 2, ws, dlt_init_kaiming(DLT_INIT_KAIMING_NORMAL, DLT_FAN_IN, 1.4));
        h = dlt_relu(g, dlt_affine(g, dlt_matmul(g, h, w, 0, 1), 1.0f, 0.01f));
        dlt_scope_pop(g);
    }
    dlt_plan *p;
    dlt_plan_opts o = {.poison = poison};
    ck_assert_int_eq(dlt_plan_create(g, 1, &h, &o, &p), DLT_OK);
    ck_assert_msg(dlt_plan_verify(p) == DLT_OK, "%s", dlt_errmsg());
    dlt_test_fill_uniform(dlt_plan_data(p, x), 8 * 64, -1, 1, 1);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
    if (out)
        memcpy(out, dlt_plan_data(p, h), 8 * 64 * sizeof(float));
    dlt_mem_report r;
    dlt_plan_memory(p, &r);
    ck_assert_uint_ge(r.activations_bytes, (size_t)nlayers * 8 * 64 * 4);
    dlt_plan_free(p);
    dlt_graph_free(g);
    return r.arena_bytes;
}

START_TEST(planner_arena_does_not_grow)
{
    size_t a4 = chain_arena(4, 0, NULL), a16 = chain_arena(16, 0, NULL), a64 = chain_arena(64, 0, NULL);
    ck_assert_uint_eq(a4, a16);
    ck_assert_uint_eq(a16, a64);
    /* two buffers of 8x64 floats suffice for a chain with in-place ops */
    ck_assert_uint_le(a64, 2 * 8 * 64 * 4);
}
END_TEST

START_TEST(measure_only_plans_report_without_allocating)
{
    mlp m = build_mlp(16, 32, 64, 10);
    dlt_plan *real, *meas;
    dlt_plan_opts mo = {.measure_only = 1};
    ck_assert_int_eq(dlt_plan_create(m.g, 1, &m.y, NULL, &real), DLT_OK);
    ck_assert_int_eq(dlt_plan_create(m.g, 1, &m.y, &mo, &meas), DLT_OK);
    dlt_mem_report a, b;
    dlt_plan_memory(real, &a);
    dlt_plan_memory(meas, &b);
    ck_assert_uint_eq(a.arena_bytes, b.arena_bytes);
    ck_assert_uint_eq(a.inputs_bytes, b.inputs_bytes);
    ck_assert_ptr_null(dlt_plan_data(meas, m.x));
    ck_assert_int_eq(dlt_plan_run(meas, NULL), DLT_ERR_INVALID);
    dlt_plan_free(real);
    dlt_plan_free(meas);
    dlt_graph_free(m.g);
}
END_TEST

START_TEST(planner_poison_keeps_results)
{
    float a[512], b[512];
    chain_arena(12, 0, a);
    chain_arena(12, 1, b);
    for (int i = 0; i < 512; i++) {
        ck_assert(!isnan(b[i]));
        ck_assert_float_eq(a[i], b[i]);
    }
}
END_TEST

START_TEST(training_plan_writes_flat_gradients)
{
    mlp m = build_mlp(4, 3, 6, 2);
    dlt_t loss = dlt_sum(m.g, dlt_mul(m.g, m.y, m.y), 0, NULL, 0);
    int np;
    dlt_t *params, *grads;
    ck_assert_int_eq(dlt_grad_params(m.g, loss, &np, &params, &grads), DLT_OK);
    ck_assert_int_eq(np, 4);
    dlt_plan *p, *ref;
    dlt_plan_opts o = {.ngrads = np, .grad_params = params, .grad_values = grads, .poison = 1};
    ck_assert_int_eq(dlt_plan_create(m.g, 1, &loss, &o, &p), DLT_OK);
    dlt_t outs[5] = {loss, grads[0], grads[1], grads[2], grads[3]};
    ck_assert_int_eq(dlt_plan_create(m.g, 5, outs, NULL, &ref), DLT_OK);
    float x[12];
    dlt_test_fill_uniform(x, 12, -1, 1, 2);
    memcpy(dlt_plan_data(p, m.x), x, sizeof x);
    memcpy(dlt_plan_data(ref, m.x), x, sizeof x);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
    ck_assert_int_eq(dlt_plan_run(ref, NULL), DLT_OK);
    /* parameter layout: reverse creation order, 16-float aligned */
    ck_assert_str_eq(dlt_param_at(m.g, 0)->name, "fc2.bias");
    ck_assert_str_eq(dlt_param_at(m.g, 3)->name, "fc1.weight");
    for (int i = 0; i < np; i++) {
        const float *gflat = dlt_param_grad(m.g, params[i]), *gref = dlt_plan_data(ref, grads[i]);
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(m.g, params[i]));
        ck_assert_double_eq(dlt_test_max_abserr(gflat, gref, n), 0);
        ck_assert_int_ge(dlt_plan_grad_ready_step(p, params[i]), 0);
        ck_assert_uint_eq(dlt_param_at(m.g, i)->offset % 16, 0);
    }
    dlt_plan_free(p);
    dlt_plan_free(ref);
    free(params), free(grads);
    dlt_graph_free(m.g);
}
END_TEST

START_TEST(error_shape_mismatch_names_everything)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[2] = {8, 5}, ws[2] = {4, 6};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, xs);
    dlt_scope_push(g, "fc");
    dlt_t w = dlt_param(g, "weight", 2, ws, dlt_init_const(0));
    dlt_t y = dlt_matmul(g, x, w, 0, 1);
    ck_assert_int_eq(y, -1);
    /* later builders propagate the first error */
    ck_assert_int_eq(dlt_relu(g, y), -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_SHAPE);
    ck_assert_str_eq(dlt_graph_errmsg(g), "matmul 'fc.matmul': inner dimensions differ (5 vs 6) "
                                          "(inputs: 'x' f32[8,5], 'fc.weight' f32[4,6])");
    dlt_graph_free(g);
}
END_TEST

START_TEST(error_unknown_parameter)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t s[1] = {3};
    dlt_scope_push(g, "enc");
    dlt_param(g, "w", 1, s, dlt_init_const(1));
    dlt_scope_pop(g);
    ck_assert_int_ge(dlt_param_lookup(g, "enc.w"), 0);
    ck_assert_int_eq(dlt_param_lookup(g, "dec.w"), -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_NOTFOUND);
    ck_assert_str_eq(dlt_graph_errmsg(g), "no parameter or buffer named 'dec.w'");
    dlt_graph_free(g);
}
END_TEST

START_TEST(error_duplicate_parameter)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t s[1] = {3};
    dlt_param(g, "w", 1, s, dlt_init_const(1));
    ck_assert_int_eq(dlt_param(g, "w", 1, s, dlt_init_const(1)), -1);
    ck_assert_ptr_nonnull(strstr(dlt_graph_errmsg(g), "parameter 'w' already exists"));
    dlt_graph_free(g);
}
END_TEST

/* Reuse mode: the same scoped names give the same values (a module applied
 * twice), and only names that exist with that kind and shape. */
START_TEST(reuse_shares_parameters)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t s[1] = {3}, s2[1] = {4};
    dlt_scope_push(g, "d");
    dlt_t w = dlt_param(g, "w", 1, s, dlt_init_const(1));
    dlt_t rm = dlt_buffer(g, "rm", 1, s, dlt_init_const(0));
    ck_assert_int_eq(dlt_graph_set_reuse(g, 1), 0);
    ck_assert_int_eq(dlt_param(g, "w", 1, s, dlt_init_const(5)), w);
    ck_assert_int_eq(dlt_buffer(g, "rm", 1, s, dlt_init_const(5)), rm);
    ck_assert_int_eq(dlt_graph_status(g), DLT_OK);
    ck_assert_int_eq(dlt_graph_set_reuse(g, 0), 1);
    dlt_scope_pop(g);
    ck_assert_int_eq(dlt_num_params(g), 1);

    dlt_graph_set_reuse(g, 1);
    dlt_scope_push(g, "d");
    ck_assert_int_eq(dlt_param(g, "w", 1, s2, dlt_init_const(1)), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "parameter 'd.w' reused as parameter f32[4], but it is a parameter f32[3]");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    dlt_buffer(g, "rm", 1, s, dlt_init_const(0));
    dlt_graph_set_reuse(g, 1);
    ck_assert_int_eq(dlt_param(g, "rm", 1, s, dlt_init_const(1)), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "parameter 'rm' reused as parameter f32[3], but it is a buffer f32[3]");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    dlt_graph_set_reuse(g, 1);
    ck_assert_int_eq(dlt_param(g, "w", 1, s, dlt_init_const(1)), -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_NOTFOUND);
    ck_assert_str_eq(dlt_graph_errmsg(g), "parameter 'w' to reuse does not exist");
    dlt_graph_free(g);
}
END_TEST

START_TEST(error_cycle)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t s[1] = {3};
    dlt_t x = dlt_input(g, "x", DLT_F32, 1, s);
    dlt_t a = dlt_relu(g, x);
    dlt_t b = dlt_affine(g, a, 2, 0);
    /* feed b back into the node producing a */
    ck_assert_int_eq(dlt_rewire(g, dlt_producer_id(g, a), 0, b), DLT_OK);
    dlt_plan *p = NULL;
    ck_assert_int_eq(dlt_plan_create(g, 1, &b, NULL, &p), DLT_ERR_CYCLE);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "the graph has a cycle"));
    dlt_graph_free(g);
}
END_TEST

START_TEST(error_dtype_mismatch)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t s[1] = {3};
    dlt_t x = dlt_input(g, "x", DLT_F32, 1, s);
    dlt_t l = dlt_input(g, "labels", DLT_I32, 1, s);
    ck_assert_int_eq(dlt_add(g, x, l), -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_DTYPE);
    ck_assert_str_eq(dlt_graph_errmsg(g), "add 'add': inputs must be f32 (inputs: 'x' f32[3], 'labels' i32[3])");
    dlt_graph_free(g);
}
END_TEST

START_TEST(initializers_follow_their_laws)
{
    dlt_graph *g = dlt_graph_create(3);
    int64_t s[4] = {64, 32, 3, 3};
    dlt_t ku = dlt_param(g, "ku", 4, s, dlt_init_kaiming(DLT_INIT_KAIMING_UNIFORM, DLT_FAN_IN, sqrt(2)));
    dlt_t kn = dlt_param(g, "kn", 4, s, dlt_init_kaiming(DLT_INIT_KAIMING_NORMAL, DLT_FAN_OUT, sqrt(2)));
    dlt_t tn = dlt_param(g, "tn", 4, s, (dlt_init){.kind = DLT_INIT_TRUNC_NORMAL, .a = 1, .b = 0.5});
    ck_assert_int_eq(dlt_graph_finalize(g, NULL, 0), DLT_OK);
    int n = 64 * 32 * 9;
    const float *u = dlt_param_data(g, ku), *nn = dlt_param_data(g, kn), *t = dlt_param_data(g, tn);
    double bound = sqrt(2) * sqrt(3.0 / (32 * 9)), var = 0, mean = 0, tmin = 1e9, tmax = -1e9;
    for (int i = 0; i < n; i++) {
        ck_assert(fabs(u[i]) <= bound);
        var += (double)nn[i] * nn[i];
        mean += t[i];
        tmin = fmin(tmin, t[i]), tmax = fmax(tmax, t[i]);
    }
    /* kaiming normal, fan_out = 64*9: std = sqrt(2/576); sample std within 3% (n = 18432) */
    ck_assert_double_le(fabs(sqrt(var / n) - sqrt(2.0 / 576)) / sqrt(2.0 / 576), 0.03);
    ck_assert_double_le(fabs(mean / n - 1), 0.02);
    ck_assert(tmin >= 0 && tmax <= 2);
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    dlt_set_num_threads(2);
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, mlp_forward_matches_naive, 0, 3);
    tcase_add_loop_test(tc, matmul_transposes_match_naive, 0, 2);
    tcase_add_test(tc, mlp_gradients_match_finite_differences);
    tcase_add_test(tc, second_order_matches_finite_differences);
    tcase_add_test(tc, broadcast_and_reduce_gradients);
    tcase_add_test(tc, planner_arena_does_not_grow);
    tcase_add_test(tc, planner_poison_keeps_results);
    tcase_add_test(tc, measure_only_plans_report_without_allocating);
    tcase_add_test(tc, training_plan_writes_flat_gradients);
    tcase_add_test(tc, error_shape_mismatch_names_everything);
    tcase_add_test(tc, error_unknown_parameter);
    tcase_add_test(tc, error_duplicate_parameter);
    tcase_add_test(tc, reuse_shares_parameters);
    tcase_add_test(tc, error_cycle);
    tcase_add_test(tc, error_dtype_mismatch);
    tcase_add_test(tc, initializers_follow_their_laws);
    tcase_add_test(tc, gradient_wrt_a_produced_value);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
