/* The data-parallel gradient reducer over caller-given flat ranges of one
 * gradient buffer: ranges grouped in buckets, each bucket all-reduced in
 * place (or reduce-scattered, ZeRO-1) as soon as its last range is reported
 * ready, while backward goes on. The caller (src/dist for a graph) decides
 * the layout and translates its plan into readiness signals; see dist.c for
 * why the ranges are laid out in the order backward produces them.
 *
 * Readiness. A bucket is ready when every one of its ranges was marked
 * ready in this step. Buckets start strictly in index order (bucket b waits
 * for b-1 to start), which is the same on every rank whatever the caller's
 * plan: MPI requires that order for non-blocking collectives.
 *
 * bf16 (cfg.bf16). Each bucket is rounded into the same range of a bf16
 * shadow of the gradient buffer after its pre-scale, the collective runs on
 * the shadow, and finish converts it back before the post-scale; the shadow
 * is allocated once (with the caller's device operations for device
 * gradients) so the step loop allocates nothing. */
#include "comm_impl.h"
#include "dlt_backend.h"
#include "dlt_bf16.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t lo, hi; /* flat element range: its ranges, padding between them included */
    int first, nranges;
    int pending;    /* ranges not marked ready yet in this step */
    int scaled;     /* its all-reduce also divides by the count (comm_allreduce_scaled) */
    double t_start, t_done; /* comm_now() at start and at observed completion (timing on) */
    dlt_comm_req req;
} reducer_bucket;

struct dlt_reducer {
    dlt_comm *c;
    float *grads; /* the caller's buffer (not owned) */
    dlt_reducer_config cfg;
    dlt_reducer_devops dev; /* meaningful when on_dev */
    int on_dev;
    int n;
    dlt_comm_range *ranges;
    int *range_bucket;
    unsigned char *marked; /* by range: ready in this step */
    int nb;
    reducer_bucket *b;
    int *counts, *displs; /* ZeRO: per bucket, per rank */
    int active, next;
    double local_count, global_count, count_buf, local_weight;
    double unscale; /* finish also multiplies by this: 1 / loss scale */
    dlt_comm_req count_req;
    int timing;
    dlt_status err;
    char errmsg[256];
    dlt_bf16 *shadow; /* bf16: as many elements as the last range's end */
};

void dlt_reducer_free(dlt_reducer *r)
{
    if (!r)
        return;
    if (r->on_dev && r->shadow)
        r->dev.release(r->dev.ctx, r->shadow);
    else
        free(r->shadow);
    free(r->ranges);
    free(r->range_bucket);
    free(r->marked);
    free(r->b);
    free(r->counts);
    free(r->displs);
    free(r);
}

static dlt_status make_buckets(dlt_reducer *r)
{
    int n = r->n;
    double first = r->cfg.first_bucket_mb > 0 ? r->cfg.first_bucket_mb : 1;
    double rest = r->cfg.bucket_mb > 0 ? r->cfg.bucket_mb : 25;
    r->b = calloc((size_t)(n > 0 ? n : 1), sizeof *r->b);
    r->range_bucket = calloc((size_t)(n > 0 ? n : 1), sizeof *r->range_bucket);
    r->marked = calloc((size_t)(n > 0 ? n : 1), sizeof *r->marked);
    if (!r->b || !r->range_bucket || !r->marked)
        return dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
    r->nb = 0;
    size_t limit = (size_t)(first * 1048576.0 / sizeof(float));
    for (int i = 0; i < n; i++) {
        const dlt_comm_range *rg = &r->ranges[i];
        reducer_bucket *cur = r->nb ? &r->b[r->nb - 1] : NULL;
        /* a gap between ranges (a subset of the parameters) ends a bucket:
         * each bucket is reduced in place as one contiguous block */
        if (!cur || cur->hi != rg->lo || (cur->hi - cur->lo) + (rg->hi - rg->lo) > limit) {
            if (cur)
                limit = (size_t)(rest * 1048576.0 / sizeof(float));
            cur = &r->b[r->nb++];
            cur->lo = rg->lo;
            cur->first = i;
        }
        cur->hi = rg->hi;
        cur->nranges++;
        r->range_bucket[i] = r->nb - 1;
    }
    for (int b = 0; b < r->nb; b++)
        if (r->b[b].hi - r->b[b].lo > (size_t)INT_MAX)
            return dlt_seterr(DLT_ERR_UNSUPPORTED, "reducer: bucket %d exceeds 2^31 elements", b);
    if (!r->cfg.zero)
        return DLT_OK;
    int p = r->c->size;
    r->counts = malloc((size_t)(r->nb > 0 ? r->nb : 1) * (size_t)p * sizeof *r->counts);
    r->displs = malloc((size_t)(r->nb > 0 ? r->nb : 1) * (size_t)p * sizeof *r->displs);
    if (!r->counts || !r->displs)
        return dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
    for (int b = 0; b < r->nb; b++)
        for (int k = 0; k < p; k++) {
            size_t lo, hi;
            /* shards of 16 floats (64 bytes): any bucket size works, the last
             * ranks' shards are shorter or empty */
            dlt_comm_shard(r->b[b].hi - r->b[b].lo, p, k, 16, &lo, &hi);
            r->counts[b * p + k] = (int)(hi - lo);
            r->displs[b * p + k] = (int)lo;
        }
    return DLT_OK;
}

static dlt_status make_shadow(dlt_reducer *r)
{
    size_t total = r->n > 0 ? r->ranges[r->n - 1].hi : 0;
    size_t bytes = (total ? total : 1) * sizeof(dlt_bf16);
    if (!r->on_dev) {
        r->shadow = malloc(bytes);
        return r->shadow ? DLT_OK
                         : dlt_seterr(DLT_ERR_NOMEM, "reducer: cannot allocate the bf16 gradient shadow (%zu bytes)",
                                      bytes);
    }
    if (!r->dev.to_bf16 || !r->dev.from_bf16 || !r->dev.alloc || !r->dev.release)
        return dlt_seterr(DLT_ERR_UNSUPPORTED,
                          "reducer: bf16 gradient reduction of device gradients needs the device's "
                          "f32_to_bf16 and bf16_to_f32 kernels");
    return r->dev.alloc(r->dev.ctx, bytes, (void **)&r->shadow);
}

static dlt_status check_args(dlt_comm *c, float *grads, int n, const dlt_comm_range *ranges,
                             const dlt_reducer_config *cfg, const dlt_reducer_devops *dev)
{
    if (n < 0 || (n > 0 && (!ranges || !grads)))
        return dlt_seterr(DLT_ERR_INVALID, "reducer: bad gradient range list");
    for (int i = 0; i < n; i++)
        if (ranges[i].hi < ranges[i].lo || (i > 0 && ranges[i].lo < ranges[i - 1].hi))
            return dlt_seterr(DLT_ERR_INVALID,
                              "reducer: gradient range %d [%zu, %zu) is empty-reversed or overlaps "
                              "the one before (ranges go in increasing buffer order)",
                              i, ranges[i].lo, ranges[i].hi);
    if (dev && !dev->scale)
        return dlt_seterr(DLT_ERR_INVALID, "reducer: device operations without scale");
    return DLT_OK;
}

dlt_status dlt_reducer_create(dlt_comm *c, float *grads, int n, const dlt_comm_range *ranges,
                              const dlt_reducer_config *cfg, const dlt_reducer_devops *dev,
                              dlt_reducer **out)
{
    dlt_status st;
    *out = NULL;
    if ((st = check_args(c, grads, n, ranges, cfg, dev)) != DLT_OK)
        return st;
    dlt_reducer *r = calloc(1, sizeof *r);
    if (!r)
        return dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
    r->c = c;
    r->grads = grads;
    r->unscale = 1.0;
    if (cfg)
        r->cfg = *cfg;
    if (dev)
        r->dev = *dev, r->on_dev = 1;
    r->n = n;
    r->ranges = malloc((size_t)(n > 0 ? n : 1) * sizeof *r->ranges);
    if (!r->ranges) {
        st = dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
        goto fail;
    }
    if (n > 0)
        memcpy(r->ranges, ranges, (size_t)n * sizeof *r->ranges);
    if ((st = make_buckets(r)) != DLT_OK)
        goto fail;
    if (r->cfg.bf16 && (st = make_shadow(r)) != DLT_OK)
        goto fail;
    for (int b = 0; b < r->nb; b++)
        r->b[b].scaled = !r->cfg.zero && !r->cfg.bf16 && !r->on_dev && c && c->backend == DLT_COMM_MPI &&
                         c->size > 1 && c->ring_min >= 0;
    *out = r;
    return DLT_OK;
fail:
    dlt_reducer_free(r);
    return st;
}

void dlt_reducer_set_unscale(dlt_reducer *r, double f) { r->unscale = f; }

/* g[i] *= a where the gradients live. */
static dlt_status scale_grads(dlt_reducer *r, float *g, double a, size_t n)
{
    if (r->on_dev)
        return r->dev.scale(r->dev.ctx, g, a, n);
    dlt_host_scale(g, a, n); /* per element, on the team, vectorised */
    return DLT_OK;
}

/* The bf16 conversions where the gradients live. */
static dlt_status to_bf16(dlt_reducer *r, dlt_bf16 *dst, const float *src, size_t n)
{
    if (r->on_dev)
        return r->dev.to_bf16(r->dev.ctx, dst, src, n);
    for (size_t i = 0; i < n; i++)
        dst[i] = dlt_f32_to_bf16(src[i]);
    return DLT_OK;
}

static dlt_status from_bf16(dlt_reducer *r, float *dst, const dlt_bf16 *src, size_t n)
{
    if (r->on_dev)
        return r->dev.from_bf16(r->dev.ctx, dst, src, n);
    for (size_t i = 0; i < n; i++)
        dst[i] = dlt_bf16_to_f32(src[i]);
    return DLT_OK;
}

static void keep_error(dlt_reducer *r, dlt_status st)
{
    if (st != DLT_OK && r->err == DLT_OK) {
        r->err = st;
        snprintf(r->errmsg, sizeof r->errmsg, "%s", dlt_errmsg());
    }
}

static void start_bucket(dlt_reducer *r, int b)
{
    reducer_bucket *bk = &r->b[b];
    float *g = r->grads + bk->lo;
    size_t n = bk->hi - bk->lo;
    dlt_status st = DLT_OK;
    if (r->cfg.contract == DLT_GRAD_MEAN && r->local_weight != 1.0 && r->c->size > 1)
        st = scale_grads(r, g, r->local_weight, n);
    void *buf = g;
    int type = DLT_COMM_F32;
    if (r->cfg.bf16) {
        buf = r->shadow + bk->lo;
        type = DLT_COMM_BF16;
        if (st == DLT_OK)
            st = to_bf16(r, buf, g, n);
    }
    keep_error(r, st);
    /* started even after an error: every rank must run the same collectives */
    if (r->cfg.zero) {
        int p = r->c->size;
        st = comm_start(r->c, OP_REDUCE_SCATTERV, NULL, buf, n, r->counts + b * p, r->displs + b * p,
                        type, DLT_COMM_SUM, 0, b, &bk->req);
    } else if (bk->scaled) {
        /* host f32 over MPI: the ring all-reduce applies finish's unscale /
         * global count in its last reduction (no pass of its own) */
        st = comm_allreduce_scaled(r->c, g, n, b, &r->unscale, &r->count_buf, &r->count_req, &bk->req);
    } else {
        st = comm_start(r->c, OP_ALLREDUCE, NULL, buf, n, NULL, NULL, type, DLT_COMM_SUM, 0, b,
                        &bk->req);
    }
    keep_error(r, st);
    if (r->timing)
        bk->t_start = comm_now(), bk->t_done = 0;
}

static void start_ready(dlt_reducer *r, int all)
{
    while (r->next < r->nb && (all || r->b[r->next].pending == 0)) {
        start_bucket(r, r->next);
        r->next++;
    }
}

void dlt_reducer_ready(dlt_reducer *r, int i)
{
    if (!r->active || i < 0 || i >= r->n || r->marked[i])
        return;
    r->marked[i] = 1;
    r->b[r->range_bucket[i]].pending--;
    start_ready(r, 0);
}

void dlt_reducer_poll(dlt_reducer *r)
{
    if (!r->active)
        return;
    dlt_comm_progress(r->c);
    if (!r->timing)
        return;
    /* completion as seen between the caller's work (a test releases the
     * request, so finish's wait on it returns at once) */
    for (int b = 0; b < r->next; b++)
        if (r->b[b].t_done == 0 && dlt_comm_test(r->c, &r->b[b].req))
            r->b[b].t_done = comm_now();
}

int dlt_reducer_num_started(const dlt_reducer *r)
{
    return r->next;
}

dlt_status dlt_reducer_begin(dlt_reducer *r, double local_samples, int final)
{
    if (r->active)
        return dlt_seterr(DLT_ERR_INVALID, "reducer: begin called twice without finish");
    if (local_samples < 0)
        return dlt_seterr(DLT_ERR_INVALID, "reducer: negative sample count");
    r->local_count += local_samples;
    if (!final)
        return DLT_OK;
    r->err = DLT_OK;
    r->next = 0;
    r->local_weight = r->local_count;
    for (int b = 0; b < r->nb; b++)
        r->b[b].pending = r->b[b].nranges;
    if (r->n > 0)
        memset(r->marked, 0, (size_t)r->n);
    /* the count first: every rank starts the same collectives in the same order */
    r->count_buf = r->local_count;
    /* a host number: MPI even when the gradients go through NCCL */
    dlt_status st = comm_start_host(r->c, OP_ALLREDUCE, NULL, &r->count_buf, 1, DLT_COMM_F64, DLT_COMM_SUM, 0,
                                    -1, &r->count_req);
    if (st != DLT_OK)
        return st;
    r->active = 1;
    return DLT_OK;
}

dlt_status dlt_reducer_finish(dlt_reducer *r)
{
    if (!r->active)
        return DLT_OK;
    start_ready(r, 1);
    r->active = 0;
    dlt_status wst = dlt_comm_wait(r->c, &r->count_req);
    if (wst != DLT_OK)
        return wst;
    r->global_count = r->count_buf;
    r->local_count = 0;
    /* with a power-of-two loss scale S, (g S) * ((1/S) / count) rounds exactly
     * as g * (1 / count) does */
    double inv = r->global_count > 0 ? r->unscale / r->global_count : 0;
    /* one rank's mean gradient is already the global mean: start_bucket left
     * it unweighted, and only the loss scale is undone */
    if (r->cfg.contract == DLT_GRAD_MEAN && r->c->size == 1)
        inv = r->global_count > 0 ? r->unscale : 0;
    int p = r->c->size, me = r->c->rank;
    for (int b = 0; b < r->nb; b++) {
        reducer_bucket *bk = &r->b[b];
        if ((wst = dlt_comm_wait(r->c, &bk->req)) != DLT_OK)
            return wst;
        if (r->timing && bk->t_done == 0)
            bk->t_done = comm_now();
        float *g = r->grads + bk->lo;
        size_t lo = 0, n = bk->hi - bk->lo;
        dlt_status st = DLT_OK;
        if (r->cfg.zero) {
            lo = (size_t)r->displs[b * p + me];
            n = (size_t)r->counts[b * p + me];
            /* MPI's in-place reduce-scatter leaves this rank's block first
             * (NCCL's, in its place); n <= the block size <= lo: the block and
             * its place never overlap */
            if (r->c->backend == DLT_COMM_MPI && lo && n && !r->cfg.bf16)
                st = r->on_dev ? r->dev.copy(r->dev.ctx, g + lo, g, n * sizeof *g)
                               : (memmove(g + lo, g, n * sizeof *g), DLT_OK);
        }
        if (r->cfg.bf16)
            st = from_bf16(r, g + lo, r->shadow + bk->lo + (r->c->backend == DLT_COMM_MPI ? 0 : lo), n);
        if (st == DLT_OK && !bk->scaled && inv != 1.0) /* x * 1 is x: no pass */
            st = scale_grads(r, g + lo, inv, n);
        keep_error(r, st);
    }
    if (r->err != DLT_OK)
        return dlt_seterr(r->err, "%s", r->errmsg);
    return DLT_OK;
}

void dlt_reducer_shard(const dlt_reducer *r, int b, size_t *lo, size_t *hi)
{
    if (b < 0 || b >= r->nb) {
        *lo = *hi = 0;
        return;
    }
    if (!r->cfg.zero) {
        *lo = r->b[b].lo, *hi = r->b[b].hi;
        return;
    }
    int p = r->c->size, me = r->c->rank;
    *lo = r->b[b].lo + (size_t)r->displs[b * p + me];
    *hi = *lo + (size_t)r->counts[b * p + me];
}

dlt_status dlt_reducer_allgather_shards(dlt_reducer *r, float *buf)
{
    if (!r->cfg.zero)
        return dlt_seterr(DLT_ERR_INVALID, "reducer: all-gather of shards without ZeRO-1");
    int p = r->c->size;
    for (int b = 0; b < r->nb; b++) {
        dlt_status st =
            comm_start(r->c, OP_ALLGATHERV, NULL, buf + r->b[b].lo, r->b[b].hi - r->b[b].lo,
                       r->counts + b * p, r->displs + b * p, DLT_COMM_F32, 0, 0, b, &r->b[b].req);
        if (st != DLT_OK)
            return st;
    }
    for (int b = 0; b < r->nb; b++) {
        dlt_status st = dlt_comm_wait(r->c, &r->b[b].req);
        if (st != DLT_OK)
            return st;
    }
    return DLT_OK;
}

double dlt_reducer_global_samples(const dlt_reducer *r)
{
    return r->global_count;
}
int dlt_reducer_num_buckets(const dlt_reducer *r)
{
    return r->nb;
}

void dlt_reducer_bucket(const dlt_reducer *r, int b, size_t *lo, size_t *hi, int *nparams)
{
    int ok = b >= 0 && b < r->nb;
    if (lo)
        *lo = ok ? r->b[b].lo : 0;
    if (hi)
        *hi = ok ? r->b[b].hi : 0;
    if (nparams)
        *nparams = ok ? r->b[b].nranges : 0;
}

void dlt_reducer_set_timing(dlt_reducer *r, int on)
{
    r->timing = on;
}

int dlt_reducer_bucket_times(const dlt_reducer *r, int b, double *start, double *done)
{
    if (b < 0 || b >= r->nb || !r->timing || r->b[b].t_done == 0) {
        *start = *done = 0;
        return 0;
    }
    *start = r->b[b].t_start;
    *done = r->b[b].t_done;
    return 1;
}
