/* Reductions beyond sum/mean: max (and min through it) with the gradient routed
 * to one element per group, and variance with torch's correction. */
#include <math.h>
#include <string.h>

#include "dlt_ops.h"
#include "ops_util.h"
#include "reduce_impl.h"

/* Output o's group: elements base(o) + off(q) + j istr, q < outer, j < inner,
 * visited in row-major order of the reduced axes (that order defines "first"). */
typedef struct {
    int nk, nr;
    int64_t kdim[DLT_MAX_DIMS], kstr[DLT_MAX_DIMS], rdim[DLT_MAX_DIMS], rstr[DLT_MAX_DIMS];
    int64_t nout, nred, inner, istr, outer;
} rx_geom;

static void rx_geometry(const dlt_shape *s, const rx_attr *a, rx_geom *gm)
{
    int64_t str[DLT_MAX_DIMS], stride = 1;
    memset(gm, 0, sizeof *gm);
    gm->nout = gm->nred = 1;
    for (int i = s->ndim - 1; i >= 0; i--) {
        str[i] = stride;
        stride *= s->dim[i];
    }
    for (int i = 0; i < s->ndim; i++) {
        if (a->reduce[i]) {
            gm->rdim[gm->nr] = s->dim[i], gm->rstr[gm->nr++] = str[i];
            gm->nred *= s->dim[i];
        } else {
            gm->kdim[gm->nk] = s->dim[i], gm->kstr[gm->nk++] = str[i];
            gm->nout *= s->dim[i];
        }
    }
    gm->inner = gm->nr ? gm->rdim[gm->nr - 1] : 1;
    gm->istr = gm->nr ? gm->rstr[gm->nr - 1] : 1;
    gm->outer = gm->inner ? gm->nred / gm->inner : 0;
}

static int64_t rx_base(const rx_geom *gm, int64_t o)
{
    int64_t base = 0;
    for (int i = gm->nk - 1; i >= 0; i--) {
        base += (o % gm->kdim[i]) * gm->kstr[i];
        o /= gm->kdim[i];
    }
    return base;
}

static int64_t rx_off(const rx_geom *gm, int64_t q)
{
    int64_t off = 0;
    for (int i = gm->nr - 2; i >= 0; i--) {
        off += (q % gm->rdim[i]) * gm->rstr[i];
        q /= gm->rdim[i];
    }
    return off;
}

/* Offset of the first maximum of group o (the first NaN if there is one). */
static int64_t rx_argmax(const float *x, const rx_geom *gm, int64_t o)
{
    int64_t base = rx_base(gm, o), best = -1;
    float bv = 0;
    for (int64_t q = 0; q < gm->outer; q++) {
        int64_t off = base + rx_off(gm, q);
        for (int64_t j = 0; j < gm->inner; j++) {
            float v = x[off + j * gm->istr];
            if (best < 0 || v > bv || (isnan(v) && !isnan(bv))) {
                best = off + j * gm->istr;
                bv = v;
            }
        }
    }
    return best;
}

static void rx_out_shape(const dlt_shape *x, const rx_attr *a, dlt_shape *out)
{
    *out = *x;
    out->ndim = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (!a->reduce[i])
            out->dim[out->ndim++] = x->dim[i];
        else if (a->keepdim)
            out->dim[out->ndim++] = 1;
    }
}

/* max(x), var(x): reduced shape. max_pick(v, x): v like x, reduced shape.
 * max_grad(dy, x): dy reduced, x's shape. */
static dlt_status rx_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const rx_attr *a = DLT_CATTR(n, rx_attr);
    const dlt_shape *x = &in[n->nin - 1];
    dlt_shape red;
    for (int i = 0; i < n->nin; i++)
        if (in[i].dtype != DLT_F32)
            return dlt_seterr(DLT_ERR_DTYPE, n->nin == 1 ? "input must be f32" : "inputs must be f32");
    rx_out_shape(x, a, &red);
    if (strcmp(n->op->name, "max_grad") == 0) {
        if (!dlt_shape_equal(&in[0], &red))
            return dlt_seterr(DLT_ERR_SHAPE, "gradient does not have the reduced shape");
        out[0] = *x;
    } else {
        if (n->nin == 2 && !dlt_shape_equal(&in[0], x))
            return dlt_seterr(DLT_ERR_SHAPE, "inputs must have the same shape");
        out[0] = red;
    }
    return DLT_OK;
}

static double rx_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return (double)dlt_shape_numel(in[n->nin - 1]);
}

/* max(x) = x[argmax]; max_pick(v, x) = v[argmax of x] */
static dlt_status max_cpu(const dlt_kctx *k)
{
    int nin = k->node->nin;
    const float *x = k->in[nin - 1], *v = k->in[0];
    float *y = k->out[0];
    rx_geom gm;
    rx_geometry(k->in_shape[nin - 1], DLT_CATTR(k->node, rx_attr), &gm);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (gm.nout * gm.nred > 32768)
    for (int64_t o = 0; o < gm.nout; o++) {
        int64_t at = rx_argmax(x, &gm, o);
        y[o] = at >= 0 ? v[at] : -INFINITY; /* an empty group: torch refuses, we give -inf */
    }
    return DLT_OK;
}

/* max_grad(dy, x): dy[o] at each group's argmax, 0 elsewhere (groups are disjoint) */
static dlt_status max_grad_cpu(const dlt_kctx *k)
{
    const float *dy = k->in[0], *x = k->in[1];
    float *dx = k->out[0];
    rx_geom gm;
    rx_geometry(k->in_shape[1], DLT_CATTR(k->node, rx_attr), &gm);
    memset(dx, 0, (size_t)dlt_shape_numel(k->out_shape[0]) * sizeof *dx);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (gm.nout * gm.nred > 32768)
    for (int64_t o = 0; o < gm.nout; o++) {
        int64_t at = rx_argmax(x, &gm, o);
        if (at >= 0)
            dx[at] = dy[o];
    }
    return DLT_OK;
}

static dlt_status max_grad_rule(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
const dlt_op_def dlt_op_def_max = {
    .id = DLT_OP_MAX,
    .name = "max",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = rx_shape,
    .grad = max_grad_rule,
    .cpu = max_cpu,
    .flops = rx_flops,
};
const dlt_op_def dlt_op_def_max_pick = {
    .id = DLT_OP_MAX_PICK,
    .name = "max_pick",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = rx_shape,
    .grad = max_grad_rule,
    .cpu = max_cpu,
    .flops = rx_flops,
};
const dlt_op_def dlt_op_def_max_grad = {
    .id = DLT_OP_MAX_GRAD,
    .name = "max_grad",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = rx_shape,
    .grad = max_grad_rule,
    .cpu = max_grad_cpu,
    .flops = rx_flops,
};

/* All three are linear in their first input and piecewise constant in x:
 * max / max_pick scatter back with max_grad, max_grad gathers with max_pick. */
static dlt_status max_grad_rule(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t in[2] = {dy[0], n->in[n->nin - 1]};
    const dlt_op_def *op = n->op == &dlt_op_def_max_grad ? &dlt_op_def_max_pick : &dlt_op_def_max_grad;
    dx[0] = dlt_node_add(g, op, 2, in, n->attr, sizeof(rx_attr));
    return DLT_OK;
}

/* ---------------------------------------------------------------- var */
/* Two passes in double per group: mean, then squared deviations. */
static dlt_status var_cpu(const dlt_kctx *k)
{
    const rx_attr *a = DLT_CATTR(k->node, rx_attr);
    const float *x = k->in[0];
    float *y = k->out[0];
    rx_geom gm;
    rx_geometry(k->in_shape[0], a, &gm);
    double div = (double)gm.nred - a->correction;
    if (div < 0)
        div = 0; /* torch: max(N - correction, 0), so the result is inf or NaN */
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (gm.nout * gm.nred > 32768)
    for (int64_t o = 0; o < gm.nout; o++) {
        int64_t base = rx_base(&gm, o);
        double sum = 0, ss = 0;
        for (int pass = 0; pass < 2; pass++) {
            double mean = sum / (double)gm.nred;
            for (int64_t q = 0; q < gm.outer; q++) {
                const float *p = x + base + rx_off(&gm, q);
                for (int64_t j = 0; j < gm.inner; j++) {
                    double v = p[j * gm.istr];
                    if (pass == 0)
                        sum += v;
                    else
                        ss += (v - mean) * (v - mean);
                }
            }
        }
        y[o] = (float)(ss / div);
    }
    return DLT_OK;
}

/* dx = dy * 2 (x - mean(x)) / (N - correction), from differentiable ops */
static dlt_status var_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const rx_attr *a = DLT_CATTR(n, rx_attr);
    dlt_t x = n->in[0];
    const dlt_shape *s = dlt_shape_of(g, x);
    int axes[DLT_MAX_DIMS], na = 0;
    int64_t kd[DLT_MAX_DIMS], count = 1;
    for (int i = 0; i < s->ndim; i++) {
        kd[i] = a->reduce[i] ? 1 : s->dim[i];
        if (a->reduce[i])
            axes[na++] = i, count *= s->dim[i];
    }
    double div = (double)count - a->correction;
    float scale = (float)(2.0 / (div > 0 ? div : 0.0));
    dlt_t dev = na ? dlt_sub(g, x, dlt_mean(g, x, na, axes, 1)) : dlt_affine(g, x, 0.f, 0.f);
    dx[0] = dlt_affine(g, dlt_mul(g, dev, dlt_reshape(g, dy[0], s->ndim, kd)), scale, 0.f);
    return DLT_OK;
}

static double var_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return 3.0 * (double)dlt_shape_numel(in[0]);
}

const dlt_op_def dlt_op_def_var = {
    .id = DLT_OP_VAR,
    .name = "var",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = rx_shape,
    .grad = var_grad,
    .cpu = var_cpu,
    .flops = var_flops,
};

/* ---------------------------------------------------------------- builders */
static dlt_t rx_build(dlt_graph *g, const dlt_op_def *op, dlt_t x, int naxes, const int *axes,
                      int keepdim, int correction)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    rx_attr a;
    if (!s)
        return -1;
    memset(&a, 0, sizeof a);
    a.keepdim = keepdim;
    a.correction = correction;
    for (int i = 0; i < naxes; i++) {
        int ax = dlt_axis(axes[i], s->ndim);
        if (ax < 0)
            return dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: axis %d out of range for '%s' of rank %d",
                                  op->name, axes[i], dlt_name_of(g, x), s->ndim);
        a.reduce[ax] = 1;
    }
    for (int i = 0; naxes == 0 && i < s->ndim; i++)
        a.reduce[i] = 1;
    return dlt_node_add(g, op, 1, &x, &a, sizeof a);
}

dlt_t dlt_max(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim)
{
    return rx_build(g, &dlt_op_def_max, x, naxes, axes, keepdim, 0);
}

dlt_t dlt_min(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim)
{
    return dlt_neg(g, dlt_max(g, dlt_neg(g, x), naxes, axes, keepdim));
}

dlt_t dlt_var(dlt_graph *g, dlt_t x, int naxes, const int *axes, int correction, int keepdim)
{
    if (correction < 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "var: correction must be >= 0, got %d", correction);
    return rx_build(g, &dlt_op_def_var, x, naxes, axes, keepdim, correction);
}
