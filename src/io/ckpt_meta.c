/* Checkpoint metadata that describes rather than restores: the model's
 * resolved architecture as attributes of /model (readable with h5dump -A),
 * and which metric /state/best_metric holds. Resume never reads them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_h5.h"

static int attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = sp >= 0 ? H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = a >= 0 && H5Awrite(a, mtype, v) >= 0;
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    return ok;
}

/* Booleans as h5py writes numpy bools: an 8-bit enum FALSE = 0, TRUE = 1. */
static hid_t bool_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    signed char v = 0;
    if (t >= 0 && H5Tenum_insert(t, "FALSE", &v) >= 0 && (v = 1, H5Tenum_insert(t, "TRUE", &v) >= 0))
        return t;
    if (t >= 0)
        H5Tclose(t);
    return -1;
}

static int write_kv(hid_t g, const dlt_kv *kv)
{
    switch (kv->kind) {
    case DLT_KV_INT:
        return attr_write(g, kv->key, H5T_STD_I64LE, H5T_NATIVE_INT64, &kv->i);
    case DLT_KV_FLOAT:
        return attr_write(g, kv->key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &kv->f);
    case DLT_KV_BOOL: {
        hid_t t = bool_type();
        signed char v = (signed char)(kv->i != 0);
        int ok = t >= 0 && attr_write(g, kv->key, t, t, &v);
        if (t >= 0)
            H5Tclose(t);
        return ok;
    }
    default:
        return ckpt_attr_write_str(g, kv->key, kv->s);
    }
}

int ckpt_write_meta(hid_t f, const dlt_kvlist *model, const char *best_name, int best_higher)
{
    int ok = 1;
    if (best_name) {
        hid_t d = H5Dopen2(f, "state/best_metric", H5P_DEFAULT);
        hid_t t = bool_type();
        signed char hib = (signed char)(best_higher != 0);
        ok = d >= 0 && t >= 0 && ckpt_attr_write_str(d, "metric", best_name) &&
             attr_write(d, "higher_is_better", t, t, &hib);
        if (t >= 0)
            H5Tclose(t);
        if (d >= 0)
            H5Dclose(d);
    }
    if (!ok || !model || model->n == 0)
        return ok;
    /* attributes keep the order the model listed them (arch first) */
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    hid_t g = gcpl >= 0 && H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) >= 0
                  ? H5Gcreate2(f, "model", H5P_DEFAULT, gcpl, H5P_DEFAULT)
                  : -1;
    if (gcpl >= 0)
        H5Pclose(gcpl);
    ok = g >= 0;
    for (int i = 0; ok && i < model->n; i++)
        ok = write_kv(g, &model->kv[i]);
    if (g >= 0)
        H5Gclose(g);
    return ok;
}

typedef struct {
    void (*fn)(const char *, const char *, void *);
    void *user;
} read_ctx;

static herr_t one_attr(hid_t loc, const char *name, const H5A_info_t *info, void *op)
{
    (void)info;
    read_ctx *c = op;
    char text[256] = "";
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if (cls == H5T_INTEGER) {
        int64_t v = 0;
        if (H5Aread(a, H5T_NATIVE_INT64, &v) >= 0)
            snprintf(text, sizeof text, "%" PRId64, v);
    } else if (cls == H5T_FLOAT) {
        double v = 0;
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0)
            snprintf(text, sizeof text, "%.9g", v);
    } else if (cls == H5T_ENUM) {
        signed char v = 0;
        hid_t bt = bool_type();
        if (bt >= 0 && H5Aread(a, bt, &v) >= 0)
            snprintf(text, sizeof text, "%s", v ? "true" : "false");
        if (bt >= 0)
            H5Tclose(bt);
    } else if (cls == H5T_STRING) {
        char *s = ckpt_attr_read_str(loc, name);
        snprintf(text, sizeof text, "%s", s ? s : "");
        free(s);
    }
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    c->fn(name, text, c->user);
    return 0;
}

int ckpt_read_model(hid_t f, void (*fn)(const char *key, const char *value, void *user), void *user)
{
    if (H5Lexists(f, "model", H5P_DEFAULT) <= 0)
        return 0;
    hid_t g = H5Gopen2(f, "model", H5P_DEFAULT);
    if (g < 0)
        return 0;
    read_ctx c = {fn, user};
    hsize_t idx = 0;
    herr_t r = H5Aiterate2(g, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, one_attr, &c);
    H5Gclose(g);
    return r >= 0;
}
