/* Exporting checkpoints to formats other frameworks read. */
#ifndef DLT_EXPORT_H
#define DLT_EXPORT_H

#include <stdint.h>

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int buffers; /* 1 (default): also export /buffers (batch-norm running statistics) */
} dlt_export_opts;

void dlt_export_opts_default(dlt_export_opts *o);

typedef struct {
    int ntensors;
    int64_t step;       /* of the checkpoint */
    int64_t header_len; /* JSON header bytes, padding included */
    int64_t file_bytes;
} dlt_export_info;

/* Write the parameters (and buffers) of a checkpoint v1 file as a safetensors
 * file (docs/formats.md): 8-byte little-endian header length, a JSON header
 * (tensors sorted by name: dtype "F32", shape, data_offsets; __metadata__ with
 * format "pt", producer, step, then the checkpoint's /model attributes as
 * strings: the architecture, docs/models.md), then the raw little-endian data. Written
 * to a temporary name and renamed. o and info may be NULL. */
dlt_status dlt_export_safetensors(const char *ckpt_path, const char *out_path,
                                  const dlt_export_opts *o, dlt_export_info *info);

#ifdef __cplusplus
}
#endif
#endif
