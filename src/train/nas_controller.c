/* The NAS controller (dlt_nas.h): an LSTM that emits a child network layer
 * by layer, one row per child, unrolled into one static graph.
 *
 * Decisions of layer i, in order (each one LSTM step; the step's output h
 * goes through the decision's own linear head to logits, a choice is drawn
 * from softmax(logits), and the choice's row of the decision's own embedding
 * table is the next step's input):
 *   macro: kernel height, kernel width (only with separate_hw; else the
 *          kernel is square), filter count (when nfilters > 1), stride (when
 *          nstrides > 1);
 *   enas:  op (ENAS's six, dlt_nas_enas_op), filter count, stride as above.
 * Then the anchor step: one more LSTM step whose output a_i is layer i's
 * anchor. With skips, layer i (i >= 2) draws for every j <= i - 2 (the
 * previous layer is always the input) whether h_j joins its input:
 *     P(skip j -> i) = sigmoid(z),  z = v^T tanh(W_prev a_j + W_curr a_i)
 * (Zoph & Le's attention). A Bernoulli draw is a categorical draw over the
 * logits [0, z], since softmax([0, z])_1 = sigmoid(z): the same counter-based
 * sampler, log-probability and entropy ops serve both kinds. The anchor a_i
 * is the next layer's first input; a learned vector g starts layer 0.
 *
 * The REINFORCE loss -(1/N) sum_n adv_n sum_t log p(a_nt) - beta (1/N)
 * sum_n sum_t H_nt is in the same graph: one plan samples (forward only), a
 * second computes the loss and its gradients into the flat gradient buffer.
 * Both run with exec step = the round, so the second draws exactly the
 * first's choices. The graph owns the parameters; the controller owns the
 * graph, both plans and the optimizer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_models.h"
#include "dlt_nas.h"
#include "dlt_ops.h"

enum { D_KH = 0, D_KW, D_K, D_FILT, D_STRIDE, D_OP, D_NKINDS };
static const char *const kind_name[D_NKINDS] = {"kernel_h", "kernel_w", "kernel",
                                                "filters",  "stride",   "op"};

typedef struct {
    int kind;  /* D_* for categorical decisions, -1 for a skip */
    int layer; /* the layer it decides */
    int from;  /* a skip: the earlier layer j */
    dlt_t sample;
} decision;

struct dlt_nas_controller {
    dlt_nas_config c;
    dlt_graph *g;
    dlt_plan *sample_plan, *grad_plan;
    dlt_optim *opt;
    dlt_t adv, logp, ent, loss;
    dlt_t actions; /* replay: the decisions' input, else -1 */
    int ndec;
    decision *dec;
    int32_t *draws; /* [ndec][children] after a sample */
};

void dlt_nas_config_default(dlt_nas_config *c)
{
    memset(c, 0, sizeof *c);
    c->space = DLT_NAS_MACRO;
    c->nlayers = 6;
    c->nkernels = 4;
    memcpy(c->kernels, (int[]){1, 3, 5, 7}, 4 * sizeof(int));
    c->nfilters = 4;
    memcpy(c->filters, (int[]){24, 36, 48, 64}, 4 * sizeof(int));
    c->nstrides = 1;
    c->strides[0] = 1;
    c->separate_hw = 1;
    c->skips = 1;
    c->hidden = 64;
    c->lstm_layers = 1;
    c->children = 4;
    c->entropy_weight = 1e-4;
    c->in_c = 1, c->in_h = 28, c->in_w = 28;
    c->nclasses = 10;
    dlt_optim_config_default("adam", &c->optim);
    c->optim.lr = 3.5e-4;
}

dlt_status dlt_nas_config_check(const dlt_nas_config *c)
{
    if (c->space != DLT_NAS_MACRO && c->space != DLT_NAS_ENAS)
        return dlt_seterr(DLT_ERR_INVALID, "nas.space: %d is neither macro nor enas",
                          (int)c->space);
    if (c->nlayers < 1 || c->nlayers > DLT_SPEC_MAX_LAYERS)
        return dlt_seterr(DLT_ERR_INVALID, "nas.layers = %d: must be in 1..%d", c->nlayers,
                          DLT_SPEC_MAX_LAYERS);
    if (c->space == DLT_NAS_MACRO && (c->nkernels < 1 || c->nkernels > DLT_NAS_MAX_CHOICES))
        return dlt_seterr(DLT_ERR_INVALID, "nas.kernels: %d sizes, must be 1..%d", c->nkernels,
                          DLT_NAS_MAX_CHOICES);
    for (int i = 0; c->space == DLT_NAS_MACRO && i < c->nkernels; i++)
        if (c->kernels[i] < 1 || c->kernels[i] > DLT_SPEC_MAX_KERNEL || c->kernels[i] % 2 == 0)
            return dlt_seterr(DLT_ERR_INVALID, "nas.kernels[%d] = %d: must be odd, 1..%d", i,
                              c->kernels[i], DLT_SPEC_MAX_KERNEL);
    if (c->nfilters < 1 || c->nfilters > DLT_NAS_MAX_CHOICES)
        return dlt_seterr(DLT_ERR_INVALID, "nas.filters: %d counts, must be 1..%d", c->nfilters,
                          DLT_NAS_MAX_CHOICES);
    for (int i = 0; i < c->nfilters; i++)
        if (c->filters[i] < 1 || c->filters[i] > DLT_SPEC_MAX_FILTERS)
            return dlt_seterr(DLT_ERR_INVALID, "nas.filters[%d] = %d: must be in 1..%d", i,
                              c->filters[i], DLT_SPEC_MAX_FILTERS);
    if (c->nstrides < 1 || c->nstrides > 4)
        return dlt_seterr(DLT_ERR_INVALID, "nas.strides: %d strides, must be 1..4", c->nstrides);
    for (int i = 0; i < c->nstrides; i++)
        if (c->strides[i] < 1 || c->strides[i] > DLT_SPEC_MAX_STRIDE)
            return dlt_seterr(DLT_ERR_INVALID, "nas.strides[%d] = %d: must be in 1..%d", i,
                              c->strides[i], DLT_SPEC_MAX_STRIDE);
    if (c->hidden < 1 || c->lstm_layers < 1 || c->lstm_layers > DLT_RNN_MAX_LAYERS)
        return dlt_seterr(DLT_ERR_INVALID,
                          "nas.hidden = %d, nas.lstm_layers = %d: need hidden >= 1, layers 1..%d",
                          c->hidden, c->lstm_layers, DLT_RNN_MAX_LAYERS);
    if (c->children < 1)
        return dlt_seterr(DLT_ERR_INVALID, "nas.children = %d: must be >= 1", c->children);
    if (c->in_c < 1 || c->in_h < 1 || c->in_w < 1)
        return dlt_seterr(DLT_ERR_INVALID, "nas: input %dx%dx%d is empty", c->in_c, c->in_h,
                          c->in_w);
    return DLT_OK;
}

static int layer_kinds(const dlt_nas_config *c, int *kinds);

int dlt_nas_count_decisions(const dlt_nas_config *c)
{
    int kinds[8], n = c->nlayers * layer_kinds(c, kinds);
    for (int i = 2; c->skips && i < c->nlayers; i++)
        n += i - 1;
    return n;
}

dlt_status dlt_nas_set_actions(dlt_nas_controller *k, const int32_t *actions)
{
    if (k->actions < 0)
        return dlt_seterr(DLT_ERR_INVALID, "nas controller: not built with replay");
    size_t n = (size_t)k->ndec * (size_t)k->c.children * sizeof(int32_t);
    memcpy(dlt_plan_data(k->sample_plan, k->actions), actions, n);
    memcpy(dlt_plan_data(k->grad_plan, k->actions), actions, n);
    return DLT_OK;
}

void dlt_nas_enas_op(int o, dlt_spec_op *op, int *kernel)
{
    static const dlt_spec_op ops[DLT_NAS_ENAS_OPS] = {DLT_SPEC_CONV,    DLT_SPEC_CONV,
                                                      DLT_SPEC_SEPCONV, DLT_SPEC_SEPCONV,
                                                      DLT_SPEC_MAXPOOL, DLT_SPEC_AVGPOOL};
    static const int ks[DLT_NAS_ENAS_OPS] = {3, 5, 3, 5, 3, 3};
    *op = ops[o];
    *kernel = ks[o];
}

/* Choices of a categorical decision kind. */
static int nchoices(const dlt_nas_config *c, int kind)
{
    switch (kind) {
    case D_KH:
    case D_KW:
    case D_K:
        return c->nkernels;
    case D_FILT:
        return c->nfilters;
    case D_STRIDE:
        return c->nstrides;
    default:
        return DLT_NAS_ENAS_OPS;
    }
}

/* The categorical decisions of one layer, in order. */
static int layer_kinds(const dlt_nas_config *c, int *kinds)
{
    int n = 0;
    if (c->space == DLT_NAS_ENAS)
        kinds[n++] = D_OP;
    else if (c->separate_hw)
        kinds[n++] = D_KH, kinds[n++] = D_KW;
    else
        kinds[n++] = D_K;
    if (c->nfilters > 1)
        kinds[n++] = D_FILT;
    if (c->nstrides > 1)
        kinds[n++] = D_STRIDE;
    return n;
}

typedef struct {
    dlt_t head_w[D_NKINDS], head_b[D_NKINDS], embed[D_NKINDS];
    dlt_t w_prev, w_curr, v, g_emb;
} ctl_params;

static void make_params(dlt_graph *g, const dlt_nas_config *c, ctl_params *p)
{
    int64_t H = c->hidden;
    double b = 1.0 / sqrt((double)H);
    dlt_init u = dlt_init_uniform(-b, b); /* torch.nn.Linear's range for fan-in H */
    int kinds[8], nk = layer_kinds(c, kinds);
    char n[48];
    for (int i = 0; i < D_NKINDS; i++)
        p->head_w[i] = p->head_b[i] = p->embed[i] = -1;
    for (int i = 0; i < nk; i++) {
        int k = kinds[i];
        int64_t K = nchoices(c, k);
        snprintf(n, sizeof n, "heads.%s.weight", kind_name[k]);
        p->head_w[k] = dlt_param(g, n, 2, (const int64_t[]){K, H}, u);
        snprintf(n, sizeof n, "heads.%s.bias", kind_name[k]);
        p->head_b[k] = dlt_param(g, n, 1, (const int64_t[]){K}, u);
        snprintf(n, sizeof n, "embed.%s.weight", kind_name[k]);
        p->embed[k] = dlt_param(g, n, 2, (const int64_t[]){K, H}, dlt_init_uniform(-0.1, 0.1));
    }
    p->g_emb = dlt_param(g, "g_emb", 2, (const int64_t[]){1, H}, dlt_init_uniform(-0.1, 0.1));
    p->w_prev = p->w_curr = p->v = -1;
    if (c->skips && c->nlayers > 2) {
        p->w_prev = dlt_param(g, "skip.w_prev", 2, (const int64_t[]){H, H}, u);
        p->w_curr = dlt_param(g, "skip.w_curr", 2, (const int64_t[]){H, H}, u);
        p->v = dlt_param(g, "skip.v", 2, (const int64_t[]){1, H}, u);
    }
}

/* Appends one draw from logits [N, K] with its log-probability and entropy
 * summed into *lp, *en. */
static dlt_t draw(dlt_graph *g, dlt_t logits, dlt_t fixed, dlt_t *lp, dlt_t *en)
{
    dlt_categorical_opts o = {.temperature = 1.f, .global = 1, .first_sample = 0};
    dlt_t a = fixed >= 0 ? fixed : dlt_categorical_sample(g, logits, &o);
    dlt_t l = dlt_categorical_log_prob(g, logits, a), e = dlt_categorical_entropy(g, logits);
    *lp = *lp < 0 ? l : dlt_add(g, *lp, l);
    *en = *en < 0 ? e : dlt_add(g, *en, e);
    return a;
}

static dlt_status build(dlt_nas_controller *k)
{
    const dlt_nas_config *c = &k->c;
    dlt_graph *g = k->g;
    int64_t N = c->children, H = c->hidden;
    ctl_params p;
    dlt_rnn r;
    if (dlt_nn_rnn_create(g, "lstm", DLT_RNN_LSTM, (int)H, (int)H, c->lstm_layers, &r) != DLT_OK)
        return dlt_graph_status(g);
    make_params(g, c, &p);
    int kinds[8], nk = layer_kinds(c, kinds);
    int maxdec = c->nlayers * nk + c->nlayers * c->nlayers / 2 + 1;
    k->dec = calloc((size_t)maxdec, sizeof *k->dec);
    dlt_t *anchor = calloc((size_t)c->nlayers * 2, sizeof *anchor), *proj = anchor + c->nlayers;
    int32_t *zi = calloc((size_t)N, sizeof *zi);
    float *zf = calloc((size_t)N, sizeof *zf);
    if (!k->dec || !anchor || !zi || !zf) {
        free(anchor), free(zi), free(zf);
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "nas controller: out of memory"), DLT_ERR_NOMEM;
    }
    dlt_t hs[DLT_RNN_MAX_LAYERS], cs[DLT_RNN_MAX_LAYERS];
    for (int l = 0; l < DLT_RNN_MAX_LAYERS; l++)
        hs[l] = cs[l] = -1;
    /* g_emb [1, H] broadcast to the N rows by an embedding lookup of row 0 */
    dlt_t x = dlt_embedding(g, p.g_emb, dlt_constant(g, DLT_I32, 1, (const int64_t[]){N}, zi));
    dlt_t zcol = dlt_constant(g, DLT_F32, 2, (const int64_t[]){N, 1}, zf);
    dlt_t lp = -1, en = -1, *fixed = NULL;
    if (c->replay) { /* the decisions are an input: actions [decisions, N] */
        int nd = dlt_nas_count_decisions(c);
        fixed = calloc((size_t)nd, sizeof *fixed);
        if (!fixed) {
            free(anchor), free(zi), free(zf);
            return dlt_graph_fail(g, DLT_ERR_NOMEM, "nas controller: out of memory"), DLT_ERR_NOMEM;
        }
        k->actions = dlt_input(g, "actions", DLT_I32, 2, (const int64_t[]){nd, N});
        dlt_split(g, k->actions, 0, nd, NULL, fixed);
        for (int d = 0; d < nd; d++)
            fixed[d] = dlt_reshape(g, fixed[d], 1, (const int64_t[]){N});
    }
    for (int i = 0; i < c->nlayers; i++) {
        for (int d = 0; d < nk; d++) {
            int kd = kinds[d];
            dlt_t h = dlt_nn_rnn_step(g, &r, x, hs, cs);
            dlt_t a = draw(g, dlt_linear(g, h, p.head_w[kd], p.head_b[kd]),
                           fixed ? fixed[k->ndec] : -1, &lp, &en);
            k->dec[k->ndec++] = (decision){.kind = kd, .layer = i, .sample = a};
            x = dlt_embedding(g, p.embed[kd], a);
        }
        anchor[i] = dlt_nn_rnn_step(g, &r, x, hs, cs);
        if (p.w_prev >= 0) {
            proj[i] = dlt_matmul(g, anchor[i], p.w_prev, 0, 1);
            dlt_t cur = dlt_matmul(g, anchor[i], p.w_curr, 0, 1);
            for (int j = 0; j + 2 <= i; j++) {
                dlt_t z = dlt_linear(g, dlt_tanh(g, dlt_add(g, proj[j], cur)), p.v, -1);
                dlt_t logits = dlt_concat(g, 2, (const dlt_t[]){zcol, z}, 1);
                dlt_t a = draw(g, logits, fixed ? fixed[k->ndec] : -1, &lp, &en);
                k->dec[k->ndec++] = (decision){.kind = -1, .layer = i, .from = j, .sample = a};
            }
        }
        x = anchor[i];
    }
    free(anchor), free(zi), free(zf), free(fixed);
    k->logp = lp, k->ent = en;
    k->adv = dlt_input(g, "advantage", DLT_F32, 1, (const int64_t[]){N});
    float inv = 1.f / (float)N;
    dlt_t pg = dlt_affine(g, dlt_sum(g, dlt_mul(g, k->adv, lp), 0, NULL, 0), -inv, 0.f);
    dlt_t eb = dlt_affine(g, dlt_sum(g, en, 0, NULL, 0), (float)(-c->entropy_weight) * inv, 0.f);
    k->loss = dlt_add(g, pg, eb);
    return dlt_graph_status(g);
}

static dlt_status make_plans(dlt_nas_controller *k)
{
    dlt_graph *g = k->g;
    int n = 0;
    dlt_t *params = NULL, *grads = NULL;
    dlt_status st = dlt_grad_params(g, k->loss, &n, &params, &grads);
    dlt_t *outs = st == DLT_OK ? malloc((size_t)(k->ndec + 2) * sizeof *outs) : NULL;
    if (st == DLT_OK && !outs)
        st = dlt_seterr(DLT_ERR_NOMEM, "nas controller: out of memory");
    if (st == DLT_OK) {
        for (int i = 0; i < k->ndec; i++)
            outs[i] = k->dec[i].sample;
        outs[k->ndec] = k->logp, outs[k->ndec + 1] = k->ent;
        st = dlt_plan_create(g, k->ndec + 2, outs, NULL, &k->sample_plan);
    }
    if (st == DLT_OK) {
        dlt_plan_opts po = {.ngrads = n, .grad_params = params, .grad_values = grads};
        st = dlt_plan_create(g, 1, &k->loss, &po, &k->grad_plan);
    }
    if (st == DLT_OK) {
        int np = dlt_num_params(g);
        dlt_param_view *v = malloc((size_t)np * sizeof *v);
        if (!v)
            st = dlt_seterr(DLT_ERR_NOMEM, "nas controller: out of memory");
        for (int i = 0; v && i < np; i++) {
            const dlt_param_info *pi = dlt_param_at(g, i);
            v[i] = (dlt_param_view){.name = pi->name, .offset = pi->offset, .numel = pi->numel};
        }
        if (v)
            st = dlt_optim_create(&k->c.optim, v, np, dlt_params_numel(g), NULL, 0, &k->opt);
        free(v);
    }
    free(outs), free(params), free(grads);
    return st;
}

dlt_status dlt_nas_controller_create(const dlt_nas_config *c, uint64_t seed,
                                     dlt_nas_controller **out)
{
    *out = NULL;
    dlt_status st = dlt_nas_config_check(c);
    if (st != DLT_OK)
        return st;
    dlt_nas_controller *k = calloc(1, sizeof *k);
    if (!k || !(k->g = dlt_graph_create(seed))) {
        free(k);
        return dlt_seterr(DLT_ERR_NOMEM, "nas controller: out of memory");
    }
    k->c = *c;
    k->actions = -1;
    if ((st = build(k)) != DLT_OK)
        st = dlt_seterr(st, "nas controller: %s", dlt_graph_errmsg(k->g));
    if (st == DLT_OK &&
        !(k->draws = malloc((size_t)k->ndec * (size_t)c->children * sizeof(int32_t))))
        st = dlt_seterr(DLT_ERR_NOMEM, "nas controller: out of memory");
    if (st == DLT_OK)
        st = make_plans(k);
    if (st != DLT_OK) {
        dlt_nas_controller_free(k);
        return st;
    }
    *out = k;
    return DLT_OK;
}

void dlt_nas_controller_free(dlt_nas_controller *k)
{
    if (!k)
        return;
    dlt_plan_free(k->sample_plan);
    dlt_plan_free(k->grad_plan);
    dlt_optim_free(k->opt);
    dlt_graph_free(k->g);
    free(k->dec);
    free(k->draws);
    free(k);
}

dlt_graph *dlt_nas_graph(dlt_nas_controller *k)
{
    return k->g;
}
dlt_optim *dlt_nas_optim(dlt_nas_controller *k)
{
    return k->opt;
}
int dlt_nas_num_decisions(const dlt_nas_controller *k)
{
    return k->ndec;
}
const dlt_nas_config *dlt_nas_config_of(const dlt_nas_controller *k)
{
    return &k->c;
}

/* Child n's spec from the draws. A stride that would leave fewer than
 * stride x stride pixels (dlt_spec_check_shape's rule) becomes 1: the draw
 * stays in the log-probability, the child just does not stride there. */
static dlt_status decode(const dlt_nas_controller *k, int n, dlt_spec *s)
{
    const dlt_nas_config *c = &k->c;
    int N = c->children;
    memset(s, 0, sizeof *s);
    s->nlayers = c->nlayers;
    s->stem_filters = c->stem_filters;
    for (int i = 0; i < c->nlayers; i++)
        s->layer[i] = (dlt_spec_layer){.op = DLT_SPEC_CONV,
                                       .kernel_h = c->kernels[0],
                                       .kernel_w = c->kernels[0],
                                       .filters = c->filters[0],
                                       .stride = c->strides[0]};
    for (int d = 0; d < k->ndec; d++) {
        const decision *e = &k->dec[d];
        int32_t a = k->draws[(size_t)d * (size_t)N + (size_t)n];
        dlt_spec_layer *L = &s->layer[e->layer];
        if (a < 0 || (e->kind >= 0 && a >= nchoices(c, e->kind)))
            return dlt_seterr(DLT_ERR_INVALID,
                              "nas controller: decision %d of child %d drew %d "
                              "(non-finite logits?)",
                              d, n, (int)a);
        switch (e->kind) {
        case D_KH:
            L->kernel_h = c->kernels[a];
            break;
        case D_KW:
            L->kernel_w = c->kernels[a];
            break;
        case D_K:
            L->kernel_h = L->kernel_w = c->kernels[a];
            break;
        case D_FILT:
            L->filters = c->filters[a];
            break;
        case D_STRIDE:
            L->stride = c->strides[a];
            break;
        case D_OP:
            dlt_nas_enas_op(a, &L->op, &L->kernel_h);
            L->kernel_w = L->kernel_h;
            break;
        default:
            if (a)
                L->skip |= (uint64_t)1 << e->from;
        }
    }
    int h = c->in_h, w = c->in_w;
    for (int i = 0; i < c->nlayers; i++) {
        int st = s->layer[i].stride;
        if (h < st || w < st)
            s->layer[i].stride = st = 1;
        h = (h + st - 1) / st, w = (w + st - 1) / st;
    }
    return dlt_spec_check_shape(s, c->in_c, c->in_h, c->in_w, NULL, NULL);
}

dlt_status dlt_nas_sample(dlt_nas_controller *k, int64_t round, dlt_spec *specs, double *logp,
                          double *entropy)
{
    dlt_exec_opts eo = {.step = round};
    dlt_status st = dlt_plan_run(k->sample_plan, &eo);
    if (st != DLT_OK)
        return st;
    size_t N = (size_t)k->c.children;
    for (int d = 0; d < k->ndec; d++)
        memcpy(k->draws + (size_t)d * N, dlt_plan_data(k->sample_plan, k->dec[d].sample),
               N * sizeof(int32_t));
    const float *lp = dlt_plan_data(k->sample_plan, k->logp),
                *en = dlt_plan_data(k->sample_plan, k->ent);
    for (size_t n = 0; n < N; n++) {
        if (logp)
            logp[n] = lp[n];
        if (entropy)
            entropy[n] = en[n];
        if (specs && (st = decode(k, (int)n, &specs[n])) != DLT_OK)
            return st;
    }
    return DLT_OK;
}

dlt_status dlt_nas_grad(dlt_nas_controller *k, int64_t round, const float *adv, double *loss)
{
    memcpy(dlt_plan_data(k->grad_plan, k->adv), adv, (size_t)k->c.children * sizeof(float));
    dlt_exec_opts eo = {.training = 1, .step = round};
    dlt_status st = dlt_plan_run(k->grad_plan, &eo);
    if (st == DLT_OK && loss)
        *loss = *(const float *)dlt_plan_data(k->grad_plan, k->loss);
    return st;
}

dlt_status dlt_nas_step(dlt_nas_controller *k, int64_t round, const float *adv, double lr,
                        double *loss)
{
    dlt_status st = dlt_nas_grad(k, round, adv, loss);
    if (st != DLT_OK)
        return st;
    return dlt_optim_step(k->opt, dlt_params_data(k->g), dlt_grads_data(k->g), lr);
}
