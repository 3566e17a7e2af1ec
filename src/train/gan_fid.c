/* FID-FMNIST during GAN training (docs/metrics.md): at each checkpoint the
 * generator, in evaluation mode, draws gan.fid_samples images (a VAE: its
 * decoder's prior samples, sigmoid in [0, 1], dlt_vae_fid_open), the
 * classifier gan.fid_classifier (dlt_fid.h) turns them into feature rows,
 * and the Fréchet distance to the real images' features is reported as
 * `fid`.
 *
 * Split over ranks without changing the set: the images come in chunks of
 * CHUNK global samples; chunk j draws its noise with the sampler's exec step
 * key FID_KEY - j (negative: no training run uses it; the sample grids use
 * -1) and conditions sample i = j CHUNK + t on class i mod K, and rank r
 * generates chunks r, r + R, r + 2R, ... So the images do not depend on the
 * number of ranks, and neither do the statistics: each rank sums its
 * features' x and x x^T (upper triangle kept whole) in double, the sums are
 * added over the ranks (dlt_comm_reduce_metrics), and rank 0 forms
 *   mu = S1 / N,  sigma = (S2 - N mu mu^T) / (N - 1)
 * (numpy.cov's unbiased estimate; only the order of the additions depends on
 * the split). The real images (every shard gan.fid_data, else data.val,
 * matches) are read once, on rank 0, as 8-bit pixels normalised as the
 * classifier's loader did, and their statistics kept for the run
 * (dlt_fid_stats). */
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ckpt_model.h"
#include "dlt_data.h"
#include "dlt_fid.h"
#include "gan_sample.h"

#define CHUNK DLT_GAN_FID_CHUNK
#define FID_KEY DLT_GAN_FID_KEY

struct dlt_gan_fid {
    const dlt_train_config *c;
    dlt_gan_spec spec;
    dlt_fid_net *net;
    dlt_gan_sampler *sm;
    int d;
    double *sums;         /* S1 [d], S2 [d d], n */
    double *mu_r, *sig_r; /* the real images' statistics (rank 0, once) */
    double *mu_g, *sig_g;
    float *feat; /* CHUNK x d */
};

void dlt_gan_fid_free(dlt_gan_fid *f)
{
    if (!f)
        return;
    dlt_fid_net_free(f->net);
    dlt_gan_sampler_free(f->sm);
    free(f->sums);
    free(f->mu_r), free(f->sig_r), free(f->mu_g), free(f->sig_g);
    free(f->feat);
    free(f);
}

/* The classifier and the sampler: a GAN's generator (v NULL) or a VAE's
 * decoder of prior samples (s: its image shape). */
static dlt_status fid_open(const dlt_train_config *c, const dlt_gan_spec *s, const dlt_vae_spec *v,
                           dlt_gan_fid **out)
{
    dlt_gan_fid *f = calloc(1, sizeof *f);
    *out = NULL;
    if (!f)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    f->c = c, f->spec = *s;
    dlt_fid_net_opts o = {
        .batch = CHUNK, .channels = s->img_c, .height = s->img_h, .width = s->img_w};
    dlt_status st = dlt_fid_net_open(c->gan_fid_classifier, &o, &f->net);
    if (st != DLT_OK)
        st = dlt_adderr(st, "gan.fid_classifier");
    if (st == DLT_OK)
        st = v ? dlt_vae_sampler_create(v, CHUNK, c->seed, &f->sm)
               : dlt_gan_sampler_create(s, CHUNK, -1, c->seed, &f->sm);
    if (st == DLT_OK) {
        size_t d = (size_t)(f->d = dlt_fid_net_dim(f->net));
        f->sums = malloc((d + d * d + 1) * sizeof *f->sums);
        f->mu_g = malloc(d * sizeof(double)), f->sig_g = malloc(d * d * sizeof(double));
        f->feat = malloc((size_t)CHUNK * d * sizeof(float));
        if (!f->sums || !f->mu_g || !f->sig_g || !f->feat)
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    if (st != DLT_OK) {
        dlt_gan_fid_free(f);
        return st;
    }
    *out = f;
    return DLT_OK;
}

dlt_status dlt_gan_fid_open(const dlt_train_config *c, const dlt_gan_spec *s, dlt_gan_fid **out)
{
    return fid_open(c, s, NULL, out);
}

dlt_status dlt_vae_fid_open(const dlt_train_config *c, const dlt_vae_spec *v, dlt_gan_fid **out)
{
    dlt_gan_spec s;
    memset(&s, 0, sizeof s);
    s.img_c = v->img_c, s.img_h = v->img_h, s.img_w = v->img_w;
    return fid_open(c, &s, v, out);
}

static void no_attr(const char *key, const char *value, void *user)
{
    (void)key, (void)value, (void)user;
}

dlt_status dlt_gan_fid_check(const dlt_train_config *c)
{
    if (!c->gan_fid_classifier[0])
        return DLT_OK;
    if (!c->gan_fid_data[0] && !c->val_glob[0])
        return dlt_seterr(DLT_ERR_INVALID,
                          "gan.fid_classifier is set but neither gan.fid_data nor data.val names "
                          "the real images");
    /* a missing classifier fails now, not at the first checkpoint */
    if (dlt_ckpt_read_model(c->gan_fid_classifier, no_attr, NULL) != DLT_OK)
        return dlt_adderr(DLT_ERR_INVALID, "gan.fid_classifier");
    return DLT_OK;
}

/* Features of the 8-bit images of one shard, appended at rows[*got...]
 * (*cap rows allocated, grown as needed). */
static dlt_status shard_features(dlt_gan_fid *f, const char *path, float **rows, int64_t *got,
                                 int64_t *cap)
{
    dlt_shard *sh = NULL;
    dlt_status st = dlt_shard_open(path, NULL, &sh);
    if (st != DLT_OK)
        return st;
    const dlt_shard_info *in = dlt_shard_get_info(sh);
    const dlt_gan_spec *s = &f->spec;
    size_t d = (size_t)f->d, px = (size_t)in->h * in->w * in->c;
    uint8_t *img = NULL;
    if (in->kind != DLT_KIND_IMAGE_CLASSIFICATION || in->c != s->img_c || in->h != s->img_h ||
        in->w != s->img_w)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: not %dx%dx%d images, which the generator makes", path,
                        s->img_c, s->img_h, s->img_w);
    if (st == DLT_OK && *got + in->num_samples > *cap) {
        int64_t nc = *got + in->num_samples;
        float *r = realloc(*rows, (size_t)nc * d * sizeof *r);
        if (!r)
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory for %lld feature rows", (long long)nc);
        else
            *rows = r, *cap = nc;
    }
    if (st == DLT_OK && !(img = malloc((size_t)CHUNK * px)))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; st == DLT_OK && i < in->num_samples; i += CHUNK) {
        int64_t m = in->num_samples - i < CHUNK ? in->num_samples - i : CHUNK;
        for (int64_t k = 0; st == DLT_OK && k < m; k++)
            st = dlt_shard_read_image(sh, i + k, img + (size_t)k * px, NULL);
        if (st == DLT_OK)
            st = dlt_fid_net_features_u8(f->net, img, m, *rows + (size_t)*got * d);
        *got += st == DLT_OK ? m : 0;
    }
    free(img);
    dlt_shard_close(sh);
    return st;
}

/* The real images' mean and covariance, read once (rank 0): every image of
 * every shard the glob matches, its 8-bit pixels normalised as the
 * classifier's loader did (dlt_fid_net_features_u8, docs/metrics.md). */
static dlt_status real_stats(dlt_gan_fid *f)
{
    const dlt_train_config *c = f->c;
    const char *pattern = c->gan_fid_data[0] ? c->gan_fid_data : c->val_glob;
    glob_t gl;
    float *rows = NULL;
    int64_t got = 0, cap = 0;
    size_t d = (size_t)f->d;
    if (glob(pattern, 0, NULL, &gl) != 0)
        return dlt_seterr(DLT_ERR_NOTFOUND, "FID's real images: no shard matches '%s'", pattern);
    dlt_status st = DLT_OK;
    for (size_t i = 0; st == DLT_OK && i < gl.gl_pathc; i++)
        st = shard_features(f, gl.gl_pathv[i], &rows, &got, &cap);
    globfree(&gl);
    if (st == DLT_OK && got < 2)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: FID needs at least 2 real images", pattern);
    if (st == DLT_OK &&
        (!(f->mu_r = malloc(d * sizeof(double))) || !(f->sig_r = malloc(d * d * sizeof(double)))))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (st == DLT_OK)
        st = dlt_fid_stats(rows, got, f->d, f->mu_r, f->sig_r);
    free(rows);
    return st == DLT_OK ? st : dlt_adderr(st, "FID's real images");
}

/* Adds the features of chunk j (its first `rows` samples) to the sums. */
static dlt_status add_chunk(dlt_gan_fid *f, int64_t j, int rows)
{
    int32_t *lab = dlt_gan_sampler_labels(f->sm);
    for (int t = 0; lab && t < CHUNK; t++)
        lab[t] = (int32_t)((j * CHUNK + t) % f->spec.num_classes);
    const float *x;
    float lo, hi;
    dlt_gan_sampler_range(f->sm, &lo, &hi);
    dlt_status st = dlt_gan_sampler_run(f->sm, FID_KEY - j, &x);
    if (st == DLT_OK)
        st = dlt_fid_net_features(f->net, x, rows, lo, hi, f->feat);
    if (st != DLT_OK)
        return st;
    int d = f->d;
    double *s1 = f->sums, *s2 = f->sums + d;
    for (int t = 0; t < rows; t++) {
        const float *r = f->feat + (size_t)t * d;
        for (int a = 0; a < d; a++) {
            s1[a] += r[a];
            for (int b = a; b < d; b++)
                s2[(size_t)a * d + b] += (double)r[a] * r[b];
        }
    }
    f->sums[d + d * d] += rows;
    return DLT_OK;
}

dlt_status dlt_gan_fid_compute(dlt_gan_fid *f, dlt_graph *src, dlt_comm *comm, int rank, int world,
                               double *fid)
{
    int64_t n = f->c->gan_fid_samples, chunks = (n + CHUNK - 1) / CHUNK;
    int d = f->d;
    size_t ns = (size_t)d + (size_t)d * d + 1;
    *fid = NAN;
    memset(f->sums, 0, ns * sizeof *f->sums);
    dlt_status st = dlt_gan_sampler_load(f->sm, src);
    for (int64_t j = rank; st == DLT_OK && j < chunks; j += world)
        st = add_chunk(f, j, (int)(n - j * CHUNK < CHUNK ? n - j * CHUNK : CHUNK));
    if (st == DLT_OK && rank == 0 && !f->mu_r)
        st = real_stats(f);
    /* every rank reduces, also after a local error, so none waits forever:
     * the error travels as a NaN count */
    if (st != DLT_OK)
        f->sums[ns - 1] = NAN;
    dlt_status rs = dlt_comm_reduce_metrics(comm, f->sums, (int)ns);
    if (st != DLT_OK || rs != DLT_OK)
        return st != DLT_OK ? dlt_adderr(st, "FID") : rs;
    if (!(f->sums[ns - 1] == (double)n))
        return dlt_seterr(DLT_ERR_INTERNAL, "FID: another rank failed to generate its images");
    if (rank != 0)
        return DLT_OK;
    for (int a = 0; a < d; a++)
        f->mu_g[a] = f->sums[a] / (double)n;
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++) {
            double v = (f->sums[d + (size_t)a * d + b] - (double)n * f->mu_g[a] * f->mu_g[b]) /
                       (double)(n - 1);
            f->sig_g[(size_t)a * d + b] = f->sig_g[(size_t)b * d + a] = v;
        }
    return dlt_fid_distance(f->mu_g, f->sig_g, f->mu_r, f->sig_r, d, fid);
}
