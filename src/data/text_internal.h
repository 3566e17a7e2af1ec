/* Private to src/data's text code: a byte-string hash map, UTF-8 and character
 * classes, a small RNG, and the tokenizer's innards shared by its files. */
#ifndef DLT_TEXT_INTERNAL_H
#define DLT_TEXT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dlt_text.h"

/* ---- byte-string -> int64 map (open addressing; keys copied into an arena) */
typedef struct {
    const char *key;
    uint32_t len;
    uint64_t hash;
    int64_t val;
} dlt_smap_slot;

typedef struct {
    dlt_smap_slot *slots;
    size_t cap, n;
    char **blocks; /* key arena */
    size_t nblocks, used, bcap;
} dlt_smap;

uint64_t dlt_text_hash(const void *p, size_t n);
/* The slot of key (creating it with val = init when absent); NULL on no memory. */
dlt_smap_slot *dlt_smap_put(dlt_smap *m, const char *key, size_t n, int64_t init, int *created);
/* val of key, or dflt. */
int64_t dlt_smap_get(const dlt_smap *m, const char *key, size_t n, int64_t dflt);
void dlt_smap_free(dlt_smap *m);

/* ---- integer pair (two int32) -> int64 map */
typedef struct {
    uint64_t *keys; /* (a << 32 | b) + 1; 0 = empty */
    int64_t *vals;
    size_t cap, n;
} dlt_pmap;

int64_t *dlt_pmap_put(dlt_pmap *m, int32_t a, int32_t b, int64_t init); /* NULL: no memory */
int64_t dlt_pmap_get(const dlt_pmap *m, int32_t a, int32_t b, int64_t dflt);
void dlt_pmap_free(dlt_pmap *m);

/* ---- UTF-8 */
/* Decodes one code point at s[0..n); *len = bytes used (>= 1). Invalid bytes give
 * 0xFFFD with length 1. */
uint32_t dlt_utf8_decode(const unsigned char *s, size_t n, int *len);
int dlt_utf8_encode(uint32_t cp, char *out); /* 1..4 bytes */

int dlt_uni_is_space(uint32_t c);
int dlt_uni_is_control(uint32_t c);
int dlt_uni_is_punct(uint32_t c);
int dlt_uni_is_cjk(uint32_t c);
int dlt_uni_is_letter(uint32_t c);
int dlt_uni_is_digit(uint32_t c);
uint32_t dlt_uni_lower(uint32_t c);
/* Base letter of a precomposed Latin letter (é -> e); 0: drop it (combining mark);
 * c itself otherwise. */
uint32_t dlt_uni_strip_accent(uint32_t c);

/* ---- RNG: splitmix64 stream */
typedef struct {
    uint64_t s;
} dlt_trng;
uint64_t dlt_trng_next(dlt_trng *r);
double dlt_trng_uniform(dlt_trng *r);                  /* [0, 1) */
int64_t dlt_trng_int(dlt_trng *r, int64_t lo, int64_t hi); /* lo..hi inclusive */

/* ---- tokenizer innards */
struct dlt_tokenizer {
    dlt_tokenizer_type type;
    int lowercase;
    char **vocab; /* id -> string as stored (BPE: GPT-2's printable form) */
    int nvocab;
    dlt_smap ids; /* string -> id */
    /* BPE */
    char **merges;
    int nmerges;
    dlt_pmap ranks;    /* (left, right) -> rank << 32 | merged id */
    int32_t byte_id[256];
    uint8_t **raw;     /* id -> raw bytes */
    uint32_t *rawlen;
    dlt_smap cache;    /* piece -> offset into cache_ids (low 40 bits) and count */
    dlt_ids cache_ids;
    int eot;
};

/* Builds the lookup tables of t from vocab (and merges); t->type, lowercase set. */
dlt_status dlt_tok_index(dlt_tokenizer *t);
dlt_status dlt_bpe_index(dlt_tokenizer *t);
dlt_status dlt_wordpiece_encode(dlt_tokenizer *t, const char *text, size_t n, dlt_ids *out);
dlt_status dlt_bpe_encode(dlt_tokenizer *t, const char *text, size_t n, dlt_ids *out);

/* Merge learning shared by both trainers. words[w] holds symbols (ids into syms)
 * with count counts[w]; syms[i] are raw byte strings (lens[i]). Learns merges
 * until nsyms reaches max_syms or the best pair is rarer than min_count; ties
 * go to the pair whose (left, right) raw strings compare smallest.
 * join(a, b) gives the merged symbol's raw string (BPE: a + b; WordPiece: a + b
 * without b's "##"). New symbols are appended to syms/lens (grown as needed);
 * merges_out[k] = (left, right, result) for each merge. */
typedef struct {
    int32_t **words;
    int32_t *wlen;
    int64_t *counts;
    int64_t nwords;
    char **syms;
    uint32_t *lens;
    int64_t nsyms, cap;
    int32_t (*merges)[3];
    int64_t nmerges;
    int wordpiece; /* join drops the "##" of the right symbol */
} dlt_merge_state;

dlt_status dlt_learn_merges(dlt_merge_state *s, int64_t max_syms, int64_t min_count,
                            dlt_smap *sym_ids);

#endif
