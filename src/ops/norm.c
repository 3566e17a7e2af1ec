/* Normalisation: batch norm (batch or running statistics), group norm, and
 * layer/instance norm as group norms over a reshaped view.
 *
 * Every forward op has four outputs: y, the per-group mean, the per-group
 * 1/sqrt(var + eps) ("rstd") and a rank-0 flag alpha, 1 when the statistics
 * came from the batch and 0 when they came from running buffers (batch norm in
 * eval mode). The backward op norm_grad is written with alpha as an input, so
 * the static backward graph is right in both modes and the mode is only read by
 * the forward kernel (k->training). Gradient rules are in norm_grad.c. */
#include <math.h>
#include <string.h>

#include "dlt_ops.h"
#include "norm_impl.h"

int64_t dlt_norm_nstats(const dlt_norm_attr *a) { return a->kind == DLT_NORM_BATCH ? a->C : a->A * a->G; }
int64_t dlt_norm_count(const dlt_norm_attr *a)
{
    return a->kind == DLT_NORM_BATCH ? a->A * a->S : a->C / a->G * a->S;
}

static dlt_status norm_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const dlt_norm_attr *a = DLT_CATTR(n, dlt_norm_attr);
    for (int i = 0; i < n->nin; i++)
        if (in[i].dtype != DLT_F32)
            return dlt_seterr(DLT_ERR_DTYPE, "inputs must be f32");
    if (dlt_shape_numel(&in[0]) != a->A * a->C * a->S)
        return dlt_seterr(DLT_ERR_SHAPE, "input does not match the normalisation geometry");
    for (int i = 1; i < n->nin; i++) /* gamma, beta, running statistics: one per channel */
        if (dlt_shape_numel(&in[i]) != a->C)
            return dlt_seterr(DLT_ERR_SHAPE, "parameter %d must have %lld elements", i, (long long)a->C);
    int64_t ns = dlt_norm_nstats(a);
    out[0] = in[0];
    out[1] = dlt_shape_make(DLT_F32, 1, &ns);
    out[2] = out[1];
    out[3] = dlt_shape_make(DLT_F32, 0, NULL);
    return DLT_OK;
}

/* Mean and biased variance of n values at stride 1, in double (two passes). */
static void moments(const float *x, int64_t n, double *mean, double *var)
{
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    double m = s / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double d = x[i] - m;
        q += d * d;
    }
    *mean = m;
    *var = q / (double)n;
}

/* y = (x - mean) * rstd * gamma[c] + beta[c] over a channel-major [A, C, S] view */
static void apply(const dlt_norm_attr *a, const float *x, const float *mean, const float *rstd,
                  const float *gam, const float *bet, float *y, int nthreads)
{
    int64_t A = a->A, C = a->C, S = a->S, cpg = a->kind == DLT_NORM_BATCH ? 1 : C / a->G;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (A * C * S > 32768)
    for (int64_t ac = 0; ac < A * C; ac++) {
        int64_t c = ac % C;
        int64_t st = a->kind == DLT_NORM_BATCH ? c : (ac / C) * a->G + c / cpg;
        float m = mean[st], r = rstd[st];
        float sc = gam ? gam[c] * r : r, sh = (bet ? bet[c] : 0.f) - m * sc;
        const float *px = x + ac * S;
        float *py = y + ac * S;
        for (int64_t s = 0; s < S; s++)
            py[s] = px[s] * sc + sh;
    }
}

static dlt_status norm_cpu(const dlt_kctx *k)
{
    const dlt_norm_attr *a = DLT_CATTR(k->node, dlt_norm_attr);
    const float *x = k->in[0];
    const float *gam = a->affine ? k->in[DLT_NORM_IN_GAMMA] : NULL;
    const float *bet = a->affine ? k->in[DLT_NORM_IN_GAMMA + 1] : NULL;
    float *mean = k->out[1], *rstd = k->out[2], *alpha = k->out[3];
    int64_t A = a->A, C = a->C, S = a->S, M = dlt_norm_count(a);
    if (a->kind == DLT_NORM_GROUP) {
        int64_t ng = A * a->G;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (A * C * S > 32768)
        for (int64_t gi = 0; gi < ng; gi++) {
            double m, v;
            moments(x + gi * M, M, &m, &v);
            mean[gi] = (float)m;
            rstd[gi] = (float)(1.0 / sqrt(v + a->eps));
        }
        *alpha = 1.f;
    } else if (k->training || !a->running) {
        if (M < 2 && a->running && k->training)
            return dlt_seterr(DLT_ERR_SHAPE, "training needs more than one value per channel");
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (A * C * S > 32768)
        for (int64_t c = 0; c < C; c++) {
            double s = 0, q = 0;
            for (int64_t i = 0; i < A; i++)
                for (int64_t j = 0; j < S; j++)
                    s += x[(i * C + c) * S + j];
            double m = s / (double)M;
            for (int64_t i = 0; i < A; i++)
                for (int64_t j = 0; j < S; j++) {
                    double d = x[(i * C + c) * S + j] - m;
                    q += d * d;
                }
            mean[c] = (float)m;
            rstd[c] = (float)(1.0 / sqrt(q / (double)M + a->eps));
            if (a->running && k->training) {
                /* the side effect: running statistics, unbiased variance as torch keeps it */
                float *rm = dlt_buffer_storage(k->graph, k->node->in[DLT_NORM_IN_RMEAN(a)]);
                float *rv = dlt_buffer_storage(k->graph, k->node->in[DLT_NORM_IN_RMEAN(a) + 1]);
                float mo = a->momentum;
                rm[c] = (1.f - mo) * rm[c] + mo * (float)m;
                rv[c] = (1.f - mo) * rv[c] + mo * (float)(q / (double)(M - 1));
            }
        }
        *alpha = 1.f;
    } else {
        const float *rm = k->in[DLT_NORM_IN_RMEAN(a)], *rv = k->in[DLT_NORM_IN_RMEAN(a) + 1];
        for (int64_t c = 0; c < C; c++) {
            mean[c] = rm[c];
            rstd[c] = (float)(1.0 / sqrt((double)rv[c] + a->eps));
        }
        *alpha = 0.f;
    }
    apply(a, x, mean, rstd, gam, bet, k->out[0], k->nthreads);
    return DLT_OK;
}

/* norm_grad(dy, x, mean, rstd, alpha[, gamma]): with u = dy * gamma and
 * xhat = (x - mean) * rstd, per group of M elements
 *   dx = rstd * (u - alpha * mean(u) - alpha * xhat * mean(u * xhat)),
 * the closed form for batch statistics (alpha = 1) and a plain scale for
 * running statistics (alpha = 0). */
static dlt_status norm_grad_cpu(const dlt_kctx *k)
{
    const dlt_norm_attr *a = DLT_CATTR(k->node, dlt_norm_attr);
    const float *dy = k->in[0], *x = k->in[1], *mean = k->in[2], *rstd = k->in[3];
    const float *gam = a->affine ? k->in[5] : NULL;
    float al = *(const float *)k->in[4], *dx = k->out[0];
    int64_t A = a->A, C = a->C, S = a->S, M = dlt_norm_count(a);
    if (a->kind == DLT_NORM_GROUP) {
        int64_t ng = A * a->G, cpg = C / a->G;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (A * C * S > 32768)
        for (int64_t gi = 0; gi < ng; gi++) {
            const float *px = x + gi * M, *pd = dy + gi * M;
            float *po = dx + gi * M;
            const float *pg = gam ? gam + (gi % a->G) * cpg : NULL;
            double m = mean[gi], r = rstd[gi], s1 = 0, s2 = 0;
            for (int64_t j = 0; j < M; j++) {
                double u = pg ? (double)pd[j] * pg[j / S] : pd[j];
                s1 += u;
                s2 += u * (px[j] - m) * r;
            }
            double c1 = al * s1 / (double)M, c2 = al * s2 / (double)M;
            for (int64_t j = 0; j < M; j++) {
                double u = pg ? (double)pd[j] * pg[j / S] : pd[j];
                po[j] = (float)(r * (u - c1 - (px[j] - m) * r * c2));
            }
        }
        return DLT_OK;
    }
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (A * C * S > 32768)
    for (int64_t c = 0; c < C; c++) {
        double m = mean[c], r = rstd[c], gc = gam ? gam[c] : 1.0, s1 = 0, s2 = 0;
        for (int64_t i = 0; i < A; i++)
            for (int64_t j = 0; j < S; j++) {
                int64_t o = (i * C + c) * S + j;
                s1 += dy[o];
                s2 += (double)dy[o] * (x[o] - m);
            }
        double c1 = al * s1 / (double)M, c2 = al * s2 * r * r / (double)M;
        for (int64_t i = 0; i < A; i++)
            for (int64_t j = 0; j < S; j++) {
                int64_t o = (i * C + c) * S + j;
                dx[o] = (float)(gc * r * (dy[o] - c1 - (x[o] - m) * c2));
            }
    }
    return DLT_OK;
}

static dlt_status norm_grad_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const dlt_norm_attr *a = DLT_CATTR(n, dlt_norm_attr);
    if (!dlt_shape_equal(&in[0], &in[1]))
        return dlt_seterr(DLT_ERR_SHAPE, "dy and x must have the same shape");
    if (dlt_shape_numel(&in[2]) != dlt_norm_nstats(a) || dlt_shape_numel(&in[3]) != dlt_norm_nstats(a) ||
        dlt_shape_numel(&in[4]) != 1 || (a->affine && dlt_shape_numel(&in[5]) != a->C))
        return dlt_seterr(DLT_ERR_SHAPE, "statistics do not match the normalisation geometry");
    out[0] = in[0];
    return DLT_OK;
}

static double norm_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return 8.0 * (double)dlt_shape_numel(in[0]);
}

const dlt_op_def dlt_op_norm_grad = {"norm_grad", 5, 6, 1, norm_grad_shape, dlt_norm_grad_grad,
                                     norm_grad_cpu, NULL, norm_flops, DLT_OP_INPLACE};
static const dlt_op_def op_batch_norm = {"batch_norm", 1, 5, 4, norm_shape, dlt_norm_fwd_grad, norm_cpu,
                                         NULL, norm_flops, DLT_OP_INPLACE | DLT_OP_STATEFUL};
static const dlt_op_def op_group_norm = {"group_norm", 1, 3, 4, norm_shape, dlt_norm_fwd_grad, norm_cpu,
                                         NULL, norm_flops, DLT_OP_INPLACE};
static const dlt_op_def op_layer_norm = {"layer_norm", 1, 3, 4, norm_shape, dlt_norm_fwd_grad, norm_cpu,
                                         NULL, norm_flops, DLT_OP_INPLACE};

dlt_t dlt_norm_grad_node(dlt_graph *g, const dlt_norm_attr *a, dlt_t dy, dlt_t x, dlt_t mean, dlt_t rstd,
                         dlt_t alpha, dlt_t gamma)
{
    dlt_norm_attr b = *a;
    b.affine = gamma >= 0;
    dlt_t in[6] = {dy, x, mean, rstd, alpha, gamma};
    return dlt_node_add(g, &dlt_op_norm_grad, b.affine ? 6 : 5, in, &b, sizeof b);
}

/* ---------------------------------------------------------------- builders */
static int check_vec(dlt_graph *g, const char *op, const char *what, dlt_t v, int64_t c)
{
    const dlt_shape *s = dlt_shape_of(g, v);
    if (!s)
        return 0;
    if (s->dtype != DLT_F32 || dlt_shape_numel(s) != c) {
        char b[128];
        dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: %s '%s' is %s, expected %lld f32 values", op, what,
                       dlt_name_of(g, v), dlt_shape_str(s, b, sizeof b), (long long)c);
        return 0;
    }
    return 1;
}

/* Checks gamma/beta (both or neither, `gshape` or [C]) and packs the inputs. */
static int pack_affine(dlt_graph *g, const char *op, dlt_norm_attr *a, dlt_t gamma, dlt_t beta, dlt_t *in,
                       int nin)
{
    if ((gamma < 0) != (beta < 0)) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: gamma and beta must be given together", op);
        return -1;
    }
    if (gamma < 0)
        return nin;
    if (!check_vec(g, op, "gamma", gamma, a->C) || !check_vec(g, op, "beta", beta, a->C))
        return -1;
    a->affine = 1;
    in[nin++] = gamma;
    in[nin++] = beta;
    return nin;
}

static const dlt_shape *f32_input(dlt_graph *g, const char *op, dlt_t x, int min_rank)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    char b[128];
    if (!s)
        return NULL;
    if (s->dtype != DLT_F32 || s->ndim < min_rank) {
        dlt_graph_fail(g, s->dtype != DLT_F32 ? DLT_ERR_DTYPE : DLT_ERR_SHAPE,
                       "%s: input '%s' must be f32 of rank >= %d, got %s", op, dlt_name_of(g, x), min_rank,
                       dlt_shape_str(s, b, sizeof b));
        return NULL;
    }
    return s;
}

dlt_t dlt_batch_norm(dlt_graph *g, dlt_t x, dlt_t gamma, dlt_t beta, dlt_t running_mean, dlt_t running_var,
                     float momentum, float eps)
{
    const dlt_shape *s = f32_input(g, "batch_norm", x, 2);
    if (!s)
        return -1;
    dlt_norm_attr a;
    memset(&a, 0, sizeof a);
    a.kind = DLT_NORM_BATCH;
    a.A = s->dim[0], a.C = s->dim[1], a.S = dlt_shape_numel(s) / (a.A * a.C), a.G = a.C;
    a.eps = eps, a.momentum = momentum;
    if (!(eps > 0.f) || !(momentum >= 0.f && momentum <= 1.f))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "batch_norm: eps must be > 0 and momentum in [0, 1]");
    dlt_t in[5] = {x};
    int nin = pack_affine(g, "batch_norm", &a, gamma, beta, in, 1);
    if (nin < 0)
        return -1;
    if ((running_mean < 0) != (running_var < 0))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "batch_norm: running_mean and running_var must be given together");
    if (running_mean >= 0) {
        if (!check_vec(g, "batch_norm", "running_mean", running_mean, a.C) ||
            !check_vec(g, "batch_norm", "running_var", running_var, a.C))
            return -1;
        if (dlt_kind_of(g, running_mean) != DLT_VAL_BUFFER || dlt_kind_of(g, running_var) != DLT_VAL_BUFFER)
            return dlt_graph_fail(g, DLT_ERR_INVALID, "batch_norm: running statistics must be dlt_buffer values");
        a.running = 1;
        in[nin++] = running_mean;
        in[nin++] = running_var;
    }
    return dlt_node_add(g, &op_batch_norm, nin, in, &a, sizeof a);
}

dlt_t dlt_group_norm(dlt_graph *g, dlt_t x, int num_groups, dlt_t gamma, dlt_t beta, float eps)
{
    const dlt_shape *s = f32_input(g, "group_norm", x, 2);
    if (!s)
        return -1;
    if (num_groups <= 0 || s->dim[1] % num_groups)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "group_norm: %lld channels cannot be split into %d groups",
                              (long long)s->dim[1], num_groups);
    if (!(eps > 0.f))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "group_norm: eps must be > 0");
    dlt_norm_attr a;
    memset(&a, 0, sizeof a);
    a.kind = DLT_NORM_GROUP;
    a.A = s->dim[0], a.C = s->dim[1], a.S = dlt_shape_numel(s) / (a.A * a.C), a.G = num_groups;
    a.eps = eps;
    dlt_t in[3] = {x};
    int nin = pack_affine(g, "group_norm", &a, gamma, beta, in, 1);
    if (nin < 0)
        return -1;
    return dlt_node_add(g, &op_group_norm, nin, in, &a, sizeof a);
}

dlt_t dlt_instance_norm(dlt_graph *g, dlt_t x, dlt_t gamma, dlt_t beta, float eps)
{
    const dlt_shape *s = f32_input(g, "instance_norm", x, 3);
    if (!s)
        return -1;
    return dlt_group_norm(g, x, (int)s->dim[1], gamma, beta, eps);
}

dlt_t dlt_layer_norm(dlt_graph *g, dlt_t x, int nnorm, const int64_t *normalized_shape, dlt_t gamma,
                     dlt_t beta, float eps)
{
    const dlt_shape *s = f32_input(g, "layer_norm", x, 1);
    if (!s)
        return -1;
    char b[128], ns[128];
    int ok = nnorm >= 1 && nnorm <= s->ndim;
    int64_t D = 1;
    size_t len = 0;
    ns[0] = '\0';
    for (int i = 0; i < nnorm && i < DLT_MAX_DIMS; i++) {
        len += (size_t)snprintf(ns + len, len < sizeof ns ? sizeof ns - len : 0, "%s%lld", i ? "," : "",
                                (long long)normalized_shape[i]);
        if (len >= sizeof ns)
            len = sizeof ns - 1;
        if (ok && normalized_shape[i] != s->dim[s->ndim - nnorm + i])
            ok = 0;
        D *= normalized_shape[i];
    }
    if (!ok)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "layer_norm: normalized shape [%s] does not match the trailing dims of '%s' %s",
                              ns, dlt_name_of(g, x), dlt_shape_str(s, b, sizeof b));
    if (!(eps > 0.f))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "layer_norm: eps must be > 0");
    dlt_norm_attr a;
    memset(&a, 0, sizeof a);
    a.kind = DLT_NORM_GROUP;
    a.A = dlt_shape_numel(s) / D, a.C = D, a.S = 1, a.G = 1;
    a.eps = eps;
    dlt_t in[3] = {x};
    int nin = pack_affine(g, "layer_norm", &a, gamma, beta, in, 1);
    if (nin < 0)
        return -1;
    return dlt_node_add(g, &op_layer_norm, nin, in, &a, sizeof a);
}
