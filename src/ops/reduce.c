/* Sum reductions over axes, their inverse broadcast, and the pair that gradient
 * rules use to undo broadcasting (sum_to / broadcast_to). */
#include <string.h>

#include "dlt_ops.h"
#include "ops_util.h"

typedef struct {
    unsigned char reduce[DLT_MAX_DIMS]; /* 1 on reduced axes of the input */
    int keepdim;
    float scale; /* 1 for sum, 1/count for mean */
} reduce_attr;

static dlt_status reduce_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const reduce_attr *a = DLT_CATTR(n, reduce_attr);
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "input must be f32");
    *out = in[0];
    out->ndim = 0;
    for (int i = 0; i < in[0].ndim; i++) {
        if (!a->reduce[i])
            out->dim[out->ndim++] = in[0].dim[i];
        else if (a->keepdim)
            out->dim[out->ndim++] = 1;
    }
    return DLT_OK;
}

/* Each output element sums its reduced sub-space in double, so the result does
 * not depend on the thread count. */
static dlt_status reduce_cpu(const dlt_kctx *k)
{
    const reduce_attr *a = DLT_CATTR(k->node, reduce_attr);
    const dlt_shape *s = k->in_shape[0];
    const float *x = k->in[0];
    float *y = k->out[0];
    int64_t kdim[DLT_MAX_DIMS], kstr[DLT_MAX_DIMS], rdim[DLT_MAX_DIMS], rstr[DLT_MAX_DIMS];
    int nk = 0, nr = 0;
    int64_t stride = 1, nout = 1, nred = 1, str[DLT_MAX_DIMS];
    for (int i = s->ndim - 1; i >= 0; i--) {
        str[i] = stride;
        stride *= s->dim[i];
    }
    for (int i = 0; i < s->ndim; i++) {
        if (a->reduce[i]) {
            rdim[nr] = s->dim[i], rstr[nr++] = str[i];
            nred *= s->dim[i];
        } else {
            kdim[nk] = s->dim[i], kstr[nk++] = str[i];
            nout *= s->dim[i];
        }
    }
    /* innermost reduced axis contiguous: a plain loop does most of the work */
    int64_t inner = nr ? rdim[nr - 1] : 1, istr = nr ? rstr[nr - 1] : 1;
    int64_t outer = inner ? nred / inner : 0;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (nout * nred > 32768)
    for (int64_t o = 0; o < nout; o++) {
        int64_t base = 0, rem = o;
        for (int i = nk - 1; i >= 0; i--) {
            base += (rem % kdim[i]) * kstr[i];
            rem /= kdim[i];
        }
        double acc = 0;
        for (int64_t q = 0; q < outer; q++) {
            int64_t off = base, r2 = q;
            for (int i = nr - 2; i >= 0; i--) {
                off += (r2 % rdim[i]) * rstr[i];
                r2 /= rdim[i];
            }
            const float *p = x + off;
            for (int64_t j = 0; j < inner; j++)
                acc += p[j * istr];
        }
        y[o] = (float)(acc * a->scale);
    }
    return DLT_OK;
}

static dlt_status reduce_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const reduce_attr *a = DLT_CATTR(n, reduce_attr);
    const dlt_shape *s = dlt_shape_of(g, n->in[0]);
    int64_t kd[DLT_MAX_DIMS];
    for (int i = 0; i < s->ndim; i++)
        kd[i] = a->reduce[i] ? 1 : s->dim[i];
    dlt_t d = dlt_reshape(g, dy[0], s->ndim, kd);
    if (a->scale != 1.f)
        d = dlt_affine(g, d, a->scale, 0.f);
    dx[0] = dlt_broadcast_to(g, d, s);
    return DLT_OK;
}

static double reduce_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return (double)dlt_shape_numel(in[0]);
}

static const dlt_op_def op_sum = {"sum", 1, 1, 1, reduce_shape, reduce_grad, reduce_cpu, NULL,
                                  reduce_flops, 0};

static dlt_t reduce(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim, int mean)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    reduce_attr a;
    if (!s)
        return -1;
    memset(&a, 0, sizeof a);
    a.keepdim = keepdim;
    int64_t count = 1;
    for (int i = 0; i < naxes; i++) {
        int ax = dlt_axis(axes[i], s->ndim);
        if (ax < 0)
            return dlt_graph_fail(g, DLT_ERR_SHAPE, "sum: axis %d out of range for '%s' of rank %d",
                                  axes[i], dlt_name_of(g, x), s->ndim);
        a.reduce[ax] = 1;
    }
    for (int i = 0; i < s->ndim; i++) {
        if (naxes == 0)
            a.reduce[i] = 1;
        if (a.reduce[i])
            count *= s->dim[i];
    }
    a.scale = mean ? 1.0f / (float)count : 1.0f;
    return dlt_node_add(g, &op_sum, 1, &x, &a, sizeof a);
}

dlt_t dlt_sum(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim)
{
    return reduce(g, x, naxes, axes, keepdim, 0);
}

dlt_t dlt_mean(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim)
{
    return reduce(g, x, naxes, axes, keepdim, 1);
}

dlt_t dlt_sum_to(dlt_graph *g, dlt_t x, const dlt_shape *shape)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    if (dlt_shape_equal(s, shape))
        return x;
    int axes[DLT_MAX_DIMS], na = 0, lead = s->ndim - shape->ndim;
    if (lead < 0)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "sum_to: '%s' has lower rank than the target",
                              dlt_name_of(g, x));
    for (int i = 0; i < s->ndim; i++)
        if (i < lead || (shape->dim[i - lead] == 1 && s->dim[i] != 1))
            axes[na++] = i;
    dlt_t r = na ? dlt_sum(g, x, na, axes, 1) : x;
    return dlt_reshape(g, r, shape->ndim, shape->dim);
}

/* ---------------------------------------------------------------- broadcast_to */
static dlt_status bto_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const dlt_shape *t = DLT_CATTR(n, dlt_shape);
    dlt_shape b;
    dlt_status st = dlt_broadcast_shape(&in[0], t, &b);
    if (st != DLT_OK || !dlt_shape_equal(&b, t) || in[0].ndim > t->ndim)
        return dlt_seterr(DLT_ERR_SHAPE, "input cannot be broadcast to the target shape");
    out[0] = *t;
    return DLT_OK;
}

static dlt_status bto_cpu(const dlt_kctx *k)
{
    const float *x = k->in[0];
    float *y = k->out[0];
    dlt_bcast_iter it;
    dlt_bcast_init(&it, k->in_shape[0], k->in_shape[0], k->out_shape[0]);
    int64_t cols = it.cols, sa = it.ndim ? it.sa[it.ndim - 1] : 0;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (it.rows * cols > 32768)
    for (int64_t r = 0; r < it.rows; r++) {
        int64_t oa, ob;
        dlt_bcast_row(&it, r, &oa, &ob);
        for (int64_t c = 0; c < cols; c++)
            y[r * cols + c] = x[oa + c * sa];
    }
    return DLT_OK;
}

static dlt_status bto_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = dlt_sum_to(g, dy[0], dlt_shape_of(g, n->in[0]));
    return DLT_OK;
}

static const dlt_op_def op_bto = {"broadcast_to", 1, 1, 1, bto_shape, bto_grad, bto_cpu, NULL, NULL, 0};

dlt_t dlt_broadcast_to(dlt_graph *g, dlt_t x, const dlt_shape *shape)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    if (dlt_shape_equal(s, shape))
        return x;
    dlt_shape t = *shape;
    t.dtype = s->dtype;
    return dlt_node_add(g, &op_bto, 1, &x, &t, sizeof t);
}
