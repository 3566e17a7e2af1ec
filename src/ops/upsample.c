/* Nearest and bilinear (align_corners=False) upsampling of NCHW images by
 * integer factors. Each forward op and its backward are each other's adjoint,
 * so the backward's gradient is the forward again. */
#include <string.h>

#include "conv_impl.h"
#include "dlt_ops.h"
#include "ops_util.h"

static dlt_status up_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const up_attr *a = DLT_CATTR(n, up_attr);
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "input must be f32");
    if (in[0].ndim != 4)
        return dlt_seterr(DLT_ERR_SHAPE, "input must be NCHW (rank 4)");
    out[0] = in[0];
    out[0].dim[2] *= a->sh;
    out[0].dim[3] *= a->sw;
    return DLT_OK;
}

static dlt_status down_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const up_attr *a = DLT_CATTR(n, up_attr);
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "input must be f32");
    if (in[0].ndim != 4 || in[0].dim[2] % a->sh || in[0].dim[3] % a->sw)
        return dlt_seterr(DLT_ERR_SHAPE, "gradient must be NCHW with H, W multiples of (%d, %d)", a->sh,
                          a->sw);
    out[0] = in[0];
    out[0].dim[2] /= a->sh;
    out[0].dim[3] /= a->sw;
    return DLT_OK;
}

typedef struct {
    int64_t planes, h, w, oh, ow; /* small image h x w, large oh x ow */
} up_geom;

static up_geom geom_of(const dlt_shape *small, const dlt_shape *large)
{
    up_geom q = {small->dim[0] * small->dim[1], small->dim[2], small->dim[3], large->dim[2], large->dim[3]};
    return q;
}

static dlt_status nearest_cpu(const dlt_kctx *k)
{
    const up_attr *a = DLT_CATTR(k->node, up_attr);
    up_geom q = geom_of(k->in_shape[0], k->out_shape[0]);
    const float *x = k->in[0];
    float *y = k->out[0];
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (q.planes * q.oh * q.ow > 32768)
    for (int64_t p = 0; p < q.planes; p++)
        for (int64_t i = 0; i < q.oh; i++) {
            const float *xr = x + (p * q.h + i / a->sh) * q.w;
            float *yr = y + (p * q.oh + i) * q.ow;
            for (int64_t j = 0; j < q.ow; j++)
                yr[j] = xr[j / a->sw];
        }
    return DLT_OK;
}

/* Sums each sh x sw block in row-major order (a gather: no write conflicts). */
static dlt_status nearest_bwd_cpu(const dlt_kctx *k)
{
    const up_attr *a = DLT_CATTR(k->node, up_attr);
    up_geom q = geom_of(k->out_shape[0], k->in_shape[0]);
    const float *dy = k->in[0];
    float *dx = k->out[0];
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (q.planes * q.oh * q.ow > 32768)
    for (int64_t p = 0; p < q.planes; p++)
        for (int64_t i = 0; i < q.h; i++)
            for (int64_t j = 0; j < q.w; j++) {
                float s = 0.f;
                for (int u = 0; u < a->sh; u++) {
                    const float *r = dy + (p * q.oh + i * a->sh + u) * q.ow + j * a->sw;
                    for (int v = 0; v < a->sw; v++)
                        s += r[v];
                }
                dx[(p * q.h + i) * q.w + j] = s;
            }
    return DLT_OK;
}

/* PyTorch's source index for align_corners=False: (o + 0.5) / scale - 0.5,
 * clamped at 0, interpolating between i0 and i0 + 1 (clamped at the edge). */
static void src_index(int64_t o, int s, int64_t n, int64_t *i0, int64_t *i1, float *l1)
{
    float rs = 1.0f / (float)s, src = rs * ((float)o + 0.5f) - 0.5f;
    if (src < 0.f)
        src = 0.f;
    *i0 = (int64_t)src;
    *i1 = *i0 < n - 1 ? *i0 + 1 : *i0;
    *l1 = src - (float)*i0;
}

static dlt_status bilinear_cpu(const dlt_kctx *k)
{
    const up_attr *a = DLT_CATTR(k->node, up_attr);
    up_geom q = geom_of(k->in_shape[0], k->out_shape[0]);
    const float *x = k->in[0];
    float *y = k->out[0];
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (q.planes * q.oh * q.ow > 32768)
    for (int64_t p = 0; p < q.planes; p++)
        for (int64_t i = 0; i < q.oh; i++) {
            int64_t h0, h1;
            float lh;
            src_index(i, a->sh, q.h, &h0, &h1, &lh);
            const float *r0 = x + (p * q.h + h0) * q.w, *r1 = x + (p * q.h + h1) * q.w;
            float *yr = y + (p * q.oh + i) * q.ow;
            for (int64_t j = 0; j < q.ow; j++) {
                int64_t w0, w1;
                float lw;
                src_index(j, a->sw, q.w, &w0, &w1, &lw);
                yr[j] = (1.f - lh) * ((1.f - lw) * r0[w0] + lw * r0[w1]) +
                        lh * ((1.f - lw) * r1[w0] + lw * r1[w1]);
            }
        }
    return DLT_OK;
}

/* The adjoint: scatters each output gradient to its four sources, one plane
 * per thread so every sum has a fixed order. */
static dlt_status bilinear_bwd_cpu(const dlt_kctx *k)
{
    const up_attr *a = DLT_CATTR(k->node, up_attr);
    up_geom q = geom_of(k->out_shape[0], k->in_shape[0]);
    const float *dy = k->in[0];
    float *dx = k->out[0];
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (q.planes * q.oh * q.ow > 32768)
    for (int64_t p = 0; p < q.planes; p++) {
        float *d = dx + p * q.h * q.w;
        memset(d, 0, (size_t)(q.h * q.w) * sizeof *d);
        for (int64_t i = 0; i < q.oh; i++) {
            int64_t h0, h1;
            float lh;
            src_index(i, a->sh, q.h, &h0, &h1, &lh);
            const float *gr = dy + (p * q.oh + i) * q.ow;
            for (int64_t j = 0; j < q.ow; j++) {
                int64_t w0, w1;
                float lw;
                src_index(j, a->sw, q.w, &w0, &w1, &lw);
                float gv = gr[j];
                d[h0 * q.w + w0] += (1.f - lh) * (1.f - lw) * gv;
                d[h0 * q.w + w1] += (1.f - lh) * lw * gv;
                d[h1 * q.w + w0] += lh * (1.f - lw) * gv;
                d[h1 * q.w + w1] += lh * lw * gv;
            }
        }
    }
    return DLT_OK;
}

static double large_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    (void)n;
    int64_t a = dlt_shape_numel(in[0]), b = dlt_shape_numel(out[0]);
    return (double)(a > b ? a : b);
}

static dlt_status nearest_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status nearest_bwd_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status bilinear_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status bilinear_bwd_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

const dlt_op_def dlt_op_def_upsample_nearest2d = {
    .id = DLT_OP_UPSAMPLE_NEAREST2D,
    .name = "upsample_nearest2d",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = up_shape,
    .grad = nearest_grad,
    .cpu = nearest_cpu,
};
const dlt_op_def dlt_op_def_upsample_nearest2d_backward = {
    .id = DLT_OP_UPSAMPLE_NEAREST2D_BACKWARD,
    .name = "upsample_nearest2d_backward",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = down_shape,
    .grad = nearest_bwd_grad,
    .cpu = nearest_bwd_cpu,
    .flops = large_flops,
};
const dlt_op_def dlt_op_def_upsample_bilinear2d = {
    .id = DLT_OP_UPSAMPLE_BILINEAR2D,
    .name = "upsample_bilinear2d",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = up_shape,
    .grad = bilinear_grad,
    .cpu = bilinear_cpu,
    .flops = large_flops,
};
const dlt_op_def dlt_op_def_upsample_bilinear2d_backward = {
    .id = DLT_OP_UPSAMPLE_BILINEAR2D_BACKWARD,
    .name = "upsample_bilinear2d_backward",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = down_shape,
    .grad = bilinear_bwd_grad,
    .cpu = bilinear_bwd_cpu,
    .flops = large_flops,
};

static dlt_t add1(dlt_graph *g, const dlt_op_def *op, dlt_t x, const dlt_node *n)
{
    return dlt_node_add(g, op, 1, &x, n->attr, sizeof(up_attr));
}

static dlt_status nearest_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = add1(g, &dlt_op_def_upsample_nearest2d_backward, dy[0], n);
    return DLT_OK;
}

static dlt_status nearest_bwd_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = add1(g, &dlt_op_def_upsample_nearest2d, dy[0], n);
    return DLT_OK;
}

static dlt_status bilinear_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = add1(g, &dlt_op_def_upsample_bilinear2d_backward, dy[0], n);
    return DLT_OK;
}

static dlt_status bilinear_bwd_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = add1(g, &dlt_op_def_upsample_bilinear2d, dy[0], n);
    return DLT_OK;
}

static dlt_t build(dlt_graph *g, const dlt_op_def *op, dlt_t x, int sh, int sw)
{
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (sh <= 0 || sw <= 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "%s: scale factors must be positive (got %d, %d)",
                              op->name, sh, sw);
    up_attr a = {sh, sw};
    return dlt_node_add(g, op, 1, &x, &a, sizeof a);
}

dlt_t dlt_upsample_nearest2d(dlt_graph *g, dlt_t x, int sh, int sw)
{
    return build(g, &dlt_op_def_upsample_nearest2d, x, sh, sw);
}

dlt_t dlt_upsample_bilinear2d(dlt_graph *g, dlt_t x, int sh, int sw)
{
    return build(g, &dlt_op_def_upsample_bilinear2d, x, sh, sw);
}
