/* Checkpoint v1: one HDF5 file per checkpoint (docs/formats.md). The writer sees
 * named flat tensors only; the trainer gathers them from the graph and the
 * optimizer. */
#ifndef DLT_CKPT_H
#define DLT_CKPT_H

#include "dlt_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLT_CKPT_FORMAT "dltrain-checkpoint"
#define DLT_CKPT_VERSION 1
#define DLT_CKPT_MAX_SLOTS 8

/* Everything that is not a tensor. */
typedef struct {
    int64_t step, epoch, samples_seen;
    uint64_t seed;
    int world_size;
    double loss_scale;     /* dynamic loss scaling's scale; 0 when none */
    int64_t loss_scale_growth; /* its clean steps since the scale last changed */
    int64_t optim_step;    /* optimizer bias-correction step */
    /* data cursors: world_size rows of cursor_len int64 each */
    int cursor_len;
    int64_t *cursors;      /* owned by the caller on save; malloc'd by load */
    char *job_text;        /* TOML text of the job; malloc'd by load */
    double best_metric;    /* best evaluation metric so far: the task's key metric */
    /* On save only (NULL/0: not recorded): best_metric's metrics key ("top1",
     * "perplexity", "mlm_accuracy") and direction, attributes of
     * /state/best_metric; the model's resolved architecture, attributes of
     * /model (docs/models.md). */
    const char *best_metric_name;
    int best_higher_is_better;
    const dlt_kvlist *model;
    /* Phased training (a GAN): phased = 1 writes /state/phase_position, the
     * phase updates done in iteration step + 1 (a checkpoint written between
     * phases); a load sets phased when the file has it. Absent in
     * single-phase checkpoints. */
    int phased;
    int64_t phase_position;
    /* A task's own per-rank state (CycleGAN's image pools): world_size rows
     * of task_state_len floats, /state/task_state; 0: absent. Owned by the
     * caller on save; malloc'd by load. */
    int64_t task_state_len;
    float *task_state;
} dlt_ckpt_state;

/* The tensors a checkpoint holds: parameters and buffers in their real shapes
 * (read through dlt_param_info offsets in the flat buffers) and the optimizer's
 * named slots, laid out like the parameters. */
typedef struct {
    int nparams;
    const dlt_param_info *params;
    float *param_data;
    int nbuffers;
    const dlt_param_info *buffers;
    float *buffer_data;
    int nslots;
    const char *slot_names[DLT_CKPT_MAX_SLOTS];
    float *slot_data[DLT_CKPT_MAX_SLOTS];
    const char *optim_name; /* "sgd", "adam", ... */
} dlt_ckpt_tensors;

/* Fill tensors from a finalized graph (params and buffers); slots are left empty. */
void dlt_ckpt_tensors_from_graph(dlt_graph *g, dlt_ckpt_tensors *t);

/* Write DIR/ckpt-<step, 8 digits>.h5 atomically: a temporary name, flush, fsync,
 * rename, fsync of DIR, then DIR/latest (a symlink) is replaced last. On any
 * error the temporary file is removed and earlier checkpoints stay valid.
 * The final path is written to path_out when given. */
dlt_status dlt_ckpt_save(const char *dir, const dlt_ckpt_tensors *t, const dlt_ckpt_state *st,
                         char *path_out, size_t path_len);

/* Read a checkpoint into the same tensor layout. Errors: DLT_ERR_IO (or
 * NOTFOUND) when the file is damaged: unreadable, a checksum mismatch, /state
 * values no run can have; DLT_ERR_INVALID when it does not fit the model. Every parameter, buffer and slot
 * of `t` must be present with the same shape, and the checkpoint must not hold
 * parameters the model lacks; otherwise a message names the first mismatch.
 * st->cursors and st->job_text are malloc'd (free with dlt_ckpt_state_free). */
dlt_status dlt_ckpt_load(const char *path, const dlt_ckpt_tensors *t, dlt_ckpt_state *st);
void dlt_ckpt_state_free(dlt_ckpt_state *st);

/* Read only the job text (for --resume without a job file). */
dlt_status dlt_ckpt_read_job(const char *path, char **job_text);

/* The newest complete checkpoint in DIR (by step in the file name; files that
 * fail to open as checkpoints are skipped). DLT_ERR_NOTFOUND when none. */
dlt_status dlt_ckpt_find_latest(const char *dir, char *path, size_t len);

/* Delete all but the newest `keep_last` checkpoints in DIR (0 keeps all)
 * among those of step <= `upto` (files of later steps, e.g. damaged ones a
 * resume fell back past, are never counted nor deleted; < 0: all). */
dlt_status dlt_ckpt_prune(const char *dir, int keep_last, int64_t upto);

/* Steps of DIR/ckpt-NNNNNNNN.h5, newest first (malloc'd): their number, or
 * -1 when DIR cannot be read. */
int dlt_ckpt_list(const char *dir, int64_t **steps);

/* One run per run directory (src/io/run_lock.c): an exclusive lock on
 * DIR/.lock recording "pid P on HOST since TIME". A lock held by a live run
 * is DLT_ERR_INVALID naming DIR and the holder; the kernel releases it when
 * the holder ends in any way, so a dead run's lock is taken over (and said). */
typedef struct {
    int fd;
} dlt_run_lock;
dlt_status dlt_run_lock_acquire(const char *dir, dlt_run_lock *lk);
void dlt_run_lock_release(dlt_run_lock *lk); /* fd < 0: no-op */

#ifdef __cplusplus
}
#endif
#endif
