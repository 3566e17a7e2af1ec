/* Transformer model builders: BERT (post-LN encoder with pre-training heads),
 * GPT-2 (pre-LN causal decoder) and the encoder-decoder Transformer of
 * Vaswani et al. (post-LN, sinusoidal positions, cross-attention), plus their
 * losses. Builders only add nodes and parameters; attention runs through
 * dlt_attention (src/ops), in the [B, T, H, D] layout so no permutes are needed.
 *
 * Parameter names follow Hugging Face's checkpoints, so they map one to one:
 *   BERT (BertForPreTraining):
 *     bert.embeddings.{word_embeddings,position_embeddings,token_type_embeddings}.weight
 *     bert.embeddings.LayerNorm.{weight,bias}
 *     bert.encoder.layer.<i>.attention.self.{query,key,value}.{weight,bias}
 *     bert.encoder.layer.<i>.attention.output.dense.{weight,bias}
 *     bert.encoder.layer.<i>.attention.output.LayerNorm.{weight,bias}
 *     bert.encoder.layer.<i>.intermediate.dense.{weight,bias}
 *     bert.encoder.layer.<i>.output.dense.{weight,bias}, .output.LayerNorm.{weight,bias}
 *     bert.pooler.dense.{weight,bias}
 *     cls.predictions.transform.dense.{weight,bias},
 * cls.predictions.transform.LayerNorm.{weight,bias} cls.predictions.bias   (the decoder weight is
 * the word embedding, tied) cls.seq_relationship.{weight,bias} Linear weights are [out, in] as
 * torch.nn.Linear. GPT-2 (GPT2LMHeadModel): transformer.{wte,wpe}.weight,
 * transformer.ln_f.{weight,bias} transformer.h.<i>.ln_1/ln_2.{weight,bias}
 *     transformer.h.<i>.attn.c_attn.{weight,bias}  (weight [C, 3C]: q, k, v columns)
 *     transformer.h.<i>.attn.c_proj, .mlp.c_fc, .mlp.c_proj
 *   GPT-2's weights are Conv1D layout [in, out] (y = x W + b), as in its
 *   checkpoints; lm_head is the transposed wte (tied).
 *   Encoder-decoder (torch.nn.TransformerEncoderLayer/DecoderLayer names):
 *     embed_tokens.weight (shared by encoder, decoder and the output projection)
 *     encoder.layers.<i>.self_attn.{in_proj_weight [3C, C], in_proj_bias, out_proj.weight,
 * out_proj.bias} encoder.layers.<i>.{linear1,linear2,norm1,norm2}.{weight,bias}
 *     decoder.layers.<i>.self_attn.*, .multihead_attn.* (cross-attention), linear1/2, norm1/2/3
 *
 * Initialisation follows the reference implementations: BERT and GPT-2 draw
 * weights from N(0, init_std^2) (GPT-2's residual projections c_proj from
 * N(0, (init_std / sqrt(2 layers))^2)), biases 0, LayerNorm 1/0; the
 * encoder-decoder uses Xavier-uniform weights and N(0, C^-1) embeddings. */
#ifndef DLT_TRANSFORMER_H
#define DLT_TRANSFORMER_H

#include "dlt_core.h"
#include "dlt_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { DLT_TF_BERT = 0, DLT_TF_GPT, DLT_TF_SEQ2SEQ } dlt_tf_family;

typedef struct {
    char arch[32];
    dlt_tf_family family;
    int vocab;      /* shared source/target vocabulary for seq2seq */
    int max_len;    /* positions (learned tables; checked for sinusoidal ones) */
    int type_vocab; /* BERT token types (segments) */
    int layers;     /* encoder layers (BERT, seq2seq) or decoder blocks (GPT) */
    int dec_layers; /* seq2seq decoder layers */
    int hidden, heads, intermediate;
    float hidden_dropout; /* embeddings, residual branches (and the FFN of seq2seq) */
    float attn_dropout;   /* attention probabilities */
    float layer_norm_eps;
    float init_std;
    dlt_gelu_approx gelu; /* BERT: exact; GPT-2: tanh ("gelu_new") */
} dlt_transformer_spec;

/* Sizes (layers/hidden/heads):
 *   bert-tiny 2/128/2, bert-mini 4/256/4, bert-small 4/512/8, bert-medium 8/512/8,
 *   bert-base 12/768/12, bert-large 24/1024/16 (vocab 30522, 512 positions,
 *   2 token types, intermediate 4 hidden, dropout 0.1, eps 1e-12, std 0.02);
 *   gpt-tiny 2/128/2, gpt-mini 4/256/4, gpt-small 6/512/8, gpt2 12/768/12 (124M),
 *   gpt2-medium 24/1024/16 (350M) (vocab 50257, 1024 positions, dropout 0.1,
 *   eps 1e-5, tanh GELU);
 *   transformer-tiny 2+2/128/2, transformer-base 6+6/512/8 (FFN 2048),
 *   transformer-big 6+6/1024/16 (FFN 4096, dropout 0.3) (vocab 37000, eps 1e-5).
 * DLT_ERR_INVALID lists the known names when arch is unknown. */
dlt_status dlt_transformer_spec_default(const char *arch, dlt_transformer_spec *s);
const char *dlt_transformer_archs(void);
/* The spec as key/values (docs/models.md maps them onto BertConfig and
 * GPT2Config). */
void dlt_transformer_describe(const dlt_transformer_spec *s, dlt_kvlist *kv);
/* Checks a spec (positive sizes, heads dividing hidden, dropouts in [0, 1)). */
dlt_status dlt_transformer_spec_check(const dlt_transformer_spec *s);

/* ---- BERT */
enum { DLT_BERT_POOLER = 1, DLT_BERT_MLM = 2, DLT_BERT_NSP = 4, DLT_BERT_PRETRAIN = 7 };
typedef struct {
    dlt_t sequence;   /* [B, T, C] last encoder layer */
    dlt_t pooled;     /* [B, C] tanh(dense(sequence[:, 0])) (-1 without the pooler) */
    dlt_t mlm_logits; /* [B, T, vocab], [B, P, vocab] from dlt_bert_at (-1 without DLT_BERT_MLM) */
    dlt_t nsp_logits; /* [B, 2] (-1 without DLT_BERT_NSP) */
} dlt_bert_out;
/* ids i32 [B, T] (T <= max_len); token_types i32 [B, T] or -1 (all type 0);
 * mask: key padding as dlt_attention takes it (i32 [B] lengths, i32 [B, T]
 * keep flags as Hugging Face's attention_mask, f32 [B, T] additive) or -1.
 * heads: DLT_BERT_* flags (NSP implies the pooler). Returns out->sequence. */
dlt_t dlt_bert(dlt_graph *g, const dlt_transformer_spec *s, dlt_t ids, dlt_t token_types,
               dlt_t mask, int heads, dlt_bert_out *out);
/* dlt_bert with the MLM head evaluated at mlm_positions only: i32 [B, P],
 * positions in [0, T) of each sequence (the shards' masked_lm_positions;
 * checked when the step runs), out->mlm_logits [B, P, vocab]. A fixed P (the
 * data's max_predictions) with the unused slots pointing anywhere valid, say 0,
 * and labelled -100 gives the all-positions MLM loss and gradients with
 * labels [B, P] (the masked tokens' ids) instead of [B, T], at P / T of the
 * head's cost. mlm_positions -1: every position, as dlt_bert. */
dlt_t dlt_bert_at(dlt_graph *g, const dlt_transformer_spec *s, dlt_t ids, dlt_t token_types,
                  dlt_t mask, int heads, dlt_t mlm_positions, dlt_bert_out *out);

/* ---- GPT-2: ids i32 [B, T] -> logits [B, T, vocab]; *hidden (may be NULL)
 * receives the final LayerNorm's output [B, T, C]. */
dlt_t dlt_gpt(dlt_graph *g, const dlt_transformer_spec *s, dlt_t ids, dlt_t *hidden);

/* ---- Encoder-decoder: src i32 [B, S], src_mask (key padding of the source,
 * as for dlt_bert, or -1), tgt i32 [B, T] (decoder input, e.g. BOS + target
 * shifted right) -> logits [B, T, vocab]. Embeddings are scaled by sqrt(C). */
dlt_t dlt_seq2seq(dlt_graph *g, const dlt_transformer_spec *s, dlt_t src, dlt_t src_mask,
                  dlt_t tgt);

/* ---- Losses (scalars). Labels equal to -100 are ignored; MEAN divides by
 * the number of the others (SUM is what a data-parallel trainer divides by
 * the global count). */
#define DLT_IGNORE_INDEX (-100)
/* Cross-entropy of logits [B, T, V] against labels i32 [B, T] (MLM: -100 at
 * unmasked positions, or logits [B, P, V] of dlt_bert_at against the masked
 * tokens [B, P], -100 at unused slots; seq2seq: the target tokens, -100 at
 * padding). */
dlt_t dlt_token_loss(dlt_graph *g, dlt_t logits, dlt_t labels, dlt_reduction red);
dlt_t dlt_mlm_loss(dlt_graph *g, dlt_t mlm_logits, dlt_t labels, dlt_reduction red);
/* nsp_logits [B, 2], labels i32 [B] (0: B follows A, 1: random). */
dlt_t dlt_nsp_loss(dlt_graph *g, dlt_t nsp_logits, dlt_t labels, dlt_reduction red);
/* Next-token loss: position t predicts labels[:, t + 1] (the last position
 * predicts nothing), as Hugging Face's GPT2LMHeadModel with labels = ids. */
dlt_t dlt_causal_lm_loss(dlt_graph *g, dlt_t logits, dlt_t labels, dlt_reduction red);

/* Trainable parameters created so far in g (elements). */
int64_t dlt_count_params(const dlt_graph *g);

#ifdef __cplusplus
}
#endif
#endif
