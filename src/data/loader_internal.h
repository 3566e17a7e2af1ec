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
    int domain;   /* -1: image-classification; 0 or 1: images_a or images_b of image-pairs */
    int borrowed; /* the shards belong to another set (dlt_shardset_view) */
} dlt_shardset;

/* pattern: one glob, or several separated by commas; matches are sorted per glob. */
dlt_status dlt_shardset_open(dlt_shardset *set, const char *pattern,
                             const dlt_shard_open_opts *opts);
/* The same over domain 0 (A) or 1 (B) of image-pairs shards; labels read as the domain. */
dlt_status dlt_shardset_open_domain(dlt_shardset *set, const char *pattern, int domain,
                                    const dlt_shard_open_opts *opts);
/* The same files as `of` (a domain set) seen as the other domain, without opening
 * them again: the shards are borrowed, and `of` must be closed after s. */
dlt_status dlt_shardset_view(dlt_shardset *s, const dlt_shardset *of, int domain);
/* Sample idx: *px points at its HWC bytes (in memory, or read into scratch). */
dlt_status dlt_shardset_get(const dlt_shardset *set, int64_t idx, uint8_t *scratch,
                            const uint8_t **px, int32_t *label);
void dlt_shardset_close(dlt_shardset *set);

/* dlt_loader_open over one domain of image-pairs shards (dlt_shardset_open_domain):
 * the same sampler, workers and cursor; the two-domain loader holds two of them.
 * share: NULL, or a domain loader over the same files whose shards this one
 * borrows (dlt_shardset_view); close this one first. */
dlt_status dlt_loader_open_domain(const dlt_loader_config *cfg, int domain,
                                  const dlt_loader *share, dlt_loader **out);

#endif
