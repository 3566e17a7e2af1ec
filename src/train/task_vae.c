/* The VAE task (model.arch = "vae"): the variational autoencoder of
 * dlt_gen.h (src/models/vae.c) trained on image shards with the ordinary,
 * single-phase trainer path. Pixels are scaled to [0, 1] (x / 255: the
 * Bernoulli decoder's targets), whatever data.mean and data.std say.
 *
 * The graph, for a rank's batch of B images x:
 *   mu, logvar = encoder(x)
 *   eps        = N(0, 1) [B, z_dim], drawn IN the graph by
 *                dlt_random_normal_samples keyed by the GLOBAL sample index
 *                (rank x B + i) and the run's step key: 2 ranks x b draw
 *                together what 1 rank x 2b draws, a resumed run the same
 *   z          = mu + exp(logvar / 2) eps            (dlt_vae_sample)
 *   bce_i      = sum over the pixels of BCE_with_logits(decoder(z)_i, x_i)
 *   kl_i       = -1/2 sum_j (1 + logvar_ij - mu_ij^2 - exp(logvar_ij))
 *   loss       = sum_i w_i (bce_i + kl_i),  w_i = 1 / (valid x A) for the
 *                valid samples, 0 for a padded batch's repeats
 * so the loss is the negative ELBO (a single-sample estimate) averaged over
 * the rank's valid samples: for a full batch exactly dlt_vae_loss. Under
 * gradient accumulation over A micro-steps (train.accumulate) it is divided
 * by A, so the accumulated gradient is the mean of the micro-batches' (the
 * usual loss / accumulation_steps, as the BERT task does). The
 * reducer averages the ranks weighted by their valid samples
 * (DLT_GRAD_MEAN), which gives the mean over the global batch.
 *
 * Metrics: training `loss` (-ELBO per image), `bce` (reconstruction) and
 * `kl`, means over the logged interval's samples. Evaluation on data.val
 * (every valid sample once): the same three and `elbo` = -loss, the test-set
 * ELBO in nats per image, on which the best checkpoint is kept (higher is
 * better). Evaluation also draws z (not z = mu: the ELBO is an expectation
 * over q(z|x), and this is its single-sample estimate), with the step key
 * DLT_TASK_EVAL_KEY + the evaluation batch's index instead of the training
 * step (eval_fixed_key), so every evaluation of a run, and dltrain predict on
 * the same shards and batch, draws the same eps for the same image: the
 * metric moves only with the parameters. After each evaluation of the
 * trainer, rank 0 writes its first images over their reconstructions to
 * <run_dir>/samples/vae-recon.png (vae_grid.c).
 *
 * after_step: beside it (after each evaluation, and at the end of every
 * run) rank 0 writes the prior-sample grid <run_dir>/samples/vae-prior.png
 * (64 decoder means of z ~ N(0, I) with the GAN grids' fixed key, so
 * `dltrain sample` of a checkpoint draws the grid again); with
 * gan.fid_classifier (the GAN's FID keys apply to the VAE too) it reports
 * FID-FMNIST of gan.fid_samples prior samples at every checkpoint of
 * checkpoint.every_steps and at the end, as the GAN task does (gan_fid.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_gen.h"
#include "dlt_ops.h"
#include "gan_sample.h"
#include "task.h"
#include "vae_grid.h"

/* Metric sums: per-sample terms over the valid samples. */
enum { S_BCE = 0, S_KL, S_N };

typedef struct {
    dlt_loader *loader, *val;
    int c_in, h, w;
    dlt_vae_spec spec;
    dlt_t x, weight;          /* inputs: images in [0, 1], per-sample loss weights */
    dlt_t mu, logvar, logits; /* [B, z_dim], [B, z_dim], [B, C, H, W] */
    dlt_t bce, kl, loss;      /* [B], [B], scalar */
    float *scratch;           /* predict(): one row of values per sample */
    /* the reconstruction grid: rank 0's first evaluation images and logits */
    float *grid_x, *grid_logits;
    int grid_n;
    int64_t eval_batches;   /* batches of the evaluation in progress */
    int predicting;         /* dltrain predict: no grid into the run folder */
    int prior_due;          /* rank 0 wrote a reconstruction grid: the prior grid follows */
    dlt_gan_sampler *prior; /* the prior grid's decoder (rank 0, made at the first grid) */
    dlt_gan_fid *fid;       /* FID of prior samples (gan.fid_classifier) */
} vae_task;

/* Images of the reconstruction grid (one row of them, one of reconstructions). */
#define GRID_MAX 8

/* meta: headers and shapes only (checks before a run). */
static dlt_status open_loader(const dlt_train_config *c, const char *glob, int train, int rank,
                              int world, int meta, dlt_loader **out)
{
    dlt_loader_config lc;
    dlt_loader_config_default(&lc);
    lc.paths = glob;
    lc.batch_size = c->batch_size;
    lc.shuffle = train ? c->shuffle : 0;
    lc.seed = c->seed;
    lc.drop_last = train ? c->drop_last : 0;
    for (int i = 0; i < DLT_DATA_MAX_CHANNELS; i++)
        lc.mean[i] = 0.0f, lc.std[i] = 1.0f; /* pixel / 255: [0, 1] */
    lc.prefetch = c->prefetch > 0 ? c->prefetch : 2;
    lc.threads = c->loader_threads;
    lc.rank = rank;
    lc.world_size = world > 0 ? world : 1;
    if (meta) {
        lc.threads = 0;
        lc.inmem_threshold = 0;
        lc.verify = 0;
        lc.shuffle = 0;
    }
    return dlt_loader_open(&lc, out);
}

/* The encoder halves each side twice: sides must be multiples of 4. */
static dlt_status check_shape(const char *key, const dlt_loader *l)
{
    int ch, h, w;
    dlt_loader_sample_shape(l, &ch, &h, &w);
    if (h % 4 || w % 4)
        return dlt_seterr(DLT_ERR_INVALID,
                          "%s: %s holds %dx%dx%d images (HxWxC); the VAE needs sides that are "
                          "multiples of 4",
                          key, dlt_loader_first_path(l), h, w, ch);
    return DLT_OK;
}

static dlt_status check(const dlt_train_config *c, int world)
{
    dlt_loader *tr = NULL, *va = NULL;
    dlt_status st = dlt_gan_fid_check(c);
    if (st != DLT_OK)
        return st;
    st = open_loader(c, c->train_glob, 1, 0, world, 1, &tr);
    if (st != DLT_OK) {
        dlt_adderr(st, "data.train");
        return DLT_ERR_INVALID;
    }
    st = check_shape("data.train", tr);
    if (st == DLT_OK && c->val_glob[0]) {
        if ((st = open_loader(c, c->val_glob, 0, 0, world, 1, &va)) != DLT_OK) {
            dlt_adderr(st, "data.val");
            st = DLT_ERR_INVALID;
        } else {
            int ct, ht, wt, cv, hv, wv;
            dlt_loader_sample_shape(tr, &ct, &ht, &wt);
            dlt_loader_sample_shape(va, &cv, &hv, &wv);
            if (cv != ct || hv != ht || wv != wt)
                st = dlt_seterr(DLT_ERR_INVALID,
                                "data.val: the shards hold %dx%dx%d images (HxWxC), the training "
                                "shards %dx%dx%d",
                                hv, wv, cv, ht, wt, ct);
        }
    }
    dlt_loader_close(va);
    dlt_loader_close(tr);
    return st;
}

static dlt_status open_task(dlt_task *t)
{
    const dlt_train_config *c = t->c;
    vae_task *k = calloc(1, sizeof *k);
    dlt_status st;
    if (!k)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    t->impl = k;
    if ((st = open_loader(c, c->train_glob, 1, t->rank, t->world, 0, &k->loader)) != DLT_OK)
        return dlt_adderr(st, "data.train");
    if (c->val_glob[0] &&
        (st = open_loader(c, c->val_glob, 0, t->rank, t->world, 0, &k->val)) != DLT_OK)
        return dlt_adderr(st, "data.val");
    if ((st = check_shape("data.train", k->loader)) != DLT_OK)
        return st;
    dlt_loader_sample_shape(k->loader, &k->c_in, &k->h, &k->w);
    t->steps_per_epoch = dlt_loader_steps_per_epoch(k->loader);
    t->num_samples = dlt_loader_num_samples(k->loader);
    t->val_steps = k->val ? dlt_loader_steps_per_epoch(k->val) : 0;
    t->ntrain_sums = S_N;
    t->neval_sums = S_N;
    t->best_higher = 1;
    t->best_key = "elbo";
    t->eval_fixed_key = 1;
    size_t grid = (size_t)GRID_MAX * k->c_in * k->h * k->w;
    if (t->rank == 0 && k->val &&
        (!(k->grid_x = malloc(grid * sizeof(float))) ||
         !(k->grid_logits = malloc(grid * sizeof(float)))))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    return DLT_OK;
}

static dlt_status build(dlt_task *t, dlt_graph *g, dlt_task_graph *tg)
{
    const dlt_train_config *c = t->c;
    vae_task *k = t->impl;
    dlt_vae_spec *s = &k->spec;
    *s = c->vae;
    s->img_c = k->c_in, s->img_h = k->h, s->img_w = k->w;
    int B = c->batch_size;
    int64_t xd[4] = {B, k->c_in, k->h, k->w}, bd[1] = {B}, zd[2] = {B, s->z_dim};
    k->x = dlt_input(g, "images", DLT_F32, 4, xd);
    k->weight = dlt_input(g, "sample_weight", DLT_F32, 1, bd);
    dlt_vae_encoder(g, s, k->x, &k->mu, &k->logvar);
    /* this rank's first global sample: the noise is keyed by global index */
    dlt_t eps = dlt_random_normal_samples(g, 2, zd, 0.0f, 1.0f, (int64_t)t->rank * B);
    dlt_t z = dlt_vae_sample(g, k->mu, k->logvar, eps);
    k->logits = dlt_set_name(g, dlt_vae_decoder(g, s, z), "logits");
    int pixels[3] = {1, 2, 3}, latent[1] = {1};
    k->bce = dlt_sum(g, dlt_bce_with_logits(g, k->logits, k->x, -1, DLT_REDUCE_NONE), 3, pixels, 0);
    /* KL(N(mu, exp(logvar)) || N(0, I)) per sample */
    dlt_t terms = dlt_sub(g, dlt_sub(g, dlt_affine(g, k->logvar, 1.f, 1.f), dlt_square(g, k->mu)),
                          dlt_exp(g, k->logvar));
    k->kl = dlt_affine(g, dlt_sum(g, terms, 1, latent, 0), -0.5f, 0.f);
    k->loss = dlt_sum(g, dlt_mul(g, k->weight, dlt_add(g, k->bce, k->kl)), 0, NULL, 0);
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(g), "%s", dlt_graph_errmsg(g));
    tg->loss = k->loss;
    tg->contract = DLT_GRAD_MEAN;
    tg->nouts = 5;
    tg->outs[0] = k->loss, tg->outs[1] = k->bce, tg->outs[2] = k->kl, tg->outs[3] = k->mu;
    tg->outs[4] = k->logits; /* the reconstruction grid */
    tg->flops_out = k->logits;
    dlt_vae_describe(s, &tg->model);
    return dlt_task_grads(t, g, tg);
}

static dlt_status feed(dlt_task *t, dlt_plan *p, int train, dlt_task_batch *tb)
{
    vae_task *k = t->impl;
    dlt_batch b;
    dlt_status st = dlt_loader_next(train ? k->loader : k->val, &b);
    if (st != DLT_OK)
        return st;
    memcpy(dlt_plan_data(p, k->x), b.images,
           (size_t)b.size * k->c_in * k->h * k->w * sizeof(float));
    /* the loss is a mean over the valid samples; padding weighs nothing (a
     * plan without the loss, vae_export's, has no such input) */
    float *w = dlt_plan_data(p, k->weight);
    float acc = train && t->c->accumulate > 1 ? (float)t->c->accumulate : 1.0f;
    for (int i = 0; w && i < b.size; i++)
        w[i] = i < b.valid ? 1.0f / ((float)b.valid * acc) : 0.0f;
    tb->samples = b.valid;
    tb->weight = b.valid;
    tb->epoch = b.epoch;
    tb->last_in_epoch = b.last_in_epoch;
    return DLT_OK;
}

static void accumulate(dlt_task *t, dlt_plan *p, int train, const dlt_task_batch *b, double *sums)
{
    vae_task *k = t->impl;
    const float *bce = dlt_plan_data(p, k->bce), *kl = dlt_plan_data(p, k->kl);
    for (int i = 0; i < b->samples; i++) {
        sums[S_BCE] += bce[i];
        sums[S_KL] += kl[i];
    }
    if (train || t->rank != 0 || k->eval_batches++ > 0 || !k->grid_x)
        return;
    /* the first images of the evaluation, for the grid metrics() writes */
    size_t per = (size_t)k->c_in * k->h * k->w;
    k->grid_n = b->samples < GRID_MAX ? b->samples : GRID_MAX;
    memcpy(k->grid_x, dlt_plan_data(p, k->x), (size_t)k->grid_n * per * sizeof(float));
    memcpy(k->grid_logits, dlt_plan_data(p, k->logits), (size_t)k->grid_n * per * sizeof(float));
}

/* Per image over every rank's samples: -ELBO = bce + kl. */
static void metrics(const dlt_task *t, int train, const double *sums, dlt_metrics *m)
{
    vae_task *k = t->impl;
    double n = (double)m->samples;
    double bce = n > 0 ? sums[S_BCE] / n : NAN, kl = n > 0 ? sums[S_KL] / n : NAN;
    m->n = train ? 3 : 4;
    m->key[0] = m->label[0] = "loss";
    m->key[1] = m->label[1] = "bce";
    m->key[2] = m->label[2] = "kl";
    m->val[0] = bce + kl, m->val[1] = bce, m->val[2] = kl;
    if (!train) {
        m->key[3] = m->label[3] = "elbo";
        m->val[3] = -(bce + kl);
        m->best = 3;
        /* rank 0 after an evaluation of the trainer: its first images and
         * their reconstructions, <run_dir>/samples/vae-recon.png */
        if (k->grid_n > 0 && !k->predicting) {
            dlt_status st = dlt_vae_recon_grid(t->c->run_dir, k->grid_x, k->grid_logits, k->grid_n,
                                               k->c_in, k->h, k->w);
            if (st != DLT_OK)
                dlt_log(DLT_LOG_WARN, "the VAE's reconstruction grid: %s", dlt_errmsg());
            k->prior_due = 1;
        }
        k->grid_n = 0;
        k->eval_batches = 0;
    }
}

/* Per image: its ELBO, reconstruction and KL terms, and the posterior mean. */
static dlt_status predict(dlt_task *t, dlt_plan *p, const dlt_task_batch *b, int logits,
                          dlt_pred_file *f)
{
    vae_task *k = t->impl;
    const float *bce = dlt_plan_data(p, k->bce), *kl = dlt_plan_data(p, k->kl);
    int64_t Z = k->spec.z_dim;
    (void)logits;
    k->predicting = 1;
    if (!k->scratch && !(k->scratch = malloc((size_t)t->c->batch_size * sizeof *k->scratch)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < b->samples; i++)
        k->scratch[i] = -(bce[i] + kl[i]);
    dlt_status st = dlt_pred_file_append(f, "elbo", DLT_F32, 0, NULL, k->scratch, b->samples);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "bce", DLT_F32, 0, NULL, bce, b->samples);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "kl", DLT_F32, 0, NULL, kl, b->samples);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "mu", DLT_F32, 1, &Z, dlt_plan_data(p, k->mu), b->samples);
    return st;
}

/* The prior grid (rank 0, after an evaluation's reconstruction grid and at
 * the end) and FID at checkpoints (every rank: collective), from the
 * training graph's parameters. */
static dlt_status after_step(dlt_task *t, dlt_graph *g, dlt_comm *comm, int64_t step, int last,
                             dlt_tb_writer *tb, dlt_metrics *m)
{
    vae_task *k = t->impl;
    const dlt_train_config *c = t->c;
    int64_t ck = c->ckpt_every_steps;
    int grid = t->rank == 0 && (last || k->prior_due);
    int fid = c->gan_fid_classifier[0] && (last || (ck > 0 && step % ck == 0));
    dlt_status st = DLT_OK;
    k->prior_due = 0;
    if (grid || fid)
        st = dlt_graph_download(g, DLT_SYNC_PARAMS | DLT_SYNC_BUFFERS);
    if (st == DLT_OK && grid && !k->prior)
        st = dlt_vae_sampler_create(&k->spec, DLT_GAN_SAMPLE_N, c->seed, &k->prior);
    if (st == DLT_OK && grid)
        st = dlt_gan_sampler_load(k->prior, g);
    if (st == DLT_OK && grid)
        st = dlt_vae_prior_grid(k->prior, c->run_dir, step, tb);
    if (st == DLT_OK && fid && !k->fid)
        st = dlt_vae_fid_open(c, &k->spec, &k->fid);
    if (st == DLT_OK && fid) {
        double v = NAN;
        st = dlt_gan_fid_compute(k->fid, g, comm, t->rank, t->world, &v);
        m->n = 1;
        m->key[0] = m->label[0] = "fid";
        m->val[0] = v;
        m->samples = c->gan_fid_samples;
    }
    return st;
}

static dlt_loader_cursor get_cursor(const dlt_task *t)
{
    return dlt_loader_get_cursor(((const vae_task *)t->impl)->loader);
}

static dlt_status set_cursor(dlt_task *t, int train, dlt_loader_cursor c)
{
    vae_task *k = t->impl;
    return dlt_loader_set_cursor(train ? k->loader : k->val, c);
}

static void describe(const dlt_task *t, FILE *out)
{
    const vae_task *k = t->impl;
    fprintf(
        out, "# model vae (z_dim %d) on %dx%dx%d images in [0, 1], batch %d per rank, %d rank%s\n",
        t->c->vae.z_dim, k->c_in, k->h, k->w, t->c->batch_size, t->world, t->world > 1 ? "s" : "");
}

static void close_task(dlt_task *t)
{
    vae_task *k = t->impl;
    if (!k)
        return;
    dlt_loader_close(k->loader);
    dlt_loader_close(k->val);
    free(k->scratch);
    free(k->grid_x);
    free(k->grid_logits);
    dlt_gan_sampler_free(k->prior);
    dlt_gan_fid_free(k->fid);
    free(k);
    t->impl = NULL;
}

const dlt_task_ops dlt_task_vae = {
    .name = "vae",
    .check = check,
    .open = open_task,
    .build = build,
    .feed = feed,
    .accumulate = accumulate,
    .metrics = metrics,
    .get_cursor = get_cursor,
    .set_cursor = set_cursor,
    .predict = predict,
    .after_step = after_step,
    .describe = describe,
    .close = close_task,
};
