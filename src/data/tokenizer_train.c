/* Tokenizer training. Both trainers count words (BERT basic-tokenizer words, or
 * GPT-2 pre-tokenizer pieces), then learn merges by pair frequency
 * (dlt_learn_merges), as the Hugging Face `tokenizers` trainers do:
 *   WordPiece: a word starts as its characters, all but the first prefixed "##";
 *     merging "x" and "##y" gives "xy", "##x" and "##y" gives "##xy". Vocabulary:
 *     [PAD] [UNK] [CLS] [SEP] [MASK], every character seen (sorted by UTF-8 bytes),
 *     then every "##" character (sorted), then the merged tokens in merge order.
 *   BPE: a piece starts as its bytes. Vocabulary: the 256 bytes (id = byte value,
 *     spelled with GPT-2's printable alphabet), the merged tokens in merge order,
 *     then <|endoftext|>. */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

struct dlt_tokenizer_trainer {
    dlt_tokenizer_train_opts o;
    dlt_smap words; /* word -> count */
    dlt_status st;
};

void dlt_tokenizer_train_opts_default(dlt_tokenizer_train_opts *o, dlt_tokenizer_type type)
{
    memset(o, 0, sizeof *o);
    o->type = type;
    o->vocab_size = type == DLT_TOK_BPE ? 50257 : 30522;
    o->min_pair_count = 2;
    o->lowercase = 1;
}

dlt_status dlt_tokenizer_trainer_new(const dlt_tokenizer_train_opts *o,
                                     dlt_tokenizer_trainer **out)
{
    int min = o->type == DLT_TOK_BPE ? 257 : 6;
    *out = NULL;
    if (o->vocab_size < min)
        return dlt_seterr(DLT_ERR_INVALID, "vocabulary size %d is too small (%s needs >= %d)",
                          o->vocab_size, dlt_tokenizer_type_name(o->type), min);
    dlt_tokenizer_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    t->o = *o;
    *out = t;
    return DLT_OK;
}

static void count_word(const char *w, size_t n, void *user)
{
    dlt_tokenizer_trainer *t = user;
    if (t->o.type == DLT_TOK_BPE && n > 256) { /* as the encoder cuts long pieces */
        for (size_t a = 0; a < n; a += 256)
            count_word(w + a, n - a < 256 ? n - a : 256, user);
        return;
    }
    dlt_smap_slot *s = t->st ? NULL : dlt_smap_put(&t->words, w, n, 0, NULL);
    if (s)
        s->val++;
    else if (!t->st)
        t->st = dlt_seterr(DLT_ERR_NOMEM, "out of memory counting words");
}

dlt_status dlt_tokenizer_trainer_feed(dlt_tokenizer_trainer *t, const char *text, size_t n)
{
    if (t->o.type == DLT_TOK_BPE)
        dlt_text_gpt2_pretokenize(text, n, count_word, t);
    else {
        dlt_status st = dlt_text_basic_tokenize(text, n, t->o.lowercase, count_word, t);
        if (st)
            return st;
    }
    return t->st;
}

void dlt_tokenizer_trainer_free(dlt_tokenizer_trainer *t)
{
    if (!t)
        return;
    dlt_smap_free(&t->words);
    free(t);
}

static void state_free(dlt_merge_state *s)
{
    for (int64_t w = 0; w < s->nwords; w++)
        free(s->words[w]);
    for (int64_t i = 0; i < s->nsyms; i++)
        free(s->syms[i]);
    free(s->words);
    free(s->wlen);
    free(s->counts);
    free(s->syms);
    free(s->lens);
    free(s->merges);
}

static dlt_status add_sym(dlt_merge_state *s, dlt_smap *ids, const char *raw, uint32_t n)
{
    if (s->nsyms == s->cap) {
        int64_t cap = s->cap * 2 + 256;
        char **q = realloc(s->syms, (size_t)cap * sizeof *q);
        if (q)
            s->syms = q;
        uint32_t *l = q ? realloc(s->lens, (size_t)cap * sizeof *l) : NULL;
        if (!l)
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        s->lens = l, s->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c || !dlt_smap_put(ids, raw, n, s->nsyms, NULL)) {
        free(c);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    memcpy(c, raw, n);
    c[n] = '\0';
    s->syms[s->nsyms] = c;
    s->lens[s->nsyms++] = n;
    return DLT_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Words as symbol sequences; wordpiece: characters with "##" after the first. */
static dlt_status make_words(dlt_tokenizer_trainer *t, dlt_merge_state *s, dlt_smap *ids)
{
    int wp = t->o.type == DLT_TOK_WORDPIECE;
    s->words = calloc(t->words.n + 1, sizeof *s->words);
    s->wlen = calloc(t->words.n + 1, sizeof *s->wlen);
    s->counts = calloc(t->words.n + 1, sizeof *s->counts);
    if (!s->words || !s->wlen || !s->counts)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    char piece[8] = "##";
    for (size_t i = 0; i < t->words.cap; i++) {
        const dlt_smap_slot *sl = &t->words.slots[i];
        if (!sl->key)
            continue;
        int32_t *x = malloc((sl->len + 1) * sizeof *x), n = 0;
        if (!x)
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        s->words[s->nwords] = x;
        s->counts[s->nwords++] = sl->val;
        for (uint32_t j = 0; j < sl->len;) {
            if (!wp) {
                x[n++] = (uint8_t)sl->key[j++];
                continue;
            }
            int len;
            dlt_utf8_decode((const unsigned char *)sl->key + j, sl->len - j, &len);
            size_t pre = j ? 2 : 0;
            memcpy(piece + 2, sl->key + j, (size_t)len);
            x[n++] = (int32_t)dlt_smap_get(ids, piece + (2 - pre), pre + (size_t)len, -1);
            j += (uint32_t)len;
        }
        s->wlen[s->nwords - 1] = n;
    }
    return DLT_OK;
}

/* WordPiece's initial symbols: specials, characters, "##" characters. */
static dlt_status wp_alphabet(dlt_tokenizer_trainer *t, dlt_merge_state *s, dlt_smap *ids)
{
    static const char *const sp[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    dlt_smap chars = {0};
    dlt_status st = DLT_OK;
    for (int i = 0; i < 5 && !st; i++)
        st = add_sym(s, ids, sp[i], (uint32_t)strlen(sp[i]));
    for (size_t i = 0; i < t->words.cap && !st; i++) {
        const dlt_smap_slot *sl = &t->words.slots[i];
        for (uint32_t j = 0; sl->key && j < sl->len && !st;) {
            int len;
            dlt_utf8_decode((const unsigned char *)sl->key + j, sl->len - j, &len);
            if (!dlt_smap_put(&chars, sl->key + j, (size_t)len, 0, NULL))
                st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
            j += (uint32_t)len;
        }
    }
    const char **list = calloc(chars.n + 1, sizeof *list);
    size_t n = 0;
    if (!list && !st)
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < chars.cap && !st; i++)
        if (chars.slots[i].key)
            list[n++] = chars.slots[i].key;
    if (!st)
        qsort(list, n, sizeof *list, cmp_str);
    for (size_t i = 0; i < n && !st; i++)
        st = add_sym(s, ids, list[i], (uint32_t)strlen(list[i]));
    for (size_t i = 0; i < n && !st; i++) {
        char buf[8] = "##";
        size_t k = strlen(list[i]);
        memcpy(buf + 2, list[i], k);
        st = add_sym(s, ids, buf, (uint32_t)(k + 2));
    }
    if (!st && s->nsyms > t->o.vocab_size)
        st = dlt_seterr(DLT_ERR_INVALID, "the corpus has %zu distinct characters: a WordPiece "
                        "vocabulary of %d cannot hold them twice (plain and ##)", n,
                        t->o.vocab_size);
    free(list);
    dlt_smap_free(&chars);
    return st;
}

static char *printable(const char *raw, uint32_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    char *o = malloc((size_t)n * 2 + k + 1), *p = o;
    if (!o)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        p += dlt_utf8_encode(dlt_text_byte_to_unicode((uint8_t)raw[i]), p);
    memcpy(p, suffix, k + 1);
    return o;
}

static dlt_status bpe_result(dlt_merge_state *s, const dlt_tokenizer_train_opts *o,
                             dlt_tokenizer **out)
{
    int nv = (int)s->nsyms + 1, nm = (int)s->nmerges;
    char **vocab = calloc((size_t)nv, sizeof *vocab), **merges = calloc((size_t)nm + 1,
                                                                         sizeof *merges);
    dlt_status st = vocab && merges ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nv - 1 && !st; i++)
        if (!(vocab[i] = printable(s->syms[i], s->lens[i], "")))
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (!st && !(vocab[nv - 1] = strdup(DLT_BPE_EOT)))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nm && !st; i++) {
        int32_t a = s->merges[i][0], b = s->merges[i][1];
        char *l = printable(s->syms[a], s->lens[a], " ");
        char *r = l ? printable(s->syms[b], s->lens[b], "") : NULL;
        merges[i] = r ? malloc(strlen(l) + strlen(r) + 1) : NULL;
        if (merges[i])
            strcat(strcpy(merges[i], l), r);
        else
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        free(l);
        free(r);
    }
    if (!st)
        st = dlt_tokenizer_from_vocab(DLT_TOK_BPE, (const char *const *)vocab, nv,
                                      (const char *const *)merges, nm, o->lowercase, out);
    for (int i = 0; vocab && i < nv; i++)
        free(vocab[i]);
    for (int i = 0; merges && i < nm; i++)
        free(merges[i]);
    free(vocab);
    free(merges);
    return st;
}

dlt_status dlt_tokenizer_trainer_finish(dlt_tokenizer_trainer *t, dlt_tokenizer **out)
{
    dlt_merge_state s;
    dlt_smap ids = {0};
    memset(&s, 0, sizeof s);
    *out = NULL;
    dlt_status st = t->st;
    int wp = t->o.type == DLT_TOK_WORDPIECE;
    s.wordpiece = wp;
    if (!st && wp)
        st = wp_alphabet(t, &s, &ids);
    for (int b = 0; !st && !wp && b < 256; b++) {
        char c = (char)b;
        st = add_sym(&s, &ids, &c, 1);
    }
    if (!st)
        st = make_words(t, &s, &ids);
    if (!st)
        st = dlt_learn_merges(&s, t->o.vocab_size - (wp ? 0 : 1), t->o.min_pair_count, &ids);
    if (!st && wp)
        st = dlt_tokenizer_from_vocab(DLT_TOK_WORDPIECE, (const char *const *)s.syms,
                                      (int)s.nsyms, NULL, 0, t->o.lowercase, out);
    else if (!st)
        st = bpe_result(&s, &t->o, out);
    state_free(&s);
    dlt_smap_free(&ids);
    dlt_tokenizer_trainer_free(t);
    return st;
}
