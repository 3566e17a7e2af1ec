/* The detection loader: fixed-shape Mask R-CNN batches from detection shards.
 *
 * Sampling is the image loader's (loader.c): batch number seq = epoch * steps
 * + step; rank r's k-th sample of step t is position (t * W + r) * b + k of
 * the epoch's permutation (dlt_data_permutation), wrapping past the end in pad
 * mode, so W ranks with batch b see what one rank with batch W * b sees. Each
 * sample's flip is a coin drawn from (seed, epoch, index) alone. Background
 * workers fill a ring of prefetch + 1 batches in sequence order; a batch is a
 * pure function of the config, the shards and seq, whichever worker made it.
 *
 * At open every shard of the glob is validated (kind detection, one channel
 * count, one M, one class list, masks at the canvas size) and the image sizes
 * of all samples are read, which fixes the default batch shape: the largest
 * resized image of the data set, rounded up to size_divisible. */
#include "det_internal.h"
#include "dlt_data.h"

#include <glob.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_EMPTY = 0, SLOT_BUSY, SLOT_READY };

typedef struct {
    dlt_det_batch b;
    int64_t seq;
    int state;
    dlt_status st;
    char err[512];
} slot;

typedef struct { /* one worker's read buffers */
    uint8_t *hwc, *masks, *iscrowd;
    float *boxes;
    int32_t *classes;
} scratch;

struct dlt_det_loader {
    dlt_det_loader_config cfg;
    char *pattern;
    dlt_shard **shards;
    int nshards;
    int64_t *starts, n;
    int H, W, C, M, num_classes;
    int32_t *sizes; /* [n, 4] h, w, orig_h, orig_w */
    int64_t *ids;   /* [n] */
    int bh, bw;
    int64_t steps;
    int64_t *perm[2], perm_epoch[2];
    pthread_mutex_t perm_mu;
    slot *slots;
    int nslots;
    pthread_t *th;
    int nth;
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
    int64_t next_claim, next_consume;
    int active, stop, resetting;
    scratch own; /* for the caller when threads == 0 */
};

void dlt_det_loader_config_default(dlt_det_loader_config *c)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memset(c, 0, sizeof *c);
    dlt_loader_config_default(&c->base);
    for (int i = 0; i < 3; i++)
        c->base.mean[i] = mean[i], c->base.std[i] = std[i];
    c->min_size = 800, c->max_size = 1333, c->size_divisible = 32;
    c->masks = 1;
}

static dlt_status add_shard(dlt_det_loader *l, const char *path)
{
    dlt_shard_open_opts so = {l->cfg.base.inmem_threshold, l->cfg.base.verify};
    dlt_shard *sh;
    dlt_status st = dlt_shard_open(path, &so, &sh);
    if (st)
        return st;
    l->shards[l->nshards++] = sh;
    const dlt_shard_info *in = dlt_shard_get_info(sh);
    if (in->kind != DLT_KIND_DETECTION)
        return dlt_seterr(DLT_ERR_INVALID, "%s: kind is %s, the detection loader needs detection",
                          path, dlt_shard_kind_name(in->kind));
    if (in->mask_h != in->h || in->mask_w != in->w)
        return dlt_seterr(DLT_ERR_SHAPE,
                          "%s: masks are %dx%d, the detection loader needs them at "
                          "the image size %dx%d",
                          path, in->mask_h, in->mask_w, in->h, in->w);
    if (l->nshards == 1) {
        l->C = in->c, l->M = in->max_boxes, l->num_classes = in->num_classes;
    } else {
        const char *first = dlt_shard_path(l->shards[0]);
        if (in->c != l->C || in->max_boxes != l->M || in->num_classes != l->num_classes)
            return dlt_seterr(DLT_ERR_SHAPE,
                              "%s: %d channels, max_boxes %d, %d classes, but %s "
                              "has %d, %d, %d",
                              path, in->c, in->max_boxes, in->num_classes, first, l->C, l->M,
                              l->num_classes);
    }
    l->H = in->h > l->H ? in->h : l->H; /* the largest canvas: scratch size */
    l->W = in->w > l->W ? in->w : l->W;
    l->starts[l->nshards] = l->starts[l->nshards - 1] + in->num_samples;
    return DLT_OK;
}

static dlt_status open_shards(dlt_det_loader *l)
{
    glob_t g;
    memset(&g, 0, sizeof g);
    char *list = strdup(l->pattern), *save = NULL;
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
        st = dlt_seterr(DLT_ERR_IO, "cannot expand the shard glob '%s'", l->pattern);
    else if (g.gl_pathc == 0)
        st = dlt_seterr(DLT_ERR_NOTFOUND, "no shard matches '%s'", l->pattern);
    else if (!(l->shards = calloc(g.gl_pathc, sizeof *l->shards)) ||
             !(l->starts = calloc(g.gl_pathc + 1, sizeof *l->starts)))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < g.gl_pathc; i++)
        st = add_shard(l, g.gl_pathv[i]);
    if (g.gl_pathc || flags)
        globfree(&g);
    if (!st && (l->n = l->starts[l->nshards]) == 0)
        st = dlt_seterr(DLT_ERR_INVALID, "the shards of '%s' hold no images", l->pattern);
    return st;
}

static int locate(const dlt_det_loader *l, int64_t idx, int64_t *row)
{
    int lo = 0, hi = l->nshards - 1;
    while (lo < hi) { /* last shard whose start <= idx */
        int mid = (lo + hi + 1) / 2;
        if (l->starts[mid] <= idx)
            lo = mid;
        else
            hi = mid - 1;
    }
    *row = idx - l->starts[lo];
    return lo;
}

/* Reads every sample's sizes and id; fixes the batch shape. */
static dlt_status read_sizes(dlt_det_loader *l)
{
    const dlt_det_loader_config *c = &l->cfg;
    l->sizes = malloc((size_t)l->n * 4 * sizeof *l->sizes);
    l->ids = malloc((size_t)l->n * sizeof *l->ids);
    if (!l->sizes || !l->ids)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int mh = 0, mw = 0;
    for (int64_t i = 0; i < l->n; i++) {
        int64_t row;
        dlt_shard *sh = l->shards[locate(l, i, &row)];
        int32_t *s = l->sizes + 4 * i;
        dlt_status st = dlt_shard_read_det_meta(sh, row, s, &l->ids[i], NULL);
        if (st)
            return st;
        const dlt_shard_info *in = dlt_shard_get_info(sh);
        if (s[0] < 1 || s[1] < 1 || s[0] > in->h || s[1] > in->w)
            return dlt_seterr(DLT_ERR_INVALID,
                              "%s: image_sizes[%lld] = %dx%d is outside the "
                              "%dx%d canvas",
                              dlt_shard_path(sh), (long long)row, s[0], s[1], in->h, in->w);
        int rh, rw;
        dlt_det_resized_size(s[0], s[1], c->min_size, c->max_size, &rh, &rw);
        mh = rh > mh ? rh : mh, mw = rw > mw ? rw : mw;
    }
    int d = c->size_divisible;
    l->bh = c->batch_h ? c->batch_h : (mh + d - 1) / d * d;
    l->bw = c->batch_w ? c->batch_w : (mw + d - 1) / d * d;
    if (l->bh < mh || l->bw < mw)
        return dlt_seterr(DLT_ERR_SHAPE,
                          "detection loader: batch shape %dx%d is smaller than "
                          "the largest resized image %dx%d (min_size %d, max_size %d)",
                          l->bh, l->bw, mh, mw, c->min_size, c->max_size);
    return DLT_OK;
}

static const int64_t *get_perm(dlt_det_loader *l, int64_t epoch)
{
    if (!l->cfg.base.shuffle)
        return NULL;
    int k = (int)(epoch & 1);
    pthread_mutex_lock(&l->perm_mu);
    if (l->perm_epoch[k] != epoch) {
        dlt_data_permutation(l->perm[k], l->n, l->cfg.base.seed, epoch, 1);
        l->perm_epoch[k] = epoch;
    }
    pthread_mutex_unlock(&l->perm_mu);
    return l->perm[k];
}

/* The flip coin of sample index in epoch: its own stream, as dlt_data_transform's. */
static int flip_coin(uint64_t seed, int64_t epoch, int64_t index)
{
    uint64_t s = dlt_data_hash(dlt_data_hash(seed ^ 0x3c6ef372fe94f82bull, (uint64_t)epoch),
                               (uint64_t)index);
    return (int)(s >> 63);
}

static dlt_status produce_one(dlt_det_loader *l, int64_t idx, int64_t epoch, int k,
                              dlt_det_batch *b, scratch *sc)
{
    const dlt_det_loader_config *c = &l->cfg;
    int64_t row;
    dlt_shard *sh = l->shards[locate(l, idx, &row)];
    const dlt_shard_info *in = dlt_shard_get_info(sh);
    int nb = 0;
    dlt_status st = dlt_shard_read_detection(sh, row, sc->hwc, sc->boxes, sc->classes,
                                             c->masks ? sc->masks : NULL, &nb);
    if (!st)
        st = dlt_shard_read_det_meta(sh, row, NULL, NULL, sc->iscrowd);
    if (st)
        return st;
    const int32_t *s = l->sizes + 4 * idx;
    dlt_det_stored x = {sc->hwc,
                        in->h,
                        in->w,
                        in->c,
                        s[0],
                        s[1],
                        nb,
                        sc->boxes,
                        sc->classes,
                        sc->iscrowd,
                        c->masks ? sc->masks : NULL};
    int M = l->M, fl = c->base.flip && flip_coin(c->base.seed, epoch, idx);
    size_t plane = (size_t)l->bh * (size_t)l->bw;
    dlt_det_out o = {b->images + (size_t)k * l->C * plane,
                     b->boxes + (size_t)k * M * 4,
                     b->classes + (size_t)k * M,
                     b->box_valid + (size_t)k * M,
                     b->iscrowd + (size_t)k * M,
                     b->masks ? b->masks + (size_t)k * M * plane : NULL,
                     b->num_boxes + k,
                     b->image_sizes + 2 * k,
                     M,
                     l->bh,
                     l->bw};
    st = dlt_det_transform(&x, c->min_size, c->max_size, fl, c->skip_crowd, c->base.mean,
                           c->base.std, &o);
    if (st)
        return dlt_adderr(st, "%s: sample %lld", dlt_shard_path(sh), (long long)row);
    b->orig_sizes[2 * k] = s[2], b->orig_sizes[2 * k + 1] = s[3];
    b->scales[2 * k] = (float)o.image_size[0] / (float)s[2];
    b->scales[2 * k + 1] = (float)o.image_size[1] / (float)s[3];
    b->flipped[k] = (uint8_t)fl;
    b->image_ids[k] = l->ids[idx];
    b->indices[k] = idx;
    return DLT_OK;
}

static dlt_status produce(dlt_det_loader *l, int64_t seq, slot *sl, scratch *sc)
{
    const dlt_loader_config *c = &l->cfg.base;
    int64_t epoch = seq / l->steps, step = seq % l->steps;
    const int64_t *perm = get_perm(l, epoch);
    sl->b.valid = 0;
    for (int k = 0; k < c->batch_size; k++) {
        int64_t g = (step * c->world_size + c->rank) * c->batch_size + k;
        int64_t gi = g % l->n, idx = perm ? perm[gi] : gi;
        dlt_status st = produce_one(l, idx, epoch, k, &sl->b, sc);
        if (st)
            return st;
        sl->b.valid += g < l->n;
    }
    return DLT_OK;
}

static int can_claim(const dlt_det_loader *l)
{
    return !l->stop && !l->resetting && l->next_claim < l->next_consume + l->cfg.base.prefetch &&
           l->next_claim / l->steps <= l->next_consume / l->steps + 1;
}

static void scratch_free(scratch *s)
{
    free(s->hwc);
    free(s->masks);
    free(s->iscrowd);
    free(s->boxes);
    free(s->classes);
}

static int scratch_alloc(const dlt_det_loader *l, scratch *s)
{
    size_t px = (size_t)l->H * (size_t)l->W, M = (size_t)l->M;
    s->hwc = malloc(px * (size_t)l->C);
    s->masks = l->cfg.masks ? malloc(M * px) : NULL;
    s->iscrowd = malloc(M);
    s->boxes = malloc(M * 4 * sizeof(float));
    s->classes = malloc(M * sizeof(int32_t));
    return s->hwc && (s->masks || !l->cfg.masks) && s->iscrowd && s->boxes && s->classes;
}

static void *worker(void *arg)
{
    dlt_det_loader *l = arg;
    scratch sc;
    int ok = scratch_alloc(l, &sc);
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
        dlt_status st = ok ? produce(l, seq, sl, &sc)
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
    scratch_free(&sc);
    return NULL;
}

static dlt_status check_config(const dlt_det_loader_config *dc)
{
    const dlt_loader_config *c = &dc->base;
    if (!c->paths || !*c->paths)
        return dlt_seterr(DLT_ERR_INVALID, "detection loader: no shard paths given");
    if (c->batch_size < 1)
        return dlt_seterr(DLT_ERR_INVALID, "detection loader: batch size %d must be >= 1",
                          c->batch_size);
    if (c->world_size < 1 || c->rank < 0 || c->rank >= c->world_size)
        return dlt_seterr(DLT_ERR_INVALID, "detection loader: rank %d of world size %d", c->rank,
                          c->world_size);
    if (c->prefetch < 1 || c->threads < 0 || c->threads > 256)
        return dlt_seterr(DLT_ERR_INVALID,
                          "detection loader: prefetch %d must be >= 1, "
                          "threads %d in 0..256",
                          c->prefetch, c->threads);
    if (c->crop_pad != 0)
        return dlt_seterr(DLT_ERR_INVALID, "detection loader: crop_pad must be 0 (random crops "
                                           "would cut boxes and masks)");
    if (dc->min_size < 1 || dc->max_size < dc->min_size || dc->size_divisible < 1 ||
        dc->batch_h < 0 || dc->batch_w < 0)
        return dlt_seterr(DLT_ERR_INVALID,
                          "detection loader: min_size %d, max_size %d, "
                          "size_divisible %d, batch %dx%d (expected 1 <= min_size <= max_size, "
                          "size_divisible >= 1, batch sizes >= 0)",
                          dc->min_size, dc->max_size, dc->size_divisible, dc->batch_h, dc->batch_w);
    for (int i = 0; i < DLT_DATA_MAX_CHANNELS; i++)
        if (!(c->std[i] != 0.0f))
            return dlt_seterr(DLT_ERR_INVALID, "detection loader: std[%d] is zero", i);
    return DLT_OK;
}

static void batch_free(dlt_det_batch *b)
{
    free(b->images), free(b->boxes), free(b->classes), free(b->box_valid);
    free(b->iscrowd), free(b->masks), free(b->num_boxes), free(b->image_sizes);
    free(b->orig_sizes), free(b->scales), free(b->flipped), free(b->image_ids);
    free(b->indices);
}

static int batch_alloc(const dlt_det_loader *l, dlt_det_batch *b)
{
    size_t B = (size_t)l->cfg.base.batch_size, M = (size_t)l->M;
    size_t plane = (size_t)l->bh * (size_t)l->bw;
    b->images = malloc(B * (size_t)l->C * plane * sizeof(float));
    b->boxes = malloc(B * M * 4 * sizeof(float));
    b->classes = malloc(B * M * sizeof(int32_t));
    b->box_valid = malloc(B * M);
    b->iscrowd = malloc(B * M);
    b->masks = l->cfg.masks ? malloc(B * M * plane) : NULL;
    b->num_boxes = malloc(B * sizeof(int32_t));
    b->image_sizes = malloc(B * 2 * sizeof(int32_t));
    b->orig_sizes = malloc(B * 2 * sizeof(int32_t));
    b->scales = malloc(B * 2 * sizeof(float));
    b->flipped = malloc(B);
    b->image_ids = malloc(B * sizeof(int64_t));
    b->indices = malloc(B * sizeof(int64_t));
    return b->images && b->boxes && b->classes && b->box_valid && b->iscrowd &&
           (b->masks || !l->cfg.masks) && b->num_boxes && b->image_sizes && b->orig_sizes &&
           b->scales && b->flipped && b->image_ids && b->indices;
}

static dlt_status loader_init(dlt_det_loader *l)
{
    const dlt_loader_config *c = &l->cfg.base;
    dlt_status st = open_shards(l);
    if (!st)
        st = read_sizes(l);
    if (st)
        return st;
    int64_t global = (int64_t)c->batch_size * c->world_size;
    l->steps = c->drop_last ? l->n / global : (l->n + global - 1) / global;
    if (l->steps == 0)
        return dlt_seterr(DLT_ERR_INVALID,
                          "detection loader: %s holds %lld images, fewer than "
                          "one global batch (%d ranks x %d) with drop_last",
                          l->pattern, (long long)l->n, c->world_size, c->batch_size);
    l->nth = c->threads;
    l->nslots = l->nth ? c->prefetch + 1 : 1;
    if (!(l->slots = calloc((size_t)l->nslots, sizeof *l->slots)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < l->nslots; i++)
        if (!batch_alloc(l, &l->slots[i].b))
            return dlt_seterr(DLT_ERR_NOMEM,
                              "out of memory for %d detection batches of %d "
                              "images %dx%d (M = %d)",
                              l->nslots, c->batch_size, l->bh, l->bw, l->M);
    for (int k = 0; k < 2 && c->shuffle; k++) {
        l->perm_epoch[k] = -1;
        if (!(l->perm[k] = malloc((size_t)l->n * sizeof(int64_t))))
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    if (!l->nth)
        return scratch_alloc(l, &l->own) ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (!(l->th = calloc((size_t)l->nth, sizeof *l->th)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < l->nth; i++)
        if (pthread_create(&l->th[i], NULL, worker, l) != 0) {
            l->nth = i;
            return dlt_seterr(DLT_ERR_INTERNAL, "detection loader: cannot start thread %d", i);
        }
    return DLT_OK;
}

dlt_status dlt_det_loader_open(const dlt_det_loader_config *cfg, dlt_det_loader **out)
{
    *out = NULL;
    dlt_status st = check_config(cfg);
    if (st)
        return st;
    dlt_det_loader *l = calloc(1, sizeof *l);
    if (!l)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    l->cfg = *cfg;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->perm_mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->ready, NULL);
    if (!(l->pattern = strdup(cfg->base.paths)))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (st || (st = loader_init(l))) {
        dlt_det_loader_close(l);
        return st;
    }
    l->cfg.base.paths = l->pattern; /* the caller's string may go away */
    *out = l;
    return DLT_OK;
}

void dlt_det_loader_close(dlt_det_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->nth; i++)
        pthread_join(l->th[i], NULL);
    for (int i = 0; l->slots && i < l->nslots; i++)
        batch_free(&l->slots[i].b);
    free(l->slots);
    free(l->th);
    free(l->perm[0]);
    free(l->perm[1]);
    scratch_free(&l->own);
    for (int i = 0; i < l->nshards; i++)
        dlt_shard_close(l->shards[i]);
    free(l->shards);
    free(l->starts);
    free(l->sizes);
    free(l->ids);
    free(l->pattern);
    pthread_cond_destroy(&l->work);
    pthread_cond_destroy(&l->ready);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->perm_mu);
    free(l);
}

dlt_status dlt_det_loader_next(dlt_det_loader *l, dlt_det_batch *b)
{
    int64_t seq = l->next_consume;
    slot *sl;
    if (!l->nth) {
        sl = &l->slots[0];
        sl->seq = seq;
        if ((sl->st = produce(l, seq, sl, &l->own)))
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
    *b = sl->b;
    b->size = l->cfg.base.batch_size;
    b->epoch = seq / l->steps;
    b->step = seq % l->steps;
    b->last_in_epoch = b->step == l->steps - 1;
    return DLT_OK;
}

dlt_loader_cursor dlt_det_loader_get_cursor(const dlt_det_loader *l)
{
    dlt_loader_cursor c = {l->next_consume / l->steps, l->next_consume % l->steps};
    return c;
}

dlt_status dlt_det_loader_set_cursor(dlt_det_loader *l, dlt_loader_cursor c)
{
    if (c.epoch < 0 || c.step < 0 || c.step >= l->steps)
        return dlt_seterr(DLT_ERR_INVALID,
                          "detection loader cursor (epoch %lld, step %lld) is "
                          "outside 0..%lld steps per epoch (did the batch size, world size or "
                          "data change?)",
                          (long long)c.epoch, (long long)c.step, (long long)l->steps - 1);
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

int64_t dlt_det_loader_num_samples(const dlt_det_loader *l)
{
    return l->n;
}
int64_t dlt_det_loader_steps_per_epoch(const dlt_det_loader *l)
{
    return l->steps;
}

void dlt_det_loader_shape(const dlt_det_loader *l, int *c, int *h, int *w, int *max_boxes)
{
    *c = l->C, *h = l->bh, *w = l->bw, *max_boxes = l->M;
}

int dlt_det_loader_num_classes(const dlt_det_loader *l)
{
    return l->num_classes;
}

const char *dlt_det_loader_class_name(const dlt_det_loader *l, int i)
{
    const dlt_shard_info *in = dlt_shard_get_info(l->shards[0]);
    return i >= 0 && i < in->num_classes ? in->class_names[i] : NULL;
}
