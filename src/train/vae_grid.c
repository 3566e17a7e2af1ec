/* The VAE's grids. The reconstruction grid: the first images of an
 * evaluation above what the VAE makes of them, one PNG in the run folder, so
 * a run shows what its ELBO means. The reconstruction shown is the Bernoulli
 * decoder's mean, sigmoid(logits), of the evaluation's own sampled z. The
 * prior grid: what the model generates, the decoder's means of z ~ N(0, I)
 * drawn with fixed keys (the same z at every step and in `dltrain sample`). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "dlt_png.h"
#include "vae_grid.h"

/* <run_dir>/samples, made if missing, into dir. */
static dlt_status samples_dir(const char *run_dir, char *dir, size_t len)
{
    snprintf(dir, len, "%s/samples", run_dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return dlt_seterr(DLT_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    return DLT_OK;
}

dlt_status dlt_vae_recon_grid(const char *run_dir, const float *x, const float *logits, int n,
                              int c, int h, int w)
{
    char dir[1100], path[1200];
    size_t per = (size_t)c * h * w;
    dlt_status st = samples_dir(run_dir, dir, sizeof dir);
    if (st != DLT_OK)
        return st;
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
    st = dlt_image_grid(both, 2 * n, c, h, w, &o, &im);
    free(both);
    if (st == DLT_OK)
        st = dlt_png_write(path, &im);
    dlt_image8_free(&im);
    return st;
}

dlt_status dlt_vae_prior_grid(dlt_gan_sampler *sm, const char *run_dir, int64_t step,
                              dlt_tb_writer *tb)
{
    char dir[1100], path[1200];
    dlt_status st = samples_dir(run_dir, dir, sizeof dir);
    if (st != DLT_OK)
        return st;
    snprintf(path, sizeof path, "%s/vae-prior.png", dir);
    dlt_image8 im = {0};
    st = dlt_gan_sampler_grid(sm, &im);
    if (st == DLT_OK)
        st = dlt_png_write(path, &im);
    if (st == DLT_OK && tb) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        st = dlt_tb_image(tb, tv.tv_sec + tv.tv_usec * 1e-6, step, "prior", &im);
    }
    dlt_image8_free(&im);
    return st;
}
