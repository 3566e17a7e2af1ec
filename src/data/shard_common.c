/* Shard kinds, the per-kind dataset table, and HDF5 attribute/string helpers. */
#include "shard_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static const char *const kind_names[DLT_NKINDS] = {
    [DLT_KIND_IMAGE_CLASSIFICATION] = "image-classification",
    [DLT_KIND_TEXT_TOKENS] = "text-tokens",
    [DLT_KIND_DETECTION] = "detection",
    [DLT_KIND_IMAGE_PAIRS] = "image-pairs",
    [DLT_KIND_BERT_PRETRAINING] = "bert-pretraining",
};

const char *dlt_shard_kind_name(dlt_shard_kind k)
{
    return (unsigned)k < DLT_NKINDS ? kind_names[k] : "?";
}

dlt_status dlt_shard_kind_parse(const char *name, dlt_shard_kind *k)
{
    for (int i = 0; i < DLT_NKINDS; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *k = (dlt_shard_kind)i;
            return DLT_OK;
        }
    return dlt_seterr(DLT_ERR_INVALID,
                      "unknown shard kind '%s' (expected image-classification, text-tokens, "
                      "detection, image-pairs or bert-pretraining)",
                      name);
}

/* The order here is the checksum order of docs/formats.md. */
static const dlt_ds_desc ds_cls[] = {
    {"images", DS_U8, 4}, {"labels", DS_I32, 1}, {"class_names", DS_STR, 1}};
static const dlt_ds_desc ds_txt[] = {
    {"tokens", DS_I32, 1}, {"offsets", DS_I64, 1}, {"vocab", DS_STR, 1}};
static const dlt_ds_desc ds_det[] = {
    {"images", DS_U8, 4},      {"boxes", DS_F32, 3},       {"classes", DS_I32, 2},
    {"masks", DS_U8, 4},       {"num_boxes", DS_I32, 1},   {"iscrowd", DS_U8, 2},
    {"image_sizes", DS_I32, 2}, {"orig_sizes", DS_I32, 2}, {"image_ids", DS_I64, 1},
    {"class_names", DS_STR, 1}};
static const dlt_ds_desc ds_pair[] = {{"images_a", DS_U8, 4}, {"images_b", DS_U8, 4}};
static const dlt_ds_desc ds_bert[] = {
    {"input_ids", DS_I32, 2},           {"token_type_ids", DS_U8, 2},
    {"lengths", DS_I32, 1},             {"masked_lm_positions", DS_I32, 2},
    {"masked_lm_ids", DS_I32, 2},       {"masked_lm_weights", DS_F32, 2},
    {"next_sentence_labels", DS_I32, 1}, {"vocab", DS_STR, 1}};

int dlt_data_kind_datasets(dlt_shard_kind k, const dlt_ds_desc **out)
{
    switch (k) {
    case DLT_KIND_IMAGE_CLASSIFICATION: *out = ds_cls; return 3;
    case DLT_KIND_TEXT_TOKENS: *out = ds_txt; return 3;
    case DLT_KIND_DETECTION: *out = ds_det; return 10;
    case DLT_KIND_IMAGE_PAIRS: *out = ds_pair; return 2;
    case DLT_KIND_BERT_PRETRAINING: *out = ds_bert; return 8;
    default: *out = NULL; return 0;
    }
}

size_t dlt_data_ds_elem_size(dlt_ds_type t)
{
    static const size_t sz[] = {1, 4, 8, 4, sizeof(char *)};
    return sz[t];
}

const char *dlt_data_ds_type_name(dlt_ds_type t)
{
    static const char *const nm[] = {"uint8", "int32", "int64", "float32", "string"};
    return nm[t];
}

hid_t dlt_data_ds_file_type(dlt_ds_type t)
{
    switch (t) {
    case DS_U8: return H5T_STD_U8LE;
    case DS_I32: return H5T_STD_I32LE;
    case DS_I64: return H5T_STD_I64LE;
    case DS_F32: return H5T_IEEE_F32LE;
    default: return H5T_C_S1;
    }
}

hid_t dlt_data_ds_mem_type(dlt_ds_type t)
{
    switch (t) {
    case DS_U8: return H5T_NATIVE_UINT8;
    case DS_I32: return H5T_NATIVE_INT32;
    case DS_I64: return H5T_NATIVE_INT64;
    case DS_F32: return H5T_NATIVE_FLOAT;
    default: return H5T_C_S1;
    }
}

const char *dlt_data_h5_type_name(hid_t type, char *buf, size_t n)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t sz = H5Tget_size(type);
    if (cls == H5T_INTEGER)
        snprintf(buf, n, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", sz * 8);
    else if (cls == H5T_FLOAT)
        snprintf(buf, n, "float%zu", sz * 8);
    else if (cls == H5T_STRING)
        snprintf(buf, n, "string");
    else
        snprintf(buf, n, "HDF5 class %d", (int)cls);
    return buf;
}

int dlt_data_h5_type_is(hid_t type, dlt_ds_type t)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t sz = H5Tget_size(type);
    switch (t) {
    case DS_U8: return cls == H5T_INTEGER && sz == 1 && H5Tget_sign(type) == H5T_SGN_NONE;
    case DS_I32: return cls == H5T_INTEGER && sz == 4 && H5Tget_sign(type) == H5T_SGN_2;
    case DS_I64: return cls == H5T_INTEGER && sz == 8 && H5Tget_sign(type) == H5T_SGN_2;
    case DS_F32: return cls == H5T_FLOAT && sz == 4;
    case DS_STR: return cls == H5T_STRING;
    }
    return 0;
}

void dlt_h5_quiet_begin(dlt_h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void dlt_h5_quiet_end(const dlt_h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

static hid_t vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

dlt_status dlt_data_attr_write_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = vlen_str_type(), sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, &value);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? dlt_seterr(DLT_ERR_IO, "cannot write attribute '%s'", name) : DLT_OK;
}

dlt_status dlt_data_attr_write_i64(hid_t obj, const char *name, hid_t file_type, int64_t v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT64, &v);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? dlt_seterr(DLT_ERR_IO, "cannot write attribute '%s'", name) : DLT_OK;
}

static dlt_status attr_open(hid_t obj, const char *name, hid_t *a, hid_t *t)
{
    htri_t ex = H5Aexists(obj, name);
    if (ex <= 0)
        return dlt_seterr(DLT_ERR_NOTFOUND, "missing root attribute '%s'", name);
    *a = H5Aopen(obj, name, H5P_DEFAULT);
    if (*a < 0)
        return dlt_seterr(DLT_ERR_IO, "cannot open attribute '%s'", name);
    *t = H5Aget_type(*a);
    hid_t sp = H5Aget_space(*a);
    hssize_t npts = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    if (npts != 1) {
        H5Tclose(*t);
        H5Aclose(*a);
        return dlt_seterr(DLT_ERR_INVALID, "attribute '%s' is not a scalar", name);
    }
    return DLT_OK;
}

dlt_status dlt_data_attr_read_str(hid_t obj, const char *name, char **value)
{
    hid_t a, t;
    char tn[32];
    dlt_status st = attr_open(obj, name, &a, &t);
    if (st)
        return st;
    *value = NULL;
    if (H5Tget_class(t) != H5T_STRING) {
        st = dlt_seterr(DLT_ERR_DTYPE, "attribute '%s' has type %s, expected a string", name,
                        dlt_data_h5_type_name(t, tn, sizeof tn));
    } else if (H5Tis_variable_str(t) > 0) {
        char *s = NULL;
        hid_t mt = vlen_str_type();
        if (H5Aread(a, mt, &s) < 0 || !s)
            st = dlt_seterr(DLT_ERR_IO, "cannot read attribute '%s'", name);
        else {
            *value = strdup(s);
            H5free_memory(s);
        }
        H5Tclose(mt);
    } else {
        size_t n = H5Tget_size(t);
        char *s = calloc(n + 1, 1);
        if (!s)
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        else if (H5Aread(a, t, s) < 0) {
            free(s);
            st = dlt_seterr(DLT_ERR_IO, "cannot read attribute '%s'", name);
        } else
            *value = s;
    }
    if (!st && !*value)
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    H5Tclose(t);
    H5Aclose(a);
    return st;
}

dlt_status dlt_data_attr_read_i64(hid_t obj, const char *name, int64_t *v)
{
    hid_t a, t;
    char tn[32];
    dlt_status st = attr_open(obj, name, &a, &t);
    if (st)
        return st;
    if (H5Tget_class(t) != H5T_INTEGER)
        st = dlt_seterr(DLT_ERR_DTYPE, "attribute '%s' has type %s, expected an integer", name,
                        dlt_data_h5_type_name(t, tn, sizeof tn));
    else if (H5Aread(a, H5T_NATIVE_INT64, v) < 0)
        st = dlt_seterr(DLT_ERR_IO, "cannot read attribute '%s'", name);
    H5Tclose(t);
    H5Aclose(a);
    return st;
}

dlt_status dlt_data_strings_write(hid_t file, const char *name, const char *const *s, int64_t n)
{
    hsize_t dim = (hsize_t)n;
    hid_t t = vlen_str_type(), sp = H5Screate_simple(1, &dim, NULL);
    hid_t ds = H5Dcreate2(file, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = ds < 0 ? -1 : (n ? H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) : 0);
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? dlt_seterr(DLT_ERR_IO, "cannot write dataset '%s'", name) : DLT_OK;
}

dlt_status dlt_data_strings_read(hid_t ds, char ***out, int64_t *nout)
{
    hid_t ft = H5Dget_type(ds), sp = H5Dget_space(ds);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    dlt_status st = DLT_OK;
    char **s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
    if (!s) {
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    } else if (n > 0 && H5Tis_variable_str(ft) > 0) {
        char **raw = calloc((size_t)n, sizeof *raw);
        hid_t mt = vlen_str_type();
        if (!raw || H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0)
            st = dlt_seterr(DLT_ERR_IO, "cannot read strings");
        else {
            for (hssize_t i = 0; i < n && !st; i++)
                if (!(s[i] = strdup(raw[i] ? raw[i] : "")))
                    st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw);
        }
        free(raw);
        H5Tclose(mt);
    } else if (n > 0) {
        size_t len = H5Tget_size(ft);
        char *raw = calloc((size_t)n, len);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, len);
        H5Tset_strpad(mt, H5T_STR_NULLPAD);
        if (!raw || H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0)
            st = dlt_seterr(DLT_ERR_IO, "cannot read strings");
        for (hssize_t i = 0; i < n && !st; i++) {
            if (!(s[i] = calloc(len + 1, 1)))
                st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
            else
                memcpy(s[i], raw + (size_t)i * len, len);
        }
        free(raw);
        H5Tclose(mt);
    }
    H5Sclose(sp);
    H5Tclose(ft);
    if (st) {
        dlt_data_strings_free(s, n);
        return st;
    }
    *out = s;
    *nout = n;
    return DLT_OK;
}

void dlt_data_strings_free(char **s, int64_t n)
{
    if (!s)
        return;
    for (int64_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

uint32_t dlt_data_strings_crc(uint32_t crc, const char *const *s, int64_t n, int64_t *bytes)
{
    for (int64_t i = 0; i < n; i++) {
        size_t len = strlen(s[i]) + 1; /* the NUL too */
        crc = dlt_crc32(crc, s[i], len);
        *bytes += (int64_t)len;
    }
    return crc;
}

uint32_t dlt_data_crc_combine(uint32_t a, uint32_t b, int64_t len_b)
{
    return (uint32_t)crc32_combine(a, b, (z_off_t)len_b);
}

double dlt_data_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
