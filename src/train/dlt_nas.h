/* Neural architecture search (issue 20): the controller of Zoph & Le 2017
 * (macro search space, with ENAS's op-per-layer space as an option) that
 * samples child networks as dlt_spec values (src/models/dlt_spec.h) and
 * learns from their rewards with REINFORCE.
 *
 * The controller is an LSTM unrolled over a fixed number of decisions (static
 * shapes), one row per child of a round: sampling every child of a round is
 * one run of one graph (src/train/nas_controller.c describes the decisions
 * and the anchor-based skip connections). The same graph holds the
 * log-probabilities and entropies of the sampled decisions and the REINFORCE
 * loss, so dlt_grad differentiates it. Draws are keyed by the controller's
 * seed and the round alone (dlt_categorical_sample's global mode): every rank
 * of an MPI world holding a controller with the same seed samples the same
 * children without communicating, and a resumed search draws what the
 * uninterrupted one would have. */
#ifndef DLT_NAS_H
#define DLT_NAS_H

#include <stdint.h>

#include "dlt_optim.h"
#include "dlt_spec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { DLT_NAS_MACRO = 0, DLT_NAS_ENAS } dlt_nas_space;

/* ENAS's six ops (Pham et al. 2018, macro space) as spec layers. */
#define DLT_NAS_ENAS_OPS 6

#define DLT_NAS_MAX_CHOICES 8

typedef struct {
    dlt_nas_space space;
    int nlayers;                                /* layers of a child, 1..DLT_SPEC_MAX_LAYERS */
    int nkernels, kernels[DLT_NAS_MAX_CHOICES]; /* macro: filter sizes (odd) */
    int nfilters, filters[DLT_NAS_MAX_CHOICES]; /* filter counts (one: no decision) */
    int nstrides, strides[4];                   /* strides (one: no decision) */
    int separate_hw;         /* macro: filter height and width are two decisions */
    int skips;               /* anchor-based skip connections */
    int stem_filters;        /* the children's stem (0: none) */
    int hidden, lstm_layers; /* the controller's LSTM */
    int children;            /* children sampled per run (rows) */
    double entropy_weight;   /* beta of the entropy bonus */
    int in_c, in_h, in_w;    /* the children's input */
    int nclasses;            /* the children's classes (their size in search.jsonl) */
    dlt_optim_config optim;  /* the controller's optimizer (Adam 3.5e-4 as ENAS) */
    /* Tests, replays: the decisions are not drawn but read from the graph
     * input "actions" [decisions, children] (dlt_nas_set_actions), in the
     * order nas_controller.c describes. */
    int replay;
} dlt_nas_config;

/* Zoph & Le's space on 1 x 28 x 28 images: 6 layers, kernels 1/3/5/7 (height
 * and width apart), filters 24/36/48/64, stride 1, skips, no stem; an LSTM of
 * 1 layer x 64 units; 4 children per run; entropy weight 1e-4; Adam 3.5e-4. */
void dlt_nas_config_default(dlt_nas_config *c);
/* The rules the controller needs (lists not empty, kernels odd, ...):
 * DLT_ERR_INVALID with one line naming the nas.* key. */
dlt_status dlt_nas_config_check(const dlt_nas_config *c);

typedef struct dlt_nas_controller dlt_nas_controller;

/* Builds the controller's graph (parameters initialised from `seed`) and its
 * optimizer. */
dlt_status dlt_nas_controller_create(const dlt_nas_config *c, uint64_t seed,
                                     dlt_nas_controller **out);
void dlt_nas_controller_free(dlt_nas_controller *k);

/* Samples the children of `round` (c->children specs, each valid for the
 * input: dlt_spec_check_shape passes); logp and entropy (may be NULL) get
 * each child's summed log-probability and entropy of its decisions. A pure
 * function of the parameters, the seed and the round. */
dlt_status dlt_nas_sample(dlt_nas_controller *k, int64_t round, dlt_spec *specs, double *logp,
                          double *entropy);
/* One REINFORCE step for the children of `round` (sampled again: the same
 * draws) with advantages adv[n] = R_n - b: the loss
 *     -(1/N) sum_n adv_n sum_t log p(a_nt) - beta (1/N) sum_n sum_t H_nt
 * is differentiated by dlt_grad, and the optimizer steps with lr. *loss (may
 * be NULL) gets it. */
dlt_status dlt_nas_step(dlt_nas_controller *k, int64_t round, const float *adv, double lr,
                        double *loss);
/* The gradients only (the flat buffer of dlt_nas_graph), no step. */
dlt_status dlt_nas_grad(dlt_nas_controller *k, int64_t round, const float *adv, double *loss);

/* Its graph (flat parameters and gradients: dlt_params_data, dlt_param_at)
 * and optimizer (state for checkpoints). */
dlt_graph *dlt_nas_graph(dlt_nas_controller *k);
dlt_optim *dlt_nas_optim(dlt_nas_controller *k);
/* Sampled decisions per child (categorical and skip draws). */
int dlt_nas_num_decisions(const dlt_nas_controller *k);
const dlt_nas_config *dlt_nas_config_of(const dlt_nas_controller *k);
/* Decisions per child for a configuration (the rows of "actions"). */
int dlt_nas_count_decisions(const dlt_nas_config *c);
/* replay: the decisions, [decisions][children] i32, for the next sample and
 * step (DLT_ERR_INVALID without replay). */
dlt_status dlt_nas_set_actions(dlt_nas_controller *k, const int32_t *actions);

/* `dltrain JOB` for a job with model.arch = "nas" (src/train/nas_job.c):
 * the search over the world (MPI initialised by the caller or here); with
 * print_config the resolved job; with dry_run the resolved job and the first
 * child's model and plan (dlt_train_describe). resume: --resume's value or
 * NULL. Returns the exit status (2: a refused job or setting, one line from
 * rank 0). */
struct dlt_job;
int dlt_nas_main(struct dlt_job *job, const char *resume, int quiet, int print_config, int dry_run);

/* The spec ENAS's op o (0..5: conv 3x3, conv 5x5, sepconv 3x3, sepconv 5x5,
 * maxpool 3x3, avgpool 3x3) gives a layer. */
void dlt_nas_enas_op(int o, dlt_spec_op *op, int *kernel);

#ifdef __cplusplus
}
#endif
#endif
