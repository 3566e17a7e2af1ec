/* One optimizer step of the training loop (trainer.c): micro-batches fed
 * (ahead, on a device), run, reduced; loss scaling, the non-finite check,
 * clipping and the optimizer. */
#include <math.h>
#include <string.h>

#include "dlt_backend.h"
#include "trainer.h"

/* Dynamic loss scaling (torch.cuda.amp.GradScaler's rule): inf/NaN gradients
 * at a scale above 1 skip the step and halve the scale; every
 * loss_scale_window clean steps double it. At scale 1 or below a non-finite
 * gradient is not an overflow of the scaling: train.nonfinite decides. */
static int overflowed(dlt_trainer *r, double sumsq)
{
    int dynamic = r->c->loss_scaling == DLT_LOSS_SCALE_DYNAMIC, bad = !isfinite(sumsq);
    if (!dynamic || (bad && r->scaler.scale <= 1.0))
        return 0;
    double before = r->scaler.scale;
    dlt_loss_scaler_update(&r->scaler, bad);
    if (bad) {
        r->skipped_steps++;
        if (r->rank == 0)
            dlt_log(DLT_LOG_DEBUG, "step %lld: inf/NaN gradients at loss scale %g: step skipped, scale %g",
                    (long long)r->step + 1, before, r->scaler.scale);
    }
    return bad;
}

/* The next training micro-batch into the train plan's staging, with the
 * current loss scale. */
static dlt_status feed_train(dlt_trainer *r, dlt_task_batch *b)
{
    double t_data = dlt_report_trace_now(&r->rep);
    dlt_status st = r->task->ops->feed(r->task, r->train, 1, b);
    if (st != DLT_OK)
        return st;
    dlt_report_trace_span(&r->rep, "data wait", "data", t_data);
    r->next_scale = (float)dlt_loss_scaler_get(&r->scaler);
    if (r->tg.loss_scale >= 0)
        *(float *)dlt_plan_data(r->train, r->tg.loss_scale) = r->next_scale;
    return DLT_OK;
}

/* The micro-batch to run: the one fed ahead, its loss scale renewed (and the
 * staging uploaded again) should the scaler have changed since, or a fresh one. */
static dlt_status take_batch(dlt_trainer *r, dlt_task_batch *b)
{
    if (!r->have_next)
        return feed_train(r, b);
    *b = r->next;
    r->have_next = 0;
    float scale = (float)dlt_loss_scaler_get(&r->scaler);
    if (r->tg.loss_scale < 0 || scale == r->next_scale)
        return DLT_OK;
    /* the last dlt_plan_wait covered the prefetch that read the staging */
    *(float *)dlt_plan_data(r->train, r->tg.loss_scale) = r->next_scale = scale;
    return dlt_plan_prefetch(r->train);
}

/* One optimizer step: accumulate micro-batches, reduce, clip, update. sums:
 * samples, reducer weight, then the task's training sums. */
dlt_status dlt_trainer_step(dlt_trainer *r, double *sums, double *gnorm)
{
    const dlt_train_config *c = r->c;
    dlt_task *t = r->task;
    dlt_status st = DLT_OK;
    int k = c->accumulate > 0 ? c->accumulate : 1;
    if (k > 1) /* accumulation adds into the gradient buffer: clear it where it lives */
        st = r->be->memset(r->be->ctx, dlt_grads_dev(r->g), 0, dlt_params_numel(r->g) * sizeof(float));
    if (st != DLT_OK)
        return st;
    dlt_comm_set_step(r->comm, r->step);
    dlt_report_trace_step(&r->rep, r->step);
    /* before begin: the buckets' all-reduces apply it as they complete */
    dlt_reducer_set_unscale(r->red, 1.0 / dlt_loss_scaler_get(&r->scaler));
    for (int m = 0; m < k; m++) {
        dlt_task_batch b;
        if ((st = take_batch(r, &b)) != DLT_OK)
            return st;
        if ((st = dlt_dist_begin(r->dist, r->train, b.weight, m == k - 1)) != DLT_OK)
            return st;
        /* on a device the run is queued; the host waits for the forward's
         * outputs, then feeds and uploads the next micro-batch while the
         * backward (and the gradient all-reduce) runs */
        dlt_exec_opts eo = {.training = 1, .step = r->step * k + m, .rng_stream = (uint64_t)r->rank,
                            .async = 1, .graph = c->cuda_graphs};
        dlt_dist_exec_opts(r->dist, &eo);
        dlt_report_trace_plan(&r->rep, r->train, &eo);
        if ((st = dlt_plan_run(r->train, &eo)) != DLT_OK || (st = dlt_plan_wait_outputs(r->train)) != DLT_OK)
            return st;
        t->ops->accumulate(t, r->train, 1, &b, sums + 2);
        if (!r->be->host_memory && (m + 1 < k || r->step + 1 < r->total_steps)) {
            r->cursor_next = t->ops->get_cursor(t);
            if ((st = feed_train(r, &r->next)) != DLT_OK || (st = dlt_plan_prefetch(r->train)) != DLT_OK)
                return st;
            r->have_next = 1;
        }
        if ((st = dlt_plan_wait(r->train)) != DLT_OK)
            return st;
        sums[0] += b.samples;
        sums[1] += b.weight;
        r->epoch = b.epoch + (b.last_in_epoch ? 1 : 0);
    }
    if ((st = dlt_dist_finish(r->dist)) != DLT_OK)
        return st;
    dlt_report_trace_buckets(&r->rep);
    /* the reducer counts weights: samples, or tokens_per_sample tokens per sample */
    r->samples_seen += (int64_t)(dlt_reducer_global_samples(r->red) / (t->tokens_per_sample > 0 ? t->tokens_per_sample : 1));
    double sumsq = 0;
    if ((st = dlt_dist_grad_sumsq(r->dist, &sumsq)) != DLT_OK)
        return st;
    *gnorm = sqrt(sumsq);
    if (overflowed(r, sumsq))
        return DLT_OK;
    if (!isfinite(sumsq)) {
        char where[300] = "";
        int np = dlt_num_params(r->g), bad = -1;
        if ((st = dlt_graph_download(r->g, DLT_SYNC_GRADS)) != DLT_OK)
            return st;
        for (int i = 0; i < np && bad < 0 && !c->zero; i++) {
            const dlt_param_info *pi = dlt_param_at(r->g, i);
            const float *gr = dlt_grads_data(r->g) + pi->offset;
            for (size_t j = 0; j < pi->numel; j++)
                if (!isfinite(gr[j])) {
                    bad = i;
                    snprintf(where, sizeof where, " (first in parameter '%s')", pi->name);
                    break;
                }
        }
        if (c->nonfinite_stop)
            return dlt_seterr(DLT_ERR_NONFINITE, "step %lld: non-finite gradient%s", (long long)r->step + 1,
                              where);
        if (r->rank == 0)
            dlt_log(DLT_LOG_WARN, "step %lld: non-finite gradient%s: step skipped", (long long)r->step + 1,
                    where);
        return DLT_OK;
    }
    double t_opt = dlt_report_trace_now(&r->rep);
    if (c->grad_clip > 0) {
        /* torch.nn.utils.clip_grad_norm_'s coefficient, applied where the
         * gradients live (a float product is exact in double, so scaling in
         * double rounds as the float multiply does) */
        float coef = (float)(c->grad_clip / (sqrt(sumsq) + 1e-6));
        if ((coef < 1.0f || isnan(coef)) &&
            (st = r->be->scale(r->be->ctx, dlt_grads_dev(r->g), (double)coef, dlt_params_numel(r->g))) != DLT_OK)
            return st;
    }
    st = dlt_dist_optim_step(r->dist, r->opt, dlt_schedule_lr(&c->schedule, r->step));
    dlt_report_trace_span(&r->rep, "optimizer step", "optimizer", t_opt);
    return st;
}
