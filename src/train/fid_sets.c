/* FID-FMNIST between two image sets (dlt_fid_sets, `dltrain fid`;
 * docs/metrics.md): each set is shards (their 8-bit images) or a GAN
 * checkpoint (its generator's images, drawn as during training). Every
 * feature row is kept ([n, d] f32: 2.5 MB for 10,000 rows of 64), and the
 * statistics are the two-pass dlt_fid_stats of all of them. */
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ckpt.h"
#include "dlt_data.h"
#include "dlt_fid.h"
#include "gan_sample.h"

#define CHUNK DLT_GAN_FID_CHUNK
#define DEFAULT_N 10000

/* One set: the shards a glob matches (kept open) or a generator. */
typedef struct {
    const char *arg;
    dlt_shard **shards;
    size_t nshards;
    dlt_gan_sampler *sm;
    int c, h, w;
    int64_t n;   /* images used */
    float *feat; /* [n, d] */
} fid_set;

static void set_free(fid_set *s)
{
    for (size_t i = 0; i < s->nshards; i++)
        dlt_shard_close(s->shards[i]);
    free(s->shards);
    dlt_gan_sampler_free(s->sm);
    free(s->feat);
}

/* A file is a checkpoint when it holds a job (dlt_ckpt_read_job); a shard
 * does not. The probe's error is not the caller's. */
static int is_ckpt(const char *path)
{
    char *job = NULL;
    int yes = dlt_ckpt_read_job(path, &job) == DLT_OK;
    free(job);
    if (!yes)
        dlt_clearerr();
    return yes;
}

/* The shards of one set, opened and checked: image-classification, one
 * image shape; s->n = min(their images, n). */
static dlt_status open_shards(fid_set *s, const glob_t *gl, int64_t n)
{
    int64_t total = 0;
    if (!(s->shards = calloc(gl->gl_pathc, sizeof *s->shards)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < gl->gl_pathc && total < n; i++) {
        const char *path = gl->gl_pathv[i];
        dlt_status st = dlt_shard_open(path, NULL, &s->shards[s->nshards]);
        if (st != DLT_OK)
            return st;
        const dlt_shard_info *in = dlt_shard_get_info(s->shards[s->nshards++]);
        if (in->kind != DLT_KIND_IMAGE_CLASSIFICATION)
            return dlt_seterr(DLT_ERR_INVALID,
                              "%s: not an image-classification shard (FID compares images)", path);
        if (s->nshards == 1)
            s->c = in->c, s->h = in->h, s->w = in->w;
        else if (in->c != s->c || in->h != s->h || in->w != s->w)
            return dlt_seterr(DLT_ERR_INVALID,
                              "%s: %dx%dx%d images, the set's first shard %dx%dx%d", path, in->c,
                              in->h, in->w, s->c, s->h, s->w);
        total += in->num_samples;
    }
    s->n = total < n ? total : n;
    return DLT_OK;
}

/* Resolves set s->arg: one checkpoint or shards. */
static dlt_status set_open(fid_set *s, int64_t n)
{
    glob_t gl;
    if (glob(s->arg, 0, NULL, &gl) != 0)
        return dlt_seterr(DLT_ERR_NOTFOUND, "no file matches '%s'", s->arg);
    dlt_status st = DLT_OK;
    if (gl.gl_pathc == 1 && is_ckpt(gl.gl_pathv[0])) {
        st = dlt_gan_sampler_from_ckpt(gl.gl_pathv[0], CHUNK, -1, 0, 0, &s->sm);
        if (st == DLT_OK) {
            const dlt_gan_spec *g = dlt_gan_sampler_spec(s->sm);
            s->c = g->img_c, s->h = g->img_h, s->w = g->img_w, s->n = n;
        }
    } else {
        st = open_shards(s, &gl, n);
    }
    globfree(&gl);
    return st;
}

/* Features of the shards' first s->n images, CHUNK at a time. */
static dlt_status shard_features(fid_set *s, dlt_fid_net *net, int d)
{
    size_t px = (size_t)s->c * s->h * s->w;
    uint8_t *img = malloc((size_t)CHUNK * px);
    if (!img)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    dlt_status st = DLT_OK;
    int64_t got = 0;
    for (size_t f = 0; st == DLT_OK && f < s->nshards && got < s->n; f++) {
        int64_t m = dlt_shard_get_info(s->shards[f])->num_samples;
        for (int64_t i = 0; st == DLT_OK && i < m && got < s->n; i += CHUNK) {
            int64_t rows = m - i < CHUNK ? m - i : CHUNK;
            rows = rows < s->n - got ? rows : s->n - got;
            for (int64_t k = 0; st == DLT_OK && k < rows; k++)
                st = dlt_shard_read_image(s->shards[f], i + k, img + (size_t)k * px, NULL);
            if (st == DLT_OK)
                st = dlt_fid_net_features_u8(net, img, rows, s->feat + (size_t)got * d);
            got += rows;
        }
    }
    free(img);
    return st;
}

/* Features of the generator's s->n images: chunk j with key
 * DLT_GAN_FID_KEY - j, sample i of class i mod K (gan_fid.c's set); a VAE's
 * prior samples lie in [0, 1], a GAN's in [-1, 1]. */
static dlt_status gen_features(fid_set *s, dlt_fid_net *net, int d)
{
    const dlt_gan_spec *g = dlt_gan_sampler_spec(s->sm);
    dlt_status st = DLT_OK;
    for (int64_t j = 0; st == DLT_OK && j * CHUNK < s->n; j++) {
        int32_t *lab = dlt_gan_sampler_labels(s->sm);
        for (int t = 0; lab && t < CHUNK; t++)
            lab[t] = (int32_t)((j * CHUNK + t) % g->num_classes);
        const float *x;
        float lo, hi;
        int64_t rows = s->n - j * CHUNK < CHUNK ? s->n - j * CHUNK : CHUNK;
        dlt_gan_sampler_range(s->sm, &lo, &hi);
        st = dlt_gan_sampler_run(s->sm, DLT_GAN_FID_KEY - j, &x);
        if (st == DLT_OK)
            st = dlt_fid_net_features(net, x, rows, lo, hi, s->feat + (size_t)j * CHUNK * d);
    }
    return st;
}

dlt_status dlt_fid_sets(const dlt_fid_sets_opts *o, dlt_fid_sets_result *r)
{
    int64_t n = o->n > 0 ? o->n : DEFAULT_N;
    fid_set s[2];
    dlt_fid_net *net = NULL;
    double *mu[2] = {NULL, NULL}, *sig[2] = {NULL, NULL};
    memset(s, 0, sizeof s);
    memset(r, 0, sizeof *r);
    r->fid = NAN;
    dlt_status st = DLT_OK;
    for (int k = 0; k < 2 && st == DLT_OK; k++) {
        s[k].arg = o->set[k];
        if ((st = set_open(&s[k], n)) == DLT_OK && s[k].n < 2)
            st =
                dlt_seterr(DLT_ERR_INVALID, "%lld images: FID needs at least 2", (long long)s[k].n);
        if (st != DLT_OK)
            st = dlt_adderr(st, "set %d (%s)", k + 1, o->set[k]);
    }
    if (st == DLT_OK && (s[0].c != s[1].c || s[0].h != s[1].h || s[0].w != s[1].w))
        st = dlt_seterr(DLT_ERR_INVALID, "set 1 (%s) holds %dx%dx%d images, set 2 (%s) %dx%dx%d",
                        o->set[0], s[0].c, s[0].h, s[0].w, o->set[1], s[1].c, s[1].h, s[1].w);
    dlt_fid_net_opts no = {.batch = CHUNK,
                           .channels = s[0].c,
                           .height = s[0].h,
                           .width = s[0].w,
                           .threads = o->threads};
    if (st == DLT_OK && (st = dlt_fid_net_open(o->classifier, &no, &net)) != DLT_OK)
        st = dlt_adderr(st, "--classifier %s", o->classifier);
    int d = net ? dlt_fid_net_dim(net) : 0;
    for (int k = 0; k < 2 && st == DLT_OK; k++) {
        /* whole chunks: the generator's last one fills CHUNK rows' room */
        size_t rows = (size_t)((s[k].n + CHUNK - 1) / CHUNK * CHUNK);
        mu[k] = malloc((size_t)d * sizeof(double));
        sig[k] = malloc((size_t)d * d * sizeof(double));
        if (!(s[k].feat = malloc(rows * d * sizeof(float))) || !mu[k] || !sig[k])
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory for %zu feature rows", rows);
        if (st == DLT_OK)
            st = s[k].sm ? gen_features(&s[k], net, d) : shard_features(&s[k], net, d);
        if (st == DLT_OK)
            st = dlt_fid_stats(s[k].feat, s[k].n, d, mu[k], sig[k]);
        if (st != DLT_OK)
            st = dlt_adderr(st, "set %d (%s)", k + 1, o->set[k]);
        r->n[k] = s[k].n, r->generated[k] = s[k].sm != NULL;
    }
    if (st == DLT_OK)
        st = dlt_fid_distance(mu[0], sig[0], mu[1], sig[1], d, &r->fid);
    for (int k = 0; k < 2; k++) {
        set_free(&s[k]);
        free(mu[k]), free(sig[k]);
    }
    dlt_fid_net_free(net);
    return st;
}
