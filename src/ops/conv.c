/* 2-D convolution (NCHW) and its closed backward family.
 *
 * Three ops, each the gradient of the others, so derivatives of any order
 * exist (WGAN-GP critics differentiate the input gradient of a conv net):
 *   conv2d(x, w[, b])              y = x * w
 *   conv_transpose2d(y, w[, b])    x = the adjoint of conv2d in its input
 *   conv2d_weight_grad(x, y)       w = the adjoint of conv2d in its weight
 * conv2d is bilinear in (x, w), so each gradient is one of the three again. */
#include <stdio.h>

#include "conv_impl.h"
#include "dlt_ops.h"
#include "ops_util.h"

static conv_geom geom_of(const conv_attr *a, const dlt_shape *xs, const dlt_shape *ws,
                         const dlt_shape *ys)
{
    conv_geom q = {xs->dim[0], xs->dim[1], xs->dim[2], xs->dim[3], ys->dim[1], ys->dim[2], ys->dim[3],
                   (int)ws->dim[2], (int)ws->dim[3], a->sh, a->sw, a->ph, a->pw, a->dh, a->dw,
                   a->groups};
    return q;
}

static int all_f32(const dlt_node *n, const dlt_shape *in)
{
    for (int i = 0; i < n->nin; i++)
        if (in[i].dtype != DLT_F32)
            return 0;
    return 1;
}

/* The checks shared by all three ops: the image, the kernel extent and the
 * response size that conv2d would produce from them. */
static dlt_status check_image(const conv_attr *a, const dlt_shape *x, int64_t kh, int64_t kw,
                              int64_t *oh, int64_t *ow)
{
    if (x->ndim != 4)
        return dlt_seterr(DLT_ERR_SHAPE, "input must be NCHW (rank 4)");
    if (x->dim[1] % a->groups)
        return dlt_seterr(DLT_ERR_SHAPE, "input channels (%lld) not divisible by groups (%d)",
                          (long long)x->dim[1], a->groups);
    int64_t ekh = (int64_t)a->dh * (kh - 1) + 1, ekw = (int64_t)a->dw * (kw - 1) + 1;
    int64_t ph = x->dim[2] + 2 * (int64_t)a->ph, pw = x->dim[3] + 2 * (int64_t)a->pw;
    if (ekh > ph || ekw > pw)
        return dlt_seterr(DLT_ERR_SHAPE, "kernel %lldx%lld (dilated) larger than padded input %lldx%lld",
                          (long long)ekh, (long long)ekw, (long long)ph, (long long)pw);
    *oh = conv_out_size(x->dim[2], (int)kh, a->sh, a->ph, a->dh);
    *ow = conv_out_size(x->dim[3], (int)kw, a->sw, a->pw, a->dw);
    return DLT_OK;
}

static dlt_status check_weight(const conv_attr *a, const dlt_shape *w, int64_t oc, int64_t c)
{
    if (w->ndim != 4)
        return dlt_seterr(DLT_ERR_SHAPE, "weight must be [out_channels, in_channels / groups, kh, kw]");
    if (w->dim[0] != oc || w->dim[1] * a->groups != c)
        return dlt_seterr(DLT_ERR_SHAPE, "weight must be [%lld, %lld, kh, kw] for %lld -> %lld channels in %d groups",
                          (long long)oc, (long long)(c / a->groups), (long long)c, (long long)oc,
                          a->groups);
    return DLT_OK;
}

static dlt_status check_bias(const dlt_node *n, const dlt_shape *in, int64_t ch)
{
    if (n->nin == 3 && (in[2].ndim != 1 || in[2].dim[0] != ch))
        return dlt_seterr(DLT_ERR_SHAPE, "bias must be [%lld]", (long long)ch);
    return DLT_OK;
}

static dlt_status conv_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const conv_attr *a = DLT_CATTR(n, conv_attr);
    const dlt_shape *x = &in[0], *w = &in[1];
    int64_t oh, ow;
    dlt_status st;
    if (!all_f32(n, in))
        return dlt_seterr(DLT_ERR_DTYPE, "inputs must be f32");
    if (w->ndim != 4)
        return dlt_seterr(DLT_ERR_SHAPE, "weight must be [out_channels, in_channels / groups, kh, kw]");
    if ((st = check_image(a, x, w->dim[2], w->dim[3], &oh, &ow)) != DLT_OK)
        return st;
    if (w->dim[0] % a->groups)
        return dlt_seterr(DLT_ERR_SHAPE, "output channels (%lld) not divisible by groups (%d)",
                          (long long)w->dim[0], a->groups);
    if ((st = check_weight(a, w, w->dim[0], x->dim[1])) != DLT_OK ||
        (st = check_bias(n, in, w->dim[0])) != DLT_OK)
        return st;
    out[0] = *x;
    out[0].dim[1] = w->dim[0];
    out[0].dim[2] = oh;
    out[0].dim[3] = ow;
    return DLT_OK;
}

/* in[0] is the response y [N, OC, OH, OW]; the output is the image size in the attribute. */
static dlt_status convt_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const conv_attr *a = DLT_CATTR(n, conv_attr);
    const dlt_shape *y = &in[0], *w = &in[1];
    int64_t oh, ow;
    dlt_status st;
    if (!all_f32(n, in))
        return dlt_seterr(DLT_ERR_DTYPE, "inputs must be f32");
    if (y->ndim != 4)
        return dlt_seterr(DLT_ERR_SHAPE, "input must be NCHW (rank 4)");
    if (w->ndim != 4 || w->dim[0] != y->dim[1])
        return dlt_seterr(DLT_ERR_SHAPE, "weight must be [%lld, out_channels / groups, kh, kw]",
                          (long long)y->dim[1]);
    if (y->dim[1] % a->groups)
        return dlt_seterr(DLT_ERR_SHAPE, "input channels (%lld) not divisible by groups (%d)",
                          (long long)y->dim[1], a->groups);
    dlt_shape x = *y;
    x.dim[1] = w->dim[1] * a->groups;
    x.dim[2] = a->xh;
    x.dim[3] = a->xw;
    if (a->xh <= 0 || a->xw <= 0)
        return dlt_seterr(DLT_ERR_SHAPE, "output size %lldx%lld is empty", (long long)a->xh,
                          (long long)a->xw);
    if ((st = check_image(a, &x, w->dim[2], w->dim[3], &oh, &ow)) != DLT_OK)
        return st;
    if (oh != y->dim[2] || ow != y->dim[3])
        return dlt_seterr(DLT_ERR_SHAPE, "output %lldx%lld does not convolve back to the input size",
                          (long long)a->xh, (long long)a->xw);
    if ((st = check_bias(n, in, x.dim[1])) != DLT_OK)
        return st;
    out[0] = x;
    return DLT_OK;
}

/* in: image x, response y; out: the weight [OC, C / groups, kh, kw]. */
static dlt_status wgrad_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const conv_attr *a = DLT_CATTR(n, conv_attr);
    const dlt_shape *x = &in[0], *y = &in[1];
    int64_t oh, ow;
    dlt_status st;
    if (!all_f32(n, in))
        return dlt_seterr(DLT_ERR_DTYPE, "inputs must be f32");
    if ((st = check_image(a, x, a->kh, a->kw, &oh, &ow)) != DLT_OK)
        return st;
    if (y->ndim != 4 || y->dim[0] != x->dim[0] || y->dim[1] % a->groups || y->dim[2] != oh ||
        y->dim[3] != ow)
        return dlt_seterr(DLT_ERR_SHAPE, "output gradient must be [%lld, k * %d, %lld, %lld]",
                          (long long)x->dim[0], a->groups, (long long)oh, (long long)ow);
    int64_t d[4] = {y->dim[1], x->dim[1] / a->groups, a->kh, a->kw};
    out[0] = dlt_shape_make(DLT_F32, 4, d);
    return DLT_OK;
}

/* The geometry of a node in conv2d terms, whichever of the three ops it is. */
static conv_geom node_geom(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    const conv_attr *a = DLT_CATTR(n, conv_attr);
    switch (n->op->id) {
    case DLT_OP_CONV_TRANSPOSE2D:
        return geom_of(a, out[0], in[1], in[0]);
    case DLT_OP_CONV2D_WEIGHT_GRAD:
        return geom_of(a, in[0], out[0], in[1]);
    default:
        return geom_of(a, in[0], in[1], out[0]);
    }
}

static int node_kind(const dlt_node *n)
{
    return n->op->id == DLT_OP_CONV_TRANSPOSE2D      ? CONV_DATA
           : n->op->id == DLT_OP_CONV2D_WEIGHT_GRAD ? CONV_FILTER
                                                     : CONV_FWD;
}

/* The provider is picked at plan time (conv_provider.c): oneDNN nodes get a
 * primitive as their per-node state (conv_dnnl.c), direct nodes the address
 * of direct_node (nothing to free), im2col nodes none. */
static const char direct_node;

static dlt_status conv_prepare(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out,
                               int nthreads, void **state)
{
    conv_geom q = node_geom(n, in, out);
    int kind = node_kind(n), prov = conv_provider(&q, kind, dlt_get_num_threads());
    *state = prov == CONV_DIRECT ? (void *)&direct_node : NULL;
    if (prov != CONV_DNNL)
        return DLT_OK;
    return conv_dnnl_create(&q, kind, n->nin == 3, nthreads, (conv_dnnl **)state);
}

static void conv_release(void *state)
{
    if (state != &direct_node)
        conv_dnnl_free(state);
}

static dlt_status conv_cpu(const dlt_kctx *k)
{
    const float *bias = k->node->nin == 3 ? k->in[2] : NULL;
    if (k->op_state)
        return conv_dnnl_run(k->op_state, k->in[0], k->in[1], bias, k->out[0], k->work,
                             k->work_bytes, k->nthreads);
    conv_geom q = geom_of(DLT_CATTR(k->node, conv_attr), k->in_shape[0], k->in_shape[1], k->out_shape[0]);
    conv_fwd(&q, k->in[0], k->in[1], bias, k->out[0], k->work, k->work_bytes, k->nthreads);
    return DLT_OK;
}

static dlt_status convt_cpu(const dlt_kctx *k)
{
    const float *bias = k->node->nin == 3 ? k->in[2] : NULL;
    conv_geom q = geom_of(DLT_CATTR(k->node, conv_attr), k->out_shape[0], k->in_shape[1], k->in_shape[0]);
    if (k->op_state == &direct_node)
        conv_direct_data(&q, k->in[0], k->in[1], bias, k->out[0], k->work, k->work_bytes, k->nthreads);
    else if (k->op_state)
        return conv_dnnl_run(k->op_state, k->in[0], k->in[1], bias, k->out[0], k->work,
                             k->work_bytes, k->nthreads);
    else
        conv_bwd_data(&q, k->in[0], k->in[1], bias, k->out[0], k->work, k->work_bytes, k->nthreads);
    return DLT_OK;
}

static dlt_status wgrad_cpu(const dlt_kctx *k)
{
    if (k->op_state)
        return conv_dnnl_run(k->op_state, k->in[0], k->in[1], NULL, k->out[0], k->work,
                             k->work_bytes, k->nthreads);
    conv_geom q = geom_of(DLT_CATTR(k->node, conv_attr), k->in_shape[0], k->out_shape[0], k->in_shape[1]);
    conv_bwd_filter(&q, k->in[0], k->in[1], k->out[0], k->work, k->work_bytes, k->nthreads);
    return DLT_OK;
}

/* The workspace of the node's provider: im2col's column buffers, oneDNN's
 * blocked copies and scratchpad, or the direct kernel's padded responses. */
static size_t conv_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    conv_geom q = node_geom(n, in, out);
    int kind = node_kind(n), prov = conv_provider(&q, kind, dlt_get_num_threads());
    if (prov == CONV_DNNL)
        return conv_dnnl_ws(&q, kind, n->nin == 3, dlt_get_num_threads());
    if (prov == CONV_DIRECT)
        return conv_direct_ws(&q, conv_slots(q.n));
    return kind == CONV_FWD    ? conv_fwd_ws(&q, conv_slots(q.n))
           : kind == CONV_DATA ? conv_bwd_data_ws(&q, conv_slots(q.n))
                               : conv_bwd_filter_ws(&q, conv_slots(q.n));
}

static double geom_flops(const conv_geom *q)
{
    return 2.0 * (double)(q->n * q->oc * q->oh * q->ow) * (double)(q->c / q->groups) * q->kh * q->kw;
}

static double conv_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    conv_geom q = geom_of(DLT_CATTR(n, conv_attr), in[0], in[1], out[0]);
    return geom_flops(&q);
}

static double convt_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    conv_geom q = geom_of(DLT_CATTR(n, conv_attr), out[0], in[1], in[0]);
    return geom_flops(&q);
}

static double wgrad_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    conv_geom q = geom_of(DLT_CATTR(n, conv_attr), in[0], out[0], in[1]);
    return geom_flops(&q);
}

static dlt_status conv_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status convt_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status wgrad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

const dlt_op_def dlt_op_def_conv2d = {
    .id = DLT_OP_CONV2D,
    .name = "conv2d",
    .nin_min = 2,
    .nin_max = 3,
    .nout = 1,
    .shape = conv_shape,
    .grad = conv_grad,
    .cpu = conv_cpu,
    .workspace = conv_ws,
    .flops = conv_flops,
    .prepare = conv_prepare,
    .release = conv_release,
};
const dlt_op_def dlt_op_def_conv_transpose2d = {
    .id = DLT_OP_CONV_TRANSPOSE2D,
    .name = "conv_transpose2d",
    .nin_min = 2,
    .nin_max = 3,
    .nout = 1,
    .shape = convt_shape,
    .grad = convt_grad,
    .cpu = convt_cpu,
    .workspace = conv_ws,
    .flops = convt_flops,
    .prepare = conv_prepare,
    .release = conv_release,
};
const dlt_op_def dlt_op_def_conv2d_weight_grad = {
    .id = DLT_OP_CONV2D_WEIGHT_GRAD,
    .name = "conv2d_weight_grad",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = wgrad_shape,
    .grad = wgrad_grad,
    .cpu = wgrad_cpu,
    .workspace = conv_ws,
    .flops = wgrad_flops,
    .prepare = conv_prepare,
    .release = conv_release,
};

static dlt_t add3(dlt_graph *g, const dlt_op_def *op, dlt_t a, dlt_t b, dlt_t c, const conv_attr *at)
{
    dlt_t in[3] = {a, b, c};
    return dlt_node_add(g, op, c >= 0 ? 3 : 2, in, at, sizeof *at);
}

static dlt_t bias_grad(dlt_graph *g, dlt_t dy)
{
    static const int axes[3] = {0, 2, 3};
    return dlt_sum(g, dy, 3, axes, 0);
}

static dlt_status conv_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    conv_attr a = *DLT_CATTR(n, conv_attr);
    const dlt_shape *xs = dlt_shape_of(g, n->in[0]), *ws = dlt_shape_of(g, n->in[1]);
    a.xh = xs->dim[2], a.xw = xs->dim[3];
    a.kh = (int)ws->dim[2], a.kw = (int)ws->dim[3];
    dx[0] = add3(g, &dlt_op_def_conv_transpose2d, dy[0], n->in[1], -1, &a);
    dx[1] = add3(g, &dlt_op_def_conv2d_weight_grad, n->in[0], dy[0], -1, &a);
    if (n->nin == 3)
        dx[2] = bias_grad(g, dy[0]);
    return DLT_OK;
}

/* x = T(y, w) is the adjoint of y = conv2d(x, w): <T(y, w), g> = <y, conv2d(g, w)>. */
static dlt_status convt_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    conv_attr a = *DLT_CATTR(n, conv_attr);
    const dlt_shape *ws = dlt_shape_of(g, n->in[1]);
    a.kh = (int)ws->dim[2], a.kw = (int)ws->dim[3];
    dx[0] = add3(g, &dlt_op_def_conv2d, dy[0], n->in[1], -1, &a);
    dx[1] = add3(g, &dlt_op_def_conv2d_weight_grad, dy[0], n->in[0], -1, &a);
    if (n->nin == 3)
        dx[2] = bias_grad(g, dy[0]);
    return DLT_OK;
}

/* <G(x, y), gw> = <y, conv2d(x, gw)> = <x, T(y, gw)>. */
static dlt_status wgrad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    conv_attr a = *DLT_CATTR(n, conv_attr);
    const dlt_shape *xs = dlt_shape_of(g, n->in[0]);
    a.xh = xs->dim[2], a.xw = xs->dim[3];
    dx[0] = add3(g, &dlt_op_def_conv_transpose2d, n->in[1], dy[0], -1, &a);
    dx[1] = add3(g, &dlt_op_def_conv2d, n->in[0], dy[0], -1, &a);
    return DLT_OK;
}

/* Builder arguments to the attribute; 0 selects the default of stride,
 * dilation and groups. Returns 0 (with the graph failed) on a bad argument. */
static int attr_from(dlt_graph *g, const char *op, const dlt_conv2d_opts *o, conv_attr *a)
{
    static const dlt_conv2d_opts def = {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
    if (!o)
        o = &def;
    *a = (conv_attr){o->stride[0] ? o->stride[0] : 1, o->stride[1] ? o->stride[1] : 1, o->padding[0],
                     o->padding[1], o->dilation[0] ? o->dilation[0] : 1,
                     o->dilation[1] ? o->dilation[1] : 1, o->groups ? o->groups : 1, 0, 0, 0, 0};
    const char *bad = a->sh < 0 || a->sw < 0 ? "stride must be positive"
                      : a->ph < 0 || a->pw < 0 ? "padding must be non-negative"
                      : a->dh < 0 || a->dw < 0 ? "dilation must be positive"
                      : a->groups < 0 ? "groups must be positive"
                      : o->output_padding[0] < 0 || o->output_padding[1] < 0
                          ? "output_padding must be non-negative"
                          : NULL;
    if (bad) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: %s", op, bad);
        return 0;
    }
    return 1;
}

dlt_t dlt_conv2d(dlt_graph *g, dlt_t x, dlt_t w, dlt_t b, const dlt_conv2d_opts *o)
{
    conv_attr a;
    if (dlt_graph_status(g) != DLT_OK || !attr_from(g, "conv2d", o, &a))
        return -1;
    if (o && (o->output_padding[0] || o->output_padding[1]))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "conv2d: output_padding is for conv_transpose2d");
    return add3(g, &dlt_op_def_conv2d, x, w, b, &a);
}

dlt_t dlt_conv_transpose2d(dlt_graph *g, dlt_t x, dlt_t w, dlt_t b, const dlt_conv2d_opts *o)
{
    conv_attr a;
    if (dlt_graph_status(g) != DLT_OK || !attr_from(g, "conv_transpose2d", o, &a))
        return -1;
    int oph = o ? o->output_padding[0] : 0, opw = o ? o->output_padding[1] : 0;
    if ((oph >= a.sh && oph >= a.dh) || (opw >= a.sw && opw >= a.dw))
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "conv_transpose2d: output_padding (%d, %d) must be smaller than stride or dilation",
                              oph, opw);
    const dlt_shape *xs = dlt_shape_of(g, x), *ws = dlt_shape_of(g, w);
    if (xs && ws && xs->ndim == 4 && ws->ndim == 4) {
        /* PyTorch's output size; any size in [that, that + stride) convolves back */
        a.xh = (xs->dim[2] - 1) * a.sh - 2 * (int64_t)a.ph + (int64_t)a.dh * (ws->dim[2] - 1) + oph + 1;
        a.xw = (xs->dim[3] - 1) * a.sw - 2 * (int64_t)a.pw + (int64_t)a.dw * (ws->dim[3] - 1) + opw + 1;
    }
    return add3(g, &dlt_op_def_conv_transpose2d, x, w, b, &a);
}

dlt_t dlt_conv2d_input_grad(dlt_graph *g, dlt_t dy, dlt_t w, int64_t h, int64_t wd,
                            const dlt_conv2d_opts *o)
{
    conv_attr a;
    if (dlt_graph_status(g) != DLT_OK || !attr_from(g, "conv2d_input_grad", o, &a))
        return -1;
    a.xh = h, a.xw = wd;
    return add3(g, &dlt_op_def_conv_transpose2d, dy, w, -1, &a);
}

dlt_t dlt_conv2d_weight_grad(dlt_graph *g, dlt_t x, dlt_t dy, int kh, int kw, const dlt_conv2d_opts *o)
{
    conv_attr a;
    if (dlt_graph_status(g) != DLT_OK || !attr_from(g, "conv2d_weight_grad", o, &a))
        return -1;
    if (kh <= 0 || kw <= 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "conv2d_weight_grad: kernel size must be positive");
    a.kh = kh, a.kw = kw;
    return add3(g, &dlt_op_def_conv2d_weight_grad, x, dy, -1, &a);
}
