/* The conv family's GPU kernels against the CPU ones (gpu_check.h):
 * conv2d, conv_transpose2d and conv2d_weight_grad (cuDNN) over strides,
 * padding, dilation, groups, output_padding and bias; max/avg pooling and
 * nearest/bilinear upsampling with their backward ops (bit-exact gathers, so
 * their tolerance is tight). Second-order cases differentiate inside the
 * builder so that the backward ops' own gradients run too. Exits 77 without
 * a CUDA device. */
#include <stdio.h>

#include "dlt_opdef.h"
#include "dlt_gpu.h"
#include "gpu_check.h"

/* cuDNN may pick Winograd or FFT algorithms; their f32 error is larger than
 * a GEMM's but far below what a wrong index would give. */
#define TOL_CONV 1e-4
#define TOL_EXACT 1e-5

/* ------------------------------------------------------------------ convolution */
typedef struct {
    int64_t n, c, h, w, oc;
    int kh, kw;
    dlt_conv2d_opts o;
    int bias;
    int transpose; /* conv_transpose2d: c in, oc out, weight [c, oc / groups, kh, kw] */
    int second;    /* return the gradients of sum(y^2) w.r.t. x and w */
} conv_case;

static int build_conv(dlt_graph *g, dlt_t *outs, void *user)
{
    const conv_case *t = user;
    int groups = t->o.groups ? t->o.groups : 1;
    int64_t xd[4] = {t->n, t->c, t->h, t->w};
    int64_t wd[4] = {t->transpose ? t->c : t->oc, (t->transpose ? t->oc : t->c) / groups, t->kh,
                     t->kw};
    int64_t bd[1] = {t->oc};
    dlt_t x = gc_input(g, "x", 4, xd, -1, 1);
    dlt_t w = dlt_param(g, "w", 4, wd, dlt_init_uniform(-0.5, 0.5));
    dlt_t b = t->bias ? dlt_param(g, "b", 1, bd, dlt_init_uniform(-1, 1)) : -1;
    dlt_t y =
        t->transpose ? dlt_conv_transpose2d(g, x, w, b, &t->o) : dlt_conv2d(g, x, w, b, &t->o);
    if (!t->second) {
        outs[0] = y;
        return 1;
    }
    dlt_t wrt[2] = {x, w}, gr[2];
    if (dlt_grad(g, dlt_sum(g, dlt_square(g, y), 0, NULL, 0), 2, wrt, gr) != DLT_OK)
        return 0;
    outs[0] = y;
    outs[1] = gr[0];
    outs[2] = gr[1];
    return 3;
}

/* The two halves of conv2d's backward built directly. */
typedef struct {
    int64_t n, c, h, w, oc;
    int kh, kw;
    dlt_conv2d_opts o;
} half_case;

static int build_halves(dlt_graph *g, dlt_t *outs, void *user)
{
    const half_case *t = user;
    int groups = t->o.groups ? t->o.groups : 1;
    int sh = t->o.stride[0] ? t->o.stride[0] : 1, sw = t->o.stride[1] ? t->o.stride[1] : 1;
    int dh = t->o.dilation[0] ? t->o.dilation[0] : 1, dw = t->o.dilation[1] ? t->o.dilation[1] : 1;
    int64_t oh = (t->h + 2 * t->o.padding[0] - dh * (t->kh - 1) - 1) / sh + 1;
    int64_t ow = (t->w + 2 * t->o.padding[1] - dw * (t->kw - 1) - 1) / sw + 1;
    int64_t xd[4] = {t->n, t->c, t->h, t->w}, yd[4] = {t->n, t->oc, oh, ow};
    int64_t wd[4] = {t->oc, t->c / groups, t->kh, t->kw};
    dlt_t x = gc_input(g, "x", 4, xd, -1, 1);
    dlt_t dy = gc_input(g, "dy", 4, yd, -1, 1);
    dlt_t w = dlt_param(g, "w", 4, wd, dlt_init_uniform(-0.5, 0.5));
    outs[0] = dlt_conv2d_input_grad(g, dy, w, t->h, t->w, &t->o);
    outs[1] = dlt_conv2d_weight_grad(g, x, dy, t->kh, t->kw, &t->o);
    return 2;
}

static void conv_cases(void)
{
    static const conv_case cs[] = {
        {2, 3, 11, 11, 5, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}}, 1, 0, 0},
        {3, 4, 13, 17, 6, 3, 2, {{2, 3}, {1, 2}, {2, 1}, 1, {0, 0}}, 0, 0, 0},
        {2, 6, 9, 10, 9, 3, 3, {{1, 2}, {1, 0}, {1, 1}, 3, {0, 0}}, 1, 0, 0},
        {2, 8, 12, 12, 16, 5, 5, {{1, 1}, {2, 2}, {1, 1}, 8, {0, 0}}, 1, 0, 0},
        {1, 37, 7, 7, 33, 1, 1, {{0, 0}, {0, 0}, {0, 0}, 0, {0, 0}}, 1, 0, 0},
        {5, 16, 6, 6, 24, 1, 1, {{2, 2}, {0, 0}, {1, 1}, 1, {0, 0}}, 0, 0, 0},
        {1, 1, 1, 19, 1, 1, 3, {{1, 1}, {0, 1}, {1, 1}, 1, {0, 0}}, 1, 0, 0},
        {3, 2, 4, 5, 3, 4, 5, {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}}, 1, 0, 0}, /* 1x1 output */
        {8, 16, 32, 32, 32, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}}, 1, 0, 0},
        {4, 32, 16, 16, 64, 3, 3, {{2, 2}, {1, 1}, {1, 1}, 1, {0, 0}}, 0, 0, 0},
        /* conv_transpose2d */
        {2, 6, 5, 7, 4, 3, 3, {{2, 2}, {1, 1}, {1, 1}, 1, {1, 1}}, 1, 1, 0},
        {2, 4, 4, 3, 6, 3, 2, {{2, 3}, {1, 0}, {2, 1}, 2, {1, 2}}, 1, 1, 0},
        {1, 5, 1, 6, 3, 1, 4, {{1, 2}, {0, 1}, {1, 1}, 1, {0, 1}}, 0, 1, 0},
        {3, 8, 7, 7, 8, 4, 4, {{2, 2}, {1, 1}, {1, 1}, 4, {0, 0}}, 1, 1, 0},
        /* second order */
        {2, 4, 7, 6, 6, 3, 3, {{2, 1}, {1, 1}, {1, 2}, 2, {0, 0}}, 1, 0, 1},
        {2, 4, 4, 5, 3, 3, 3, {{2, 2}, {1, 1}, {1, 1}, 1, {1, 0}}, 1, 1, 1},
    };
    static const half_case hs[] = {
        {2, 6, 10, 9, 4, 3, 3, {{2, 2}, {1, 1}, {1, 1}, 2, {0, 0}}},
        {3, 3, 8, 11, 5, 2, 4, {{1, 3}, {0, 2}, {3, 1}, 1, {0, 0}}},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        const conv_case *t = &cs[i];
        char name[200];
        snprintf(
            name, sizeof name,
            "%s%s x[%lld,%lld,%lld,%lld] oc %lld k %dx%d s %d,%d p %d,%d d %d,%d g %d op %d,%d%s",
            t->transpose ? "conv_transpose2d" : "conv2d", t->second ? " (2nd order)" : "",
            (long long)t->n, (long long)t->c, (long long)t->h, (long long)t->w, (long long)t->oc,
            t->kh, t->kw, t->o.stride[0], t->o.stride[1], t->o.padding[0], t->o.padding[1],
            t->o.dilation[0], t->o.dilation[1], t->o.groups, t->o.output_padding[0],
            t->o.output_padding[1], t->bias ? " bias" : "");
        gc_check(name, build_conv, (void *)t, TOL_CONV);
    }
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        char name[120];
        snprintf(name, sizeof name, "conv2d_input_grad + conv2d_weight_grad #%zu", i);
        gc_check(name, build_halves, (void *)&hs[i], TOL_CONV);
    }
    /* train.precision: tf32 (bf16 also runs convolutions in TF32) and fp16
     * tensor cores, within their rounding and visibly rounded */
    static const struct {
        dlt_precision p;
        const char *name;
    } modes[] = {{DLT_PREC_TF32, "tf32"}, {DLT_PREC_BF16, "bf16 (TF32 convolutions)"}, {DLT_PREC_FP16, "fp16"}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char name[120];
        snprintf(name, sizeof name, "conv2d x[8,16,32,32] oc 32 k 3x3 in %s", modes[i].name);
        dlt_gpu_set_precision(gc_gpu(), modes[i].p);
        gc_check_lossy(name, build_conv, (void *)&cs[8], 5e-3, 2e-5);
    }
    dlt_gpu_set_precision(gc_gpu(), DLT_PREC_FP32);
}

/* ------------------------------------------------------------------ pooling */
typedef struct {
    int64_t n, c, h, w;
    dlt_pool2d_opts o;
    int avg;
    int ties;   /* maxpool of p + clamp(x): a constant parameter plus many clamped equal values */
    int second; /* return the gradient of sum(y^2) w.r.t. x too */
} pool_case;

static int build_pool(dlt_graph *g, dlt_t *outs, void *user)
{
    const pool_case *t = user;
    int64_t xd[4] = {t->n, t->c, t->h, t->w};
    dlt_t x = gc_input(g, "x", 4, xd, -1, 1);
    if (t->ties)
        x = dlt_add(g, dlt_param(g, "p", 4, xd, dlt_init_const(0.25)),
                    dlt_clamp(g, x, -0.3f, 0.3f));
    dlt_t y = t->avg ? dlt_avgpool2d(g, x, &t->o) : dlt_maxpool2d(g, x, &t->o);
    int k = 0;
    outs[k++] = y;
    if (!t->avg)
        outs[k++] = dlt_node_output(g, y, 1); /* the argmax (i32, compared exactly) */
    if (t->second) {
        dlt_t gx;
        if (dlt_grad(g, dlt_sum(g, dlt_square(g, y), 0, NULL, 0), 1, &x, &gx) != DLT_OK)
            return 0;
        outs[k++] = gx;
    }
    return k;
}

static void pool_cases(void)
{
    static const pool_case cs[] = {
        {2, 3, 13, 13, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, 0}, 0, 0, 0},
        {2, 3, 12, 16, {{2, 2}, {0, 0}, {0, 0}, {0, 0}, 0}, 0, 0, 0},
        {3, 2, 11, 14, {{2, 3}, {1, 2}, {1, 1}, {2, 1}, 0}, 0, 0, 0},
        {1, 5, 2, 5, {{2, 2}, {1, 1}, {1, 0}, {3, 1}, 0}, 0, 0, 0}, /* windows wholly in the padding
                                                                     */
        {2, 4, 9, 10, {{3, 3}, {1, 1}, {1, 1}, {0, 0}, 0}, 0, 1, 0},
        {2, 3, 8, 9, {{2, 3}, {2, 1}, {1, 1}, {1, 2}, 0}, 0, 1, 0},
        {1, 1, 1, 7, {{1, 3}, {1, 2}, {0, 1}, {0, 0}, 0}, 0, 0, 0},
        {2, 3, 10, 11, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, 0}, 0, 0, 1},
        /* average */
        {2, 3, 13, 13, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, 0}, 1, 0, 0},
        {2, 3, 13, 13, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, 1}, 1, 0, 0},
        {3, 2, 11, 14, {{2, 3}, {2, 1}, {1, 1}, {0, 0}, 1}, 1, 0, 0},
        {2, 4, 9, 10, {{3, 2}, {1, 1}, {1, 1}, {0, 0}, 0}, 1, 0, 0},
        {2, 8, 8, 8, {{8, 8}, {0, 0}, {0, 0}, {0, 0}, 0}, 1, 0, 0},
        {1, 1, 1, 7, {{1, 3}, {1, 2}, {0, 1}, {0, 0}, 1}, 1, 0, 0},
        {2, 3, 10, 11, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, 1}, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        const pool_case *t = &cs[i];
        char name[200];
        snprintf(name, sizeof name,
                 "%s%s%s x[%lld,%lld,%lld,%lld] k %dx%d s %d,%d p %d,%d d %d,%d%s",
                 t->avg ? "avgpool2d" : "maxpool2d", t->ties ? " (ties)" : "",
                 t->second ? " (2nd order)" : "", (long long)t->n, (long long)t->c, (long long)t->h,
                 (long long)t->w, t->o.kernel[0], t->o.kernel[1], t->o.stride[0], t->o.stride[1],
                 t->o.padding[0], t->o.padding[1], t->o.dilation[0], t->o.dilation[1],
                 t->o.exclude_pad ? " exclude_pad" : "");
        gc_check(name, build_pool, (void *)t, TOL_EXACT);
    }
}

/* ------------------------------------------------------------------ upsampling */
typedef struct {
    int64_t n, c, h, w;
    int sh, sw, bilinear, second;
} up_case;

static int build_up(dlt_graph *g, dlt_t *outs, void *user)
{
    const up_case *t = user;
    int64_t xd[4] = {t->n, t->c, t->h, t->w};
    dlt_t x = gc_input(g, "x", 4, xd, -1, 1);
    dlt_t y = t->bilinear ? dlt_upsample_bilinear2d(g, x, t->sh, t->sw)
                          : dlt_upsample_nearest2d(g, x, t->sh, t->sw);
    outs[0] = y;
    if (!t->second)
        return 1;
    dlt_t gx;
    if (dlt_grad(g, dlt_sum(g, dlt_square(g, y), 0, NULL, 0), 1, &x, &gx) != DLT_OK)
        return 0;
    outs[1] = gx;
    return 2;
}

static void up_cases(void)
{
    static const up_case cs[] = {
        {2, 3, 5, 7, 2, 2, 0, 0}, {2, 3, 5, 7, 2, 3, 0, 0}, {1, 2, 1, 1, 3, 4, 0, 0},
        {2, 3, 4, 6, 2, 2, 0, 1}, {2, 3, 5, 7, 2, 2, 1, 0}, {2, 3, 5, 7, 3, 1, 1, 0},
        {1, 2, 1, 6, 4, 3, 1, 0}, {2, 1, 9, 3, 1, 5, 1, 0}, {1, 4, 17, 19, 2, 2, 1, 0},
        {1, 2, 3, 2, 7, 8, 1, 0}, {2, 3, 4, 6, 2, 3, 1, 1},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        const up_case *t = &cs[i];
        char name[160];
        snprintf(name, sizeof name, "upsample_%s2d%s x[%lld,%lld,%lld,%lld] scale %d,%d",
                 t->bilinear ? "bilinear" : "nearest", t->second ? " (2nd order)" : "",
                 (long long)t->n, (long long)t->c, (long long)t->h, (long long)t->w, t->sh, t->sw);
        gc_check(name, build_up, (void *)t, TOL_EXACT);
    }
}

int main(void)
{
    if (!gc_init())
        return 77;
    conv_cases();
    pool_cases();
    up_cases();
    return gc_finish();
}
