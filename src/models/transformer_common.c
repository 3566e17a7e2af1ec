/* Transformer specs, shared layers and losses. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "transformer_impl.h"

typedef struct {
    const char *name;
    dlt_tf_family family;
    int layers, dec_layers, hidden, heads, intermediate;
    float dropout;
} tf_size;

static const tf_size sizes[] = {
    {"bert-tiny", DLT_TF_BERT, 2, 0, 128, 2, 512, 0.1f},
    {"bert-mini", DLT_TF_BERT, 4, 0, 256, 4, 1024, 0.1f},
    {"bert-small", DLT_TF_BERT, 4, 0, 512, 8, 2048, 0.1f},
    {"bert-medium", DLT_TF_BERT, 8, 0, 512, 8, 2048, 0.1f},
    {"bert-base", DLT_TF_BERT, 12, 0, 768, 12, 3072, 0.1f},
    {"bert-large", DLT_TF_BERT, 24, 0, 1024, 16, 4096, 0.1f},
    {"gpt-tiny", DLT_TF_GPT, 2, 0, 128, 2, 512, 0.1f},
    {"gpt-mini", DLT_TF_GPT, 4, 0, 256, 4, 1024, 0.1f},
    {"gpt-small", DLT_TF_GPT, 6, 0, 512, 8, 2048, 0.1f},
    {"gpt2", DLT_TF_GPT, 12, 0, 768, 12, 3072, 0.1f},
    {"gpt2-medium", DLT_TF_GPT, 24, 0, 1024, 16, 4096, 0.1f},
    {"transformer-tiny", DLT_TF_SEQ2SEQ, 2, 2, 128, 2, 512, 0.1f},
    {"transformer-base", DLT_TF_SEQ2SEQ, 6, 6, 512, 8, 2048, 0.1f},
    {"transformer-big", DLT_TF_SEQ2SEQ, 6, 6, 1024, 16, 4096, 0.3f},
};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

const char *dlt_transformer_archs(void)
{
    return "bert-tiny, bert-mini, bert-small, bert-medium, bert-base, bert-large, gpt-tiny, "
           "gpt-mini, "
           "gpt-small, gpt2, gpt2-medium, transformer-tiny, transformer-base, transformer-big";
}

dlt_status dlt_transformer_spec_default(const char *arch, dlt_transformer_spec *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < NSIZES; i++) {
        const tf_size *z = &sizes[i];
        if (strcmp(arch, z->name) != 0)
            continue;
        snprintf(s->arch, sizeof s->arch, "%s", z->name);
        s->family = z->family;
        s->layers = z->layers;
        s->dec_layers = z->dec_layers;
        s->hidden = z->hidden;
        s->heads = z->heads;
        s->intermediate = z->intermediate;
        s->hidden_dropout = s->attn_dropout = z->dropout;
        s->init_std = 0.02f;
        switch (z->family) {
        case DLT_TF_BERT: /* google-research/bert configs */
            s->vocab = 30522, s->max_len = 512, s->type_vocab = 2;
            s->layer_norm_eps = 1e-12f, s->gelu = DLT_GELU_EXACT;
            break;
        case DLT_TF_GPT: /* GPT-2: layer_norm_epsilon 1e-5, gelu_new */
            s->vocab = 50257, s->max_len = 1024;
            s->layer_norm_eps = 1e-5f, s->gelu = DLT_GELU_TANH;
            break;
        default: /* Vaswani et al.: shared 37000-token BPE vocabulary; torch's eps */
            s->vocab = 37000, s->max_len = 1024;
            s->layer_norm_eps = 1e-5f;
            s->attn_dropout = 0.f; /* the paper drops residual branches and embeddings only */
            break;
        }
        return DLT_OK;
    }
    return dlt_seterr(DLT_ERR_INVALID, "unknown transformer architecture '%s' (known: %s)", arch,
                      dlt_transformer_archs());
}

dlt_status dlt_transformer_spec_check(const dlt_transformer_spec *s)
{
    if (s->vocab < 1 || s->max_len < 1 || s->layers < 1 || s->hidden < 1 || s->heads < 1 ||
        s->intermediate < 1)
        return dlt_seterr(DLT_ERR_INVALID,
                          "%s: vocab, max_len, layers, hidden, heads and intermediate must be >= 1",
                          s->arch);
    if (s->family == DLT_TF_SEQ2SEQ && s->dec_layers < 1)
        return dlt_seterr(DLT_ERR_INVALID, "%s: dec_layers must be >= 1", s->arch);
    if (s->family == DLT_TF_BERT && s->type_vocab < 1)
        return dlt_seterr(DLT_ERR_INVALID, "%s: type_vocab must be >= 1", s->arch);
    if (s->hidden % s->heads)
        return dlt_seterr(DLT_ERR_INVALID, "%s: hidden %d is not a multiple of heads %d", s->arch,
                          s->hidden, s->heads);
    if (!(s->hidden_dropout >= 0 && s->hidden_dropout < 1 && s->attn_dropout >= 0 &&
          s->attn_dropout < 1))
        return dlt_seterr(DLT_ERR_INVALID, "%s: dropouts must be in [0, 1)", s->arch);
    if (!(s->layer_norm_eps > 0) || !(s->init_std > 0))
        return dlt_seterr(DLT_ERR_INVALID, "%s: layer_norm_eps and init_std must be > 0", s->arch);
    return DLT_OK;
}

dlt_t dlt_tf_linear(dlt_graph *g, const char *name, dlt_t x, int out, dlt_init w_init)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    int64_t ws[2] = {out, s->dim[s->ndim - 1]}, bs[1] = {out};
    dlt_scope_push(g, name);
    dlt_t w = dlt_param(g, "weight", 2, ws, w_init);
    dlt_t b = dlt_param(g, "bias", 1, bs, dlt_init_const(0));
    dlt_t y = dlt_linear(g, x, w, b);
    dlt_scope_pop(g);
    return y;
}

dlt_t dlt_tf_conv1d(dlt_graph *g, const char *name, dlt_t x, int out, double std)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    int64_t ws[2] = {s->dim[s->ndim - 1], out}, bs[1] = {out};
    dlt_scope_push(g, name);
    dlt_t w = dlt_param(g, "weight", 2, ws, dlt_init_normal(0, std));
    dlt_t b = dlt_param(g, "bias", 1, bs, dlt_init_const(0));
    dlt_t y = dlt_add(g, dlt_matmul(g, x, w, 0, 0), b);
    dlt_scope_pop(g);
    return y;
}

dlt_t dlt_tf_layer_norm(dlt_graph *g, const char *name, dlt_t x, float eps)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    int64_t c[1] = {s->dim[s->ndim - 1]};
    dlt_scope_push(g, name);
    dlt_t w = dlt_param(g, "weight", 1, c, dlt_init_const(1));
    dlt_t b = dlt_param(g, "bias", 1, c, dlt_init_const(0));
    dlt_t y = dlt_layer_norm(g, x, 1, c, w, b, eps);
    dlt_scope_pop(g);
    return y;
}

dlt_t dlt_tf_heads_attention(dlt_graph *g, dlt_t q, dlt_t k, dlt_t v, int heads, dlt_t mask,
                             int causal, float dropout)
{
    const dlt_shape *qs = dlt_shape_of(g, q), *ks = dlt_shape_of(g, k);
    if (!qs || !ks || qs->ndim != 3 || ks->ndim != 3)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "attention: q, k, v must be [B, T, C]");
    int64_t B = qs->dim[0], Tq = qs->dim[1], Tk = ks->dim[1], C = qs->dim[2];
    int64_t dq[4] = {B, Tq, heads, C / heads}, dk[4] = {B, Tk, heads, C / heads},
            dy[3] = {B, Tq, C};
    dlt_attention_opts o = {0, causal, dropout, DLT_ATTN_BTHD};
    dlt_t y = dlt_attention(g, dlt_reshape(g, q, 4, dq), dlt_reshape(g, k, 4, dk),
                            dlt_reshape(g, v, 4, dk), mask, &o, NULL);
    return dlt_reshape(g, y, 3, dy);
}

dlt_t dlt_tf_packed_attention(dlt_graph *g, dlt_t qkv, int heads, dlt_t mask, int causal, float dropout)
{
    const dlt_shape *s = dlt_shape_of(g, qkv);
    if (!s || s->ndim != 3 || s->dim[2] % 3 != 0)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "attention: packed q, k, v must be [B, T, 3C]");
    int64_t B = s->dim[0], T = s->dim[1], C = s->dim[2] / 3;
    int64_t dp[4] = {B, T, 3 * (int64_t)heads, C / heads}, dy[3] = {B, T, C};
    dlt_attention_opts o = {0, causal, dropout, DLT_ATTN_PACKED};
    dlt_t y = dlt_attention(g, dlt_reshape(g, qkv, 4, dp), -1, -1, mask, &o, NULL);
    return dlt_reshape(g, y, 3, dy);
}

dlt_t dlt_tf_positions(dlt_graph *g, dlt_t table, int64_t T)
{
    const dlt_shape *s = dlt_shape_of(g, table);
    if (!s)
        return -1;
    return T == s->dim[0] ? table : dlt_slice_axis(g, table, 0, 0, T, 1);
}

int64_t dlt_tf_check_ids(dlt_graph *g, const dlt_transformer_spec *s, dlt_t ids, const char *what)
{
    const dlt_shape *is = dlt_shape_of(g, ids);
    if (!is)
        return -1;
    if (is->dtype != DLT_I32 || is->ndim != 2)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: %s '%s' must be i32 [B, T]", s->arch, what,
                              dlt_name_of(g, ids));
    if (is->dim[1] > s->max_len)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: sequence length %lld exceeds max_len %d",
                              s->arch, (long long)is->dim[1], s->max_len);
    return is->dim[1];
}

/* ---------------------------------------------------------------- losses */

dlt_t dlt_token_loss(dlt_graph *g, dlt_t logits, dlt_t labels, dlt_reduction red)
{
    const dlt_shape *ls = dlt_shape_of(g, logits), *ys = dlt_shape_of(g, labels);
    if (!ls || !ys)
        return -1;
    if (ls->ndim != 3 || ys->ndim != 2 || ys->dim[0] != ls->dim[0] || ys->dim[1] != ls->dim[1])
        return dlt_graph_fail(g, DLT_ERR_SHAPE,
                              "token loss: logits must be [B, T, V] and labels [B, T]");
    int64_t n = ls->dim[0] * ls->dim[1], d2[2] = {n, ls->dim[2]};
    return dlt_cross_entropy(g, dlt_reshape(g, logits, 2, d2), dlt_reshape(g, labels, 1, &n),
                             DLT_IGNORE_INDEX, 0.f, red);
}

dlt_t dlt_mlm_loss(dlt_graph *g, dlt_t mlm_logits, dlt_t labels, dlt_reduction red)
{
    return dlt_token_loss(g, mlm_logits, labels, red);
}

dlt_t dlt_nsp_loss(dlt_graph *g, dlt_t nsp_logits, dlt_t labels, dlt_reduction red)
{
    return dlt_cross_entropy(g, nsp_logits, labels, DLT_IGNORE_INDEX, 0.f, red);
}

/* Shifting the labels instead of the logits: labels[:, 1:] padded with one
 * ignored column keeps the [B, T, V] logits uncopied. */
dlt_t dlt_causal_lm_loss(dlt_graph *g, dlt_t logits, dlt_t labels, dlt_reduction red)
{
    const dlt_shape *ys = dlt_shape_of(g, labels);
    if (!ys)
        return -1;
    if (ys->ndim != 2 || ys->dim[1] < 2)
        return dlt_graph_fail(g, DLT_ERR_SHAPE,
                              "causal LM loss: labels must be [B, T] with T >= 2");
    int64_t before[2] = {0, 0}, after[2] = {0, 1};
    dlt_t next = dlt_slice_axis(g, labels, 1, 1, DLT_SLICE_END, 1);
    dlt_t shifted = dlt_pad(g, next, before, after, DLT_PAD_CONSTANT, (float)DLT_IGNORE_INDEX);
    return dlt_token_loss(g, logits, shifted, red);
}

int64_t dlt_count_params(const dlt_graph *g)
{
    int64_t n = 0;
    for (int v = 0; v < dlt_graph_num_values(g); v++)
        if (dlt_kind_of(g, v) == DLT_VAL_PARAM)
            n += dlt_shape_numel(dlt_shape_of(g, v));
    return n;
}
