/* dltrain predict: a checkpoint's model over every sample of some shards.
 * It is the trainer's evaluation (task open/build/feed/accumulate/metrics, a
 * plan run with training = 0) on one process, with the parameters and buffers
 * of the checkpoint, plus the task's predict() writing per-sample rows, so
 * the metrics it prints are those evaluation records for the same data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlt_ckpt.h"
#include "dlt_job.h"
#include "task.h"

typedef struct {
    dlt_job *job;
    char *job_text;
    dlt_train_config c;
    dlt_task *task;
    dlt_graph *g;
    dlt_task_graph tg;
    dlt_plan *p;
    dlt_pred_file *f;
    double *sums;
} pred;

static void pred_free(pred *s)
{
    dlt_pred_file_abort(s->f);
    dlt_plan_free(s->p);
    free(s->tg.params);
    free(s->tg.grads);
    dlt_graph_free(s->g);
    dlt_task_close(s->task);
    dlt_job_free(s->job);
    free(s->job_text);
    free(s->sums);
}

/* The job as evaluation runs it, on `glob` for both loaders. */
static dlt_status configure(const dlt_predict_opts *o, pred *s, const char **glob)
{
    dlt_train_config *c = &s->c;
    dlt_status st = dlt_task_config_from_ckpt(o->ckpt, &s->job, &s->job_text, c);
    if (st != DLT_OK)
        return st;
    *glob = o->data && o->data[0] ? o->data : c->val_glob;
    if (!(*glob)[0])
        return dlt_seterr(DLT_ERR_INVALID, "no --data GLOB given and the job in %s has no data.val",
                          o->ckpt);
    char g[DLT_PATH_MAX];
    snprintf(g, sizeof g, "%s", *glob);
    snprintf(c->train_glob, sizeof c->train_glob, "%s", g);
    snprintf(c->val_glob, sizeof c->val_glob, "%s", g);
    *glob = c->val_glob;
    c->shuffle = c->drop_last = c->crop_pad = c->flip = 0;
    c->accumulate = 1; /* BERT divides its loss by it */
    /* the stored job spells out every default (num_classes = 10 too): the
     * classes come from the shards, and the checkpoint's head must fit them */
    c->model.num_classes = 0;
    c->loss_scaling = DLT_LOSS_SCALE_NONE;
    c->device = DLT_TRAIN_CPU;
    if (o->batch > 0)
        c->batch_size = o->batch;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    dlt_set_num_threads(o->threads > 0   ? o->threads
                        : c->threads > 0 ? c->threads
                        : cores > 0      ? (int)cores
                                         : 1);
    if ((st = dlt_task_ops_for(c->task)->check(c, 1)) != DLT_OK)
        return dlt_adderr(DLT_ERR_INVALID, "--data '%s' for the %s of %s", *glob, c->arch, o->ckpt);
    return DLT_OK;
}

/* The task's graph and an evaluation plan holding its outputs and pred_out,
 * with the checkpoint's parameters and buffers. */
static dlt_status load_model(const dlt_predict_opts *o, pred *s, int64_t *step)
{
    dlt_status st = dlt_task_open(&s->c, 0, 1, &s->task);
    if (st != DLT_OK)
        return dlt_adderr(st == DLT_ERR_NOMEM ? st : DLT_ERR_INVALID, "--data");
    if (!(s->g = dlt_graph_create(s->c.seed)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    s->tg.pred_out = -1;
    if ((st = s->task->ops->build(s->task, s->g, &s->tg)) != DLT_OK)
        return st;
    dlt_t outs[DLT_TASK_MAX_OUTS + 1];
    int n = s->tg.nouts;
    memcpy(outs, s->tg.outs, (size_t)n * sizeof *outs);
    if (s->tg.pred_out >= 0)
        outs[n++] = s->tg.pred_out;
    if ((st = dlt_plan_create(s->g, n, outs, NULL, &s->p)) != DLT_OK)
        return st;
    dlt_ckpt_tensors t;
    dlt_ckpt_state cs;
    memset(&cs, 0, sizeof cs);
    dlt_ckpt_tensors_from_graph(s->g, &t);
    t.nslots = 0;
    if ((st = dlt_ckpt_load(o->ckpt, &t, &cs)) != DLT_OK)
        st = dlt_adderr(st == DLT_ERR_NOMEM || st == DLT_ERR_IO ? st : DLT_ERR_INVALID,
                        "the model of %s on --data '%s'", o->ckpt, s->c.val_glob);
    *step = cs.step;
    dlt_ckpt_state_free(&cs);
    return st;
}

static dlt_status write_attrs(const dlt_predict_opts *o, pred *s, const dlt_predict_result *r)
{
    dlt_pred_file *f = s->f;
    dlt_status st = dlt_pred_file_attr_str(f, "checkpoint", o->ckpt);
    if (st == DLT_OK)
        st = dlt_pred_file_attr_i64(f, "step", r->step);
    if (st == DLT_OK)
        st = dlt_pred_file_attr_str(f, "data", s->c.val_glob);
    if (st == DLT_OK)
        st = dlt_pred_file_attr_str(f, "arch", s->c.arch);
    if (st == DLT_OK)
        st = dlt_pred_file_attr_str(f, "task", r->task);
    if (st == DLT_OK)
        st = dlt_pred_file_attr_i64(f, "samples", r->samples);
    if (st == DLT_OK)
        st = dlt_pred_file_attr_str(f, "job", s->job_text);
    for (int i = 0; st == DLT_OK && i < r->n; i++)
        st = dlt_pred_file_attr_f64(f, r->key[i], r->val[i]);
    return st;
}

dlt_status dlt_predict(const dlt_predict_opts *o, dlt_predict_result *r)
{
    pred s;
    const char *glob = NULL;
    memset(&s, 0, sizeof s);
    memset(r, 0, sizeof *r);
    dlt_status st = configure(o, &s, &glob);
    if (st == DLT_OK)
        st = load_model(o, &s, &r->step);
    if (st == DLT_OK && !(s.sums = calloc((size_t)s.task->neval_sums + 1, sizeof *s.sums)))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (st == DLT_OK)
        st = dlt_pred_file_create(o->out, &s.f);
    dlt_task *t = s.task;
    /* the evaluation loop of trainer.c, on one rank */
    for (int64_t i = 0; st == DLT_OK && i < t->val_steps; i++) {
        dlt_task_batch b;
        dlt_exec_opts eo = {.training = 0, .step = t->eval_fixed_key ? DLT_TASK_EVAL_KEY + i : r->step};
        if ((st = t->ops->feed(t, s.p, 0, &b)) != DLT_OK || (st = dlt_plan_run(s.p, &eo)) != DLT_OK)
            break;
        t->ops->accumulate(t, s.p, 0, &b, s.sums + 1);
        s.sums[0] += b.samples;
        st = t->ops->predict(t, s.p, &b, o->logits, s.f);
    }
    if (st == DLT_OK && (int64_t)s.sums[0] != t->num_samples)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: %lld samples predicted, the shards hold %lld", glob,
                        (long long)s.sums[0], (long long)t->num_samples);
    if (st == DLT_OK) {
        dlt_metrics m;
        memset(&m, 0, sizeof m);
        m.samples = r->samples = (int64_t)s.sums[0];
        t->ops->metrics(t, 0, s.sums + 1, &m);
        r->task = dlt_task_kind_name(s.c.task);
        r->n = m.n < 8 ? m.n : 8;
        for (int i = 0; i < r->n; i++)
            r->key[i] = m.key[i], r->val[i] = m.val[i];
        st = write_attrs(o, &s, r);
    }
    if (st == DLT_OK) {
        st = dlt_pred_file_finish(s.f);
        s.f = NULL;
    }
    pred_free(&s);
    return st;
}
