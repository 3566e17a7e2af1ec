/* vae_prior_check CKPT PRIOR.png: the VAE's prior-sample grid (vae_grid.c,
 * written by a run or by dltrain sample) against a decoder run of the same z
 * computed here, for tests/train/test_vae.sh (g):
 *  - z [64, z_dim]: the documented noise (dlt_gan_sample.h): a graph of the
 *    checkpoint job's seed whose first node is dlt_random_normal_samples from
 *    sample index 0, run at exec step key DLT_GAN_SAMPLE_KEY;
 *  - the decoder: the whole VAE of the checkpoint's job built here (encoder
 *    and decoder, the checkpoint loaded into it), z fed as an input, its
 *    logits read;
 *  - pixels: sigmoid in double, byte floor(p * 255 + 0.5), laid out as the
 *    grid's documented geometry (8 columns, padding 2) and compared with the
 *    PNG decoded by libpng: at most 1 apart (f32 against double rounding at
 *    a half), and at least 99% equal.
 * Exit 0 when they match, 1 when not, 2 on a bad input. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ckpt.h"
#include "dlt_ckpt_model.h"
#include "dlt_gan_sample.h"
#include "dlt_gen.h"
#include "dlt_job.h"
#include "dlt_ops.h"
#include "task.h"

#define N DLT_GAN_SAMPLE_N
#define COLS DLT_GAN_SAMPLE_COLS

static int bad(const char *what)
{
    fprintf(stderr, "vae_prior_check: %s: %s\n", what, dlt_errmsg());
    return 2;
}

static void model_attr(const char *key, const char *value, void *user)
{
    dlt_vae_spec *s = user;
    if (!strcmp(key, "image_channels"))
        s->img_c = atoi(value);
    else if (!strcmp(key, "image_height"))
        s->img_h = atoi(value);
    else if (!strcmp(key, "image_width"))
        s->img_w = atoi(value);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vae_prior_check CKPT PRIOR.png\n");
        return 2;
    }
    dlt_job *job = NULL;
    char *text = NULL;
    dlt_train_config c;
    if (dlt_task_config_from_ckpt(argv[1], &job, &text, &c) != DLT_OK)
        return bad(argv[1]);
    dlt_vae_spec v = c.vae;
    if (dlt_ckpt_read_model(argv[1], model_attr, &v) != DLT_OK)
        return bad(argv[1]);
    const int C = v.img_c, H = v.img_h, W = v.img_w, Z = v.z_dim;

    /* z: the noise graph alone */
    dlt_graph *gz = dlt_graph_create(c.seed);
    int64_t zd[2] = {N, Z};
    dlt_t z = dlt_random_normal_samples(gz, 2, zd, 0.0f, 1.0f, 0);
    dlt_plan *pz = NULL;
    dlt_exec_opts ez = {.training = 0, .step = DLT_GAN_SAMPLE_KEY};
    if (dlt_plan_create(gz, 1, &z, NULL, &pz) != DLT_OK || dlt_plan_run(pz, &ez) != DLT_OK ||
        dlt_plan_wait(pz) != DLT_OK)
        return bad("noise");

    /* the VAE with z as an input */
    dlt_graph *g = dlt_graph_create(c.seed);
    int64_t xd[4] = {1, C, H, W};
    dlt_t mu, logvar, zin = dlt_input(g, "z", DLT_F32, 2, zd);
    dlt_vae_encoder(g, &v, dlt_input(g, "images", DLT_F32, 4, xd), &mu, &logvar);
    dlt_t logits = dlt_vae_decoder(g, &v, zin);
    dlt_plan *p = NULL;
    dlt_ckpt_tensors t;
    dlt_ckpt_state cs;
    memset(&cs, 0, sizeof cs);
    if (dlt_graph_status(g) != DLT_OK || dlt_graph_finalize(g, NULL, 0) != DLT_OK)
        return bad("VAE graph");
    dlt_ckpt_tensors_from_graph(g, &t);
    t.nslots = 0;
    if (dlt_ckpt_load(argv[1], &t, &cs) != DLT_OK)
        return bad(argv[1]);
    dlt_ckpt_state_free(&cs);
    if (dlt_plan_create(g, 1, &logits, NULL, &p) != DLT_OK)
        return bad("plan");
    memcpy(dlt_plan_data(p, zin), dlt_plan_data(pz, z), (size_t)N * Z * sizeof(float));
    dlt_exec_opts eo = {.training = 0};
    if (dlt_plan_run(p, &eo) != DLT_OK || dlt_plan_wait(p) != DLT_OK)
        return bad("decoder");
    const float *l = dlt_plan_data(p, logits);

    /* the PNG, one channel per image channel */
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&pi, argv[2])) {
        fprintf(stderr, "vae_prior_check: %s: %s\n", argv[2], pi.message);
        return 2;
    }
    pi.format = C == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(pi));
    if (!px || !png_image_finish_read(&pi, NULL, px, 0, NULL)) {
        fprintf(stderr, "vae_prior_check: %s: %s\n", argv[2], pi.message);
        return 2;
    }
    int rows = (N + COLS - 1) / COLS;
    if ((int)pi.width != COLS * (W + 2) + 2 || (int)pi.height != rows * (H + 2) + 2 || C > 3) {
        fprintf(stderr, "vae_prior_check: %s is %ux%u, expected %dx%d\n", argv[2], pi.width,
                pi.height, COLS * (W + 2) + 2, rows * (H + 2) + 2);
        return 1;
    }
    long equal = 0, total = 0, far = 0;
    for (int k = 0; k < N; k++)
        for (int ch = 0; ch < C; ch++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    double s = 1 / (1 + exp(-(double)l[(((size_t)k * C + ch) * H + y) * W + x]));
                    int want = (int)floor(s * 255 + 0.5);
                    int py = 2 + (k / COLS) * (H + 2) + y, pxx = 2 + (k % COLS) * (W + 2) + x;
                    int got = px[((size_t)py * pi.width + pxx) * C + ch];
                    equal += got == want;
                    far += abs(got - want) > 1;
                    total++;
                }
    printf("prior grid: %ld of %ld pixels equal to the decoder's run here, %ld more than 1 apart\n",
           equal, total, far);
    free(px);
    dlt_plan_free(p);
    dlt_plan_free(pz);
    dlt_graph_free(g);
    dlt_graph_free(gz);
    dlt_job_free(job);
    free(text);
    return far == 0 && equal >= total * 99 / 100 ? 0 : 1;
}
