/* dltrain text: tokenizers (BERT WordPiece, GPT-2 byte-level BPE), the dlprep text
 * pipeline (corpus -> documents -> sentences -> GPT token streams in text-tokens
 * shards or BERT pretraining instances in bert-pretraining shards, docs/formats.md)
 * and the text loader that feeds language-model training. */
#ifndef DLT_TEXT_H
#define DLT_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "dlt_data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------------- tokenizers */

typedef enum { DLT_TOK_WORDPIECE = 0, DLT_TOK_BPE } dlt_tokenizer_type;

/* WordPiece vocabularies start with these five tokens. */
enum { DLT_WP_PAD = 0, DLT_WP_UNK = 1, DLT_WP_CLS = 2, DLT_WP_SEP = 3, DLT_WP_MASK = 4 };
#define DLT_WP_MAX_WORD_CHARS 100 /* longer words encode as [UNK] */
#define DLT_BPE_EOT "<|endoftext|>" /* the last id of a BPE vocabulary */

typedef struct dlt_tokenizer dlt_tokenizer;

typedef struct {
    dlt_tokenizer_type type;
    int vocab_size;         /* target size, special tokens (and BPE's 256 bytes) included */
    int64_t min_pair_count; /* merging stops when the best pair is rarer; default 2 */
    int lowercase;          /* WordPiece: lower-case and strip accents (default 1) */
} dlt_tokenizer_train_opts;

/* WordPiece 30522, BPE 50257, min_pair_count 2, lowercase 1. */
void dlt_tokenizer_train_opts_default(dlt_tokenizer_train_opts *o, dlt_tokenizer_type type);

/* Training: feed texts (word counts are kept, not the texts), then fit. */
typedef struct dlt_tokenizer_trainer dlt_tokenizer_trainer;
dlt_status dlt_tokenizer_trainer_new(const dlt_tokenizer_train_opts *o,
                                     dlt_tokenizer_trainer **out);
dlt_status dlt_tokenizer_trainer_feed(dlt_tokenizer_trainer *t, const char *text, size_t n);
/* Learns the vocabulary (and merges); frees t whatever the outcome. */
dlt_status dlt_tokenizer_trainer_finish(dlt_tokenizer_trainer *t, dlt_tokenizer **out);
void dlt_tokenizer_trainer_free(dlt_tokenizer_trainer *t);

/* A tokenizer from a stored vocabulary (and, for BPE, merges "left right" in rank
 * order), as dlt_tokenizer_token/merge give them and shards store them. */
dlt_status dlt_tokenizer_from_vocab(dlt_tokenizer_type type, const char *const *vocab, int n,
                                    const char *const *merges, int nmerges, int lowercase,
                                    dlt_tokenizer **out);
/* From a text shard's info (attribute "tokenizer", vocab, merges). */
dlt_status dlt_tokenizer_from_shard(const dlt_shard_info *info, dlt_tokenizer **out);
void dlt_tokenizer_free(dlt_tokenizer *t);

dlt_tokenizer_type dlt_tokenizer_get_type(const dlt_tokenizer *t);
const char *dlt_tokenizer_type_name(dlt_tokenizer_type type); /* "wordpiece", "bpe" */
dlt_status dlt_tokenizer_type_parse(const char *name, dlt_tokenizer_type *type);
int dlt_tokenizer_vocab_size(const dlt_tokenizer *t);
const char *dlt_tokenizer_token(const dlt_tokenizer *t, int id); /* NULL outside the vocab */
int dlt_tokenizer_id(const dlt_tokenizer *t, const char *token);  /* -1: not in the vocab */
int dlt_tokenizer_num_merges(const dlt_tokenizer *t);
const char *dlt_tokenizer_merge(const dlt_tokenizer *t, int rank);
const char *const *dlt_tokenizer_vocab(const dlt_tokenizer *t);
const char *const *dlt_tokenizer_merges(const dlt_tokenizer *t);

/* Ids of the special tokens; -1 where the tokenizer has none. WordPiece: pad, unk,
 * cls, sep, mask, and eot = sep; BPE: eot only. */
typedef struct {
    int pad, unk, cls, sep, mask, eot;
} dlt_special_ids;
dlt_special_ids dlt_tokenizer_specials(const dlt_tokenizer *t);

/* A growable id array. */
typedef struct {
    int32_t *ids;
    int64_t n, cap;
} dlt_ids;
dlt_status dlt_ids_push(dlt_ids *v, int32_t id);
void dlt_ids_free(dlt_ids *v);

/* Appends the ids of text[0..n) to out. Not thread-safe on one tokenizer (BPE keeps
 * a cache of encoded pieces); use one tokenizer per thread, or dlt_tokenizer_clone. */
dlt_status dlt_tokenizer_encode(dlt_tokenizer *t, const char *text, size_t n, dlt_ids *out);
dlt_status dlt_tokenizer_clone(const dlt_tokenizer *t, dlt_tokenizer **out);
/* Text of ids into a malloc'd NUL-terminated string (*len bytes, NUL excluded; len may
 * be NULL). BPE returns the exact bytes that were encoded; WordPiece joins words
 * with single spaces and glues "##" continuations. */
dlt_status dlt_tokenizer_decode(const dlt_tokenizer *t, const int32_t *ids, int64_t n,
                                char **out, size_t *len);

/* Writes t into the folder dir as the files Hugging Face's tokenizers load
 * (docs/formats.md): BPE as GPT-2's vocab.json + merges.txt, WordPiece as
 * vocab.txt, with tokenizer_config.json (the class; model_max_length = max_len
 * when > 0) and special_tokens_map.json; each written to a temporary name and
 * renamed. files (may be NULL) gets the names written, comma-separated. */
dlt_status dlt_tokenizer_write_hf(const dlt_tokenizer *t, const char *dir, int max_len,
                                  char *files, size_t len);

/* The pieces behind the tokenizers, exposed for tests. A callback gets each piece. */
typedef void (*dlt_text_piece_fn)(const char *piece, size_t n, void *user);
/* BERT's basic tokenizer: drops control characters, splits on whitespace and
 * punctuation, isolates CJK characters; lowercase also lower-cases and strips
 * accents (Latin-1, Latin Extended-A, combining marks). Pieces are UTF-8 words. */
dlt_status dlt_text_basic_tokenize(const char *text, size_t n, int lowercase,
                                   dlt_text_piece_fn fn, void *user);
/* GPT-2's pre-tokenizer regex, approximated: 's 't 're 've 'm 'll 'd, ?letters,
 * ?digits, ?other, whitespace runs (all but the last character before a non-space).
 * Pieces are byte ranges of text; together they cover it exactly. */
void dlt_text_gpt2_pretokenize(const char *text, size_t n, dlt_text_piece_fn fn, void *user);
/* GPT-2's bytes_to_unicode: the printable code point that stands for byte b. */
uint32_t dlt_text_byte_to_unicode(uint8_t b);
/* Rule-based sentence splitter on one paragraph-free chunk of text: ends after
 * . ! ? (and closing quotes/brackets) before whitespace and an upper-case letter,
 * digit or opening quote, unless the word is a known abbreviation or an initial.
 * Pieces are trimmed sentences. */
void dlt_text_split_sentences(const char *text, size_t n, dlt_text_piece_fn fn, void *user);

/* --------------------------------------------------------- BERT instances */

/* A tokenized corpus: document d holds sentences doc_sent[d] .. doc_sent[d+1]-1,
 * sentence s holds tokens[sent_off[s] .. sent_off[s+1]). */
typedef struct {
    const int32_t *tokens;
    const int64_t *sent_off;
    const int64_t *doc_sent;
    int64_t ndocs;
} dlt_text_corpus;

typedef struct {
    int seq_len;            /* L: 128 */
    int max_predictions;    /* P: 20 */
    double masked_lm_prob;  /* 0.15 */
    double short_seq_prob;  /* 0.1 */
    int vocab_size;
    dlt_special_ids sp;     /* needs cls, sep, mask, pad */
    int first_normal_id;    /* random replacements are drawn from [first_normal_id, V) */
    uint64_t seed;
    int count_only;         /* skip masking: instance boundaries do not depend on it */
} dlt_bert_opts;

typedef struct {
    int32_t *input_ids;      /* [L] */
    uint8_t *token_type_ids; /* [L] */
    int32_t length;          /* [CLS] A [SEP] B [SEP] */
    int32_t *mlm_positions;  /* [P] */
    int32_t *mlm_ids;        /* [P] original ids at the positions */
    float *mlm_weights;      /* [P] 1 for real predictions, 0 for padding */
    int32_t num_predictions;
    int32_t next_sentence_label; /* 0: B follows A, 1: B is random */
} dlt_bert_instance;

void dlt_bert_opts_default(dlt_bert_opts *o);
/* The instances of document `doc` in duplication round `round`, as Google's
 * create_pretraining_data.py makes them; fn returns nonzero to stop. Deterministic
 * in (seed, round, doc). */
dlt_status dlt_bert_document_instances(const dlt_text_corpus *c, int64_t doc, int round,
                                       const dlt_bert_opts *o,
                                       int (*fn)(const dlt_bert_instance *x, void *user),
                                       void *user);

/* ------------------------------------------------------- the dlprep pipeline */

typedef enum { DLT_TEXT_GPT = 0, DLT_TEXT_BERT } dlt_text_target;
typedef enum { DLT_DOCS_FILE = 0, DLT_DOCS_BLANK_LINE } dlt_doc_split;

typedef struct {
    dlt_text_target target;
    dlt_tokenizer_type tokenizer;
    int vocab_size;         /* 0: 30522 (WordPiece) or 50257 (BPE) */
    int lowercase;          /* WordPiece */
    dlt_doc_split docs;     /* one document per file, or blank-line separated */
    const char *extensions; /* files taken from folders; NULL: "txt,rst,md,text,html,htm" (+.gz) */
    const char *vocab_from; /* reuse the tokenizer stored in this text shard */
    int threads;            /* encoding threads; 0: 4 */
    dlt_bert_opts bert;     /* BERT target; seed comes from the dlt_convert_opts */
    int dupe_factor;        /* BERT: rounds of instances with fresh pairs and masks; 5 */
} dlt_text_prep_opts;

void dlt_text_prep_opts_default(dlt_text_prep_opts *o);

typedef struct {
    int64_t files, bytes, documents, sentences, tokens;
    int64_t train_documents, val_documents;
    int64_t train_samples, val_samples; /* instances (BERT) or documents (GPT) */
    int64_t train_tokens, val_tokens;   /* GPT: tokens written with the separators */
    int vocab_size, num_merges;
    double read_s, train_s, encode_s, write_s;
} dlt_text_prep_stats;

/* inputs: files or folders (searched recursively, sorted). Writes OUT/PREFIX-*.h5
 * (and val-*.h5) as the other converters do; stats may be NULL. */
dlt_status dlt_text_prep(const char *const *inputs, int ninputs, const dlt_text_prep_opts *t,
                         const dlt_convert_opts *o, dlt_text_prep_stats *stats);

/* ------------------------------------------------------------ text loader */

typedef struct {
    const char *paths;       /* glob(s) of text-tokens (GPT) or bert-pretraining shards */
    int batch_size;          /* per rank */
    int seq_len;             /* GPT: T, windows of T + 1 tokens; BERT: 0 or the shards' L */
    int shuffle;
    uint64_t seed;
    int drop_last;           /* 1: drop the last incomplete global batch; 0: wrap around */
    int rank, world_size;
    int64_t inmem_threshold; /* see dlt_shard_open_opts */
    int verify;
} dlt_text_loader_config;

/* batch 8, seq_len 128, shuffle, seed 0, drop_last, rank 0 of 1, 256 MiB, verify 1. */
void dlt_text_loader_config_default(dlt_text_loader_config *c);

typedef struct {
    int size, valid;         /* as dlt_batch */
    int64_t epoch, step;
    int last_in_epoch;
    int seq_len;             /* GPT: T; BERT: L */
    int max_predictions;     /* BERT: P */
    int64_t *indices;        /* [size] global window or instance index */
    /* GPT: inputs are tokens[b, 0..T), targets tokens[b, 1..T] */
    int32_t *tokens;         /* [size, T + 1] */
    /* BERT */
    int32_t *input_ids;      /* [size, L] */
    int32_t *token_type_ids; /* [size, L] */
    float *attention_mask;   /* [size, L]: 1 for positions < length, else 0 */
    int32_t *mlm_positions;  /* [size, P] */
    int32_t *mlm_ids;        /* [size, P] */
    float *mlm_weights;      /* [size, P] */
    int32_t *nsp_labels;     /* [size] */
} dlt_text_batch;

typedef struct dlt_text_loader dlt_text_loader;

/* Window w of a GPT dataset is tokens [w*T, w*T + T + 1) of the token stream of all
 * shards (sorted glob order), so consecutive windows share one token; rank r's k-th
 * sample of step t is the epoch permutation's entry (t * W + r) * b + k, as in the
 * image loader. */
dlt_status dlt_text_loader_open(const dlt_text_loader_config *cfg, dlt_text_loader **out);
void dlt_text_loader_close(dlt_text_loader *l);
/* The batch stays valid until the next call to next, set_cursor or close. */
dlt_status dlt_text_loader_next(dlt_text_loader *l, dlt_text_batch *batch);
dlt_loader_cursor dlt_text_loader_get_cursor(const dlt_text_loader *l);
dlt_status dlt_text_loader_set_cursor(dlt_text_loader *l, dlt_loader_cursor c);
int dlt_text_loader_is_bert(const dlt_text_loader *l);
int64_t dlt_text_loader_num_samples(const dlt_text_loader *l); /* windows or instances */
int64_t dlt_text_loader_steps_per_epoch(const dlt_text_loader *l);
int dlt_text_loader_vocab_size(const dlt_text_loader *l);
/* The tokenizer stored with the first shard (for decoding); NULL when it has none. */
const dlt_tokenizer *dlt_text_loader_tokenizer(const dlt_text_loader *l);

#ifdef __cplusplus
}
#endif
#endif
