/* State of a running classification job, shared by the loop (classify_run.c)
 * and its checkpoint side (classify_ckpt.c). */
#ifndef DLT_CLASSIFY_RUN_H
#define DLT_CLASSIFY_RUN_H

#include "classify_impl.h"
#include "dlt_comm.h"
#include "dlt_data.h"
#include "report.h"

typedef struct {
    const dlt_classify_config *c;
    dlt_comm *comm;
    int rank, world;
    dlt_graph *g;
    dlt_classify_graph cg;
    dlt_plan *train, *eval;
    dlt_reducer *red;
    dlt_optim *opt;
    dlt_loader *loader, *val;
    int classes, c_in, h, w;
    int64_t step, total_steps, samples_seen, epoch;
    double best_top1;
    dlt_report rep;
    dlt_classify_config cfg; /* with the schedule completed from the run length */
    char last_ckpt[DLT_PATH_MAX];
    int error_on_all_ranks;  /* the failure is the same on every rank (see resume) */
} classify_run;

/* Collective: save <run_dir>/ckpt-<step>.h5 (rank 0 writes), prune, report. */
dlt_status classify_save_checkpoint(classify_run *r);
/* Collective: load c->resume ("", "auto" or a path) into the model, optimizer,
 * counters and data cursor. */
dlt_status classify_resume(classify_run *r);

#endif
