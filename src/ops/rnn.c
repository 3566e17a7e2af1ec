/* Recurrent cells and categorical sampling (the rnn family).
 *
 * lstm_cell and gru_cell are the pointwise, nonlinear part of one time step
 * of torch.nn.LSTM / torch.nn.GRU, fused into one pass: the gate
 * pre-activations come from matmuls the graph already has (x W_ih^T + b_ih
 * and h W_hh^T + b_hh, see src/models/rnn.c), the cell turns them into the
 * new state. lstm_cell has two outputs (h, c) as attention has (o, lse);
 * its backward op lstm_cell_grad takes whichever of dh, dc flowed in
 * (attention_grad's way) and gives dgates and dc_prev, gru_cell_grad gives
 * dgi, dgh and dh_prev. dlt_grad therefore works through any number of
 * unrolled steps: each step's state gradient is an ordinary value the
 * previous step's rule receives. The backward ops have no gradient rules of
 * their own: second-order differentiation through the cells is not
 * supported (dlt_grad says so). The math, shared with the CUDA kernels
 * (src/gpu/k_rnn.cu), is in rnn_impl.h.
 *
 * categorical_sample draws one index per row of logits [N, K] from
 * softmax(logits / T) with the counter-based RNG of the random family: a
 * pure function of (seed, node, step, rank, row), so the same run draws the
 * same indices, a resumed run continues exactly, and the CUDA kernel picks
 * the same ones (rnn_impl.h fixes every float operation). It has no gradient;
 * the log-probability of the choice and the distribution's entropy are
 * composed of log_softmax, softmax and gather (dlt_categorical_log_prob,
 * dlt_categorical_entropy), which have theirs. */
#include <math.h>
#include <string.h>

#include "dlt_ops.h"
#include "rnn_impl.h"

/* ---------------------------------------------------------------- shapes */
static int is_mat(const dlt_shape *s)
{
    return s->dtype == DLT_F32 && s->ndim == 2;
}

/* gates [N, m H] and a state [N, H] (the H of `state`), or an error with the reason. */
static dlt_status cell_dims(const dlt_shape *gates, int m, const dlt_shape *state,
                            const char *gname, const char *sname)
{
    if (!is_mat(gates) || !is_mat(state))
        return dlt_seterr(DLT_ERR_SHAPE, "%s and %s must be f32 matrices [N, %dH] and [N, H]",
                          gname, sname, m);
    if (gates->dim[0] != state->dim[0] || gates->dim[1] != m * state->dim[1])
        return dlt_seterr(DLT_ERR_SHAPE, "%s must be [N, %dH] for %s [N, H] = [%lld, %lld]", gname,
                          m, sname, (long long)state->dim[0], (long long)state->dim[1]);
    return DLT_OK;
}

static int same_shape(const dlt_shape *a, const dlt_shape *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->dim[d] != b->dim[d])
            return 0;
    return 1;
}

/* lstm_cell(gates [N, 4H], c_prev [N, H]) -> h, c [N, H] */
static dlt_status lstm_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    (void)n;
    dlt_status st = cell_dims(&in[0], 4, &in[1], "gates", "c_prev");
    out[0] = out[1] = in[1];
    return st;
}

/* lstm_cell_grad(gates, c_prev, [dh], [dc]) -> dgates, dc_prev */
static dlt_status lstm_grad_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const rnn_grad_attr *a = DLT_CATTR(n, rnn_grad_attr);
    dlt_status st = cell_dims(&in[0], 4, &in[1], "gates", "c_prev");
    if (st != DLT_OK)
        return st;
    if (n->nin != 2 + a->has_dh + a->has_dc || n->nin < 3)
        return dlt_seterr(DLT_ERR_INVALID, "needs dh, dc or both");
    for (int i = 2; i < n->nin; i++)
        if (!same_shape(&in[i], &in[1]))
            return dlt_seterr(DLT_ERR_SHAPE, "the state gradients must have c_prev's shape");
    out[0] = in[0];
    out[1] = in[1];
    return DLT_OK;
}

/* gru_cell(gi [N, 3H], gh [N, 3H], h_prev [N, H]) -> h [N, H] */
static dlt_status gru_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    dlt_status st = cell_dims(&in[0], 3, &in[2], "gi", "h_prev");
    if (st == DLT_OK && !same_shape(&in[0], &in[1]))
        st = dlt_seterr(DLT_ERR_SHAPE, "gh must have gi's shape [N, 3H]");
    out[0] = in[2];
    if (n->op->nout == 3) { /* gru_cell_grad(gi, gh, h_prev, dh) -> dgi, dgh, dh_prev */
        if (st == DLT_OK && !same_shape(&in[3], &in[2]))
            st = dlt_seterr(DLT_ERR_SHAPE, "dh must have h_prev's shape");
        out[0] = out[1] = in[0];
        out[2] = in[2];
    }
    return st;
}

/* ---------------------------------------------------------------- CPU kernels */
static int64_t rows(const dlt_kctx *k, int i)
{
    return k->in_shape[i]->dim[0];
}

static int64_t hid(const dlt_kctx *k, int i)
{
    return k->in_shape[i]->dim[1];
}

static dlt_status lstm_cpu(const dlt_kctx *k)
{
    int64_t N = rows(k, 1), H = hid(k, 1);
    const float *gates = k->in[0], *cp = k->in[1];
    float *h = k->out[0], *c = k->out[1];
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (N * H > 4096)
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < H; j++)
            dlt_lstm_fwd(gates, cp, H, n, j, &h[n * H + j], &c[n * H + j]);
    return DLT_OK;
}

static dlt_status lstm_grad_cpu(const dlt_kctx *k)
{
    const rnn_grad_attr *a = DLT_CATTR(k->node, rnn_grad_attr);
    int64_t N = rows(k, 1), H = hid(k, 1);
    const float *dh = a->has_dh ? k->in[2] : NULL;
    const float *dc = a->has_dc ? k->in[2 + a->has_dh] : NULL;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (N * H > 2048)
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < H; j++)
            dlt_lstm_bwd(k->in[0], k->in[1], dh, dc, H, n, j, k->out[0], k->out[1]);
    return DLT_OK;
}

static dlt_status gru_cpu(const dlt_kctx *k)
{
    int64_t N = rows(k, 2), H = hid(k, 2);
    float *h = k->out[0];
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (N * H > 4096)
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < H; j++)
            h[n * H + j] = dlt_gru_fwd(k->in[0], k->in[1], k->in[2], H, n, j);
    return DLT_OK;
}

static dlt_status gru_grad_cpu(const dlt_kctx *k)
{
    int64_t N = rows(k, 2), H = hid(k, 2);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (N * H > 2048)
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < H; j++)
            dlt_gru_bwd(k->in[0], k->in[1], k->in[2], k->in[3], H, n, j, k->out[0], k->out[1],
                        k->out[2]);
    return DLT_OK;
}

/* ---------------------------------------------------------------- gradient rules */
static dlt_status lstm_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    rnn_grad_attr a = {.has_dh = dy[0] >= 0, .has_dc = dy[1] >= 0};
    dlt_t in[4] = {n->in[0], n->in[1]};
    int nin = 2;
    if (a.has_dh)
        in[nin++] = dy[0];
    if (a.has_dc)
        in[nin++] = dy[1];
    if (nin == 2) /* neither flows: dlt_grad does not ask, but be exact */
        return DLT_OK;
    dlt_t d = dlt_node_add(g, &dlt_op_def_lstm_cell_grad, nin, in, &a, sizeof a);
    if (d < 0)
        return dlt_graph_status(g);
    dx[0] = d;
    dx[1] = dlt_node_output(g, d, 1);
    return DLT_OK;
}

static dlt_status gru_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t in[4] = {n->in[0], n->in[1], n->in[2], dy[0]};
    if (dy[0] < 0)
        return DLT_OK;
    dlt_t d = dlt_node_add(g, &dlt_op_def_gru_cell_grad, 4, in, NULL, 0);
    if (d < 0)
        return dlt_graph_status(g);
    for (int i = 0; i < 3; i++)
        dx[i] = dlt_node_output(g, d, i);
    return DLT_OK;
}

/* transcendentals counted as one flop each, as elsewhere */
static double lstm_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    (void)n, (void)out;
    return 12.0 * (double)dlt_shape_numel(in[1]);
}

static double gru_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    (void)n, (void)out;
    return 12.0 * (double)dlt_shape_numel(in[2]);
}

const dlt_op_def dlt_op_def_lstm_cell = {
    .id = DLT_OP_LSTM_CELL,
    .name = "lstm_cell",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 2,
    .shape = lstm_shape,
    .grad = lstm_grad,
    .cpu = lstm_cpu,
    .flops = lstm_flops,
};
const dlt_op_def dlt_op_def_lstm_cell_grad = {
    .id = DLT_OP_LSTM_CELL_GRAD,
    .name = "lstm_cell_grad",
    .nin_min = 3,
    .nin_max = 4,
    .nout = 2,
    .shape = lstm_grad_shape,
    .cpu = lstm_grad_cpu,
    .flops = lstm_flops,
};
const dlt_op_def dlt_op_def_gru_cell = {
    .id = DLT_OP_GRU_CELL,
    .name = "gru_cell",
    .nin_min = 3,
    .nin_max = 3,
    .nout = 1,
    .shape = gru_shape,
    .grad = gru_grad,
    .cpu = gru_cpu,
    .flops = gru_flops,
};
const dlt_op_def dlt_op_def_gru_cell_grad = {
    .id = DLT_OP_GRU_CELL_GRAD,
    .name = "gru_cell_grad",
    .nin_min = 4,
    .nin_max = 4,
    .nout = 3,
    .shape = gru_shape,
    .cpu = gru_grad_cpu,
    .flops = gru_flops,
};

dlt_t dlt_lstm_cell(dlt_graph *g, dlt_t gates, dlt_t c_prev, dlt_t *c)
{
    if (c)
        *c = -1;
    dlt_t in[2] = {gates, c_prev};
    dlt_t h = dlt_node_add(g, &dlt_op_def_lstm_cell, 2, in, NULL, 0);
    if (h >= 0 && c)
        *c = dlt_node_output(g, h, 1);
    return h;
}

dlt_t dlt_gru_cell(dlt_graph *g, dlt_t gi, dlt_t gh, dlt_t h_prev)
{
    dlt_t in[3] = {gi, gh, h_prev};
    return dlt_node_add(g, &dlt_op_def_gru_cell, 3, in, NULL, 0);
}

/* ---------------------------------------------------------------- categorical_sample */
static dlt_status cat_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    (void)n;
    if (!is_mat(&in[0]) || in[0].dim[1] < 1)
        return dlt_seterr(DLT_ERR_SHAPE, "logits must be an f32 matrix [N, K]");
    out[0] = dlt_shape_make(DLT_I32, 1, in[0].dim);
    return DLT_OK;
}

/* Row by row from its own counter: the thread count changes no bit. */
static dlt_status cat_cpu(const dlt_kctx *k)
{
    const rnn_sample_attr *a = DLT_CATTR(k->node, rnn_sample_attr);
    const float *x = k->in[0];
    int32_t *y = k->out[0];
    int64_t N = rows(k, 0), K = hid(k, 0);
    uint64_t seed = a->global ? a->gseed : k->seed, stream = dlt_cat_stream(a->id, k->step);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (N * K > 8192)
    for (int64_t r = 0; r < N; r++)
        y[r] = dlt_cat_sample_row(a, x + r * K, K, seed, stream, a->base + (uint64_t)r);
    return DLT_OK;
}

/* The indices are integers: no gradient reaches the logits through them. */
static dlt_status cat_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    (void)g, (void)n, (void)dy, (void)dx;
    return DLT_OK;
}

static double cat_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    (void)n, (void)out;
    return 4.0 * (double)dlt_shape_numel(in[0]);
}

const dlt_op_def dlt_op_def_categorical_sample = {
    .id = DLT_OP_CATEGORICAL_SAMPLE,
    .name = "categorical_sample",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = cat_shape,
    .grad = cat_grad,
    .cpu = cat_cpu,
    .flops = cat_flops,
};

dlt_t dlt_categorical_sample(dlt_graph *g, dlt_t logits, const dlt_categorical_opts *o)
{
    dlt_categorical_opts def = {0};
    if (!o)
        o = &def;
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    float t = o->temperature == 0.f ? 1.f : o->temperature;
    if (!(t > 0.f) || isinf(t))
        return dlt_graph_fail(
            g, DLT_ERR_INVALID,
            "categorical_sample: temperature must be finite and > 0 (0: 1), got %g",
            (double)o->temperature);
    rnn_sample_attr a = {.temp = t, .id = (uint64_t)dlt_graph_num_nodes(g) + 1};
    if (o->global && o->first_sample < 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "categorical_sample: first sample %lld is negative",
                              (long long)o->first_sample);
    if (o->global) {
        a.global = 1;
        a.gseed = dlt_graph_seed(g);
        a.base = (uint64_t)o->first_sample;
    }
    return dlt_node_add(g, &dlt_op_def_categorical_sample, 1, &logits, &a, sizeof a);
}

dlt_t dlt_categorical_log_prob(dlt_graph *g, dlt_t logits, dlt_t idx)
{
    const dlt_shape *s = dlt_shape_of(g, logits), *si = dlt_shape_of(g, idx);
    if (!s || !si || dlt_graph_status(g) != DLT_OK)
        return -1;
    if (s->ndim != 2 || si->ndim != 1 || si->dim[0] != s->dim[0] || si->dtype != DLT_I32) {
        char a[128], b[128];
        return dlt_graph_fail(g, DLT_ERR_SHAPE,
                              "categorical_log_prob: logits '%s' %s and indices '%s' %s must be "
                              "[N, K] and i32 [N]",
                              dlt_name_of(g, logits), dlt_shape_str(s, a, sizeof a),
                              dlt_name_of(g, idx), dlt_shape_str(si, b, sizeof b));
    }
    int64_t col[2] = {s->dim[0], 1};
    dlt_t lp = dlt_gather(g, dlt_log_softmax(g, logits, 1), 1, dlt_reshape(g, idx, 2, col));
    return dlt_reshape(g, lp, 1, col);
}

dlt_t dlt_categorical_entropy(dlt_graph *g, dlt_t logits)
{
    const dlt_shape *s = dlt_shape_of(g, logits);
    if (!s || dlt_graph_status(g) != DLT_OK)
        return -1;
    if (s->ndim != 2) {
        char a[128];
        return dlt_graph_fail(g, DLT_ERR_SHAPE,
                              "categorical_entropy: logits '%s' %s must be [N, K]",
                              dlt_name_of(g, logits), dlt_shape_str(s, a, sizeof a));
    }
    /* H = -sum_k p_k log p_k, p = softmax: both from the logits, so the
     * gradient is exact where p_k underflows (log_softmax stays finite) */
    int ax = 1;
    dlt_t plogp = dlt_mul(g, dlt_softmax(g, logits, 1), dlt_log_softmax(g, logits, 1));
    return dlt_neg(g, dlt_sum(g, plogp, 1, &ax, 0));
}
