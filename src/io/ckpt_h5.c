/* Small HDF5 helpers for checkpoints: quiet error stack, scalar attributes. */
#include "ckpt_h5.h"

#include <stdlib.h>
#include <string.h>

/* The checksums are over the bytes as stored: little-endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint checksums assume a little-endian host"
#endif

void ckpt_h5_quiet_begin(ckpt_h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void ckpt_h5_quiet_end(const ckpt_h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->fn, q->data); }

int ckpt_attr_write_str(hid_t loc, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = -1;
    int ok = 0;
    if (t >= 0 && sp >= 0 && H5Tset_size(t, strlen(value) + 1) >= 0 &&
        H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0) {
        a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        ok = a >= 0 && H5Awrite(a, t, value) >= 0;
    }
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    return ok;
}

int ckpt_attr_write_i64(hid_t loc, const char *name, int64_t v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = sp >= 0 ? H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0;
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    return ok;
}

int ckpt_attr_write_crc(hid_t dset, const void *data, size_t n)
{
    uint32_t crc = dlt_crc32(0, data, n);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = sp >= 0 ? H5Acreate2(dset, CKPT_CRC_ATTR, H5T_STD_U32LE, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_UINT32, &crc) >= 0;
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    return ok;
}

/* The dataset's crc32 attribute against the n bytes read from it. Files
 * written before checksums existed have none (required = 0) and load as
 * before; in a file that declares them every dataset must carry one. */
dlt_status ckpt_check_crc(const char *path, hid_t d, const char *grp, const char *name, const void *buf,
                          size_t n, int required)
{
    int64_t stored = -1;
    if (H5Aexists(d, CKPT_CRC_ATTR) <= 0)
        return required ? dlt_seterr(DLT_ERR_IO, "%s: %s/%s has no crc32 checksum: the checkpoint is damaged",
                                     path, grp, name)
                        : DLT_OK;
    uint32_t crc = dlt_crc32(0, buf, n);
    if (!ckpt_attr_read_i64(d, CKPT_CRC_ATTR, &stored) || stored != (int64_t)crc)
        return dlt_seterr(DLT_ERR_IO,
                          "%s: %s/%s: checksum mismatch (stored crc32 %08llx, computed %08x): the checkpoint is "
                          "corrupt",
                          path, grp, name, (unsigned long long)(uint32_t)stored, crc);
    return DLT_OK;
}

/* 1: the file declares per-dataset checksums (every one is then required) */
int ckpt_has_checksums(hid_t f)
{
    char *alg = ckpt_attr_read_str(f, "checksum_algorithm");
    int yes = alg != NULL;
    free(alg);
    return yes;
}

char *ckpt_attr_read_str(hid_t loc, const char *name)
{
    char *s = NULL;
    if (H5Aexists(loc, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : -1;
    if (ft >= 0 && H5Tget_class(ft) == H5T_STRING && !H5Tis_variable_str(ft)) {
        size_t n = H5Tget_size(ft);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        s = calloc(n + 2, 1);
        if (s && H5Aread(a, mt, s) < 0) {
            free(s);
            s = NULL;
        }
        H5Tclose(mt);
    }
    if (ft >= 0)
        H5Tclose(ft);
    if (a >= 0)
        H5Aclose(a);
    return s;
}

int ckpt_attr_read_i64(hid_t loc, const char *name, int64_t *v)
{
    if (H5Aexists(loc, name) <= 0)
        return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    int ok = a >= 0 && H5Aread(a, H5T_NATIVE_INT64, v) >= 0;
    if (a >= 0)
        H5Aclose(a);
    return ok;
}
