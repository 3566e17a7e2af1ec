/* gan_fid_check: recomputes the FID a GAN run reported at a checkpoint
 * another way, for tests/train/test_gan_fid.sh:
 *   gan_fid_check GAN_CKPT CLASSIFIER_CKPT SHARD N EXPECTED
 * The generator comes from the GAN checkpoint (not the training graph), on
 * one process, all N images drawn chunk by chunk with the documented keys
 * (docs/metrics.md: chunk j of 100 at exec step DLT_GAN_FID_KEY - j); the
 * statistics are the two-pass dlt_fid_stats over all feature rows (not the
 * trainer's sums of x and x x^T), and the real images are read sample by
 * sample from SHARD. Prints the value; exit 1 unless it is within 1e-6
 * relative of EXPECTED. Unconditional models only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_data.h"
#include "dlt_fid.h"
#include "gan_sample.h"

static int fail(const char *what)
{
    fprintf(stderr, "gan_fid_check: %s: %s\n", what, dlt_errmsg());
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: gan_fid_check GAN_CKPT CLASSIFIER_CKPT SHARD N EXPECTED\n");
        return 2;
    }
    int64_t n = atoll(argv[4]);
    double expected = atof(argv[5]);
    const int B = DLT_GAN_FID_CHUNK;
    dlt_gan_sampler *sm = NULL;
    dlt_fid_net *net = NULL;
    dlt_shard *sh = NULL;
    if (dlt_gan_sampler_from_ckpt(argv[1], B, -1, 0, 0, &sm) != DLT_OK)
        return fail(argv[1]);
    if (dlt_gan_sampler_labels(sm)) {
        fprintf(stderr, "gan_fid_check: %s: a conditional model (unconditional ones only)\n",
                argv[1]);
        return 2;
    }
    if (dlt_fid_net_open(argv[2], NULL, &net) != DLT_OK)
        return fail(argv[2]);
    if (dlt_shard_open(argv[3], NULL, &sh) != DLT_OK)
        return fail(argv[3]);
    const dlt_shard_info *in = dlt_shard_get_info(sh);
    int d = dlt_fid_net_dim(net);
    size_t px = (size_t)in->h * in->w * in->c;
    int64_t chunks = (n + B - 1) / B, m = in->num_samples;
    float *gen = malloc((size_t)chunks * B * px * sizeof *gen);
    float *fg = malloc((size_t)n * d * sizeof *fg), *fr = malloc((size_t)m * d * sizeof *fr);
    uint8_t *real = malloc((size_t)m * px);
    double *mu1 = malloc(d * sizeof *mu1), *mu2 = malloc(d * sizeof *mu2);
    double *s1 = malloc((size_t)d * d * sizeof *s1), *s2 = malloc((size_t)d * d * sizeof *s2);
    if (!gen || !fg || !fr || !real || !mu1 || !mu2 || !s1 || !s2)
        return 2;
    for (int64_t j = 0; j < chunks; j++) {
        const float *x;
        if (dlt_gan_sampler_run(sm, DLT_GAN_FID_KEY - j, &x) != DLT_OK)
            return fail("generator");
        memcpy(gen + (size_t)j * B * px, x, (size_t)B * px * sizeof *x);
    }
    for (int64_t i = 0; i < m; i++)
        if (dlt_shard_read_image(sh, i, real + (size_t)i * px, NULL) != DLT_OK)
            return fail(argv[3]);
    double fid = NAN;
    if (dlt_fid_net_features(net, gen, n, -1.0f, 1.0f, fg) != DLT_OK ||
        dlt_fid_net_features_u8(net, real, m, fr) != DLT_OK ||
        dlt_fid_stats(fg, n, d, mu1, s1) != DLT_OK || dlt_fid_stats(fr, m, d, mu2, s2) != DLT_OK ||
        dlt_fid_distance(mu1, s1, mu2, s2, d, &fid) != DLT_OK)
        return fail("FID");
    int ok = fabs(fid - expected) <= 1e-6 * fabs(expected);
    printf("FID %.9g (the run reported %.9g)\n", fid, expected);
    free(gen), free(fg), free(fr), free(real);
    free(mu1), free(mu2), free(s1), free(s2);
    dlt_shard_close(sh);
    dlt_fid_net_free(net);
    dlt_gan_sampler_free(sm);
    return ok ? 0 : 1;
}
