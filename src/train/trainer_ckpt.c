/* The checkpoint side of the training loop: what a checkpoint holds
 * beyond the tensors (counters, data cursors, the job), ZeRO-1 shards made
 * whole before saving (trainer_zero.c), and resuming on the same or another
 * world size. */
#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trainer.h"
#include "dlt_ckpt.h"
#include "dlt_job.h"

/* Checkpoint tensors: graph parameters/buffers and the optimizer's slots:
 * the whole state, `full` (see trainer_zero.c) where the optimizer holds only
 * this rank's shards (ZeRO-1), so checkpoints resume on any world size and
 * with or without ZeRO. */
static void ckpt_tensors(dlt_trainer *r, dlt_ckpt_tensors *t, float *const *full)
{
    dlt_ckpt_tensors_from_graph(r->g, t);
    if (r->nphases > 0)
        return; /* phase_tensors */
    t->nslots = dlt_optim_num_slots(r->opt);
    if (t->nslots > DLT_CKPT_MAX_SLOTS)
        t->nslots = DLT_CKPT_MAX_SLOTS;
    for (int i = 0; i < t->nslots; i++) {
        t->slot_names[i] = dlt_optim_slot_name(r->opt, i);
        t->slot_data[i] = full ? full[i] : dlt_optim_slot(r->opt, i);
    }
    t->optim_name = dlt_optim_kind_name(dlt_optim_get_config(r->opt)->kind);
}

/* A phased task: every phase's optimizer state in one parameter-shaped view
 * (dlt_trainer_phase_state): /optim/<parameter>/<slot> as for one
 * optimizer, each parameter's state from the phase that updates it. */
typedef struct {
    int nslots;
    const char *names[DLT_CKPT_MAX_SLOTS];
    float **full;
    char optim[64];
} phase_view;

static dlt_status phase_tensors(dlt_trainer *r, dlt_ckpt_tensors *t, phase_view *v)
{
    memset(v, 0, sizeof *v);
    dlt_status st = dlt_trainer_phase_state(r, &v->nslots, v->names, &v->full, v->optim, sizeof v->optim);
    if (st != DLT_OK)
        return st;
    t->nslots = v->nslots;
    for (int i = 0; i < v->nslots; i++)
        t->slot_names[i] = v->names[i], t->slot_data[i] = v->full[i];
    t->optim_name = v->optim;
    return DLT_OK;
}

static void phase_view_free(phase_view *v)
{
    for (int i = 0; v->full && i < v->nslots; i++)
        free(v->full[i]);
    free(v->full);
    v->full = NULL;
}

dlt_status dlt_trainer_bcast_buffers(dlt_trainer *r)
{
    return dlt_comm_bcast(r->comm, dlt_buffers_dev(r->g), dlt_buffers_numel(r->g), DLT_COMM_F32, 0, NULL);
}

dlt_status dlt_trainer_to_host(dlt_trainer *r, int with_optim)
{
    dlt_status st = dlt_graph_download(r->g, DLT_SYNC_PARAMS | DLT_SYNC_BUFFERS);
    if (st == DLT_OK && with_optim && r->nphases > 0)
        st = dlt_trainer_phases_optim_sync(r, 0);
    else if (st == DLT_OK && with_optim)
        st = dlt_optim_download(r->opt);
    return st;
}

dlt_status dlt_trainer_to_device(dlt_trainer *r, int with_optim)
{
    dlt_status st = dlt_graph_upload(r->g, DLT_SYNC_PARAMS | DLT_SYNC_BUFFERS);
    if (st == DLT_OK && with_optim && r->nphases > 0)
        st = dlt_trainer_phases_optim_sync(r, 1);
    else if (st == DLT_OK && with_optim)
        st = dlt_optim_upload(r->opt);
    return st;
}

/* The task's own per-rank state (task.h state_len/get/set) as one
 * [world, n] array on rank 0 (*out, malloc'd; NULL elsewhere). Collective:
 * a sum of doubles in which every rank fills only its own row (exact for
 * floats), over the host metrics path whatever the backend. */
static dlt_status gather_task_state(dlt_trainer *r, float **out, int64_t *len)
{
    const dlt_task_ops *o = r->task->ops;
    *out = NULL, *len = 0;
    if (!o->state_len || !o->state_get)
        return DLT_OK;
    int64_t n = o->state_len(r->task);
    if (n <= 0)
        return DLT_OK;
    if (n > INT_MAX / r->world)
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "checkpoint: the task state (%lld floats per rank) is too large",
                          (long long)n);
    size_t tot = (size_t)n * (size_t)r->world;
    double *all = calloc(tot, sizeof *all);
    float *mine = malloc((size_t)n * sizeof *mine);
    dlt_status st = all && mine ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "checkpoint: out of memory for the task state");
    if (st == DLT_OK) {
        o->state_get(r->task, mine);
        for (int64_t i = 0; i < n; i++)
            all[(size_t)r->rank * (size_t)n + (size_t)i] = mine[i];
    }
    /* every rank takes part (a rank out of memory sends zeros and fails after) */
    dlt_status cst = dlt_comm_reduce_metrics(r->comm, all ? all : (double[1]){0}, all ? (int)tot : 0);
    if (st == DLT_OK)
        st = cst;
    free(mine);
    if (st == DLT_OK && r->rank == 0) {
        float *f = malloc(tot * sizeof *f);
        if (!f)
            st = dlt_seterr(DLT_ERR_NOMEM, "checkpoint: out of memory for the task state");
        for (size_t i = 0; f && i < tot; i++)
            f[i] = (float)all[i];
        *out = f;
        *len = n;
    }
    free(all);
    return st;
}

/* This rank's row of /state/task_state into the task. */
static dlt_status restore_task_state(dlt_trainer *r, const dlt_ckpt_state *cs)
{
    const dlt_task_ops *o = r->task->ops;
    if (!o->state_set)
        return DLT_OK;
    if (!cs->task_state || cs->world_size != r->world) {
        if (r->rank == 0)
            dlt_log(DLT_LOG_WARN,
                    "resume: the checkpoint holds no task state for %d rank%s (%s): the %s task starts "
                    "its own state afresh, the run is not bitwise-identical to an uninterrupted one",
                    r->world, r->world > 1 ? "s" : "", cs->task_state ? "another world size" : "none saved",
                    o->name);
        return DLT_OK;
    }
    return o->state_set(r->task, cs->task_state + (size_t)r->rank * (size_t)cs->task_state_len,
                        cs->task_state_len);
}

dlt_status dlt_trainer_save_checkpoint(dlt_trainer *r)
{
    /* one copy of the batch-norm statistics: rank 0's, as evaluation uses */
    dlt_status st = dlt_trainer_bcast_buffers(r);
    float **full = NULL; /* ZeRO-1: the whole optimizer state, on rank 0 */
    if (st == DLT_OK)
        st = dlt_trainer_to_host(r, 1);
    /* (a phased task gathers each phase's shards below) */
    int zero1 = r->c->zero && r->nphases == 0;
    if (st == DLT_OK && zero1 && r->rank == 0)
        st = dlt_trainer_full_state(r, &full);
    /* every rank takes part even when rank 0 is out of memory: the collectives must match */
    if (zero1) {
        double bad = st != DLT_OK;
        dlt_status cst = dlt_comm_reduce_metrics(r->comm, &bad, 1);
        if (cst == DLT_OK && bad > 0 && st == DLT_OK)
            cst = dlt_seterr(DLT_ERR_NOMEM, "checkpoint: rank 0 cannot hold the whole optimizer state");
        if (st == DLT_OK && cst != DLT_OK)
            st = cst;
        if (st == DLT_OK)
            st = dlt_trainer_zero_gather(r, full);
    }
    if (st != DLT_OK) {
        dlt_trainer_free_full_state(r, full);
        return st;
    }
    /* a batch fed ahead (trainer.h) is not consumed yet */
    dlt_loader_cursor cur = r->have_next ? r->cursor_next : r->task->ops->get_cursor(r->task);
    int64_t *all = calloc((size_t)r->world * 2, sizeof *all);
    double *tmp = calloc((size_t)r->world * 2, sizeof *tmp);
    if (!all || !tmp) {
        free(all), free(tmp);
        dlt_trainer_free_full_state(r, full);
        return dlt_seterr(DLT_ERR_NOMEM, "checkpoint: out of memory");
    }
    tmp[r->rank * 2] = (double)cur.epoch, tmp[r->rank * 2 + 1] = (double)cur.step;
    st = dlt_comm_reduce_metrics(r->comm, tmp, r->world * 2);
    for (int i = 0; i < r->world * 2; i++)
        all[i] = (int64_t)tmp[i];
    free(tmp);
    /* the task's own per-rank state, gathered to rank 0 (collective) */
    float *task_state = NULL;
    int64_t task_len = 0;
    if (st == DLT_OK)
        st = gather_task_state(r, &task_state, &task_len);
    phase_view pv = {0};
    dlt_ckpt_tensors t;
    if (st == DLT_OK && r->nphases > 0) {
        /* every rank: its phases' state; ZeRO-1: each phase's shards gathered
         * to rank 0 (collective: every rank takes part, also after a failure) */
        ckpt_tensors(r, &t, NULL);
        st = phase_tensors(r, &t, &pv);
        if (r->c->zero) {
            double bad = st != DLT_OK;
            dlt_status cst = dlt_comm_reduce_metrics(r->comm, &bad, 1);
            if (st == DLT_OK && cst == DLT_OK && bad > 0)
                cst = dlt_seterr(DLT_ERR_NOMEM, "checkpoint: another rank cannot hold the optimizer state");
            if (st == DLT_OK)
                st = cst;
            if (st == DLT_OK)
                st = dlt_trainer_phase_gather(r, pv.full, pv.names, pv.nslots);
        }
    } else if (st == DLT_OK && r->rank == 0) {
        ckpt_tensors(r, &t, full);
    }
    if (st == DLT_OK && r->rank == 0) {
        dlt_ckpt_state cs = {.step = r->step, .epoch = r->epoch, .samples_seen = r->samples_seen,
                             .seed = r->c->seed, .world_size = r->world,
                             .optim_step = dlt_optim_get_step(r->nphases > 0 ? r->ph[0].opt : r->opt),
                             .cursor_len = 2,
                             .cursors = all, .job_text = (char *)r->c->job_text,
                             .best_metric = r->best_metric,
                             .best_metric_name = r->task->best_key,
                             .best_higher_is_better = r->task->best_higher, .model = &r->tg.model,
                             .loss_scale = r->c->loss_scaling == DLT_LOSS_SCALE_DYNAMIC ? r->scaler.scale : 0,
                             .loss_scale_growth = r->scaler.growth_tracker,
                             .phased = r->nphases > 0, .phase_position = r->pos,
                             .task_state_len = task_len, .task_state = task_state};
        st = dlt_ckpt_save(r->c->run_dir, &t, &cs, r->last_ckpt, sizeof r->last_ckpt);
        if (st == DLT_OK) {
            dlt_ckpt_prune(r->c->run_dir, r->c->keep_last, r->step);
            dlt_report_checkpoint(&r->rep, r->last_ckpt);
        }
    }
    free(all);
    free(task_state);
    phase_view_free(&pv);
    dlt_trainer_free_full_state(r, full);
    /* every rank learns whether rank 0 managed to write (a host number: the
     * metrics path, MPI even when gradients go through NCCL) */
    double ok = r->rank == 0 ? st == DLT_OK : 0;
    dlt_status st2 = dlt_comm_reduce_metrics(r->comm, &ok, 1);
    if (st2 != DLT_OK)
        return st2;
    if (!ok && st == DLT_OK)
        return dlt_seterr(DLT_ERR_IO, "rank 0 failed to write the checkpoint");
    return st;
}

/* data.batch_size of the job stored in a checkpoint; `fallback` when unknown. */
static int64_t saved_batch_size(const char *job_text, int64_t fallback)
{
    dlt_job *job = NULL;
    int64_t b = fallback;
    if (job_text && dlt_job_new(&job) == DLT_OK &&
        dlt_job_load(job, "checkpoint job", job_text, strlen(job_text)) == DLT_OK &&
        dlt_job_int(job, "data.batch_size") > 0)
        b = dlt_job_int(job, "data.batch_size");
    dlt_job_free(job);
    dlt_clearerr();
    return b;
}

/* The loader position for a checkpoint written by another world size: the
 * same epoch, and as many of its samples consumed as the old ranks had
 * (rounded down to a whole global batch of this run). Samples near the cut may
 * repeat or be skipped once; the run is not bitwise-identical to either. */
static dlt_loader_cursor rederive_cursor(dlt_trainer *r, const dlt_ckpt_state *cs)
{
    dlt_loader_cursor cur = {0, 0};
    int64_t per_epoch = r->task->steps_per_epoch;
    int64_t new_batch = (int64_t)r->c->batch_size * r->world;
    int64_t old_batch = saved_batch_size(cs->job_text, r->c->batch_size) * (cs->world_size > 0 ? cs->world_size : 1);
    if (cs->cursors && cs->cursor_len == 2 && cs->world_size > 0) {
        cur.epoch = cs->cursors[0];
        cur.step = cs->cursors[1] * old_batch / new_batch;
    } else if (new_batch > 0 && per_epoch > 0) { /* no cursors: from the samples seen */
        int64_t steps = cs->samples_seen / new_batch;
        cur.epoch = steps / per_epoch;
        cur.step = steps % per_epoch;
    }
    if (per_epoch > 0 && cur.step >= per_epoch)
        cur.epoch++, cur.step = 0;
    return cur;
}

#define MAX_SKIPPED 8

/* A checkpoint's job against this run's: a finished run with another job is
 * refused unless --resume-changed (the user most likely meant a new run); an
 * unfinished one continues with the new job (as Lightning and torchrun users
 * expect: more steps, another learning rate), and the changes are logged. */
static dlt_status check_job(dlt_trainer *r, const char *path, const dlt_ckpt_state *cs, char *diff, size_t len)
{
    int n = dlt_job_diff_text(cs->job_text, r->c->job_text, diff, len);
    if (n < 0)
        snprintf(diff, len, "the stored job does not load with this dltrain's job schema");
    r->finished = cs->step >= r->total_steps;
    if (n != 0 && r->finished && !r->c->resume_changed)
        return dlt_seterr(DLT_ERR_INVALID,
                          "%s: the run finished at step %lld with another job (%s); not resuming it: pass "
                          "--resume-changed to accept, or set another model.name or checkpoint.dir for a new run",
                          path, (long long)cs->step, diff);
    if (n == 0)
        diff[0] = '\0';
    return DLT_OK;
}

/* Find and load the checkpoint; every rank reads the same files. --resume
 * auto goes from the newest checkpoint to older ones past damaged files
 * (their names into skipped[]), never past one that does not fit the model,
 * and refuses to start from scratch when every file is damaged. */
static dlt_status load(dlt_trainer *r, float *const *full, phase_view *pv, dlt_ckpt_state *cs, char *path,
                       size_t len, int *found, char skipped[][DLT_PATH_MAX], int *nskipped)
{
    const char *want = r->c->resume;
    dlt_ckpt_tensors t;
    ckpt_tensors(r, &t, full);
    if (r->nphases > 0) {
        dlt_status pst = phase_tensors(r, &t, pv);
        if (pst != DLT_OK)
            return pst;
    }
    *found = 0;
    *nskipped = 0;
    if (strcmp(want, "auto") != 0) {
        snprintf(path, len, "%s", want);
        dlt_status st = dlt_ckpt_load(path, &t, cs);
        *found = st == DLT_OK;
        return st;
    }
    int64_t *steps = NULL;
    int n = dlt_ckpt_list(r->c->run_dir, &steps);
    dlt_status st = DLT_OK;
    char first_err[1024] = "";
    for (int i = 0; i < n; i++) {
        if (snprintf(path, len, "%s/ckpt-%08lld.h5", r->c->run_dir, (long long)steps[i]) >= (int)len)
            continue;
        st = dlt_ckpt_load(path, &t, cs);
        if (st == DLT_OK) {
            *found = 1;
            break;
        }
        if (st != DLT_ERR_IO && st != DLT_ERR_NOTFOUND)
            break; /* the job's model does not fit: an older file would not either */
        if (!first_err[0])
            snprintf(first_err, sizeof first_err, "%s", dlt_errmsg());
        if (r->rank == 0)
            dlt_log(DLT_LOG_WARN, "resume auto: skipping a damaged checkpoint: %s", dlt_errmsg());
        if (*nskipped < MAX_SKIPPED)
            snprintf(skipped[(*nskipped)++], DLT_PATH_MAX, "%s", path);
    }
    free(steps);
    if (st != DLT_OK && !*found && first_err[0] && (st == DLT_ERR_IO || st == DLT_ERR_NOTFOUND))
        return dlt_seterr(DLT_ERR_INVALID,
                          "%s: none of its %d checkpoint%s can be resumed (newest: %s); not starting from "
                          "scratch over them: move them out of the directory to start afresh",
                          r->c->run_dir, n, n > 1 ? "s" : "", first_err);
    if (st != DLT_OK)
        return st;
    if (!*found)
        return DLT_OK;
    if (*nskipped > 0 && r->rank == 0)
        dlt_log(DLT_LOG_WARN, "resume auto: falling back to %s, the newest checkpoint that is intact", path);
    return DLT_OK;
}

/* Damaged files a resume fell back past: renamed to <name>.damaged (never
 * deleted), so that neither later saves of the same step nor keep_last
 * pruning replace or count them. */
static void set_aside(char skipped[][DLT_PATH_MAX], int n)
{
    for (int i = 0; i < n; i++) {
        char to[DLT_PATH_MAX + 16];
        if (snprintf(to, sizeof to, "%s.damaged", skipped[i]) >= (int)sizeof to)
            continue;
        for (int k = 1; k < 100 && access(to, F_OK) == 0; k++)
            if (snprintf(to, sizeof to, "%s.damaged.%d", skipped[i], k) >= (int)sizeof to)
                break;
        if (rename(skipped[i], to) == 0)
            dlt_log(DLT_LOG_WARN, "resume auto: kept the damaged %s as %s", skipped[i], to);
        else
            dlt_log(DLT_LOG_WARN, "resume auto: cannot rename the damaged %s: %s", skipped[i], strerror(errno));
    }
}

dlt_status dlt_trainer_resume(dlt_trainer *r)
{
    char path[DLT_PATH_MAX], diff[1024] = "", skipped[MAX_SKIPPED][DLT_PATH_MAX];
    dlt_ckpt_state cs;
    int found = 0, nskipped = 0;
    if (!r->c->resume[0])
        return DLT_OK;
    memset(&cs, 0, sizeof cs);
    /* ZeRO-1: the file holds the whole optimizer state; each rank keeps its shards */
    float **full = NULL;
    dlt_status st = r->c->zero && r->nphases == 0 ? dlt_trainer_full_state(r, &full) : DLT_OK;
    phase_view pv = {0}; /* a phased task: its optimizers' state, loaded after r->step is known */
    if (st == DLT_OK)
        st = load(r, full, &pv, &cs, path, sizeof path, &found, skipped, &nskipped);
    if (st == DLT_OK && found && full)
        dlt_trainer_zero_scatter(r, full);
    dlt_trainer_free_full_state(r, full);
    if (st == DLT_OK && found)
        st = check_job(r, path, &cs, diff, sizeof diff);
    /* a damaged checkpoint given by path is bad input, like a mismatched one */
    if (st == DLT_ERR_IO) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s", dlt_errmsg());
        st = dlt_seterr(DLT_ERR_INVALID, "%s", msg);
    }
    /* A bad checkpoint (wrong model, corrupt file) fails alike on every rank:
     * agree on it, so rank 0 alone reports it and nobody aborts; a rank that
     * failed alone is reported by that rank. */
    double failed[2] = {st != DLT_OK, found};
    dlt_status cst = dlt_comm_reduce_metrics(r->comm, failed, 2);
    if (cst != DLT_OK) {
        dlt_ckpt_state_free(&cs);
        phase_view_free(&pv);
        return cst;
    }
    if (failed[0] > 0) {
        dlt_ckpt_state_free(&cs);
        phase_view_free(&pv);
        if ((int)failed[0] == r->world) {
            r->error_on_all_ranks = 1;
            return st;
        }
        return st != DLT_OK ? st : dlt_seterr(DLT_ERR_IO, "another rank failed to load the checkpoint");
    }
    if (!found || (int)failed[1] != r->world) {
        phase_view_free(&pv);
        if (found || (int)failed[1] > 0)
            return dlt_seterr(DLT_ERR_IO, "%s: not every rank found a checkpoint to resume from", r->c->run_dir);
        if (r->rank == 0)
            dlt_log(DLT_LOG_INFO, "resume auto: no checkpoint in %s, starting from scratch", r->c->run_dir);
        return DLT_OK;
    }
    if (r->rank == 0)
        set_aside(skipped, nskipped);
    if (r->finished) {
        /* nothing to train: the caller writes nothing and reports the end */
        r->step = cs.step;
        r->best_metric = cs.best_metric;
        snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", path);
        dlt_ckpt_state_free(&cs);
        phase_view_free(&pv);
        return DLT_OK;
    }
    if (diff[0] && r->rank == 0)
        dlt_log(DLT_LOG_WARN, "resuming %s (step %lld) with a changed job: %s", path, (long long)cs.step, diff);
    r->step = cs.step;
    r->epoch = cs.epoch;
    r->samples_seen = cs.samples_seen;
    r->best_metric = cs.best_metric;
    r->pos = r->nphases > 0 ? cs.phase_position : 0;
    if (r->nphases > 0)
        dlt_trainer_phase_state_scatter(r, pv.full, pv.names, pv.nslots);
    else
        dlt_optim_set_step(r->opt, cs.optim_step);
    phase_view_free(&pv);
    /* the dynamic scaler continues where it was; a checkpoint without one
     * (another precision) leaves it at train.loss_scale_init */
    if (r->c->loss_scaling == DLT_LOSS_SCALE_DYNAMIC && cs.loss_scale > 0) {
        r->scaler.scale = cs.loss_scale;
        r->scaler.growth_tracker = (int)cs.loss_scale_growth;
    }
    if ((st = restore_task_state(r, &cs)) != DLT_OK) {
        dlt_ckpt_state_free(&cs);
        phase_view_free(&pv);
        return st;
    }
    dlt_loader_cursor cur;
    if (cs.world_size == r->world && cs.cursors && cs.cursor_len == 2) {
        cur.epoch = cs.cursors[2 * r->rank];
        cur.step = cs.cursors[2 * r->rank + 1];
    } else {
        cur = rederive_cursor(r, &cs);
        if (r->rank == 0)
            dlt_log(DLT_LOG_WARN,
                    "resuming a %d-rank checkpoint on %d rank%s: parameters, optimizer state and the data "
                    "position continue, but the run is not bitwise-identical to an uninterrupted one",
                    cs.world_size, r->world, r->world > 1 ? "s" : "");
    }
    dlt_ckpt_state_free(&cs);
    phase_view_free(&pv);
    if ((st = r->task->ops->set_cursor(r->task, 1, cur)) != DLT_OK)
        return st;
    if (r->rank == 0)
        dlt_log(DLT_LOG_INFO, "resumed from %s at step %lld", path, (long long)r->step);
    snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", path);
    if ((st = dlt_trainer_to_device(r, 1)) != DLT_OK)
        return st;
    /* every rank loaded the same file; prove the replicas agree */
    return dlt_dist_replica_check(r->comm, r->g);
}
