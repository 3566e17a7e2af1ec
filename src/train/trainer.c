/* The training loop every task shares (task.h): data-parallel steps (bucketed
 * gradient all-reduce overlapped with backward), schedule, clipping,
 * evaluation, checkpoints, preemption and exact resume. Collective: every
 * rank runs it. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlt_backend.h"
#include "dlt_opdef.h"
#include "trainer.h"

/* The first stop signal decides what the stop means (SIGUSR1: requeue,
 * SIGTERM: stop); repeats are absorbed, e.g. Slurm's TERM to every task
 * after the batch script relayed one. */
static volatile sig_atomic_t stop_signal;
static void on_stop(int sig)
{
    if (!stop_signal)
        stop_signal = sig;
}


/* dlt_train_set_stop_after: phase updates left before a simulated SIGTERM. */
static int64_t stop_after;

void dlt_train_set_stop_after(int64_t n) { stop_after = n; }

void dlt_trainer_count_update(void)
{
    if (stop_after > 0 && --stop_after == 0 && !stop_signal)
        stop_signal = SIGTERM;
}

dlt_status dlt_trainer_stop_agreed(dlt_trainer *r, int *stop, int *term)
{
    double flags[2] = {stop_signal != 0, stop_signal == SIGTERM};
    dlt_status st = dlt_comm_reduce_metrics(r->comm, flags, 2);
    *stop = flags[0] > 0, *term = flags[1] > 0;
    return st;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Evaluation on the validation data split over the ranks; m->val[m->best]
 * is the key metric. */
static dlt_status evaluate(dlt_trainer *r, dlt_metrics *m)
{
    dlt_task *t = r->task;
    dlt_status st;
    int n = 1 + t->neval_sums;
    double *sums = calloc((size_t)n, sizeof *sums); /* samples, then the task's */
    if (!sums)
        return dlt_seterr(DLT_ERR_NOMEM, "evaluation: out of memory");
    /* every rank evaluates with rank 0's batch-norm statistics */
    if ((st = dlt_trainer_bcast_buffers(r)) != DLT_OK)
        goto out;
    dlt_loader_cursor start = {0, 0};
    if ((st = t->ops->set_cursor(t, 0, start)) != DLT_OK)
        goto out;
    for (int64_t s = 0; s < t->val_steps; s++) {
        dlt_task_batch b;
        if ((st = t->ops->feed(t, r->eval, 0, &b)) != DLT_OK)
            goto out;
        dlt_exec_opts eo = {.training = 0,
                            .step = t->eval_fixed_key ? DLT_TASK_EVAL_KEY + s : r->step,
                            .graph = r->c->cuda_graphs};
        if ((st = dlt_plan_run(r->eval, &eo)) != DLT_OK)
            goto out;
        t->ops->accumulate(t, r->eval, 0, &b, sums + 1);
        sums[0] += b.samples;
    }
    if ((st = dlt_comm_reduce_metrics(r->comm, sums, n)) != DLT_OK)
        goto out;
    memset(m, 0, sizeof *m);
    m->samples = (int64_t)sums[0];
    t->ops->metrics(t, 0, sums + 1, m);
    if (r->rank == 0)
        dlt_report_eval(&r->rep, r->step, r->epoch, m);
out:
    free(sums);
    return st;
}

/* <run_dir>/job.toml: the resolved job of the latest (re)start. */
static void write_job(const dlt_train_config *c)
{
    char path[DLT_PATH_MAX + 16];
    FILE *f;
    if (!c->job_text)
        return;
    snprintf(path, sizeof path, "%s/job.toml", c->run_dir);
    if (!(f = fopen(path, "w")) || fputs(c->job_text, f) < 0 || fclose(f) != 0)
        dlt_log(DLT_LOG_WARN, "cannot write %s", path);
}

/* The optimizer over the flat layout the reducer fixed; with ZeRO-1 it holds
 * state for this rank's shards only. */
static dlt_status create_optimizer(dlt_trainer *r)
{
    const dlt_train_config *c = r->c;
    int np = dlt_num_params(r->g), nown = 0;
    dlt_optim_range *own = NULL;
    dlt_param_view *views = malloc((size_t)(np > 0 ? np : 1) * sizeof *views);
    dlt_status st = views ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < np && views; i++) {
        const dlt_param_info *pi = dlt_param_at(r->g, i);
        views[i] = (dlt_param_view){pi->name, pi->offset, pi->numel};
    }
    if (st == DLT_OK && c->zero)
        st = dlt_zero_ranges(r->red, r->world, r->rank, &own, &nown);
    if (st == DLT_OK && c->zero)
        st = dlt_optim_create_sharded(&c->optim, views, np, dlt_params_numel(r->g), c->rules, c->nrules, own, nown,
                                      &r->opt);
    else if (st == DLT_OK)
        st = dlt_optim_create(&c->optim, views, np, dlt_params_numel(r->g), c->rules, c->nrules, &r->opt);
    free(views);
    free(own);
    if (st == DLT_OK)
        st = dlt_optim_to_device(r->opt, r->be);
    return st;
}

/* The backend a program hands in place of a GPU (dlt_train_set_device_backend). */
static dlt_backend *given_device;

void dlt_train_set_device_backend(dlt_backend *be) { given_device = be; }

/* train.device: the rank's GPU (local rank modulo the node's GPUs), or none;
 * a device backend the program gave runs a "cuda" or "auto" job instead
 * (*given = 1, *dev = -1: reduced with MPI). */
static dlt_status choose_device(const dlt_train_config *c, const dlt_world *w, int *dev, int *given)
{
    *dev = -1;
    *given = 0;
    if (c->device == DLT_TRAIN_CPU)
        return DLT_OK;
    if (given_device) {
        *given = 1;
        return DLT_OK;
    }
    *dev = dlt_world_device(w, dlt_gpu_device_count());
    if (*dev < 0 && c->device == DLT_TRAIN_CUDA)
        return dlt_seterr(DLT_ERR_INVALID, "train.device = \"cuda\": %s",
                          dlt_gpu_built() ? "no CUDA device is visible on this node"
                                          : "dltrain was built without CUDA (configure --with-cuda)");
    return DLT_OK;
}

static dlt_status setup_single(dlt_trainer *r);

static dlt_status setup(dlt_trainer *r, const dlt_world *w)
{
    const dlt_train_config *c = r->c; /* points at r->cfg */
    dlt_status st;
    int dev, given;
    if ((st = choose_device(c, w, &dev, &given)) != DLT_OK)
        return st;
    /* GPU tensors are reduced with NCCL (on its own stream, ordered after the
     * compute stream by events), CPU tensors with MPI */
    dlt_comm_config cc = {.backend = dev >= 0 ? DLT_COMM_NCCL : DLT_COMM_MPI, .device = dev,
                          .timeout_s = c->timeout_s, .debug_collectives = c->debug_collectives};
    /* a caller's communicator (a NAS group: c->comm) replaces the world's;
     * the run then is collective over that group only */
    if (c->comm)
        r->comm = c->comm;
    else if ((st = dlt_comm_create(w, &cc, &r->comm)) != DLT_OK)
        return st;
    r->rank = c->comm ? dlt_comm_rank(c->comm) : w->rank;
    r->world = c->comm ? dlt_comm_size(c->comm) : w->size;
    /* one run per run directory, before anything there is read or written;
     * the ranks agree, so a refusal is one line from rank 0 and no hang */
    dlt_status lst = r->rank == 0 ? dlt_run_lock_acquire(c->run_dir, &r->lock) : DLT_OK;
    double locked[2] = {lst != DLT_OK, lst};
    if ((st = dlt_comm_reduce_metrics(r->comm, locked, 2)) != DLT_OK)
        return st;
    if (locked[0] > 0) {
        r->error_on_all_ranks = 1; /* rank 0 reports it */
        return r->rank == 0 ? lst
                            : dlt_seterr((dlt_status)(int)locked[1], "%s: cannot lock the run directory", c->run_dir);
    }
    if (dev >= 0) {
        if ((st = dlt_gpu_open(dev, &r->gpu)) != DLT_OK)
            return st;
        dlt_gpu_set_precision(r->gpu, (dlt_precision)c->precision);
        if (c->precision >= DLT_PREC_BF16 && r->rank == 0)
            dlt_log(DLT_LOG_INFO, "train.precision = \"%s\": %s tensor-core GEMMs, %s convolutions; "
                                  "tensors, gradients and optimizer state stay fp32",
                    c->precision == DLT_PREC_BF16 ? "bf16" : "fp16", c->precision == DLT_PREC_BF16 ? "bf16" : "fp16",
                    c->precision == DLT_PREC_BF16 ? "TF32" : "fp16");
        dlt_comm_set_stream(r->comm, dlt_gpu_stream(r->gpu));
        r->be = dlt_gpu_backend(r->gpu);
    } else {
        r->be = given ? given_device : dlt_cpu_backend();
    }
    int threads = c->threads > 0 ? c->threads : dlt_world_default_threads(w);
    dlt_set_num_threads(threads);
    const char *slow = r->be == dlt_cpu_backend() && r->rank == 0 ? dlt_gemm_warning() : NULL;
    if (slow)
        dlt_log(DLT_LOG_WARN, "%s", slow);
    if (!c->comm && (st = dlt_world_log_table(w, dev, threads)) != DLT_OK) /* world-collective */
        return st;
    if ((st = dlt_task_open(c, r->rank, r->world, &r->task)) != DLT_OK)
        return st;
    r->g = dlt_graph_create(c->seed);
    if (!r->g)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    dlt_graph_set_recompute(r->g, c->recompute);
    if ((st = dlt_graph_set_backend(r->g, r->be)) != DLT_OK)
        return st;
    if ((st = r->task->ops->build(r->task, r->g, &r->tg)) != DLT_OK)
        return st;
    if (r->tg.nphases > 0 && (st = dlt_trainer_phases_setup(r)) != DLT_OK)
        return st;
    if (r->nphases == 0 && (st = setup_single(r)) != DLT_OK)
        return st;
    dlt_plan *first = r->nphases > 0 ? r->ph[0].plan : r->train;
    if (c->cuda_graphs && r->rank == 0) {
        char why[200] = "";
        if (!dlt_plan_graphable(first, why, sizeof why))
            dlt_log(DLT_LOG_WARN, "train.cuda_graphs: not used: %s", why);
        else if (r->world > 1)
            dlt_log(DLT_LOG_WARN, "train.cuda_graphs: not used for training on %d ranks (the gradient all-reduce "
                                  "starts between the backward's kernels); evaluation uses them", r->world);
        else
            dlt_log(DLT_LOG_INFO, "train.cuda_graphs: each step after the second is one graph launch");
    }
    dlt_loss_scaler_init(&r->scaler);
    r->scaler.enabled = c->loss_scaling != DLT_LOSS_SCALE_NONE;
    r->scaler.scale = (float)c->loss_scale; /* an f32, like GradScaler's */
    r->scaler.growth_interval = (int)(c->loss_scale_window < INT32_MAX ? c->loss_scale_window : INT32_MAX);
    if ((st = dlt_trainer_agree(r)) != DLT_OK)
        return st;
    if ((st = dlt_dist_replica_broadcast(r->comm, r->g)) != DLT_OK || (st = dlt_trainer_to_device(r, 0)) != DLT_OK)
        return st;
    int64_t per_epoch = r->task->steps_per_epoch / dlt_trainer_batches_per_step(c, r);
    r->total_steps = c->steps > 0 ? c->steps : c->epochs * per_epoch;
    if (r->total_steps <= 0)
        return dlt_seterr(DLT_ERR_INVALID, "data.train: %lld samples give no full step of %d x %d samples",
                          (long long)r->task->num_samples, r->world, c->batch_size);
    dlt_train_config_set_total_steps(&r->cfg, r->total_steps);
    if ((st = dlt_schedule_validate(&r->cfg.schedule)) != DLT_OK)
        return dlt_adderr(st, "schedule");
    for (int p = 0; p < r->cfg.nphase_cfg; p++)
        if (r->cfg.phase[p].set_schedule && (st = dlt_schedule_validate(&r->cfg.phase[p].schedule)) != DLT_OK)
            return dlt_adderr(st, "phase.%s_schedule", r->cfg.phase[p].name);
    /* resume before anything is written to the run directory, so a refused
     * checkpoint leaves job.toml and metrics.jsonl as they were */
    if ((st = dlt_trainer_resume(r)) != DLT_OK || r->finished)
        return st;
    if (r->rank == 0) {
        dlt_mem_report mr;
        dlt_plan_memory(first, &mr);
        dlt_report_open(&r->rep, c, r->total_steps, per_epoch, r->world, dlt_num_params(r->g),
                        dlt_count_params(r->g), &mr);
        /* rank 0's shards are the largest (dlt_comm_shard) */
        char line[200];
        for (int k = 0; k < r->nphases && !c->quiet; k++) {
            dlt_optim *o = r->ph[k].opt;
            size_t full = (size_t)dlt_optim_num_slots(o) * (r->ph[k].hi - r->ph[k].lo) * sizeof(float);
            dlt_optim_memory_line(line, sizeof line, dlt_optim_state_bytes(o), full, c->zero, r->world);
            dlt_log(DLT_LOG_INFO, "phase %s: %s x %d per iteration, %s", r->ph[k].def->name,
                    dlt_optim_kind_name(r->ph[k].optim.kind), r->ph[k].repeat, line);
        }
        if (r->nphases == 0) {
            size_t full = (size_t)dlt_optim_num_slots(r->opt) * dlt_params_numel(r->g) * sizeof(float);
            dlt_optim_memory_line(line, sizeof line, dlt_optim_state_bytes(r->opt), full, c->zero, r->world);
            if (!c->quiet)
                dlt_log(DLT_LOG_INFO, "%s", line);
        }
        write_job(c);
    }
    dlt_report_trace_open(&r->rep, c, r->rank, r->nphases > 0 ? r->ph[0].red : r->red);
    return DLT_OK;
}

/* A single-phase task: one reducer over every parameter, its plan and optimizer. */
static dlt_status setup_single(dlt_trainer *r)
{
    const dlt_train_config *c = r->c;
    dlt_status st;
    dlt_reducer_config rc = {.bucket_mb = c->bucket_mb, .contract = r->tg.contract, .zero = c->zero,
                             .bf16 = c->reduce_bf16};
    if ((st = dlt_dist_create(r->comm, r->g, r->tg.nparams, r->tg.params, r->tg.grads, &rc, &r->dist)) !=
        DLT_OK)
        return st;
    r->red = dlt_dist_reducer(r->dist);
    dlt_plan_opts po = {0};
    dlt_dist_plan_opts(r->dist, &po);
    po.accumulate = c->accumulate > 1;
    if ((st = dlt_plan_create(r->g, r->tg.nouts, r->tg.outs, &po, &r->train)) != DLT_OK)
        return st;
    if (r->task->val_steps > 0 &&
        (st = dlt_plan_create(r->g, r->tg.nouts, r->tg.outs, NULL, &r->eval)) != DLT_OK)
        return st;
    return create_optimizer(r);
}

static int better(const dlt_trainer *r, double v, double best)
{
    if (!isfinite(v))
        return 0;
    if (isnan(best))
        return 1;
    return r->task->best_higher ? v > best : v < best;
}

/* The lr progress lines show: the schedule's, or the first phase's. */
static double phase_lr(const dlt_trainer *r, int64_t step)
{
    return r->nphases > 0 ? dlt_trainer_phase_lr(r, 0, step) : dlt_schedule_lr(&r->c->schedule, step);
}

static dlt_status loop(dlt_trainer *r, dlt_train_result *res)
{
    const dlt_train_config *c = r->c;
    dlt_task *t = r->task;
    dlt_status st = DLT_OK;
    int nsums = 2 + t->ntrain_sums;
    double sums[2 + 64], gnorm = 0, t_log = now(), t_ckpt = now();
    int64_t log_every = c->log_every > 0 ? c->log_every : 50;
    int64_t per_epoch = t->steps_per_epoch / dlt_trainer_batches_per_step(c, r);
    if (nsums > (int)(sizeof sums / sizeof sums[0]))
        return dlt_seterr(DLT_ERR_INVALID, "task %s: too many training metric sums", t->ops->name);
    memset(sums, 0, sizeof sums);
    if (r->rank == 0)
        dlt_report_begin(&r->rep, r->step);
    while (r->step < r->total_steps) {
        if ((st = r->nphases > 0 ? dlt_trainer_phased_step(r, sums, &gnorm) : dlt_trainer_step(r, sums, &gnorm)) !=
            DLT_OK)
            return st;
        if (r->stopped_mid) { /* between phases: the iteration is not done */
            if ((st = dlt_trainer_save_checkpoint(r)) != DLT_OK)
                return st;
            res->preempted = 1;
            res->stop_signal = r->stop_term ? SIGTERM : SIGUSR1;
            if (r->rank == 0)
                dlt_log(DLT_LOG_WARN, "stopped by %s in step %lld after %lld phase updates; checkpoint saved, "
                                      "resume with --resume auto",
                        res->stop_signal == SIGTERM ? "SIGTERM" : "SIGUSR1", (long long)r->step + 1,
                        (long long)r->pos);
            break;
        }
        r->step++;
        int64_t done_epoch = per_epoch > 0 && r->step % per_epoch == 0;
        int last = r->step == r->total_steps;
        /* one small all-reduce per step: signals and wall-clock checkpoints must
         * be agreed by every rank */
        double flags[3] = {stop_signal != 0,
                           r->rank == 0 && c->ckpt_every_minutes > 0 &&
                               now() - t_ckpt >= 60.0 * c->ckpt_every_minutes,
                           stop_signal == SIGTERM};
        if ((st = dlt_comm_reduce_metrics(r->comm, flags, 3)) != DLT_OK)
            return st;
        /* on the grid of log.every_steps, also after a resume */
        if (r->step % log_every == 0 || last || flags[0] > 0) {
            if ((st = dlt_comm_reduce_metrics(r->comm, sums, nsums)) != DLT_OK)
                return st;
            double dt = now() - t_log;
            dlt_metrics m;
            memset(&m, 0, sizeof m);
            m.samples = (int64_t)sums[0];
            t->ops->metrics(t, 1, sums + 2, &m);
            res->train_loss = m.n > 0 ? m.val[0] : NAN;
            res->samples_per_s = sums[0] / dt;
            r->rep.loss_scale = r->c->loss_scaling == DLT_LOSS_SCALE_DYNAMIC ? r->scaler.scale : 0;
            r->rep.skipped_steps = r->skipped_steps;
            if (r->rank == 0)
                dlt_report_step(&r->rep, r->step, r->epoch, &m, phase_lr(r, r->step - 1), gnorm,
                                res->samples_per_s,
                                t->tokens_per_sample > 0 ? sums[0] * t->tokens_per_sample / dt : -1);
            memset(sums, 0, sizeof sums);
            t_log = now();
        }
        if (c->check_every > 0 && r->step % c->check_every == 0 &&
            ((st = dlt_trainer_to_host(r, 0)) != DLT_OK || (st = dlt_dist_replica_check(r->comm, r->g)) != DLT_OK))
            return st;
        int eval_due = t->val_steps > 0 && ((c->eval_every_steps > 0 && r->step % c->eval_every_steps == 0) ||
                                            (c->eval_every_steps <= 0 && done_epoch) || last);
        if (eval_due) {
            double t0 = now();
            dlt_metrics m;
            if ((st = evaluate(r, &m)) != DLT_OK)
                return st;
            res->eval_loss = m.n > 0 ? m.val[0] : NAN;
            res->eval_metric = m.n > 0 ? m.val[m.best] : NAN;
            if (better(r, res->eval_metric, r->best_metric))
                r->best_metric = res->eval_metric;
            t_log += now() - t0; /* evaluation time is not training throughput */
        }
        if (t->ops->after_step) { /* the task's own outputs: sample grids, FID */
            dlt_metrics m;
            memset(&m, 0, sizeof m);
            double t0 = now();
            if ((st = t->ops->after_step(t, r->g, r->comm, r->step, last, r->rank == 0 ? r->rep.tb : NULL, &m)) !=
                DLT_OK)
                return st;
            if (m.n > 0 && r->rank == 0)
                dlt_report_eval(&r->rep, r->step, r->epoch, &m);
            /* a hook metric named by the task's best_key (FID, box AP) is its
             * evaluation metric: the best one is kept like a validation loop's */
            for (int i = 0; i < m.n; i++)
                if (t->best_key && m.key[i] && strcmp(m.key[i], t->best_key) == 0) {
                    res->eval_metric = m.val[i];
                    r->best_from_hook = 1;
                    if (better(r, m.val[i], r->best_metric))
                        r->best_metric = m.val[i];
                }
            t_log += now() - t0; /* not training throughput */
        }
        int ckpt_due = (c->ckpt_every_steps > 0 && r->step % c->ckpt_every_steps == 0) || flags[1] > 0 ||
                       last || flags[0] > 0;
        if (ckpt_due) {
            double t1 = now();
            if ((st = dlt_trainer_save_checkpoint(r)) != DLT_OK)
                return st;
            t_ckpt = now();
            t_log += t_ckpt - t1;
        }
        if (flags[0] > 0 && !last) {
            res->preempted = 1;
            /* a SIGTERM on any rank wins: a user's cancel is never turned into a requeue */
            res->stop_signal = flags[2] > 0 ? SIGTERM : SIGUSR1;
            if (r->rank == 0)
                dlt_log(DLT_LOG_WARN, "stopped by %s at step %lld; checkpoint saved, resume with --resume auto",
                        res->stop_signal == SIGTERM ? "SIGTERM" : "SIGUSR1", (long long)r->step);
            break;
        }
    }
    return st;
}

static void trainer_free(dlt_trainer *r)
{
    dlt_trainer_phases_free(r);
    dlt_plan_free(r->train);
    dlt_plan_free(r->eval);
    dlt_dist_free(r->dist);
    dlt_optim_free(r->opt);
    dlt_task_close(r->task);
    free(r->tg.params);
    free(r->tg.grads);
    dlt_graph_free(r->g);
    if (r->comm != r->c->comm) /* the caller's stays */
        dlt_comm_free(r->comm);
    dlt_gpu_close(r->gpu);
}

dlt_status dlt_train_run(const dlt_train_config *c, dlt_train_result *res)
{
    dlt_trainer r;
    dlt_world w;
    dlt_status st;
    memset(&r, 0, sizeof r);
    r.lock.fd = -1;
    memset(res, 0, sizeof *res);
    res->eval_loss = res->eval_metric = NAN;
    r.cfg = *c;
    r.c = &r.cfg;
    /* classification keeps 0 as the floor of its accuracy; others start unknown */
    r.best_metric = c->task == DLT_TASK_CLASSIFY ? 0 : NAN;
    if ((st = dlt_world_init(NULL, NULL, &w)) != DLT_OK)
        return st;
    struct sigaction sa, old_term, old_usr1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sa.sa_flags = SA_RESTART; /* file and MPI calls in progress carry on; the loop polls the flag */
    stop_signal = 0;
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGUSR1, &sa, &old_usr1);
    double t0 = now();
    st = setup(&r, &w);
    if (st == DLT_OK && !r.finished)
        st = loop(&r, res);
    if (st == DLT_OK && !r.finished && !res->preempted && r.task->ops->finish)
        st = r.task->ops->finish(r.task);
    res->steps_done = r.step;
    res->best_metric = r.best_metric;
    res->error_on_all_ranks = st != DLT_OK && r.error_on_all_ranks;
    snprintf(res->last_ckpt, sizeof res->last_ckpt, "%s", r.last_ckpt);
    res->already_finished = st == DLT_OK && r.finished;
    if (res->already_finished && r.rank == 0) {
        char best[64] = "";
        if (isfinite(r.best_metric) && (r.task->val_steps > 0 || r.best_from_hook))
            snprintf(best, sizeof best, "; best %s %.4f", r.task->best_key, r.best_metric);
        /* no final loss: none was computed */
        dlt_log(DLT_LOG_INFO, "%s: the run had already finished at step %lld (%s%s); nothing to do", c->run_dir,
                (long long)r.step, r.last_ckpt, best);
    } else if (st == DLT_OK && r.rank == 0)
        dlt_report_close(&r.rep, res, now() - t0);
    else if (r.rank == 0)
        dlt_report_abandon(&r.rep);
    dlt_report_trace_close(&r.rep);
    /* once a stop was asked for, the handlers stay until the process exits: a
     * second signal during shutdown (MPI_Finalize) must not turn the
     * checkpointed exit into death by signal */
    if (!stop_signal) {
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGUSR1, &old_usr1, NULL);
    }
    trainer_free(&r);
    dlt_run_lock_release(&r.lock);
    return st;
}

/* --dry-run of a phased task: the layout as the run fixes it (one range per
 * phase), and per phase its parameters, optimizer, repeat count, plan memory
 * and optimizer state. */
static dlt_status describe_phases(const dlt_train_config *c, dlt_task *t, dlt_graph *g, dlt_task_graph *tg,
                                  int world_size, FILE *out)
{
    dlt_trainer_phase ph[DLT_TASK_MAX_PHASES];
    dlt_dist *dists[DLT_TASK_MAX_PHASES] = {0};
    dlt_plan *plans[DLT_TASK_MAX_PHASES] = {0};
    int n[DLT_TASK_MAX_PHASES];
    const dlt_t *params[DLT_TASK_MAX_PHASES], *grads[DLT_TASK_MAX_PHASES];
    dlt_status st = DLT_OK;
    memset(ph, 0, sizeof ph);
    for (int k = 0; k < tg->nphases && st == DLT_OK; k++) {
        st = dlt_trainer_phase_resolve(c, &tg->phases[k], &ph[k]);
        n[k] = tg->phases[k].nparams, params[k] = tg->phases[k].params, grads[k] = tg->phases[k].grads;
    }
    dlt_reducer_config rc = {.bucket_mb = c->bucket_mb, .contract = tg->contract};
    if (st == DLT_OK)
        st = dlt_dist_create_groups(NULL, g, tg->nphases, n, params, grads, &rc, dists);
    for (int k = 0; k < tg->nphases && st == DLT_OK; k++) {
        dlt_plan_opts po = {.measure_only = 1};
        dlt_dist_plan_opts(dists[k], &po);
        st = dlt_plan_create(g, tg->phases[k].nouts, tg->phases[k].outs, &po, &plans[k]);
    }
    if (st == DLT_OK) {
        t->ops->describe(t, out);
        fprintf(out, "# architecture (/model of the checkpoints, docs/models.md)\n");
        for (int i = 0; i < tg->model.n; i++) {
            char v[160];
            dlt_kv_format(&tg->model.kv[i], v, sizeof v);
            fprintf(out, "  %-20s %s\n", tg->model.kv[i].key, v);
        }
        dlt_graph_summary(g, plans[0], out);
        fprintf(out, "FLOPs per sample (forward): %.4g\n", dlt_graph_flops(g, 1, &tg->flops_out) / (double)c->batch_size);
        fprintf(out, "# phases, in the order of an iteration\n");
        for (int k = 0; k < tg->nphases; k++) {
            size_t lo, hi, count = 0;
            dlt_dist_range(dists[k], &lo, &hi);
            for (int i = 0; i < dlt_num_params(g); i++) {
                const dlt_param_info *pi = dlt_param_at(g, i);
                count += pi->offset >= lo && pi->offset < hi ? pi->numel : 0;
            }
            dlt_mem_report mr;
            dlt_plan_memory(plans[k], &mr);
            char line[200];
            int nslots = dlt_optim_config_num_slots(&ph[k].optim);
            size_t bytes = (size_t)nslots * (hi - lo) * sizeof(float);
            dlt_optim_memory_line(line, sizeof line,
                                  c->zero ? dlt_zero_state_bytes(dlt_dist_reducer(dists[k]), world_size, 0, nslots)
                                          : bytes,
                                  bytes, c->zero, world_size);
            fprintf(out, "phase %s: %zu parameters (%d tensors, flat [%zu, %zu)), %s lr %g, x %d per iteration, "
                         "accumulate %d, grad_clip %g, clip_value %g; activations %.1f KiB; %s\n",
                    ph[k].def->name, count, tg->phases[k].nparams, lo, hi, dlt_optim_kind_name(ph[k].optim.kind),
                    ph[k].optim.lr, ph[k].repeat, ph[k].accumulate, ph[k].grad_clip, ph[k].clip_value,
                    (double)mr.arena_bytes / 1024, line);
        }
    }
    for (int k = 0; k < DLT_TASK_MAX_PHASES; k++) {
        dlt_plan_free(plans[k]);
        dlt_dist_free(dists[k]);
    }
    return st;
}

static void free_phase_lists(dlt_task_graph *tg)
{
    for (int k = 0; k < tg->nphases; k++) {
        free(tg->phases[k].params);
        free(tg->phases[k].grads);
    }
}

dlt_status dlt_train_describe(const dlt_train_config *c, int world_size, FILE *out)
{
    dlt_task *t = NULL;
    dlt_graph *g = NULL;
    dlt_task_graph tg;
    dlt_plan *p = NULL;
    memset(&tg, 0, sizeof tg);
    dlt_status st = dlt_task_open(c, 0, world_size, &t);
    if (st == DLT_OK && !(g = dlt_graph_create(c->seed)))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (st == DLT_OK)
        dlt_graph_set_recompute(g, c->recompute);
    if (st == DLT_OK)
        st = t->ops->build(t, g, &tg);
    if (st == DLT_OK && tg.nphases > 0) {
        st = describe_phases(c, t, g, &tg, world_size, out);
        free_phase_lists(&tg);
        dlt_task_close(t);
        dlt_graph_free(g);
        return st;
    }
    free_phase_lists(&tg); /* a build that failed half-way */
    /* ZeRO-1's shards follow the reducer's buckets: lay the parameters out as
     * the run does (a reducer without communicator: layout and buckets only) */
    dlt_dist *dist = NULL;
    dlt_reducer *red = NULL;
    dlt_reducer_config rc = {.bucket_mb = c->bucket_mb, .contract = tg.contract};
    if (st == DLT_OK && c->zero && (st = dlt_dist_create(NULL, g, tg.nparams, tg.params, tg.grads, &rc, &dist)) == DLT_OK)
        red = dlt_dist_reducer(dist);
    if (st == DLT_OK) {
        /* sizes only: a dry run must not allocate the activations; the
         * planner orders the gradients as the run's plan does (order_roots) */
        dlt_plan_opts po = {.ngrads = tg.nparams, .grad_params = tg.params, .grad_values = tg.grads,
                            .accumulate = c->accumulate > 1, .measure_only = 1};
        st = dlt_plan_create(g, tg.nouts, tg.outs, &po, &p);
    }
    if (st == DLT_OK) {
        t->ops->describe(t, out);
        fprintf(out, "# architecture (/model of the checkpoints, docs/models.md)\n");
        for (int i = 0; i < tg.model.n; i++) {
            char v[160];
            dlt_kv_format(&tg.model.kv[i], v, sizeof v);
            fprintf(out, "  %-20s %s\n", tg.model.kv[i].key, v);
        }
        dlt_graph_summary(g, p, out);
        fprintf(out, "FLOPs per sample (forward): %.4g\n", dlt_graph_flops(g, 1, &tg.flops_out) / (double)c->batch_size);
        char line[200];
        int nslots = dlt_optim_config_num_slots(&c->optim);
        size_t full = (size_t)nslots * dlt_params_numel(g) * sizeof(float);
        dlt_optim_memory_line(line, sizeof line, red ? dlt_zero_state_bytes(red, world_size, 0, nslots) : full, full,
                              c->zero, world_size);
        fprintf(out, "%s\n", line);
    }
    dlt_dist_free(dist);
    dlt_plan_free(p);
    dlt_task_close(t);
    free(tg.params);
    free(tg.grads);
    dlt_graph_free(g);
    return st;
}
