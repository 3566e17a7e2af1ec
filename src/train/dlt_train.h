/* Training tasks and the pieces the dltrain command drives. One generic
 * data-parallel loop (src/train/trainer.c) runs every task; the task follows
 * from model.arch: image architectures train a classifier, bert-* BERT
 * pre-training (MLM + NSP), gpt* a causal language model, the GAN
 * architectures phased GAN training, vae the variational autoencoder. */
#ifndef DLT_TRAIN_H
#define DLT_TRAIN_H

#include <stdio.h>

#include "dlt_base.h"
#include "dlt_gen.h"
#include "dlt_models.h"
#include "dlt_optim.h"
#include "dlt_transformer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Print "<prog> <version>" and every enabled part of the build with its version
 * (BLAS and its threads, MPI, HDF5, CUDA runtime and driver, cuBLAS, cuDNN, NCCL). */
void dlt_print_build_info(FILE *out, const char *prog);
/* Print every op of the op table, one row each: name, family, whether the CPU
 * and CUDA backends have a kernel for it, and whether it has a gradient rule
 * (dltrain --list-ops). */
void dlt_print_ops(FILE *out);

#define DLT_PATH_MAX 1024
#define DLT_MAX_GROUP_RULES 8

typedef enum {
    DLT_TASK_CLASSIFY = 0, /* image classifiers (dlt_model_archs) on image shards */
    DLT_TASK_CAUSAL_LM,    /* gpt-* / gpt2* on text-tokens shards */
    DLT_TASK_BERT,         /* bert-* on bert-pretraining shards */
    DLT_TASK_GAN,          /* GANs (dlt_gan_archs) on image shards: phased steps (task_gan.c) */
    DLT_TASK_VAE,          /* the variational autoencoder ("vae") on image shards (task_vae.c) */
    DLT_TASK_CYCLEGAN,     /* cyclegan on image-pairs shards: phases g, d (task_cyclegan.c) */
    DLT_TASK_MASKRCNN      /* maskrcnn on detection shards (task_maskrcnn.c) */
} dlt_task_kind;
const char *dlt_task_kind_name(dlt_task_kind k); /* "classification", "causal-lm", "bert-pretraining" */

/* [maskrcnn]: Mask R-CNN's sizes and its training-time selection (task_maskrcnn.c). */
typedef struct {
    int depth, num_classes, trainable_layers; /* num_classes 0: the shards' (with background) */
    char norm;                                /* 'f' frozen batch norm, 'b' batch norm, 'g' group norm */
    int fpn_channels, representation, mask_channels;
    int min_size, max_size, max_boxes; /* the loader's resize; M (0: the shards') */
    int flip;                          /* random horizontal flips */
    float anchor_sizes[5], anchor_ratios[3];
    int nratios;
    int rpn_pre_nms_top_n, rpn_post_nms_top_n, rpn_batch;
    float rpn_positive_fraction, rpn_fg_iou, rpn_bg_iou;
    int roi_batch, rois, mask_positives;
    float roi_positive_fraction, roi_fg_iou, roi_bg_iou;
    int64_t eval_images; /* validation images each evaluation runs on (0: all of data.val) */
} dlt_maskrcnn_config;

/* Everything a training run needs, resolved from the job file. */
enum { DLT_TRAIN_CPU = 0, DLT_TRAIN_CUDA, DLT_TRAIN_AUTO };

/* train.loss_scale: the loss is multiplied by S before backward and the
 * gradients by 1/S after their reduction, so small f16 gradients do not
 * flush to zero. Dynamic (torch.cuda.amp.GradScaler): a step whose gradients
 * overflow is skipped and S halves; S doubles after loss_scale_window clean
 * steps. */
enum { DLT_LOSS_SCALE_NONE = 0, DLT_LOSS_SCALE_STATIC, DLT_LOSS_SCALE_DYNAMIC };

/* Training phases (a GAN's discriminator and generator steps): the job's
 * [phase.<name>] overrides of one phase. Unset fields inherit: the task's
 * default for the phase (its architecture's optimizer, n_critic, weight
 * clipping), then the job's global keys. */
#define DLT_MAX_PHASES 4
typedef struct {
    char name[16];
    char optim[16];       /* "": inherit */
    double lr;            /* 0: inherit */
    double beta1, beta2;  /* set_betas */
    int set_betas;
    double grad_clip;     /* set_grad_clip */
    int set_grad_clip;
    int accumulate;       /* 0: train.accumulate */
    int repeat;           /* 0: the task's default */
    double clip_value;    /* set_clip_value; 0: no clipping */
    int set_clip_value;
    dlt_schedule schedule; /* set_schedule: phase.<name>_schedule with the job's schedule.* values */
    int set_schedule;
} dlt_phase_config;

typedef struct {
    char name[128];          /* run name: runs/<name> */
    char run_dir[DLT_PATH_MAX];
    dlt_task_kind task;
    char arch[32];           /* model.arch */
    dlt_model_spec model;    /* classification */
    dlt_transformer_spec tf; /* transformer tasks: the arch's sizes; vocab comes from the shards */
    dlt_gan_spec gan;        /* GAN task: the arch's spec (img shape from the shards) */
    char gan_loss[24];       /* "", bce, wasserstein, wasserstein-gp ("": the arch's) */
    double gp_lambda;        /* wasserstein-gp's penalty weight */
    int64_t gan_sample_every; /* sample grids every N steps (and at the end); 0: at the end only */
    char gan_fid_classifier[DLT_PATH_MAX]; /* FID's classifier checkpoint; "": no FID */
    char gan_fid_data[DLT_PATH_MAX];       /* FID's real images ("": data.val) */
    int64_t gan_fid_samples;               /* generated images per FID */
    dlt_vae_spec vae;        /* VAE task: vae.* sizes (img shape from the shards) */
    dlt_cyclegan_spec cyclegan; /* cyclegan: widths, blocks (img shape from the shards) */
    double cyc_lambda, cyc_lambda_id; /* cyclegan.lambda_cycle, lambda_identity (x lambda_cycle) */
    int cyc_pool;            /* cyclegan.pool_size: generated images kept per domain per rank */
    dlt_maskrcnn_config mrcnn; /* maskrcnn: maskrcnn.* */
    int optim_given;         /* the job set an optim.* key (GAN phases inherit it then) */
    int nphase_cfg;
    dlt_phase_config phase[DLT_MAX_PHASES];
    int seq_len;             /* causal LM: window T (inputs tokens[:, :T], targets tokens[:, 1:]) */
    /* data */
    char train_glob[DLT_PATH_MAX], val_glob[DLT_PATH_MAX];
    int batch_size;          /* per rank */
    int shuffle, drop_last, crop_pad, flip, loader_threads, prefetch;
    float mean[4], std[4];
    int nmean, nstd;         /* values given: 0 (none), 1 (every channel) or one per channel */
    char mean_where[300], std_where[300]; /* dlt_job_where of data.mean, data.std, for messages */
    /* optimisation */
    dlt_optim_config optim;
    dlt_schedule schedule;
    dlt_param_group_rule rules[DLT_MAX_GROUP_RULES];
    int nrules;
    /* optim.no_decay as given, cut into the rules' patterns: rules[].pattern
     * point into this config's copy (a struct copy of the config still points
     * into the original's, which must outlive it) */
    char rule_patterns[1024];
    double grad_clip;        /* global norm; 0: off */
    int nonfinite_stop;      /* 1: stop the run on a non-finite gradient; 0: skip the step */
    int accumulate;          /* micro-steps per optimizer step */
    float label_smoothing;
    /* schedule of the run */
    int64_t epochs, steps;   /* steps overrides epochs when > 0 */
    uint64_t seed;
    int threads;             /* CPU threads per rank; 0: cores / local ranks */
    int device;              /* DLT_TRAIN_CPU, DLT_TRAIN_CUDA or DLT_TRAIN_AUTO */
    int precision;           /* GPU GEMM/convolution math: dlt_precision (dlt_gpu.h) */
    int loss_scaling;        /* DLT_LOSS_SCALE_NONE, _STATIC or _DYNAMIC */
    double loss_scale;       /* the static scale, or the dynamic scaler's first */
    int64_t loss_scale_window; /* dynamic: steps without inf/NaN before the scale doubles */
    /* evaluation */
    int64_t eval_every_steps; /* 0: at the end of every epoch */
    int eval_batch_size;
    /* checkpoints */
    int64_t ckpt_every_steps;
    double ckpt_every_minutes;
    int keep_last;
    char resume[DLT_PATH_MAX]; /* "", "auto" or a checkpoint path */
    int resume_changed;        /* --resume-changed: a finished run's checkpoint may hold another job */
    /* distribution */
    double bucket_mb;
    double timeout_s;
    int zero;
    int reduce_bf16;          /* dist.reduce_dtype = "bf16": gradients all-reduced in bf16 */
    int cuda_graphs;          /* train.cuda_graphs: plans replayed from CUDA graphs where they can be */
    int recompute;            /* train.recompute: dlt_graph_set_recompute of the training graph */
    int debug_collectives;
    int check_every;          /* replica checksum every K steps; 0: start and resume only */
    /* the communicator the run is collective over (NULL: a duplicate of the
     * MPI world). NAS children pass their group's (dlt_comm_split); the
     * caller keeps it, and its backend must suit the device (NCCL on a GPU). */
    struct dlt_comm *comm;
    /* logging */
    int64_t log_every;
    int quiet, verbose;
    int tensorboard;
    int trace;                /* Chrome-trace timeline per rank */
    int64_t trace_warmup, trace_steps; /* steps skipped, then steps recorded */
    const char *job_text;     /* resolved job as TOML, stored in checkpoints */
} dlt_train_config;

/* The device a "cuda" or "auto" job runs on instead of a GPU, for programs
 * that bring their own backend (the tests' stand-in device and emulated CUDA
 * kernels: tests/train/standin_dltrain, tests/gpu/emu_dltrain); its gradients
 * are reduced with MPI. NULL (the default): the rank's GPU, if any. Jobs with
 * train.device = "cpu" run on the CPU backend either way. Process-wide: set
 * it before the run starts. */
struct dlt_backend;
void dlt_train_set_device_backend(struct dlt_backend *be);
/* Tests: after n phase updates of a phased task (counted from the start of
 * the run; 0: never) every rank behaves as if a SIGTERM had arrived then:
 * a deterministic stop between phases (tests/train/standin_dltrain reads it
 * from DLT_TEST_STOP_AFTER_UPDATES). Process-wide. */
void dlt_train_set_stop_after(int64_t n);

void dlt_train_config_default(dlt_train_config *c);
struct dlt_job;
/* Fill c from a validated job (src/io/dlt_job.h); semantic errors name the
 * key and where its value came from ("jobs/x.toml:7: data.train ...").
 * model.arch picks the task; an architecture no task trains (the
 * encoder-decoder transformer-*) is DLT_ERR_INVALID naming it. */
dlt_status dlt_train_config_from_job(struct dlt_job *job, dlt_train_config *c);
/* Records in the job the values the run takes from its architecture rather
 * than from the job (a transformer's dropout when model.dropout is unset), so
 * that the resolved job says what runs. After dlt_train_config_from_job(job, c);
 * an error is dlt_job_set's. */
dlt_status dlt_train_job_record_defaults(struct dlt_job *job, const dlt_train_config *c);
/* Warns (one line each, naming where it was set) about keys the job sets that
 * do not apply to its model.arch; they are ignored and left out of the
 * resolved job (which dlt_train_config_from_job scopes to the arch). */ 
void dlt_train_job_warn_ignored(const struct dlt_job *job);
/* Set what schedules derive from the run length (cosine T_max, warm-up decay). */
void dlt_train_config_set_total_steps(dlt_train_config *c, int64_t total);

typedef struct {
    int64_t steps_done;
    double train_loss;       /* last logged global mean */
    double eval_loss;        /* last evaluation (NaN when none ran) */
    double eval_metric;      /* last evaluation's key metric: top-1, perplexity, MLM accuracy */
    double best_metric;      /* best eval_metric so far (kept in checkpoints) */
    double samples_per_s;
    int preempted;           /* stopped by a signal after saving */
    int stop_signal;         /* that signal, agreed by all ranks: SIGUSR1, or SIGTERM if any rank had it first */
    int already_finished;    /* resumed a checkpoint at or past the last step: nothing ran or was written */
    int error_on_all_ranks;  /* the error is the same on every rank (e.g. a checkpoint that
                              * does not fit the model): rank 0 alone reports it, no abort */
    char last_ckpt[DLT_PATH_MAX];
} dlt_train_result;

/* Runs training (and evaluation) on every rank of the MPI world; collective.
 * Requires MPI to be initialised (dlt_world_init). */
dlt_status dlt_train_run(const dlt_train_config *c, dlt_train_result *res);

/* Before a run, on every rank: the data globs match shards whose headers
 * open, are of the kind the task trains on, hold at least one global batch of
 * `world_size` ranks, and agree with the model and each other (classes,
 * sample shape, vocabulary). Reads no samples. DLT_ERR_INVALID with a message
 * naming data.train, data.val or the key. */
dlt_status dlt_train_check_data(const dlt_train_config *c, int world_size);

/* --dry-run: open the training shards, build the model and its training plan,
 * print the model summary and memory per rank to out. Not collective. */
dlt_status dlt_train_describe(const dlt_train_config *c, int world_size, FILE *out);

/* dltrain generate: text from a causal-LM checkpoint. The job stored in the
 * checkpoint gives the model (batch 1, context data.seq_len) and the shards
 * whose tokenizer encodes the prompt and decodes the result (data_override,
 * when set, replaces the job's data.train glob). Sampling is autoregressive
 * with a full forward pass per token over the last seq_len tokens:
 * temperature 0 is greedy, top_k > 0 keeps the k most likely tokens. Bad input
 * (not a GPT checkpoint, no shards, a prompt longer than the context) is
 * DLT_ERR_INVALID or DLT_ERR_NOTFOUND with one line of message. */
typedef struct {
    const char *ckpt, *prompt, *data_override;
    /* instead of prompt: start from these token ids (checked against the
     * vocabulary); NULL: encode prompt */
    const int32_t *prompt_ids;
    int64_t nprompt_ids;
    int max_new_tokens;   /* default 64 */
    double temperature;   /* default 1.0 */
    int top_k;            /* default 0: all tokens */
    uint64_t seed;        /* default 0 */
    int threads;          /* 0: all cores */
} dlt_generate_opts;
void dlt_generate_opts_default(dlt_generate_opts *o);
/* *text (malloc'd) holds the decoded prompt and continuation; *ntokens (may be
 * NULL) the number of new tokens. */
dlt_status dlt_generate(const dlt_generate_opts *o, char **text, int *ntokens);
/* The same, with the token ids: ids[0..nprompt) the prompt as the model saw
 * it (an empty prompt: the end-of-text id it starts after), then the new
 * tokens; text decodes them (without that leading end of text). */
typedef struct {
    char *text;
    int32_t *ids;
    int64_t nids, nprompt;
} dlt_generate_result;
dlt_status dlt_generate_ids(const dlt_generate_opts *o, dlt_generate_result *r);
void dlt_generate_result_free(dlt_generate_result *r);

/* dltrain predict: the checkpoint's model (its job's task, built and planned
 * as the trainer's evaluation does, with the checkpoint's parameters and
 * buffers) over every sample of the shards `data` (NULL: the job's data.val),
 * in order, each once; per-sample rows go to the prediction file `out`
 * (docs/formats.md), the task's evaluation metrics to r. One process, CPU.
 * Bad input (no shards, shards of another kind, a model that does not fit
 * them) is DLT_ERR_INVALID or DLT_ERR_NOTFOUND with one line of message. */
typedef struct {
    const char *ckpt, *data, *out;
    int batch;   /* samples per forward pass; 0: the job's data.batch_size */
    int threads; /* 0: the job's train.threads, else all cores */
    int logits;  /* GPT and BERT: also the per-token logits (large) */
} dlt_predict_opts;
typedef struct {
    int64_t samples, step;
    const char *task; /* dlt_task_kind_name */
    int n;            /* metrics: the task's evaluation metrics */
    const char *key[8];
    double val[8];
} dlt_predict_result;
dlt_status dlt_predict(const dlt_predict_opts *o, dlt_predict_result *r);

/* dltrain export: the tokenizer of a transformer checkpoint's shards (the
 * job's data.train, or data_override) written into the folder dir as Hugging
 * Face's files (dlt_tokenizer_write_hf; model_max_length: the model's
 * positions). A checkpoint of an image classifier writes nothing (written = 0). */
typedef struct {
    int written, vocab_size, num_merges;
    const char *type; /* "bpe", "wordpiece" */
    char files[160];  /* the names written, comma-separated */
} dlt_tokenizer_export_info;
dlt_status dlt_export_tokenizer(const char *ckpt, const char *data_override, const char *dir,
                                dlt_tokenizer_export_info *info);

/* Host-side metrics of one evaluation batch: top-1/top-5 hits and the
 * confusion matrix (classes x classes, row = true label) over the first `valid`
 * rows of logits [n, classes]. */
void dlt_classify_count(const float *logits, const int32_t *labels, int valid, int classes,
                        int64_t *top1, int64_t *top5, int64_t *confusion);

#ifdef __cplusplus
}
#endif
#endif
