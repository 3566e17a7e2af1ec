/* Private to src/data: a validated set of image-classification shards seen as
 * one global dataset (global index = position in the sorted glob, then row). */
#ifndef DLT_LOADER_INTERNAL_H
#define DLT_LOADER_INTERNAL_H

#include "dlt_data.h"

typedef struct {
    char *pattern;
    dlt_shard **shards;
    int nshards;
    int64_t *starts; /* nshards + 1 prefix sums */
    int64_t n;
    int c, h, w, num_classes;
} dlt_shardset;

/* pattern: one glob, or several separated by commas; matches are sorted per glob. */
dlt_status dlt_shardset_open(dlt_shardset *set, const char *pattern,
                             const dlt_shard_open_opts *opts);
/* Sample idx: *px points at its HWC bytes (in memory, or read into scratch). */
dlt_status dlt_shardset_get(const dlt_shardset *set, int64_t idx, uint8_t *scratch,
                            const uint8_t **px, int32_t *label);
void dlt_shardset_close(dlt_shardset *set);

#endif
