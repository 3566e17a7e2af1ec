/* Internals shared by the TOML parser files (toml.c: document structure,
 * toml_scan.c and toml_time.c: values, toml_tree.c, toml_write.c). Not installed. */
#ifndef DLT_TOML_IMPL_H
#define DLT_TOML_IMPL_H

#include "dlt_toml.h"

/* How a table came to be; decides whether a later header or dotted key may
 * define or extend it (TOML 1.0, "Table" section). */
enum {
    DLT_TF_IMPLICIT = 1u, /* created as a parent by a [a.b.c] header */
    DLT_TF_HEADER = 2u,   /* defined by its own [header] or [[header]] */
    DLT_TF_DOTTED = 4u,   /* created by a dotted key a.b = 1 */
    DLT_TF_INLINE = 8u,   /* an inline table: closed once written */
    DLT_TF_AOT = 16u      /* an array made by [[header]]; others are closed */
};

/* Trees deeper than this are refused so that hostile input cannot exhaust
 * the stack of the recursive functions. The limit is on the tree, not on
 * the syntax, so that whatever dlt_toml_write prints parses again. */
#define DLT_TOML_MAX_DEPTH 200

typedef struct {
    const char *s;
    size_t n, i;   /* input, its length, the cursor */
    int line;      /* line of the cursor */
    size_t bol;    /* offset where that line begins */
    int depth;     /* tree depth of the value being parsed (root: 0) */
} dlt_tp;

/* Formats "LINE:COL: message" for input offset `at` and returns DLT_ERR_INVALID. */
dlt_status dlt_tp_err(const dlt_tp *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
dlt_status dlt_tp_nomem(void);
int dlt_tp_col(const dlt_tp *p, size_t at); /* column on the cursor's line */
dlt_toml_value *dlt_tp_node(const dlt_tp *p, dlt_toml_type t, size_t at);

static inline int dlt_tp_peek(const dlt_tp *p, size_t k)
{
    return p->i + k < p->n ? (unsigned char)p->s[p->i + k] : -1;
}
static inline void dlt_tp_ws(dlt_tp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t'))
        p->i++;
}
/* Consumes a newline (LF or CRLF) at the cursor if there is one. */
static inline bool dlt_tp_newline(dlt_tp *p)
{
    size_t k = 0;
    if (dlt_tp_peek(p, 0) == '\r' && dlt_tp_peek(p, 1) == '\n')
        k = 1;
    if (dlt_tp_peek(p, k) != '\n')
        return false;
    p->i += k + 1;
    p->line++;
    p->bol = p->i;
    return true;
}

/* Skips a comment at the cursor ('#' to end of line, newline left). */
dlt_status dlt_tp_comment(dlt_tp *p);

/* A key (possibly dotted). parts[k] are malloc'ed; free with dlt_tp_key_free. */
typedef struct {
    char *s;
    size_t len;
    size_t at; /* input offset */
    int line, col;
} dlt_tp_part;
typedef struct {
    dlt_tp_part *parts;
    size_t n, cap;
} dlt_tp_key;
dlt_status dlt_tp_parse_key(dlt_tp *p, dlt_tp_key *k);
void dlt_tp_key_free(dlt_tp_key *k);

/* key = value into table t (the value's dotted parents are created). */
dlt_status dlt_tp_keyval(dlt_tp *p, dlt_toml_value *t);
/* Any value at the cursor. */
dlt_status dlt_tp_value(dlt_tp *p, dlt_toml_value **out);
/* Whether a date (YYYY-) or a time (HH:) starts at offset `at`, and the
 * date-time value at the cursor. */
bool dlt_tp_at_date(const dlt_tp *p, size_t at);
bool dlt_tp_at_time(const dlt_tp *p, size_t at);
dlt_status dlt_tp_datetime(dlt_tp *p, dlt_toml_value **out);
/* A single-line basic or literal string at the cursor (for keys). */
dlt_status dlt_tp_key_string(dlt_tp *p, char **s, size_t *len);

#endif
