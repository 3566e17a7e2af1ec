/* Writing TOML: values in their canonical syntax and whole documents whose
 * parse gives back an equal tree (dltrain --print-config relies on that). */
#include "toml_impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void write_quoted(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t j = 0; j < len; j++) {
        unsigned char c = (unsigned char)s[j];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\f': fputs("\\f", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (c < 0x20 || c == 0x7F)
                fprintf(f, "\\u%04X", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

static bool is_bare(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t j = 0; j < len; j++) {
        char c = s[j];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void key(FILE *f, const char *s, size_t len)
{
    if (is_bare(s, len))
        fwrite(s, 1, len, f);
    else
        write_quoted(f, s, len);
}

dlt_status dlt_toml_write_key(FILE *f, const char *k, size_t key_len)
{
    key(f, k, key_len);
    return ferror(f) ? dlt_seterr(DLT_ERR_IO, "writing TOML failed") : DLT_OK;
}

/* The shortest decimal that reads back as the same double. */
static void write_float(FILE *f, double x)
{
    if (isnan(x)) {
        fputs("nan", f);
        return;
    }
    if (isinf(x)) {
        fputs(x < 0 ? "-inf" : "inf", f);
        return;
    }
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    fputs(buf, f);
    if (!strpbrk(buf, ".e"))
        fputs(".0", f);
}

static void write_datetime(FILE *f, dlt_toml_type t, const dlt_toml_datetime *d)
{
    if (d->text[0]) {
        fputs(d->text, f);
        return;
    }
    /* built in code rather than parsed: format from the fields */
    if (t != DLT_TOML_TIME_LOCAL)
        fprintf(f, "%04d-%02d-%02d", d->year, d->month, d->day);
    if (t == DLT_TOML_DATE_LOCAL)
        return;
    if (t != DLT_TOML_TIME_LOCAL)
        fputc('T', f);
    fprintf(f, "%02d:%02d:%02d", d->hour, d->minute, d->second);
    if (d->nanosecond)
        fprintf(f, ".%09d", d->nanosecond);
    if (t == DLT_TOML_DATETIME) {
        int m = d->offset_minutes;
        if (m == 0)
            fputc('Z', f);
        else
            fprintf(f, "%c%02d:%02d", m < 0 ? '-' : '+', abs(m) / 60, abs(m) % 60);
    }
}

static void value(FILE *f, const dlt_toml_value *v)
{
    switch (v->type) {
    case DLT_TOML_STRING: write_quoted(f, v->str.ptr, v->str.len); break;
    case DLT_TOML_INT: fprintf(f, "%" PRId64, v->i); break;
    case DLT_TOML_FLOAT: write_float(f, v->f); break;
    case DLT_TOML_BOOL: fputs(v->b ? "true" : "false", f); break;
    case DLT_TOML_ARRAY:
        fputc('[', f);
        for (size_t j = 0; j < v->arr.len; j++) {
            if (j)
                fputs(", ", f);
            value(f, v->arr.items[j]);
        }
        fputc(']', f);
        break;
    case DLT_TOML_TABLE:
        fputc('{', f);
        for (size_t j = 0; j < v->tab.len; j++) {
            fputs(j ? ", " : " ", f);
            key(f, v->tab.items[j].key, v->tab.items[j].key_len);
            fputs(" = ", f);
            value(f, v->tab.items[j].value);
        }
        fputs(v->tab.len ? " }" : "}", f);
        break;
    default: write_datetime(f, v->type, &v->dt); break;
    }
}

dlt_status dlt_toml_write_value(FILE *f, const dlt_toml_value *v)
{
    value(f, v);
    return ferror(f) ? dlt_seterr(DLT_ERR_IO, "writing TOML failed") : DLT_OK;
}

/* Tables get a [section] unless they were inline; arrays made by [[...]]
 * (all tables) get one [[section]] per element. */
static bool is_section(const dlt_toml_value *v) { return v->type == DLT_TOML_TABLE && !(v->flags & DLT_TF_INLINE); }

static bool is_aot(const dlt_toml_value *v)
{
    if (v->type != DLT_TOML_ARRAY || !(v->flags & DLT_TF_AOT) || v->arr.len == 0)
        return false;
    for (size_t j = 0; j < v->arr.len; j++)
        if (!is_section(v->arr.items[j]))
            return false;
    return true;
}

typedef struct path {
    const dlt_toml_entry *e;
    const struct path *up;
} path;

static void write_path(FILE *f, const path *p)
{
    if (p->up && p->up->e) {
        write_path(f, p->up);
        fputc('.', f);
    }
    key(f, p->e->key, p->e->key_len);
}

/* A header is written when it is needed: always for an element of an array
 * of tables, and for a table with plain keys or none at all; a table holding
 * only sub-tables is implied by their headers. */
static bool section(FILE *f, const dlt_toml_value *t, const path *here, bool aot_elem, bool any)
{
    size_t plain = 0;
    for (size_t j = 0; j < t->tab.len; j++)
        plain += !is_section(t->tab.items[j].value) && !is_aot(t->tab.items[j].value);
    if (here->e && (aot_elem || plain || t->tab.len == 0)) {
        if (any)
            fputc('\n', f);
        fputs(aot_elem ? "[[" : "[", f);
        write_path(f, here);
        fputs(aot_elem ? "]]\n" : "]\n", f);
        any = true;
    }
    for (size_t j = 0; j < t->tab.len; j++) {
        const dlt_toml_entry *e = &t->tab.items[j];
        if (is_section(e->value) || is_aot(e->value))
            continue;
        key(f, e->key, e->key_len);
        fputs(" = ", f);
        value(f, e->value);
        fputc('\n', f);
        any = true;
    }
    for (size_t j = 0; j < t->tab.len; j++) {
        const dlt_toml_entry *e = &t->tab.items[j];
        path sub = {e, here};
        if (is_section(e->value))
            any = section(f, e->value, &sub, false, any);
        else if (is_aot(e->value))
            for (size_t m = 0; m < e->value->arr.len; m++)
                any = section(f, e->value->arr.items[m], &sub, true, any);
    }
    return any;
}

dlt_status dlt_toml_write(FILE *f, const dlt_toml_value *table)
{
    if (!table || table->type != DLT_TOML_TABLE)
        return dlt_seterr(DLT_ERR_INVALID, "dlt_toml_write: not a table");
    path root = {NULL, NULL};
    section(f, table, &root, false, false);
    return ferror(f) ? dlt_seterr(DLT_ERR_IO, "writing TOML failed") : DLT_OK;
}
