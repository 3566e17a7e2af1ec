/* Key/value lists: a model's resolved settings, carried to checkpoints,
 * exports and --dry-run by code that does not interpret them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_core.h"

static dlt_kv *append(dlt_kvlist *l, const char *key, dlt_kv_kind kind)
{
    if (l->n >= DLT_KV_MAX)
        return NULL;
    dlt_kv *kv = &l->kv[l->n++];
    memset(kv, 0, sizeof *kv);
    snprintf(kv->key, sizeof kv->key, "%s", key);
    kv->kind = kind;
    return kv;
}

void dlt_kv_int(dlt_kvlist *l, const char *key, int64_t v)
{
    dlt_kv *kv = append(l, key, DLT_KV_INT);
    if (kv)
        kv->i = v;
}

void dlt_kv_bool(dlt_kvlist *l, const char *key, int v)
{
    dlt_kv *kv = append(l, key, DLT_KV_BOOL);
    if (kv)
        kv->i = v != 0;
}

void dlt_kv_float(dlt_kvlist *l, const char *key, float v)
{
    dlt_kv *kv = append(l, key, DLT_KV_FLOAT);
    if (!kv)
        return;
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v)
            break;
    }
    kv->f = strtod(buf, NULL);
}

void dlt_kv_str(dlt_kvlist *l, const char *key, const char *v)
{
    dlt_kv *kv = append(l, key, DLT_KV_STRING);
    if (kv)
        snprintf(kv->s, sizeof kv->s, "%s", v);
}

void dlt_kv_ints(dlt_kvlist *l, const char *key, const int *v, int n)
{
    char buf[sizeof l->kv[0].s];
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && o < sizeof buf; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, i ? ",%d" : "%d", v[i]);
    dlt_kv_str(l, key, buf);
}

void dlt_kv_format(const dlt_kv *kv, char *buf, size_t n)
{
    switch (kv->kind) {
    case DLT_KV_INT:
        snprintf(buf, n, "%" PRId64, kv->i);
        break;
    case DLT_KV_BOOL:
        snprintf(buf, n, "%s", kv->i ? "true" : "false");
        break;
    case DLT_KV_FLOAT:
        snprintf(buf, n, "%.9g", kv->f);
        break;
    default:
        snprintf(buf, n, "%s", kv->s);
        break;
    }
}

const dlt_kv *dlt_kv_find(const dlt_kvlist *l, const char *key)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->kv[i].key, key))
            return &l->kv[i];
    return NULL;
}
