/* The classification training loop: data-parallel steps (bucketed gradient
 * all-reduce overlapped with backward), schedule, clipping, evaluation,
 * checkpoints, preemption and exact resume. Collective: every rank runs it. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify_run.h"

static volatile sig_atomic_t stop_signal;
static void on_stop(int sig) { stop_signal = sig; }


static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static dlt_status open_loader(classify_run *r, const char *glob, int train, dlt_loader **out)
{
    const dlt_classify_config *c = r->c;
    dlt_loader_config lc;
    dlt_loader_config_default(&lc);
    lc.paths = glob;
    lc.batch_size = c->batch_size;
    lc.shuffle = train ? c->shuffle : 0;
    lc.seed = c->seed;
    lc.drop_last = train ? c->drop_last : 0;
    memcpy(lc.mean, c->mean, sizeof lc.mean);
    memcpy(lc.std, c->std, sizeof lc.std);
    lc.crop_pad = train ? c->crop_pad : 0;
    lc.flip = train ? c->flip : 0;
    lc.prefetch = c->prefetch > 0 ? c->prefetch : 2;
    lc.threads = c->loader_threads;
    lc.rank = r->rank;
    lc.world_size = r->world;
    return dlt_loader_open(&lc, out);
}

/* Feed one batch: images, and labels with padding marked as ignored. */
static int feed(classify_run *r, dlt_plan *p, const dlt_batch *b)
{
    float *x = dlt_plan_data(p, r->cg.x);
    int32_t *l = dlt_plan_data(p, r->cg.labels);
    memcpy(x, b->images, (size_t)b->size * r->c_in * r->h * r->w * sizeof(float));
    for (int i = 0; i < b->size; i++)
        l[i] = i < b->valid ? b->labels[i] : DLT_IGNORE_LABEL;
    return b->valid;
}

static dlt_status evaluate(classify_run *r, double *loss, double *top1, double *top5)
{
    dlt_status st;
    int64_t nsteps = dlt_loader_steps_per_epoch(r->val);
    int64_t *conf = calloc((size_t)r->classes * r->classes, sizeof *conf);
    double m[4] = {0, 0, 0, 0}; /* loss sum, top1, top5, samples */
    if (!conf)
        return dlt_seterr(DLT_ERR_NOMEM, "evaluation: out of memory");
    /* every rank evaluates with rank 0's batch-norm statistics */
    if ((st = dlt_comm_bcast(r->comm, dlt_buffers_data(r->g), dlt_buffers_numel(r->g), DLT_COMM_F32, 0,
                             NULL)) != DLT_OK)
        goto out;
    dlt_loader_cursor start = {0, 0};
    if ((st = dlt_loader_set_cursor(r->val, start)) != DLT_OK)
        goto out;
    for (int64_t s = 0; s < nsteps; s++) {
        dlt_batch b;
        if ((st = dlt_loader_next(r->val, &b)) != DLT_OK)
            goto out;
        int valid = feed(r, r->eval, &b);
        dlt_exec_opts eo = {.training = 0, .step = r->step};
        if ((st = dlt_plan_run(r->eval, &eo)) != DLT_OK)
            goto out;
        int64_t t1 = 0, t5 = 0;
        dlt_classify_count(dlt_plan_data(r->eval, r->cg.logits), dlt_plan_data(r->eval, r->cg.labels),
                           valid, r->classes, &t1, &t5, conf);
        m[0] += *(const float *)dlt_plan_data(r->eval, r->cg.loss);
        m[1] += (double)t1, m[2] += (double)t5, m[3] += valid;
    }
    if ((st = dlt_comm_reduce_metrics(r->comm, m, 4)) != DLT_OK)
        goto out;
    double *cd = malloc((size_t)r->classes * r->classes * sizeof *cd);
    if (!cd) {
        st = dlt_seterr(DLT_ERR_NOMEM, "evaluation: out of memory");
        goto out;
    }
    for (int i = 0; i < r->classes * r->classes; i++)
        cd[i] = (double)conf[i];
    st = dlt_comm_reduce_metrics(r->comm, cd, r->classes * r->classes);
    for (int i = 0; i < r->classes * r->classes; i++)
        conf[i] = (int64_t)cd[i];
    free(cd);
    if (st != DLT_OK)
        goto out;
    *loss = m[3] > 0 ? m[0] / m[3] : NAN;
    *top1 = m[3] > 0 ? m[1] / m[3] : NAN;
    *top5 = m[3] > 0 ? m[2] / m[3] : NAN;
    if (r->rank == 0)
        dlt_report_eval(&r->rep, r->step, r->epoch, *loss, *top1, *top5, (int64_t)m[3], conf, r->classes,
                        r->val);
out:
    free(conf);
    return st;
}

/* <run_dir>/job.toml: the resolved job of the latest (re)start. */
static void write_job(const dlt_classify_config *c)
{
    char path[DLT_PATH_MAX + 16];
    FILE *f;
    if (!c->job_text)
        return;
    snprintf(path, sizeof path, "%s/job.toml", c->run_dir);
    if (!(f = fopen(path, "w")) || fputs(c->job_text, f) < 0 || fclose(f) != 0)
        dlt_log(DLT_LOG_WARN, "cannot write %s", path);
}

static dlt_status setup(classify_run *r, const dlt_world *w)
{
    const dlt_classify_config *c = r->c; /* points at r->cfg */
    dlt_status st;
    dlt_comm_config cc = {.backend = DLT_COMM_MPI, .timeout_s = c->timeout_s,
                          .debug_collectives = c->debug_collectives};
    if ((st = dlt_comm_create(w, &cc, &r->comm)) != DLT_OK)
        return st;
    r->rank = w->rank, r->world = w->size;
    int threads = c->threads > 0 ? c->threads : dlt_world_default_threads(w);
    dlt_set_num_threads(threads);
    if ((st = dlt_world_log_table(w, -1, threads)) != DLT_OK)
        return st;
    if ((st = open_loader(r, c->train_glob, 1, &r->loader)) != DLT_OK)
        return dlt_adderr(st, "data.train");
    if (c->val_glob[0] && (st = open_loader(r, c->val_glob, 0, &r->val)) != DLT_OK)
        return dlt_adderr(st, "data.val");
    dlt_loader_sample_shape(r->loader, &r->c_in, &r->h, &r->w);
    r->classes = dlt_loader_num_classes(r->loader);
    if (c->model.num_classes > 0 && c->model.num_classes != r->classes)
        return dlt_seterr(DLT_ERR_INVALID, "model.num_classes = %d but the training shards have %d classes",
                          c->model.num_classes, r->classes);
    r->g = dlt_graph_create(c->seed);
    if (!r->g)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if ((st = dlt_classify_build(r->g, c, r->c_in, r->h, r->w, r->classes, &r->cg)) != DLT_OK)
        return st;
    dlt_reducer_config rc = {.bucket_mb = c->bucket_mb, .contract = DLT_GRAD_SUM, .zero = c->zero};
    if ((st = dlt_reducer_create(r->comm, r->g, r->cg.nparams, r->cg.params, r->cg.grads, &rc, &r->red)) !=
        DLT_OK)
        return st;
    dlt_plan_opts po = {0};
    dlt_reducer_plan_opts(r->red, &po);
    po.accumulate = c->accumulate > 1;
    dlt_t outs[2] = {r->cg.loss, r->cg.logits};
    if ((st = dlt_plan_create(r->g, 2, outs, &po, &r->train)) != DLT_OK)
        return st;
    if ((st = dlt_plan_create(r->g, 2, outs, NULL, &r->eval)) != DLT_OK)
        return st;
    /* optimizer over the flat layout the reducer fixed */
    int np = dlt_num_params(r->g);
    dlt_param_view *views = malloc((size_t)np * sizeof *views);
    if (!views)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < np; i++) {
        const dlt_param_info *pi = dlt_param_at(r->g, i);
        views[i] = (dlt_param_view){pi->name, pi->offset, pi->numel};
    }
    st = dlt_optim_create(&c->optim, views, np, dlt_params_numel(r->g), c->rules, c->nrules, &r->opt);
    free(views);
    if (st != DLT_OK)
        return st;
    if ((st = dlt_replica_broadcast(r->comm, r->g)) != DLT_OK)
        return st;
    int64_t per_epoch = dlt_loader_steps_per_epoch(r->loader) / (c->accumulate > 0 ? c->accumulate : 1);
    r->total_steps = c->steps > 0 ? c->steps : c->epochs * per_epoch;
    if (r->total_steps <= 0)
        return dlt_seterr(DLT_ERR_INVALID, "data.train: %lld samples give no full step of %d x %d samples",
                          (long long)dlt_loader_num_samples(r->loader), r->world, c->batch_size);
    dlt_classify_config_set_total_steps(&r->cfg, r->total_steps);
    if ((st = dlt_schedule_validate(&r->cfg.schedule)) != DLT_OK)
        return dlt_adderr(st, "schedule");
    /* resume before anything is written to the run directory, so a refused
     * checkpoint leaves job.toml and metrics.jsonl as they were */
    if ((st = classify_resume(r)) != DLT_OK)
        return st;
    if (r->rank == 0) {
        dlt_mem_report mr;
        dlt_plan_memory(r->train, &mr);
        dlt_report_open(&r->rep, c, r->total_steps, per_epoch, r->world, np, dlt_params_numel(r->g), &mr);
        write_job(c);
    }
    dlt_report_trace_open(&r->rep, c, r->rank, r->red);
    return DLT_OK;
}

/* One optimizer step: accumulate micro-batches, reduce, clip, update. */
static dlt_status train_step(classify_run *r, double *loss_sum, double *correct, double *count, double *gnorm)
{
    const dlt_classify_config *c = r->c;
    dlt_status st;
    int k = c->accumulate > 0 ? c->accumulate : 1;
    if (k > 1)
        memset(dlt_grads_data(r->g), 0, dlt_params_numel(r->g) * sizeof(float));
    dlt_comm_set_step(r->comm, r->step);
    dlt_report_trace_step(&r->rep, r->step);
    for (int m = 0; m < k; m++) {
        dlt_batch b;
        double t_data = dlt_report_trace_now(&r->rep);
        if ((st = dlt_loader_next(r->loader, &b)) != DLT_OK)
            return st;
        dlt_report_trace_span(&r->rep, "data wait", "data", t_data);
        int valid = feed(r, r->train, &b);
        if ((st = dlt_reducer_begin(r->red, r->train, valid, m == k - 1)) != DLT_OK)
            return st;
        dlt_exec_opts eo = {.training = 1, .step = r->step * k + m, .rng_stream = (uint64_t)r->rank};
        dlt_reducer_exec_opts(r->red, &eo);
        dlt_report_trace_plan(&r->rep, r->train, &eo);
        if ((st = dlt_plan_run(r->train, &eo)) != DLT_OK)
            return st;
        int64_t t1 = 0, t5 = 0;
        dlt_classify_count(dlt_plan_data(r->train, r->cg.logits), dlt_plan_data(r->train, r->cg.labels), valid,
                           r->classes, &t1, &t5, NULL);
        *loss_sum += *(const float *)dlt_plan_data(r->train, r->cg.loss);
        *correct += (double)t1;
        *count += valid;
        r->epoch = b.epoch + (b.last_in_epoch ? 1 : 0);
    }
    if ((st = dlt_reducer_finish(r->red)) != DLT_OK)
        return st;
    dlt_report_trace_buckets(&r->rep);
    r->samples_seen += (int64_t)dlt_reducer_global_samples(r->red);
    double sumsq = 0;
    if ((st = dlt_reducer_grad_sumsq(r->red, &sumsq)) != DLT_OK)
        return st;
    *gnorm = sqrt(sumsq);
    if (!isfinite(sumsq)) {
        char where[300] = "";
        int np = dlt_num_params(r->g), bad = -1;
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
    if (c->grad_clip > 0)
        dlt_clip_grad_norm_sumsq(dlt_grads_data(r->g), dlt_params_numel(r->g), c->grad_clip, sumsq);
    st = dlt_reducer_optim_step(r->red, r->opt, dlt_schedule_lr(&c->schedule, r->step));
    dlt_report_trace_span(&r->rep, "optimizer step", "optimizer", t_opt);
    return st;
}

static dlt_status loop(classify_run *r, dlt_classify_result *res)
{
    const dlt_classify_config *c = r->c;
    dlt_status st = DLT_OK;
    double acc[3] = {0, 0, 0}, gnorm = 0, t_log = now(), t_ckpt = now();
    int64_t log_every = c->log_every > 0 ? c->log_every : 50;
    int64_t per_epoch = dlt_loader_steps_per_epoch(r->loader) / (c->accumulate > 0 ? c->accumulate : 1);
    int64_t since_log = 0;
    while (r->step < r->total_steps) {
        if ((st = train_step(r, &acc[0], &acc[1], &acc[2], &gnorm)) != DLT_OK)
            return st;
        r->step++;
        since_log++;
        int64_t done_epoch = per_epoch > 0 && r->step % per_epoch == 0;
        int last = r->step == r->total_steps;
        /* one small all-reduce per step: signals and wall-clock checkpoints must
         * be agreed by every rank */
        double flags[2] = {stop_signal != 0,
                           r->rank == 0 && c->ckpt_every_minutes > 0 &&
                               now() - t_ckpt >= 60.0 * c->ckpt_every_minutes};
        if ((st = dlt_comm_reduce_metrics(r->comm, flags, 2)) != DLT_OK)
            return st;
        if (since_log == log_every || last || flags[0] > 0) {
            if ((st = dlt_comm_reduce_metrics(r->comm, acc, 3)) != DLT_OK)
                return st;
            double t = now();
            res->train_loss = acc[2] > 0 ? acc[0] / acc[2] : NAN;
            res->samples_per_s = acc[2] / (t - t_log);
            if (r->rank == 0)
                dlt_report_step(&r->rep, r->step, r->epoch, res->train_loss, acc[2] > 0 ? acc[1] / acc[2] : 0,
                                dlt_schedule_lr(&c->schedule, r->step - 1), gnorm, res->samples_per_s);
            acc[0] = acc[1] = acc[2] = 0;
            since_log = 0;
            t_log = now();
        }
        if (c->check_every > 0 && r->step % c->check_every == 0 && (st = dlt_replica_check(r->comm, r->g)) != DLT_OK)
            return st;
        int eval_due = r->val && ((c->eval_every_steps > 0 && r->step % c->eval_every_steps == 0) ||
                                  (c->eval_every_steps <= 0 && done_epoch) || last);
        if (eval_due) {
            double t = now();
            if ((st = evaluate(r, &res->test_loss, &res->top1, &res->top5)) != DLT_OK)
                return st;
            if (res->top1 > r->best_top1)
                r->best_top1 = res->top1;
            t_log += now() - t; /* evaluation time is not training throughput */
        }
        int ckpt_due = (c->ckpt_every_steps > 0 && r->step % c->ckpt_every_steps == 0) || flags[1] > 0 ||
                       last || flags[0] > 0;
        if (ckpt_due) {
            double t1 = now();
            if ((st = classify_save_checkpoint(r)) != DLT_OK)
                return st;
            t_ckpt = now();
            t_log += t_ckpt - t1;
        }
        if (flags[0] > 0 && !last) {
            res->preempted = 1;
            if (r->rank == 0)
                dlt_log(DLT_LOG_WARN, "stopped by a signal at step %lld; checkpoint saved, resume with --resume auto",
                        (long long)r->step);
            break;
        }
    }
    return st;
}

dlt_status dlt_classify_run(const dlt_classify_config *c, dlt_classify_result *res)
{
    classify_run r;
    dlt_world w;
    dlt_status st;
    memset(&r, 0, sizeof r);
    memset(res, 0, sizeof *res);
    res->test_loss = res->top1 = res->top5 = NAN;
    r.cfg = *c;
    r.c = &r.cfg;
    r.best_top1 = 0;
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
    if (st == DLT_OK)
        st = loop(&r, res);
    res->steps_done = r.step;
    res->best_top1 = r.best_top1;
    res->error_on_all_ranks = st != DLT_OK && r.error_on_all_ranks;
    snprintf(res->last_ckpt, sizeof res->last_ckpt, "%s", r.last_ckpt);
    if (st == DLT_OK && r.rank == 0)
        dlt_report_close(&r.rep, res, now() - t0);
    else if (r.rank == 0)
        dlt_report_abandon(&r.rep);
    dlt_report_trace_close(&r.rep);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    dlt_plan_free(r.train);
    dlt_plan_free(r.eval);
    dlt_reducer_free(r.red);
    dlt_optim_free(r.opt);
    dlt_loader_close(r.loader);
    dlt_loader_close(r.val);
    free(r.cg.params);
    free(r.cg.grads);
    dlt_graph_free(r.g);
    dlt_comm_free(r.comm);
    return st;
}

dlt_status dlt_classify_describe(const dlt_classify_config *c, int world_size, FILE *out)
{
    classify_run r;
    dlt_status st;
    dlt_plan *p = NULL;
    memset(&r, 0, sizeof r);
    r.cfg = *c;
    r.c = &r.cfg;
    r.rank = 0, r.world = world_size;
    if ((st = open_loader(&r, c->train_glob, 1, &r.loader)) != DLT_OK)
        return dlt_adderr(st, "data.train");
    dlt_loader_sample_shape(r.loader, &r.c_in, &r.h, &r.w);
    r.classes = dlt_loader_num_classes(r.loader);
    r.g = dlt_graph_create(c->seed);
    st = r.g ? dlt_classify_build(r.g, c, r.c_in, r.h, r.w, r.classes, &r.cg)
             : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (st == DLT_OK) {
        dlt_plan_opts po = {.ngrads = r.cg.nparams, .grad_params = r.cg.params, .grad_values = r.cg.grads};
        dlt_t outs[2] = {r.cg.loss, r.cg.logits};
        st = dlt_plan_create(r.g, 2, outs, &po, &p);
    }
    if (st == DLT_OK) {
        fprintf(out, "# model %s on %dx%dx%d inputs, %d classes, batch %d per rank, %d rank%s\n", c->model.arch,
                r.c_in, r.h, r.w, r.classes, c->batch_size, world_size, world_size > 1 ? "s" : "");
        dlt_graph_summary(r.g, p, out);
        fprintf(out, "FLOPs per sample (forward): %.4g\n",
                dlt_graph_flops(r.g, 1, &r.cg.logits) / (double)c->batch_size);
    }
    dlt_plan_free(p);
    dlt_loader_close(r.loader);
    free(r.cg.params);
    free(r.cg.grads);
    dlt_graph_free(r.g);
    return st;
}
