/* Byte-level BPE (GPT-2 style): vocabulary strings spell bytes with GPT-2's
 * printable alphabet; a piece of pre-tokenized text starts as its bytes and the
 * adjacent pair of lowest merge rank is merged until no ranked pair remains. */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

/* Raw bytes of a printable-alphabet string; strings outside the alphabet (special
 * tokens such as <|endoftext|>) are their own bytes. */
static dlt_status unprintable(const char *v, uint8_t **raw, uint32_t *rawlen,
                              const int16_t *inv)
{
    size_t n = strlen(v), o = 0;
    uint8_t *r = malloc(n + 1);
    if (!r)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n;) {
        int len;
        uint32_t c = dlt_utf8_decode((const unsigned char *)v + i, n - i, &len);
        if (c >= 324 || inv[c] < 0) { /* not GPT-2's alphabet: literal text */
            memcpy(r, v, n);
            o = n;
            break;
        }
        r[o++] = (uint8_t)inv[c];
        i += (size_t)len;
    }
    *raw = r;
    *rawlen = (uint32_t)o;
    return DLT_OK;
}

dlt_status dlt_bpe_index(dlt_tokenizer *t)
{
    int16_t inv[324];
    for (int c = 0; c < 324; c++)
        inv[c] = -1;
    for (int b = 0; b < 256; b++)
        inv[dlt_text_byte_to_unicode((uint8_t)b)] = (int16_t)b;
    t->raw = calloc((size_t)t->nvocab, sizeof *t->raw);
    t->rawlen = calloc((size_t)t->nvocab, sizeof *t->rawlen);
    if (!t->raw || !t->rawlen)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < t->nvocab; i++) {
        dlt_status st = unprintable(t->vocab[i], &t->raw[i], &t->rawlen[i], inv);
        if (st)
            return st;
    }
    for (int b = 0; b < 256; b++) {
        char s[4];
        int k = dlt_utf8_encode(dlt_text_byte_to_unicode((uint8_t)b), s);
        int64_t id = dlt_smap_get(&t->ids, s, (size_t)k, -1);
        if (id < 0)
            return dlt_seterr(DLT_ERR_INVALID, "BPE vocabulary lacks byte 0x%02x ('%.*s')", b,
                              k, s);
        t->byte_id[b] = (int32_t)id;
    }
    for (int r = 0; r < t->nmerges; r++) {
        const char *m = t->merges[r], *sp = strchr(m, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return dlt_seterr(DLT_ERR_INVALID, "merge %d '%s' is not 'left right'", r, m);
        size_t la = (size_t)(sp - m), lb = strlen(sp + 1);
        char *joined = malloc(la + lb + 1);
        if (!joined)
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        memcpy(joined, m, la);
        memcpy(joined + la, sp + 1, lb + 1);
        int64_t a = dlt_smap_get(&t->ids, m, la, -1), b = dlt_smap_get(&t->ids, sp + 1, lb, -1);
        int64_t c = dlt_smap_get(&t->ids, joined, la + lb, -1);
        free(joined);
        if (a < 0 || b < 0 || c < 0)
            return dlt_seterr(DLT_ERR_INVALID, "merge %d '%s' uses or makes a token that is "
                              "not in the vocabulary", r, m);
        int64_t *v = dlt_pmap_put(&t->ranks, (int32_t)a, (int32_t)b, -1);
        if (!v)
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        if (*v < 0)
            *v = (int64_t)r << 32 | c;
    }
    t->eot = dlt_tokenizer_id(t, DLT_BPE_EOT);
    return DLT_OK;
}

#define CACHE_MAX_PIECE 200 /* < 256: the id count fits the cache entry's low byte */
/* Merging is quadratic in a piece's length: longer pieces (rules of '=' in text
 * files, blobs) are encoded in chunks of this many bytes. Decoding is unaffected. */
#define MAX_PIECE 256

static dlt_status encode_piece(dlt_tokenizer *t, const unsigned char *p, size_t n, dlt_ids *out)
{
    int32_t stackbuf[MAX_PIECE], *x = stackbuf;
    size_t m = n;
    for (size_t i = 0; i < n; i++)
        x[i] = t->byte_id[p[i]];
    for (;;) {
        int64_t best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            int64_t v = dlt_pmap_get(&t->ranks, x[i], x[i + 1], -1);
            if (v >= 0 && (best < 0 || v >> 32 < best >> 32))
                best = v, at = i;
        }
        if (best < 0)
            break;
        int32_t id = (int32_t)(best & 0xffffffff), a = x[at], b = x[at + 1];
        size_t o = 0;
        for (size_t i = 0; i < m;) {
            if (i + 1 < m && x[i] == a && x[i + 1] == b)
                x[o++] = id, i += 2;
            else
                x[o++] = x[i++];
        }
        m = o;
    }
    dlt_status st = DLT_OK;
    for (size_t i = 0; i < m && !st; i++)
        st = dlt_ids_push(out, x[i]);
    return st;
}

typedef struct {
    dlt_tokenizer *t;
    dlt_ids *out;
    dlt_status st;
} bpe_ctx;

#define CACHE_MAX_ENTRIES (1 << 20)

static void bpe_piece(const char *piece, size_t n, void *user)
{
    bpe_ctx *c = user;
    dlt_tokenizer *t = c->t;
    if (c->st)
        return;
    if (n > CACHE_MAX_PIECE) {
        for (size_t a = 0; a < n && !c->st; a += MAX_PIECE)
            c->st = encode_piece(t, (const unsigned char *)piece + a,
                                 n - a < MAX_PIECE ? n - a : MAX_PIECE, c->out);
        return;
    }
    int64_t v = dlt_smap_get(&t->cache, piece, n, -1);
    if (v < 0) {
        if (t->cache.n >= CACHE_MAX_ENTRIES) {
            dlt_smap_free(&t->cache);
            t->cache_ids.n = 0;
        }
        int64_t at = t->cache_ids.n;
        if ((c->st = encode_piece(t, (const unsigned char *)piece, n, &t->cache_ids)))
            return;
        v = at << 8 | (t->cache_ids.n - at);
        if (!dlt_smap_put(&t->cache, piece, n, v, NULL)) {
            c->st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
            return;
        }
    }
    for (int64_t i = 0, at = v >> 8, k = v & 0xff; i < k && !c->st; i++)
        c->st = dlt_ids_push(c->out, t->cache_ids.ids[at + i]);
}

dlt_status dlt_bpe_encode(dlt_tokenizer *t, const char *text, size_t n, dlt_ids *out)
{
    bpe_ctx c = {t, out, DLT_OK};
    dlt_text_gpt2_pretokenize(text, n, bpe_piece, &c);
    return c.st;
}
