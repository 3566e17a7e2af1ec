/* The VAE task's reconstruction grid (vae_grid.c, called by task_vae.c). */
#ifndef DLT_VAE_GRID_H
#define DLT_VAE_GRID_H

#include "dlt_base.h"

/* Writes <run_dir>/samples/vae-recon.png (the folder made if needed): n
 * images x [n, c, h, w] with pixels in [0, 1] in the first row, their
 * reconstructions sigmoid(logits) [n, c, h, w] in the second (dlt_image_grid:
 * n columns, padding 2, range [0, 1]). */
dlt_status dlt_vae_recon_grid(const char *run_dir, const float *x, const float *logits, int n,
                              int c, int h, int w);

#endif
