/* TOML values: strings (all four forms), integers, floats, booleans,
 * arrays and inline tables (date-times are in toml_time.c). The cursor starts on the value's
 * first character and ends just past it. */
#include "toml_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- strings */

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static bool sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return false;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return true;
}

static bool sb_utf8(sbuf *b, uint32_t c)
{
    char u[4];
    size_t n;
    if (c < 0x80) {
        u[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        u[0] = (char)(0xC0 | (c >> 6));
        u[1] = (char)(0x80 | (c & 0x3F));
        n = 2;
    } else if (c < 0x10000) {
        u[0] = (char)(0xE0 | (c >> 12));
        u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[2] = (char)(0x80 | (c & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (c >> 18));
        u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[3] = (char)(0x80 | (c & 0x3F));
        n = 4;
    }
    return sb_put(b, u, n);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Control characters other than tab may not appear raw in strings or
 * comments (newlines are handled by the callers). */
static bool is_ctrl(int c) { return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7F; }

/* The escape at the cursor (a backslash) of a basic string. */
static dlt_status escape(dlt_tp *p, sbuf *b)
{
    size_t at = p->i;
    int c = dlt_tp_peek(p, 1);
    const char *simple = NULL;
    switch (c) {
    case 'b': simple = "\b"; break;
    case 't': simple = "\t"; break;
    case 'n': simple = "\n"; break;
    case 'f': simple = "\f"; break;
    case 'r': simple = "\r"; break;
    case '"': simple = "\""; break;
    case '\\': simple = "\\"; break;
    case 'u':
    case 'U': {
        int nd = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int k = 0; k < nd; k++) {
            int h = hexval(dlt_tp_peek(p, 2 + (size_t)k));
            if (h < 0)
                return dlt_tp_err(p, at, "expected %d hex digits after '\\%c'", nd, c);
            cp = cp * 16 + (uint32_t)h;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return dlt_tp_err(p, at, "escape '\\%c' is not a Unicode scalar value (U+%04X)", c, cp);
        p->i += 2 + (size_t)nd;
        return sb_utf8(b, cp) ? DLT_OK : dlt_tp_nomem();
    }
    default:
        if (c >= 0x21 && c < 0x7F)
            return dlt_tp_err(p, at, "invalid escape '\\%c' (expected one of \\b \\t \\n \\f \\r \\\" \\\\ \\u \\U)", c);
        return dlt_tp_err(p, at, "invalid escape (expected one of \\b \\t \\n \\f \\r \\\" \\\\ \\u \\U)");
    }
    p->i += 2;
    return sb_put(b, simple, 1) ? DLT_OK : dlt_tp_nomem();
}

/* In a multi-line basic string, a backslash that ends a line (spaces may
 * follow it) removes the newline and all whitespace up to the next text. */
static bool line_ending_backslash(dlt_tp *p)
{
    size_t j = p->i + 1;
    while (j < p->n && (p->s[j] == ' ' || p->s[j] == '\t'))
        j++;
    if (!(j < p->n && (p->s[j] == '\n' || (p->s[j] == '\r' && j + 1 < p->n && p->s[j + 1] == '\n'))))
        return false;
    p->i = j;
    for (;;) {
        dlt_tp_ws(p);
        if (!dlt_tp_newline(p))
            return true;
    }
}

/* Any string form at the cursor; `multi` says whether """/''' forms are
 * allowed (not in keys). */
static dlt_status string_any(dlt_tp *p, bool allow_multi, char **out, size_t *outlen)
{
    size_t at = p->i;
    char q = p->s[p->i];
    bool literal = q == '\'';
    bool multi = allow_multi && dlt_tp_peek(p, 1) == q && dlt_tp_peek(p, 2) == q;
    sbuf b = {0};
    dlt_status st = DLT_OK;
    if (!sb_put(&b, "", 0))
        return dlt_tp_nomem();
    if (multi) {
        p->i += 3;
        dlt_tp_newline(p); /* a newline right after the opening quotes is trimmed */
    } else {
        p->i += 1;
    }
    for (;;) {
        int c = dlt_tp_peek(p, 0);
        if (c < 0) {
            st = dlt_tp_err(p, at, "unterminated string (expected closing %s)",
                            multi ? (literal ? "'''" : "\"\"\"") : (literal ? "'" : "\""));
            break;
        }
        if (c == q) {
            if (!multi) {
                p->i++;
                break;
            }
            size_t run = 0;
            while (dlt_tp_peek(p, run) == q)
                run++;
            if (run < 3) {
                if (!sb_put(&b, p->s + p->i, run)) {
                    st = dlt_tp_nomem();
                    break;
                }
                p->i += run;
                continue;
            }
            if (run > 5) {
                st = dlt_tp_err(p, p->i + 5, "too many quotes: a multi-line string ends with at most 5");
                break;
            }
            /* up to two quotes just before the closing three belong to the text */
            if (!sb_put(&b, p->s + p->i, run - 3)) {
                st = dlt_tp_nomem();
                break;
            }
            p->i += run;
            break;
        }
        if (c == '\n' || c == '\r') {
            if (!multi) {
                st = dlt_tp_err(p, p->i, "expected closing %s before the end of the line", literal ? "'" : "\"");
                break;
            }
            size_t s0 = p->i;
            if (!dlt_tp_newline(p)) {
                st = dlt_tp_err(p, p->i, "carriage return must be followed by a line feed");
                break;
            }
            if (!sb_put(&b, p->s + s0, p->i - s0)) {
                st = dlt_tp_nomem();
                break;
            }
            continue;
        }
        if (c == '\\' && !literal) {
            if (multi && line_ending_backslash(p))
                continue;
            st = escape(p, &b);
            if (st)
                break;
            continue;
        }
        if (is_ctrl(c)) {
            st = dlt_tp_err(p, p->i, "control character U+%04X must be escaped in a string", c);
            break;
        }
        size_t s0 = p->i;
        while (p->i < p->n) {
            int d = (unsigned char)p->s[p->i];
            if (d == q || (d == '\\' && !literal) || d == '\n' || d == '\r' || is_ctrl(d))
                break;
            p->i++;
        }
        if (!sb_put(&b, p->s + s0, p->i - s0)) {
            st = dlt_tp_nomem();
            break;
        }
    }
    if (st) {
        free(b.p);
        return st;
    }
    *out = b.p;
    *outlen = b.n;
    return DLT_OK;
}

dlt_status dlt_tp_key_string(dlt_tp *p, char **s, size_t *len) { return string_any(p, false, s, len); }

/* ---------------------------------------------------------------- numbers */

/* Digits of `base` separated by single underscores, starting at s[*k].
 * Returns the number of digits or -1 after setting the error. */
static long digits(dlt_tp *p, size_t *k, int base, size_t end, dlt_status *st)
{
    long nd = 0;
    bool under = false;
    while (*k < end) {
        int c = (unsigned char)p->s[*k];
        if (c == '_') {
            if (nd == 0 || under) {
                *st = dlt_tp_err(p, *k, "'_' must stand between two digits");
                return -1;
            }
            under = true;
        } else {
            int v = hexval(c);
            if (v < 0 || v >= base || (base == 10 && !(c >= '0' && c <= '9')))
                break;
            under = false;
            nd++;
        }
        (*k)++;
    }
    if (under) {
        *st = dlt_tp_err(p, *k - 1, "'_' must stand between two digits");
        return -1;
    }
    return nd;
}

static bool numchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '+' ||
           c == '-' || c == '.';
}

static dlt_status number(dlt_tp *p, dlt_toml_value **out)
{
    size_t at = p->i, end = p->i;
    while (end < p->n && numchar((unsigned char)p->s[end]))
        end++;
    size_t k = at;
    bool neg = false, sign = false;
    dlt_status st = DLT_OK;
    if (p->s[at] == '+' || p->s[at] == '-') {
        neg = p->s[at] == '-';
        sign = true;
        k++;
    }
    size_t rest = end - k;
    if ((rest == 3 && (!memcmp(p->s + k, "inf", 3) || !memcmp(p->s + k, "nan", 3)))) {
        dlt_toml_value *v = dlt_tp_node(p, DLT_TOML_FLOAT, at);
        if (!v)
            return dlt_tp_nomem();
        v->f = p->s[k] == 'i' ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
        p->i = end;
        *out = v;
        return DLT_OK;
    }
    if (rest >= 2 && p->s[k] == '0' && (p->s[k + 1] == 'x' || p->s[k + 1] == 'o' || p->s[k + 1] == 'b')) {
        int base = p->s[k + 1] == 'x' ? 16 : p->s[k + 1] == 'o' ? 8 : 2;
        if (sign)
            return dlt_tp_err(p, at, "a sign is not allowed on hexadecimal, octal or binary integers");
        k += 2;
        size_t d0 = k;
        long nd = digits(p, &k, base, end, &st);
        if (nd < 0)
            return st;
        if (nd == 0 || k != end)
            return dlt_tp_err(p, nd == 0 ? d0 : k, "expected a base-%d digit", base);
        uint64_t u = 0;
        for (size_t j = d0; j < end; j++) {
            if (p->s[j] == '_')
                continue;
            uint64_t d = (uint64_t)hexval((unsigned char)p->s[j]);
            if (u > ((uint64_t)INT64_MAX - d) / (uint64_t)base)
                return dlt_tp_err(p, at, "integer does not fit in 64 bits (max 9223372036854775807)");
            u = u * (uint64_t)base + d;
        }
        dlt_toml_value *v = dlt_tp_node(p, DLT_TOML_INT, at);
        if (!v)
            return dlt_tp_nomem();
        v->i = (int64_t)u;
        p->i = end;
        *out = v;
        return DLT_OK;
    }
    size_t i0 = k;
    long nint = digits(p, &k, 10, end, &st);
    if (nint < 0)
        return st;
    if (nint == 0)
        return dlt_tp_err(p, k, "expected a value (string, number, boolean, date-time, array or inline table)");
    if (p->s[i0] == '0' && nint > 1)
        return dlt_tp_err(p, i0, "leading zeros are not allowed in numbers");
    bool is_float = false;
    if (k < end && p->s[k] == '.') {
        k++;
        size_t f0 = k;
        long nf = digits(p, &k, 10, end, &st);
        if (nf < 0)
            return st;
        if (nf == 0)
            return dlt_tp_err(p, f0, "expected a digit after the decimal point");
        is_float = true;
    }
    if (k < end && (p->s[k] == 'e' || p->s[k] == 'E')) {
        k++;
        if (k < end && (p->s[k] == '+' || p->s[k] == '-'))
            k++;
        size_t e0 = k;
        long ne = digits(p, &k, 10, end, &st);
        if (ne < 0)
            return st;
        if (ne == 0)
            return dlt_tp_err(p, e0, "expected a digit in the exponent");
        is_float = true;
    }
    if (k != end)
        return dlt_tp_err(p, k, "unexpected '%c' in number", p->s[k]);
    dlt_toml_value *v = dlt_tp_node(p, is_float ? DLT_TOML_FLOAT : DLT_TOML_INT, at);
    if (!v)
        return dlt_tp_nomem();
    if (is_float) {
        char buf[128], *q = buf, *heap = NULL;
        if (end - at >= sizeof buf) {
            heap = malloc(end - at + 1);
            if (!heap) {
                free(v);
                return dlt_tp_nomem();
            }
            q = heap;
        }
        size_t m = 0;
        for (size_t j = at; j < end; j++)
            if (p->s[j] != '_')
                q[m++] = p->s[j];
        q[m] = '\0';
        v->f = strtod(q, NULL);
        free(heap);
    } else {
        uint64_t u = 0, lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
        for (size_t j = i0; j < end; j++) {
            if (p->s[j] == '_')
                continue;
            uint64_t d = (uint64_t)(p->s[j] - '0');
            if (u > (lim - d) / 10u) {
                free(v);
                return dlt_tp_err(p, at, "integer does not fit in 64 bits (range -9223372036854775808 to "
                                         "9223372036854775807)");
            }
            u = u * 10u + d;
        }
        v->i = neg ? (int64_t)(0u - u) : (int64_t)u;
    }
    p->i = end;
    *out = v;
    return DLT_OK;
}

/* ---------------------------------------------------------------- arrays, inline tables */

/* Whitespace, newlines and comments between array elements. */
static dlt_status array_space(dlt_tp *p)
{
    for (;;) {
        dlt_tp_ws(p);
        int c = dlt_tp_peek(p, 0);
        if (c == '#') {
            dlt_status st = dlt_tp_comment(p);
            if (st)
                return st;
        } else if (c == '\n' || c == '\r') {
            if (!dlt_tp_newline(p))
                return dlt_tp_err(p, p->i, "carriage return must be followed by a line feed");
        } else {
            return DLT_OK;
        }
    }
}

static dlt_status array(dlt_tp *p, dlt_toml_value **out)
{
    dlt_toml_value *a = dlt_tp_node(p, DLT_TOML_ARRAY, p->i);
    if (!a)
        return dlt_tp_nomem();
    dlt_status st;
    p->i++;
    for (;;) {
        if ((st = array_space(p)))
            goto fail;
        if (dlt_tp_peek(p, 0) == ']')
            break;
        dlt_toml_value *v;
        p->depth++; /* elements sit one level below the array */
        st = dlt_tp_value(p, &v);
        p->depth--;
        if (st)
            goto fail;
        if ((st = dlt_toml_array_push(a, v)))
            goto fail;
        if ((st = array_space(p)))
            goto fail;
        int c = dlt_tp_peek(p, 0);
        if (c == ',') {
            p->i++;
            continue;
        }
        if (c == ']')
            break;
        st = dlt_tp_err(p, p->i, "expected ',' or ']' after an array element");
        goto fail;
    }
    p->i++;
    *out = a;
    return DLT_OK;
fail:
    dlt_toml_free(a);
    return st;
}

static dlt_status inline_table(dlt_tp *p, dlt_toml_value **out)
{
    dlt_toml_value *t = dlt_tp_node(p, DLT_TOML_TABLE, p->i);
    if (!t)
        return dlt_tp_nomem();
    dlt_status st;
    p->i++;
    dlt_tp_ws(p);
    if (dlt_tp_peek(p, 0) != '}') {
        for (;;) {
            if ((st = dlt_tp_keyval(p, t)))
                goto fail;
            dlt_tp_ws(p);
            int c = dlt_tp_peek(p, 0);
            if (c == '}')
                break;
            if (c != ',') {
                st = dlt_tp_err(p, p->i, "expected ',' or '}' in an inline table (which must fit on one line)");
                goto fail;
            }
            p->i++;
            dlt_tp_ws(p);
            if (dlt_tp_peek(p, 0) == '}') {
                st = dlt_tp_err(p, p->i, "expected a key after ',' (no trailing comma in an inline table)");
                goto fail;
            }
        }
    }
    p->i++;
    t->flags = DLT_TF_INLINE;
    *out = t;
    return DLT_OK;
fail:
    dlt_toml_free(t);
    return st;
}

/* ---------------------------------------------------------------- dispatch */

static bool word(const dlt_tp *p, const char *w)
{
    size_t n = strlen(w);
    return p->i + n <= p->n && !memcmp(p->s + p->i, w, n);
}

dlt_status dlt_tp_value(dlt_tp *p, dlt_toml_value **out)
{
    *out = NULL;
    int c = dlt_tp_peek(p, 0);
    if (c == '"' || c == '\'') {
        char *s;
        size_t len;
        size_t at = p->i;
        dlt_status st = string_any(p, true, &s, &len);
        if (st)
            return st;
        dlt_toml_value *v = dlt_tp_node(p, DLT_TOML_STRING, at);
        if (!v) {
            free(s);
            return dlt_tp_nomem();
        }
        v->str.ptr = s;
        v->str.len = len;
        *out = v;
        return DLT_OK;
    }
    if (c == '[' || c == '{') {
        if (p->depth >= DLT_TOML_MAX_DEPTH)
            return dlt_tp_err(p, p->i, "values nested too deeply (limit %d levels)", DLT_TOML_MAX_DEPTH);
        return c == '[' ? array(p, out) : inline_table(p, out);
    }
    if (word(p, "true") || word(p, "false")) {
        dlt_toml_value *v = dlt_tp_node(p, DLT_TOML_BOOL, p->i);
        if (!v)
            return dlt_tp_nomem();
        v->b = c == 't';
        p->i += v->b ? 4 : 5;
        *out = v;
        return DLT_OK;
    }
    if (dlt_tp_at_date(p, p->i) || dlt_tp_at_time(p, p->i))
        return dlt_tp_datetime(p, out);
    if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'i' || c == 'n')
        return number(p, out);
    return dlt_tp_err(p, p->i, "expected a value (string, number, boolean, date-time, array or inline table)");
}
