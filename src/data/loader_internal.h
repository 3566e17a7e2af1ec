/* Private to src/data: a validated set of image-classification shards seen as
 * one global dataset (global index = position in the sorted glob, then row), or
 * one domain of a set of image-pairs shards seen the same way (pair_loader.c). */
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
    int domain; /* -1: image-classification; 0 or 1: images_a or images_b of image-pairs */
} dlt_shardset;

/* pattern: one glob, or several separated by commas; matches are sorted per glob. */
dlt_status dlt_shardset_open(dlt_shardset *set, const char *pattern,
                             const dlt_shard_open_opts *opts);
/* The same over domain 0 (A) or 1 (B) of image-pairs shards; labels read as the domain. */
dlt_status dlt_shardset_open_domain(dlt_shardset *set, const char *pattern, int domain,
                                    const dlt_shard_open_opts *opts);
/* Sample idx: *px points at its HWC bytes (in memory, or read into scratch). */
dlt_status dlt_shardset_get(const dlt_shardset *set, int64_t idx, uint8_t *scratch,
                            const uint8_t **px, int32_t *label);
void dlt_shardset_close(dlt_shardset *set);

/* dlt_loader_open over one domain of image-pairs shards (dlt_shardset_open_domain):
 * the same sampler, workers and cursor; the two-domain loader holds two of them. */
dlt_status dlt_loader_open_domain(const dlt_loader_config *cfg, int domain, dlt_loader **out);

#endif
