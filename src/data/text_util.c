/* Text helpers: hash maps, UTF-8, character classes (a table-free approximation of
 * the Unicode categories BERT and GPT-2 use), and the RNG of the text pipeline. */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

uint64_t dlt_text_hash(const void *p, size_t n)
{
    /* FNV-1a, then a final mix so that open addressing sees all bits */
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static int smap_grow(dlt_smap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    dlt_smap_slot *s = calloc(cap, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (s[j].key)
            j = (j + 1) & (cap - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->cap = cap;
    return 0;
}

static const char *arena_copy(dlt_smap *m, const char *key, size_t n)
{
    size_t need = n + 1;
    if (m->nblocks == 0 || m->used + need > m->bcap) {
        size_t sz = need > (1u << 20) ? need : (1u << 20);
        char **b = realloc(m->blocks, (m->nblocks + 1) * sizeof *b);
        if (!b)
            return NULL;
        m->blocks = b;
        if (!(b[m->nblocks] = malloc(sz)))
            return NULL;
        m->nblocks++;
        m->used = 0;
        m->bcap = sz;
    }
    char *p = m->blocks[m->nblocks - 1] + m->used;
    memcpy(p, key, n);
    p[n] = '\0';
    m->used += need;
    return p;
}

static dlt_smap_slot *smap_find(const dlt_smap *m, const char *key, size_t n, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key) {
        dlt_smap_slot *s = &m->slots[j];
        if (s->hash == h && s->len == n && memcmp(s->key, key, n) == 0)
            return s;
        j = (j + 1) & (m->cap - 1);
    }
    return &m->slots[j];
}

dlt_smap_slot *dlt_smap_put(dlt_smap *m, const char *key, size_t n, int64_t init, int *created)
{
    uint64_t h = dlt_text_hash(key, n);
    if ((m->n + 1) * 2 > m->cap && smap_grow(m))
        return NULL;
    dlt_smap_slot *s = smap_find(m, key, n, h);
    if (created)
        *created = !s->key;
    if (!s->key) {
        if (!(s->key = arena_copy(m, key, n)))
            return NULL;
        s->len = (uint32_t)n;
        s->hash = h;
        s->val = init;
        m->n++;
    }
    return s;
}

int64_t dlt_smap_get(const dlt_smap *m, const char *key, size_t n, int64_t dflt)
{
    const dlt_smap_slot *s = smap_find(m, key, n, dlt_text_hash(key, n));
    return s && s->key ? s->val : dflt;
}

void dlt_smap_free(dlt_smap *m)
{
    for (size_t i = 0; i < m->nblocks; i++)
        free(m->blocks[i]);
    free(m->blocks);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static uint64_t pkey(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1; }

static size_t pslot(const dlt_pmap *m, uint64_t k)
{
    size_t j = dlt_text_hash(&k, sizeof k) & (m->cap - 1);
    while (m->keys[j] && m->keys[j] != k)
        j = (j + 1) & (m->cap - 1);
    return j;
}

int64_t *dlt_pmap_put(dlt_pmap *m, int32_t a, int32_t b, int64_t init)
{
    if ((m->n + 1) * 2 > m->cap) {
        dlt_pmap o = *m;
        m->cap = o.cap ? o.cap * 2 : 1024;
        m->keys = calloc(m->cap, sizeof *m->keys);
        m->vals = malloc(m->cap * sizeof *m->vals);
        if (!m->keys || !m->vals) {
            free(m->keys);
            free(m->vals);
            *m = o;
            return NULL;
        }
        for (size_t i = 0; i < o.cap; i++)
            if (o.keys[i]) {
                size_t j = pslot(m, o.keys[i]);
                m->keys[j] = o.keys[i];
                m->vals[j] = o.vals[i];
            }
        free(o.keys);
        free(o.vals);
    }
    uint64_t k = pkey(a, b);
    size_t j = pslot(m, k);
    if (!m->keys[j]) {
        m->keys[j] = k;
        m->vals[j] = init;
        m->n++;
    }
    return &m->vals[j];
}

int64_t dlt_pmap_get(const dlt_pmap *m, int32_t a, int32_t b, int64_t dflt)
{
    if (!m->cap)
        return dflt;
    size_t j = pslot(m, pkey(a, b));
    return m->keys[j] ? m->vals[j] : dflt;
}

void dlt_pmap_free(dlt_pmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

uint32_t dlt_utf8_decode(const unsigned char *s, size_t n, int *len)
{
    unsigned c = s[0];
    int k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    *len = 1;
    if (k == 1)
        return c;
    if (k == 0 || (size_t)k > n)
        return 0xFFFD;
    uint32_t cp = c & (0x7Fu >> k);
    for (int i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0xFFFD;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    static const uint32_t minv[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < minv[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0xFFFD;
    *len = k;
    return cp;
}

int dlt_utf8_encode(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F)), o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int dlt_uni_is_space(uint32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
           c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int dlt_uni_is_control(uint32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r')
        return 0;
    return c < 0x20 || (c >= 0x7F && c < 0xA0 && c != 0x85) || c == 0xAD ||
           (c >= 0x200B && c <= 0x200F) || c == 0xFEFF || c == 0xFFFD;
}

int dlt_uni_is_punct(uint32_t c)
{
    /* BERT counts all non-alphanumeric ASCII as punctuation */
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    return c == 0xA1 || c == 0xA7 || c == 0xAB || c == 0xB6 || c == 0xB7 || c == 0xBB ||
           c == 0xBF || c == 0x37E || c == 0x387 || (c >= 0x2010 && c <= 0x2027) ||
           (c >= 0x2030 && c <= 0x205E) || (c >= 0x3001 && c <= 0x3003) ||
           (c >= 0x3008 && c <= 0x3011) || (c >= 0x3014 && c <= 0x301F) ||
           (c >= 0xFF01 && c <= 0xFF0F && c != 0xFF04 && c != 0xFF0B) ||
           (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF3F) ||
           (c >= 0xFF5B && c <= 0xFF65);
}

int dlt_uni_is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

int dlt_uni_is_digit(uint32_t c)
{
    return (c >= '0' && c <= '9') || c == 0xB2 || c == 0xB3 || c == 0xB9 ||
           (c >= 0xBC && c <= 0xBE) || (c >= 0x660 && c <= 0x669) ||
           (c >= 0x6F0 && c <= 0x6F9) || (c >= 0x966 && c <= 0x96F) ||
           (c >= 0x2070 && c <= 0x2079 && c != 0x2071) || (c >= 0x2080 && c <= 0x2089) ||
           (c >= 0x2150 && c <= 0x2189) || (c >= 0x2460 && c <= 0x249B) ||
           (c >= 0xFF10 && c <= 0xFF19);
}

int dlt_uni_is_letter(uint32_t c)
{
    if (c < 0x80)
        return (c | 32) >= 'a' && (c | 32) <= 'z';
    if (c < 0x100)
        return c == 0xAA || c == 0xB5 || c == 0xBA || (c >= 0xC0 && c != 0xD7 && c != 0xF7);
    /* scripts made of letters; symbols, marks and emoji fall outside */
    return (c <= 0x2C1) || (c >= 0x370 && c <= 0x3FF && c != 0x375 && c != 0x37E &&
                            c != 0x384 && c != 0x385 && c != 0x387) ||
           (c >= 0x400 && c <= 0x52F && !(c >= 0x482 && c <= 0x489)) ||
           (c >= 0x531 && c <= 0x587) || (c >= 0x5D0 && c <= 0x5F2) ||
           (c >= 0x620 && c <= 0x64A) || (c >= 0x671 && c <= 0x6D3) ||
           (c >= 0x904 && c <= 0x939) || (c >= 0xE01 && c <= 0xE30) ||
           (c >= 0x10A0 && c <= 0x10FF) || (c >= 0x1100 && c <= 0x11FF) ||
           (c >= 0x1E00 && c <= 0x1FBC) || (c >= 0x3041 && c <= 0x3096) ||
           (c >= 0x30A1 && c <= 0x30FA) || (c >= 0x3131 && c <= 0x318E) ||
           dlt_uni_is_cjk(c) || (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xFF21 && c <= 0xFF3A) ||
           (c >= 0xFF41 && c <= 0xFF5A);
}

uint32_t dlt_uni_lower(uint32_t c)
{
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130)
            return 'i';
        if (c == 0x178)
            return 0xFF;
        int odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
        if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F)
            return c;
        return odd_upper ? (c & 1 ? c + 1 : c) : (c & 1 ? c : c + 1);
    }
    if ((c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F))
        return c + 32;
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    if (c >= 0xFF21 && c <= 0xFF3A)
        return c + 32;
    return c;
}

/* Base letters of U+00C0..U+017F under NFD ('.': no decomposition). */
static const char strip_tab[] =
    "AAAAAA.CEEEEIIII.NOOOOO..UUUUY.."
    "aaaaaa.ceeeeiiii.nooooo..uuuuy.y"
    "AaAaAaCcCcCcCcDd..EeEeEeEeEeGgGg"
    "GgGgHh..IiIiIiIiI...JjKk.LlLlLl."
    "...NnNnNn...OoOoOo..RrRrRrSsSsSs"
    "SsTtTt..UuUuUuUuUuUuWwYyYZzZzZz.";

uint32_t dlt_uni_strip_accent(uint32_t c)
{
    if (c >= 0x300 && c <= 0x36F)
        return 0; /* combining marks (category Mn) */
    if (c >= 0xC0 && c <= 0x17F && strip_tab[c - 0xC0] != '.')
        return (uint32_t)(unsigned char)strip_tab[c - 0xC0];
    return c;
}

uint64_t dlt_trng_next(dlt_trng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double dlt_trng_uniform(dlt_trng *r) { return (double)(dlt_trng_next(r) >> 11) * 0x1.0p-53; }

int64_t dlt_trng_int(dlt_trng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)(dlt_trng_next(r) % (uint64_t)(hi - lo + 1));
}
