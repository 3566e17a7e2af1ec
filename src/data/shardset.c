/* A glob of image-classification shards, validated together before training. */
#include "loader_internal.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>

static dlt_status add_shard(dlt_shardset *s, const char *path, const dlt_shard_open_opts *o)
{
    dlt_shard *sh;
    dlt_status st = dlt_shard_open(path, o, &sh);
    if (st)
        return st;
    s->shards[s->nshards++] = sh;
    const dlt_shard_info *in = dlt_shard_get_info(sh);
    dlt_shard_kind want = s->domain < 0 ? DLT_KIND_IMAGE_CLASSIFICATION : DLT_KIND_IMAGE_PAIRS;
    if (in->kind != want)
        return dlt_seterr(DLT_ERR_INVALID, "%s: kind is %s, the %s loader needs %s", path,
                          dlt_shard_kind_name(in->kind), s->domain < 0 ? "image" : "two-domain",
                          dlt_shard_kind_name(want));
    if (s->nshards == 1) {
        s->c = in->c, s->h = in->h, s->w = in->w, s->num_classes = in->num_classes;
    } else {
        const char *first = dlt_shard_path(s->shards[0]);
        if (in->c != s->c || in->h != s->h || in->w != s->w)
            return dlt_seterr(DLT_ERR_SHAPE, "%s: images are %dx%dx%d, but %s has %dx%dx%d",
                              path, in->h, in->w, in->c, first, s->h, s->w, s->c);
        if (in->num_classes != s->num_classes)
            return dlt_seterr(DLT_ERR_SHAPE, "%s: %d classes, but %s has %d", path,
                              in->num_classes, first, s->num_classes);
    }
    int64_t n = s->domain < 0 ? in->num_samples : s->domain ? in->num_b : in->num_a;
    s->starts[s->nshards] = s->starts[s->nshards - 1] + n;
    return DLT_OK;
}

static dlt_status count_samples(dlt_shardset *s)
{
    s->n = s->starts[s->nshards];
    if (s->n == 0 && s->domain >= 0)
        return dlt_seterr(DLT_ERR_INVALID, "the shards of '%s' hold no images of domain %c",
                          s->pattern, 'A' + s->domain);
    if (s->n == 0)
        return dlt_seterr(DLT_ERR_INVALID, "the shards of '%s' hold no samples", s->pattern);
    return DLT_OK;
}

dlt_status dlt_shardset_open(dlt_shardset *s, const char *pattern, const dlt_shard_open_opts *o)
{
    return dlt_shardset_open_domain(s, pattern, -1, o);
}

dlt_status dlt_shardset_open_domain(dlt_shardset *s, const char *pattern, int domain,
                                    const dlt_shard_open_opts *o)
{
    memset(s, 0, sizeof *s);
    s->domain = domain;
    if (!(s->pattern = strdup(pattern)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    glob_t g;
    memset(&g, 0, sizeof g);
    char *list = strdup(pattern), *save = NULL;
    int flags = 0, rc = 0;
    if (!list)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        rc = glob(p, flags, NULL, &g);
        if (rc != 0 && rc != GLOB_NOMATCH)
            break;
        rc = 0;
        flags = GLOB_APPEND;
    }
    free(list);
    dlt_status st = DLT_OK;
    if (rc != 0)
        st = dlt_seterr(DLT_ERR_IO, "cannot expand the shard glob '%s'", pattern);
    else if (g.gl_pathc == 0)
        st = dlt_seterr(DLT_ERR_NOTFOUND, "no shard matches '%s'", pattern);
    else if (!(s->shards = calloc(g.gl_pathc, sizeof *s->shards)) ||
             !(s->starts = calloc(g.gl_pathc + 1, sizeof *s->starts)))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < g.gl_pathc; i++)
        st = add_shard(s, g.gl_pathv[i], o);
    if (g.gl_pathc || flags)
        globfree(&g);
    if (!st)
        st = count_samples(s);
    if (st)
        dlt_shardset_close(s);
    return st;
}

dlt_status dlt_shardset_view(dlt_shardset *s, const dlt_shardset *of, int domain)
{
    memset(s, 0, sizeof *s);
    if (of->domain < 0 || domain < 0 || domain > 1)
        return dlt_seterr(DLT_ERR_INTERNAL, "shardset view: domain %d of a set of domain %d",
                          domain, of->domain);
    *s = *of;
    s->domain = domain;
    s->borrowed = 1;
    s->shards = NULL, s->starts = NULL, s->pattern = NULL;
    if (!(s->pattern = strdup(of->pattern)) ||
        !(s->shards = malloc((size_t)of->nshards * sizeof *s->shards)) ||
        !(s->starts = calloc((size_t)of->nshards + 1, sizeof *s->starts))) {
        dlt_shardset_close(s);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < of->nshards; i++) {
        const dlt_shard_info *in = dlt_shard_get_info(of->shards[i]);
        s->shards[i] = of->shards[i];
        s->starts[i + 1] = s->starts[i] + (domain ? in->num_b : in->num_a);
    }
    dlt_status st = count_samples(s);
    if (st)
        dlt_shardset_close(s);
    return st;
}

dlt_status dlt_shardset_get(const dlt_shardset *s, int64_t idx, uint8_t *scratch,
                            const uint8_t **px, int32_t *label)
{
    int lo = 0, hi = s->nshards - 1;
    while (lo < hi) { /* last shard whose start <= idx */
        int mid = (lo + hi + 1) / 2;
        if (s->starts[mid] <= idx)
            lo = mid;
        else
            hi = mid - 1;
    }
    dlt_shard *sh = s->shards[lo];
    int64_t i = idx - s->starts[lo];
    if (s->domain >= 0) {
        *label = s->domain;
        if (dlt_shard_peek_pair_image(sh, s->domain, i, px) == DLT_OK)
            return DLT_OK;
        *px = scratch;
        return dlt_shard_read_pair_image(sh, s->domain, i, scratch);
    }
    *label = dlt_shard_label(sh, i);
    if (dlt_shard_peek_image(sh, i, px) == DLT_OK)
        return DLT_OK;
    *px = scratch;
    return dlt_shard_read_image(sh, i, scratch, NULL);
}

void dlt_shardset_close(dlt_shardset *s)
{
    for (int i = 0; !s->borrowed && i < s->nshards; i++)
        dlt_shard_close(s->shards[i]);
    free(s->shards);
    free(s->starts);
    free(s->pattern);
    memset(s, 0, sizeof *s);
}
