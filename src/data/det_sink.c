/* Detection shard output shared by dlprep detection-synth and dlprep coco:
 * a known number of samples cut into balanced, contiguous shard files. */
#include "convert_internal.h"
#include "det_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t shard_start(const dlt_det_sink *s, int k)
{
    return s->total * k / s->nshards;
}

void dlt_det_sink_name(const dlt_det_sink *s, int64_t i, char *name, size_t cap, int64_t *row)
{
    int k = 0;
    while (k + 1 < s->nshards && shard_start(s, k + 1) <= i)
        k++;
    snprintf(name, cap, "%s-%05d-of-%05d.h5", s->prefix, k, s->nshards);
    if (row)
        *row = i - shard_start(s, k);
}

dlt_status dlt_det_sink_open(dlt_det_sink *s, const dlt_convert_opts *o, const char *prefix,
                             const dlt_shard_spec *spec, int64_t total)
{
    memset(s, 0, sizeof *s);
    s->spec = *spec;
    s->total = total;
    s->cur = -1;
    int64_t per = (int64_t)spec->h * spec->w * spec->c +
                  (int64_t)spec->max_boxes * (spec->mask_h * (int64_t)spec->mask_w + 21);
    int64_t n = o->num_shards > 0   ? o->num_shards
                : o->shard_size > 0 ? (total + o->shard_size - 1) / o->shard_size
                                    : (total * per + (128ll << 20) - 1) / (128ll << 20);
    s->nshards = (int)(n < 1 ? 1 : n > total ? (total > 0 ? total : 1) : n);
    if (!(s->dir = strdup(o->out_dir ? o->out_dir : ".")) || !(s->prefix = strdup(prefix)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    return dlt_data_mkdirs(s->dir);
}

dlt_status dlt_det_sink_add(dlt_det_sink *s, const dlt_det_sample *x)
{
    dlt_status st;
    if (s->done >= s->total)
        return dlt_seterr(DLT_ERR_INTERNAL, "detection sink: more than %lld samples",
                          (long long)s->total);
    if (s->w == NULL || (s->cur + 1 < s->nshards && s->done >= shard_start(s, s->cur + 1))) {
        if (s->w && (st = dlt_shard_writer_close(s->w))) {
            s->w = NULL;
            return st;
        }
        s->w = NULL;
        s->cur++;
        char name[256], path[4352];
        dlt_det_sink_name(s, s->done, name, sizeof name, NULL);
        snprintf(path, sizeof path, "%s/%s", s->dir, name);
        if ((st = dlt_shard_writer_open(path, &s->spec, &s->w)))
            return st;
    }
    if ((st = dlt_shard_write_det(s->w, x)))
        return st;
    s->done++;
    return DLT_OK;
}

dlt_status dlt_det_sink_close(dlt_det_sink *s)
{
    dlt_status st = DLT_OK;
    if (s->done != s->total)
        st = dlt_seterr(DLT_ERR_INTERNAL, "detection sink: %lld of %lld samples written",
                        (long long)s->done, (long long)s->total);
    if (s->w && !st)
        st = dlt_shard_writer_close(s->w);
    else if (s->w)
        dlt_shard_writer_abort(s->w);
    s->w = NULL;
    free(s->dir);
    free(s->prefix);
    s->dir = s->prefix = NULL;
    return st;
}

void dlt_det_sink_abort(dlt_det_sink *s)
{
    dlt_shard_writer_abort(s->w);
    s->w = NULL;
    free(s->dir);
    free(s->prefix);
    s->dir = s->prefix = NULL;
}
