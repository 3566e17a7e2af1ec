/* The converters' output: one stream of labelled images, split into a main part
 * and an optional random validation part, each cut into balanced shards. */
#include "convert_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char prefix[64];
    int64_t n, written, end; /* end: first sample of the next shard */
    int nshards, cur;
    dlt_shard_writer *w;
} part;

struct dlt_sink {
    dlt_convert_opts o;
    char *out_dir;
    dlt_shard_spec spec;
    part parts[2]; /* main, val */
    uint8_t *is_val;
    int64_t total, seen;
    dlt_progress prog;
};

dlt_status dlt_data_mkdirs(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf)
        return dlt_seterr(DLT_ERR_INVALID, "bad output directory '%s'", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return dlt_seterr(DLT_ERR_IO, "cannot create directory %s: %s", buf,
                              strerror(errno));
        buf[i] = c;
    }
    return DLT_OK;
}

void dlt_convert_opts_default(dlt_convert_opts *o)
{
    memset(o, 0, sizeof *o);
    o->out_dir = ".";
}

static int shard_count(const dlt_convert_opts *o, const dlt_shard_spec *sp, int64_t n)
{
    int64_t s;
    if (o->num_shards > 0)
        s = o->num_shards;
    else if (o->shard_size > 0)
        s = (n + o->shard_size - 1) / o->shard_size;
    else {
        int64_t bytes = n * ((int64_t)sp->h * sp->w * sp->c + 4);
        s = (bytes + (128ll << 20) - 1) / (128ll << 20);
    }
    if (s > n)
        s = n;
    return s < 1 ? 1 : (int)s;
}

static dlt_status next_shard(dlt_sink *s, part *p)
{
    char path[4200];
    dlt_status st = DLT_OK;
    if (p->w) {
        st = dlt_shard_writer_close(p->w);
        p->w = NULL;
        if (st)
            return st;
        p->cur++;
    }
    if (p->cur >= p->nshards)
        return DLT_OK;
    p->end = (int64_t)((p->cur + 1) * p->n / p->nshards);
    snprintf(path, sizeof path, "%s/%s-%05d-of-%05d.h5", s->out_dir, p->prefix, p->cur,
             p->nshards);
    return dlt_shard_writer_open(path, &s->spec, &p->w);
}

dlt_status dlt_sink_open(dlt_sink **out, const dlt_convert_opts *o, const char *prefix,
                         const dlt_shard_spec *spec, int64_t total)
{
    *out = NULL;
    if (!(o->val_fraction >= 0 && o->val_fraction < 1))
        return dlt_seterr(DLT_ERR_INVALID, "--val-fraction %g must be in [0, 1)",
                          o->val_fraction);
    if (total <= 0)
        return dlt_seterr(DLT_ERR_INVALID, "no samples to convert");
    dlt_status st = dlt_data_mkdirs(o->out_dir);
    if (st)
        return st;
    dlt_sink *s = calloc(1, sizeof *s);
    if (!s)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    s->o = *o;
    s->spec = *spec;
    s->total = total;
    s->out_dir = strdup(o->out_dir);
    s->is_val = calloc((size_t)total, 1);
    int64_t *perm = malloc((size_t)total * sizeof *perm);
    if (!s->out_dir || !s->is_val || !perm) {
        free(perm);
        dlt_sink_abort(s);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    int64_t nval = (int64_t)(o->val_fraction * (double)total + 0.5);
    dlt_data_permutation(perm, total, o->seed ^ 0x76616cull, 0, 1);
    for (int64_t i = 0; i < nval; i++)
        s->is_val[perm[i]] = 1;
    free(perm);
    snprintf(s->parts[0].prefix, sizeof s->parts[0].prefix, "%s", prefix);
    snprintf(s->parts[1].prefix, sizeof s->parts[1].prefix, "val");
    s->parts[0].n = total - nval;
    s->parts[1].n = nval;
    for (int i = 0; i < 2 && !st; i++) {
        part *p = &s->parts[i];
        if (p->n == 0)
            continue;
        p->nshards = shard_count(o, spec, p->n);
        st = next_shard(s, p);
    }
    if (!st && s->parts[0].n == 0)
        st = dlt_seterr(DLT_ERR_INVALID, "--val-fraction %g leaves no training samples",
                        o->val_fraction);
    if (st) {
        dlt_sink_abort(s);
        return st;
    }
    dlt_progress_start(&s->prog, o->progress, prefix, total);
    *out = s;
    return DLT_OK;
}

dlt_status dlt_sink_add(dlt_sink *s, const uint8_t *hwc, int32_t label)
{
    if (s->seen >= s->total)
        return dlt_seterr(DLT_ERR_INTERNAL, "more samples than the %lld announced",
                          (long long)s->total);
    part *p = &s->parts[s->is_val[s->seen++]];
    dlt_status st = dlt_shard_write_image(p->w, hwc, label);
    if (!st && ++p->written == p->end)
        st = next_shard(s, p);
    dlt_progress_add(&s->prog, 1);
    return st;
}

dlt_status dlt_sink_close(dlt_sink *s)
{
    dlt_status st = DLT_OK;
    if (s->seen != s->total)
        st = dlt_seterr(DLT_ERR_INVALID, "got %lld samples, the source announced %lld",
                        (long long)s->seen, (long long)s->total);
    if (st) {
        dlt_sink_abort(s);
        return st;
    }
    dlt_progress_end(&s->prog);
    free(s->is_val);
    free(s->out_dir);
    free(s);
    return DLT_OK;
}

void dlt_sink_abort(dlt_sink *s)
{
    if (!s)
        return;
    for (int i = 0; i < 2; i++)
        dlt_shard_writer_abort(s->parts[i].w);
    free(s->is_val);
    free(s->out_dir);
    free(s);
}
