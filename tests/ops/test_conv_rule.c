/* The provider rule's oneDNN padding check (conv_provider.c, conv_dnnl.c's
 * conv_dnnl_pads_image), with oneDNN held to AVX2 code as on an AVX2-only node
 * (ONEDNN_MAX_CPU_ISA, set before oneDNN reads it). oneDNN 2.6's AVX2
 * backward-weights keeps a one-channel image padded to a block of 8 channels
 * and ran at a third of im2col's speed, so the default plan of a one-channel
 * weight gradient must hold no oneDNN primitive; a three-channel image is read
 * plain and stays on oneDNN. If a newer oneDNN stops padding, the first check
 * fails: re-measure (bench/conv_bench) and update the rule's comment.
 * Both results are checked against naive loops in double. SKIP (77) without
 * oneDNN or on a CPU without AVX2+FMA.
 *
 * Tolerance: max |plan - naive| <= 1e-5 * (1 + max |naive|) * sqrt(K), K = N OH OW
 * the products summed per weight. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dlt_ops.h"
#include "dlt_test.h"

enum { N = 4, H = 12, W = 12, OC = 16, K = 3 };

/* dw[o, c, ky, kx] = sum over n, oy, ox of dy[n, o, oy, ox] x[n, c, oy + ky - 1, ox + kx - 1] (padding 1) */
static void naive_wgrad(int c, const float *x, const float *dy, double *dw)
{
    for (int o = 0; o < OC; o++)
        for (int ci = 0; ci < c; ci++)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) {
                    double s = 0;
                    for (int n = 0; n < N; n++)
                        for (int oy = 0; oy < H; oy++)
                            for (int ox = 0; ox < W; ox++) {
                                int iy = oy + ky - 1, ix = ox + kx - 1;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                    continue;
                                s += (double)dy[((n * OC + o) * H + oy) * W + ox] *
                                     x[((n * c + ci) * H + iy) * W + ix];
                            }
                    dw[((o * c + ci) * K + ky) * K + kx] = s;
                }
}

/* The default plan of the weight gradient of a c-channel image: how many
 * oneDNN primitives it holds, and its result against the naive loops. */
static int primitives_of_wgrad(int c)
{
    int64_t xs[4] = {N, c, H, W}, ys[4] = {N, OC, H, W};
    dlt_conv2d_opts o = {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}};
    dlt_graph *g = dlt_graph_create(7);
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), dy = dlt_input(g, "dy", DLT_F32, 4, ys);
    dlt_t dw = dlt_conv2d_weight_grad(g, x, dy, K, K, &o);
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 1, &dw, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    int live = dlt_conv_dnnl_live();
    float *xd = dlt_plan_data(p, x), *yd = dlt_plan_data(p, dy);
    dlt_test_fill_uniform(xd, (size_t)(N * c * H * W), -1.f, 1.f, 11);
    dlt_test_fill_uniform(yd, (size_t)(N * OC * H * W), -1.f, 1.f, 12);
    ck_assert_msg(dlt_plan_run(p, NULL) == DLT_OK, "%s", dlt_errmsg());
    size_t nw = (size_t)(OC * c * K * K);
    double *ref = malloc(nw * sizeof *ref), mx = 0, err = 0;
    naive_wgrad(c, xd, yd, ref);
    const float *got = dlt_plan_data(p, dw);
    for (size_t i = 0; i < nw; i++) {
        mx = fmax(mx, fabs(ref[i]));
        err = fmax(err, fabs(got[i] - ref[i]));
    }
    double tol = 1e-5 * (1 + mx) * sqrt((double)(N * H * W));
    ck_assert_msg(err <= tol, "%d channels: |plan - naive| = %g > %g", c, err, tol);
    ck_assert_msg(mx > 1, "%d channels: degenerate reference", c);
    free(ref);
    dlt_plan_free(p);
    dlt_graph_free(g);
    return live;
}

START_TEST(one_channel_weight_gradient_leaves_onednn)
{
    ck_assert_msg(primitives_of_wgrad(1) == 0, "a one-channel weight gradient ran on oneDNN's padded AVX2 kernel");
    ck_assert_msg(primitives_of_wgrad(3) == 1, "a three-channel weight gradient left oneDNN");
    ck_assert_int_eq(dlt_conv_dnnl_live(), 0);
}
END_TEST

int main(void)
{
    /* before oneDNN's first primitive: it reads the cap once */
    setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 1);
    setenv("DNNL_MAX_CPU_ISA", "AVX2", 1);
    unsetenv("DLT_CONV");
    unsetenv("DLT_CONV_LAYOUT");
    if (!dlt_conv_dnnl_built()) {
        puts("SKIP: built without oneDNN (configure found no libdnnl-dev)");
        return DLT_TEST_SKIP;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        puts("SKIP: this CPU has no AVX2+FMA (the rule's case is oneDNN's AVX2 code)");
        return DLT_TEST_SKIP;
    }
#else
    puts("SKIP: not an x86 CPU (the rule's case is oneDNN's AVX2 code)");
    return DLT_TEST_SKIP;
#endif
    Suite *s = suite_create("conv_rule");
    TCase *tc = tcase_create("conv_rule");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, one_channel_weight_gradient_leaves_onednn);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
