/* Sample grids of a GAN's generator (gan_sample.c): the grids the GAN task
 * writes during training (<run_dir>/samples/step-<8 digits>.png and a
 * TensorBoard image "samples") and `dltrain sample`, which draws the same
 * grid from a checkpoint.
 *
 * The generator runs in a graph of its own (the sampler's), built the same
 * way in both places: noise z [n, z_dim] drawn in the graph by
 * dlt_random_normal_samples from sample index 0 with the exec step key
 * DLT_GAN_SAMPLE_KEY (negative: no training run ever uses it) and the
 * sampler graph's seed (the job's seed unless --seed gives another), so the
 * fixed noise is the same at every step of a run, after a resume, and in
 * `dltrain sample` of the run's checkpoints. The generator runs in
 * evaluation mode: batch norm normalises with its running statistics (as
 * netG.eval() in PyTorch; the torch DCGAN example samples in training mode,
 * with the statistics of the sample batch itself). Its parameters and
 * buffers are copied by name from another graph: the training graph, or
 * one that holds a checkpoint. */
#ifndef DLT_GAN_SAMPLE_H
#define DLT_GAN_SAMPLE_H

#include <stdint.h>

#include "dlt_base.h"
#include "dlt_train.h" /* DLT_PATH_MAX */

#ifdef __cplusplus
extern "C" {
#endif

#define DLT_GAN_SAMPLE_KEY (-1) /* exec step key of the fixed noise */
#define DLT_GAN_SAMPLE_N 64     /* samples of a grid during training */
#define DLT_GAN_SAMPLE_COLS 8   /* images per row */

/* dltrain sample CKPT [--n N] [--label K] [--seed S] --out PNG */
typedef struct {
    const char *ckpt, *out;
    int n;        /* samples (<= 0: DLT_GAN_SAMPLE_N) */
    int label;    /* conditional models: every sample of this class; < 0: row r
                   * has class r mod K, as the training grids */
    int has_seed; /* 0: the job's seed (the run's grids) */
    uint64_t seed;
    const char *data; /* CycleGAN: image-pairs shards (NULL: the job's data.val,
                       * else its data.train) */
} dlt_gan_sample_opts;

/* Loads CKPT (a GAN's or a VAE's: prior samples), draws o->n samples and
 * writes their grid (8 columns, dlt_image_grid's defaults) to o->out. *h, *w
 * (may be NULL): the grid's size in pixels. Errors name the checkpoint, or
 * the label and the model's classes. */
dlt_status dlt_gan_sample_ckpt(const dlt_gan_sample_opts *o, int *h, int *w);

/* ---- CycleGAN translation grids (cyclegan_sample.c) */
#define DLT_CYCLEGAN_SAMPLE_N 8 /* images per grid row by default */
typedef struct {
    int n, h, w;                      /* images per row; each grid's pixels */
    char files[2][DLT_PATH_MAX + 16]; /* the A->B->A and the B->A->B grid */
} dlt_cyclegan_sample_result;

/* Loads CKPT (a CycleGAN's: G_AB and G_BA) and translates the first n =
 * o->n (<= 0: DLT_CYCLEGAN_SAMPLE_N) images of each domain of the shards
 * o->data (NULL: the job's data.val, else data.train), normalised as the
 * pair loader does (u * (1 / (255 * 0.5)) - 1 in f32): two grids of n
 * columns and three rows, real, translated, reconstructed (dlt_image_grid's
 * range [-1, 1]): A, G_AB(A), G_BA(G_AB(A)) into <stem>_a2b2a.png and B,
 * G_BA(B), G_AB(G_BA(B)) into <stem>_b2a2b.png, where <stem> is o->out
 * without a ".png" ending. Fewer images in a domain than n: n shrinks to
 * the smaller domain's. Errors name the checkpoint or the shards. */
dlt_status dlt_cyclegan_sample_ckpt(const dlt_gan_sample_opts *o, dlt_cyclegan_sample_result *r);
/* 1 when CKPT is a CycleGAN's checkpoint (its job's model.arch), else 0
 * (also when it does not open: the sampler then says why). */
int dlt_ckpt_is_cyclegan(const char *ckpt);

#ifdef __cplusplus
}
#endif
#endif
