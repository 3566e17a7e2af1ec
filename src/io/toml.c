/* TOML 1.0 document structure: keys, key/value lines, [tables] and
 * [[arrays of tables]] with the rules for (re)defining them, UTF-8
 * validation and error positions. Values are scanned in toml_scan.c. */
#include "toml_impl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- positions, errors */

/* Columns count characters, not bytes, so that they match what an editor shows. */
static int col_at(const char *s, size_t bol, size_t at)
{
    int col = 1;
    for (size_t j = bol; j < at; j++)
        if (((unsigned char)s[j] & 0xC0) != 0x80)
            col++;
    return col;
}

int dlt_tp_col(const dlt_tp *p, size_t at) { return col_at(p->s, p->bol, at); }

dlt_status dlt_tp_err(const dlt_tp *p, size_t at, const char *fmt, ...)
{
    /* recomputed from the start: errors are rare and this cannot drift */
    int line = 1;
    size_t bol = p->n >= 3 && !memcmp(p->s, "\xEF\xBB\xBF", 3) ? 3 : 0; /* a BOM takes no column */
    if (at > p->n)
        at = p->n;
    for (size_t j = 0; j < at; j++)
        if (p->s[j] == '\n') {
            line++;
            bol = j + 1;
        }
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dlt_seterr(DLT_ERR_INVALID, "%d:%d: %s", line, col_at(p->s, bol, at), msg);
}

dlt_status dlt_tp_nomem(void) { return dlt_seterr(DLT_ERR_NOMEM, "out of memory while parsing TOML"); }

dlt_toml_value *dlt_tp_node(const dlt_tp *p, dlt_toml_type t, size_t at)
{
    dlt_toml_value *v = dlt_toml_new(t);
    if (v) {
        v->line = p->line;
        v->col = dlt_tp_col(p, at);
    }
    return v;
}

/* Rejects what TOML forbids anywhere: malformed UTF-8, overlong forms,
 * surrogates and code points past U+10FFFF. */
static dlt_status check_utf8(const dlt_tp *p)
{
    const unsigned char *s = (const unsigned char *)p->s;
    size_t i = 0;
    while (i < p->n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return dlt_tp_err(p, i, "invalid UTF-8 (byte 0x%02X)", c);
        }
        for (size_t k = 1; k < n; k++) {
            if (i + k >= p->n || (s[i + k] & 0xC0) != 0x80)
                return dlt_tp_err(p, i, "invalid UTF-8 (truncated sequence)");
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return dlt_tp_err(p, i, "invalid UTF-8 (overlong form, surrogate or beyond U+10FFFF)");
        i += n;
    }
    return DLT_OK;
}

dlt_status dlt_tp_comment(dlt_tp *p)
{
    p->i++;
    while (p->i < p->n) {
        int c = (unsigned char)p->s[p->i];
        if (c == '\n' || (c == '\r' && dlt_tp_peek(p, 1) == '\n'))
            return DLT_OK;
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return dlt_tp_err(p, p->i, "control character U+%04X is not allowed in a comment", c);
        p->i++;
    }
    return DLT_OK;
}

/* ---------------------------------------------------------------- keys */

static bool bare_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

void dlt_tp_key_free(dlt_tp_key *k)
{
    for (size_t j = 0; j < k->n; j++)
        free(k->parts[j].s);
    free(k->parts);
    k->parts = NULL;
    k->n = k->cap = 0;
}

dlt_status dlt_tp_parse_key(dlt_tp *p, dlt_tp_key *k)
{
    k->parts = NULL;
    k->n = k->cap = 0;
    for (;;) {
        dlt_tp_ws(p);
        if (k->n == k->cap) {
            size_t cap = k->cap ? 2 * k->cap : 4;
            dlt_tp_part *q = realloc(k->parts, cap * sizeof *q);
            if (!q) {
                dlt_tp_key_free(k);
                return dlt_tp_nomem();
            }
            k->parts = q;
            k->cap = cap;
        }
        dlt_tp_part *part = &k->parts[k->n];
        part->at = p->i;
        part->line = p->line;
        part->col = dlt_tp_col(p, p->i);
        int c = dlt_tp_peek(p, 0);
        if (c == '"' || c == '\'') {
            dlt_status st = dlt_tp_key_string(p, &part->s, &part->len);
            if (st) {
                dlt_tp_key_free(k);
                return st;
            }
        } else if (c >= 0 && bare_char(c)) {
            size_t s0 = p->i;
            while (p->i < p->n && bare_char((unsigned char)p->s[p->i]))
                p->i++;
            part->len = p->i - s0;
            part->s = malloc(part->len + 1);
            if (!part->s) {
                dlt_tp_key_free(k);
                return dlt_tp_nomem();
            }
            memcpy(part->s, p->s + s0, part->len);
            part->s[part->len] = '\0';
        } else {
            dlt_tp_key_free(k);
            return dlt_tp_err(p, p->i, "expected a key (letters, digits, '_', '-' or a quoted string)");
        }
        k->n++;
        dlt_tp_ws(p);
        if (dlt_tp_peek(p, 0) != '.')
            return DLT_OK;
        p->i++;
    }
}

/* ---------------------------------------------------------------- tables */

static dlt_toml_entry *find(dlt_toml_value *t, const char *key, size_t len)
{
    for (size_t j = 0; j < t->tab.len; j++)
        if (t->tab.items[j].key_len == len && !memcmp(t->tab.items[j].key, key, len))
            return &t->tab.items[j];
    return NULL;
}

/* Appends a new entry (the key is known to be absent) taking ownership of v. */
static dlt_status add(dlt_toml_value *t, const dlt_tp_part *part, dlt_toml_value *v)
{
    if (t->tab.len == t->tab.cap) {
        size_t cap = t->tab.cap ? 2 * t->tab.cap : 4;
        dlt_toml_entry *q = realloc(t->tab.items, cap * sizeof *q);
        if (!q) {
            dlt_toml_free(v);
            return dlt_tp_nomem();
        }
        t->tab.items = q;
        t->tab.cap = cap;
    }
    char *key = malloc(part->len + 1);
    if (!key) {
        dlt_toml_free(v);
        return dlt_tp_nomem();
    }
    memcpy(key, part->s, part->len);
    key[part->len] = '\0';
    t->tab.items[t->tab.len++] = (dlt_toml_entry){key, part->len, part->line, part->col, v};
    return DLT_OK;
}

/* Prints a key path for messages: a.b."c d" (truncated, control chars hidden). */
static void key_text(const dlt_tp_key *k, size_t upto, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t j = 0; j <= upto && j < k->n && o + 8 < cap; j++) {
        bool bare = k->parts[j].len > 0;
        for (size_t m = 0; m < k->parts[j].len; m++)
            bare = bare && bare_char((unsigned char)k->parts[j].s[m]);
        if (j)
            buf[o++] = '.';
        if (!bare)
            buf[o++] = '"';
        for (size_t m = 0; m < k->parts[j].len && o + 6 < cap; m++) {
            unsigned char c = (unsigned char)k->parts[j].s[m];
            buf[o++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
        }
        if (!bare)
            buf[o++] = '"';
    }
    if (o + 4 >= cap)
        o = cap - 4;
    buf[o] = '\0';
}

/* "an integer", "a table": for messages */
static const char *a_type(const dlt_toml_value *v)
{
    static const char *const names[] = {"a table", "an array", "a string", "an integer", "a float", "a boolean",
                                        "an offset date-time", "a local date-time", "a local date", "a local time"};
    return names[v->type];
}

static dlt_toml_value *new_table(const dlt_tp_part *part, unsigned flags)
{
    dlt_toml_value *t = dlt_toml_new(DLT_TOML_TABLE);
    if (t) {
        t->flags = flags;
        t->line = part->line;
        t->col = part->col;
    }
    return t;
}

dlt_status dlt_tp_keyval(dlt_tp *p, dlt_toml_value *t)
{
    dlt_tp_key k;
    dlt_status st = dlt_tp_parse_key(p, &k);
    if (st)
        return st;
    char kt[256];
    dlt_toml_value *cur = t, *v = NULL;
    if (dlt_tp_peek(p, 0) != '=') {
        st = dlt_tp_err(p, p->i, "expected '=' after a key");
        goto done;
    }
    p->i++;
    dlt_tp_ws(p);
    int depth = p->depth;
    if (depth + (int)k.n > DLT_TOML_MAX_DEPTH) {
        st = dlt_tp_err(p, k.parts[DLT_TOML_MAX_DEPTH - depth].at, "values nested too deeply (limit %d levels)",
                        DLT_TOML_MAX_DEPTH);
        goto done;
    }
    p->depth = depth + (int)k.n;
    st = dlt_tp_value(p, &v);
    p->depth = depth;
    if (st)
        goto done;
    for (size_t j = 0; j + 1 < k.n; j++) {
        dlt_toml_entry *e = find(cur, k.parts[j].s, k.parts[j].len);
        if (!e) {
            dlt_toml_value *nt = new_table(&k.parts[j], DLT_TF_DOTTED);
            if (!nt) {
                st = dlt_tp_nomem();
                goto done;
            }
            if ((st = add(cur, &k.parts[j], nt)))
                goto done;
            cur = nt;
            continue;
        }
        key_text(&k, j, kt, sizeof kt);
        if (e->value->type != DLT_TOML_TABLE) {
            st = dlt_tp_err(p, k.parts[j].at, "key '%s' (line %d) is %s, not a table", kt, e->line,
                            a_type(e->value));
            goto done;
        }
        if (e->value->flags & DLT_TF_INLINE) {
            st = dlt_tp_err(p, k.parts[j].at, "inline table '%s' (line %d) cannot be extended", kt, e->line);
            goto done;
        }
        if (!(e->value->flags & DLT_TF_DOTTED)) {
            st = dlt_tp_err(p, k.parts[j].at, "table '%s' was defined by a [header] (line %d); dotted keys cannot add to it",
                            kt, e->line);
            goto done;
        }
        cur = e->value;
    }
    dlt_toml_entry *e = find(cur, k.parts[k.n - 1].s, k.parts[k.n - 1].len);
    if (e) {
        key_text(&k, k.n - 1, kt, sizeof kt);
        st = dlt_tp_err(p, k.parts[k.n - 1].at, "duplicate key '%s' (first defined at line %d)", kt, e->line);
        goto done;
    }
    st = add(cur, &k.parts[k.n - 1], v);
    v = NULL;
done:
    dlt_toml_free(v);
    dlt_tp_key_free(&k);
    return st;
}

/* [a.b.c] or [[a.b.c]] at the cursor; *cur becomes the table that the
 * following key/value lines fill. */
static dlt_status header(dlt_tp *p, dlt_toml_value *root, dlt_toml_value **cur)
{
    size_t at = p->i;
    bool aot = dlt_tp_peek(p, 1) == '[';
    p->i += aot ? 2 : 1;
    dlt_tp_key k;
    dlt_status st = dlt_tp_parse_key(p, &k);
    if (st)
        return st;
    char kt[256];
    if (dlt_tp_peek(p, 0) != ']' || (aot && dlt_tp_peek(p, 1) != ']')) {
        st = dlt_tp_err(p, p->i, aot ? "expected ']]' to close the array-of-tables header"
                                     : "expected ']' to close the table header");
        goto done;
    }
    p->i += aot ? 2 : 1;
    dlt_toml_value *t = root;
    int depth = 0; /* of t; an array of tables adds two levels: the array and its element */
    for (size_t j = 0; j < k.n; j++) {
        dlt_toml_entry *e = find(t, k.parts[j].s, k.parts[j].len);
        bool through_aot = e && e->value->type == DLT_TOML_ARRAY && (e->value->flags & DLT_TF_AOT);
        depth += (through_aot || (aot && j + 1 == k.n)) ? 2 : 1;
        if (depth > DLT_TOML_MAX_DEPTH) {
            st = dlt_tp_err(p, k.parts[j].at, "tables nested too deeply (limit %d levels)", DLT_TOML_MAX_DEPTH);
            goto done;
        }
        if (j + 1 == k.n)
            break;
        if (!e) {
            dlt_toml_value *nt = new_table(&k.parts[j], DLT_TF_IMPLICIT);
            if (!nt) {
                st = dlt_tp_nomem();
                goto done;
            }
            if ((st = add(t, &k.parts[j], nt)))
                goto done;
            t = nt;
            continue;
        }
        dlt_toml_value *v = e->value;
        key_text(&k, j, kt, sizeof kt);
        if (v->type == DLT_TOML_ARRAY && (v->flags & DLT_TF_AOT)) {
            t = v->arr.items[v->arr.len - 1];
        } else if (v->type != DLT_TOML_TABLE) {
            st = dlt_tp_err(p, k.parts[j].at, "key '%s' (line %d) is %s, not a table", kt, e->line, a_type(v));
            goto done;
        } else if (v->flags & DLT_TF_INLINE) {
            st = dlt_tp_err(p, k.parts[j].at, "inline table '%s' (line %d) cannot be extended", kt, e->line);
            goto done;
        } else {
            t = v;
        }
    }
    p->depth = depth;
    dlt_tp_part *last = &k.parts[k.n - 1];
    dlt_toml_entry *e = find(t, last->s, last->len);
    key_text(&k, k.n - 1, kt, sizeof kt);
    if (aot) {
        dlt_toml_value *arr;
        if (!e) {
            arr = dlt_toml_new(DLT_TOML_ARRAY);
            if (!arr) {
                st = dlt_tp_nomem();
                goto done;
            }
            arr->flags = DLT_TF_AOT;
            arr->line = last->line;
            arr->col = last->col;
            if ((st = add(t, last, arr)))
                goto done;
        } else if (e->value->type == DLT_TOML_ARRAY && (e->value->flags & DLT_TF_AOT)) {
            arr = e->value;
        } else {
            st = dlt_tp_err(p, last->at, "cannot append to '%s' with [[...]]: it is %s (line %d)", kt,
                            e->value->type == DLT_TOML_ARRAY ? "a static array" : a_type(e->value), e->line);
            goto done;
        }
        dlt_toml_value *nt = dlt_toml_new(DLT_TOML_TABLE);
        if (!nt) {
            st = dlt_tp_nomem();
            goto done;
        }
        nt->flags = DLT_TF_HEADER;
        nt->line = p->line;
        nt->col = dlt_tp_col(p, at);
        if ((st = dlt_toml_array_push(arr, nt)))
            goto done;
        *cur = nt;
    } else if (!e) {
        dlt_toml_value *nt = new_table(last, DLT_TF_HEADER);
        if (!nt) {
            st = dlt_tp_nomem();
            goto done;
        }
        nt->col = dlt_tp_col(p, at);
        if ((st = add(t, last, nt)))
            goto done;
        *cur = nt;
    } else if (e->value->type == DLT_TOML_TABLE && e->value->flags == DLT_TF_IMPLICIT) {
        e->value->flags = DLT_TF_HEADER;
        e->value->line = p->line;
        e->value->col = dlt_tp_col(p, at);
        *cur = e->value;
    } else if (e->value->type == DLT_TOML_TABLE) {
        st = dlt_tp_err(p, last->at, "table [%s] is already defined (line %d)", kt, e->value->line);
    } else {
        st = dlt_tp_err(p, last->at, "key '%s' (line %d) is %s, not a table", kt, e->line,
                        a_type(e->value));
    }
done:
    dlt_tp_key_free(&k);
    return st;
}

/* ---------------------------------------------------------------- document */

dlt_status dlt_toml_parse(const char *text, size_t len, dlt_toml_value **out)
{
    *out = NULL;
    dlt_tp p = {.s = text, .n = len, .line = 1};
    dlt_status st = check_utf8(&p);
    if (st)
        return st;
    dlt_toml_value *root = dlt_toml_new(DLT_TOML_TABLE);
    if (!root)
        return dlt_tp_nomem();
    root->flags = DLT_TF_HEADER;
    root->line = 1;
    root->col = 1;
    dlt_toml_value *cur = root;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        p.i = p.bol = 3; /* a byte order mark is allowed and ignored */
    for (;;) {
        dlt_tp_ws(&p);
        int c = dlt_tp_peek(&p, 0);
        if (c < 0)
            break;
        if (c == '[')
            st = header(&p, root, &cur);
        else if (c != '#' && c != '\n' && c != '\r')
            st = dlt_tp_keyval(&p, cur);
        if (st)
            goto fail;
        dlt_tp_ws(&p);
        if (dlt_tp_peek(&p, 0) == '#' && (st = dlt_tp_comment(&p)))
            goto fail;
        if (p.i < p.n && !dlt_tp_newline(&p)) {
            st = dlt_tp_err(&p, p.i, p.s[p.i] == '\r' ? "carriage return must be followed by a line feed"
                                                      : "expected the end of the line");
            goto fail;
        }
    }
    *out = root;
    return DLT_OK;
fail:
    dlt_toml_free(root);
    return st;
}
