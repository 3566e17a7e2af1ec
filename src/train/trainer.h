/* State of a running training job, shared by the generic loop (trainer.c)
 * and its checkpoint side (trainer_ckpt.c). */
#ifndef DLT_TRAINER_H
#define DLT_TRAINER_H

#include "dlt_ckpt.h"
#include "dlt_comm.h"
#include "dlt_data.h"
#include "dlt_dist.h"
#include "dlt_gpu.h"
#include "report.h"
#include "task.h"

/* One phase of a phased task (trainer_phase.c): its resolved settings and
 * its own reducer, plan and optimizer over its contiguous flat range. */
typedef struct {
    const dlt_task_phase *def; /* the task's (in dlt_trainer.tg) */
    dlt_optim_config optim;
    dlt_schedule schedule; /* the job's schedule over the phase's lr */
    double grad_clip, clip_value;
    int accumulate, repeat;
    dlt_dist *dist;
    dlt_reducer *red; /* dist's (borrowed) */
    dlt_plan *plan;
    dlt_optim *opt; /* state for [lo, hi) only */
    size_t lo, hi;  /* the phase's parameters in the flat buffers */
    double gnorm;   /* of its last update */
} dlt_trainer_phase;

typedef struct {
    const dlt_train_config *c;
    dlt_comm *comm;
    int rank, world;
    dlt_task *task;
    dlt_graph *g;
    dlt_task_graph tg;
    dlt_plan *train, *eval;
    dlt_dist *dist;   /* the graph's data parallelism (layout, readiness, optimizer step) */
    dlt_reducer *red; /* dist's reducer (borrowed): buckets, shards, timing */
    dlt_optim *opt;
    /* a phased task (tg.nphases > 0): dist, red, train and opt above stay
     * NULL and each phase has its own */
    int nphases;
    dlt_trainer_phase ph[DLT_TASK_MAX_PHASES];
    int64_t pos;     /* phase updates done in iteration step + 1 (a stop between phases) */
    int stopped_mid; /* the last phased step stopped between phases (pos > 0) */
    int stop_term;   /* ... and the agreed stop was a SIGTERM somewhere */
    dlt_gpu *gpu;    /* the rank's GPU when it trains there, else NULL */
    dlt_backend *be; /* where the model lives: the GPU, a device the program gave, or the CPU backend */
    int64_t step, total_steps, samples_seen, epoch;
    dlt_loss_scaler scaler; /* train.loss_scale (disabled: scale 1) */
    /* On a device the next micro-batch is fed and uploaded while this one's
     * backward runs: it sits in the train plan's staging (have_next), fed
     * with loss scale next_scale, and the checkpointed data position is the
     * one before it (cursor_next). */
    int have_next;
    dlt_task_batch next;
    float next_scale;
    dlt_loader_cursor cursor_next;
    int64_t skipped_steps;  /* by the dynamic loss scaler, this run */
    double best_metric;
    int best_from_hook; /* best_metric came from the task's after_step metrics */
    dlt_report rep;
    dlt_train_config cfg; /* with the schedule completed from the run length */
    char last_ckpt[DLT_PATH_MAX];
    int error_on_all_ranks;  /* the failure is the same on every rank (see resume) */
    dlt_run_lock lock;       /* rank 0: <run_dir>/.lock, held for the run */
    int finished;            /* the resumed checkpoint is at or past total_steps */
} dlt_trainer;

/* Collective: one optimizer step (trainer_step.c). sums: samples, reducer
 * weight, then the task's training sums (added to); *gnorm: the global
 * gradient norm. */
dlt_status dlt_trainer_step(dlt_trainer *r, double *sums, double *gnorm);
/* Phased tasks (trainer_phase.c). After build(): resolves each phase's
 * settings (task defaults, [phase] overrides), lays the parameters out so
 * that each phase owns one contiguous range, and creates its reducer, plan
 * and optimizer. */
dlt_status dlt_trainer_phases_setup(dlt_trainer *r);
/* One phase's settings from the task's default d and the job (see
 * trainer_phase.c, Settings); sets ph->def = d. */
dlt_status dlt_trainer_phase_resolve(const dlt_train_config *c, const dlt_task_phase *d, dlt_trainer_phase *ph);
/* Collective: one iteration: every phase in order, `repeat` updates each. */
dlt_status dlt_trainer_phased_step(dlt_trainer *r, double *sums, double *gnorm);
void dlt_trainer_phases_free(dlt_trainer *r);
/* Collective (trainer.c): whether any rank was asked to stop (a signal, or
 * the tests' dlt_train_set_stop_after), *term: a SIGTERM among them. */
dlt_status dlt_trainer_stop_agreed(dlt_trainer *r, int *stop, int *term);
/* One phase update done (the tests' dlt_train_set_stop_after counts them). */
void dlt_trainer_count_update(void);
/* Phase k's lr at iteration `step`: the job's schedule over its lr. */
double dlt_trainer_phase_lr(const dlt_trainer *r, int k, int64_t step);
/* Training batches one step (iteration) consumes: train.accumulate, or the
 * first phase's repeat x accumulate. */
int64_t dlt_trainer_batches_per_step(const dlt_train_config *c, const dlt_trainer *r);
/* The optimizer state of every phase in one parameter-shaped view for a
 * checkpoint: per slot name (the union over the phases), a buffer of the
 * whole flat size holding each phase's state in its range and zeros
 * elsewhere (free with dlt_trainer_free_full_state's rule: nslots arrays).
 * *name: the optimizer, or "d:rmsprop,g:adam" when the phases differ. */
dlt_status dlt_trainer_phase_state(dlt_trainer *r, int *nslots, const char **slot_names, float ***full,
                                   char *name, size_t len);
/* Collective, ZeRO-1: every phase's shards of the other ranks into the
 * union view on rank 0 (dlt_zero_gather per phase). */
dlt_status dlt_trainer_phase_gather(dlt_trainer *r, float *const *full, const char *const *slot_names,
                                    int nslots);
/* The loaded union view back into each phase's optimizer (host slots; each
 * rank its own shards under ZeRO-1). */
void dlt_trainer_phase_state_scatter(dlt_trainer *r, float *const *full, const char *const *slot_names, int nslots);
/* Each phase's optimizer: host mirrors to/from the device. */
dlt_status dlt_trainer_phases_optim_sync(dlt_trainer *r, int to_device);

/* Collective: rank 0's batch-norm statistics to every rank (where they live:
 * device memory on a GPU). */
dlt_status dlt_trainer_bcast_buffers(dlt_trainer *r);
/* A GPU run: the model (and optimizer state) between device and host mirrors
 * (no-ops on the CPU). */
dlt_status dlt_trainer_to_host(dlt_trainer *r, int with_optim);
dlt_status dlt_trainer_to_device(dlt_trainer *r, int with_optim);
/* Collective, before the replica is broadcast: every rank runs the same job,
 * graph (parameter names and shapes, flat layout, buckets) and step count,
 * else DLT_ERR_INVALID naming the first difference (trainer_agree.c). */
dlt_status dlt_trainer_agree(dlt_trainer *r);
/* Collective: save <run_dir>/ckpt-<step>.h5 (rank 0 writes), prune, report. */
dlt_status dlt_trainer_save_checkpoint(dlt_trainer *r);
/* Collective: load c->resume ("", "auto" or a path) into the model, optimizer,
 * counters and data cursor. */
dlt_status dlt_trainer_resume(dlt_trainer *r);

/* ZeRO-1 (trainer_zero.c). The flat ranges whose optimizer state `rank` holds:
 * its shard of each of the reducer's buckets (*n = buckets; empty shards
 * included; free *out). */
dlt_status dlt_zero_ranges(const dlt_reducer *red, int world, int rank, dlt_optim_range **out, int *n);
/* Bytes of optimizer state rank `rank` holds with nslots slots. */
size_t dlt_zero_state_bytes(const dlt_reducer *red, int world, int rank, int nslots);
/* "optimizer state 1.03 MiB (1081344 bytes) per rank (ZeRO-1 over 2 ranks;
 * 2.06 MiB, 2162688 bytes unsharded)", or without the parenthesis (zero 0). */
void dlt_optim_memory_line(char *buf, size_t len, size_t per_rank, size_t unsharded, int zero, int world);
/* Buffers for the whole (unsharded) optimizer state: one array per slot of
 * dlt_optim_total floats, zeroed; free with dlt_trainer_free_full_state. */
dlt_status dlt_trainer_full_state(dlt_trainer *r, float ***full);
void dlt_trainer_free_full_state(dlt_trainer *r, float **full);
/* Collective, after dlt_trainer_to_host(r, 1): every rank's shards into
 * full[] on rank 0 (the other ranks' full is not used; may be NULL). */
dlt_status dlt_trainer_zero_gather(dlt_trainer *r, float *const *full);
/* The same for any reducer and its optimizer (a phase's): full[s] is opt's
 * slot s on rank 0. */
dlt_status dlt_zero_gather(dlt_trainer *r, const dlt_reducer *red, dlt_optim *opt, float *const *full);
/* A loaded whole state into this rank's shards (host slots; upload after). */
void dlt_trainer_zero_scatter(dlt_trainer *r, float *const *full);

#endif
