/* Text before tokens: BERT's basic tokenizer, GPT-2's pre-tokenizer and its byte
 * alphabet, and the rule-based sentence splitter. */
#include "text_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *buf;
    size_t n, cap;
} sbuf;

static int sb_put(sbuf *b, const char *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2 + 64;
        char *q = realloc(b->buf, cap);
        if (!q)
            return -1;
        b->buf = q;
        b->cap = cap;
    }
    memcpy(b->buf + b->n, p, n);
    b->n += n;
    return 0;
}

static void flush(sbuf *w, dlt_text_piece_fn fn, void *user)
{
    if (w->n)
        fn(w->buf, w->n, user);
    w->n = 0;
}

dlt_status dlt_text_basic_tokenize(const char *text, size_t n, int lowercase,
                                   dlt_text_piece_fn fn, void *user)
{
    const unsigned char *s = (const unsigned char *)text;
    sbuf w = {0};
    char enc[4];
    for (size_t i = 0; i < n;) {
        int len;
        uint32_t c = dlt_utf8_decode(s + i, n - i, &len);
        i += (size_t)len;
        if (c == 0 || dlt_uni_is_control(c))
            continue;
        if (dlt_uni_is_space(c)) {
            flush(&w, fn, user);
            continue;
        }
        if (lowercase && !(c = dlt_uni_strip_accent(dlt_uni_lower(c))))
            continue;
        int k = dlt_utf8_encode(c, enc);
        if (dlt_uni_is_punct(c) || dlt_uni_is_cjk(c)) {
            flush(&w, fn, user);
            fn(enc, (size_t)k, user);
            continue;
        }
        if (sb_put(&w, enc, (size_t)k)) {
            free(w.buf);
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        }
    }
    flush(&w, fn, user);
    free(w.buf);
    return DLT_OK;
}

enum { C_LETTER, C_DIGIT, C_SPACE, C_OTHER };

static int cls_at(const unsigned char *s, size_t n, size_t i, int *len)
{
    uint32_t c = dlt_utf8_decode(s + i, n - i, len);
    if (c == 0xFFFD && *len == 1 && s[i] != 0xEF)
        return C_OTHER; /* an invalid byte stands for itself */
    return dlt_uni_is_letter(c) ? C_LETTER
           : dlt_uni_is_digit(c) ? C_DIGIT
           : dlt_uni_is_space(c) ? C_SPACE
                                 : C_OTHER;
}

static size_t run_end(const unsigned char *s, size_t n, size_t i, int cls)
{
    int len;
    while (i < n && cls_at(s, n, i, &len) == cls)
        i += (size_t)len;
    return i;
}

static size_t contraction(const unsigned char *s, size_t n, size_t i)
{
    if (s[i] != '\'' || i + 1 >= n)
        return 0;
    unsigned char a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return a == 's' || a == 't' || a == 'm' || a == 'd' ? 2 : 0;
}

void dlt_text_gpt2_pretokenize(const char *text, size_t n, dlt_text_piece_fn fn, void *user)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        int len, len2;
        size_t k = contraction(s, n, i);
        if (k) {
            fn(text + i, k, user);
            i += k;
            continue;
        }
        int cls = cls_at(s, n, i, &len);
        if (s[i] == ' ' && i + 1 < n) {
            int c2 = cls_at(s, n, i + 1, &len2);
            if (c2 != C_SPACE) {
                size_t e = run_end(s, n, i + 1, c2);
                fn(text + i, e - i, user);
                i = e;
                continue;
            }
        }
        if (cls != C_SPACE) {
            size_t e = run_end(s, n, i, cls);
            fn(text + i, e - i, user);
            i = e;
            continue;
        }
        /* whitespace: a run before a non-space keeps its last character for the
         * next piece (\s+(?!\S)), unless the run is that one character */
        size_t e = i, last = i;
        while (e < n && cls_at(s, n, e, &len) == C_SPACE)
            last = e, e += (size_t)len;
        if (e < n && last > i)
            e = last;
        fn(text + i, e - i, user);
        i = e;
    }
}

uint32_t dlt_text_byte_to_unicode(uint8_t b)
{
    /* printable Latin-1 bytes stand for themselves; the others take 256, 257, ...
     * in byte order */
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
        return b;
    int k = b <= 32 ? b : b <= 160 ? 33 + (b - 127) : 33 + 34;
    return 256u + (uint32_t)k;
}

static const char *const abbrevs[] = {
    "mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "fig", "no", "jr",
    "sr", "inc", "ltd", "co", "cf", "al", "approx", "vol", "eq", "sec", "ch", "pp", "resp"};

static int no_split_before(const char *t, size_t start, size_t dot)
{
    size_t b = dot;
    while (b > start && !isspace((unsigned char)t[b - 1]))
        b--;
    while (b < dot && strchr("([{\"'", t[b]))
        b++;
    size_t wl = dot - b;
    if (wl == 1 && isalpha((unsigned char)t[b]))
        return 1; /* an initial */
    for (size_t i = 0; i < sizeof abbrevs / sizeof *abbrevs; i++)
        if (strlen(abbrevs[i]) == wl && strncasecmp(abbrevs[i], t + b, wl) == 0)
            return 1;
    return 0;
}

static size_t skip_closers(const char *t, size_t n, size_t j)
{
    for (;;) {
        if (j < n && strchr("\"')]", t[j]) && t[j])
            j++;
        else if (j + 2 < n && (unsigned char)t[j] == 0xE2 && (unsigned char)t[j + 1] == 0x80 &&
                 ((unsigned char)t[j + 2] == 0x99 || (unsigned char)t[j + 2] == 0x9D))
            j += 3; /* ’ ” */
        else
            return j;
    }
}

static int starts_sentence(const char *t, size_t n, size_t k)
{
    unsigned char c = (unsigned char)t[k];
    if (isupper(c) || isdigit(c) || c == '"' || c == '\'' || c == '(' || c == '[')
        return 1;
    return c >= 0xC0 && k + 1 < n; /* a non-ASCII letter or quote */
}

static void emit_trimmed(const char *t, size_t a, size_t b, dlt_text_piece_fn fn, void *user)
{
    while (a < b && isspace((unsigned char)t[a]))
        a++;
    while (b > a && isspace((unsigned char)t[b - 1]))
        b--;
    if (b > a)
        fn(t + a, b - a, user);
}

void dlt_text_split_sentences(const char *t, size_t n, dlt_text_piece_fn fn, void *user)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c != '.' && c != '!' && c != '?')
            continue;
        size_t j = i + 1;
        while (j < n && (t[j] == '.' || t[j] == '!' || t[j] == '?'))
            j++;
        j = skip_closers(t, n, j);
        if (j >= n || !isspace((unsigned char)t[j]))
            continue;
        size_t k = j;
        while (k < n && isspace((unsigned char)t[k]))
            k++;
        if (k >= n || !starts_sentence(t, n, k))
            continue;
        if (c == '.' && j == i + 1 && no_split_before(t, start, i))
            continue;
        emit_trimmed(t, start, j, fn, user);
        start = k;
        i = k - 1;
    }
    emit_trimmed(t, start, n, fn, user);
}
