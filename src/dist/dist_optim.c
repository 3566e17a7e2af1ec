/* The optimizer step and the gradient norm on a graph's reduced gradients:
 * plain data parallelism steps every parameter; ZeRO-1 steps this rank's
 * shard of each bucket, then all-gathers the parameters. */
#include "dist_impl.h"

#include "dlt_backend.h"

dlt_status dlt_dist_optim_step(dlt_dist *d, dlt_optim *o, double lr)
{
    dlt_graph *g = d->g;
    dlt_reducer *red = d->red;
    float *params = dlt_params_dev(g), *grads = dlt_grads_dev(g);
    if (!d->cfg.zero)
        return dlt_optim_step(o, params, grads, lr);
    for (int b = 0; b < dlt_reducer_num_buckets(red); b++) {
        size_t lo, hi;
        dlt_reducer_shard(red, b, &lo, &hi);
        if (hi > lo) {
            dlt_status st = dlt_optim_step_range(o, params, grads, lr, lo, hi);
            if (st != DLT_OK)
                return st;
        }
    }
    dlt_optim_advance(o);
    return dlt_reducer_allgather_shards(red, params);
}

/* 1 when the buckets tile the whole gradient buffer (every parameter's
 * gradient is reduced here). */
static int covers_buffer(const dlt_reducer *red, size_t total)
{
    size_t end = 0;
    for (int b = 0; b < dlt_reducer_num_buckets(red); b++) {
        size_t lo, hi;
        dlt_reducer_bucket(red, b, &lo, &hi, NULL);
        if (lo != end)
            return 0;
        end = hi;
    }
    return end == total;
}

dlt_status dlt_dist_grad_sumsq(dlt_dist *d, double *sumsq)
{
    dlt_graph *g = d->g;
    dlt_reducer *red = d->red;
    const float *grads = dlt_grads_dev(g);
    dlt_backend *be = dlt_graph_get_backend(g);
    size_t total = dlt_params_numel(g);
    int whole = covers_buffer(red, total);
    if (!d->cfg.zero && whole) /* one pass, the summation order of clipping */
        return be->sumsq(be->ctx, grads, total, sumsq);
    /* ZeRO-1: this rank's shards (where the gradients live), summed over the
     * ranks; else the buckets of a subset of the parameters */
    double s = 0;
    for (int b = 0; b < dlt_reducer_num_buckets(red); b++) {
        size_t lo, hi;
        double part = 0;
        dlt_reducer_shard(red, b, &lo, &hi);
        if (hi > lo) {
            dlt_status st = be->sumsq(be->ctx, grads + lo, hi - lo, &part);
            if (st != DLT_OK)
                return st;
        }
        s += part;
    }
    dlt_status st = d->cfg.zero ? dlt_comm_reduce_metrics(d->c, &s, 1) : DLT_OK;
    *sumsq = s;
    return st;
}
