/* Normalisation: batch norm (batch or running statistics), group norm, and
 * layer/instance norm as group norms over a reshaped view.
 *
 * Every forward op has four outputs: y, the per-group mean, the per-group
 * 1/sqrt(var + eps) ("rstd") and a rank-0 flag alpha, 1 when the statistics
 * came from the batch and 0 when they came from running buffers (batch norm in
 * eval mode). The backward op norm_grad is written with alpha as an input, so
 * the static backward graph is right in both modes and the mode is only read by
 * the forward kernel (k->training). With gamma, the backward is one
 * norm_backward node giving dx, dgamma and dbeta. In recompute mode the
 * backward reads batch norm's y (the next layer's weight gradient, the relu
 * mask) from a norm_apply node that rebuilds it from x and the statistics
 * (norm_recompute), so y is freed after the forward. Gradient rules are in
 * norm_grad.c, CPU kernels in norm_kernels.c. */
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
    int np = n->nin - (a->resid ? 1 : 0);
    if (a->resid && !dlt_shape_equal(&in[np], &in[0]))
        return dlt_seterr(DLT_ERR_SHAPE, "the residual must have x's shape");
    for (int i = 1; i < np; i++) /* gamma, beta, running statistics: one per channel */
        if (dlt_shape_numel(&in[i]) != a->C)
            return dlt_seterr(DLT_ERR_SHAPE, "parameter %d must have %lld elements", i, (long long)a->C);
    int64_t ns = dlt_norm_nstats(a);
    out[0] = in[0];
    out[1] = dlt_shape_make(DLT_F32, 1, &ns);
    out[2] = out[1];
    out[3] = dlt_shape_make(DLT_F32, 0, NULL);
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
    if ((n->nin == 7) != (n->op->nout == 4 && a->act != DLT_NORM_ACT_NONE))
        return dlt_seterr(DLT_ERR_INVALID, "the saved output y is an input exactly when the epilogue has a relu");
    if (n->nin == 7 && !dlt_shape_equal(&in[DLT_NORM_BWD_Y], &in[0]))
        return dlt_seterr(DLT_ERR_SHAPE, "dy and y must have the same shape");
    out[0] = in[0];
    if (n->op->nout == 4) { /* norm_backward: dgamma, dbeta, dr */
        out[1] = out[2] = in[5];
        out[3] = DLT_NORM_HAS_DR(a) ? in[0] : dlt_shape_make(DLT_F32, 0, NULL);
    }
    return DLT_OK;
}

/* norm_apply(x, mean, rstd[, gamma, beta]): batch statistics, no residual */
static dlt_status norm_apply_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const dlt_norm_attr *a = DLT_CATTR(n, dlt_norm_attr);
    if (a->kind != DLT_NORM_BATCH || a->resid || a->running || (n->nin == 5) != (a->affine != 0))
        return dlt_seterr(DLT_ERR_INVALID, "norm_apply takes batch statistics, gamma and beta when affine, no residual");
    for (int i = 0; i < n->nin; i++)
        if (in[i].dtype != DLT_F32)
            return dlt_seterr(DLT_ERR_DTYPE, "inputs must be f32");
    if (dlt_shape_numel(&in[0]) != a->A * a->C * a->S)
        return dlt_seterr(DLT_ERR_SHAPE, "input does not match the normalisation geometry");
    for (int i = 1; i < n->nin; i++)
        if (dlt_shape_numel(&in[i]) != a->C)
            return dlt_seterr(DLT_ERR_SHAPE, "input %d must have %lld elements", i, (long long)a->C);
    out[0] = in[0];
    return DLT_OK;
}

/* Batch norm's output 0 rebuilt for the backward (dlt_op_def.recompute) from
 * x and the saved statistics with the forward's arithmetic: y bit for bit,
 * in training and eval mode alike. Not with a residual epilogue: the residual
 * would have to stay in memory instead. */
static dlt_t norm_recompute(dlt_graph *g, const dlt_node *n)
{
    const dlt_norm_attr *a = DLT_CATTR(n, dlt_norm_attr);
    if (a->kind != DLT_NORM_BATCH || a->resid)
        return -1;
    dlt_norm_attr b = *a;
    b.running = 0;
    dlt_t in[5] = {n->in[0], n->out[1], n->out[2], -1, -1};
    if (a->affine)
        in[3] = n->in[DLT_NORM_IN_GAMMA], in[4] = n->in[DLT_NORM_IN_GAMMA + 1];
    return dlt_node_add(g, &dlt_op_def_norm_apply, a->affine ? 5 : 3, in, &b, sizeof b);
}

static double apply_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return 2.0 * (double)dlt_shape_numel(in[0]);
}

static double norm_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return 8.0 * (double)dlt_shape_numel(in[0]);
}

const dlt_op_def dlt_op_def_norm_grad = {
    .id = DLT_OP_NORM_GRAD,
    .name = "norm_grad",
    .nin_min = 5,
    .nin_max = 6,
    .nout = 1,
    .shape = norm_grad_shape,
    .grad = dlt_norm_grad_grad,
    .cpu = dlt_norm_grad_cpu,
    .flops = norm_flops,
    .flags = DLT_OP_INPLACE,
};
const dlt_op_def dlt_op_def_norm_backward = {
    .id = DLT_OP_NORM_BACKWARD,
    .name = "norm_backward",
    .nin_min = 6,
    .nin_max = 7,
    .nout = 4,
    .shape = norm_grad_shape,
    .grad = dlt_norm_backward_grad,
    .cpu = dlt_norm_grad_cpu,
    .workspace = dlt_norm_backward_ws,
    .flops = norm_flops,
    .flags = DLT_OP_INPLACE,
};
const dlt_op_def dlt_op_def_norm_apply = {
    .id = DLT_OP_NORM_APPLY,
    .name = "norm_apply",
    .nin_min = 3,
    .nin_max = 5,
    .nout = 1,
    .shape = norm_apply_shape,
    .grad = dlt_norm_apply_grad,
    .cpu = dlt_norm_apply_cpu,
    .flops = apply_flops,
    .flags = DLT_OP_INPLACE,
};
const dlt_op_def dlt_op_def_batch_norm = {
    .id = DLT_OP_BATCH_NORM,
    .name = "batch_norm",
    .nin_min = 1,
    .nin_max = 6,
    .nout = 4,
    .shape = norm_shape,
    .grad = dlt_norm_fwd_grad,
    .cpu = dlt_norm_cpu,
    .flops = norm_flops,
    .recompute = norm_recompute,
    .flags = DLT_OP_INPLACE | DLT_OP_STATEFUL,
};
const dlt_op_def dlt_op_def_group_norm = {
    .id = DLT_OP_GROUP_NORM,
    .name = "group_norm",
    .nin_min = 1,
    .nin_max = 3,
    .nout = 4,
    .shape = norm_shape,
    .grad = dlt_norm_fwd_grad,
    .cpu = dlt_norm_cpu,
    .flops = norm_flops,
    .flags = DLT_OP_INPLACE,
};
const dlt_op_def dlt_op_def_layer_norm = {
    .id = DLT_OP_LAYER_NORM,
    .name = "layer_norm",
    .nin_min = 1,
    .nin_max = 3,
    .nout = 4,
    .shape = norm_shape,
    .grad = dlt_norm_fwd_grad,
    .cpu = dlt_norm_cpu,
    .flops = norm_flops,
    .flags = DLT_OP_INPLACE,
};

dlt_t dlt_norm_grad_node(dlt_graph *g, const dlt_norm_attr *a, dlt_t dy, dlt_t x, dlt_t mean, dlt_t rstd,
                         dlt_t alpha, dlt_t gamma)
{
    dlt_norm_attr b = *a;
    b.affine = gamma >= 0;
    b.act = DLT_NORM_ACT_NONE, b.resid = 0; /* no epilogue: the rules mask dy themselves */
    dlt_t in[6] = {dy, x, mean, rstd, alpha, gamma};
    return dlt_node_add(g, &dlt_op_def_norm_grad, b.affine ? 6 : 5, in, &b, sizeof b);
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
    return dlt_batch_norm_act(g, x, gamma, beta, running_mean, running_var, momentum, eps, -1, DLT_ACT_NONE);
}

dlt_t dlt_batch_norm_act(dlt_graph *g, dlt_t x, dlt_t gamma, dlt_t beta, dlt_t running_mean, dlt_t running_var,
                         float momentum, float eps, dlt_t residual, dlt_act act)
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
    if (act != DLT_ACT_NONE && act != DLT_ACT_RELU)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "batch_norm: activation must be DLT_ACT_NONE or DLT_ACT_RELU, got %d",
                              (int)act);
    a.act = act == DLT_ACT_RELU ? DLT_NORM_ACT_RELU : DLT_NORM_ACT_NONE;
    dlt_t in[6] = {x};
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
    if (residual >= 0) {
        const dlt_shape *rs = dlt_shape_of(g, residual);
        char b1[128], b2[128];
        if (!rs)
            return -1;
        if (!dlt_shape_equal(rs, s))
            return dlt_graph_fail(g, DLT_ERR_SHAPE, "batch_norm: residual '%s' is %s, expected x's shape %s",
                                  dlt_name_of(g, residual), dlt_shape_str(rs, b1, sizeof b1),
                                  dlt_shape_str(s, b2, sizeof b2));
        a.resid = 1;
        in[nin++] = residual;
    }
    return dlt_node_add(g, &dlt_op_def_batch_norm, nin, in, &a, sizeof a);
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
    return dlt_node_add(g, &dlt_op_def_group_norm, nin, in, &a, sizeof a);
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
    return dlt_node_add(g, &dlt_op_def_layer_norm, nin, in, &a, sizeof a);
}
