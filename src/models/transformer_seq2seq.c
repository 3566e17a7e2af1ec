/* The encoder-decoder Transformer of Vaswani et al. (2017): post-LN layers
 * (x = LN(x + dropout(sublayer(x)))), sinusoidal positions added to the
 * embeddings scaled by sqrt(C), one embedding table shared by the source,
 * the target and the pre-softmax projection (§3.4), ReLU feed-forward.
 * Layer and parameter names are torch.nn.TransformerEncoderLayer's and
 * TransformerDecoderLayer's (fused in_proj_weight [3C, C]). */
#include <math.h>
#include <stdlib.h>

#include "transformer_impl.h"

/* PE(t, 2i) = sin(t / 10000^(2i/C)), PE(t, 2i+1) = cos(...), as a constant [T, C]. */
static dlt_t sinusoid(dlt_graph *g, int64_t T, int64_t C)
{
    float *pe = malloc((size_t)(T * C) * sizeof *pe);
    if (!pe)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory for positions");
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < C; i += 2) {
            double a = (double)t / pow(10000.0, (double)i / (double)C);
            pe[t * C + i] = (float)sin(a);
            if (i + 1 < C)
                pe[t * C + i + 1] = (float)cos(a);
        }
    int64_t d[2] = {T, C};
    dlt_t c = dlt_constant(g, DLT_F32, 2, d, pe);
    free(pe);
    return c;
}

/* torch.nn.MultiheadAttention with in_proj_weight/in_proj_bias and out_proj:
 * self-attention projects x once into [q | k | v]; cross-attention projects
 * the queries with the first C rows and the memory with the other 2C. */
static dlt_t mha(dlt_graph *g, const dlt_transformer_spec *s, const char *name, dlt_t x, dlt_t mem,
                 dlt_t mask, int causal)
{
    int64_t C = s->hidden, wd[2] = {3 * C, C}, bd[1] = {3 * C};
    dlt_scope_push(g, name);
    dlt_t w = dlt_param(g, "in_proj_weight", 2, wd, dlt_init_xavier(DLT_INIT_XAVIER_UNIFORM, 1.0));
    dlt_t b = dlt_param(g, "in_proj_bias", 1, bd, dlt_init_const(0));
    dlt_t q, k, v, p[3];
    if (mem < 0) {
        dlt_split(g, dlt_linear(g, x, w, b), -1, 3, NULL, p);
        q = p[0], k = p[1], v = p[2];
    } else {
        int64_t sz[2] = {C, 2 * C};
        dlt_t ws[2], bs[2];
        dlt_split(g, w, 0, 2, sz, ws);
        dlt_split(g, b, 0, 2, sz, bs);
        q = dlt_linear(g, x, ws[0], bs[0]);
        dlt_split(g, dlt_linear(g, mem, ws[1], bs[1]), -1, 2, NULL, p);
        k = p[0], v = p[1];
    }
    dlt_t a = dlt_tf_heads_attention(g, q, k, v, s->heads, mask, causal, s->attn_dropout);
    /* torch's out_proj: NonDynamicallyQuantizableLinear, default Linear init
     * replaced by Xavier in nn.Transformer._reset_parameters */
    a = dlt_tf_linear(g, "out_proj", a, (int)C, dlt_init_xavier(DLT_INIT_XAVIER_UNIFORM, 1.0));
    dlt_scope_pop(g);
    return a;
}

static dlt_t residual(dlt_graph *g, const dlt_transformer_spec *s, const char *norm, dlt_t x,
                      dlt_t branch)
{
    return dlt_tf_layer_norm(g, norm, dlt_add(g, x, dlt_dropout(g, branch, s->hidden_dropout)),
                             s->layer_norm_eps);
}

static dlt_t ffn(dlt_graph *g, const dlt_transformer_spec *s, dlt_t x)
{
    dlt_init xav = dlt_init_xavier(DLT_INIT_XAVIER_UNIFORM, 1.0);
    dlt_t h = dlt_relu(g, dlt_tf_linear(g, "linear1", x, s->intermediate, xav));
    return dlt_tf_linear(g, "linear2", dlt_dropout(g, h, s->hidden_dropout), s->hidden, xav);
}

static dlt_t embed(dlt_graph *g, const dlt_transformer_spec *s, dlt_t table, dlt_t ids, int64_t T)
{
    dlt_t e = dlt_affine(g, dlt_embedding(g, table, ids), (float)sqrt((double)s->hidden), 0.f);
    return dlt_dropout(g, dlt_add(g, e, sinusoid(g, T, s->hidden)), s->hidden_dropout);
}

dlt_t dlt_seq2seq(dlt_graph *g, const dlt_transformer_spec *s, dlt_t src, dlt_t src_mask, dlt_t tgt)
{
    if (dlt_transformer_spec_check(s) != DLT_OK)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "%s", dlt_errmsg());
    int64_t S = dlt_tf_check_ids(g, s, src, "src"), T = dlt_tf_check_ids(g, s, tgt, "tgt");
    if (S < 0 || T < 0)
        return -1;
    if (dlt_shape_of(g, src)->dim[0] != dlt_shape_of(g, tgt)->dim[0])
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: src and tgt must have the same batch size",
                              s->arch);
    int64_t wd[2] = {s->vocab, s->hidden};
    dlt_t table =
        dlt_param(g, "embed_tokens.weight", 2, wd, dlt_init_normal(0, pow(s->hidden, -0.5)));
    dlt_t x = embed(g, s, table, src, S);
    dlt_scope_push(g, "encoder");
    for (int i = 0; i < s->layers; i++) {
        dlt_scope_pushf(g, "layers.%d", i);
        x = residual(g, s, "norm1", x, mha(g, s, "self_attn", x, -1, src_mask, 0));
        x = residual(g, s, "norm2", x, ffn(g, s, x));
        dlt_scope_pop(g);
    }
    dlt_scope_pop(g);
    dlt_t mem = x;
    dlt_t y = embed(g, s, table, tgt, T);
    dlt_scope_push(g, "decoder");
    for (int i = 0; i < s->dec_layers; i++) {
        dlt_scope_pushf(g, "layers.%d", i);
        y = residual(g, s, "norm1", y, mha(g, s, "self_attn", y, -1, -1, 1));
        y = residual(g, s, "norm2", y, mha(g, s, "multihead_attn", y, mem, src_mask, 0));
        y = residual(g, s, "norm3", y, ffn(g, s, y));
        dlt_scope_pop(g);
    }
    dlt_scope_pop(g);
    dlt_t logits = dlt_matmul(g, y, table, 0, 1);
    return dlt_graph_status(g) == DLT_OK ? logits : -1;
}
