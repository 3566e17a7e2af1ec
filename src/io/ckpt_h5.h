/* Small HDF5 helpers shared by the checkpoint writer and reader. */
#ifndef DLT_CKPT_H5_H
#define DLT_CKPT_H5_H

#include <hdf5.h>

#include "dlt_core.h"

/* Silence HDF5's own error printing for the calling scope (errors are reported
 * through dlt_status); restore with ckpt_h5_quiet_end. */
typedef struct {
    H5E_auto2_t fn;
    void *data;
} ckpt_h5_quiet;
void ckpt_h5_quiet_begin(ckpt_h5_quiet *q);
void ckpt_h5_quiet_end(const ckpt_h5_quiet *q);

int ckpt_attr_write_str(hid_t loc, const char *name, const char *value);
int ckpt_attr_write_i64(hid_t loc, const char *name, int64_t v);
/* The `crc32` attribute (uint32) every checkpoint dataset carries: CRC-32 of
 * the dataset's n bytes as stored (little-endian) */
#define CKPT_CRC_ATTR "crc32"
int ckpt_attr_write_crc(hid_t dset, const void *data, size_t n);
/* The crc32 attribute of dataset d (grp/name in messages) against the n
 * bytes read from it: DLT_ERR_IO naming the file and dataset on a mismatch,
 * or when it is missing and `required` (see ckpt_has_checksums). */
dlt_status ckpt_check_crc(const char *path, hid_t d, const char *grp, const char *name, const void *buf, size_t n,
                          int required);
/* 1: the file declares per-dataset checksums (root attribute
 * checksum_algorithm); files from before checksums have none and load as
 * they did. */
int ckpt_has_checksums(hid_t f);
/* /model's attributes and /state/best_metric's (ckpt_meta.c) */
int ckpt_write_meta(hid_t f, const dlt_kvlist *model, const char *best_name, int best_higher);
/* Calls fn(key, value as text, user) for each attribute of /model in the
 * order written; 0 when the file has no /model (older checkpoints). */
int ckpt_read_model(hid_t f, void (*fn)(const char *key, const char *value, void *user), void *user);
/* malloc'd string or NULL */
char *ckpt_attr_read_str(hid_t loc, const char *name);
int ckpt_attr_read_i64(hid_t loc, const char *name, int64_t *v);

#endif
