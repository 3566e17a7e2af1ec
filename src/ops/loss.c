/* Losses: softmax cross-entropy with integer labels (fused op, its backward and
 * its Hessian-vector product), and the builders of every loss: reductions
 * over the pointwise losses of loss_pw.c, MSE from arithmetic ops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "loss_impl.h"
#include "ops_util.h"
#include "vmath.h"

/* logits [N, C, d...] are seen as [N, C, P]; labels [N, d...] as [N, P] */
static void ce_dims(const dlt_shape *s, int64_t *N, int64_t *C, int64_t *P)
{
    *N = s->dim[0], *C = s->dim[1];
    *P = dlt_shape_numel(s) / (*N * *C);
}

static dlt_status ce_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const ce_attr *a = DLT_CATTR(n, ce_attr);
    if (in[0].dtype != DLT_F32 || in[0].ndim < 2)
        return dlt_seterr(DLT_ERR_DTYPE, "logits must be f32 [N, C, d...]");
    if (in[1].dtype != DLT_I32)
        return dlt_seterr(DLT_ERR_DTYPE, "labels must be i32");
    int ok = in[1].ndim == in[0].ndim - 1 && in[1].dim[0] == in[0].dim[0];
    for (int i = 1; ok && i < in[1].ndim; i++)
        ok = in[1].dim[i] == in[0].dim[i + 1];
    if (!ok)
        return dlt_seterr(DLT_ERR_SHAPE, "labels must be [N, d...] for logits [N, C, d...]");
    out[0] = a->reduction == DLT_REDUCE_NONE ? in[1] : dlt_shape_make(DLT_F32, 0, NULL);
    out[0].dtype = DLT_F32;
    return DLT_OK;
}

/* number of non-ignored labels, or -1 with an error for a label out of range */
static int64_t ce_count(const ce_attr *a, const int32_t *lab, int64_t n, int64_t C)
{
    int64_t cnt = 0;
    for (int64_t i = 0; i < n; i++) {
        if (lab[i] == a->ignore_index)
            continue;
        if (lab[i] < 0 || lab[i] >= C) {
            dlt_seterr(DLT_ERR_INVALID, "label %d at %lld is outside [0, %lld)", (int)lab[i],
                       (long long)i, (long long)C);
            return -1;
        }
        cnt++;
    }
    return cnt;
}

/* Log-softmax pieces of one position: max and log-sum-exp over the C logits at stride P. */
static double ce_lse(const float *z, int64_t C, int64_t P)
{
    double m = -INFINITY, s = 0;
    for (int64_t c = 0; c < C; c++)
        m = fmax(m, z[c * P]);
    for (int64_t c = 0; c < C; c++)
        s += exp(z[c * P] - m);
    return m + log(s);
}

static size_t ce_work(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return (size_t)dlt_shape_numel(in[1]) * sizeof(double);
}

static dlt_status ce_cpu(const dlt_kctx *k)
{
    const ce_attr *a = DLT_CATTR(k->node, ce_attr);
    const float *z = k->in[0];
    const int32_t *lab = k->in[1];
    int64_t N, C, P;
    ce_dims(k->in_shape[0], &N, &C, &P);
    int64_t npos = N * P, cnt = ce_count(a, lab, npos, C);
    if (cnt < 0)
        return DLT_ERR_INVALID;
    double eps = a->smoothing, *l = k->work;
    float *y = k->out[0];
    /* contiguous rows (P == 1) on a vector path: the row's log-sum-exp by the
     * ISA path (sums in double), and with label smoothing its log-softmax row
     * into a scratch row per thread; otherwise libm in double */
    const dlt_vmath_ops *vm = P == 1 ? dlt_vmath() : NULL;
    int nomem = 0;
#pragma omp parallel num_threads(k->nthreads) if (npos * C > 32768)
    {
        float *row = vm && eps != 0 ? malloc((size_t)C * sizeof *row) : NULL;
        if (vm && eps != 0 && !row) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < npos; i++) {
            int64_t nn = i / P, pp = i % P;
            const float *zi = z + nn * C * P + pp;
            double v = 0;
            if (lab[i] != a->ignore_index && vm && eps == 0) { /* row[label] without the row */
                v = -(double)(float)((double)zi[lab[i]] - vm->lse_row(zi, C));
            } else if (lab[i] != a->ignore_index && row) {
                vm->softmax_row(zi, row, C, 1);
                double sl = 0;
                for (int64_t c = 0; c < C; c++)
                    sl += row[c];
                v = -(1 - eps) * row[lab[i]] - eps * sl / (double)C;
            } else if (lab[i] != a->ignore_index && !vm) {
                double lse = ce_lse(zi, C, P), sz = 0;
                if (eps != 0)
                    for (int64_t c = 0; c < C; c++)
                        sz += zi[c * P];
                v = (1 - eps) * (lse - zi[lab[i] * P]) + eps * (lse - sz / (double)C);
            }
            if (a->reduction == DLT_REDUCE_NONE)
                y[i] = (float)v;
            else
                l[i] = v;
        }
        free(row);
    }
    if (nomem)
        return dlt_seterr(DLT_ERR_NOMEM, "cross_entropy: out of memory for a row of %lld logits",
                          (long long)C);
    if (a->reduction != DLT_REDUCE_NONE) {
        double s = 0;
        for (int64_t i = 0; i < npos; i++)
            s += l[i];
        y[0] = (float)(a->reduction == DLT_REDUCE_MEAN ? s / (double)cnt : s);
    }
    return DLT_OK;
}

/* Per-position scale of the gradient: dy[i] (none), dy (sum), dy / count (mean). */
static double ce_scale(const ce_attr *a, const float *dy, int64_t i, int64_t cnt)
{
    if (a->reduction == DLT_REDUCE_NONE)
        return dy[i];
    return a->reduction == DLT_REDUCE_MEAN ? dy[0] / (double)cnt : dy[0];
}

/* cross_entropy_grad(dy, logits, labels) = scale * (softmax - q), q the smoothed one-hot. */
static dlt_status ce_grad_cpu(const dlt_kctx *k)
{
    const ce_attr *a = DLT_CATTR(k->node, ce_attr);
    const float *dy = k->in[0], *z = k->in[1];
    const int32_t *lab = k->in[2];
    float *dz = k->out[0];
    int64_t N, C, P;
    ce_dims(k->in_shape[1], &N, &C, &P);
    int64_t npos = N * P, cnt = ce_count(a, lab, npos, C);
    if (cnt < 0)
        return DLT_ERR_INVALID;
    double eps = a->smoothing;
    const dlt_vmath_ops *vm = P == 1 ? dlt_vmath() : NULL;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (npos * C > 32768)
    for (int64_t i = 0; i < npos; i++) {
        int64_t off = (i / P) * C * P + i % P;
        const float *zi = z + off;
        float *di = dz + off;
        if (lab[i] == a->ignore_index) {
            for (int64_t c = 0; c < C; c++)
                di[c * P] = 0.f;
            continue;
        }
        double sc = ce_scale(a, dy, i, cnt);
        if (vm) { /* the softmax row, scaled and subtracted, by the ISA path (P == 1) */
            vm->ce_grad_row(zi, di, C, lab[i], eps, sc);
            continue;
        }
        double lse = ce_lse(zi, C, P);
        for (int64_t c = 0; c < C; c++) {
            double q = eps / (double)C + (c == lab[i] ? 1 - eps : 0);
            di[c * P] = (float)(sc * (exp(zi[c * P] - lse) - q));
        }
    }
    return DLT_OK;
}

/* cross_entropy_hvp(v, dy, logits, labels) = scale * s * (v - <s, v>), s = softmax:
 * the derivative of <v, cross_entropy_grad> with respect to the logits. */
static dlt_status ce_hvp_cpu(const dlt_kctx *k)
{
    const ce_attr *a = DLT_CATTR(k->node, ce_attr);
    const float *v = k->in[0], *dy = k->in[1], *z = k->in[2];
    const int32_t *lab = k->in[3];
    float *out = k->out[0];
    int64_t N, C, P;
    ce_dims(k->in_shape[2], &N, &C, &P);
    int64_t npos = N * P, cnt = ce_count(a, lab, npos, C);
    if (cnt < 0)
        return DLT_ERR_INVALID;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (npos * C > 32768)
    for (int64_t i = 0; i < npos; i++) {
        int64_t off = (i / P) * C * P + i % P;
        const float *zi = z + off, *vi = v + off;
        float *oi = out + off;
        if (lab[i] == a->ignore_index) {
            for (int64_t c = 0; c < C; c++)
                oi[c * P] = 0.f;
            continue;
        }
        double lse = ce_lse(zi, C, P), sc = ce_scale(a, dy, i, cnt), sv = 0;
        for (int64_t c = 0; c < C; c++)
            sv += exp(zi[c * P] - lse) * vi[c * P];
        for (int64_t c = 0; c < C; c++)
            oi[c * P] = (float)(sc * exp(zi[c * P] - lse) * (vi[c * P] - sv));
    }
    return DLT_OK;
}

static dlt_status ce_grad_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    out[0] = in[n->nin - 2]; /* the logits */
    return DLT_OK;
}

static dlt_status ce_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static double ce_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return 4.0 * (double)dlt_shape_numel(in[n->nin - 2]);
}
const dlt_op_def dlt_op_def_cross_entropy_hvp = {
    .id = DLT_OP_CROSS_ENTROPY_HVP,
    .name = "cross_entropy_hvp",
    .nin_min = 4,
    .nin_max = 4,
    .nout = 1,
    .shape = ce_grad_shape,
    .cpu = ce_hvp_cpu,
    .flops = ce_flops,
};
const dlt_op_def dlt_op_def_cross_entropy_grad = {
    .id = DLT_OP_CROSS_ENTROPY_GRAD,
    .name = "cross_entropy_grad",
    .nin_min = 3,
    .nin_max = 3,
    .nout = 1,
    .shape = ce_grad_shape,
    .grad = ce_grad_grad,
    .cpu = ce_grad_cpu,
    .flops = ce_flops,
};

/* Second order: <v, scale * (s - q)> is linear in dy (d dy = <v, grad at dy = 1>
 * summed over classes and, for scalar reductions, positions) and its logits
 * derivative is the softmax Hessian-vector product. */
static dlt_status ce_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t gy = n->in[0], z = n->in[1], lab = n->in[2];
    const dlt_shape *ys = dlt_shape_of(g, gy);
    int64_t ny = dlt_shape_numel(ys);
    float *ones = malloc((size_t)ny * sizeof *ones);
    if (!ones)
        return dlt_seterr(DLT_ERR_NOMEM, "cross_entropy_grad: out of memory");
    for (int64_t i = 0; i < ny; i++)
        ones[i] = 1.f;
    dlt_t one = dlt_constant(g, DLT_F32, ys->ndim, ys->dim, ones);
    free(ones);
    dlt_t in1[3] = {one, z, lab};
    dlt_t unit = dlt_node_add(g, &dlt_op_def_cross_entropy_grad, 3, in1, n->attr, sizeof(ce_attr));
    dlt_t prod = dlt_mul(g, dy[0], unit);
    int ax = 1;
    dx[0] = ys->ndim ? dlt_sum(g, prod, 1, &ax, 0) : dlt_sum(g, prod, 0, NULL, 0);
    dlt_t in2[4] = {dy[0], gy, z, lab};
    dx[1] = dlt_node_add(g, &dlt_op_def_cross_entropy_hvp, 4, in2, n->attr, sizeof(ce_attr));
    return DLT_OK;
}

static dlt_status ce_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t in[3] = {dy[0], n->in[0], n->in[1]};
    dx[0] = dlt_node_add(g, &dlt_op_def_cross_entropy_grad, 3, in, n->attr, sizeof(ce_attr));
    return DLT_OK;
}

const dlt_op_def dlt_op_def_cross_entropy = {
    .id = DLT_OP_CROSS_ENTROPY,
    .name = "cross_entropy",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = ce_shape,
    .grad = ce_grad,
    .cpu = ce_cpu,
    .workspace = ce_work,
    .flops = ce_flops,
};

dlt_t dlt_cross_entropy(dlt_graph *g, dlt_t logits, dlt_t labels, int ignore_index,
                        float label_smoothing, dlt_reduction reduction)
{
    const dlt_shape *ls = dlt_shape_of(g, labels);
    if (!ls || !dlt_shape_of(g, logits))
        return -1;
    if (ls->dtype != DLT_I32) {
        char b[128];
        return dlt_graph_fail(g, DLT_ERR_DTYPE, "cross_entropy: labels '%s' must be i32, got %s",
                              dlt_name_of(g, labels), dlt_shape_str(ls, b, sizeof b));
    }
    if (!(label_smoothing >= 0.f && label_smoothing <= 1.f))
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "cross_entropy: label_smoothing must be in [0, 1], got %g",
                              (double)label_smoothing);
    if (reduction != DLT_REDUCE_MEAN && reduction != DLT_REDUCE_SUM && reduction != DLT_REDUCE_NONE)
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "cross_entropy: reduction must be mean, sum or none");
    ce_attr a = {ignore_index, label_smoothing, (int)reduction};
    dlt_t in[2] = {logits, labels};
    return dlt_node_add(g, &dlt_op_def_cross_entropy, 2, in, &a, sizeof a);
}

/* ---------------------------------------------------------------- regression and BCE builders */
static int same_shape(dlt_graph *g, const char *op, dlt_t x, dlt_t t)
{
    const dlt_shape *xs = dlt_shape_of(g, x), *ts = dlt_shape_of(g, t);
    if (!xs || !ts)
        return 0;
    if (xs->dtype != DLT_F32 || !dlt_shape_equal(xs, ts)) {
        char a[128], b[128];
        dlt_graph_fail(g, DLT_ERR_SHAPE,
                       "%s: input '%s' %s and target '%s' %s must be f32 of the same shape", op,
                       dlt_name_of(g, x), dlt_shape_str(xs, a, sizeof a), dlt_name_of(g, t),
                       dlt_shape_str(ts, b, sizeof b));
        return 0;
    }
    return 1;
}

static dlt_t reduce_loss(dlt_graph *g, const char *op, dlt_t l, dlt_reduction r)
{
    if (l < 0)
        return -1;
    switch (r) {
    case DLT_REDUCE_NONE:
        return l;
    case DLT_REDUCE_SUM:
        return dlt_sum(g, l, 0, NULL, 0);
    case DLT_REDUCE_MEAN:
        return dlt_mean(g, l, 0, NULL, 0);
    case DLT_REDUCE_BATCHMEAN: {
        const dlt_shape *s = dlt_shape_of(g, l);
        float n = s->ndim ? (float)s->dim[0] : 1.f;
        return dlt_affine(g, dlt_sum(g, l, 0, NULL, 0), 1.0f / n, 0.f);
    }
    default:
        return dlt_graph_fail(g, DLT_ERR_INVALID, "%s: unknown reduction %d", op, (int)r);
    }
}

dlt_t dlt_mse_loss(dlt_graph *g, dlt_t x, dlt_t t, dlt_reduction r)
{
    if (!same_shape(g, "mse_loss", x, t))
        return -1;
    dlt_t d = dlt_sub(g, x, t);
    return reduce_loss(g, "mse_loss", dlt_mul(g, d, d), r);
}

dlt_t dlt_l1_loss(dlt_graph *g, dlt_t x, dlt_t t, dlt_reduction r)
{
    if (!same_shape(g, "l1_loss", x, t))
        return -1;
    return reduce_loss(g, "l1_loss", dlt_loss_smooth_l1_elem(g, x, t, 0.f), r);
}

dlt_t dlt_smooth_l1_loss(dlt_graph *g, dlt_t x, dlt_t t, float beta, dlt_reduction r)
{
    if (!(beta >= 0.f))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "smooth_l1_loss: beta must be >= 0, got %g",
                              (double)beta);
    if (!same_shape(g, "smooth_l1_loss", x, t))
        return -1;
    return reduce_loss(g, "smooth_l1_loss", dlt_loss_smooth_l1_elem(g, x, t, beta), r);
}

dlt_t dlt_huber_loss(dlt_graph *g, dlt_t x, dlt_t t, float delta, dlt_reduction r)
{
    if (!(delta > 0.f))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "huber_loss: delta must be > 0, got %g",
                              (double)delta);
    if (!same_shape(g, "huber_loss", x, t))
        return -1;
    /* huber(delta) = delta * smooth_l1(beta = delta) */
    return reduce_loss(g, "huber_loss",
                       dlt_affine(g, dlt_loss_smooth_l1_elem(g, x, t, delta), delta, 0.f), r);
}

dlt_t dlt_bce_with_logits(dlt_graph *g, dlt_t x, dlt_t t, dlt_t pos_weight, dlt_reduction r)
{
    if (!same_shape(g, "bce_with_logits", x, t))
        return -1;
    dlt_t pw = -1;
    if (pos_weight >= 0)
        pw = dlt_broadcast_to(g, pos_weight, dlt_shape_of(g, x));
    return reduce_loss(g, "bce_with_logits", dlt_loss_bce_elem(g, x, t, pw), r);
}

dlt_t dlt_kl_div(dlt_graph *g, dlt_t log_input, dlt_t target, dlt_reduction r)
{
    if (!same_shape(g, "kl_div", log_input, target))
        return -1;
    return reduce_loss(g, "kl_div", dlt_loss_kl_elem(g, log_input, target), r);
}
