/* State of a running training job, shared by the generic loop (trainer.c)
 * and its checkpoint side (trainer_ckpt.c). */
#ifndef DLT_TRAINER_H
#define DLT_TRAINER_H

#include "dlt_comm.h"
#include "dlt_data.h"
#include "report.h"
#include "task.h"

typedef struct {
    const dlt_train_config *c;
    dlt_comm *comm;
    int rank, world;
    dlt_task *task;
    dlt_graph *g;
    dlt_task_graph tg;
    dlt_plan *train, *eval;
    dlt_reducer *red;
    dlt_optim *opt;
    int64_t step, total_steps, samples_seen, epoch;
    double best_metric;
    dlt_report rep;
    dlt_train_config cfg; /* with the schedule completed from the run length */
    char last_ckpt[DLT_PATH_MAX];
    int error_on_all_ranks;  /* the failure is the same on every rank (see resume) */
} dlt_trainer;

/* Collective: save <run_dir>/ckpt-<step>.h5 (rank 0 writes), prune, report. */
dlt_status dlt_trainer_save_checkpoint(dlt_trainer *r);
/* Collective: load c->resume ("", "auto" or a path) into the model, optimizer,
 * counters and data cursor. */
dlt_status dlt_trainer_resume(dlt_trainer *r);

#endif
