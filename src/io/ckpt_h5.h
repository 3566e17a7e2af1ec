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
/* /model's attributes and /state/best_metric's (ckpt_meta.c) */
int ckpt_write_meta(hid_t f, const dlt_kvlist *model, const char *best_name, int best_higher);
/* Calls fn(key, value as text, user) for each attribute of /model in the
 * order written; 0 when the file has no /model (older checkpoints). */
int ckpt_read_model(hid_t f, void (*fn)(const char *key, const char *value, void *user), void *user);
/* malloc'd string or NULL */
char *ckpt_attr_read_str(hid_t loc, const char *name);
int ckpt_attr_read_i64(hid_t loc, const char *name, int64_t *v);

#endif
