/* A graph's gradients on src/comm's reducer: the layout in bucket order, the
 * ranges, the plan bindings and the readiness signals.
 *
 * Layout. The layout must be fixed (dlt_graph_finalize) before the first plan
 * exists, so dist cannot ask a plan when each gradient is ready. Instead it
 * orders the parameters by the node id of their gradient's producer:
 * dlt_grad appends backward nodes as it walks from the loss towards the
 * inputs, so a smaller producer id means a gradient that backward can finish
 * earlier (the last layer's first). The planner visits gradients in that
 * order too, whatever order they are bound in (plan.c, order_roots), so the
 * buckets become ready in index order as the backward runs. Gradients that
 * are leaves (zeros, for parameters the loss does not use) go last. Offset 0
 * of the gradient buffer is thus the first gradient produced, and bucket 0
 * (small, 1 MiB by default) is reduced first.
 *
 * Ranges. Each reduced parameter's gradient is one range of the flat
 * gradient buffer, in layout order, from its offset to the next parameter's
 * (alignment padding included, so the ranges of all parameters tile the
 * buffer and the buckets are those of the whole buffer).
 *
 * Readiness. When a plan runs, range i is ready after
 * dlt_plan_grad_ready_step of its parameter. begin sorts the ranges by that
 * step once; after each plan node the ranges whose step has come are
 * signalled to the reducer, which starts buckets in index order. */
#include "dist_impl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_bf16.h"

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

static int cmp_ready(const void *a, const void *b)
{
    const ready_at *x = a, *y = b;
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_value(const void *a, const void *b)
{
    dlt_t x = *(const dlt_t *)a, y = *(const dlt_t *)b;
    return x < y ? -1 : x > y;
}

void dlt_dist_free(dlt_dist *d)
{
    if (!d)
        return;
    dlt_reducer_free(d->red);
    free(d->params);
    free(d->grads);
    free(d->layout);
    free(d->range_param);
    free(d->ready);
    free(d->start_step);
    free(d);
}

/* The bindings sorted by the producer of their gradient (see Layout). */
static dlt_status order_bindings(dlt_dist *d, int n, const dlt_t *params, const dlt_t *grads)
{
    binding *bs = calloc((size_t)(n > 0 ? n : 1), sizeof *bs);
    d->params = malloc((size_t)(n > 0 ? n : 1) * sizeof *d->params);
    d->grads = malloc((size_t)(n > 0 ? n : 1) * sizeof *d->grads);
    if (!bs || !d->params || !d->grads) {
        free(bs);
        return dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
    }
    for (int i = 0; i < n; i++) {
        int pid = dlt_producer_id(d->g, grads[i]);
        bs[i] = (binding){params[i], grads[i], pid >= 0 ? pid : INT_MAX, i};
    }
    qsort(bs, (size_t)n, sizeof *bs, cmp_binding);
    for (int i = 0; i < n; i++)
        d->params[i] = bs[i].param, d->grads[i] = bs[i].grad;
    d->n = n;
    free(bs);
    return DLT_OK;
}

static dlt_status fix_layout(dlt_dist *d)
{
    dlt_status st;
    if (dlt_graph_finalized(d->g)) {
        dlt_log(DLT_LOG_WARN, "reducer: the parameter layout was fixed before the reducer was "
                              "created; buckets follow it and may overlap less with backward");
        return DLT_OK;
    }
    if ((st = dlt_graph_finalize(d->g, d->params, d->n)) != DLT_OK)
        return st;
    d->layout = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *d->layout);
    if (!d->layout)
        return dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
    memcpy(d->layout, d->params, (size_t)d->n * sizeof *d->layout);
    d->nlayout = d->n;
    return DLT_OK;
}

/* One range per reduced parameter, in layout order (see Ranges). *out is
 * the caller's to free. */
static dlt_status make_ranges(dlt_dist *d, dlt_comm_range **out)
{
    int np = dlt_num_params(d->g);
    size_t total = dlt_params_numel(d->g);
    dlt_t *sorted = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *sorted);
    dlt_comm_range *rg = malloc((size_t)(np > 0 ? np : 1) * sizeof *rg);
    d->range_param = malloc((size_t)(np > 0 ? np : 1) * sizeof *d->range_param);
    if (!sorted || !rg || !d->range_param) {
        free(sorted);
        free(rg);
        return dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
    }
    memcpy(sorted, d->params, (size_t)d->n * sizeof *sorted);
    qsort(sorted, (size_t)d->n, sizeof *sorted, cmp_value);
    d->nr = 0;
    for (int i = 0; i < np; i++) {
        const dlt_param_info *pi = dlt_param_at(d->g, i);
        if (!bsearch(&pi->value, sorted, (size_t)d->n, sizeof *sorted, cmp_value))
            continue;
        rg[d->nr] = (dlt_comm_range){pi->offset, i + 1 < np ? dlt_param_at(d->g, i + 1)->offset : total};
        d->range_param[d->nr++] = pi->value;
    }
    free(sorted);
    *out = rg;
    return DLT_OK;
}

/* The backend's kernels for device gradients; 0 when the graph's memory is
 * host memory (the CPU backend: the reducer's own host loops, which the ring
 * all-reduce can fuse its division into). */
static dlt_status device_ops(dlt_dist *d, dlt_reducer_devops *ops, int *on_dev)
{
    dlt_backend *be = dlt_graph_get_backend(d->g);
    *on_dev = !be->host_memory;
    if (be->host_memory)
        return DLT_OK;
    *ops = (dlt_reducer_devops){.ctx = be->ctx, .scale = be->scale, .copy = be->copy, .alloc = be->alloc,
                                .release = be->release};
    if (!d->cfg.bf16)
        return DLT_OK;
    ops->to_bf16 = be->symbol ? (dlt_f32_to_bf16_fn)be->symbol(be->ctx, "f32_to_bf16") : NULL;
    ops->from_bf16 = be->symbol ? (dlt_bf16_to_f32_fn)be->symbol(be->ctx, "bf16_to_f32") : NULL;
    if (!ops->to_bf16 || !ops->from_bf16)
        return dlt_seterr(DLT_ERR_UNSUPPORTED,
                          "reducer: bf16 gradient reduction needs the %s backend's f32_to_bf16 and "
                          "bf16_to_f32 kernels, which it lacks",
                          be->name);
    return DLT_OK;
}

/* A dist with its bindings ordered, before the layout is fixed. */
static dlt_status dist_new(dlt_comm *c, dlt_graph *g, int n, const dlt_t *params, const dlt_t *grads,
                           const dlt_reducer_config *cfg, dlt_dist **out)
{
    dlt_status st;
    *out = NULL;
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(g), "%s", dlt_graph_errmsg(g));
    if (n < 0 || (n > 0 && (!params || !grads)))
        return dlt_seterr(DLT_ERR_INVALID, "reducer: bad gradient list");
    dlt_dist *d = calloc(1, sizeof *d);
    if (!d)
        return dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
    d->c = c;
    d->g = g;
    if (cfg)
        d->cfg = *cfg;
    if ((st = order_bindings(d, n, params, grads)) != DLT_OK) {
        dlt_dist_free(d);
        return st;
    }
    *out = d;
    return DLT_OK;
}

/* The reducer over d's ranges, once the layout is fixed. Frees d on error. */
static dlt_status dist_finish_create(dlt_dist *d)
{
    dlt_status st;
    dlt_comm_range *ranges = NULL;
    dlt_reducer_devops ops;
    int on_dev;
    dlt_graph *g = d->g;
    if ((st = make_ranges(d, &ranges)) != DLT_OK || (st = device_ops(d, &ops, &on_dev)) != DLT_OK)
        goto fail;
    if ((st = dlt_reducer_create(d->c, dlt_grads_dev(g), d->nr, ranges, &d->cfg, on_dev ? &ops : NULL,
                                 &d->red)) != DLT_OK)
        goto fail;
    int nb = dlt_reducer_num_buckets(d->red);
    d->ready = malloc((size_t)(d->nr > 0 ? d->nr : 1) * sizeof *d->ready);
    d->start_step = malloc((size_t)(nb > 0 ? nb : 1) * sizeof *d->start_step);
    if (!d->ready || !d->start_step) {
        st = dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
        goto fail;
    }
    for (int b = 0; b < nb; b++)
        d->start_step[b] = INT_MIN;
    free(ranges);
    return DLT_OK;
fail:
    free(ranges);
    dlt_dist_free(d);
    return st;
}

dlt_status dlt_dist_create(dlt_comm *c, dlt_graph *g, int n, const dlt_t *params, const dlt_t *grads,
                           const dlt_reducer_config *cfg, dlt_dist **out)
{
    dlt_dist *d;
    dlt_status st = dist_new(c, g, n, params, grads, cfg, &d);
    if (st != DLT_OK)
        return st;
    if ((st = fix_layout(d)) != DLT_OK) {
        dlt_dist_free(d);
        return st;
    }
    if ((st = dist_finish_create(d)) != DLT_OK)
        return st;
    *out = d;
    return DLT_OK;
}

/* Groups (the phases of a GAN): each group's bindings in production order
 * as above, the groups one after the other, so group k's parameters tile
 * one contiguous range of the flat buffers (alignment padding after its
 * last parameter included) and its reducer's buckets stay inside it. A
 * parameter in two groups is refused: the ranges would overlap. */
dlt_status dlt_dist_create_groups(dlt_comm *c, dlt_graph *g, int ngroups, const int *n, const dlt_t *const *params,
                                  const dlt_t *const *grads, const dlt_reducer_config *cfg, dlt_dist **out)
{
    dlt_status st = DLT_OK;
    int total = 0;
    dlt_t *order = NULL;
    for (int k = 0; k < ngroups; k++)
        out[k] = NULL;
    if (dlt_graph_finalized(g))
        return dlt_seterr(DLT_ERR_INVALID, "reducer groups: the parameter layout is already fixed");
    for (int k = 0; k < ngroups && st == DLT_OK; k++) {
        st = dist_new(c, g, n[k], params[k], grads[k], cfg, &out[k]);
        total += st == DLT_OK ? n[k] : 0;
    }
    if (st == DLT_OK && !(order = malloc((size_t)(total > 0 ? total : 1) * sizeof *order)))
        st = dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
    int at = 0;
    for (int k = 0; k < ngroups && st == DLT_OK; k++) {
        memcpy(order + at, out[k]->params, (size_t)n[k] * sizeof *order);
        at += n[k];
    }
    if (st == DLT_OK) {
        dlt_t *sorted = malloc((size_t)(total > 0 ? total : 1) * sizeof *sorted);
        if (!sorted)
            st = dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
        else {
            memcpy(sorted, order, (size_t)total * sizeof *sorted);
            qsort(sorted, (size_t)total, sizeof *sorted, cmp_value);
            for (int i = 1; i < total && st == DLT_OK; i++)
                if (sorted[i] == sorted[i - 1])
                    st = dlt_seterr(DLT_ERR_INVALID, "reducer groups: parameter '%s' is in two groups",
                                    dlt_name_of(g, sorted[i]));
            free(sorted);
        }
    }
    if (st == DLT_OK)
        st = dlt_graph_finalize(g, order, total);
    for (int k = 0; k < ngroups && st == DLT_OK; k++) {
        dlt_dist *d = out[k];
        if (!(d->layout = malloc((size_t)(d->n > 0 ? d->n : 1) * sizeof *d->layout)))
            st = dlt_seterr(DLT_ERR_NOMEM, "reducer: out of memory");
        else {
            memcpy(d->layout, d->params, (size_t)d->n * sizeof *d->layout);
            d->nlayout = d->n;
            st = dist_finish_create(d);
            if (st != DLT_OK)
                out[k] = NULL; /* freed by dist_finish_create */
        }
    }
    free(order);
    if (st != DLT_OK)
        for (int k = 0; k < ngroups; k++) {
            dlt_dist_free(out[k]);
            out[k] = NULL;
        }
    return st;
}

void dlt_dist_range(const dlt_dist *d, size_t *lo, size_t *hi)
{
    dlt_reducer *red = d->red;
    int nb = dlt_reducer_num_buckets(red);
    *lo = *hi = 0;
    for (int b = 0; b < nb; b++) {
        size_t l, h;
        dlt_reducer_bucket(red, b, &l, &h, NULL);
        if (b == 0 || l < *lo)
            *lo = l;
        if (b == 0 || h > *hi)
            *hi = h;
    }
}

dlt_reducer *dlt_dist_reducer(const dlt_dist *d)
{
    return d->red;
}

void dlt_dist_plan_opts(const dlt_dist *d, dlt_plan_opts *o)
{
    o->ngrads = d->n;
    o->grad_params = d->params;
    o->grad_values = d->grads;
}

/* Signals the ranges ready after plan step `step` and records the step
 * after which each newly started bucket started. */
static void signal_ready(dlt_dist *d, int step)
{
    while (d->cursor < d->nr && d->ready[d->cursor].step <= step)
        dlt_reducer_ready(d->red, d->ready[d->cursor++].idx);
    int k = dlt_reducer_num_started(d->red);
    for (; d->started < k; d->started++)
        d->start_step[d->started] = step;
}

static void after_node(dlt_plan *p, int step, void *user)
{
    dlt_dist *d = user;
    if (d->active) {
        signal_ready(d, step);
        dlt_reducer_poll(d->red);
    }
    if (d->chain)
        d->chain(p, step, d->chain_user);
}

void dlt_dist_exec_opts(dlt_dist *d, dlt_exec_opts *o)
{
    /* one rank has nothing to overlap: finish starts every bucket, and a plan
     * without a callback between its steps can run as one CUDA graph */
    if (dlt_comm_size(d->c) == 1)
        return;
    if (o->after_node != after_node) {
        d->chain = o->after_node;
        d->chain_user = o->user;
    }
    o->after_node = after_node;
    o->user = d;
}

dlt_status dlt_dist_begin(dlt_dist *d, dlt_plan *p, double local_samples, int final)
{
    dlt_status st = dlt_reducer_begin(d->red, local_samples, final);
    if (st != DLT_OK || !final)
        return st;
    for (int i = 0; i < d->nr; i++)
        d->ready[i] = (ready_at){dlt_plan_grad_ready_step(p, d->range_param[i]), i};
    qsort(d->ready, (size_t)d->nr, sizeof *d->ready, cmp_ready);
    d->nsteps = dlt_plan_num_steps(p);
    d->cursor = 0;
    d->started = 0;
    for (int b = 0; b < dlt_reducer_num_buckets(d->red); b++)
        d->start_step[b] = INT_MIN;
    d->active = 1;
    signal_ready(d, -1);
    return DLT_OK;
}

dlt_status dlt_dist_finish(dlt_dist *d)
{
    if (d->active) {
        int nb = dlt_reducer_num_buckets(d->red);
        for (; d->started < nb; d->started++)
            d->start_step[d->started] = d->nsteps;
        d->active = 0;
    }
    return dlt_reducer_finish(d->red);
}

int dlt_dist_bucket_start_step(const dlt_dist *d, int b)
{
    return b >= 0 && b < dlt_reducer_num_buckets(d->red) ? d->start_step[b] : INT_MIN;
}

const dlt_t *dlt_dist_layout(const dlt_dist *d, int *n)
{
    if (n)
        *n = d->nlayout;
    return d->layout;
}
