/* The VAE's reconstruction grid: the first images of an evaluation above
 * what the VAE makes of them, one PNG in the run folder, so a run shows
 * what its ELBO means. The reconstruction shown is the Bernoulli decoder's
 * mean, sigmoid(logits), of the evaluation's own sampled z. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlt_png.h"
#include "vae_grid.h"

dlt_status dlt_vae_recon_grid(const char *run_dir, const float *x, const float *logits, int n,
                              int c, int h, int w)
{
    char dir[1100], path[1200];
    size_t per = (size_t)c * h * w;
    snprintf(dir, sizeof dir, "%s/samples", run_dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return dlt_seterr(DLT_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/vae-recon.png", dir);
    /* [2n, c, h, w]: the inputs, then their reconstructions */
    float *both = malloc(2 * (size_t)n * per * sizeof *both);
    if (!both)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    memcpy(both, x, (size_t)n * per * sizeof *both);
    for (size_t i = 0; i < (size_t)n * per; i++)
        both[(size_t)n * per + i] = 1.0f / (1.0f + expf(-logits[i]));
    dlt_grid_opts o = {.cols = n, .pad = 2, .lo = 0.0f, .hi = 1.0f};
    dlt_image8 im = {0};
    dlt_status st = dlt_image_grid(both, 2 * n, c, h, w, &o, &im);
    free(both);
    if (st == DLT_OK)
        st = dlt_png_write(path, &im);
    dlt_image8_free(&im);
    return st;
}
