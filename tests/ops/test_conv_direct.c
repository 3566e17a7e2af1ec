/* The direct data-gradient convolution (src/ops/conv_direct.c), which plans
 * use for the data gradient and conv_transpose2d of images with 2-4 channels
 * and fewer than 64 response channels (forced here with DLT_CONV=direct for
 * every geometry it handles): against naive scatter loops in double, on geometries that reach
 * every part of the kernel (one to four channels; strides 1, 2, 3 and unequal;
 * 1x1 stride 2, whose phases include ones no tap reaches; padding up to k - 1;
 * rows wider than a tile and one pixel high; sizes the stride does not divide;
 * bias). The plan must have run the direct kernel (dlt_conv_direct_images)
 * and an im2col plan must not; results are bitwise the same on 1 and 2
 * threads. The default provider rule picks it where it should and only there. tests/ops/test_vmath_paths.sh runs this once per vector path.
 *
 * Tolerance: max |direct - ref| <= 1e-5 * (1 + max |ref|) * sqrt(K), K = OC KH KW
 * the products summed per element (f32 sums in another order). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"
#include "vmath.h"

typedef struct {
    int n, c, h, w, oc, kh, kw, sh, sw, ph, pw, bias;
} dcase;

static const dcase cases[] = {
    {2, 3, 28, 28, 16, 3, 3, 1, 1, 1, 1, 0}, /* ResNet-20's input layer */
    {1, 3, 30, 37, 24, 7, 7, 2, 2, 3, 3, 1}, /* ResNet-50's, smaller */
    {3, 1, 14, 14, 8, 4, 4, 2, 2, 1, 1, 1},  /* a DCGAN discriminator's first layer */
    {2, 2, 9, 70, 5, 5, 3, 1, 1, 2, 1, 0},   /* several column blocks, kh != kw */
    {2, 4, 11, 13, 6, 3, 3, 3, 2, 1, 0, 1},  /* strides 3 x 2, four channels */
    {1, 1, 5, 7, 3, 1, 1, 2, 2, 0, 0, 1},    /* 1x1 stride 2: phases without taps */
    {2, 3, 6, 6, 4, 3, 3, 1, 1, 2, 2, 0},    /* padding k - 1 */
    {1, 2, 1, 40, 3, 3, 3, 1, 1, 1, 1, 0},   /* one row */
    {2, 1, 15, 17, 2, 3, 3, 2, 2, 1, 1, 0},  /* sizes stride 2 does not divide */
    {1, 1, 40, 3, 2, 2, 2, 2, 1, 0, 1, 1},   /* tall and narrow, k 2 */
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static int64_t out_dim(int64_t in, int k, int s, int p, int d)
{
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

/* x[n, c, oy sh - ph + ky, ox sw - pw + kx] += w[o, c, ky, kx] y[n, o, oy, ox], plus bias */
static void ref(const dcase *k, const float *y, const float *w, const float *b, double *x)
{
    int64_t oh = out_dim(k->h, k->kh, k->sh, k->ph, 1), ow = out_dim(k->w, k->kw, k->sw, k->pw, 1);
    for (int n = 0; n < k->n; n++)
        for (int c = 0; c < k->c; c++)
            for (int64_t i = 0; i < (int64_t)k->h * k->w; i++)
                x[(n * k->c + c) * k->h * k->w + i] = b ? b[c] : 0;
    for (int n = 0; n < k->n; n++)
        for (int o = 0; o < k->oc; o++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double v = y[((n * k->oc + o) * oh + oy) * ow + ox];
                    for (int c = 0; c < k->c; c++)
                        for (int ky = 0; ky < k->kh; ky++)
                            for (int kx = 0; kx < k->kw; kx++) {
                                int64_t ih = oy * k->sh - k->ph + ky, iw = ox * k->sw - k->pw + kx;
                                if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w)
                                    continue;
                                x[((n * k->c + c) * k->h + ih) * k->w + iw] +=
                                    v * w[((o * k->c + c) * k->kh + ky) * k->kw + kx];
                            }
                }
}

typedef struct {
    dlt_graph *g;
    dlt_t y, w, b, x;
} net;

/* The data gradient (bias: conv_transpose2d) of k's convolution with
 * dilation d (ref() knows only 1). */
static void build(const dcase *k, int d, net *m)
{
    int64_t oh = out_dim(k->h, k->kh, k->sh, k->ph, d), ow = out_dim(k->w, k->kw, k->sw, k->pw, d);
    int64_t ys[4] = {k->n, k->oc, oh, ow}, ws[4] = {k->oc, k->c, k->kh, k->kw}, bs[1] = {k->c};
    dlt_conv2d_opts o = {{k->sh, k->sw}, {k->ph, k->pw}, {d, d}, 1, {0, 0}};
    m->g = dlt_graph_create(3);
    m->y = dlt_input(m->g, "y", DLT_F32, 4, ys);
    m->w = dlt_input(m->g, "w", DLT_F32, 4, ws);
    m->b = k->bias ? dlt_input(m->g, "b", DLT_F32, 1, bs) : -1;
    if (k->bias) {
        /* conv_transpose2d's own output size must be the image's */
        o.output_padding[0] = (int)(k->h - ((oh - 1) * k->sh - 2 * k->ph + k->kh));
        o.output_padding[1] = (int)(k->w - ((ow - 1) * k->sw - 2 * k->pw + k->kw));
        m->x = dlt_conv_transpose2d(m->g, m->y, m->w, m->b, &o);
    } else {
        m->x = dlt_conv2d_input_grad(m->g, m->y, m->w, k->h, k->w, &o);
    }
    ck_assert_msg(dlt_graph_status(m->g) == DLT_OK, "%s", dlt_graph_errmsg(m->g));
}

/* A plan of x made with DLT_CONV=provider (NULL: unset), inputs filled, run once. */
static dlt_plan *plan_run(net *m, const char *provider)
{
    dlt_plan *p = NULL;
    if (provider)
        setenv("DLT_CONV", provider, 1);
    ck_assert_msg(dlt_plan_create(m->g, 1, &m->x, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    unsetenv("DLT_CONV");
    dlt_t in[3] = {m->y, m->w, m->b};
    for (int j = 0; j < 3; j++)
        if (in[j] >= 0)
            dlt_test_fill_uniform(dlt_plan_data(p, in[j]),
                                  (size_t)dlt_shape_numel(dlt_shape_of(m->g, in[j])), -1.f, 1.f, 40 + (uint64_t)j);
    ck_assert_msg(dlt_plan_run(p, NULL) == DLT_OK, "%s", dlt_errmsg());
    return p;
}

START_TEST(direct_matches_naive)
{
    const dcase *k = &cases[_i];
    net m;
    build(k, 1, &m);
    int saved = dlt_get_num_threads();
    size_t n = (size_t)k->n * k->c * k->h * k->w;
    double *want = malloc(n * sizeof *want);
    float *first = malloc(n * sizeof *first);
    double tol = 0;
    for (int t = 1; t <= 2; t++) {
        dlt_set_num_threads(t);
        long long before = dlt_conv_direct_images();
        dlt_plan *p = plan_run(&m, "direct");
        ck_assert_msg(dlt_conv_direct_images() == before + k->n, "case %d: the direct kernel ran %lld images, not %d",
                      _i, dlt_conv_direct_images() - before, k->n);
        const float *x = dlt_plan_data(p, m.x);
        if (t == 1) {
            ref(k, dlt_plan_data(p, m.y), dlt_plan_data(p, m.w), k->bias ? dlt_plan_data(p, m.b) : NULL, want);
            double mx = 0, err = 0;
            for (size_t e = 0; e < n; e++) {
                mx = fmax(mx, fabs(want[e]));
                err = fmax(err, fabs(want[e] - x[e]));
            }
            tol = 1e-5 * (1 + mx) * sqrt((double)k->oc * k->kh * k->kw);
            ck_assert_msg(err <= tol, "case %d: |direct - naive| = %g > %g", _i, err, tol);
            ck_assert_msg(mx > 0.1, "case %d: degenerate reference", _i);
            memcpy(first, x, n * sizeof *first);
        } else {
            ck_assert_msg(memcmp(first, x, n * sizeof *first) == 0, "case %d: 1 and 2 threads differ", _i);
        }
        dlt_plan_free(p);
    }
    /* a forced provider does not run it */
    long long before = dlt_conv_direct_images();
    dlt_plan *p = plan_run(&m, "im2col");
    ck_assert_int_eq(dlt_conv_direct_images(), before);
    ck_assert_msg(dlt_test_max_abserr(first, dlt_plan_data(p, m.x), n) <= 2 * tol, "case %d: direct and im2col differ",
                  _i);
    dlt_plan_free(p);
    dlt_set_num_threads(saved);
    free(want);
    free(first);
    dlt_graph_free(m.g);
}
END_TEST

/* The default rule: direct for 2-4 image channels and < 64 response
 * channels, and for one image channel at stride 1 where the path reads the
 * response in place (AVX-512); not for one image channel at stride 2, 64
 * response channels or 5 image channels (im2col or oneDNN run those), nor
 * when DLT_CONV=direct meets a geometry it does not handle (dilation). */
START_TEST(default_rule)
{
    int in_place = dlt_vmath_vec()->conv_data_in_place;
    ck_assert_int_eq(in_place, strcmp(dlt_vmath_vec()->name, "avx512") == 0);
    const struct {
        dcase k;
        int direct;
    } want[] = {
        {{2, 3, 8, 8, 16, 3, 3, 1, 1, 1, 1, 0}, 1},
        {{2, 4, 8, 8, 63, 3, 3, 2, 2, 1, 1, 0}, 1},
        {{2, 1, 8, 8, 16, 3, 3, 1, 1, 1, 1, 0}, in_place},
        {{2, 1, 8, 8, 16, 4, 4, 2, 2, 1, 1, 0}, 0},
        {{2, 1, 8, 8, 64, 3, 3, 1, 1, 1, 1, 0}, 0},
        {{2, 3, 8, 8, 64, 3, 3, 1, 1, 1, 1, 0}, 0},
        {{2, 5, 8, 8, 4, 3, 3, 1, 1, 1, 1, 0}, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        net m;
        build(&want[i].k, 1, &m);
        long long before = dlt_conv_direct_images();
        dlt_plan *p = plan_run(&m, NULL);
        ck_assert_msg(dlt_conv_direct_images() - before == (want[i].direct ? want[i].k.n : 0),
                      "rule case %zu: direct ran %lld images", i, dlt_conv_direct_images() - before);
        dlt_plan_free(p);
        dlt_graph_free(m.g);
    }
    /* dilation 2: DLT_CONV=direct falls back */
    dcase dil = {1, 2, 6, 6, 4, 3, 3, 1, 1, 1, 1, 0};
    net m;
    build(&dil, 2, &m);
    long long before = dlt_conv_direct_images();
    dlt_plan_free(plan_run(&m, "direct"));
    ck_assert_int_eq(dlt_conv_direct_images(), before);
    dlt_graph_free(m.g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv_direct");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, direct_matches_naive, 0, NCASES);
    tcase_add_test(tc, default_rule);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
