/* The oneDNN convolution provider against the im2col + sgemm kernels (which
 * test_conv checks against naive loops and finite differences): conv2d with
 * bias, its data gradient, conv_transpose2d with bias and the weight gradient
 * on odd geometries (stride 2, padding, 1x1, 1x1 stride 2, groups, depthwise,
 * dilation, channel counts that are not multiples of 16, batch 1).
 *
 * Tolerance: max |dnnl - im2col| <= 1e-5 * (1 + max |im2col|) * sqrt(K), K the
 * products summed per output (f32 sums in another order).
 * Both providers are forced per plan with DLT_CONV; the dnnl plan must hold
 * one oneDNN primitive (so oneDNN ran), none once freed; plans are made for two
 * threads, and the last case's weight gradient must run split by images
 * (conv_dnnl.c). The
 * same plan run twice, and two plans made alike, give the same bits (one
 * and two threads). SKIP (77) only when the library was built without oneDNN. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

typedef struct {
    int n, c, h, w, oc, k, s, p, d, groups;
} dcase;

static const dcase cases[] = {
    {2, 5, 9, 7, 6, 3, 2, 1, 1, 1},    /* stride 2, padding, odd channels */
    {1, 16, 8, 8, 32, 1, 1, 0, 1, 1},  /* 1x1, batch 1 */
    {3, 8, 10, 9, 12, 3, 1, 1, 1, 4},  /* groups */
    {2, 6, 11, 10, 4, 3, 1, 2, 2, 1},  /* dilation */
    {2, 32, 7, 7, 20, 1, 2, 0, 1, 1},  /* 1x1 stride 2 (negative right padding) */
    {4, 17, 14, 14, 33, 3, 2, 1, 1, 1}, /* odd channels above one block */
    {2, 8, 6, 6, 8, 3, 1, 1, 1, 8},    /* depthwise */
    {4, 2, 20, 20, 4, 3, 1, 1, 1, 1},  /* weights small beside the input: split over threads */
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))
#define SPLIT_CASE (NCASES - 1) /* the last one */
enum { NOUT = 4 };

typedef struct {
    dlt_graph *g;
    dlt_t in[5], out[NOUT];
    int64_t k_sum[NOUT]; /* products per output element */
} net;

static void build(const dcase *k, net *m)
{
    int64_t oh = (k->h + 2 * k->p - k->d * (k->k - 1) - 1) / k->s + 1;
    int64_t ow = (k->w + 2 * k->p - k->d * (k->k - 1) - 1) / k->s + 1;
    int64_t xs[4] = {k->n, k->c, k->h, k->w}, ws[4] = {k->oc, k->c / k->groups, k->k, k->k};
    int64_t ys[4] = {k->n, k->oc, oh, ow}, bo[1] = {k->oc}, bc[1] = {k->c};
    dlt_conv2d_opts o = {{k->s, k->s}, {k->p, k->p}, {k->d, k->d}, k->groups, {0, 0}};
    m->g = dlt_graph_create(7);
    dlt_graph *g = m->g;
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), w = dlt_input(g, "w", DLT_F32, 4, ws);
    dlt_t dy = dlt_input(g, "dy", DLT_F32, 4, ys), b = dlt_input(g, "b", DLT_F32, 1, bo);
    dlt_t bt = dlt_input(g, "bt", DLT_F32, 1, bc);
    m->out[0] = dlt_conv2d(g, x, w, b, &o);
    m->out[1] = dlt_conv2d_input_grad(g, dy, w, k->h, k->w, &o);
    m->out[2] = dlt_conv2d_weight_grad(g, x, dy, k->k, k->k, &o);
    m->out[3] = dlt_conv_transpose2d(g, dy, w, bt, &o);
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
    dlt_t in[5] = {x, w, dy, b, bt};
    memcpy(m->in, in, sizeof in);
    int64_t kk = (int64_t)k->k * k->k;
    m->k_sum[0] = k->c / k->groups * kk;
    m->k_sum[1] = m->k_sum[3] = k->oc / k->groups * kk;
    m->k_sum[2] = k->n * oh * ow;
}

/* A plan of output i made with DLT_CONV=provider, inputs filled, run once. */
static dlt_plan *plan_run(net *m, int i, const char *provider)
{
    dlt_plan *p = NULL;
    setenv("DLT_CONV", provider, 1);
    ck_assert_msg(dlt_plan_create(m->g, 1, &m->out[i], NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    unsetenv("DLT_CONV");
    for (int j = 0; j < 5; j++) {
        float *d = dlt_plan_data(p, m->in[j]);
        if (d)
            dlt_test_fill_uniform(d, (size_t)dlt_shape_numel(dlt_shape_of(m->g, m->in[j])), -1.f, 1.f,
                                  100 + (uint64_t)j);
    }
    ck_assert_msg(dlt_plan_run(p, NULL) == DLT_OK, "%s", dlt_errmsg());
    return p;
}

static size_t numel_of(net *m, int i) { return (size_t)dlt_shape_numel(dlt_shape_of(m->g, m->out[i])); }

START_TEST(dnnl_matches_im2col)
{
    const dcase *k = &cases[_i];
    net m;
    build(k, &m);
    int saved = dlt_get_num_threads();
    dlt_set_num_threads(2); /* so that the split case splits on any machine */
    for (int i = 0; i < NOUT; i++) {
        dlt_plan *pi = plan_run(&m, i, "im2col");
        ck_assert_int_eq(dlt_conv_dnnl_live(), 0);
        long long split0 = dlt_conv_dnnl_split_images();
        dlt_plan *pd = plan_run(&m, i, "dnnl");
        /* the weight gradient of the split case ran one slice per thread */
        if (i == 2 && _i == SPLIT_CASE)
            ck_assert_msg(dlt_conv_dnnl_split_images() == split0 + k->n, "case %d: weight gradient not split", _i);
        ck_assert_msg(dlt_conv_dnnl_live() == 1, "case %d output %d: %d oneDNN primitives, expected 1", _i, i,
                      dlt_conv_dnnl_live());
        size_t n = numel_of(&m, i);
        const float *a = dlt_plan_data(pi, m.out[i]), *b = dlt_plan_data(pd, m.out[i]);
        double mx = 0;
        for (size_t e = 0; e < n; e++)
            mx = fmax(mx, fabs(a[e]));
        double err = dlt_test_max_abserr(a, b, n), tol = 1e-5 * (1 + mx) * sqrt((double)m.k_sum[i]);
        ck_assert_msg(err <= tol, "case %d output %d: |dnnl - im2col| = %g > %g", _i, i, err, tol);
        ck_assert_msg(mx > 0.1, "case %d output %d: degenerate reference", _i, i);
        dlt_plan_free(pi);
        dlt_plan_free(pd);
        ck_assert_int_eq(dlt_conv_dnnl_live(), 0); /* the plan released its state */
    }
    dlt_set_num_threads(saved);
    dlt_graph_free(m.g);
}
END_TEST

/* Same bits from two runs of one plan and from two plans, at 1 and 2 threads
 * (the weight gradient included: oneDNN's reduction order is fixed by the
 * thread count). */
START_TEST(dnnl_deterministic)
{
    int saved = dlt_get_num_threads();
    for (int t = 1; t <= 2; t++) {
        dlt_set_num_threads(t);
        static const int pick[4] = {0, 2, 5, SPLIT_CASE};
        for (int ci = 0; ci < 4; ci++) {
            int c = pick[ci];
            net m;
            build(&cases[c], &m);
            for (int i = 0; i < NOUT; i++) {
                size_t n = numel_of(&m, i);
                dlt_plan *p1 = plan_run(&m, i, "dnnl"), *p2 = plan_run(&m, i, "dnnl");
                float *first = malloc(n * sizeof *first);
                memcpy(first, dlt_plan_data(p1, m.out[i]), n * sizeof *first);
                ck_assert(dlt_plan_run(p1, NULL) == DLT_OK);
                ck_assert_msg(memcmp(first, dlt_plan_data(p1, m.out[i]), n * sizeof *first) == 0,
                              "case %d output %d, %d threads: two runs differ", c, i, t);
                ck_assert_msg(memcmp(first, dlt_plan_data(p2, m.out[i]), n * sizeof *first) == 0,
                              "case %d output %d, %d threads: two plans differ", c, i, t);
                free(first);
                dlt_plan_free(p1);
                dlt_plan_free(p2);
            }
            dlt_graph_free(m.g);
        }
    }
    dlt_set_num_threads(saved);
}
END_TEST

static Suite *dnnl_suite(void)
{
    Suite *s = suite_create("conv_dnnl");
    TCase *tc = tcase_create("conv_dnnl");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, dnnl_matches_im2col, 0, NCASES);
    tcase_add_test(tc, dnnl_deterministic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!dlt_conv_dnnl_built()) {
        puts("SKIP: built without oneDNN (configure found no libdnnl-dev)");
        return DLT_TEST_SKIP;
    }
    return dlt_test_run(dnnl_suite());
}
