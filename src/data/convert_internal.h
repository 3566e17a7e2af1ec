/* Private to src/data: what the dlprep converters share: a progress bar and a
 * sink that splits a stream of labelled images into train/val shard files. */
#ifndef DLT_CONVERT_INTERNAL_H
#define DLT_CONVERT_INTERNAL_H

#include <stdio.h>

#include "dlt_data.h"

typedef struct {
    FILE *f; /* NULL: silent */
    int tty;
    const char *label;
    int64_t total, done;
    double t0, last;
} dlt_progress;

/* On a terminal the bar is redrawn in place (at most 10 times a second);
 * elsewhere one line is printed every 10 seconds and one at the end. */
void dlt_progress_start(dlt_progress *p, FILE *f, const char *label, int64_t total);
void dlt_progress_add(dlt_progress *p, int64_t n);
void dlt_progress_end(dlt_progress *p);

typedef struct dlt_sink dlt_sink;

/* Expects exactly `total` samples; sends o->val_fraction of them (chosen by
 * o->seed) to "val" shards and the rest to `prefix` shards, named
 * OUT/PREFIX-00000-of-00004.h5. spec: an image-classification spec. */
dlt_status dlt_sink_open(dlt_sink **out, const dlt_convert_opts *o, const char *prefix,
                         const dlt_shard_spec *spec, int64_t total);
dlt_status dlt_sink_add(dlt_sink *s, const uint8_t *hwc, int32_t label);
dlt_status dlt_sink_close(dlt_sink *s); /* frees s */
void dlt_sink_abort(dlt_sink *s);       /* removes unfinished files; frees s */

/* mkdir -p */
dlt_status dlt_data_mkdirs(const char *dir);

/* Image-pairs output (pair_sink.c): writes num[0] images of domain A and num[1]
 * of domain B, fetched by index in source order, into OUT/PREFIX-*.h5 (each
 * shard a balanced slice of both domains); o->val_fraction of each domain,
 * chosen by o->seed, goes to val-* shards. spec: an image-pairs spec. */
typedef dlt_status (*dlt_pair_fetch)(void *user, int domain, int64_t i, uint8_t *hwc);
dlt_status dlt_pairs_write(const dlt_convert_opts *o, const char *prefix,
                           const dlt_shard_spec *spec, const int64_t num[2],
                           dlt_pair_fetch fetch, void *user);

/* Folder listing (convert_folder.c): the entries of dir that are directories
 * (want_dirs) or .png/.jpg/.jpeg files, sorted by name; hidden entries skipped. */
typedef struct {
    char **v;
    int n, cap;
} dlt_strlist;
dlt_status dlt_data_list_dir(const char *dir, int want_dirs, dlt_strlist *out);
void dlt_strlist_free(dlt_strlist *l);

/* IDX reading (convert_idx.c): calls fn for every image of an IDX pair in
 * order; fn's status other than DLT_OK stops the scan and is returned. */
typedef struct {
    int64_t n; /* images */
    int h, w, c;
} dlt_idx_shape;
typedef dlt_status (*dlt_idx_fn)(void *user, const dlt_idx_shape *shape, int64_t i,
                                  const uint8_t *hwc, int label);
dlt_status dlt_idx_scan(const char *images, const char *labels, dlt_idx_fn fn, void *user);
/* The ten class names, in label order ("T-shirt/top" ... "Ankle boot"). */
extern const char *const dlt_fmnist_class_names[10];

#endif
