/* 2-D max and average pooling (NCHW, floor mode) with closed backward families:
 *   maxpool2d(x) -> (y, argmax)      maxpool2d_backward(dy, argmax) scatters dy to
 *   the argmax, maxpool2d_gather(g, argmax) gathers by it; each is the other's
 *   adjoint, so gradients of gradients stay in the family.
 *   avgpool2d and avgpool2d_backward are likewise each other's adjoint. */
#include <math.h>
#include <string.h>

#include "conv_impl.h"
#include "dlt_ops.h"
#include "ops_util.h"

typedef struct {
    int64_t planes, h, w, oh, ow;
} pool_geom;

static pool_geom geom_of(const dlt_shape *x, const dlt_shape *y)
{
    pool_geom q = {x->dim[0] * x->dim[1], x->dim[2], x->dim[3], y->dim[2], y->dim[3]};
    return q;
}

static int64_t out_size(int64_t in, int k, int s, int p, int d)
{
    return (in + 2 * (int64_t)p - (int64_t)d * (k - 1) - 1) / s + 1;
}

static dlt_status pool_out_shape(const pool_attr *a, const dlt_shape *x, dlt_shape *y)
{
    if (x->dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "input must be f32");
    if (x->ndim != 4)
        return dlt_seterr(DLT_ERR_SHAPE, "input must be NCHW (rank 4)");
    int64_t ekh = (int64_t)a->dh * (a->kh - 1) + 1, ekw = (int64_t)a->dw * (a->kw - 1) + 1;
    int64_t ph = x->dim[2] + 2 * (int64_t)a->ph, pw = x->dim[3] + 2 * (int64_t)a->pw;
    if (ekh > ph || ekw > pw)
        return dlt_seterr(DLT_ERR_SHAPE, "kernel %lldx%lld (dilated) larger than padded input %lldx%lld",
                          (long long)ekh, (long long)ekw, (long long)ph, (long long)pw);
    *y = *x;
    y->dim[2] = out_size(x->dim[2], a->kh, a->sh, a->ph, a->dh);
    y->dim[3] = out_size(x->dim[3], a->kw, a->sw, a->pw, a->dw);
    return DLT_OK;
}

static dlt_status maxpool_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    dlt_status st = pool_out_shape(DLT_CATTR(n, pool_attr), &in[0], &out[0]);
    out[1] = out[0];
    out[1].dtype = DLT_I32;
    return st;
}

static dlt_status avgpool_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    return pool_out_shape(DLT_CATTR(n, pool_attr), &in[0], &out[0]);
}

static int same_dims(const dlt_shape *a, const dlt_shape *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i])
            return 0;
    return 1;
}

/* Backward ops: in[0] has the pooled shape; the output is the image. */
static dlt_status pool_bwd_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const pool_attr *a = DLT_CATTR(n, pool_attr);
    if (in[0].dtype != DLT_F32 || (n->nin == 2 && in[1].dtype != DLT_I32))
        return dlt_seterr(DLT_ERR_DTYPE, "expects an f32 gradient and i32 indices");
    if (in[0].ndim != 4 || (n->nin == 2 && !same_dims(&in[0], &in[1])))
        return dlt_seterr(DLT_ERR_SHAPE, "gradient and indices must have the same NCHW shape");
    dlt_shape x = in[0], y;
    x.dim[2] = a->xh, x.dim[3] = a->xw;
    dlt_status st = pool_out_shape(a, &x, &y);
    if (st != DLT_OK)
        return st;
    if (y.dim[2] != in[0].dim[2] || y.dim[3] != in[0].dim[3])
        return dlt_seterr(DLT_ERR_SHAPE, "gradient does not match the pooled size of %lldx%lld",
                          (long long)a->xh, (long long)a->xw);
    out[0] = x;
    return DLT_OK;
}

/* maxpool2d_gather(g, idx): g has the image shape, the output the pooled shape. */
static dlt_status gather_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    (void)n;
    if (in[0].dtype != DLT_F32 || in[1].dtype != DLT_I32)
        return dlt_seterr(DLT_ERR_DTYPE, "expects an f32 gradient and i32 indices");
    if (in[0].ndim != 4 || in[1].ndim != 4 || in[0].dim[0] != in[1].dim[0] || in[0].dim[1] != in[1].dim[1])
        return dlt_seterr(DLT_ERR_SHAPE, "gradient and indices must be NCHW with the same N and C");
    out[0] = in[1];
    out[0].dtype = DLT_F32;
    return DLT_OK;
}

static dlt_status maxpool_cpu(const dlt_kctx *k)
{
    const pool_attr *a = DLT_CATTR(k->node, pool_attr);
    pool_geom q = geom_of(k->in_shape[0], k->out_shape[0]);
    const float *x = k->in[0];
    float *y = k->out[0];
    int32_t *idx = k->out[1];
    int64_t work = q.planes * q.oh * q.ow * a->kh * a->kw;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (work > 32768)
    for (int64_t p = 0; p < q.planes; p++) {
        const float *xp = x + p * q.h * q.w;
        for (int64_t oh = 0; oh < q.oh; oh++)
            for (int64_t ow = 0; ow < q.ow; ow++) {
                int64_t o = (p * q.oh + oh) * q.ow + ow;
                idx[o] = (int32_t)dlt_maxpool_window(a, xp, q.h, q.w, oh, ow, &y[o]);
            }
    }
    return DLT_OK;
}

static dlt_status maxpool_bwd_cpu(const dlt_kctx *k)
{
    pool_geom q = geom_of(k->out_shape[0], k->in_shape[0]);
    const float *dy = k->in[0];
    const int32_t *idx = k->in[1];
    float *dx = k->out[0];
    int64_t ohw = q.oh * q.ow, hw = q.h * q.w;
    /* per plane, in output order: overlapping windows add in a fixed order */
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (q.planes * hw > 32768)
    for (int64_t p = 0; p < q.planes; p++) {
        float *d = dx + p * hw;
        memset(d, 0, (size_t)hw * sizeof *d);
        for (int64_t o = 0; o < ohw; o++)
            if (idx[p * ohw + o] >= 0)
                d[idx[p * ohw + o]] += dy[p * ohw + o];
    }
    return DLT_OK;
}

static dlt_status gather_cpu(const dlt_kctx *k)
{
    pool_geom q = geom_of(k->in_shape[0], k->out_shape[0]);
    const float *src = k->in[0];
    const int32_t *idx = k->in[1];
    float *y = k->out[0];
    int64_t ohw = q.oh * q.ow, hw = q.h * q.w;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (q.planes * ohw > 32768)
    for (int64_t p = 0; p < q.planes; p++)
        for (int64_t o = 0; o < ohw; o++) {
            int32_t i = idx[p * ohw + o];
            y[p * ohw + o] = i >= 0 ? src[p * hw + i] : 0.f;
        }
    return DLT_OK;
}

/* The window of output (oh, ow) clipped to the image, and its divisor. */
static float avg_window(const pool_attr *a, const pool_geom *q, int64_t oh, int64_t ow, int64_t *h0,
                        int64_t *h1, int64_t *w0, int64_t *w1)
{
    int64_t cnt = dlt_avgpool_window(a, q->h, q->w, oh, ow, h0, h1, w0, w1);
    return cnt > 0 ? 1.f / (float)cnt : 0.f;
}

static dlt_status avgpool_cpu(const dlt_kctx *k)
{
    const pool_attr *a = DLT_CATTR(k->node, pool_attr);
    pool_geom q = geom_of(k->in_shape[0], k->out_shape[0]);
    const float *x = k->in[0];
    float *y = k->out[0];
    int64_t work = q.planes * q.oh * q.ow * a->kh * a->kw;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (work > 32768)
    for (int64_t p = 0; p < q.planes; p++) {
        const float *xp = x + p * q.h * q.w;
        for (int64_t oh = 0; oh < q.oh; oh++)
            for (int64_t ow = 0; ow < q.ow; ow++) {
                int64_t h0, h1, w0, w1;
                float inv = avg_window(a, &q, oh, ow, &h0, &h1, &w0, &w1);
                double s = 0;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++)
                        s += xp[ih * q.w + iw];
                y[(p * q.oh + oh) * q.ow + ow] = (float)s * inv;
            }
    }
    return DLT_OK;
}

static dlt_status avgpool_bwd_cpu(const dlt_kctx *k)
{
    const pool_attr *a = DLT_CATTR(k->node, pool_attr);
    pool_geom q = geom_of(k->out_shape[0], k->in_shape[0]);
    const float *dy = k->in[0];
    float *dx = k->out[0];
    int64_t work = q.planes * q.oh * q.ow * a->kh * a->kw;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (work > 32768)
    for (int64_t p = 0; p < q.planes; p++) {
        float *d = dx + p * q.h * q.w;
        memset(d, 0, (size_t)(q.h * q.w) * sizeof *d);
        for (int64_t oh = 0; oh < q.oh; oh++)
            for (int64_t ow = 0; ow < q.ow; ow++) {
                int64_t h0, h1, w0, w1;
                float g = dy[(p * q.oh + oh) * q.ow + ow] * avg_window(a, &q, oh, ow, &h0, &h1, &w0, &w1);
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++)
                        d[ih * q.w + iw] += g;
            }
    }
    return DLT_OK;
}

static double window_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    (void)in;
    const pool_attr *a = DLT_CATTR(n, pool_attr);
    return (double)dlt_shape_numel(out[0]) * a->kh * a->kw;
}

/* backward ops: the pooled shape is their input */
static double window_flops_in(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    (void)out;
    const pool_attr *a = DLT_CATTR(n, pool_attr);
    return (double)dlt_shape_numel(in[0]) * a->kh * a->kw;
}

static dlt_status maxpool_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status maxpool_bwd_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status gather_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status avgpool_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status avgpool_bwd_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

const dlt_op_def dlt_op_def_maxpool2d = {
    .id = DLT_OP_MAXPOOL2D,
    .name = "maxpool2d",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 2,
    .shape = maxpool_shape,
    .grad = maxpool_grad,
    .cpu = maxpool_cpu,
    .flops = window_flops,
};
const dlt_op_def dlt_op_def_maxpool2d_backward = {
    .id = DLT_OP_MAXPOOL2D_BACKWARD,
    .name = "maxpool2d_backward",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = pool_bwd_shape,
    .grad = maxpool_bwd_grad,
    .cpu = maxpool_bwd_cpu,
};
const dlt_op_def dlt_op_def_maxpool2d_gather = {
    .id = DLT_OP_MAXPOOL2D_GATHER,
    .name = "maxpool2d_gather",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = gather_shape,
    .grad = gather_grad,
    .cpu = gather_cpu,
};
const dlt_op_def dlt_op_def_avgpool2d = {
    .id = DLT_OP_AVGPOOL2D,
    .name = "avgpool2d",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = avgpool_shape,
    .grad = avgpool_grad,
    .cpu = avgpool_cpu,
    .flops = window_flops,
};
const dlt_op_def dlt_op_def_avgpool2d_backward = {
    .id = DLT_OP_AVGPOOL2D_BACKWARD,
    .name = "avgpool2d_backward",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = pool_bwd_shape,
    .grad = avgpool_bwd_grad,
    .cpu = avgpool_bwd_cpu,
    .flops = window_flops_in,
};

static dlt_t add2(dlt_graph *g, const dlt_op_def *op, int nin, dlt_t a, dlt_t b, const pool_attr *at)
{
    dlt_t in[2] = {a, b};
    return dlt_node_add(g, op, nin, in, at, sizeof *at);
}

static pool_attr with_image(const dlt_graph *g, const dlt_node *n, dlt_t image)
{
    pool_attr a = *DLT_CATTR(n, pool_attr);
    const dlt_shape *s = dlt_shape_of(g, image);
    a.xh = s->dim[2], a.xw = s->dim[3];
    return a;
}

static dlt_status maxpool_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    pool_attr a = with_image(g, n, n->in[0]);
    if (dy[0] >= 0)
        dx[0] = add2(g, &dlt_op_def_maxpool2d_backward, 2, dy[0], n->out[1], &a);
    return DLT_OK;
}

static dlt_status maxpool_bwd_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = add2(g, &dlt_op_def_maxpool2d_gather, 2, dy[0], n->in[1], DLT_CATTR(n, pool_attr));
    return DLT_OK;
}

static dlt_status gather_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    pool_attr a = with_image(g, n, n->in[0]);
    dx[0] = add2(g, &dlt_op_def_maxpool2d_backward, 2, dy[0], n->in[1], &a);
    return DLT_OK;
}

static dlt_status avgpool_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    pool_attr a = with_image(g, n, n->in[0]);
    dx[0] = add2(g, &dlt_op_def_avgpool2d_backward, 1, dy[0], -1, &a);
    return DLT_OK;
}

static dlt_status avgpool_bwd_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = add2(g, &dlt_op_def_avgpool2d, 1, dy[0], -1, DLT_CATTR(n, pool_attr));
    return DLT_OK;
}

static int attr_from(dlt_graph *g, const char *op, const dlt_pool2d_opts *o, int dilation_ok,
                     pool_attr *a)
{
    if (!o) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: options with the kernel size are required", op);
        return 0;
    }
    *a = (pool_attr){o->kernel[0], o->kernel[1], o->stride[0] ? o->stride[0] : o->kernel[0],
                     o->stride[1] ? o->stride[1] : o->kernel[1], o->padding[0], o->padding[1],
                     o->dilation[0] ? o->dilation[0] : 1, o->dilation[1] ? o->dilation[1] : 1,
                     o->exclude_pad != 0, 0, 0};
    const char *bad = a->kh <= 0 || a->kw <= 0 ? "kernel size must be positive"
                      : a->sh < 0 || a->sw < 0 ? "stride must be positive"
                      : a->dh < 0 || a->dw < 0 ? "dilation must be positive"
                      : !dilation_ok && (a->dh != 1 || a->dw != 1) ? "dilation is not supported"
                      : a->ph < 0 || a->pw < 0 ? "padding must be non-negative"
                                              : NULL;
    if (bad) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: %s", op, bad);
        return 0;
    }
    if (2 * a->ph > a->kh || 2 * a->pw > a->kw) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: padding (%d, %d) must be at most half the kernel (%d, %d)",
                       op, a->ph, a->pw, a->kh, a->kw);
        return 0;
    }
    return 1;
}

dlt_t dlt_maxpool2d(dlt_graph *g, dlt_t x, const dlt_pool2d_opts *o)
{
    pool_attr a;
    if (dlt_graph_status(g) != DLT_OK || !attr_from(g, "maxpool2d", o, 1, &a))
        return -1;
    return dlt_node_add(g, &dlt_op_def_maxpool2d, 1, &x, &a, sizeof a);
}

dlt_t dlt_avgpool2d(dlt_graph *g, dlt_t x, const dlt_pool2d_opts *o)
{
    pool_attr a;
    if (dlt_graph_status(g) != DLT_OK || !attr_from(g, "avgpool2d", o, 0, &a))
        return -1;
    return dlt_node_add(g, &dlt_op_def_avgpool2d, 1, &x, &a, sizeof a);
}

dlt_t dlt_global_avgpool2d(dlt_graph *g, dlt_t x)
{
    static const int axes[2] = {2, 3};
    const dlt_shape *s = dlt_shape_of(g, x);
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (s && s->ndim != 4)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "global_avgpool2d: input must be NCHW (rank 4), got '%s'",
                              dlt_name_of(g, x));
    return dlt_mean(g, x, 2, axes, 0);
}
