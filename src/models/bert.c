/* BERT (Devlin et al. 2018) as Hugging Face's BertForPreTraining computes it:
 * post-LN encoder layers, learned positions, token types, embedding
 * LayerNorm + dropout, tanh pooler on the first token, MLM head (dense, GELU,
 * LayerNorm, decoder tied to the word embeddings plus its own bias) and NSP
 * head. The MLM head may run on a fixed number of gathered positions per
 * sequence instead of all of them (DESIGN.md decision 5: fixed maxima, the
 * unused slots ignored by the loss): the vocabulary projection is the
 * costliest layer of a small BERT, and only the masked tokens have labels. */
#include <math.h>
#include <stdint.h>

#include "transformer_impl.h"

static dlt_t bert_embeddings(dlt_graph *g, const dlt_transformer_spec *s, dlt_t ids, dlt_t types,
                             int64_t T, dlt_t *word_table)
{
    int64_t C = s->hidden, wd[2] = {s->vocab, C}, pd[2] = {s->max_len, C},
            td[2] = {s->type_vocab, C};
    dlt_init init = dlt_init_normal(0, s->init_std);
    dlt_scope_push(g, "embeddings");
    dlt_t wte = *word_table = dlt_param(g, "word_embeddings.weight", 2, wd, init);
    dlt_t wpe = dlt_param(g, "position_embeddings.weight", 2, pd, init);
    dlt_t wtt = dlt_param(g, "token_type_embeddings.weight", 2, td, init);
    dlt_t x = dlt_add(g, dlt_embedding(g, wte, ids), dlt_tf_positions(g, wpe, T));
    /* no token types: every token is type 0, one broadcast row */
    dlt_t tt = types >= 0 ? dlt_embedding(g, wtt, types) : dlt_slice_axis(g, wtt, 0, 0, 1, 1);
    x = dlt_add(g, x, tt);
    x = dlt_tf_layer_norm(g, "LayerNorm", x, s->layer_norm_eps);
    x = dlt_dropout(g, x, s->hidden_dropout);
    dlt_scope_pop(g);
    return x;
}

static dlt_t bert_layer(dlt_graph *g, const dlt_transformer_spec *s, dlt_t x, dlt_t mask)
{
    dlt_init init = dlt_init_normal(0, s->init_std);
    int C = s->hidden;
    dlt_scope_push(g, "attention");
    dlt_scope_push(g, "self");
    dlt_t q = dlt_tf_linear(g, "query", x, C, init);
    dlt_t k = dlt_tf_linear(g, "key", x, C, init);
    dlt_t v = dlt_tf_linear(g, "value", x, C, init);
    dlt_t a = dlt_tf_heads_attention(g, q, k, v, s->heads, mask, 0, s->attn_dropout);
    dlt_scope_pop(g);
    dlt_scope_push(g, "output");
    a = dlt_dropout(g, dlt_tf_linear(g, "dense", a, C, init), s->hidden_dropout);
    x = dlt_tf_layer_norm(g, "LayerNorm", dlt_add(g, x, a), s->layer_norm_eps);
    dlt_scope_pop(g);
    dlt_scope_pop(g);
    dlt_scope_push(g, "intermediate");
    dlt_t h = dlt_gelu(g, dlt_tf_linear(g, "dense", x, s->intermediate, init), s->gelu);
    dlt_scope_pop(g);
    dlt_scope_push(g, "output");
    h = dlt_dropout(g, dlt_tf_linear(g, "dense", h, C, init), s->hidden_dropout);
    x = dlt_tf_layer_norm(g, "LayerNorm", dlt_add(g, x, h), s->layer_norm_eps);
    dlt_scope_pop(g);
    return x;
}

static dlt_t bert_pooler(dlt_graph *g, const dlt_transformer_spec *s, dlt_t seq)
{
    const dlt_shape *ss = dlt_shape_of(g, seq);
    if (!ss)
        return -1;
    int64_t d[2] = {ss->dim[0], ss->dim[2]};
    dlt_t cls = dlt_reshape(g, dlt_slice_axis(g, seq, 1, 0, 1, 1), 2, d);
    dlt_scope_push(g, "pooler");
    dlt_t y =
        dlt_tanh(g, dlt_tf_linear(g, "dense", cls, s->hidden, dlt_init_normal(0, s->init_std)));
    dlt_scope_pop(g);
    return y;
}

/* cls.predictions: transform (dense, GELU, LayerNorm), then the word
 * embeddings transposed (tied) plus cls.predictions.bias. */
static dlt_t bert_mlm_head(dlt_graph *g, const dlt_transformer_spec *s, dlt_t seq, dlt_t wte)
{
    int64_t vd[1] = {s->vocab};
    dlt_scope_push(g, "predictions");
    dlt_scope_push(g, "transform");
    dlt_t h = dlt_gelu(
        g, dlt_tf_linear(g, "dense", seq, s->hidden, dlt_init_normal(0, s->init_std)), s->gelu);
    h = dlt_tf_layer_norm(g, "LayerNorm", h, s->layer_norm_eps);
    dlt_scope_pop(g);
    dlt_t bias = dlt_param(g, "bias", 1, vd, dlt_init_const(0));
    dlt_t y = dlt_add(g, dlt_matmul(g, h, wte, 0, 1), bias);
    dlt_scope_pop(g);
    return y;
}

/* seq [B, T, C] at positions i32 [B, P] -> [B, P, C]: torch.gather along T
 * with the positions repeated over C (so the step checks each is in [0, T),
 * and the gradient is gather's deterministic scatter-add). */
static dlt_t bert_gather_positions(dlt_graph *g, dlt_t seq, dlt_t pos)
{
    const dlt_shape *ss = dlt_shape_of(g, seq), *ps = dlt_shape_of(g, pos);
    if (!ss || !ps)
        return -1;
    if (ps->dtype != DLT_I32 || ps->ndim != 2 || ps->dim[0] != ss->dim[0])
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "bert: mlm_positions '%s' must be i32 [B, P] with B = %lld",
                              dlt_name_of(g, pos), (long long)ss->dim[0]);
    int64_t B = ps->dim[0], P = ps->dim[1], d3[3] = {B, P, 1};
    dlt_shape full = *ss;
    full.dim[1] = P;
    dlt_t f = dlt_reshape(g, dlt_cast(g, pos, DLT_F32, 1, 0, INT32_MIN, INT32_MAX), 3, d3);
    dlt_t idx = dlt_cast(g, dlt_broadcast_to(g, f, &full), DLT_I32, 1, 0, INT32_MIN, INT32_MAX);
    return dlt_gather(g, seq, 1, idx);
}

dlt_t dlt_bert(dlt_graph *g, const dlt_transformer_spec *s, dlt_t ids, dlt_t token_types,
               dlt_t mask, int heads, dlt_bert_out *out)
{
    return dlt_bert_at(g, s, ids, token_types, mask, heads, -1, out);
}

dlt_t dlt_bert_at(dlt_graph *g, const dlt_transformer_spec *s, dlt_t ids, dlt_t token_types,
                  dlt_t mask, int heads, dlt_t mlm_positions, dlt_bert_out *out)
{
    dlt_bert_out none = {-1, -1, -1, -1};
    if (out)
        *out = none;
    if (dlt_transformer_spec_check(s) != DLT_OK)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "%s", dlt_errmsg());
    int64_t T = dlt_tf_check_ids(g, s, ids, "ids");
    if (T < 0)
        return -1;
    if (token_types >= 0) {
        const dlt_shape *ts = dlt_shape_of(g, token_types), *is = dlt_shape_of(g, ids);
        if (!ts || !dlt_shape_equal(ts, is))
            return dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: token_types must have the shape of ids",
                                  s->arch);
    }
    dlt_scope_push(g, "bert");
    dlt_t wte;
    dlt_t x = bert_embeddings(g, s, ids, token_types, T, &wte);
    dlt_scope_push(g, "encoder");
    for (int i = 0; i < s->layers; i++) {
        dlt_scope_pushf(g, "layer.%d", i);
        x = bert_layer(g, s, x, mask);
        dlt_scope_pop(g);
    }
    dlt_scope_pop(g);
    dlt_t pooled = -1;
    if (heads & (DLT_BERT_POOLER | DLT_BERT_NSP))
        pooled = bert_pooler(g, s, x);
    dlt_scope_pop(g);
    dlt_t mlm = -1, nsp = -1;
    dlt_scope_push(g, "cls");
    if (heads & DLT_BERT_MLM)
        mlm = bert_mlm_head(g, s, mlm_positions >= 0 ? bert_gather_positions(g, x, mlm_positions) : x,
                            wte);
    if (heads & DLT_BERT_NSP)
        nsp = dlt_tf_linear(g, "seq_relationship", pooled, 2, dlt_init_normal(0, s->init_std));
    dlt_scope_pop(g);
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (out) {
        out->sequence = x;
        out->pooled = pooled;
        out->mlm_logits = mlm;
        out->nsp_logits = nsp;
    }
    return x;
}
