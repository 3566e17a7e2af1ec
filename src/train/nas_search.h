/* The NAS search driver (nas_search.c, nas_job.c, nas_data.c, nas_state.c):
 * `dltrain JOB` with model.arch = "nas" and a [nas] section.
 *
 * The MPI world splits into groups of nas.ranks_per_child ranks. Each round
 * every rank samples all nas.children children of the round from its replica
 * of the controller (same seed, same draws: no communication), group k trains
 * children k, k + G, k + 2G, ... data-parallel on its sub-communicator for
 * nas.child_steps steps on the training part of data.train, and scores them
 * on the held-out part (the reward: top-1). Rewards are summed over the world
 * (each child's is non-zero on one rank only: the exact value), every rank
 * takes the same REINFORCE step, and the replicas are checked equal. */
#ifndef NAS_SEARCH_H
#define NAS_SEARCH_H

#include "dlt_job.h"
#include "dlt_nas.h"
#include "dlt_train.h"

typedef struct {
    dlt_nas_config ctl;
    int rounds;
    int ranks_per_child;
    int64_t child_steps;
    double val_fraction;
    double baseline_decay;
    int random;    /* random search from the same space (no controller updates) */
    int keep_best; /* best specs written as job files */
    uint64_t seed;
} dlt_nas_search_config;

/* One child's record (search.jsonl, the checkpoint's history). */
typedef struct {
    int round, child, group;
    dlt_spec spec;
    float reward, seconds;
    int64_t params;
    double flops;
} dlt_nas_record;

/* The [nas] keys of a job with model.arch = "nas" into s, and the job as a
 * child's ("spec") into base; the job is left as a "spec" job (the base of
 * the best children's job files). One-line errors naming the key. */
dlt_status dlt_nas_search_from_job(dlt_job *job, dlt_nas_search_config *s, dlt_train_config *base);
/* The children's input shape and classes from the first training shard's
 * header into s->ctl, then dlt_nas_config_check. */
dlt_status dlt_nas_search_input(const dlt_job *job, const dlt_train_config *base,
                                dlt_nas_search_config *s);
/* The search; collective over the world. `job` (as left by from_job) is the
 * base of the job files written for the best children. */
dlt_status dlt_nas_search_run(const dlt_nas_search_config *s, const dlt_train_config *base,
                              const dlt_job *job);

/* nas_data.c: data.train cut into training and validation shards in dir
 * (kept when both exist). */
dlt_status dlt_nas_split_data(const char *train_glob, double val_fraction, uint64_t seed,
                              const char *dir, char *train_out, char *val_out, size_t n);

/* nas_state.c: rank 0's outputs and the checkpoint. */
typedef struct {
    int round;      /* rounds done */
    float baseline; /* the EMA baseline */
    int have_baseline;
    int n, cap; /* records */
    dlt_nas_record *rec;
} dlt_nas_state;
dlt_status dlt_nas_state_add(dlt_nas_state *st, const dlt_nas_record *r);
void dlt_nas_state_free(dlt_nas_state *st);
/* search.jsonl (rewritten whole), reward.png, best-<k>.toml. */
dlt_status dlt_nas_write_outputs(const char *run_dir, const dlt_nas_state *st, int keep_best,
                                 const dlt_job *job);
/* <run_dir>/controller/ckpt-<round>.h5: controller parameters, optimizer
 * state and step, round, baseline and history. */
dlt_status dlt_nas_save(const char *run_dir, dlt_nas_controller *k, const dlt_nas_state *st,
                        uint64_t seed, const char *job_text);
/* Loads `path` ("auto": the newest in <run_dir>/controller; DLT_ERR_NOTFOUND
 * when none) into the controller and st. */
dlt_status dlt_nas_load(const char *run_dir, const char *path, dlt_nas_controller *k,
                        dlt_nas_state *st, const dlt_nas_config *ctl);

#endif
