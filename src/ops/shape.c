/* Shape ops that move no data: reshape (a view) and stop_gradient. */
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

static const dlt_op_def op_reshape = {"reshape", 1, 1, 1, reshape_shape, reshape_grad, NULL, NULL,
                                      NULL, DLT_OP_VIEW};

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
    return dlt_node_add(g, &op_reshape, 1, &x, &t, sizeof t);
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

static const dlt_op_def op_stop = {"stop_gradient", 1, 1, 1, same_shape, no_grad, NULL, NULL, NULL,
                                   DLT_OP_VIEW};

dlt_t dlt_stop_gradient(dlt_graph *g, dlt_t x) { return dlt_node_add(g, &op_stop, 1, &x, NULL, 0); }
