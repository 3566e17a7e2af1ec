/* Phased training steps (a GAN's discriminator and generator updates): the
 * trainer's side of dlt_task_graph.phases.
 *
 * Layout. Each phase updates its own parameters, and they form ONE
 * contiguous range [lo, hi) of the flat parameter and gradient buffers
 * (dlt_dist_create_groups lays the phases out one after the other, each in
 * backward's production order): its reducer's buckets stay inside the
 * range, so its gradients reduce with no copy, its optimizer holds state for
 * that range only (dlt_optim_create_sharded with the one owned range), and
 * its weight constraint is one clamp over the range where the parameters
 * live (host or device memory: the backend's clamp).
 *
 * Gradients. A phase's plan binds the gradients of its own parameters only
 * (the task took them with dlt_grad over that list): the generator's loss
 * flows back through the discriminator to the generator but writes nothing
 * into the discriminator's range, and the discriminator's update reads
 * nothing of the generator's.
 *
 * Settings. A phase's optimizer, lr, betas, gradient clipping,
 * accumulation, repeat count and clip value come from the job's [phase]
 * keys when set, else from the task's default for the phase (its
 * architecture's), except that any global optim.* key makes the global
 * optimizer every phase's default, and train.grad_clip / train.accumulate
 * apply to phases that do not override them. The learning-rate schedule is
 * the job's, over the phase's lr, stepped by the iteration.
 *
 * Step keys. Iteration s runs the phases in order, phase p `repeat_p` times
 * with `acc_p` micro-steps each. With U = sum_p repeat_p acc_p runs per
 * iteration and base_p = sum_{q<p} repeat_q acc_q, micro-step m of repeat j
 * of phase p runs with the exec step key
 *     key = s U + base_p + j acc_p + m,
 * so every plan run of the job has its own key (dropout masks and in-graph
 * noise differ between runs) that depends only on (s, p, j, m): a resumed
 * run draws the same numbers.
 *
 * ZeRO-1 (dist.zero) works per phase: each phase's optimizer holds this
 * rank's shard of each of its buckets, and a checkpoint gathers every
 * phase's shards into the one view on rank 0.
 *
 * Not supported with phases (refused in one line): loss
 * scaling (train.precision fp16 or train.loss_scale) and train.nonfinite =
 * "skip" (a skipped update would shift the phases' optimizer step counts,
 * which a checkpoint derives from the iteration: step s means s repeat_p
 * updates of phase p). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "trainer.h"

int64_t dlt_trainer_batches_per_step(const dlt_train_config *c, const dlt_trainer *r)
{
    if (r && r->nphases > 0)
        return (int64_t)r->ph[0].repeat * r->ph[0].accumulate;
    return c->accumulate > 0 ? c->accumulate : 1;
}

/* The job's [phase] entry for this phase name, or NULL. */
static const dlt_phase_config *job_phase(const dlt_train_config *c, const char *name)
{
    for (int i = 0; i < c->nphase_cfg; i++)
        if (!strcmp(c->phase[i].name, name))
            return &c->phase[i];
    return NULL;
}

double dlt_trainer_phase_lr(const dlt_trainer *r, int k, int64_t step)
{
    const dlt_phase_config *pc = job_phase(r->c, r->ph[k].def->name);
    dlt_schedule s = pc && pc->set_schedule ? pc->schedule : r->c->schedule;
    /* the job's schedule with the phase's lr as its base (one_cycle: its peak,
     * which the job's schedule took from optim.lr) */
    if (s.kind == DLT_SCHED_ONE_CYCLE && s.max_lr == s.base_lr)
        s.max_lr = r->ph[k].optim.lr;
    s.base_lr = r->ph[k].optim.lr;
    return dlt_schedule_lr(&s, step);
}

dlt_status dlt_trainer_phase_resolve(const dlt_train_config *c, const dlt_task_phase *d,
                                     dlt_trainer_phase *ph)
{
    ph->def = d;
    const dlt_phase_config *pc = job_phase(c, d->name);
    ph->optim = c->optim_given ? c->optim : d->optim;
    ph->repeat = d->repeat > 0 ? d->repeat : 1;
    ph->clip_value = d->clip_value;
    ph->grad_clip = c->grad_clip;
    ph->accumulate = c->accumulate > 0 ? c->accumulate : 1;
    if (!pc)
        return DLT_OK;
    if (pc->optim[0]) {
        double lr = ph->optim.lr;
        dlt_status st = dlt_optim_config_default(pc->optim, &ph->optim);
        if (st != DLT_OK)
            return dlt_adderr(st, "phase.%s_optim", d->name);
        ph->optim.lr = lr; /* an algorithm's default lr is not the phase's */
    }
    if (pc->lr > 0)
        ph->optim.lr = pc->lr;
    if (pc->set_betas)
        ph->optim.beta1 = pc->beta1, ph->optim.beta2 = pc->beta2;
    if (pc->set_grad_clip)
        ph->grad_clip = pc->grad_clip;
    if (pc->accumulate > 0)
        ph->accumulate = pc->accumulate;
    if (pc->repeat > 0)
        ph->repeat = pc->repeat;
    if (pc->set_clip_value)
        ph->clip_value = pc->clip_value;
    return DLT_OK;
}

/* The phase's optimizer over its parameters, holding state for [lo, hi). */
static dlt_status create_optimizer(dlt_trainer *r, dlt_trainer_phase *ph)
{
    const dlt_train_config *c = r->c;
    int n = ph->def->nparams, nv = 0;
    dlt_param_view *views = malloc((size_t)(n > 0 ? n : 1) * sizeof *views);
    if (!views)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < dlt_num_params(r->g); i++) {
        const dlt_param_info *pi = dlt_param_at(r->g, i);
        if (pi->offset >= ph->lo && pi->offset < ph->hi && nv < n)
            views[nv++] = (dlt_param_view){pi->name, pi->offset, pi->numel};
    }
    /* the phase's one range, or with ZeRO-1 this rank's shard of each of its buckets */
    dlt_optim_range one = {ph->lo, ph->hi}, *own = &one;
    int nown = ph->hi > ph->lo;
    dlt_status st = c->zero ? dlt_zero_ranges(ph->red, r->world, r->rank, &own, &nown) : DLT_OK;
    if (st == DLT_OK)
        st = dlt_optim_create_sharded(&ph->optim, views, nv, dlt_params_numel(r->g), c->rules,
                                      c->nrules, own, nown, &ph->opt);
    if (own != &one)
        free(own);
    free(views);
    if (st == DLT_OK)
        st = dlt_optim_to_device(ph->opt, r->be);
    return st;
}

dlt_status dlt_trainer_phases_setup(dlt_trainer *r)
{
    const dlt_train_config *c = r->c;
    dlt_task_graph *tg = &r->tg;
    dlt_status st;
    if (c->loss_scaling != DLT_LOSS_SCALE_NONE)
        return dlt_seterr(DLT_ERR_UNSUPPORTED,
                          "loss scaling (train.precision = \"fp16\" or train.loss_scale) is "
                          "not supported with phased training (%s)",
                          c->arch);
    if (!c->nonfinite_stop)
        return dlt_seterr(DLT_ERR_UNSUPPORTED,
                          "train.nonfinite = \"skip\" is not supported with phased training "
                          "(%s): a skipped update would desynchronise the phases",
                          c->arch);
    for (int i = 0; i < c->nphase_cfg; i++) {
        int known = 0;
        for (int k = 0; k < tg->nphases; k++)
            known |= !strcmp(tg->phases[k].name, c->phase[i].name);
        if (!known)
            return dlt_seterr(DLT_ERR_INVALID, "[phase]: the task has no phase '%s'",
                              c->phase[i].name);
    }
    r->nphases = tg->nphases;
    int n[DLT_TASK_MAX_PHASES];
    const dlt_t *params[DLT_TASK_MAX_PHASES], *grads[DLT_TASK_MAX_PHASES];
    dlt_dist *dists[DLT_TASK_MAX_PHASES];
    for (int k = 0; k < r->nphases; k++) {
        r->ph[k].def = &tg->phases[k];
        if ((st = dlt_trainer_phase_resolve(c, &tg->phases[k], &r->ph[k])) != DLT_OK)
            return st;
        n[k] = tg->phases[k].nparams, params[k] = tg->phases[k].params,
        grads[k] = tg->phases[k].grads;
    }
    dlt_reducer_config rc = {.bucket_mb = c->bucket_mb,
                             .contract = tg->contract,
                             .zero = c->zero,
                             .bf16 = c->reduce_bf16};
    if ((st = dlt_dist_create_groups(r->comm, r->g, r->nphases, n, params, grads, &rc, dists)) !=
        DLT_OK)
        return st;
    for (int k = 0; k < r->nphases; k++) {
        dlt_trainer_phase *ph = &r->ph[k];
        ph->dist = dists[k];
        ph->red = dlt_dist_reducer(ph->dist);
        dlt_dist_range(ph->dist, &ph->lo, &ph->hi);
    }
    for (int k = 0; k < r->nphases; k++) {
        dlt_trainer_phase *ph = &r->ph[k];
        dlt_plan_opts po = {0};
        dlt_dist_plan_opts(ph->dist, &po);
        po.accumulate = ph->accumulate > 1;
        if ((st = dlt_plan_create(r->g, ph->def->nouts, ph->def->outs, &po, &ph->plan)) != DLT_OK)
            return dlt_adderr(st, "phase %s", ph->def->name);
        if ((st = create_optimizer(r, ph)) != DLT_OK)
            return dlt_adderr(st, "phase %s", ph->def->name);
    }
    return DLT_OK;
}

void dlt_trainer_phases_free(dlt_trainer *r)
{
    for (int k = 0; k < DLT_TASK_MAX_PHASES; k++) {
        dlt_plan_free(r->ph[k].plan);
        dlt_dist_free(r->ph[k].dist);
        dlt_optim_free(r->ph[k].opt);
        r->ph[k].plan = NULL, r->ph[k].dist = NULL, r->ph[k].opt = NULL;
    }
    for (int k = 0; k < r->tg.nphases; k++) {
        free(r->tg.phases[k].params);
        free(r->tg.phases[k].grads);
        r->tg.phases[k].params = r->tg.phases[k].grads = NULL;
    }
}

/* One update of phase k (repeat j): micro-batches, reduction, clipping,
 * the optimizer over its range, then its weight constraint. */
static dlt_status phase_update(dlt_trainer *r, int k, int64_t key0, double *sums)
{
    dlt_trainer_phase *ph = &r->ph[k];
    dlt_task *t = r->task;
    dlt_backend *be = r->be;
    dlt_status st = DLT_OK;
    size_t n = ph->hi - ph->lo;
    int acc = ph->accumulate;
    if (acc > 1 &&
        (st = be->memset(be->ctx, dlt_grads_dev(r->g) + ph->lo, 0, n * sizeof(float))) != DLT_OK)
        return st;
    dlt_reducer_set_unscale(ph->red, 1.0);
    t->phase = k;
    for (int m = 0; m < acc; m++) {
        dlt_task_batch b;
        t->phase_step = key0 + m;
        double t_data = dlt_report_trace_now(&r->rep);
        if ((st = t->ops->feed(t, ph->plan, 1, &b)) != DLT_OK)
            return st;
        dlt_report_trace_span(&r->rep, "data wait", "data", t_data);
        if ((st = dlt_dist_begin(ph->dist, ph->plan, b.weight, m == acc - 1)) != DLT_OK)
            return st;
        dlt_exec_opts eo = {.training = 1, .step = key0 + m, .rng_stream = (uint64_t)r->rank};
        dlt_dist_exec_opts(ph->dist, &eo);
        dlt_report_trace_plan(&r->rep, ph->plan, &eo);
        if ((st = dlt_plan_run(ph->plan, &eo)) != DLT_OK ||
            (st = dlt_plan_wait(ph->plan)) != DLT_OK)
            return dlt_adderr(st, "phase %s", ph->def->name);
        t->ops->accumulate(t, ph->plan, 1, &b, sums + 2);
        if (b.samples > 0) { /* a batch of the training data */
            sums[0] += b.samples;
            sums[1] += b.weight;
            r->epoch = b.epoch + (b.last_in_epoch ? 1 : 0);
        }
    }
    if ((st = dlt_dist_finish(ph->dist)) != DLT_OK)
        return st;
    dlt_report_trace_buckets(&r->rep);
    if (k == 0)
        r->samples_seen += (int64_t)dlt_reducer_global_samples(ph->red);
    double sumsq = 0;
    if ((st = dlt_dist_grad_sumsq(ph->dist, &sumsq)) != DLT_OK)
        return st;
    ph->gnorm = sqrt(sumsq);
    if (!isfinite(sumsq))
        return dlt_seterr(DLT_ERR_NONFINITE, "step %lld: non-finite gradient in phase %s",
                          (long long)r->step + 1, ph->def->name);
    double t_opt = dlt_report_trace_now(&r->rep);
    if (ph->grad_clip > 0) {
        /* clip_grad_norm_'s coefficient over this phase's gradients */
        float coef = (float)(ph->grad_clip / (ph->gnorm + 1e-6));
        if (coef < 1.0f &&
            (st = be->scale(be->ctx, dlt_grads_dev(r->g) + ph->lo, (double)coef, n)) != DLT_OK)
            return st;
    }
    if ((st = dlt_dist_optim_step(ph->dist, ph->opt, dlt_trainer_phase_lr(r, k, r->step))) !=
        DLT_OK)
        return st;
    /* WGAN's weight clipping, where the parameters live (alignment padding
     * in the range is zero and stays zero) */
    if (ph->clip_value > 0)
        st = be->clamp(be->ctx, dlt_params_dev(r->g) + ph->lo, (float)-ph->clip_value,
                       (float)ph->clip_value, n);
    dlt_report_trace_span(&r->rep, "optimizer step", "optimizer", t_opt);
    return st;
}

/* Updates of phase k among the first `pos` updates of an iteration. */
static int64_t updates_of(const dlt_trainer *r, int k, int64_t pos)
{
    for (int q = 0; q < k; q++)
        pos -= r->ph[q].repeat;
    return pos < 0 ? 0 : pos < r->ph[k].repeat ? pos : r->ph[k].repeat;
}

dlt_status dlt_trainer_phased_step(dlt_trainer *r, double *sums, double *gnorm)
{
    dlt_status st;
    int64_t per_iter = 0, nupd = 0, u = 0;
    for (int k = 0; k < r->nphases; k++) {
        per_iter += (int64_t)r->ph[k].repeat * r->ph[k].accumulate;
        nupd += r->ph[k].repeat;
    }
    dlt_comm_set_step(r->comm, r->step);
    dlt_report_trace_step(&r->rep, r->step);
    r->stopped_mid = 0;
    int64_t key = r->step * per_iter; /* s U + base_p + j acc_p (+ m in phase_update) */
    double sq = 0;
    for (int k = 0; k < r->nphases; k++) {
        for (int j = 0; j < r->ph[k].repeat; j++, u++) {
            /* a resumed iteration skips the updates its checkpoint holds */
            if (u >= r->pos) {
                if ((st = phase_update(r, k, key, sums)) != DLT_OK)
                    return st;
                dlt_trainer_count_update();
                /* between two updates a stop is agreed here (at the end of
                 * the iteration the loop agrees on it) */
                if (u + 1 < nupd) {
                    int stop, term;
                    if ((st = dlt_trainer_stop_agreed(r, &stop, &term)) != DLT_OK)
                        return st;
                    if (stop) {
                        r->pos = u + 1;
                        r->stopped_mid = 1, r->stop_term = term;
                        return DLT_OK;
                    }
                }
            }
            key += r->ph[k].accumulate;
        }
        sq += r->ph[k].gnorm * r->ph[k].gnorm;
    }
    r->pos = 0;
    *gnorm = sqrt(sq); /* of each phase's last update, together */
    return DLT_OK;
}

dlt_status dlt_trainer_phases_optim_sync(dlt_trainer *r, int to_device)
{
    for (int k = 0; k < r->nphases; k++) {
        dlt_status st =
            to_device ? dlt_optim_upload(r->ph[k].opt) : dlt_optim_download(r->ph[k].opt);
        if (st != DLT_OK)
            return st;
    }
    return DLT_OK;
}

static int slot_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

dlt_status dlt_trainer_phase_state(dlt_trainer *r, int *nslots, const char **slot_names,
                                   float ***full, char *name, size_t len)
{
    size_t total = dlt_params_numel(r->g);
    int ns = 0, same = 1;
    *full = NULL;
    for (int k = 0; k < r->nphases; k++) {
        dlt_optim *o = r->ph[k].opt;
        same &= r->ph[k].optim.kind == r->ph[0].optim.kind;
        for (int s = 0; s < dlt_optim_num_slots(o); s++)
            if (slot_index(slot_names, ns, dlt_optim_slot_name(o, s)) < 0) {
                if (ns == DLT_CKPT_MAX_SLOTS)
                    return dlt_seterr(DLT_ERR_UNSUPPORTED,
                                      "checkpoint: the phases keep more than %d kinds of "
                                      "optimizer state",
                                      DLT_CKPT_MAX_SLOTS);
                slot_names[ns++] = dlt_optim_slot_name(o, s);
            }
    }
    size_t at = 0;
    /* the common algorithm, or "d:rmsprop,g:adam" */
    snprintf(name, len, "%s", dlt_optim_kind_name(r->ph[0].optim.kind));
    for (int k = 0; k < r->nphases && !same && at < len; k++)
        at += (size_t)snprintf(name + at, len - at, "%s%s:%s", k ? "," : "", r->ph[k].def->name,
                               dlt_optim_kind_name(r->ph[k].optim.kind));
    float **f = calloc((size_t)(ns > 0 ? ns : 1), sizeof *f);
    if (!f)
        return dlt_seterr(DLT_ERR_NOMEM, "checkpoint: out of memory");
    for (int s = 0; s < ns; s++)
        if (!(f[s] = calloc(total ? total : 1, sizeof(float)))) {
            for (int i = 0; i < s; i++)
                free(f[i]);
            free(f);
            return dlt_seterr(DLT_ERR_NOMEM, "checkpoint: out of memory for the optimizer state");
        }
    /* each phase's compact state (its one owned range) into its range */
    for (int k = 0; k < r->nphases; k++) {
        dlt_optim *o = r->ph[k].opt;
        for (int q = 0; q < dlt_optim_num_owned(o); q++) {
            size_t lo, hi, off;
            dlt_optim_owned(o, q, &lo, &hi, &off);
            for (int s = 0; s < dlt_optim_num_slots(o); s++)
                memcpy(f[slot_index(slot_names, ns, dlt_optim_slot_name(o, s))] + lo,
                       dlt_optim_slot(o, s) + off, (hi - lo) * sizeof(float));
        }
    }
    *nslots = ns;
    *full = f;
    return DLT_OK;
}

dlt_status dlt_trainer_phase_gather(dlt_trainer *r, float *const *full,
                                    const char *const *slot_names, int nslots)
{
    for (int k = 0; k < r->nphases; k++) {
        dlt_optim *o = r->ph[k].opt;
        float *pf[DLT_CKPT_MAX_SLOTS] = {0};
        for (int s = 0; s < dlt_optim_num_slots(o) && s < DLT_CKPT_MAX_SLOTS; s++) {
            int i = slot_index(slot_names, nslots, dlt_optim_slot_name(o, s));
            pf[s] = i >= 0 ? full[i] : NULL;
        }
        dlt_status st = dlt_zero_gather(r, r->ph[k].red, o, pf);
        if (st != DLT_OK)
            return st;
    }
    return DLT_OK;
}

void dlt_trainer_phase_state_scatter(dlt_trainer *r, float *const *full,
                                     const char *const *slot_names, int nslots)
{
    for (int k = 0; k < r->nphases; k++) {
        dlt_optim *o = r->ph[k].opt;
        for (int q = 0; q < dlt_optim_num_owned(o); q++) {
            size_t lo, hi, off;
            dlt_optim_owned(o, q, &lo, &hi, &off);
            for (int s = 0; s < dlt_optim_num_slots(o); s++) {
                int i = slot_index(slot_names, nslots, dlt_optim_slot_name(o, s));
                if (i >= 0)
                    memcpy(dlt_optim_slot(o, s) + off, full[i] + lo, (hi - lo) * sizeof(float));
            }
        }
        /* s iterations and pos updates into the next (no update is ever skipped) */
        dlt_optim_set_step(o, r->step * r->ph[k].repeat + updates_of(r, k, r->pos));
    }
}
