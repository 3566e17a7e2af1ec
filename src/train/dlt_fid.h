/* Fréchet Inception-style distance for generative models (docs/metrics.md,
 * "FID-FMNIST"): the Fréchet distance between Gaussian fits of two sets of
 * feature rows, and the feature extractor that computes those rows with a
 * dltrain classifier checkpoint (the pooled features before its last linear
 * layer). A GAN trainer computes FID as
 *
 *     dlt_fid_net_open(classifier_ckpt, NULL, &net);
 *     dlt_fid_net_features(net, generated, n, -1, 1, feat_g);   // tanh outputs
 *     dlt_fid_net_features_u8(net, test_pixels, m, feat_r);     // shard images
 *     dlt_fid_stats(feat_g, n, d, mu1, s1); dlt_fid_stats(feat_r, m, d, mu2, s2);
 *     dlt_fid_distance(mu1, s1, mu2, s2, d, &fid);
 *
 * with d = dlt_fid_net_dim(net) (64 for ResNet-20). The real set's statistics
 * do not change during a run: compute them once. */
#ifndef DLT_FID_H
#define DLT_FID_H

#include <stdint.h>

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- statistics */
/* Mean mu[d] and covariance sigma[d * d] (row-major, symmetric) of the n rows
 * of x [n, d] (f32, row-major), in double: mu = mean of the rows, sigma =
 * sum_i (x_i - mu)(x_i - mu)^T / (n - 1), the unbiased estimate
 * numpy.cov(x, rowvar=False) computes. DLT_ERR_INVALID when n < 2 or d < 1;
 * DLT_ERR_NONFINITE naming the first row with a NaN or infinity. */
dlt_status dlt_fid_stats(const float *x, int64_t n, int d, double *mu, double *sigma);

/* The Fréchet distance between N(mu1, s1) and N(mu2, s2) (d x d covariances,
 * row-major, symmetric positive semi-definite):
 *   fid = ||mu1 - mu2||^2 + tr(s1) + tr(s2) - 2 tr(sqrtm(s1 s2)).
 * tr(sqrtm(s1 s2)) is computed without the non-symmetric s1 s2: with A =
 * sqrtm(s1) (dlt_sqrtm_psd), s1 s2 = A (A s2) has the eigenvalues of (A s2) A
 * = A s2 A, which is symmetric PSD, so the trace is the sum of the square
 * roots of its eigenvalues (LAPACK dsyev), rounding's negative ones taken as
 * 0. In double throughout; identical inputs give 0 to within ~1e-12 of the
 * traces (the result is not clamped, and may be a rounding error below 0). */
dlt_status dlt_fid_distance(const double *mu1, const double *s1, const double *mu2,
                            const double *s2, int d, double *fid);

/* The symmetric PSD square root a [d * d] of the symmetric matrix s (row-major;
 * a may not alias s): s = V diag(l) V^T (dsyev), a = V diag(sqrt(max(l, 0)))
 * V^T, so a * a = s when s is PSD and a is s's projection's root otherwise
 * (eigenvalues below 0, from rounding, become 0). DLT_ERR_INTERNAL if LAPACK
 * fails to converge. */
dlt_status dlt_sqrtm_psd(const double *s, int d, double *a);

/* ---------------------------------------------------------------- features */
typedef struct dlt_fid_net dlt_fid_net;

typedef struct {
    int batch; /* images per forward pass; <= 0: 100 */
    /* input images; 0: the sizes the checkpoint's /model records (the
     * classifier's training images; 1 x 28 x 28 for Fashion-MNIST), or
     * 1 x 28 x 28 for a checkpoint without /model */
    int channels, height, width;
    int threads; /* > 0: dlt_set_num_threads(threads) at open */
} dlt_fid_net_opts;

/* Opens a classifier checkpoint written by the trainer (an image
 * architecture, e.g. resnet20 trained on Fashion-MNIST shards): builds the
 * classifier its job describes (model.arch, shortcut, ...; the number of
 * classes from the checkpoint's /model, dlt_ckpt_model.h) for
 * [batch, channels, height, width] inputs on the CPU, loads its parameters
 * and batch-norm statistics, and keeps an evaluation plan (training = 0:
 * running statistics, no dropout) whose output is the penultimate value
 * (dlt_model_classifier_features: for ResNets the global-average-pooled [N,
 * 64] features of ResNet-20). The job's data.mean and data.std (first
 * channel's values for every channel when the job gives one) are the inputs'
 * normalisation. o may be NULL. Errors name the checkpoint. */
dlt_status dlt_fid_net_open(const char *ckpt, const dlt_fid_net_opts *o, dlt_fid_net **out);
void dlt_fid_net_free(dlt_fid_net *net);     /* NULL is a no-op */
int dlt_fid_net_dim(const dlt_fid_net *net); /* feature size d */
const char *dlt_fid_net_arch(const dlt_fid_net *net);

/* Features [n, d] of n images x [n, C, H, W] (f32) whose values lie in
 * [lo, hi]: each value becomes the pixel p = clamp((v - lo) / (hi - lo), 0,
 * 1) (a generator's tanh outputs: lo = -1, hi = 1, p = (v + 1) / 2), then the
 * classifier's input (p - mean[c]) / std[c], as the training loader fed
 * pixel / 255. No rounding to 8 bits. Batches of opts.batch; a last partial
 * batch is padded with zeros, whose rows are dropped. */
dlt_status dlt_fid_net_features(dlt_fid_net *net, const float *x, int64_t n, float lo, float hi,
                                float *features);
/* The same for 8-bit images [n, H, W, C] (a shard's `images`), normalised
 * exactly as the classification task's loader does: pixel * (1 / (255 *
 * std[c])) - mean[c] / std[c] in f32 (src/data/transform.c). */
dlt_status dlt_fid_net_features_u8(dlt_fid_net *net, const uint8_t *hwc, int64_t n,
                                   float *features);

/* ---------------------------------------------------------------- two image sets */
/* `dltrain fid A B --classifier CKPT [--n N]`: FID-FMNIST (docs/metrics.md)
 * between two image sets, each named by a glob that matches either
 *  - image-classification shards: their 8-bit images, the first n in the
 *    order of the sorted files (all of them when they hold fewer), as
 *    dlt_fid_net_features_u8 reads them; or
 *  - exactly one GAN checkpoint: n images of its generator in evaluation
 *    mode, drawn as FID during training draws them (gan_fid.c: chunk j of
 *    DLT_GAN_FID_CHUNK samples with exec step key DLT_GAN_FID_KEY - j and the
 *    job's seed, sample i of class i mod K for conditional models), so the
 *    value equals the run's `fid` at that checkpoint for the same real set and
 *    n; tanh outputs, dlt_fid_net_features with [-1, 1].
 * Both sets must hold images of one shape, which is the classifier's input
 * (dlt_fid_net_opts). Two-pass statistics of all feature rows
 * (dlt_fid_stats), then dlt_fid_distance. */
typedef struct {
    const char *set[2];     /* shard glob or checkpoint path */
    const char *classifier; /* the FID-FMNIST classifier checkpoint */
    int64_t n;              /* images per set: <= 0: 10,000 */
    int threads;            /* > 0: dlt_set_num_threads */
} dlt_fid_sets_opts;

typedef struct {
    double fid;
    int64_t n[2];     /* images of each set that entered the statistics */
    int generated[2]; /* 1: the set was a generator checkpoint */
} dlt_fid_sets_result;

/* Errors name the set ("set 1"/"set 2" and its glob), the file, or the
 * classifier. DLT_ERR_NOTFOUND when a glob matches nothing, DLT_ERR_INVALID
 * for shards of another kind or shape, a checkpoint that is no GAN's, or a
 * set of fewer than 2 images. */
dlt_status dlt_fid_sets(const dlt_fid_sets_opts *o, dlt_fid_sets_result *r);

#ifdef __cplusplus
}
#endif
#endif
