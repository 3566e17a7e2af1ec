/* Softmax and log-softmax over one axis, with fused backward ops whose own
 * gradients are built from differentiable ops (second order works). */
#include <math.h>

#include "dlt_ops.h"
#include "ops_util.h"
#include "reduce_impl.h"
#include "vmath.h"

/* x viewed as [outer, n, inner] around the axis: row r = (o, i) reads
 * x[o n inner + j inner + i] for j < n. */
typedef struct {
    int64_t n, inner, rows;
} sm_geom;

static sm_geom sm_geometry(const dlt_shape *s, int axis)
{
    sm_geom gm = {s->dim[axis], 1, 1};
    for (int i = 0; i < s->ndim; i++) {
        if (i > axis)
            gm.inner *= s->dim[i];
        if (i != axis)
            gm.rows *= s->dim[i];
    }
    return gm;
}

static inline int64_t sm_base(const sm_geom *gm, int64_t r)
{
    return (r / gm->inner) * gm->n * gm->inner + r % gm->inner;
}

static dlt_status sm_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    for (int i = 0; i < n->nin; i++)
        if (in[i].dtype != DLT_F32)
            return dlt_seterr(DLT_ERR_DTYPE, n->nin == 1 ? "input must be f32" : "inputs must be f32");
    if (n->nin == 2 && !dlt_shape_equal(&in[0], &in[1]))
        return dlt_seterr(DLT_ERR_SHAPE, "inputs must have the same shape");
    if (DLT_CATTR(n, sm_attr)->axis >= in[0].ndim)
        return dlt_seterr(DLT_ERR_SHAPE, "axis out of range");
    out[0] = in[0];
    return DLT_OK;
}

static double sm_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return 3.0 * (double)dlt_shape_numel(out[0]);
}

/* One row per iteration, sums in double: the result does not depend on the
 * thread count. Each element is read before its own write, so out may alias in.
 * Contiguous rows (the last axis) go to the vmath path's row kernel (f32 vector
 * exp, vmath.h) unless DLT_CPU_ISA=libm. */
static dlt_status sm_fwd(const dlt_kctx *k, int log_form)
{
    const float *x = k->in[0];
    float *y = k->out[0];
    sm_geom gm = sm_geometry(k->in_shape[0], DLT_CATTR(k->node, sm_attr)->axis);
    int64_t n = gm.n, st = gm.inner;
    const dlt_vmath_ops *vm = dlt_vmath();
    if (vm && st == 1 && n > 0) {
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (gm.rows * n > 8192)
        for (int64_t r = 0; r < gm.rows; r++)
            vm->softmax_row(x + r * n, y + r * n, n, log_form);
        return DLT_OK;
    }
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (gm.rows * n > 8192)
    for (int64_t r = 0; r < gm.rows; r++) {
        const float *px = x + sm_base(&gm, r);
        float *py = y + sm_base(&gm, r);
        float m = -INFINITY;
        for (int64_t j = 0; j < n; j++)
            m = px[j * st] > m ? px[j * st] : m;
        double sum = 0;
        for (int64_t j = 0; j < n; j++)
            sum += exp((double)px[j * st] - m);
        if (log_form) {
            double lse = m + log(sum);
            for (int64_t j = 0; j < n; j++)
                py[j * st] = (float)(px[j * st] - lse);
        } else {
            for (int64_t j = 0; j < n; j++)
                py[j * st] = (float)(exp((double)px[j * st] - m) / sum);
        }
    }
    return DLT_OK;
}

static dlt_status softmax_cpu(const dlt_kctx *k) { return sm_fwd(k, 0); }
static dlt_status log_softmax_cpu(const dlt_kctx *k) { return sm_fwd(k, 1); }

/* softmax_grad(dy, y) = y (dy - sum(dy y)); log_softmax_grad(dy, y) = dy -
 * exp(y) sum(dy). Out may alias dy. */
static dlt_status sm_bwd(const dlt_kctx *k, int log_form)
{
    const float *dy = k->in[0], *y = k->in[1];
    float *dx = k->out[0];
    sm_geom gm = sm_geometry(k->in_shape[0], DLT_CATTR(k->node, sm_attr)->axis);
    int64_t n = gm.n, st = gm.inner;
    const dlt_vmath_ops *vm = dlt_vmath();
    if (vm && st == 1 && n > 0) {
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (gm.rows * n > 8192)
        for (int64_t r = 0; r < gm.rows; r++)
            vm->softmax_grad_row(dy + r * n, y + r * n, dx + r * n, n, log_form);
        return DLT_OK;
    }
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (gm.rows * n > 8192)
    for (int64_t r = 0; r < gm.rows; r++) {
        int64_t b = sm_base(&gm, r);
        const float *pd = dy + b, *py = y + b;
        float *px = dx + b;
        double s = 0;
        for (int64_t j = 0; j < n; j++)
            s += log_form ? (double)pd[j * st] : (double)pd[j * st] * py[j * st];
        for (int64_t j = 0; j < n; j++) {
            double d = pd[j * st], v = py[j * st];
            px[j * st] = (float)(log_form ? d - exp(v) * s : v * (d - s));
        }
    }
    return DLT_OK;
}

static dlt_status softmax_grad_cpu(const dlt_kctx *k) { return sm_bwd(k, 0); }
static dlt_status log_softmax_grad_cpu(const dlt_kctx *k) { return sm_bwd(k, 1); }

static dlt_status sm_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status sm_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

const dlt_op_def dlt_op_def_softmax = {
    .id = DLT_OP_SOFTMAX,
    .name = "softmax",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = sm_shape,
    .grad = sm_grad,
    .cpu = softmax_cpu,
    .flops = sm_flops,
    .flags = DLT_OP_INPLACE,
};
const dlt_op_def dlt_op_def_log_softmax = {
    .id = DLT_OP_LOG_SOFTMAX,
    .name = "log_softmax",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = sm_shape,
    .grad = sm_grad,
    .cpu = log_softmax_cpu,
    .flops = sm_flops,
    .flags = DLT_OP_INPLACE,
};
const dlt_op_def dlt_op_def_softmax_grad = {
    .id = DLT_OP_SOFTMAX_GRAD,
    .name = "softmax_grad",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = sm_shape,
    .grad = sm_grad_grad,
    .cpu = softmax_grad_cpu,
    .flops = sm_flops,
    .flags = DLT_OP_INPLACE,
};
const dlt_op_def dlt_op_def_log_softmax_grad = {
    .id = DLT_OP_LOG_SOFTMAX_GRAD,
    .name = "log_softmax_grad",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = sm_shape,
    .grad = sm_grad_grad,
    .cpu = log_softmax_grad_cpu,
    .flops = sm_flops,
    .flags = DLT_OP_INPLACE,
};

static dlt_status sm_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t in[2] = {dy[0], n->out[0]};
    const dlt_op_def *op = n->op == &dlt_op_def_softmax ? &dlt_op_def_softmax_grad : &dlt_op_def_log_softmax_grad;
    dx[0] = dlt_node_add(g, op, 2, in, n->attr, sizeof(sm_attr));
    return DLT_OK;
}

/* With G the incoming gradient and sums over the axis (kept as size 1):
 *   softmax_grad(d, y) = y (d - sum(d y)):
 *     dd = softmax_grad(G, y)            (the Jacobian is symmetric)
 *     dy = G (d - sum(d y)) - d sum(G y)
 *   log_softmax_grad(d, y) = d - p sum(d), p = exp(y):
 *     dd = G - sum(G p)
 *     dy = -G p sum(d) */
static dlt_status sm_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    int axis = DLT_CATTR(n, sm_attr)->axis;
    dlt_t G = dy[0], d = n->in[0], y = n->in[1];
    if (n->op == &dlt_op_def_softmax_grad) {
        dlt_t in[2] = {G, y};
        dx[0] = dlt_node_add(g, &dlt_op_def_softmax_grad, 2, in, n->attr, sizeof(sm_attr));
        dlt_t s = dlt_sum(g, dlt_mul(g, d, y), 1, &axis, 1);
        dlt_t t = dlt_sum(g, dlt_mul(g, G, y), 1, &axis, 1);
        dx[1] = dlt_sub(g, dlt_mul(g, G, dlt_sub(g, d, s)), dlt_mul(g, d, t));
    } else {
        dlt_t p = dlt_exp(g, y), gp = dlt_mul(g, G, p);
        dx[0] = dlt_sub(g, G, dlt_sum(g, gp, 1, &axis, 1));
        dx[1] = dlt_neg(g, dlt_mul(g, gp, dlt_sum(g, d, 1, &axis, 1)));
    }
    return DLT_OK;
}

static dlt_t softmax_like(dlt_graph *g, const dlt_op_def *op, dlt_t x, int axis)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    sm_attr a = {dlt_axis(axis, s->ndim)};
    if (a.axis < 0)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: axis %d out of range for '%s' of rank %d",
                              op->name, axis, dlt_name_of(g, x), s->ndim);
    return dlt_node_add(g, op, 1, &x, &a, sizeof a);
}

dlt_t dlt_softmax(dlt_graph *g, dlt_t x, int axis) { return softmax_like(g, &dlt_op_def_softmax, x, axis); }
dlt_t dlt_log_softmax(dlt_graph *g, dlt_t x, int axis)
{
    return softmax_like(g, &dlt_op_def_log_softmax, x, axis);
}
