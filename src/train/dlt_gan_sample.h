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
} dlt_gan_sample_opts;

/* Loads CKPT (a GAN's), draws o->n samples and writes their grid (8
 * columns, dlt_image_grid's defaults) to o->out. *h, *w (may be NULL): the
 * grid's size in pixels. Errors name the checkpoint, or the label and the
 * model's classes. */
dlt_status dlt_gan_sample_ckpt(const dlt_gan_sample_opts *o, int *h, int *w);

#ifdef __cplusplus
}
#endif
#endif
