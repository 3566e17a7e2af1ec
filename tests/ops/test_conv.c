/* conv2d, conv_transpose2d and the backward ops: forward against naive loops,
 * gradients against finite differences (first and second order), thread-count
 * determinism, and the argument errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

typedef struct {
    int n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias, oph, opw;
} conv_case;

/* odd sizes, batch 1, non-square kernels and strides, groups, depthwise,
 * dilation, the 1x1 fast path (plain and grouped) and 1x1 with stride */
static const conv_case cases[] = {
    {1, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
    {2, 4, 9, 8, 6, 3, 2, 2, 1, 1, 0, 1, 1, 2, 1, 1, 0},
    {3, 6, 10, 11, 6, 3, 3, 1, 2, 2, 1, 2, 1, 6, 0, 0, 1},
    {2, 8, 5, 6, 16, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0},
    {3, 4, 6, 7, 8, 1, 1, 1, 1, 0, 0, 1, 1, 4, 0, 0, 0},
    {5, 3, 12, 13, 5, 5, 4, 3, 2, 2, 1, 1, 2, 1, 1, 2, 1},
    {2, 5, 7, 7, 3, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 1, 1},
    {1, 2, 4, 3, 2, 4, 3, 1, 1, 0, 0, 1, 1, 2, 0, 0, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static dlt_conv2d_opts opts_of(const conv_case *k, int transposed)
{
    dlt_conv2d_opts o = {{k->sh, k->sw}, {k->ph, k->pw}, {k->dh, k->dw}, k->groups, {0, 0}};
    if (transposed) {
        o.output_padding[0] = k->oph;
        o.output_padding[1] = k->opw;
    }
    return o;
}

static int64_t out_dim(int64_t in, int k, int s, int p, int d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

/* y[n, o, i, j] = b[o] + sum x[n, g cg + c, i s - p + ki d, j s - p + kj d] w[o, c, ki, kj] */
static void conv_ref(const conv_case *k, const float *x, const float *w, const float *b, float *y)
{
    int64_t oh = out_dim(k->h, k->kh, k->sh, k->ph, k->dh), ow = out_dim(k->w, k->kw, k->sw, k->pw, k->dw);
    int cg = k->c / k->groups, ocg = k->oc / k->groups;
    for (int n = 0; n < k->n; n++)
        for (int o = 0; o < k->oc; o++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double s = b ? b[o] : 0;
                    for (int c = 0; c < cg; c++)
                        for (int ki = 0; ki < k->kh; ki++)
                            for (int kj = 0; kj < k->kw; kj++) {
                                int64_t ih = i * k->sh - k->ph + ki * k->dh, iw = j * k->sw - k->pw + kj * k->dw;
                                if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w)
                                    continue;
                                int ci = (o / ocg) * cg + c;
                                s += (double)x[((n * k->c + ci) * k->h + ih) * k->w + iw] *
                                     w[((o * cg + c) * k->kh + ki) * k->kw + kj];
                            }
                    y[((n * k->oc + o) * oh + i) * ow + j] = (float)s;
                }
}

/* ConvTranspose2d by its definition: every input pixel scatters its kernel.
 * Here c input channels go to oc outputs; w is [c, oc / groups, kh, kw]. */
static void convt_ref(const conv_case *k, const float *x, const float *w, const float *b, float *y,
                      int64_t oh, int64_t ow)
{
    int cg = k->c / k->groups, ocg = k->oc / k->groups;
    double *acc = calloc((size_t)(k->n * k->oc * oh * ow), sizeof *acc);
    for (int n = 0; n < k->n; n++)
        for (int c = 0; c < k->c; c++)
            for (int i = 0; i < k->h; i++)
                for (int j = 0; j < k->w; j++)
                    for (int o = 0; o < ocg; o++)
                        for (int ki = 0; ki < k->kh; ki++)
                            for (int kj = 0; kj < k->kw; kj++) {
                                int64_t yi = (int64_t)i * k->sh - k->ph + ki * k->dh;
                                int64_t yj = (int64_t)j * k->sw - k->pw + kj * k->dw;
                                if (yi < 0 || yi >= oh || yj < 0 || yj >= ow)
                                    continue;
                                int oc = (c / cg) * ocg + o;
                                acc[((n * k->oc + oc) * oh + yi) * ow + yj] +=
                                    (double)x[((n * k->c + c) * k->h + i) * k->w + j] *
                                    w[((c * ocg + o) * k->kh + ki) * k->kw + kj];
                            }
    for (int64_t e = 0; e < k->n * k->oc * oh * ow; e++)
        y[e] = (float)(acc[e] + (b ? b[(e / (oh * ow)) % k->oc] : 0));
    free(acc);
}

typedef struct {
    dlt_graph *g;
    dlt_t in[3], y;
    float *data[3];
    int nin;
} built;

static float *rand_buf(int64_t n, uint64_t seed)
{
    float *p = malloc((size_t)n * sizeof *p);
    dlt_test_fill_uniform(p, (size_t)n, -1, 1, seed);
    return p;
}

/* x, w (and b) as graph inputs filled with uniform values */
static built build(const conv_case *k, int transposed, uint64_t seed)
{
    built bt = {dlt_graph_create(seed), {-1, -1, -1}, -1, {NULL, NULL, NULL}, 2 + k->bias};
    int64_t xs[4] = {k->n, k->c, k->h, k->w};
    int64_t ws[4] = {transposed ? k->c : k->oc, transposed ? k->oc / k->groups : k->c / k->groups, k->kh,
                     k->kw};
    int64_t bs[1] = {k->oc};
    bt.in[0] = dlt_input(bt.g, "x", DLT_F32, 4, xs);
    bt.in[1] = dlt_input(bt.g, "w", DLT_F32, 4, ws);
    if (k->bias)
        bt.in[2] = dlt_input(bt.g, "b", DLT_F32, 1, bs);
    dlt_conv2d_opts o = opts_of(k, transposed);
    bt.y = transposed ? dlt_conv_transpose2d(bt.g, bt.in[0], bt.in[1], bt.in[2], &o)
                      : dlt_conv2d(bt.g, bt.in[0], bt.in[1], bt.in[2], &o);
    ck_assert_msg(bt.y >= 0, "%s", dlt_graph_errmsg(bt.g));
    bt.data[0] = rand_buf(dlt_shape_numel(dlt_shape_of(bt.g, bt.in[0])), seed + 1);
    bt.data[1] = rand_buf(dlt_shape_numel(dlt_shape_of(bt.g, bt.in[1])), seed + 2);
    bt.data[2] = rand_buf(k->oc, seed + 3);
    return bt;
}

static void built_free(built *bt)
{
    for (int i = 0; i < 3; i++)
        free(bt->data[i]);
    dlt_graph_free(bt->g);
}

static dlt_gc_feed feed_of(const built *bt, const void **ptrs)
{
    for (int i = 0; i < bt->nin; i++)
        ptrs[i] = bt->data[i];
    dlt_gc_feed f = {bt->nin, bt->in, ptrs, 0};
    return f;
}

START_TEST(conv2d_forward_matches_naive)
{
    const conv_case *k = &cases[_i];
    built bt = build(k, 0, 100 + (uint64_t)_i);
    int64_t ny = dlt_shape_numel(dlt_shape_of(bt.g, bt.y));
    float *y = malloc((size_t)ny * sizeof *y), *ref = malloc((size_t)ny * sizeof *ref);
    const void *ptrs[3];
    dlt_gc_feed f = feed_of(&bt, ptrs);
    dlt_test_eval(bt.g, bt.y, &f, y);
    conv_ref(k, bt.data[0], bt.data[1], k->bias ? bt.data[2] : NULL, ref);
    /* f32 dot products of at most 60 terms of magnitude <= 1 against a double
     * reference: rounding stays below 60 * 6e-8 ~ 4e-6 absolute */
    ck_assert_double_le(dlt_test_max_relerr(y, ref, (size_t)ny, 1.0), 1e-5);
    free(y), free(ref);
    built_free(&bt);
}
END_TEST

START_TEST(conv_transpose2d_forward_matches_naive)
{
    const conv_case *k = &cases[_i];
    built bt = build(k, 1, 200 + (uint64_t)_i);
    const dlt_shape *ys = dlt_shape_of(bt.g, bt.y);
    /* PyTorch's size formula */
    ck_assert_int_eq(ys->dim[2], (k->h - 1) * k->sh - 2 * k->ph + k->dh * (k->kh - 1) + k->oph + 1);
    ck_assert_int_eq(ys->dim[3], (k->w - 1) * k->sw - 2 * k->pw + k->dw * (k->kw - 1) + k->opw + 1);
    int64_t ny = dlt_shape_numel(ys);
    float *y = malloc((size_t)ny * sizeof *y), *ref = malloc((size_t)ny * sizeof *ref);
    const void *ptrs[3];
    dlt_gc_feed f = feed_of(&bt, ptrs);
    dlt_test_eval(bt.g, bt.y, &f, y);
    convt_ref(k, bt.data[0], bt.data[1], k->bias ? bt.data[2] : NULL, ref, ys->dim[2], ys->dim[3]);
    ck_assert_double_le(dlt_test_max_relerr(y, ref, (size_t)ny, 1.0), 1e-5);
    free(y), free(ref);
    built_free(&bt);
}
END_TEST

/* The loss <y, r> is bilinear in (x, w) plus linear in b, so along a line it is
 * a quadratic and the central difference is exact: what remains is the f32
 * rounding of the loss (~1e-7 |L| / eps), far inside 1e-4 relative. */
static void check_grads(built *bt, uint64_t seed)
{
    const void *ptrs[3];
    dlt_gc_feed f = feed_of(bt, ptrs);
    double an, nu;
    dlt_test_gradcheck(bt->g, bt->y, bt->nin, bt->in, &f, 0.05, seed, &an, &nu);
    dlt_test_assert_close("conv gradients", an, nu, 1e-4, 1e-4);
}

START_TEST(conv2d_gradients_match_finite_differences)
{
    built bt = build(&cases[_i], 0, 300 + (uint64_t)_i);
    check_grads(&bt, 31 + (uint64_t)_i);
    built_free(&bt);
}
END_TEST

START_TEST(conv_transpose2d_gradients_match_finite_differences)
{
    built bt = build(&cases[_i], 1, 400 + (uint64_t)_i);
    check_grads(&bt, 41 + (uint64_t)_i);
    built_free(&bt);
}
END_TEST

/* The two backward ops as ops in their own right (their grad rules are what
 * second order runs through). */
START_TEST(backward_ops_gradients_match_finite_differences)
{
    const conv_case *k = &cases[_i];
    built bt = build(k, 0, 500 + (uint64_t)_i);
    dlt_conv2d_opts o = opts_of(k, 0);
    const dlt_shape *ys = dlt_shape_of(bt.g, bt.y);
    dlt_graph *g = dlt_graph_create(7);
    int64_t xs[4] = {k->n, k->c, k->h, k->w}, ws[4] = {k->oc, k->c / k->groups, k->kh, k->kw};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), w = dlt_input(g, "w", DLT_F32, 4, ws);
    dlt_t dy = dlt_input(g, "dy", DLT_F32, 4, ys->dim);
    dlt_t gx = dlt_conv2d_input_grad(g, dy, w, k->h, k->w, &o);
    dlt_t gw = dlt_conv2d_weight_grad(g, x, dy, k->kh, k->kw, &o);
    ck_assert_msg(gx >= 0 && gw >= 0, "%s", dlt_graph_errmsg(g));
    ck_assert(dlt_shape_equal(dlt_shape_of(g, gx), dlt_shape_of(g, x)));
    ck_assert(dlt_shape_equal(dlt_shape_of(g, gw), dlt_shape_of(g, w)));
    float *dyd = rand_buf(dlt_shape_numel(ys), 77);
    dlt_t ins[3] = {x, w, dy};
    const void *data[3] = {bt.data[0], bt.data[1], dyd};
    dlt_gc_feed f = {3, ins, data, 0};
    double an, nu;
    dlt_t wx[2] = {dy, w}, ww[2] = {x, dy};
    dlt_test_gradcheck(g, gx, 2, wx, &f, 0.05, 51, &an, &nu);
    dlt_test_assert_close("conv2d_input_grad", an, nu, 1e-4, 1e-4);
    dlt_test_gradcheck(g, gw, 2, ww, &f, 0.05, 52, &an, &nu);
    dlt_test_assert_close("conv2d_weight_grad", an, nu, 1e-4, 1e-4);
    free(dyd);
    dlt_graph_free(g);
    built_free(&bt);
}
END_TEST

/* WGAN-GP's penalty: the squared norm of an input gradient, differentiated
 * again with respect to input, weight and bias; and the same for the weight
 * gradient, which runs through conv2d_weight_grad's own rule. */
START_TEST(second_order_through_conv2d)
{
    static const int pick[] = {0, 1, 2, 5};
    const conv_case *k = &cases[pick[_i]];
    built bt = build(k, 0, 600 + (uint64_t)_i);
    dlt_graph *g = bt.g;
    dlt_t y2 = dlt_mul(g, bt.y, bt.y), l1 = dlt_sum(g, y2, 0, NULL, 0), grads[2];
    ck_assert_int_eq(dlt_grad(g, l1, 2, bt.in, grads), DLT_OK);
    dlt_t px = dlt_sum(g, dlt_mul(g, grads[0], grads[0]), 0, NULL, 0);
    dlt_t pw = dlt_sum(g, dlt_mul(g, grads[1], grads[1]), 0, NULL, 0);
    dlt_t pen = dlt_add(g, px, dlt_affine(g, pw, 0.01f, 0));
    /* degree 6 in the inputs: eps 1e-3 keeps the truncation term ~eps^2 small
     * next to the f32 rounding of the penalty (~1e-7 |P| / eps ~ 1e-4 relative) */
    const void *ptrs[3];
    dlt_gc_feed f = feed_of(&bt, ptrs);
    double an, nu;
    dlt_test_gradcheck(g, pen, bt.nin, bt.in, &f, 1e-3, 61 + (uint64_t)_i, &an, &nu);
    dlt_test_assert_close("gradient penalty", an, nu, 2e-3, 1e-3);
    built_free(&bt);
}
END_TEST

static void run_weight_grad(const conv_case *k, int threads, float *out)
{
    dlt_set_num_threads(threads);
    built bt = build(k, 0, 700);
    dlt_t l = dlt_sum(bt.g, dlt_mul(bt.g, bt.y, bt.y), 0, NULL, 0), gr[3];
    ck_assert_int_eq(dlt_grad(bt.g, l, bt.nin, bt.in, gr), DLT_OK);
    dlt_t cat = dlt_add(bt.g, dlt_sum(bt.g, gr[0], 0, NULL, 0), dlt_sum(bt.g, gr[2], 0, NULL, 0));
    int64_t nw = dlt_shape_numel(dlt_shape_of(bt.g, gr[1]));
    const void *ptrs[3];
    dlt_gc_feed f = feed_of(&bt, ptrs);
    dlt_test_eval(bt.g, gr[1], &f, out);
    dlt_test_eval(bt.g, cat, &f, out + nw);
    built_free(&bt);
}

/* Weight gradients sum over the batch in per-thread partials: the result must
 * be bitwise stable for a fixed thread count and close across counts. */
START_TEST(thread_count_determinism)
{
    const conv_case k = {7, 6, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, 0, 0};
    int64_t nw = 8 * 3 * 9 + 1;
    float *a = malloc((size_t)nw * sizeof *a), *b = malloc((size_t)nw * sizeof *b);
    float *c = malloc((size_t)nw * sizeof *c);
    int nt = dlt_get_num_threads();
    run_weight_grad(&k, 3, a);
    run_weight_grad(&k, 3, b);
    ck_assert_int_eq(memcmp(a, b, (size_t)nw * sizeof *a), 0);
    run_weight_grad(&k, 1, c);
    /* sums of 7 * 81 products of magnitude <= 2 in another order */
    ck_assert_double_le(dlt_test_max_relerr(a, c, (size_t)nw, 1.0), 1e-5);
    dlt_set_num_threads(nt);
    free(a), free(b), free(c);
}
END_TEST

static const char *conv_error(const int64_t *xs, const int64_t *ws, int64_t nb, const dlt_conv2d_opts *o,
                              int transposed, dlt_graph **gp)
{
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), w = dlt_input(g, "w", DLT_F32, 4, ws), b = -1;
    if (nb)
        b = dlt_input(g, "b", DLT_F32, 1, &nb);
    dlt_t y = transposed ? dlt_conv_transpose2d(g, x, w, b, o) : dlt_conv2d(g, x, w, b, o);
    ck_assert_int_eq(y, -1);
    *gp = g;
    return dlt_graph_errmsg(g);
}

START_TEST(argument_errors)
{
    dlt_graph *g;
    int64_t x1[4] = {2, 6, 8, 8}, w1[4] = {4, 3, 3, 3};
    dlt_conv2d_opts grp4 = {.groups = 4};
    ck_assert_str_eq(conv_error(x1, w1, 0, &grp4, 0, &g),
                     "conv2d 'conv2d': input channels (6) not divisible by groups (4) "
                     "(inputs: 'x' f32[2,6,8,8], 'w' f32[4,3,3,3])");
    dlt_graph_free(g);
    int64_t x2[4] = {1, 3, 4, 4}, w2[4] = {2, 3, 7, 7};
    dlt_conv2d_opts pad1 = {.padding = {1, 1}};
    ck_assert_str_eq(conv_error(x2, w2, 0, &pad1, 0, &g),
                     "conv2d 'conv2d': kernel 7x7 (dilated) larger than padded input 6x6 "
                     "(inputs: 'x' f32[1,3,4,4], 'w' f32[2,3,7,7])");
    dlt_graph_free(g);
    int64_t w3[4] = {2, 3, 3, 2};
    dlt_conv2d_opts dil = {.dilation = {1, 4}};
    ck_assert_ptr_nonnull(strstr(conv_error(x2, w3, 0, &dil, 0, &g),
                                 "kernel 3x5 (dilated) larger than padded input 4x4"));
    dlt_graph_free(g);
    int64_t x4[4] = {1, 4, 5, 5}, w4[4] = {6, 3, 3, 3};
    ck_assert_ptr_nonnull(strstr(conv_error(x4, w4, 0, NULL, 0, &g),
                                 ": weight must be [6, 4, kh, kw] for 4 -> 6 channels in 1 groups"));
    dlt_graph_free(g);
    int64_t w5[4] = {6, 1, 3, 3};
    ck_assert_ptr_nonnull(strstr(conv_error(x4, w5, 0, &grp4, 0, &g),
                                 ": output channels (6) not divisible by groups (4)"));
    dlt_graph_free(g);
    int64_t w6[4] = {6, 4, 3, 3};
    ck_assert_ptr_nonnull(strstr(conv_error(x4, w6, 5, NULL, 0, &g), ": bias must be [6] (inputs:"));
    dlt_graph_free(g);
    dlt_conv2d_opts neg = {.stride = {-1, 1}};
    ck_assert_str_eq(conv_error(x4, w6, 0, &neg, 0, &g), "conv2d: stride must be positive");
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_INVALID);
    dlt_graph_free(g);
    dlt_conv2d_opts opad = {.output_padding = {1, 0}};
    ck_assert_str_eq(conv_error(x4, w6, 0, &opad, 0, &g), "conv2d: output_padding is for conv_transpose2d");
    dlt_graph_free(g);
    int64_t wt[4] = {4, 2, 3, 3};
    ck_assert_str_eq(conv_error(x4, wt, 0, &opad, 1, &g),
                     "conv_transpose2d: output_padding (1, 0) must be smaller than stride or dilation");
    dlt_graph_free(g);
    ck_assert_str_eq(conv_error(x4, w6, 0, NULL, 1, &g),
                     "conv_transpose2d 'conv_transpose2d': weight must be [4, out_channels / groups, kh, kw] "
                     "(inputs: 'x' f32[1,4,5,5], 'w' f32[6,4,3,3])");
    dlt_graph_free(g);
    /* rank and dtype */
    g = dlt_graph_create(1);
    int64_t x3d[3] = {4, 5, 5};
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, x3d), w = dlt_input(g, "w", DLT_F32, 4, w6);
    ck_assert_int_eq(dlt_conv2d(g, x, w, -1, NULL), -1);
    ck_assert_ptr_nonnull(strstr(dlt_graph_errmsg(g), ": input must be NCHW (rank 4)"));
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_I32, 4, x4), w = dlt_input(g, "w", DLT_F32, 4, w6);
    ck_assert_int_eq(dlt_conv2d(g, x, w, -1, NULL), -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_DTYPE);
    ck_assert_ptr_nonnull(strstr(dlt_graph_errmsg(g), ": inputs must be f32"));
    dlt_graph_free(g);
    /* the backward ops check their sizes too */
    g = dlt_graph_create(1);
    int64_t dys[4] = {1, 6, 4, 4};
    x = dlt_input(g, "x", DLT_F32, 4, x4);
    dlt_t dy = dlt_input(g, "dy", DLT_F32, 4, dys);
    ck_assert_int_eq(dlt_conv2d_weight_grad(g, x, dy, 3, 3, NULL), -1);
    ck_assert_ptr_nonnull(strstr(dlt_graph_errmsg(g), ": output gradient must be [1, k * 1, 3, 3]"));
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    dy = dlt_input(g, "dy", DLT_F32, 4, dys), w = dlt_input(g, "w", DLT_F32, 4, w6);
    ck_assert_int_eq(dlt_conv2d_input_grad(g, dy, w, 9, 9, NULL), -1);
    ck_assert_ptr_nonnull(strstr(dlt_graph_errmsg(g), ": output 9x9 does not convolve back to the input size"));
    dlt_graph_free(g);
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, conv2d_forward_matches_naive, 0, NCASES);
    tcase_add_loop_test(tc, conv_transpose2d_forward_matches_naive, 0, NCASES);
    tcase_add_loop_test(tc, conv2d_gradients_match_finite_differences, 0, NCASES);
    tcase_add_loop_test(tc, conv_transpose2d_gradients_match_finite_differences, 0, NCASES);
    tcase_add_loop_test(tc, backward_ops_gradients_match_finite_differences, 0, NCASES);
    tcase_add_loop_test(tc, second_order_through_conv2d, 0, 4);
    tcase_add_test(tc, thread_count_determinism);
    tcase_add_test(tc, argument_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dlt_test_run(conv_suite()); }
