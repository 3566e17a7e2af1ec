/* Prediction files (dltrain predict, docs/formats.md): one HDF5 file of
 * per-sample arrays, rows appended batch by batch (chunked, extendible
 * datasets), plus root attributes. Written to a temporary name and renamed
 * when finished, so a failed run leaves no partial file under the name. */
#ifndef DLT_PREDFILE_H
#define DLT_PREDFILE_H

#include <stdint.h>

#include "dlt_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLT_PRED_FORMAT "dltrain-predictions"
#define DLT_PRED_VERSION 1

typedef struct dlt_pred_file dlt_pred_file;

dlt_status dlt_pred_file_create(const char *path, dlt_pred_file **out);
/* Appends n rows to dataset `name` (type DLT_F32 or DLT_I32; each row of shape
 * row_dim[0..ndim), ndim <= 3, 0 for scalars): the first call creates the
 * dataset [0, row_dim...], later ones must pass the same type and shape. */
dlt_status dlt_pred_file_append(dlt_pred_file *f, const char *name, dlt_dtype type, int ndim,
                                const int64_t *row_dim, const void *rows, int64_t n);
/* Root attributes. */
dlt_status dlt_pred_file_attr_str(dlt_pred_file *f, const char *name, const char *value);
dlt_status dlt_pred_file_attr_i64(dlt_pred_file *f, const char *name, int64_t value);
dlt_status dlt_pred_file_attr_f64(dlt_pred_file *f, const char *name, double value);
/* Closes, renames into place and frees f; abort removes the temporary file. */
dlt_status dlt_pred_file_finish(dlt_pred_file *f);
void dlt_pred_file_abort(dlt_pred_file *f);

#ifdef __cplusplus
}
#endif
#endif
