/* The task interface of the generic trainer (trainer.c). A task owns its data
 * (loaders, cursors), builds the graph (inputs, model, the loss and how the
 * reducer averages it), feeds batches into a plan, and turns what a plan
 * computed into named metrics. The trainer owns everything else: the
 * communicator, reducer, optimizer, schedule, clipping, logging, evaluation
 * loop, checkpoints, resume, preemption and traces.
 *
 * Metrics travel as sums: after each micro-step (or evaluation batch) the task
 * adds what it needs to an array of doubles (loss sums, hit counts, token
 * counts); the trainer sums the arrays over ranks and the task divides. */
#ifndef DLT_TASK_H
#define DLT_TASK_H

#include "dlt_comm.h"
#include "dlt_core.h"
#include "dlt_data.h"
#include "dlt_maskrcnn.h"
#include "dlt_predfile.h"
#include "dlt_text.h"
#include "dlt_train.h"
#include "report.h"

/* Padded samples carry this label: every loss here ignores it. */
#define DLT_IGNORE_LABEL (-100)
#define DLT_TASK_MAX_OUTS 6
/* The first evaluation step key of tasks with eval_fixed_key (beyond any
 * training step: train.steps stops at 10^12). */
#define DLT_TASK_EVAL_KEY ((int64_t)1 << 62)

typedef struct dlt_task dlt_task;

/* One phase of a phased step (a GAN's discriminator and generator
 * updates): its own loss, the parameters it updates (gradients w.r.t. them
 * only: a generator loss that flows through the discriminator gives the
 * discriminator no gradient), plan outputs, and the task's defaults for
 * what the job may override ([phase], dlt_phase_config). */
typedef struct {
    char name[16];
    dlt_t loss;
    int nparams;
    dlt_t *params, *grads; /* dlt_grad over params only (malloc'd; the trainer frees them) */
    int nouts;             /* plan outputs accumulate() reads in this phase */
    dlt_t outs[DLT_TASK_MAX_OUTS];
    dlt_optim_config optim; /* the architecture's optimizer for this phase */
    int repeat;             /* updates per iteration (n_critic) */
    double clip_value;      /* > 0: parameters clamped to [-c, c] after each update */
} dlt_task_phase;
#define DLT_TASK_MAX_PHASES DLT_MAX_PHASES

/* What build() makes. */
typedef struct {
    /* > 0: a phased task (task_gan.c): each iteration runs phases[0..n) in
     * order, phases[k].repeat times each, and loss/params/grads/contract
     * below are unused except contract (how every phase's loss averages). */
    int nphases;
    dlt_task_phase phases[DLT_TASK_MAX_PHASES];
    dlt_t loss;                 /* scalar whose parameter gradients are reduced */
    dlt_grad_contract contract; /* SUM: loss sums over dlt_task_batch.weight units;
                                 * MEAN: loss is a mean over them (see dlt_comm.h) */
    int nparams;
    dlt_t *params, *grads; /* dlt_grad_params (malloc'd; the trainer frees them) */
    int nouts;             /* plan outputs the metrics read (loss first) */
    dlt_t outs[DLT_TASK_MAX_OUTS];
    dlt_t flops_out; /* forward output whose FLOPs --dry-run reports */
    dlt_t loss_scale; /* f32 input the trainer sets to the loss scale each step; -1: none */
    dlt_kvlist model; /* the resolved architecture (dlt_model_describe, dlt_transformer_describe) */
    dlt_t pred_out;   /* one more output predict() reads, or -1 (predict.c sets -1 before
                       * build; the trainer's plans ignore it) */
} dlt_task_graph;

/* One fed batch. */
typedef struct {
    int samples;   /* valid samples: images, windows, sequences (padding excluded) */
    double weight; /* what the reducer divides by: samples, or target tokens */
    int64_t epoch; /* loader epoch of the batch */
    int last_in_epoch;
} dlt_task_batch;

typedef struct {
    const char *name;
    /* Headers only, before a run (dlt_train_check_data). */
    dlt_status (*check)(const dlt_train_config *c, int world);
    /* Opens the data for rank/world (validation too when data.val is set) and
     * fills the counters of the dlt_task below. */
    dlt_status (*open)(dlt_task *t);
    dlt_status (*build)(dlt_task *t, dlt_graph *g, dlt_task_graph *tg);
    /* Next batch of the training (train = 1) or validation loader into p. */
    dlt_status (*feed)(dlt_task *t, dlt_plan *p, int train, dlt_task_batch *b);
    /* After p ran on the batch just fed: add its metric sums. */
    void (*accumulate)(dlt_task *t, dlt_plan *p, int train, const dlt_task_batch *b, double *sums);
    /* Metrics from sums reduced over ranks (train: ntrain_sums, else neval_sums). */
    void (*metrics)(const dlt_task *t, int train, const double *sums, dlt_metrics *m);
    dlt_loader_cursor (*get_cursor)(const dlt_task *t); /* training loader */
    dlt_status (*set_cursor)(dlt_task *t, int train, dlt_loader_cursor c);
    /* dltrain predict (predict.c): after p, a plan of outs and pred_out, ran
     * on the evaluation batch just fed, append the rows of its valid samples
     * to the prediction file (docs/formats.md); logits: also the per-token
     * logits of the transformer tasks. */
    dlt_status (*predict)(dlt_task *t, dlt_plan *p, const dlt_task_batch *b, int logits,
                          dlt_pred_file *f);
    /* Optional (NULL: none), collective: every rank calls it after
     * iteration `step` of training (last: the run's final one) with g, the
     * training graph; tb: rank 0's TensorBoard writer, else NULL. Metrics it
     * puts in *m (m->n > 0; rank 0's count) are reported as an evaluation.
     * The GAN task's sample grids and FID. */
    dlt_status (*after_step)(dlt_task *t, dlt_graph *g, dlt_comm *comm, int64_t step, int last,
                             dlt_tb_writer *tb, dlt_metrics *m);
    /* --dry-run: one line on the data and model ("# model ... on ..."). */
    void (*describe)(const dlt_task *t, FILE *out);
    void (*close)(dlt_task *t);
    /* Optional (NULL: none): host state of the task's own that a checkpoint
     * keeps per rank (/state/task_state; CycleGAN's image pools): its size
     * in floats (the same on every rank), a copy of it, and its restore from
     * this rank's row of a checkpoint (n: the row's length). */
    int64_t (*state_len)(const dlt_task *t);
    void (*state_get)(const dlt_task *t, float *out);
    dlt_status (*state_set)(dlt_task *t, const float *in, int64_t n);
    /* Optional: after the last step of a run that was not stopped early, on
     * every rank (CycleGAN's translation grids, rank 0). */
    dlt_status (*finish)(dlt_task *t);
} dlt_task_ops;

struct dlt_task {
    const dlt_task_ops *ops;
    const dlt_train_config *c;
    int rank, world;
    /* filled by open */
    int64_t steps_per_epoch; /* micro-batches per epoch of the training loader */
    int64_t num_samples;     /* training samples */
    int64_t val_steps;       /* batches of one evaluation; 0: no validation data */
    int ntrain_sums, neval_sums;
    int tokens_per_sample; /* > 0: throughput is also reported in tokens/s, and every
                            * sample weighs exactly this many (samples_seen) */
    int best_higher; /* the key eval metric improves upwards (accuracy) or down (perplexity) */
    const char *best_key; /* its metrics key ("top1", "perplexity", "mlm_accuracy") */
    int phase; /* phased tasks: the phase whose plan feed/accumulate see (set by the trainer) */
    int64_t phase_step; /* ... and its exec step key (trainer_phase.c) */
    /* Set by open(): evaluation batch s (and dltrain predict's) runs with the
     * step key DLT_TASK_EVAL_KEY + s instead of the training step, so the
     * in-graph random draws of an evaluation (the VAE's eps) are the same at
     * every evaluation of the run: its metric is reproducible. */
    int eval_fixed_key;
    void *impl;
};

extern const dlt_task_ops dlt_task_classify, dlt_task_causal_lm, dlt_task_bert, dlt_task_gan;
extern const dlt_task_ops dlt_task_vae;
extern const dlt_task_ops dlt_task_cyclegan; /* task_cyclegan.c */
extern const dlt_task_ops dlt_task_maskrcnn; /* task_maskrcnn.c */
/* The Mask R-CNN networks' spec of a job's [maskrcnn] keys with `classes`
 * classes (the shards', or a checkpoint's /model): what the task builds and
 * what dltrain detect reads a checkpoint with. */
void dlt_task_maskrcnn_spec(const dlt_train_config *c, int classes, dlt_maskrcnn_spec *net);
/* CycleGAN's phases, ph[0] "g" then ph[1] "d": names and the reference's
 * optimizer (Adam 2e-4, betas (0.5, 0.999)), repeat 1. */
void dlt_task_cyclegan_phase_defaults(dlt_task_phase *ph);
const dlt_task_ops *dlt_task_ops_for(dlt_task_kind k);
/* The GAN task (task_gan.c): its loss ("bce", "wasserstein",
 * "wasserstein-gp": gan.loss or the architecture's), and its phases' names
 * and defaults (ph[0] "d", ph[1] "g": optimizer, repeat, clip value). */
const char *dlt_task_gan_loss(const dlt_train_config *c);
void dlt_task_gan_phase_defaults(const dlt_train_config *c, dlt_task_phase *ph);
/* Creates the task of c->task for rank/world and opens its data. */
dlt_status dlt_task_open(const dlt_train_config *c, int rank, int world, dlt_task **out);
void dlt_task_close(dlt_task *t);

/* The end of every build(): the parameter gradients of tg->loss (set
 * tg->params/grads/nparams), through a "loss_scale" input when the job scales
 * its loss (tg->loss_scale; -1 otherwise). tg->loss itself stays unscaled. */
dlt_status dlt_task_grads(const dlt_task *t, dlt_graph *g, dlt_task_graph *tg);

/* Shared by the transformer tasks: the spec of c->tf with the shards'
 * vocabulary and the job's dropout. */
dlt_transformer_spec dlt_task_tf_spec(const dlt_train_config *c, int vocab);
/* A text loader over glob for the task's batch (and GPT window); meta: headers only. */
dlt_status dlt_task_text_loader(const dlt_train_config *c, const char *glob, int train, int rank,
                                int world, int meta, dlt_text_loader **out);
/* The first member of a text task's state: its training and validation loaders,
 * which the shared cursor and close functions below use. */
typedef struct {
    dlt_text_loader *loader, *val;
} dlt_text_loaders;
dlt_loader_cursor dlt_task_text_get_cursor(const dlt_task *t);
dlt_status dlt_task_text_set_cursor(dlt_task *t, int train, dlt_loader_cursor c);
void dlt_task_text_close(dlt_task *t); /* closes both loaders, frees the state */
/* check() of the transformer tasks: shards of the right kind, one vocabulary. */
dlt_status dlt_task_check_text(const dlt_train_config *c, int world);
/* The job stored in a checkpoint, resolved (generate, predict, export):
 * *job and *text are the caller's to free (also on error). */
struct dlt_job;
dlt_status dlt_task_config_from_ckpt(const char *ckpt, struct dlt_job **job, char **text,
                                     dlt_train_config *c);
/* predict(): the argmax of each of the n rows of x[n, k] into a malloc'd array. */
int32_t *dlt_task_argmax_rows(const float *x, int64_t n, int64_t k);
/* Index of the largest of x[0..n) (first on ties). */
int dlt_task_argmax(const float *x, int64_t n);

#endif
