/* The two-domain loader: unpaired batches (A, B) from image-pairs shards, as
 * CycleGAN trains on them.
 *
 * It is two image loaders (loader.c) over the same files, one per domain
 * (dlt_loader_open_domain; B's reads the shards A's opened, so each file is
 * opened, verified and held in memory once), advanced in lock step: each
 * next() takes batch number seq from both. Each domain therefore has the
 * image loader's sampler: its own permutation per pass (seeded with
 * hash(seed, 'A') or hash(seed, 'B'), so the two orders are independent),
 * rank r's k-th image of its step t at position (t * W + r) * b + k, and
 * prefetching workers.
 *
 * An epoch is one pass over the larger domain (A when equal), as CycleGAN's
 * unaligned dataset defines its length as max(|A|, |B|). The smaller domain
 * runs through its own passes meanwhile, each freshly shuffled, carrying on
 * across the larger domain's epoch boundaries. Both positions are functions
 * of seq alone, and seq = epoch * steps + step of the larger domain, so the
 * ordinary cursor (epoch, step) resumes both streams: checkpoints need no
 * second position. */
#include "dlt_data.h"
#include "loader_internal.h"

#include <stdlib.h>
#include <string.h>

struct dlt_pair_loader {
    dlt_loader *d[2]; /* domain A, domain B */
    int big;          /* the domain whose passes are the epochs */
    int64_t steps[2]; /* per pass of each domain */
    int64_t seq;      /* batches taken (both loaders stand here) */
};

void dlt_pair_loader_config_default(dlt_loader_config *c)
{
    dlt_loader_config_default(c);
    for (int i = 0; i < DLT_DATA_MAX_CHANNELS; i++)
        c->mean[i] = 0.5f, c->std[i] = 0.5f; /* (x/255 - 0.5) / 0.5 lies in [-1, 1] */
}

/* Puts both loaders at batch number seq. */
static dlt_status seek(dlt_pair_loader *l, int64_t seq)
{
    for (int d = 0; d < 2; d++) {
        dlt_loader_cursor c = {seq / l->steps[d], seq % l->steps[d]};
        dlt_status st = dlt_loader_set_cursor(l->d[d], c);
        if (st)
            return st;
    }
    l->seq = seq;
    return DLT_OK;
}

dlt_status dlt_pair_loader_open(const dlt_loader_config *cfg, dlt_pair_loader **out)
{
    *out = NULL;
    dlt_pair_loader *l = calloc(1, sizeof *l);
    if (!l)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int d = 0; d < 2; d++) {
        dlt_loader_config c = *cfg;
        c.seed = dlt_data_hash(cfg->seed, (uint64_t)('A' + d));
        dlt_status st = dlt_loader_open_domain(&c, d, d ? l->d[0] : NULL, &l->d[d]);
        if (st) {
            dlt_pair_loader_close(l);
            return dlt_adderr(st, "domain %c", 'A' + d);
        }
        l->steps[d] = dlt_loader_steps_per_epoch(l->d[d]);
    }
    l->big = dlt_loader_num_samples(l->d[1]) > dlt_loader_num_samples(l->d[0]);
    *out = l;
    return DLT_OK;
}

void dlt_pair_loader_close(dlt_pair_loader *l)
{
    if (!l)
        return;
    dlt_loader_close(l->d[1]); /* B borrows A's shards */
    dlt_loader_close(l->d[0]);
    free(l);
}

dlt_status dlt_pair_loader_next(dlt_pair_loader *l, dlt_pair_batch *b)
{
    dlt_batch x[2];
    for (int d = 0; d < 2; d++) {
        dlt_status st = dlt_loader_next(l->d[d], &x[d]);
        if (st) { /* keep the two streams in step: A may have advanced alone */
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", dlt_errmsg());
            seek(l, l->seq);
            return dlt_seterr(st, "domain %c: %s", 'A' + d, msg);
        }
    }
    l->seq++;
    b->a = x[0].images, b->b = x[1].images;
    b->indices_a = x[0].indices, b->indices_b = x[1].indices;
    b->size = x[0].size;
    b->valid_a = x[0].valid, b->valid_b = x[1].valid;
    b->epoch = x[l->big].epoch, b->step = x[l->big].step;
    b->last_in_epoch = x[l->big].last_in_epoch;
    return DLT_OK;
}

dlt_loader_cursor dlt_pair_loader_get_cursor(const dlt_pair_loader *l)
{
    return dlt_loader_get_cursor(l->d[l->big]);
}

dlt_status dlt_pair_loader_set_cursor(dlt_pair_loader *l, dlt_loader_cursor c)
{
    int64_t steps = l->steps[l->big];
    if (c.epoch < 0 || c.step < 0 || c.step >= steps || c.epoch > (INT64_MAX - c.step) / steps)
        return dlt_seterr(DLT_ERR_INVALID,
                          "two-domain loader cursor (epoch %lld, step %lld) "
                          "is outside 0..%lld steps per epoch (did the batch size, world size "
                          "or data change?)",
                          (long long)c.epoch, (long long)c.step, (long long)steps - 1);
    return seek(l, c.epoch * steps + c.step);
}

int64_t dlt_pair_loader_num_images(const dlt_pair_loader *l, int domain)
{
    return domain == 0 || domain == 1 ? dlt_loader_num_samples(l->d[domain]) : 0;
}

int64_t dlt_pair_loader_steps_per_epoch(const dlt_pair_loader *l)
{
    return l->steps[l->big];
}

int dlt_pair_loader_epoch_domain(const dlt_pair_loader *l)
{
    return l->big;
}

void dlt_pair_loader_sample_shape(const dlt_pair_loader *l, int *c, int *h, int *w)
{
    dlt_loader_sample_shape(l->d[0], c, h, w);
}

const char *dlt_pair_loader_first_path(const dlt_pair_loader *l)
{
    return dlt_loader_first_path(l->d[0]);
}
