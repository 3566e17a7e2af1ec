/* Shape ops that move no data: reshape (a view), stop_gradient, and the
 * squeeze/unsqueeze/flatten helpers built on reshape. */
#include "dlt_ops.h"
#include "ops_util.h"

static dlt_status reshape_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const dlt_shape *t = DLT_CATTR(n, dlt_shape);
    int64_t known = 1;
    int infer = -1;
    *out = *t;
    out->dtype = in[0].dtype;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dim[i] == -1) {
            if (infer >= 0)
                return dlt_seterr(DLT_ERR_SHAPE, "only one dimension may be -1");
            infer = i;
        } else if (t->dim[i] <= 0) {
            return dlt_seterr(DLT_ERR_SHAPE, "dimension %d is %lld", i, (long long)t->dim[i]);
        } else {
            known *= t->dim[i];
        }
    }
    int64_t n_in = dlt_shape_numel(&in[0]);
    if (infer >= 0) {
        if (n_in % known)
            return dlt_seterr(DLT_ERR_SHAPE, "cannot infer dimension %d: %lld elements", infer,
                              (long long)n_in);
        out->dim[infer] = n_in / known;
    }
    if (dlt_shape_numel(out) != n_in)
        return dlt_seterr(DLT_ERR_SHAPE, "target has %lld elements, input %lld",
                          (long long)dlt_shape_numel(out), (long long)n_in);
    return DLT_OK;
}

static dlt_status reshape_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const dlt_shape *s = dlt_shape_of(g, n->in[0]);
    dx[0] = dlt_reshape(g, dy[0], s->ndim, s->dim);
    return DLT_OK;
}

const dlt_op_def dlt_op_def_reshape = {
    .id = DLT_OP_RESHAPE,
    .name = "reshape",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = reshape_shape,
    .grad = reshape_grad,
    .flags = DLT_OP_VIEW,
};

dlt_t dlt_reshape(dlt_graph *g, dlt_t x, int ndim, const int64_t *dims)
{
    if (ndim < 0 || ndim > DLT_MAX_DIMS)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "reshape: rank %d out of range", ndim);
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    dlt_shape t = dlt_shape_make(s->dtype, ndim, dims);
    if (dlt_shape_equal(s, &t))
        return x;
    return dlt_node_add(g, &dlt_op_def_reshape, 1, &x, &t, sizeof t);
}

static dlt_status same_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    out[0] = in[0];
    return DLT_OK;
}

static dlt_status no_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    return DLT_OK; /* nothing flows back: the input gets a zero gradient */
}

const dlt_op_def dlt_op_def_stop_gradient = {
    .id = DLT_OP_STOP_GRADIENT,
    .name = "stop_gradient",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = same_shape,
    .grad = no_grad,
    .flags = DLT_OP_VIEW,
};

dlt_t dlt_stop_gradient(dlt_graph *g, dlt_t x) { return dlt_node_add(g, &dlt_op_def_stop_gradient, 1, &x, NULL, 0); }

/* ---------------------------------------------------------------- reshape helpers */
dlt_t dlt_squeeze(dlt_graph *g, dlt_t x, int naxes, const int *axes)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    unsigned char drop[DLT_MAX_DIMS] = {0};
    for (int i = 0; i < naxes; i++) {
        int ax = dlt_axis(axes[i], s->ndim);
        if (ax < 0)
            return dlt_graph_fail(g, DLT_ERR_SHAPE, "squeeze: axis %d out of range for '%s' of rank %d",
                                  axes[i], dlt_name_of(g, x), s->ndim);
        if (s->dim[ax] != 1)
            return dlt_graph_fail(g, DLT_ERR_SHAPE, "squeeze: axis %d of '%s' has size %lld, not 1", ax,
                                  dlt_name_of(g, x), (long long)s->dim[ax]);
        drop[ax] = 1;
    }
    int64_t d[DLT_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < s->ndim; i++)
        if (!(naxes == 0 ? s->dim[i] == 1 : drop[i]))
            d[nd++] = s->dim[i];
    return dlt_reshape(g, x, nd, d);
}

dlt_t dlt_unsqueeze(dlt_graph *g, dlt_t x, int axis)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    int ax = dlt_axis(axis, s->ndim + 1);
    if (ax < 0 || s->ndim >= DLT_MAX_DIMS)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "unsqueeze: axis %d out of range for '%s' of rank %d",
                              axis, dlt_name_of(g, x), s->ndim);
    int64_t d[DLT_MAX_DIMS];
    for (int i = 0, j = 0; i <= s->ndim; i++)
        d[i] = i == ax ? 1 : s->dim[j++];
    return dlt_reshape(g, x, s->ndim + 1, d);
}

dlt_t dlt_flatten(dlt_graph *g, dlt_t x, int start, int end)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    if (s->ndim == 0)
        return dlt_reshape(g, x, 1, (const int64_t[]){1});
    int a = dlt_axis(start, s->ndim), b = dlt_axis(end, s->ndim);
    if (a < 0 || b < 0 || a > b)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "flatten: axes %d..%d out of range for '%s' of rank %d",
                              start, end, dlt_name_of(g, x), s->ndim);
    int64_t d[DLT_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < a; i++)
        d[nd++] = s->dim[i];
    d[nd] = 1;
    for (int i = a; i <= b; i++)
        d[nd] *= s->dim[i];
    nd++;
    for (int i = b + 1; i < s->ndim; i++)
        d[nd++] = s->dim[i];
    return dlt_reshape(g, x, nd, d);
}
