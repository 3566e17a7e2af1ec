/* The two-domain converters' output: image-pairs shard sets. The images of
 * each domain are split into a main part and an optional random validation
 * part; each part is cut into S shards, shard s holding rows
 * [s * n / S, (s + 1) * n / S) of the part's A images and of its B images, so
 * every file holds a balanced slice of both domains. Images are fetched from
 * the source by index, in source order within a part. */
#include "convert_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const dlt_convert_opts *o;
    const dlt_shard_spec *spec;
    dlt_pair_fetch fetch;
    void *user;
    uint8_t *img;
    dlt_progress prog;
} job;

static int shard_count(const dlt_convert_opts *o, const dlt_shard_spec *sp, const int64_t n[2])
{
    int64_t total = n[0] + n[1], s;
    if (o->num_shards > 0)
        s = o->num_shards;
    else if (o->shard_size > 0)
        s = (total + o->shard_size - 1) / o->shard_size;
    else {
        int64_t bytes = total * ((int64_t)sp->h * sp->w * sp->c);
        s = (bytes + (128ll << 20) - 1) / (128ll << 20);
    }
    int64_t most = n[0] < n[1] ? n[0] : n[1]; /* every file gets images of both domains */
    if (s > most)
        s = most;
    return s < 1 ? 1 : (int)s;
}

/* One part: idx[d][0..n[d]) are the source indices of its domain-d images. */
static dlt_status write_part(job *j, const char *prefix, int64_t *const idx[2], const int64_t n[2])
{
    char path[4200];
    int nshards = shard_count(j->o, j->spec, n);
    dlt_status st = DLT_OK;
    for (int s = 0; s < nshards && !st; s++) {
        dlt_shard_writer *w;
        snprintf(path, sizeof path, "%s/%s-%05d-of-%05d.h5", j->o->out_dir, prefix, s, nshards);
        if ((st = dlt_shard_writer_open(path, j->spec, &w)))
            break;
        for (int d = 0; d < 2 && !st; d++) {
            int64_t r0 = s * n[d] / nshards, r1 = (s + 1) * n[d] / nshards;
            for (int64_t r = r0; r < r1 && !st; r++) {
                st = j->fetch(j->user, d, idx[d][r], j->img);
                if (!st)
                    st = dlt_shard_write_pair_image(w, d, j->img);
                dlt_progress_add(&j->prog, 1);
            }
        }
        if (st)
            dlt_shard_writer_abort(w);
        else
            st = dlt_shard_writer_close(w);
    }
    return st;
}

dlt_status dlt_pairs_write(const dlt_convert_opts *o, const char *prefix,
                           const dlt_shard_spec *spec, const int64_t num[2], dlt_pair_fetch fetch,
                           void *user)
{
    if (!(o->val_fraction >= 0 && o->val_fraction < 1))
        return dlt_seterr(DLT_ERR_INVALID, "--val-fraction %g must be in [0, 1)", o->val_fraction);
    int64_t nval[2], nmain[2];
    for (int d = 0; d < 2; d++) {
        if (num[d] <= 0)
            return dlt_seterr(DLT_ERR_INVALID, "no images in domain %c", 'A' + d);
        nval[d] = (int64_t)(o->val_fraction * (double)num[d] + 0.5);
        nmain[d] = num[d] - nval[d];
        if (o->val_fraction > 0 && (nval[d] == 0 || nmain[d] == 0))
            return dlt_seterr(DLT_ERR_INVALID,
                              "--val-fraction %g of the %lld images of domain "
                              "%c leaves %s",
                              o->val_fraction, (long long)num[d], 'A' + d,
                              nval[d] ? "no training images" : "no validation images");
    }
    dlt_status st = dlt_data_mkdirs(o->out_dir);
    if (st)
        return st;
    /* per domain: the main part's indices, then the validation part's, each ascending */
    int64_t *idx[2] = {malloc((size_t)num[0] * sizeof(int64_t)),
                       malloc((size_t)num[1] * sizeof(int64_t))};
    uint8_t *is_val[2] = {calloc((size_t)num[0], 1), calloc((size_t)num[1], 1)};
    size_t img = (size_t)spec->h * (size_t)spec->w * (size_t)spec->c;
    job j = {o, spec, fetch, user, malloc(img), {0}};
    if (!idx[0] || !idx[1] || !is_val[0] || !is_val[1] || !j.img)
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int d = 0; d < 2 && !st; d++) {
        /* the validation images: the first nval of a seeded permutation per domain */
        dlt_data_permutation(idx[d], num[d], dlt_data_hash(o->seed ^ 0x76616cull, (uint64_t)d), 0,
                             1);
        for (int64_t i = 0; i < nval[d]; i++)
            is_val[d][idx[d][i]] = 1;
        int64_t m = 0, v = nmain[d];
        for (int64_t i = 0; i < num[d]; i++)
            idx[d][is_val[d][i] ? v++ : m++] = i;
    }
    if (!st) {
        dlt_progress_start(&j.prog, o->progress, prefix, num[0] + num[1]);
        st = write_part(&j, prefix, idx, nmain);
        int64_t *vidx[2] = {idx[0] + nmain[0], idx[1] + nmain[1]};
        if (!st && nval[0] > 0)
            st = write_part(&j, "val", vidx, nval);
        if (!st)
            dlt_progress_end(&j.prog);
    }
    for (int d = 0; d < 2; d++)
        free(idx[d]), free(is_val[d]);
    free(j.img);
    return st;
}
