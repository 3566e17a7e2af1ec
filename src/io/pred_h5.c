/* Prediction files: per-sample rows appended to chunked HDF5 datasets whose
 * first dimension grows, so a prediction run of any length holds one batch in
 * memory. */
#include "dlt_predfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_h5.h"

#define MAX_SETS 16

typedef struct {
    char name[64];
    dlt_dtype type;
    int ndim; /* per row */
    int64_t row[3], rows;
    hid_t d;
} pred_set;

struct dlt_pred_file {
    char path[1100], tmp[1120];
    hid_t f;
    pred_set sets[MAX_SETS];
    int nsets;
};

dlt_status dlt_pred_file_create(const char *path, dlt_pred_file **out)
{
    ckpt_h5_quiet q;
    dlt_pred_file *f = calloc(1, sizeof *f);
    *out = NULL;
    if (!f)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp", path);
    ckpt_h5_quiet_begin(&q);
    f->f = H5Fcreate(f->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ckpt_h5_quiet_end(&q);
    if (f->f < 0) {
        dlt_status st =
            dlt_seterr(DLT_ERR_IO, "%s: cannot create (does its folder exist?)", f->tmp);
        free(f);
        return st;
    }
    *out = f;
    if (!ckpt_attr_write_str(f->f, "format", DLT_PRED_FORMAT) ||
        !ckpt_attr_write_i64(f->f, "version", DLT_PRED_VERSION)) {
        dlt_pred_file_abort(f);
        *out = NULL;
        return dlt_seterr(DLT_ERR_IO, "%s: cannot write attributes", path);
    }
    return DLT_OK;
}

static dlt_status new_set(dlt_pred_file *f, const char *name, dlt_dtype type, int ndim,
                          const int64_t *row_dim, pred_set **out)
{
    if (f->nsets == MAX_SETS || ndim < 0 || ndim > 3 || strlen(name) >= sizeof f->sets[0].name)
        return dlt_seterr(DLT_ERR_INVALID, "%s: dataset '%s': too many or of rank > 4", f->path,
                          name);
    pred_set *s = &f->sets[f->nsets];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->type = type, s->ndim = ndim;
    hsize_t dims[4] = {0}, maxd[4] = {H5S_UNLIMITED}, chunk[4];
    int64_t row_numel = 1;
    for (int i = 0; i < ndim; i++)
        s->row[i] = row_dim[i], dims[i + 1] = maxd[i + 1] = chunk[i + 1] = (hsize_t)row_dim[i],
        row_numel *= row_dim[i];
    /* chunks of about 1 MiB of rows */
    chunk[0] = (hsize_t)(row_numel > (1 << 18) ? 1 : (1 << 18) / row_numel);
    hid_t sp = H5Screate_simple(ndim + 1, dims, maxd), pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, ndim + 1, chunk);
    s->d = H5Dcreate2(f->f, name, type == DLT_I32 ? H5T_STD_I32LE : H5T_IEEE_F32LE, sp, H5P_DEFAULT,
                      pl, H5P_DEFAULT);
    H5Pclose(pl);
    H5Sclose(sp);
    if (s->d < 0)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot create dataset '%s'", f->tmp, name);
    f->nsets++;
    *out = s;
    return DLT_OK;
}

dlt_status dlt_pred_file_append(dlt_pred_file *f, const char *name, dlt_dtype type, int ndim,
                                const int64_t *row_dim, const void *rows, int64_t n)
{
    pred_set *s = NULL;
    dlt_status st;
    for (int i = 0; i < f->nsets && !s; i++)
        if (strcmp(f->sets[i].name, name) == 0)
            s = &f->sets[i];
    if (!s && (st = new_set(f, name, type, ndim, row_dim, &s)) != DLT_OK)
        return st;
    /* per-sample scalars (ndim 0) come with row_dim NULL: nothing to compare */
    if (s->type != type || s->ndim != ndim ||
        (ndim > 0 && memcmp(s->row, row_dim, (size_t)ndim * sizeof *row_dim)))
        return dlt_seterr(DLT_ERR_INVALID, "%s: rows of '%s' change shape", f->path, name);
    if (n <= 0)
        return DLT_OK;
    hsize_t size[4], start[4] = {(hsize_t)s->rows}, count[4] = {(hsize_t)n};
    size[0] = (hsize_t)(s->rows + n);
    for (int i = 0; i < ndim; i++)
        size[i + 1] = count[i + 1] = (hsize_t)s->row[i], start[i + 1] = 0;
    hid_t fs = -1, ms = -1;
    int ok = H5Dset_extent(s->d, size) >= 0 && (fs = H5Dget_space(s->d)) >= 0 &&
             H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             (ms = H5Screate_simple(ndim + 1, count, NULL)) >= 0 &&
             H5Dwrite(s->d, type == DLT_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, ms, fs,
                      H5P_DEFAULT, rows) >= 0;
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    if (!ok)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot write %lld rows of '%s' (disk full?)", f->tmp,
                          (long long)n, name);
    s->rows += n;
    return DLT_OK;
}

dlt_status dlt_pred_file_attr_str(dlt_pred_file *f, const char *name, const char *value)
{
    return ckpt_attr_write_str(f->f, name, value ? value : "")
               ? DLT_OK
               : dlt_seterr(DLT_ERR_IO, "%s: cannot write attribute '%s'", f->tmp, name);
}

dlt_status dlt_pred_file_attr_i64(dlt_pred_file *f, const char *name, int64_t value)
{
    return ckpt_attr_write_i64(f->f, name, value)
               ? DLT_OK
               : dlt_seterr(DLT_ERR_IO, "%s: cannot write attribute '%s'", f->tmp, name);
}

dlt_status dlt_pred_file_attr_f64(dlt_pred_file *f, const char *name, double value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = sp >= 0 ? H5Acreate2(f->f, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_DOUBLE, &value) >= 0;
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    return ok ? DLT_OK : dlt_seterr(DLT_ERR_IO, "%s: cannot write attribute '%s'", f->tmp, name);
}

static int close_all(dlt_pred_file *f)
{
    int ok = 1;
    for (int i = 0; i < f->nsets; i++)
        ok &= H5Dclose(f->sets[i].d) >= 0;
    ok &= H5Fclose(f->f) >= 0;
    return ok;
}

dlt_status dlt_pred_file_finish(dlt_pred_file *f)
{
    dlt_status st = DLT_OK;
    if (!close_all(f))
        st = dlt_seterr(DLT_ERR_IO, "%s: cannot close (disk full?)", f->tmp);
    else if (rename(f->tmp, f->path) != 0)
        st =
            dlt_seterr(DLT_ERR_IO, "%s: cannot rename to %s: %s", f->tmp, f->path, strerror(errno));
    if (st != DLT_OK)
        remove(f->tmp);
    free(f);
    return st;
}

void dlt_pred_file_abort(dlt_pred_file *f)
{
    if (!f)
        return;
    close_all(f);
    remove(f->tmp);
    free(f);
}
