/* What a run tells the user: rank 0's progress lines, evaluations, the final
 * summary, runs/<name>/metrics.jsonl and TensorBoard event files; and every
 * rank's Chrome-trace timeline (runs/<name>/trace-rank<R>.json). */
#ifndef DLT_REPORT_H
#define DLT_REPORT_H

#include <stdio.h>

#include "dlt_comm.h"
#include "dlt_core.h"
#include "dlt_data.h"
#include "dlt_logio.h"
#include "dlt_train.h"

typedef struct dlt_report_trace dlt_report_trace;

/* Named metrics of a task (training interval or evaluation). The first is the
 * loss; `key` is the metrics.jsonl key (and TensorBoard's train/<key>,
 * eval/<key>), `label` what progress lines print. */
#define DLT_MAX_METRICS 16
typedef struct {
    int n;
    const char *key[DLT_MAX_METRICS], *label[DLT_MAX_METRICS];
    double val[DLT_MAX_METRICS];
    int best;               /* evaluation: index of the key metric (best_metric) */
    int64_t samples;        /* evaluation: samples evaluated */
    const int64_t *confusion; /* evaluation, classification: classes x classes, or NULL */
    int classes;
    const dlt_loader *names;  /* class names, or NULL */
} dlt_metrics;

typedef struct {
    FILE *jsonl;
    dlt_tb_writer *tb;          /* NULL unless log.tensorboard */
    dlt_report_trace *trace;    /* every rank; NULL unless log.trace */
    int64_t total_steps, per_epoch;
    double t_start;
    dlt_metrics last_eval;      /* n = 0 until an evaluation ran */
    int quiet, tty;
    int64_t first_step; /* step at start (after a resume), for the ETA */
    char jsonl_path[DLT_PATH_MAX + 32];
    int64_t jsonl_lost;     /* metrics.jsonl lines that could not be written */
    int jsonl_ok;           /* the last line reached the file */
    double loss_scale;      /* dynamic loss scaling: the current scale (step lines); 0: none */
    int64_t skipped_steps;  /* steps the loss scaler skipped so far */
} dlt_report;

void dlt_report_open(dlt_report *r, const dlt_train_config *c, int64_t total_steps, int64_t per_epoch,
                     int world, int nparams, int64_t numel, const dlt_mem_report *mem);
/* The first step is about to run (step = steps done before it: 0, or the
 * resumed step): the ETA counts from here. */
void dlt_report_begin(dlt_report *r, int64_t step);
/* tokens_per_s < 0: the task has no tokens (not printed nor recorded). */
void dlt_report_step(dlt_report *r, int64_t step, int64_t epoch, const dlt_metrics *m, double lr,
                     double grad_norm, double samples_per_s, double tokens_per_s);
void dlt_report_eval(dlt_report *r, int64_t step, int64_t epoch, const dlt_metrics *m);
void dlt_report_checkpoint(dlt_report *r, const char *path);
void dlt_report_close(dlt_report *r, const dlt_train_result *res, double seconds);
void dlt_report_abandon(dlt_report *r);

/* The timeline (log.trace). Every rank calls these; all are no-ops when the
 * trace is off or the recorded steps are done, and cost a clock read at most.
 * open: after dlt_report_open (which clears *r on rank 0). A trace that cannot
 * be written is a warning, never a failed run. */
void dlt_report_trace_open(dlt_report *r, const dlt_train_config *c, int rank, dlt_reducer *red);
/* At the start of each optimizer step: ends the previous step's span, writes
 * the buffered spans, and decides whether this step is recorded (after
 * log.trace_warmup steps, for log.trace_steps steps; then the file is closed). */
void dlt_report_trace_step(dlt_report *r, int64_t step);
/* The clock (dlt_trace_clock) while a step is recorded, else 0. */
double dlt_report_trace_now(const dlt_report *r);
/* A span from `since` (dlt_report_trace_now) to now on the compute thread. */
void dlt_report_trace_span(dlt_report *r, const char *name, const char *cat, double since);
/* Before dlt_plan_run, after dlt_dist_exec_opts: times every plan node
 * (spans named by node, with the op; category forward or backward), chaining
 * the callback already installed in o. */
void dlt_report_trace_plan(dlt_report *r, dlt_plan *p, dlt_exec_opts *o);
/* After dlt_dist_finish: one span per gradient bucket from the start of its
 * all-reduce to its observed completion, and the wait in finish. */
void dlt_report_trace_buckets(dlt_report *r);
/* Every rank, at the end of the run (also after a failure). */
void dlt_report_trace_close(dlt_report *r);

#endif
