/* The tokenizer object: vocabulary lookups, WordPiece encoding (greedy longest
 * match first), decoding, and construction from a stored vocabulary. */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

dlt_status dlt_ids_push(dlt_ids *v, int32_t id)
{
    if (v->n == v->cap) {
        int64_t cap = v->cap ? v->cap * 2 : 256;
        int32_t *p = realloc(v->ids, (size_t)cap * sizeof *p);
        if (!p)
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        v->ids = p, v->cap = cap;
    }
    v->ids[v->n++] = id;
    return DLT_OK;
}

void dlt_ids_free(dlt_ids *v)
{
    free(v->ids);
    memset(v, 0, sizeof *v);
}

const char *dlt_tokenizer_type_name(dlt_tokenizer_type type)
{
    return type == DLT_TOK_BPE ? "bpe" : "wordpiece";
}

dlt_status dlt_tokenizer_type_parse(const char *name, dlt_tokenizer_type *type)
{
    if (strcmp(name, "wordpiece") == 0)
        *type = DLT_TOK_WORDPIECE;
    else if (strcmp(name, "bpe") == 0)
        *type = DLT_TOK_BPE;
    else
        return dlt_seterr(DLT_ERR_INVALID, "unknown tokenizer '%s' (expected wordpiece or bpe)",
                          name);
    return DLT_OK;
}

void dlt_tokenizer_free(dlt_tokenizer *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nvocab; i++) {
        free(t->vocab[i]);
        if (t->raw)
            free(t->raw[i]);
    }
    for (int i = 0; i < t->nmerges; i++)
        free(t->merges[i]);
    free(t->vocab);
    free(t->merges);
    free(t->raw);
    free(t->rawlen);
    dlt_smap_free(&t->ids);
    dlt_smap_free(&t->cache);
    dlt_ids_free(&t->cache_ids);
    dlt_pmap_free(&t->ranks);
    free(t);
}

dlt_status dlt_tok_index(dlt_tokenizer *t)
{
    for (int i = 0; i < t->nvocab; i++) {
        int created;
        dlt_smap_slot *s = dlt_smap_put(&t->ids, t->vocab[i], strlen(t->vocab[i]), i, &created);
        if (!s)
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    if (t->type == DLT_TOK_BPE)
        return dlt_bpe_index(t);
    static const char *const sp[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int i = 0; i < 5; i++)
        if (i >= t->nvocab || strcmp(t->vocab[i], sp[i]) != 0)
            return dlt_seterr(DLT_ERR_INVALID, "a WordPiece vocabulary must start with [PAD] "
                              "[UNK] [CLS] [SEP] [MASK]; id %d is '%s'", i,
                              i < t->nvocab ? t->vocab[i] : "(none)");
    t->eot = DLT_WP_SEP;
    return DLT_OK;
}

dlt_status dlt_tokenizer_from_vocab(dlt_tokenizer_type type, const char *const *vocab, int n,
                                    const char *const *merges, int nmerges, int lowercase,
                                    dlt_tokenizer **out)
{
    *out = NULL;
    if (n < 1)
        return dlt_seterr(DLT_ERR_INVALID, "empty vocabulary");
    dlt_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    t->type = type;
    t->lowercase = lowercase;
    t->eot = -1;
    t->vocab = calloc((size_t)n, sizeof *t->vocab);
    t->merges = calloc((size_t)nmerges + 1, sizeof *t->merges);
    dlt_status st = t->vocab && t->merges ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && !st; i++, t->nvocab++)
        if (!(t->vocab[i] = strdup(vocab[i])))
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nmerges && !st; i++, t->nmerges++)
        if (!(t->merges[i] = strdup(merges[i])))
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (!st)
        st = dlt_tok_index(t);
    if (st) {
        dlt_tokenizer_free(t);
        return st;
    }
    *out = t;
    return DLT_OK;
}

dlt_status dlt_tokenizer_from_shard(const dlt_shard_info *in, dlt_tokenizer **out)
{
    dlt_tokenizer_type type = DLT_TOK_WORDPIECE;
    *out = NULL;
    if (!in->tokenizer)
        return dlt_seterr(DLT_ERR_NOTFOUND, "the shard names no tokenizer (attribute "
                          "'tokenizer')");
    dlt_status st = dlt_tokenizer_type_parse(in->tokenizer, &type);
    if (st)
        return st;
    return dlt_tokenizer_from_vocab(type, (const char *const *)in->vocab, in->vocab_size,
                                    (const char *const *)in->merges, in->num_merges, 1, out);
}

dlt_status dlt_tokenizer_clone(const dlt_tokenizer *t, dlt_tokenizer **out)
{
    return dlt_tokenizer_from_vocab(t->type, (const char *const *)t->vocab, t->nvocab,
                                    (const char *const *)t->merges, t->nmerges, t->lowercase,
                                    out);
}

dlt_tokenizer_type dlt_tokenizer_get_type(const dlt_tokenizer *t) { return t->type; }
int dlt_tokenizer_vocab_size(const dlt_tokenizer *t) { return t->nvocab; }
int dlt_tokenizer_num_merges(const dlt_tokenizer *t) { return t->nmerges; }
const char *const *dlt_tokenizer_vocab(const dlt_tokenizer *t)
{
    return (const char *const *)t->vocab;
}
const char *const *dlt_tokenizer_merges(const dlt_tokenizer *t)
{
    return (const char *const *)t->merges;
}

const char *dlt_tokenizer_token(const dlt_tokenizer *t, int id)
{
    return id >= 0 && id < t->nvocab ? t->vocab[id] : NULL;
}

const char *dlt_tokenizer_merge(const dlt_tokenizer *t, int rank)
{
    return rank >= 0 && rank < t->nmerges ? t->merges[rank] : NULL;
}

int dlt_tokenizer_id(const dlt_tokenizer *t, const char *token)
{
    return (int)dlt_smap_get(&t->ids, token, strlen(token), -1);
}

dlt_special_ids dlt_tokenizer_specials(const dlt_tokenizer *t)
{
    dlt_special_ids s = {-1, -1, -1, -1, -1, t->eot};
    if (t->type == DLT_TOK_WORDPIECE)
        s.pad = DLT_WP_PAD, s.unk = DLT_WP_UNK, s.cls = DLT_WP_CLS, s.sep = DLT_WP_SEP,
        s.mask = DLT_WP_MASK;
    return s;
}

typedef struct {
    dlt_tokenizer *t;
    dlt_ids *out;
    dlt_status st;
    char *buf;
    size_t cap;
} wp_ctx;

static void wp_word(const char *w, size_t n, void *user)
{
    wp_ctx *c = user;
    if (c->st)
        return;
    size_t nchars = 0;
    for (size_t i = 0; i < n; i++)
        nchars += ((unsigned char)w[i] & 0xC0) != 0x80;
    int64_t mark = c->out->n;
    if (nchars > DLT_WP_MAX_WORD_CHARS) {
        c->st = dlt_ids_push(c->out, DLT_WP_UNK);
        return;
    }
    if (n + 3 > c->cap) {
        char *b = realloc(c->buf, n + 3);
        if (!b) {
            c->st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
            return;
        }
        c->buf = b, c->cap = n + 3;
    }
    for (size_t start = 0; start < n;) {
        size_t pre = start ? 2 : 0, end = n;
        int64_t id = -1;
        memcpy(c->buf, "##", 2);
        for (; end > start; end--) {
            if (end < n && ((unsigned char)w[end] & 0xC0) == 0x80)
                continue; /* not a character boundary */
            memcpy(c->buf + pre, w + start, end - start);
            if ((id = dlt_smap_get(&c->t->ids, c->buf, pre + end - start, -1)) >= 0)
                break;
        }
        if (id < 0) { /* no piece matches: the whole word is unknown */
            c->out->n = mark;
            c->st = dlt_ids_push(c->out, DLT_WP_UNK);
            return;
        }
        if ((c->st = dlt_ids_push(c->out, (int32_t)id)))
            return;
        start = end;
    }
}

dlt_status dlt_wordpiece_encode(dlt_tokenizer *t, const char *text, size_t n, dlt_ids *out)
{
    wp_ctx c = {t, out, DLT_OK, NULL, 0};
    dlt_status st = dlt_text_basic_tokenize(text, n, t->lowercase, wp_word, &c);
    free(c.buf);
    return st ? st : c.st;
}

dlt_status dlt_tokenizer_encode(dlt_tokenizer *t, const char *text, size_t n, dlt_ids *out)
{
    return t->type == DLT_TOK_BPE ? dlt_bpe_encode(t, text, n, out)
                                  : dlt_wordpiece_encode(t, text, n, out);
}

dlt_status dlt_tokenizer_decode(const dlt_tokenizer *t, const int32_t *ids, int64_t n,
                                char **out, size_t *len)
{
    size_t cap = 64, m = 0;
    char *s = malloc(cap);
    for (int64_t i = 0; i < n && s; i++) {
        if (ids[i] < 0 || ids[i] >= t->nvocab) {
            free(s);
            return dlt_seterr(DLT_ERR_INVALID, "token id %d outside the vocabulary 0..%d",
                              ids[i], t->nvocab - 1);
        }
        const char *p;
        size_t k, sep = 0;
        if (t->type == DLT_TOK_BPE) {
            p = (const char *)t->raw[ids[i]], k = t->rawlen[ids[i]];
        } else {
            p = t->vocab[ids[i]], k = strlen(p);
            if (k > 2 && p[0] == '#' && p[1] == '#' && i > 0)
                p += 2, k -= 2;
            else
                sep = i > 0;
        }
        if (m + k + sep + 1 > cap) {
            cap = (m + k + sep + 1) * 2;
            char *q = realloc(s, cap);
            if (!q) {
                free(s);
                s = NULL;
                break;
            }
            s = q;
        }
        if (sep)
            s[m++] = ' ';
        memcpy(s + m, p, k);
        m += k;
    }
    if (!s)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    s[m] = '\0';
    *out = s;
    if (len)
        *len = m;
    return DLT_OK;
}
