/* Checkpoint v1 -> safetensors. The format (as the reference implementation
 * writes it): u64 little-endian N, N bytes of JSON padded with spaces to a
 * multiple of 8, then the tensors' bytes back to back in the header's order,
 * which is by name (all tensors here are F32, so the reference's sort by
 * alignment then name reduces to the name). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_h5.h"
#include "dlt_ckpt.h"
#include "dlt_export.h"

typedef struct {
    char *name, group[8];
    int ndim;
    hsize_t dims[DLT_MAX_DIMS];
    size_t numel;
} st_tensor;

typedef struct {
    st_tensor *t;
    int n, cap;
} st_list;

void dlt_export_opts_default(dlt_export_opts *o)
{
    o->buffers = 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int grow(st_list *l)
{
    if (l->n < l->cap)
        return 1;
    int cap = l->cap ? 2 * l->cap : 64;
    st_tensor *t = realloc(l->t, (size_t)cap * sizeof *t);
    if (!t)
        return 0;
    l->t = t, l->cap = cap;
    return 1;
}

static dlt_status add_group(const char *path, hid_t f, const char *group, st_list *l)
{
    char name[1024];
    H5G_info_t gi;
    hid_t g = H5Lexists(f, group, H5P_DEFAULT) > 0 ? H5Gopen2(f, group, H5P_DEFAULT) : -1;
    if (g < 0 || H5Gget_info(g, &gi) < 0) {
        if (g >= 0)
            H5Gclose(g);
        return dlt_seterr(DLT_ERR_INVALID, "%s: no /%s group (not a dltrain checkpoint?)", path,
                          group);
    }
    dlt_status st = DLT_OK;
    for (hsize_t k = 0; st == DLT_OK && k < gi.nlinks; k++) {
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name,
                               H5P_DEFAULT) < 0) {
            st = dlt_seterr(DLT_ERR_IO, "%s: cannot list /%s", path, group);
            break;
        }
        hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
        hid_t ty = d >= 0 ? H5Dget_type(d) : -1, sp = d >= 0 ? H5Dget_space(d) : -1;
        int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        if (d < 0 || ty < 0 || nd < 0 || nd > DLT_MAX_DIMS || H5Tget_class(ty) != H5T_FLOAT ||
            H5Tget_size(ty) != 4) {
            st = dlt_seterr(DLT_ERR_INVALID,
                            "%s: /%s/%s is not a float32 tensor of at most %d dimensions", path,
                            group, name, DLT_MAX_DIMS);
        } else if (!grow(l)) {
            st = dlt_seterr(DLT_ERR_NOMEM, "export: out of memory");
        } else {
            st_tensor *t = &l->t[l->n];
            memset(t, 0, sizeof *t);
            snprintf(t->group, sizeof t->group, "%s", group);
            t->ndim = nd;
            H5Sget_simple_extent_dims(sp, t->dims, NULL);
            t->numel = 1;
            for (int i = 0; i < nd; i++)
                t->numel *= (size_t)t->dims[i];
            if (!(t->name = strdup(name)))
                st = dlt_seterr(DLT_ERR_NOMEM, "export: out of memory");
            else
                l->n++;
        }
        if (sp >= 0)
            H5Sclose(sp);
        if (ty >= 0)
            H5Tclose(ty);
        if (d >= 0)
            H5Dclose(d);
    }
    H5Gclose(g);
    return st;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void add_meta(const char *key, const char *value, void *user)
{
    dlt_kv_str(user, key, value);
}

/* The JSON header, padded with spaces to a multiple of 8 bytes. `model`: the
 * checkpoint's /model attributes, which follow format, producer and step. */
static char *make_header(const st_list *l, int64_t step, const dlt_kvlist *model, size_t *len)
{
    char *buf = NULL;
    size_t n = 0, off = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    fprintf(f, "{\"__metadata__\":{\"format\":\"pt\",\"producer\":");
    char producer[64];
    snprintf(producer, sizeof producer, "dltrain %s", dlt_version());
    json_string(f, producer);
    fprintf(f, ",\"step\":\"%lld\"", (long long)step);
    for (int i = 0; i < model->n; i++) {
        fputc(',', f);
        json_string(f, model->kv[i].key);
        fputc(':', f);
        json_string(f, model->kv[i].s);
    }
    fputc('}', f);
    for (int i = 0; i < l->n; i++) {
        const st_tensor *t = &l->t[i];
        fputc(',', f);
        json_string(f, t->name);
        fprintf(f, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++)
            fprintf(f, d ? ",%llu" : "%llu", (unsigned long long)t->dims[d]);
        fprintf(f, "],\"data_offsets\":[%zu,%zu]}", off, off + 4 * t->numel);
        off += 4 * t->numel;
    }
    fputc('}', f);
    while (ftell(f) % 8)
        fputc(' ', f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static dlt_status write_file(const char *ckpt, hid_t f, const st_list *l, const char *hdr,
                             size_t hlen, const char *out, int crc)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", out, (int)getpid());
    FILE *o = fopen(tmp, "wb");
    if (!o)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    int ok = fwrite(le, 1, 8, o) == 8 && fwrite(hdr, 1, hlen, o) == hlen;
    dlt_status st = DLT_OK;
    for (int i = 0; ok && i < l->n; i++) {
        const st_tensor *t = &l->t[i];
        float *buf = malloc(t->numel * 4 + 4);
        char where[1100];
        snprintf(where, sizeof where, "%s/%s", t->group, t->name);
        hid_t d = H5Dopen2(f, where, H5P_DEFAULT);
        /* read as little-endian f32 whatever the host: the bytes are the file's */
        if (!buf || d < 0 || H5Dread(d, H5T_IEEE_F32LE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            st = dlt_seterr(DLT_ERR_IO, "%s: reading /%s failed", ckpt, where);
            ok = 0;
        } else {
            char grp[16];
            snprintf(grp, sizeof grp, "/%s", t->group);
            /* a corrupt value is refused here as on resume */
            st = ckpt_check_crc(ckpt, d, grp, t->name, buf, t->numel * 4, crc);
            ok = st == DLT_OK && fwrite(buf, 4, t->numel, o) == t->numel;
        }
        if (d >= 0)
            H5Dclose(d);
        free(buf);
    }
    int err = ok ? 0 : errno;
    if (ok && (fflush(o) != 0 || fsync(fileno(o)) != 0))
        ok = 0, err = errno;
    if (fclose(o) != 0 && ok)
        ok = 0, err = errno;
    if (ok && rename(tmp, out) != 0)
        ok = 0, err = errno;
    if (!ok) {
        unlink(tmp);
        if (st == DLT_OK)
            st = dlt_seterr(DLT_ERR_IO, "%s: writing failed: %s", out, strerror(err ? err : EIO));
    }
    return st;
}

dlt_status dlt_export_safetensors(const char *ckpt_path, const char *out_path,
                                  const dlt_export_opts *o, dlt_export_info *info)
{
    dlt_export_opts def;
    ckpt_h5_quiet q;
    st_list l = {0};
    dlt_kvlist model = {0};
    int64_t step = 0, ver = 0;
    char *hdr = NULL;
    size_t hlen = 0;
    dlt_status st = DLT_OK;
    if (!o) {
        dlt_export_opts_default(&def);
        o = &def;
    }
    ckpt_h5_quiet_begin(&q);
    hid_t f = H5Fopen(ckpt_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char *fmt = f >= 0 ? ckpt_attr_read_str(f, "format") : NULL;
    if (f < 0 && access(ckpt_path, R_OK) != 0)
        st = dlt_seterr(DLT_ERR_NOTFOUND, "%s: %s", ckpt_path, strerror(errno));
    else if (f < 0)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: not an HDF5 file (or truncated)", ckpt_path);
    else if (!fmt || strcmp(fmt, DLT_CKPT_FORMAT) != 0 || !ckpt_attr_read_i64(f, "version", &ver) ||
             ver != DLT_CKPT_VERSION)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: not a dltrain checkpoint of version %d", ckpt_path,
                        DLT_CKPT_VERSION);
    free(fmt);
    if (st == DLT_OK) {
        ckpt_attr_read_i64(f, "step", &step);
        ckpt_read_model(f, add_meta, &model);
        st = add_group(ckpt_path, f, "params", &l);
    }
    if (st == DLT_OK && o->buffers)
        st = add_group(ckpt_path, f, "buffers", &l);
    if (st == DLT_OK) {
        qsort(l.t, (size_t)l.n, sizeof *l.t, by_name);
        for (int i = 1; i < l.n && st == DLT_OK; i++)
            if (strcmp(l.t[i - 1].name, l.t[i].name) == 0)
                st = dlt_seterr(DLT_ERR_INVALID, "%s: '%s' is both a parameter and a buffer",
                                ckpt_path, l.t[i].name);
    }
    if (st == DLT_OK && !(hdr = make_header(&l, step, &model, &hlen)))
        st = dlt_seterr(DLT_ERR_NOMEM, "export: out of memory");
    if (st == DLT_OK)
        st = write_file(ckpt_path, f, &l, hdr, hlen, out_path, ckpt_has_checksums(f));
    if (st == DLT_OK && info) {
        info->ntensors = l.n;
        info->step = step;
        info->header_len = (int64_t)hlen;
        info->file_bytes = 8 + (int64_t)hlen;
        for (int i = 0; i < l.n; i++)
            info->file_bytes += 4 * (int64_t)l.t[i].numel;
    }
    if (f >= 0)
        H5Fclose(f);
    ckpt_h5_quiet_end(&q);
    for (int i = 0; i < l.n; i++)
        free(l.t[i].name);
    free(l.t);
    free(hdr);
    return st;
}
