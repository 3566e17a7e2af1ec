/* The VAE task's grids (vae_grid.c, called by task_vae.c): reconstructions
 * and prior samples. */
#ifndef DLT_VAE_GRID_H
#define DLT_VAE_GRID_H

#include "dlt_base.h"
#include "gan_sample.h"

/* Writes <run_dir>/samples/vae-recon.png (the folder made if needed): n
 * images x [n, c, h, w] with pixels in [0, 1] in the first row, their
 * reconstructions sigmoid(logits) [n, c, h, w] in the second (dlt_image_grid:
 * n columns, padding 2, range [0, 1]). */
dlt_status dlt_vae_recon_grid(const char *run_dir, const float *x, const float *logits, int n,
                              int c, int h, int w);

/* Writes <run_dir>/samples/vae-prior.png (the folder made if needed): the
 * grid of sm, a VAE sampler (dlt_vae_sampler_create: DLT_GAN_SAMPLE_N prior
 * samples z ~ N(0, I) of the fixed key DLT_GAN_SAMPLE_KEY, sigmoid of the
 * decoder's logits, 8 columns, range [0, 1]), which `dltrain sample` on the
 * run's checkpoint draws again; and, when tb is not NULL, the same image
 * as TensorBoard image "prior" at `step`. */
dlt_status dlt_vae_prior_grid(dlt_gan_sampler *sm, const char *run_dir, int64_t step,
                              dlt_tb_writer *tb);

#endif
