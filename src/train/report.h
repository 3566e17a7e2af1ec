/* What rank 0 tells the user during a run: progress lines, evaluations, the
 * final summary, and runs/<name>/metrics.jsonl. */
#ifndef DLT_REPORT_H
#define DLT_REPORT_H

#include <stdio.h>

#include "dlt_core.h"
#include "dlt_data.h"
#include "dlt_train.h"

typedef struct {
    FILE *jsonl;
    int64_t total_steps, per_epoch;
    double t_start, last_eval_top1, last_eval_top5, last_eval_loss;
    int quiet, tty;
    int64_t first_step; /* step at start (after a resume), for the ETA */
    int started;
} dlt_report;

void dlt_report_open(dlt_report *r, const dlt_classify_config *c, int64_t total_steps, int64_t per_epoch,
                     int world, int nparams, size_t numel, const dlt_mem_report *mem);
void dlt_report_step(dlt_report *r, int64_t step, int64_t epoch, double loss, double acc, double lr,
                     double grad_norm, double samples_per_s);
void dlt_report_eval(dlt_report *r, int64_t step, int64_t epoch, double loss, double top1, double top5,
                     int64_t n, const int64_t *confusion, int classes, const dlt_loader *names);
void dlt_report_checkpoint(dlt_report *r, const char *path);
void dlt_report_close(dlt_report *r, const dlt_classify_result *res, double seconds);
void dlt_report_abandon(dlt_report *r);

#endif
