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

#endif
