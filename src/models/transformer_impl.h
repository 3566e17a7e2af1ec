/* Private to the transformer builders (bert.c, gpt.c, transformer_seq2seq.c,
 * transformer_common.c): shared layers. Each takes the scope it names. */
#ifndef DLT_TRANSFORMER_IMPL_H
#define DLT_TRANSFORMER_IMPL_H

#include "dlt_transformer.h"

/* torch.nn.Linear layout (weight [out, in]) with an explicit initialiser, bias 0. */
dlt_t dlt_tf_linear(dlt_graph *g, const char *name, dlt_t x, int out, dlt_init w_init);
/* GPT-2 Conv1D layout (weight [in, out], y = x W + b), bias 0. */
dlt_t dlt_tf_conv1d(dlt_graph *g, const char *name, dlt_t x, int out, double std);
dlt_t dlt_tf_layer_norm(dlt_graph *g, const char *name, dlt_t x, float eps);
/* q [B, Tq, C], k, v [B, Tk, C] -> softmax(q k^T / sqrt(C / heads) + masks) v [B, Tq, C]. */
/* The same on q, k, v packed in one [B, T, 3C] tensor (GPT-2's c_attn output:
 * q's C columns, then k's, then v's), with no split and no concat. */
dlt_t dlt_tf_packed_attention(dlt_graph *g, dlt_t qkv, int heads, dlt_t mask, int causal, float dropout);
dlt_t dlt_tf_heads_attention(dlt_graph *g, dlt_t q, dlt_t k, dlt_t v, int heads, dlt_t mask,
                             int causal, float dropout);
/* Rows [0, T) of a position table [max_len, C]: [T, C] (broadcasts over the batch). */
dlt_t dlt_tf_positions(dlt_graph *g, dlt_t table, int64_t T);
/* Token ids [B, T]: checks rank, dtype and T <= max_len; returns T (-1 on error). */
int64_t dlt_tf_check_ids(dlt_graph *g, const dlt_transformer_spec *s, dlt_t ids, const char *what);

#endif
