/* Recurrent layers as torch.nn.LSTM and torch.nn.GRU build them: per layer
 * l the parameters weight_ih_l<l> [mH, I_l], weight_hh_l<l> [mH, H],
 * bias_ih_l<l>, bias_hh_l<l> [mH] (m = 4 for the LSTM's gates i, f, g, o, 3
 * for the GRU's r, z, n; I_0 the input size, I_l = H above), all uniform in
 * +-1/sqrt(H) as torch initialises them, and one step of layer l
 *     gi = x W_ih^T + b_ih,  gh = h W_hh^T + b_hh,
 *     LSTM: h, c = lstm_cell(gi + gh, c)     GRU: h = gru_cell(gi, gh, h)
 * (the fused pointwise ops of src/ops/rnn.c), layer l's new h being layer
 * l + 1's input. The number of steps is static: a sequence is unrolled into
 * T copies of the step sharing the parameters, and dlt_grad differentiates
 * through all of them. dlt_nn_rnn_step is the step alone, so a model whose
 * input at step t is computed from step t - 1's output (a NAS controller
 * feeding back the embedding of its own sampled choice) builds the unrolled
 * graph step by step; dlt_nn_lstm / dlt_nn_gru run it over x [T, N, I]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dlt_models.h"
#include "dlt_ops.h"

dlt_status dlt_nn_rnn_create(dlt_graph *g, const char *name, dlt_rnn_mode mode, int input_size,
                             int hidden_size, int num_layers, dlt_rnn *r)
{
    *r = (dlt_rnn){.mode = mode,
                   .input_size = input_size,
                   .hidden_size = hidden_size,
                   .num_layers = num_layers};
    const char *what = name ? name : "rnn";
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_graph_status(g);
    if (mode != DLT_RNN_LSTM && mode != DLT_RNN_GRU)
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: unknown recurrent mode %d", what, (int)mode);
    else if (input_size < 1 || hidden_size < 1 || num_layers < 1 || num_layers > DLT_RNN_MAX_LAYERS)
        dlt_graph_fail(g, DLT_ERR_INVALID,
                       "%s: input size %d and hidden size %d must be >= 1, layers %d in 1..%d",
                       what, input_size, hidden_size, num_layers, DLT_RNN_MAX_LAYERS);
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_graph_status(g);
    int64_t m = mode == DLT_RNN_LSTM ? 4 : 3, H = hidden_size;
    double bound = 1.0 / sqrt((double)hidden_size); /* torch's reset_parameters */
    dlt_init init = dlt_init_uniform(-bound, bound);
    char pn[32];
    if (name)
        dlt_scope_push(g, name);
    for (int l = 0; l < num_layers; l++) {
        int64_t wi[2] = {m * H, l ? H : input_size}, wh[2] = {m * H, H}, b[1] = {m * H};
        snprintf(pn, sizeof pn, "weight_ih_l%d", l);
        r->w_ih[l] = dlt_param(g, pn, 2, wi, init);
        snprintf(pn, sizeof pn, "weight_hh_l%d", l);
        r->w_hh[l] = dlt_param(g, pn, 2, wh, init);
        snprintf(pn, sizeof pn, "bias_ih_l%d", l);
        r->b_ih[l] = dlt_param(g, pn, 1, b, init);
        snprintf(pn, sizeof pn, "bias_hh_l%d", l);
        r->b_hh[l] = dlt_param(g, pn, 1, b, init);
    }
    if (name)
        dlt_scope_pop(g);
    return dlt_graph_status(g);
}

/* A zero state [N, H]: the default initial h and c, as torch's. */
static dlt_t zero_state(dlt_graph *g, int64_t n, int64_t h)
{
    int64_t d[2] = {n, h};
    float *z = calloc((size_t)(n * h), sizeof *z);
    if (!z)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "rnn: out of memory for a zero state");
    dlt_t v = dlt_constant(g, DLT_F32, 2, d, z);
    free(z);
    return v;
}

dlt_t dlt_nn_rnn_step(dlt_graph *g, const dlt_rnn *r, dlt_t x, dlt_t *h, dlt_t *c)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s || dlt_graph_status(g) != DLT_OK)
        return -1;
    if (s->ndim != 2 || s->dim[1] != r->input_size) {
        char b[128];
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "rnn step: input '%s' %s must be [N, %d]",
                              dlt_name_of(g, x), dlt_shape_str(s, b, sizeof b), r->input_size);
    }
    int64_t N = s->dim[0];
    int lstm = r->mode == DLT_RNN_LSTM;
    if (!h)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "rnn step: no hidden states (h) given");
    if (lstm && !c)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "rnn step: an LSTM needs its cell states (c)");
    for (int l = 0; l < r->num_layers; l++) {
        if (h[l] < 0)
            h[l] = zero_state(g, N, r->hidden_size);
        if (lstm && c[l] < 0)
            c[l] = zero_state(g, N, r->hidden_size);
        dlt_t gi = dlt_linear(g, x, r->w_ih[l], r->b_ih[l]);
        dlt_t gh = dlt_linear(g, h[l], r->w_hh[l], r->b_hh[l]);
        if (lstm)
            h[l] = dlt_lstm_cell(g, dlt_add(g, gi, gh), c[l], &c[l]);
        else
            h[l] = dlt_gru_cell(g, gi, gh, h[l]);
        x = h[l];
    }
    return dlt_graph_status(g) == DLT_OK ? x : -1;
}

/* The per-layer states of a [L, N, H] initial state (-1: zeros, left -1). */
static int split_state(dlt_graph *g, const char *layer, const char *what, dlt_t v, int L, int64_t N,
                       int64_t H, dlt_t *out)
{
    for (int l = 0; l < L; l++)
        out[l] = -1;
    if (v < 0)
        return 1;
    const dlt_shape *s = dlt_shape_of(g, v);
    if (!s)
        return 0;
    if (s->ndim != 3 || s->dim[0] != L || s->dim[1] != N || s->dim[2] != H) {
        char b[128];
        dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: %s '%s' %s must be [%d, %lld, %lld] (layers, N, H)",
                       layer, what, dlt_name_of(g, v), dlt_shape_str(s, b, sizeof b), L,
                       (long long)N, (long long)H);
        return 0;
    }
    int64_t d2[2] = {N, H};
    dlt_split(g, v, 0, L, NULL, out);
    for (int l = 0; l < L; l++)
        out[l] = dlt_reshape(g, out[l], 2, d2);
    return dlt_graph_status(g) == DLT_OK;
}

/* n values [N, H] stacked into [n, N, H]. */
static dlt_t stack(dlt_graph *g, int n, const dlt_t *v, int64_t N, int64_t H)
{
    int64_t d3[3] = {1, N, H};
    dlt_t *u = malloc((size_t)n * sizeof *u);
    if (!u)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "rnn: out of memory");
    for (int i = 0; i < n; i++)
        u[i] = dlt_reshape(g, v[i], 3, d3);
    dlt_t y = dlt_concat(g, n, u, 0);
    free(u);
    return y;
}

static dlt_t run_seq(dlt_graph *g, const char *name, dlt_rnn_mode mode, dlt_t x, int hidden,
                     int layers, dlt_t h0, dlt_t c0, dlt_t *hn, dlt_t *cn)
{
    char what[160];
    snprintf(what, sizeof what, "%s '%s'", mode == DLT_RNN_LSTM ? "lstm" : "gru", name ? name : "");
    if (hn)
        *hn = -1;
    if (cn)
        *cn = -1;
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s || dlt_graph_status(g) != DLT_OK)
        return -1;
    if (s->ndim != 3) {
        char b[128];
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: input '%s' %s must be [T, N, I]", what,
                              dlt_name_of(g, x), dlt_shape_str(s, b, sizeof b));
    }
    int64_t T = s->dim[0], N = s->dim[1], I = s->dim[2];
    dlt_rnn r;
    if (dlt_nn_rnn_create(g, name, mode, (int)I, hidden, layers, &r) != DLT_OK)
        return -1;
    dlt_t h[DLT_RNN_MAX_LAYERS], c[DLT_RNN_MAX_LAYERS];
    if (!split_state(g, what, "h0", h0, layers, N, hidden, h) ||
        (mode == DLT_RNN_LSTM && !split_state(g, what, "c0", c0, layers, N, hidden, c)))
        return -1;
    dlt_t *xs = malloc((size_t)T * 2 * sizeof *xs), *ys = xs ? xs + T : NULL;
    if (!xs)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "%s: out of memory", what);
    int64_t d2[2] = {N, I};
    dlt_split(g, x, 0, (int)T, NULL, xs);
    for (int64_t t = 0; t < T; t++)
        ys[t] = dlt_nn_rnn_step(g, &r, dlt_reshape(g, xs[t], 2, d2), h,
                                mode == DLT_RNN_LSTM ? c : NULL);
    dlt_t y = stack(g, (int)T, ys, N, hidden);
    free(xs);
    if (hn)
        *hn = stack(g, layers, h, N, hidden);
    if (cn && mode == DLT_RNN_LSTM)
        *cn = stack(g, layers, c, N, hidden);
    return dlt_graph_status(g) == DLT_OK ? y : -1;
}

dlt_t dlt_nn_lstm(dlt_graph *g, const char *name, dlt_t x, int hidden, int layers, dlt_t h0,
                  dlt_t c0, dlt_t *hn, dlt_t *cn)
{
    return run_seq(g, name, DLT_RNN_LSTM, x, hidden, layers, h0, c0, hn, cn);
}

dlt_t dlt_nn_gru(dlt_graph *g, const char *name, dlt_t x, int hidden, int layers, dlt_t h0,
                 dlt_t *hn)
{
    return run_seq(g, name, DLT_RNN_GRU, x, hidden, layers, h0, -1, hn, NULL);
}
