/* BERT pretraining instances as Google's create_pretraining_data.py makes them:
 * sentences of a document are packed into chunks up to a target length (shorter
 * with probability short_seq_prob); a chunk splits into A and B at a random
 * sentence; half of the time (always for one-sentence chunks) B is taken from a
 * random other document and the unused sentences go back to the document; then
 * 15% of the tokens (at most P) are predicted: 80% become [MASK], 10% a random
 * token, 10% stay. Differences: random tokens are drawn from the non-special ids;
 * the segment RNG is seeded per (seed, round, document) and the mask RNG per
 * instance, so instance boundaries do not depend on masking (count_only). */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

void dlt_bert_opts_default(dlt_bert_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seq_len = 128;
    o->max_predictions = 20;
    o->masked_lm_prob = 0.15;
    o->short_seq_prob = 0.1;
    o->sp = (dlt_special_ids){DLT_WP_PAD, DLT_WP_UNK, DLT_WP_CLS, DLT_WP_SEP, DLT_WP_MASK, -1};
    o->first_normal_id = 5;
}

static int64_t sent_len(const dlt_text_corpus *c, int64_t s)
{
    return c->sent_off[s + 1] - c->sent_off[s];
}

typedef struct {
    int32_t *a, *b;
    int64_t na, nb, cap;
} pairbuf;

static void append(int32_t *dst, int64_t *n, int64_t cap, const int32_t *src, int64_t k)
{
    if (*n + k > cap)
        k = cap - *n; /* longer than needed: truncation would drop the rest */
    memcpy(dst + *n, src, (size_t)k * sizeof *dst);
    *n += k;
}

/* Trims the longer of A and B, from the front or the back at random. */
static void truncate_pair(pairbuf *p, int64_t max_tokens, dlt_trng *r)
{
    while (p->na + p->nb > max_tokens) {
        int32_t *t = p->na > p->nb ? p->a : p->b;
        int64_t *n = p->na > p->nb ? &p->na : &p->nb;
        if (dlt_trng_uniform(r) < 0.5)
            memmove(t, t + 1, (size_t)(*n - 1) * sizeof *t);
        (*n)--;
    }
}

static void mask(dlt_bert_instance *x, const dlt_bert_opts *o, dlt_trng *r, int32_t *cand)
{
    int L = x->length, nc = 0;
    for (int i = 0; i < L; i++)
        if (x->input_ids[i] != o->sp.cls && x->input_ids[i] != o->sp.sep)
            cand[nc++] = i;
    for (int i = nc - 1; i > 0; i--) { /* shuffle the candidates */
        int j = (int)dlt_trng_int(r, 0, i), t = cand[i];
        cand[i] = cand[j], cand[j] = t;
    }
    int k = (int)(L * o->masked_lm_prob + 0.5);
    if (k < 1)
        k = 1;
    if (k > o->max_predictions)
        k = o->max_predictions;
    if (k > nc)
        k = nc;
    for (int i = 1; i < k; i++) /* predictions in position order */
        for (int j = i; j > 0 && cand[j - 1] > cand[j]; j--) {
            int t = cand[j];
            cand[j] = cand[j - 1], cand[j - 1] = t;
        }
    for (int i = 0; i < k; i++) {
        int p = cand[i];
        x->mlm_positions[i] = p;
        x->mlm_ids[i] = x->input_ids[p];
        x->mlm_weights[i] = 1.0f;
        double u = dlt_trng_uniform(r);
        if (u < 0.8)
            x->input_ids[p] = o->sp.mask;
        else if (u < 0.9)
            x->input_ids[p] = (int32_t)dlt_trng_int(r, o->first_normal_id, o->vocab_size - 1);
    }
    x->num_predictions = k;
}

static int emit(const dlt_text_corpus *c, pairbuf *p, int label, const dlt_bert_opts *o,
                uint64_t mseed, dlt_trng *r, dlt_bert_instance *x, int32_t *cand,
                int (*fn)(const dlt_bert_instance *, void *), void *user)
{
    (void)c;
    truncate_pair(p, o->seq_len - 3, r);
    int L = o->seq_len, P = o->max_predictions, n = 0;
    memset(x->input_ids, 0, (size_t)L * sizeof *x->input_ids);
    memset(x->token_type_ids, 0, (size_t)L);
    memset(x->mlm_positions, 0, (size_t)P * sizeof *x->mlm_positions);
    memset(x->mlm_ids, 0, (size_t)P * sizeof *x->mlm_ids);
    memset(x->mlm_weights, 0, (size_t)P * sizeof *x->mlm_weights);
    x->input_ids[n++] = o->sp.cls;
    for (int64_t i = 0; i < p->na; i++)
        x->input_ids[n++] = p->a[i];
    x->input_ids[n++] = o->sp.sep;
    for (int64_t i = 0; i < p->nb; i++)
        x->token_type_ids[n] = 1, x->input_ids[n++] = p->b[i];
    x->token_type_ids[n] = 1;
    x->input_ids[n++] = o->sp.sep;
    x->length = n;
    x->next_sentence_label = label;
    x->num_predictions = 0;
    if (!o->count_only) {
        dlt_trng mr = {mseed};
        mask(x, o, &mr, cand);
    }
    return fn(x, user);
}

dlt_status dlt_bert_document_instances(const dlt_text_corpus *c, int64_t doc, int round,
                                       const dlt_bert_opts *o,
                                       int (*fn)(const dlt_bert_instance *x, void *user),
                                       void *user)
{
    int L = o->seq_len, P = o->max_predictions;
    int64_t max_tokens = L - 3;
    if (L < 8 || P < 1 || o->sp.cls < 0 || o->sp.sep < 0 || o->sp.mask < 0)
        return dlt_seterr(DLT_ERR_INVALID, "BERT instances need seq_len >= 8, "
                          "max_predictions >= 1 and [CLS] [SEP] [MASK] tokens");
    int64_t s0 = c->doc_sent[doc], s1 = c->doc_sent[doc + 1];
    if (s1 <= s0)
        return DLT_OK;
    dlt_trng r = {dlt_data_hash(dlt_data_hash(o->seed, (uint64_t)round), (uint64_t)doc)};
    int64_t target = max_tokens;
    if (dlt_trng_uniform(&r) < o->short_seq_prob)
        target = dlt_trng_int(&r, 2, max_tokens);
    size_t cap = (size_t)L;
    pairbuf p = {malloc(cap * sizeof(int32_t)), malloc(cap * sizeof(int32_t)), 0, 0, (int64_t)cap};
    dlt_bert_instance x;
    x.input_ids = malloc((size_t)L * sizeof *x.input_ids);
    x.token_type_ids = malloc((size_t)L);
    x.mlm_positions = malloc((size_t)P * sizeof(int32_t));
    x.mlm_ids = malloc((size_t)P * sizeof(int32_t));
    x.mlm_weights = malloc((size_t)P * sizeof(float));
    int32_t *cand = malloc((size_t)L * sizeof *cand);
    dlt_status st = DLT_OK;
    if (!p.a || !p.b || !x.input_ids || !x.token_type_ids || !x.mlm_positions || !x.mlm_ids ||
        !x.mlm_weights || !cand)
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int64_t chunk0 = s0, cur_len = 0, ninst = 0;
    /* the buffers hold at most L tokens of A and B: enough, since truncation keeps
     * at most L - 3 of them together and only trims whole tokens from the ends of
     * the longer one; a longer A is cut to L before truncation, which changes
     * what is kept only for sentences longer than L (rare; documented) */
    for (int64_t i = s0; i < s1 && !st; i++) {
        cur_len += sent_len(c, i);
        if (i != s1 - 1 && cur_len < target)
            continue;
        int64_t nchunk = i - chunk0 + 1, a_end = 1;
        if (nchunk >= 2)
            a_end = dlt_trng_int(&r, 1, nchunk - 1);
        p.na = p.nb = 0;
        for (int64_t j = chunk0; j < chunk0 + a_end; j++)
            append(p.a, &p.na, p.cap, c->tokens + c->sent_off[j], sent_len(c, j));
        int label = 0;
        int64_t next = i + 1;
        if (nchunk == 1 || dlt_trng_uniform(&r) < 0.5) {
            label = 1;
            int64_t target_b = target - p.na, rd = doc;
            for (int k = 0; k < 10 && c->ndocs > 1; k++)
                if ((rd = dlt_trng_int(&r, 0, c->ndocs - 1)) != doc)
                    break;
            int64_t r0 = c->doc_sent[rd], r1 = c->doc_sent[rd + 1];
            int64_t start = dlt_trng_int(&r, r0, r1 - 1);
            for (int64_t j = start; j < r1; j++) {
                append(p.b, &p.nb, p.cap, c->tokens + c->sent_off[j], sent_len(c, j));
                if (p.nb >= target_b)
                    break;
            }
            next = chunk0 + a_end; /* the unused sentences start the next chunk */
        } else {
            for (int64_t j = chunk0 + a_end; j <= i; j++)
                append(p.b, &p.nb, p.cap, c->tokens + c->sent_off[j], sent_len(c, j));
        }
        if (p.na >= 1 && p.nb >= 1) {
            uint64_t ms = dlt_data_hash(r.s, (uint64_t)ninst++);
            if (emit(c, &p, label, o, ms, &r, &x, cand, fn, user))
                break;
        }
        chunk0 = next;
        i = next - 1;
        cur_len = 0;
    }
    free(p.a);
    free(p.b);
    free(x.input_ids);
    free(x.token_type_ids);
    free(x.mlm_positions);
    free(x.mlm_ids);
    free(x.mlm_weights);
    free(cand);
    return st;
}
