/* What a checkpoint says about its model without building it: the resolved
 * architecture the trainer records as attributes of /model (docs/formats.md,
 * docs/models.md: arch, in_channels, num_classes, ...). Programs that rebuild
 * a checkpoint's model outside the trainer (the FID feature extractor) read
 * the sizes the job leaves to the shards, e.g. num_classes, from here. */
#ifndef DLT_CKPT_MODEL_H
#define DLT_CKPT_MODEL_H

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Calls fn(key, value as text, user) for each attribute of path's /model, in
 * the order written; none when the file has no /model (checkpoints written
 * before it existed). A missing file, or one that is not a dltrain
 * checkpoint, is DLT_ERR_NOTFOUND or DLT_ERR_IO naming it. */
dlt_status dlt_ckpt_read_model(const char *path,
                               void (*fn)(const char *key, const char *value, void *user),
                               void *user);

#ifdef __cplusplus
}
#endif
#endif
