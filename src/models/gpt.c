/* GPT-2 (Radford et al. 2019) as Hugging Face's GPT2LMHeadModel computes it:
 * pre-LN causal blocks, learned positions, embedding dropout, final
 * LayerNorm, output projection tied to the token embeddings. Weights keep
 * GPT-2's Conv1D layout [in, out]; the fused c_attn projection holds q, k, v
 * along its output columns, which attention reads in place (packed layout). */
#include <math.h>

#include "transformer_impl.h"

static dlt_t gpt_block(dlt_graph *g, const dlt_transformer_spec *s, dlt_t x)
{
    int C = s->hidden;
    double std = s->init_std, proj_std = s->init_std / sqrt(2.0 * s->layers);
    dlt_t h = dlt_tf_layer_norm(g, "ln_1", x, s->layer_norm_eps);
    dlt_scope_push(g, "attn");
    dlt_t qkv = dlt_tf_conv1d(g, "c_attn", h, 3 * C, std);
    dlt_t a = dlt_tf_packed_attention(g, qkv, s->heads, -1, 1, s->attn_dropout);
    a = dlt_dropout(g, dlt_tf_conv1d(g, "c_proj", a, C, proj_std), s->hidden_dropout);
    dlt_scope_pop(g);
    x = dlt_add(g, x, a);
    h = dlt_tf_layer_norm(g, "ln_2", x, s->layer_norm_eps);
    dlt_scope_push(g, "mlp");
    h = dlt_gelu(g, dlt_tf_conv1d(g, "c_fc", h, s->intermediate, std), s->gelu);
    h = dlt_dropout(g, dlt_tf_conv1d(g, "c_proj", h, C, proj_std), s->hidden_dropout);
    dlt_scope_pop(g);
    return dlt_add(g, x, h);
}

dlt_t dlt_gpt(dlt_graph *g, const dlt_transformer_spec *s, dlt_t ids, dlt_t *hidden)
{
    if (hidden)
        *hidden = -1;
    if (dlt_transformer_spec_check(s) != DLT_OK)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "%s", dlt_errmsg());
    int64_t T = dlt_tf_check_ids(g, s, ids, "ids");
    if (T < 0)
        return -1;
    int64_t wd[2] = {s->vocab, s->hidden}, pd[2] = {s->max_len, s->hidden};
    dlt_scope_push(g, "transformer");
    dlt_t wte = dlt_param(g, "wte.weight", 2, wd, dlt_init_normal(0, s->init_std));
    /* GPT2Model initialises wpe like every embedding, N(0, 0.02^2) */
    dlt_t wpe = dlt_param(g, "wpe.weight", 2, pd, dlt_init_normal(0, s->init_std));
    dlt_t x = dlt_add(g, dlt_embedding(g, wte, ids), dlt_tf_positions(g, wpe, T));
    x = dlt_dropout(g, x, s->hidden_dropout);
    for (int i = 0; i < s->layers; i++) {
        dlt_scope_pushf(g, "h.%d", i);
        x = gpt_block(g, s, x);
        dlt_scope_pop(g);
    }
    x = dlt_tf_layer_norm(g, "ln_f", x, s->layer_norm_eps);
    dlt_scope_pop(g);
    dlt_t logits = dlt_matmul(g, x, wte, 0, 1);
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (hidden)
        *hidden = x;
    return logits;
}
