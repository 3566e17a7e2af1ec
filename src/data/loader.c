/* The distributed loader: per-rank batches from a global per-epoch permutation,
 * prepared by background workers into a bounded ring in sequence order.
 *
 * Batch number `seq` (= epoch * steps + step) is a pure function of the config
 * and the shards, whichever worker makes it: rank r's k-th sample of step t is
 * global position g = (t * W + r) * b + k of the epoch's permutation, so step t
 * of W ranks with batch b covers the same samples as step t of one rank with
 * batch W * b. Positions past the end wrap around (pad mode). */
#include "dlt_data.h"
#include "loader_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_EMPTY = 0, SLOT_BUSY, SLOT_READY };

typedef struct {
    float *images;
    int32_t *labels;
    int64_t *indices;
    int valid;
    int64_t seq;
    int state;
    dlt_status st;
    char err[512];
} slot;

struct dlt_loader {
    dlt_loader_config cfg;
    int domain; /* -1, or the image-pairs domain this loader serves (loader_internal.h) */
    const dlt_loader *share; /* whose shards a domain loader borrows, or NULL */
    dlt_shardset set;
    int64_t steps; /* per epoch */
    int64_t *perm[2];
    int64_t perm_epoch[2];
    pthread_mutex_t perm_mu;
    slot *slots;
    int nslots;
    pthread_t *th;
    int nth;
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
    int64_t next_claim, next_consume;
    int active, stop, resetting;
    uint8_t *scratch; /* for the caller when threads == 0 */
};

void dlt_loader_config_default(dlt_loader_config *c)
{
    memset(c, 0, sizeof *c);
    c->batch_size = 32;
    c->shuffle = 1;
    c->drop_last = 1;
    for (int i = 0; i < DLT_DATA_MAX_CHANNELS; i++)
        c->std[i] = 1.0f;
    c->prefetch = 2;
    c->threads = 1;
    c->world_size = 1;
    c->inmem_threshold = 256ll << 20;
    c->verify = 1;
}

/* Epochs in flight are at most two (see can_claim), so two cached permutations do. */
static const int64_t *get_perm(dlt_loader *l, int64_t epoch)
{
    if (!l->cfg.shuffle)
        return NULL;
    int k = (int)(epoch & 1);
    pthread_mutex_lock(&l->perm_mu);
    if (l->perm_epoch[k] != epoch) {
        dlt_data_permutation(l->perm[k], l->set.n, l->cfg.seed, epoch, 1);
        l->perm_epoch[k] = epoch;
    }
    pthread_mutex_unlock(&l->perm_mu);
    return l->perm[k];
}

static dlt_status produce(dlt_loader *l, int64_t seq, slot *sl, uint8_t *scratch)
{
    const dlt_loader_config *c = &l->cfg;
    int64_t epoch = seq / l->steps, step = seq % l->steps, n = l->set.n;
    const int64_t *perm = get_perm(l, epoch);
    size_t img = (size_t)l->set.c * (size_t)l->set.h * (size_t)l->set.w;
    int b = c->batch_size;
    sl->valid = 0;
    for (int k = 0; k < b; k++) {
        int64_t g = (step * c->world_size + c->rank) * b + k;
        int64_t gi = g % n, idx = perm ? perm[gi] : gi;
        const uint8_t *px;
        int32_t label;
        dlt_status st = dlt_shardset_get(&l->set, idx, scratch, &px, &label);
        if (st)
            return st;
        sl->valid += g < n;
        sl->labels[k] = label;
        sl->indices[k] = idx;
        dlt_data_transform(px, l->set.h, l->set.w, l->set.c, sl->images + (size_t)k * img,
                           c->mean, c->std, c->crop_pad, c->flip, c->seed, epoch, idx);
    }
    return DLT_OK;
}

static int can_claim(const dlt_loader *l)
{
    return !l->stop && !l->resetting && l->next_claim < l->next_consume + l->cfg.prefetch &&
           l->next_claim / l->steps <= l->next_consume / l->steps + 1;
}

static void *worker(void *arg)
{
    dlt_loader *l = arg;
    uint8_t *scratch = malloc((size_t)l->set.c * (size_t)l->set.h * (size_t)l->set.w);
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && !can_claim(l))
            pthread_cond_wait(&l->work, &l->mu);
        if (l->stop)
            break;
        int64_t seq = l->next_claim++;
        slot *sl = &l->slots[seq % l->nslots];
        sl->state = SLOT_BUSY;
        sl->seq = seq;
        l->active++;
        pthread_mutex_unlock(&l->mu);
        dlt_status st = scratch ? produce(l, seq, sl, scratch)
                                : dlt_seterr(DLT_ERR_NOMEM, "out of memory in a loader thread");
        pthread_mutex_lock(&l->mu);
        sl->st = st;
        if (st)
            snprintf(sl->err, sizeof sl->err, "%s", dlt_errmsg());
        sl->state = SLOT_READY;
        l->active--;
        pthread_cond_broadcast(&l->ready);
    }
    pthread_mutex_unlock(&l->mu);
    free(scratch);
    return NULL;
}

static dlt_status check_config(const dlt_loader_config *c)
{
    if (!c->paths || !*c->paths)
        return dlt_seterr(DLT_ERR_INVALID, "loader: no shard paths given");
    if (c->batch_size < 1)
        return dlt_seterr(DLT_ERR_INVALID, "loader: batch size %d must be >= 1", c->batch_size);
    if (c->world_size < 1 || c->rank < 0 || c->rank >= c->world_size)
        return dlt_seterr(DLT_ERR_INVALID, "loader: rank %d of world size %d", c->rank,
                          c->world_size);
    if (c->prefetch < 1 || c->threads < 0 || c->threads > 256)
        return dlt_seterr(DLT_ERR_INVALID, "loader: prefetch %d must be >= 1, threads %d in 0..256",
                          c->prefetch, c->threads);
    if (c->crop_pad < 0)
        return dlt_seterr(DLT_ERR_INVALID, "loader: crop padding %d is negative", c->crop_pad);
    for (int i = 0; i < DLT_DATA_MAX_CHANNELS; i++)
        if (!(c->std[i] != 0.0f))
            return dlt_seterr(DLT_ERR_INVALID, "loader: std[%d] is zero", i);
    return DLT_OK;
}

static dlt_status alloc_slots(dlt_loader *l)
{
    size_t b = (size_t)l->cfg.batch_size;
    size_t img = (size_t)l->set.c * (size_t)l->set.h * (size_t)l->set.w;
    l->slots = calloc((size_t)l->nslots, sizeof *l->slots);
    if (!l->slots)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < l->nslots; i++) {
        slot *s = &l->slots[i];
        s->images = malloc(b * img * sizeof(float));
        s->labels = malloc(b * sizeof(int32_t));
        s->indices = malloc(b * sizeof(int64_t));
        if (!s->images || !s->labels || !s->indices)
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory for %d batches of %zu floats",
                              l->nslots, b * img);
    }
    for (int k = 0; k < 2 && l->cfg.shuffle; k++) {
        l->perm[k] = malloc((size_t)l->set.n * sizeof(int64_t));
        l->perm_epoch[k] = -1;
        if (!l->perm[k])
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    if (!l->nth && !(l->scratch = malloc(img)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    return DLT_OK;
}

static dlt_status loader_init(dlt_loader *l)
{
    dlt_loader_config *c = &l->cfg;
    dlt_shard_open_opts so = {c->inmem_threshold, c->verify};
    dlt_status st = l->share ? dlt_shardset_view(&l->set, &l->share->set, l->domain)
                             : dlt_shardset_open_domain(&l->set, c->paths, l->domain, &so);
    if (st)
        return st;
    int64_t global = (int64_t)c->batch_size * c->world_size;
    l->steps = c->drop_last ? l->set.n / global : (l->set.n + global - 1) / global;
    if (l->steps == 0)
        return dlt_seterr(DLT_ERR_INVALID, "loader: %s holds %lld samples, fewer than one "
                          "global batch (%d ranks x %d) with drop_last", c->paths,
                          (long long)l->set.n, c->world_size, c->batch_size);
    l->nth = c->threads;
    l->nslots = l->nth ? c->prefetch + 1 : 1;
    if ((st = alloc_slots(l)))
        return st;
    if (!l->nth)
        return DLT_OK;
    if (!(l->th = calloc((size_t)l->nth, sizeof *l->th)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < l->nth; i++)
        if (pthread_create(&l->th[i], NULL, worker, l) != 0) {
            l->nth = i;
            return dlt_seterr(DLT_ERR_INTERNAL, "loader: cannot start thread %d", i);
        }
    return DLT_OK;
}

dlt_status dlt_loader_open(const dlt_loader_config *cfg, dlt_loader **out)
{
    return dlt_loader_open_domain(cfg, -1, NULL, out);
}

dlt_status dlt_loader_open_domain(const dlt_loader_config *cfg, int domain,
                                  const dlt_loader *share, dlt_loader **out)
{
    *out = NULL;
    dlt_status st = check_config(cfg);
    if (st)
        return st;
    dlt_loader *l = calloc(1, sizeof *l);
    if (!l)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    l->cfg = *cfg;
    l->domain = domain;
    l->share = share;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->perm_mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->ready, NULL);
    if ((st = loader_init(l))) {
        dlt_loader_close(l);
        return st;
    }
    l->cfg.paths = l->set.pattern; /* the caller's string may go away */
    *out = l;
    return DLT_OK;
}

void dlt_loader_close(dlt_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->nth; i++)
        pthread_join(l->th[i], NULL);
    for (int i = 0; l->slots && i < l->nslots; i++) {
        free(l->slots[i].images);
        free(l->slots[i].labels);
        free(l->slots[i].indices);
    }
    free(l->slots);
    free(l->th);
    free(l->perm[0]);
    free(l->perm[1]);
    free(l->scratch);
    dlt_shardset_close(&l->set);
    pthread_cond_destroy(&l->work);
    pthread_cond_destroy(&l->ready);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->perm_mu);
    free(l);
}

dlt_status dlt_loader_next(dlt_loader *l, dlt_batch *b)
{
    int64_t seq = l->next_consume;
    slot *sl;
    if (!l->nth) {
        sl = &l->slots[0];
        sl->seq = seq;
        sl->st = produce(l, seq, sl, l->scratch);
        if (sl->st)
            return sl->st;
        l->next_consume++;
    } else {
        pthread_mutex_lock(&l->mu);
        sl = &l->slots[seq % l->nslots];
        while (!(sl->state == SLOT_READY && sl->seq == seq))
            pthread_cond_wait(&l->ready, &l->mu);
        if (!sl->st)
            l->next_consume++;
        pthread_cond_broadcast(&l->work);
        pthread_mutex_unlock(&l->mu);
        if (sl->st)
            return dlt_seterr(sl->st, "%s", sl->err);
    }
    b->images = sl->images;
    b->labels = sl->labels;
    b->indices = sl->indices;
    b->size = l->cfg.batch_size;
    b->valid = sl->valid;
    b->epoch = seq / l->steps;
    b->step = seq % l->steps;
    b->last_in_epoch = b->step == l->steps - 1;
    return DLT_OK;
}

dlt_loader_cursor dlt_loader_get_cursor(const dlt_loader *l)
{
    dlt_loader_cursor c = {l->next_consume / l->steps, l->next_consume % l->steps};
    return c;
}

dlt_status dlt_loader_set_cursor(dlt_loader *l, dlt_loader_cursor c)
{
    if (c.epoch < 0 || c.step < 0 || c.step >= l->steps)
        return dlt_seterr(DLT_ERR_INVALID, "loader cursor (epoch %lld, step %lld) is outside "
                          "0..%lld steps per epoch (did the batch size, world size or data "
                          "change?)", (long long)c.epoch, (long long)c.step,
                          (long long)l->steps - 1);
    pthread_mutex_lock(&l->mu);
    l->resetting = 1;
    while (l->active > 0)
        pthread_cond_wait(&l->ready, &l->mu);
    for (int i = 0; i < l->nslots; i++)
        l->slots[i].state = SLOT_EMPTY;
    l->next_claim = l->next_consume = c.epoch * l->steps + c.step;
    l->resetting = 0;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    return DLT_OK;
}

int64_t dlt_loader_num_samples(const dlt_loader *l) { return l->set.n; }
int64_t dlt_loader_steps_per_epoch(const dlt_loader *l) { return l->steps; }

void dlt_loader_sample_shape(const dlt_loader *l, int *c, int *h, int *w)
{
    *c = l->set.c, *h = l->set.h, *w = l->set.w;
}

int dlt_loader_num_classes(const dlt_loader *l) { return l->set.num_classes; }

const char *dlt_loader_first_path(const dlt_loader *l) { return dlt_shard_path(l->set.shards[0]); }

const char *dlt_loader_class_name(const dlt_loader *l, int i)
{
    const dlt_shard_info *in = dlt_shard_get_info(l->set.shards[0]);
    return i >= 0 && i < in->num_classes ? in->class_names[i] : NULL;
}
