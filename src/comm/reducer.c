/* The data-parallel gradient reducer: gradients laid out in buckets in the
 * order backward produces them, each bucket all-reduced in place (or
 * reduce-scattered, ZeRO-1) as soon as its last gradient is written, while
 * backward goes on.
 *
 * Layout. The layout must be fixed (dlt_graph_finalize) before the first plan
 * exists, so the reducer cannot ask a plan when each gradient is ready.
 * Instead it orders the parameters by the node id of their gradient's
 * producer: dlt_grad appends backward nodes as it walks from the loss towards
 * the inputs, so a smaller producer id means a gradient that backward can
 * finish earlier (the last layer's first). Binding the gradients in that order
 * (dlt_reducer_plan_opts) also makes the planner's depth-first topological
 * order emit them in that order; bound in creation order it would compute
 * the first layer's gradient first and every bucket would be ready only at
 * the end. Gradients that are leaves (zeros, for parameters the loss does not
 * use) go last. Offset 0 of the gradient buffer is thus the first gradient
 * produced, and bucket 0 (small, 1 MiB by default) is reduced first.
 *
 * Readiness. When a plan runs, a bucket is ready after the latest
 * dlt_plan_grad_ready_step of its parameters. Buckets start strictly in index
 * order (bucket b waits for b-1 to start), which is the same on every rank
 * whatever the plan: MPI requires that order for non-blocking collectives.
 *
 * bf16 (cfg.bf16). Each bucket is rounded into the same range of a bf16
 * shadow of the gradient buffer after its pre-scale, the collective runs on
 * the shadow, and finish converts it back before the post-scale; the shadow
 * is allocated once (device memory for a device graph, converted there by
 * the backend's kernels) so the step loop allocates nothing. */
#include "comm_impl.h"
#include "dlt_backend.h"
#include "dlt_bf16.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t lo, hi; /* flat element range, padding included */
    int first, nparams;
    int ready;      /* plan step after which every gradient in it is written */
    int start_step; /* when its reduction started in the last final step */
    int scaled;     /* its all-reduce also divides by the count (comm_allreduce_scaled) */
    double t_start, t_done; /* comm_now() at start and at observed completion (timing on) */
    dlt_comm_req req;
} reducer_bucket;

struct dlt_reducer {
    dlt_comm *c;
    dlt_graph *g;
    dlt_reducer_config cfg;
    int n;
    dlt_t *params, *grads; /* bindings in production order */
    dlt_t *layout;
    int nlayout;
    int nb;
    reducer_bucket *b;
    int *param_bucket;    /* by layout index */
    int *counts, *displs; /* ZeRO: per bucket, per rank */
    dlt_plan *plan;
    int nsteps;
    int active, next;
    double local_count, global_count, count_buf, local_weight;
    double unscale; /* finish also multiplies by this: 1 / loss scale */
    dlt_comm_req count_req;
    void (*chain)(dlt_plan *, int, void *);
    void *chain_user;
    int timing;
    dlt_status err;
    char errmsg[256];
    /* bf16: the shadow (dlt_params_numel elements) and, for a device graph,
     * the backend that owns it and its conversion kernels */
    dlt_bf16 *shadow;
    dlt_backend *be;
    dlt_f32_to_bf16_fn to_bf16;
    dlt_bf16_to_f32_fn from_bf16;
};

typedef struct {
    dlt_t param, grad;
    int key;
    int idx;
} binding;

static int cmp_binding(const void *a, const void *b)
{
    const binding *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void dlt_reducer_free(dlt_reducer *r)
{
    if (!r)
        return;
    if (r->be)
        r->be->release(r->be->ctx, r->shadow);
    else
        free(r->shadow);
    free(r->params);
    free(r->grads);
    free(r->layout);
    free(r->b);
    free(r->param_bucket);
    free(r->counts);
    free(r->displs);
    free(r);
}

static dlt_status make_buckets(dlt_reducer *r)
{
    dlt_graph *g = r->g;
    int np = dlt_num_params(g);
    size_t total = dlt_params_numel(g);
    double first = r->cfg.first_bucket_mb > 0 ? r->cfg.first_bucket_mb : 1;
    double rest = r->cfg.bucket_mb > 0 ? r->cfg.bucket_mb : 25;
    r->b = calloc((size_t)(np > 0 ? np : 1), sizeof *r->b);
    r->param_bucket = calloc((size_t)(np > 0 ? np : 1), sizeof *r->param_bucket);
    if (!r->b || !r->param_bucket)
        return dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
    r->nb = 0;
    size_t limit = (size_t)(first * 1048576.0 / sizeof(float));
    for (int i = 0; i < np; i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        size_t end = i + 1 < np ? dlt_param_at(g, i + 1)->offset : total;
        reducer_bucket *cur = r->nb ? &r->b[r->nb - 1] : NULL;
        if (!cur || (cur->hi - cur->lo) + (end - pi->offset) > limit) {
            if (cur)
                limit = (size_t)(rest * 1048576.0 / sizeof(float));
            cur = &r->b[r->nb++];
            cur->lo = pi->offset;
            cur->first = i;
        }
        cur->hi = end;
        cur->nparams++;
        r->param_bucket[i] = r->nb - 1;
    }
    for (int b = 0; b < r->nb; b++)
        if (r->b[b].hi - r->b[b].lo > (size_t)INT_MAX)
            return dlt_seterr(DLT_ERR_UNSUPPORTED, "reducer: bucket %d exceeds 2^31 elements", b);
    if (!r->cfg.zero)
        return DLT_OK;
    int p = r->c->size;
    r->counts = malloc((size_t)r->nb * (size_t)p * sizeof *r->counts);
    r->displs = malloc((size_t)r->nb * (size_t)p * sizeof *r->displs);
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
    size_t total = dlt_params_numel(r->g), bytes = (total ? total : 1) * sizeof(dlt_bf16);
    dlt_backend *be = dlt_graph_get_backend(r->g);
    if (!be) {
        r->shadow = malloc(bytes);
        return r->shadow ? DLT_OK
                         : dlt_seterr(DLT_ERR_NOMEM, "reducer: cannot allocate the bf16 gradient shadow (%zu bytes)",
                                      bytes);
    }
    r->to_bf16 = be->symbol ? (dlt_f32_to_bf16_fn)be->symbol(be->ctx, "f32_to_bf16") : NULL;
    r->from_bf16 = be->symbol ? (dlt_bf16_to_f32_fn)be->symbol(be->ctx, "bf16_to_f32") : NULL;
    if (!r->to_bf16 || !r->from_bf16)
        return dlt_seterr(DLT_ERR_UNSUPPORTED,
                          "reducer: bf16 gradient reduction needs the %s backend's f32_to_bf16 and "
                          "bf16_to_f32 kernels, which it lacks",
                          be->name);
    dlt_status st = be->alloc(be->ctx, bytes, (void **)&r->shadow);
    if (st == DLT_OK)
        r->be = be;
    return st;
}

dlt_status dlt_reducer_create(dlt_comm *c, dlt_graph *g, int n, const dlt_t *params,
                              const dlt_t *grads, const dlt_reducer_config *cfg, dlt_reducer **out)
{
    dlt_status st = DLT_OK;
    *out = NULL;
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(g), "%s", dlt_graph_errmsg(g));
    if (n < 0 || (n > 0 && (!params || !grads)))
        return dlt_seterr(DLT_ERR_INVALID, "reducer: bad gradient list");
    dlt_reducer *r = calloc(1, sizeof *r);
    binding *bs = calloc((size_t)(n > 0 ? n : 1), sizeof *bs);
    if (!r || !bs) {
        free(r);
        free(bs);
        return dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
    }
    r->c = c;
    r->unscale = 1.0;
    r->g = g;
    if (cfg)
        r->cfg = *cfg;
    for (int i = 0; i < n; i++) {
        int pid = dlt_producer_id(g, grads[i]);
        bs[i] = (binding){params[i], grads[i], pid >= 0 ? pid : INT_MAX, i};
    }
    qsort(bs, (size_t)n, sizeof *bs, cmp_binding);
    r->n = n;
    r->params = malloc((size_t)(n > 0 ? n : 1) * sizeof *r->params);
    r->grads = malloc((size_t)(n > 0 ? n : 1) * sizeof *r->grads);
    if (!r->params || !r->grads) {
        st = dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++)
        r->params[i] = bs[i].param, r->grads[i] = bs[i].grad;
    if (!dlt_graph_finalized(g)) {
        if ((st = dlt_graph_finalize(g, r->params, n)) != DLT_OK)
            goto fail;
        r->layout = malloc((size_t)(n > 0 ? n : 1) * sizeof *r->layout);
        if (!r->layout) {
            st = dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
            goto fail;
        }
        memcpy(r->layout, r->params, (size_t)n * sizeof *r->layout);
        r->nlayout = n;
    } else {
        dlt_log(DLT_LOG_WARN, "reducer: the parameter layout was fixed before the reducer was "
                              "created; buckets follow it and may overlap less with backward");
    }
    if ((st = make_buckets(r)) != DLT_OK)
        goto fail;
    if (r->cfg.bf16 && (st = make_shadow(r)) != DLT_OK)
        goto fail;
    for (int b = 0; b < r->nb; b++)
        r->b[b].scaled = !r->cfg.zero && !r->cfg.bf16 && dlt_graph_get_backend(g)->host_memory &&
                         c->backend == DLT_COMM_MPI && c->size > 1 && c->ring_min >= 0;
    free(bs);
    *out = r;
    return DLT_OK;
fail:
    free(bs);
    dlt_reducer_free(r);
    return st;
}

void dlt_reducer_set_unscale(dlt_reducer *r, double f) { r->unscale = f; }

void dlt_reducer_plan_opts(const dlt_reducer *r, dlt_plan_opts *o)
{
    o->ngrads = r->n;
    o->grad_params = r->params;
    o->grad_values = r->grads;
}

/* g[i] *= a where the gradients live (a device graph's buffers are device
 * memory and its collectives NCCL's). */
static dlt_status scale_grads(dlt_reducer *r, float *g, double a, size_t n)
{
    dlt_backend *be = dlt_graph_get_backend(r->g);
    if (be)
        return be->scale(be->ctx, g, a, n);
    for (size_t i = 0; i < n; i++)
        g[i] = (float)(g[i] * a);
    return DLT_OK;
}

/* The bf16 conversions where the gradients live. */
static dlt_status to_bf16(dlt_reducer *r, dlt_bf16 *dst, const float *src, size_t n)
{
    if (r->to_bf16)
        return r->to_bf16(r->be->ctx, dst, src, n);
    for (size_t i = 0; i < n; i++)
        dst[i] = dlt_f32_to_bf16(src[i]);
    return DLT_OK;
}

static dlt_status from_bf16(dlt_reducer *r, float *dst, const dlt_bf16 *src, size_t n)
{
    if (r->from_bf16)
        return r->from_bf16(r->be->ctx, dst, src, n);
    for (size_t i = 0; i < n; i++)
        dst[i] = dlt_bf16_to_f32(src[i]);
    return DLT_OK;
}

static void start_bucket(dlt_reducer *r, int b, int step)
{
    reducer_bucket *bk = &r->b[b];
    float *g = dlt_grads_dev(r->g) + bk->lo;
    size_t n = bk->hi - bk->lo;
    dlt_status st = DLT_OK;
    if (r->cfg.contract == DLT_GRAD_MEAN && r->local_weight != 1.0)
        st = scale_grads(r, g, r->local_weight, n);
    void *buf = g;
    int type = DLT_COMM_F32;
    if (r->cfg.bf16) {
        buf = r->shadow + bk->lo;
        type = DLT_COMM_BF16;
        if (st == DLT_OK)
            st = to_bf16(r, buf, g, n);
    }
    if (st != DLT_OK && r->err == DLT_OK) {
        r->err = st;
        snprintf(r->errmsg, sizeof r->errmsg, "%s", dlt_errmsg());
    }
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
    if (st != DLT_OK && r->err == DLT_OK) {
        r->err = st;
        snprintf(r->errmsg, sizeof r->errmsg, "%s", dlt_errmsg());
    }
    bk->start_step = step;
    if (r->timing)
        bk->t_start = comm_now(), bk->t_done = 0;
}

/* Timing only: completion as seen between nodes (a test releases the request,
 * so finish's wait on it returns at once). */
static void test_started(dlt_reducer *r)
{
    for (int b = 0; b < r->next; b++)
        if (r->b[b].t_done == 0 && dlt_comm_test(r->c, &r->b[b].req))
            r->b[b].t_done = comm_now();
}

static void start_ready(dlt_reducer *r, int step, int all)
{
    while (r->next < r->nb && (all || r->b[r->next].ready <= step)) {
        start_bucket(r, r->next, step);
        r->next++;
    }
}

static void after_node(dlt_plan *p, int step, void *user)
{
    dlt_reducer *r = user;
    if (r->active) {
        start_ready(r, step, 0);
        dlt_comm_progress(r->c);
        if (r->timing)
            test_started(r);
    }
    if (r->chain)
        r->chain(p, step, r->chain_user);
}

void dlt_reducer_exec_opts(dlt_reducer *r, dlt_exec_opts *o)
{
    /* one rank has nothing to overlap: finish starts every bucket, and a plan
     * without a callback between its steps can run as one CUDA graph */
    if (r->c->size == 1)
        return;
    if (o->after_node != after_node) {
        r->chain = o->after_node;
        r->chain_user = o->user;
    }
    o->after_node = after_node;
    o->user = r;
}

static void readiness(dlt_reducer *r, dlt_plan *p)
{
    int np = dlt_num_params(r->g);
    for (int b = 0; b < r->nb; b++)
        r->b[b].ready = -1;
    for (int i = 0; i < np; i++) {
        int s = dlt_plan_grad_ready_step(p, dlt_param_at(r->g, i)->value);
        reducer_bucket *bk = &r->b[r->param_bucket[i]];
        if (s > bk->ready)
            bk->ready = s;
    }
    r->plan = p;
    r->nsteps = dlt_plan_num_steps(p);
}

dlt_status dlt_reducer_begin(dlt_reducer *r, dlt_plan *p, double local_samples, int final)
{
    if (r->active)
        return dlt_seterr(DLT_ERR_INVALID, "reducer: begin called twice without finish");
    if (local_samples < 0)
        return dlt_seterr(DLT_ERR_INVALID, "reducer: negative sample count");
    r->local_count += local_samples;
    if (!final)
        return DLT_OK;
    readiness(r, p); /* O(parameters); plans may be freed and recreated */
    r->err = DLT_OK;
    r->active = 1;
    r->next = 0;
    r->local_weight = r->local_count;
    for (int b = 0; b < r->nb; b++)
        r->b[b].start_step = INT_MIN;
    /* the count first: every rank starts the same collectives in the same order */
    r->count_buf = r->local_count;
    /* a host number: MPI even when the gradients go through NCCL */
    dlt_status st = comm_start_host(r->c, OP_ALLREDUCE, NULL, &r->count_buf, 1, DLT_COMM_F64, DLT_COMM_SUM, 0,
                                    -1, &r->count_req);
    if (st != DLT_OK) {
        r->active = 0;
        return st;
    }
    start_ready(r, -1, 0);
    return DLT_OK;
}

dlt_status dlt_reducer_finish(dlt_reducer *r)
{
    if (!r->active)
        return DLT_OK;
    start_ready(r, r->nsteps, 1);
    r->active = 0;
    dlt_status wst = dlt_comm_wait(r->c, &r->count_req);
    if (wst != DLT_OK)
        return wst;
    r->global_count = r->count_buf;
    r->local_count = 0;
    /* with a power-of-two loss scale S, (g S) * ((1/S) / count) rounds exactly
     * as g * (1 / count) does */
    double inv = r->global_count > 0 ? r->unscale / r->global_count : 0;
    float *grads = dlt_grads_dev(r->g);
    int p = r->c->size, me = r->c->rank;
    for (int b = 0; b < r->nb; b++) {
        reducer_bucket *bk = &r->b[b];
        if ((wst = dlt_comm_wait(r->c, &bk->req)) != DLT_OK)
            return wst;
        if (r->timing && bk->t_done == 0)
            bk->t_done = comm_now();
        float *g = grads + bk->lo;
        size_t lo = 0, n = bk->hi - bk->lo;
        dlt_status st = DLT_OK;
        if (r->cfg.zero) {
            lo = (size_t)r->displs[b * p + me];
            n = (size_t)r->counts[b * p + me];
            /* MPI's in-place reduce-scatter leaves this rank's block first
             * (NCCL's, in its place); n <= the block size <= lo: the block and
             * its place never overlap */
            dlt_backend *be = dlt_graph_get_backend(r->g);
            if (r->c->backend == DLT_COMM_MPI && lo && n && !r->cfg.bf16)
                st = be ? be->copy(be->ctx, g + lo, g, n * sizeof *g) : (memmove(g + lo, g, n * sizeof *g), DLT_OK);
        }
        if (r->cfg.bf16)
            st = from_bf16(r, g + lo, r->shadow + bk->lo + (r->c->backend == DLT_COMM_MPI ? 0 : lo), n);
        if (st == DLT_OK && !bk->scaled)
            st = scale_grads(r, g + lo, inv, n);
        if (st != DLT_OK && r->err == DLT_OK) {
            r->err = st;
            snprintf(r->errmsg, sizeof r->errmsg, "%s", dlt_errmsg());
        }
    }
    if (r->err != DLT_OK)
        return dlt_seterr(r->err, "%s", r->errmsg);
    return DLT_OK;
}

dlt_status dlt_reducer_optim_step(dlt_reducer *r, dlt_optim *o, double lr)
{
    float *params = dlt_params_dev(r->g), *grads = dlt_grads_dev(r->g);
    if (!r->cfg.zero)
        return dlt_optim_step(o, params, grads, lr);
    int p = r->c->size, me = r->c->rank;
    for (int b = 0; b < r->nb; b++) {
        size_t lo = r->b[b].lo + (size_t)r->displs[b * p + me];
        size_t hi = lo + (size_t)r->counts[b * p + me];
        if (hi > lo) {
            dlt_status st = dlt_optim_step_range(o, params, grads, lr, lo, hi);
            if (st != DLT_OK)
                return st;
        }
    }
    dlt_optim_advance(o);
    for (int b = 0; b < r->nb; b++) {
        dlt_status st =
            comm_start(r->c, OP_ALLGATHERV, NULL, params + r->b[b].lo, r->b[b].hi - r->b[b].lo,
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

dlt_status dlt_reducer_grad_sumsq(dlt_reducer *r, double *sumsq)
{
    const float *grads = dlt_grads_dev(r->g);
    dlt_backend *be = dlt_graph_get_backend(r->g);
    if (be && !r->cfg.zero)
        return be->sumsq(be->ctx, grads, dlt_params_numel(r->g), sumsq);
    if (!r->cfg.zero) {
        *sumsq = dlt_grad_sumsq(grads, dlt_params_numel(r->g));
        return DLT_OK;
    }
    int p = r->c->size, me = r->c->rank;
    double s = 0, part;
    dlt_status st = DLT_OK;
    for (int b = 0; b < r->nb; b++) {
        const float *x = grads + r->b[b].lo + r->displs[b * p + me];
        size_t n = (size_t)r->counts[b * p + me];
        if (be && n && (st = be->sumsq(be->ctx, x, n, &part)) != DLT_OK)
            return st;
        s += be ? (n ? part : 0) : dlt_grad_sumsq(x, n);
    }
    st = dlt_comm_reduce_metrics(r->c, &s, 1);
    *sumsq = s;
    return st;
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
        *nparams = ok ? r->b[b].nparams : 0;
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

int dlt_reducer_bucket_start_step(const dlt_reducer *r, int b)
{
    return b >= 0 && b < r->nb ? r->b[b].start_step : INT_MIN;
}

const dlt_t *dlt_reducer_layout(const dlt_reducer *r, int *n)
{
    if (n)
        *n = r->nlayout;
    return r->layout;
}
