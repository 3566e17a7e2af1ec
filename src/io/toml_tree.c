/* TOML trees: construction, lookup, comparison, release. */
#include "toml_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *dlt_toml_type_name(dlt_toml_type t)
{
    static const char *const names[] = {"table", "array", "string", "integer", "float",
                                        "boolean", "offset date-time", "local date-time", "local date", "local time"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

dlt_toml_value *dlt_toml_new(dlt_toml_type t)
{
    dlt_toml_value *v = calloc(1, sizeof *v);
    if (v)
        v->type = t;
    return v;
}

dlt_toml_value *dlt_toml_new_string(const char *s, size_t len)
{
    dlt_toml_value *v = dlt_toml_new(DLT_TOML_STRING);
    if (!v)
        return NULL;
    v->str.ptr = malloc(len + 1);
    if (!v->str.ptr) {
        free(v);
        return NULL;
    }
    if (len)
        memcpy(v->str.ptr, s, len);
    v->str.ptr[len] = '\0';
    v->str.len = len;
    return v;
}

dlt_toml_value *dlt_toml_new_int(int64_t i)
{
    dlt_toml_value *v = dlt_toml_new(DLT_TOML_INT);
    if (v)
        v->i = i;
    return v;
}

dlt_toml_value *dlt_toml_new_float(double f)
{
    dlt_toml_value *v = dlt_toml_new(DLT_TOML_FLOAT);
    if (v)
        v->f = f;
    return v;
}

dlt_toml_value *dlt_toml_new_bool(bool b)
{
    dlt_toml_value *v = dlt_toml_new(DLT_TOML_BOOL);
    if (v)
        v->b = b;
    return v;
}

void dlt_toml_free(dlt_toml_value *v)
{
    if (!v)
        return;
    if (v->type == DLT_TOML_STRING) {
        free(v->str.ptr);
    } else if (v->type == DLT_TOML_ARRAY) {
        for (size_t j = 0; j < v->arr.len; j++)
            dlt_toml_free(v->arr.items[j]);
        free(v->arr.items);
    } else if (v->type == DLT_TOML_TABLE) {
        for (size_t j = 0; j < v->tab.len; j++) {
            free(v->tab.items[j].key);
            dlt_toml_free(v->tab.items[j].value);
        }
        free(v->tab.items);
    }
    free(v);
}

dlt_status dlt_toml_array_push(dlt_toml_value *a, dlt_toml_value *v)
{
    if (!a || a->type != DLT_TOML_ARRAY || !v) {
        dlt_toml_free(v);
        return dlt_seterr(DLT_ERR_INVALID, "dlt_toml_array_push: not an array or no value");
    }
    if (a->arr.len == a->arr.cap) {
        size_t cap = a->arr.cap ? 2 * a->arr.cap : 4;
        dlt_toml_value **q = realloc(a->arr.items, cap * sizeof *q);
        if (!q) {
            dlt_toml_free(v);
            return dlt_tp_nomem();
        }
        a->arr.items = q;
        a->arr.cap = cap;
    }
    a->arr.items[a->arr.len++] = v;
    return DLT_OK;
}

const dlt_toml_entry *dlt_toml_get_entry(const dlt_toml_value *t, const char *key, size_t key_len)
{
    if (!t || t->type != DLT_TOML_TABLE)
        return NULL;
    for (size_t j = 0; j < t->tab.len; j++)
        if (t->tab.items[j].key_len == key_len && !memcmp(t->tab.items[j].key, key, key_len))
            return &t->tab.items[j];
    return NULL;
}

const dlt_toml_value *dlt_toml_get(const dlt_toml_value *t, const char *key)
{
    const dlt_toml_entry *e = dlt_toml_get_entry(t, key, strlen(key));
    return e ? e->value : NULL;
}

const dlt_toml_entry *dlt_toml_find_entry(const dlt_toml_value *root, const char *path)
{
    const dlt_toml_value *t = root;
    const dlt_toml_entry *e = NULL;
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        e = dlt_toml_get_entry(t, path, n);
        if (!e || !dot)
            return e;
        t = e->value;
        path = dot + 1;
    }
}

const dlt_toml_value *dlt_toml_find(const dlt_toml_value *root, const char *path)
{
    const dlt_toml_entry *e = dlt_toml_find_entry(root, path);
    return e ? e->value : NULL;
}

dlt_status dlt_toml_table_put(dlt_toml_value *t, const char *key, size_t key_len, dlt_toml_value *v)
{
    if (!t || t->type != DLT_TOML_TABLE || !v) {
        dlt_toml_free(v);
        return dlt_seterr(DLT_ERR_INVALID, "dlt_toml_table_put: not a table or no value");
    }
    dlt_toml_entry *e = (dlt_toml_entry *)dlt_toml_get_entry(t, key, key_len);
    if (e) {
        dlt_toml_free(e->value);
        e->value = v;
        return DLT_OK;
    }
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
    char *k = malloc(key_len + 1);
    if (!k) {
        dlt_toml_free(v);
        return dlt_tp_nomem();
    }
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    t->tab.items[t->tab.len++] = (dlt_toml_entry){k, key_len, v->line, v->col, v};
    return DLT_OK;
}

bool dlt_toml_table_remove(dlt_toml_value *t, const char *key, size_t key_len)
{
    dlt_toml_entry *e = (dlt_toml_entry *)dlt_toml_get_entry(t, key, key_len);
    if (!e)
        return false;
    free(e->key);
    dlt_toml_free(e->value);
    size_t j = (size_t)(e - t->tab.items);
    memmove(e, e + 1, (t->tab.len - j - 1) * sizeof *e);
    t->tab.len--;
    return true;
}

dlt_toml_value *dlt_toml_clone(const dlt_toml_value *v)
{
    if (!v)
        return NULL;
    dlt_toml_value *c;
    if (v->type == DLT_TOML_STRING) {
        c = dlt_toml_new_string(v->str.ptr, v->str.len);
    } else if (v->type == DLT_TOML_ARRAY) {
        c = dlt_toml_new(DLT_TOML_ARRAY);
        for (size_t j = 0; c && j < v->arr.len; j++) {
            dlt_toml_value *x = dlt_toml_clone(v->arr.items[j]);
            if (!x || dlt_toml_array_push(c, x)) {
                dlt_toml_free(c);
                c = NULL;
            }
        }
    } else if (v->type == DLT_TOML_TABLE) {
        c = dlt_toml_new(DLT_TOML_TABLE);
        for (size_t j = 0; c && j < v->tab.len; j++) {
            const dlt_toml_entry *e = &v->tab.items[j];
            dlt_toml_value *x = dlt_toml_clone(e->value);
            if (!x || dlt_toml_table_put(c, e->key, e->key_len, x)) {
                dlt_toml_free(c);
                c = NULL;
            } else {
                c->tab.items[c->tab.len - 1].line = e->line;
                c->tab.items[c->tab.len - 1].col = e->col;
            }
        }
    } else {
        c = dlt_toml_new(v->type);
        if (c)
            *c = *v;
    }
    if (c) {
        c->line = v->line;
        c->col = v->col;
        c->flags = v->flags;
    }
    return c;
}

static bool dt_equal(const dlt_toml_datetime *a, const dlt_toml_datetime *b)
{
    return a->year == b->year && a->month == b->month && a->day == b->day && a->hour == b->hour &&
           a->minute == b->minute && a->second == b->second && a->nanosecond == b->nanosecond &&
           a->offset_minutes == b->offset_minutes;
}

bool dlt_toml_equal(const dlt_toml_value *a, const dlt_toml_value *b)
{
    if (!a || !b)
        return a == b;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case DLT_TOML_STRING:
        return a->str.len == b->str.len && !memcmp(a->str.ptr, b->str.ptr, a->str.len);
    case DLT_TOML_INT:
        return a->i == b->i;
    case DLT_TOML_FLOAT:
        if (isnan(a->f) || isnan(b->f))
            return isnan(a->f) && isnan(b->f);
        return a->f == b->f && signbit(a->f) == signbit(b->f);
    case DLT_TOML_BOOL:
        return a->b == b->b;
    case DLT_TOML_ARRAY:
        if (a->arr.len != b->arr.len)
            return false;
        for (size_t j = 0; j < a->arr.len; j++)
            if (!dlt_toml_equal(a->arr.items[j], b->arr.items[j]))
                return false;
        return true;
    case DLT_TOML_TABLE:
        if (a->tab.len != b->tab.len)
            return false;
        for (size_t j = 0; j < a->tab.len; j++) {
            const dlt_toml_entry *e = dlt_toml_get_entry(b, a->tab.items[j].key, a->tab.items[j].key_len);
            if (!e || !dlt_toml_equal(a->tab.items[j].value, e->value))
                return false;
        }
        return true;
    default:
        return dt_equal(&a->dt, &b->dt);
    }
}
