/* The GAN task: a generator and a discriminator (critic) of dlt_gen.h
 * trained in two phases per iteration (trainer_phase.c): "d", the
 * discriminator's update on a batch of real images, `repeat` times
 * (n_critic), then "g", the generator's update. Images come from image
 * shards scaled to [-1, 1] (x/255 - 0.5) / 0.5, the range of the
 * generator's tanh; labels feed the conditional models (the real batch's in
 * phase d; in phase g classes hashed from the seed, the run's step key and
 * the global sample index).
 *
 * Noise is drawn IN the graph (dlt_random_normal_samples, never uploaded),
 * keyed by the GLOBAL sample index (rank x local batch + i) and the phase
 * run's step key, so 2 ranks x batch b draw together what 1 rank x 2b draws,
 * and a resumed run draws the same numbers.
 *
 * Losses (gan.loss; default from model.arch), every term a mean over the
 * local batch (the reducer averages the ranks: DLT_GRAD_MEAN):
 *   bce:            L_D = BCE(D(x), 1) + BCE(D(sg(G(z))), 0)
 *                   L_G = BCE(D(G(z')), 1)          (non-saturating)
 *   wasserstein:    L_D = mean D(sg(G(z))) - mean D(x), parameters of D
 *                   clamped to [-0.01, 0.01] after each update
 *                   L_G = -mean D(G(z'))
 *   wasserstein-gp: L_D as wasserstein + lambda mean_i (||grad_xhat D(xhat)_i|| - 1)^2,
 *                   xhat = eps x + (1 - eps) sg(G(z)), eps ~ U[0, 1) per sample,
 *                   the gradient taken in the graph (double backward)
 * where sg is stop_gradient. Each phase's gradients are taken w.r.t. its own
 * parameters only ("generator.*" for g, "discriminator.*" for d): L_G flows
 * back through D into G and gives D nothing.
 *
 * The discriminator is applied several times (real, fake, interpolates, and
 * in the generator's phase): the first call creates its parameters, later
 * ones run in reuse mode and share them (dlt_graph_set_reuse). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_gen.h"
#include "dlt_ops.h"
#include "gan_sample.h"
#include "task.h"

enum { LOSS_BCE = 0, LOSS_WASSERSTEIN, LOSS_WASSERSTEIN_GP };

/* Training sums (summed over ranks): per phase run of d: its loss, D(x),
 * D(G(z)), the penalty and a count; per run of g: its loss and a count. */
enum { S_DLOSS = 0, S_DX, S_DGZ, S_GP, S_DRUNS, S_GLOSS, S_GRUNS, S_N };

typedef struct {
    dlt_loader *loader;
    int c_in, h, w, classes;
    int loss;
    dlt_gan_spec spec;
    dlt_t x, labels_d, labels_g;
    dlt_t loss_d, loss_g, d_x, d_gz, gp;
    dlt_gan_sampler *sampler; /* rank 0's sample grids, made at the first one */
    dlt_gan_fid *fid;         /* FID (gan.fid_classifier), opened at the first one */
    double fid_value;
} gan_task;

static dlt_status open_loader(const dlt_train_config *c, int rank, int world, int meta,
                              dlt_loader **out)
{
    dlt_loader_config lc;
    dlt_loader_config_default(&lc);
    lc.paths = c->train_glob;
    lc.batch_size = c->batch_size;
    lc.shuffle = c->shuffle;
    lc.seed = c->seed;
    lc.drop_last = 1; /* every batch full: the noise and the losses assume it */
    for (int i = 0; i < 4; i++)
        lc.mean[i] = 0.5f, lc.std[i] = 0.5f; /* [-1, 1], the generator's range */
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

const char *dlt_task_gan_loss(const dlt_train_config *c)
{
    return c->gan_loss[0]                ? c->gan_loss
           : !strcmp(c->arch, "wgan")    ? "wasserstein"
           : !strcmp(c->arch, "wgan-gp") ? "wasserstein-gp"
                                         : "bce";
}

static int loss_kind(const dlt_train_config *c)
{
    const char *l = dlt_task_gan_loss(c);
    return !strcmp(l, "wasserstein")      ? LOSS_WASSERSTEIN
           : !strcmp(l, "wasserstein-gp") ? LOSS_WASSERSTEIN_GP
                                          : LOSS_BCE;
}

/* The papers' settings: Adam 2e-4 (0.5, 0.999) for the BCE GANs (DCGAN),
 * RMSprop 5e-5 with the critic clipped to 0.01 and n_critic 5 (WGAN), Adam
 * 1e-4 (0.0, 0.9) and n_critic 5 (WGAN-GP). */
void dlt_task_gan_phase_defaults(const dlt_train_config *c, dlt_task_phase *ph)
{
    int loss = loss_kind(c);
    for (int p = 0; p < 2; p++) {
        snprintf(ph[p].name, sizeof ph[p].name, "%s", p == 0 ? "d" : "g");
        if (loss == LOSS_WASSERSTEIN) {
            dlt_optim_config_default("rmsprop", &ph[p].optim);
            ph[p].optim.lr = 5e-5;
        } else {
            dlt_optim_config_default("adam", &ph[p].optim);
            ph[p].optim.lr = loss == LOSS_BCE ? 2e-4 : 1e-4;
            ph[p].optim.beta1 = loss == LOSS_BCE ? 0.5 : 0.0;
            ph[p].optim.beta2 = loss == LOSS_BCE ? 0.999 : 0.9;
        }
        ph[p].repeat = p == 0 && loss != LOSS_BCE ? 5 : 1;
        ph[p].clip_value = p == 0 && loss == LOSS_WASSERSTEIN ? 0.01 : 0;
    }
}

static dlt_status check(const dlt_train_config *c, int world)
{
    dlt_status st = dlt_gan_fid_check(c);
    if (st != DLT_OK)
        return st;
    dlt_loader *l = NULL;
    st = open_loader(c, 0, world, 1, &l);
    if (st != DLT_OK) {
        dlt_adderr(st, "data.train");
        return DLT_ERR_INVALID;
    }
    int k = dlt_loader_num_classes(l);
    if (c->gan.num_classes > 0 && c->gan.num_classes != k)
        st = dlt_seterr(DLT_ERR_INVALID,
                        "gan.num_classes = %d but the training shards have %d classes",
                        c->gan.num_classes, k);
    dlt_loader_close(l);
    return st;
}

static dlt_status open_task(dlt_task *t)
{
    const dlt_train_config *c = t->c;
    gan_task *k = calloc(1, sizeof *k);
    dlt_status st;
    if (!k)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    t->impl = k;
    if ((st = open_loader(c, t->rank, t->world, 0, &k->loader)) != DLT_OK)
        return dlt_adderr(st, "data.train");
    dlt_loader_sample_shape(k->loader, &k->c_in, &k->h, &k->w);
    k->classes = dlt_loader_num_classes(k->loader);
    k->loss = loss_kind(c);
    t->steps_per_epoch = dlt_loader_steps_per_epoch(k->loader);
    t->num_samples = dlt_loader_num_samples(k->loader);
    t->val_steps = 0; /* no validation loop: FID and sample grids are separate tools */
    t->ntrain_sums = S_N;
    t->neval_sums = 0;
    t->best_higher = 0; /* FID when the job computes it (after_step) */
    t->best_key = c->gan_fid_classifier[0] ? "fid" : "d_loss";
    return DLT_OK;
}

static dlt_t mean_all(dlt_graph *g, dlt_t x)
{
    return dlt_mean(g, x, 0, NULL, 0);
}

static dlt_t bce_const(dlt_graph *g, dlt_t logits, int n, float target)
{
    int64_t d[1] = {n};
    float *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        v[i] = target;
    dlt_t y = dlt_constant(g, DLT_F32, 1, d, v);
    free(v);
    return dlt_bce_with_logits(g, logits, y, -1, DLT_REDUCE_MEAN);
}

/* WGAN-GP's penalty mean_i (||grad_xhat D(xhat)_i|| - 1)^2 on interpolates
 * between the real batch x and the (stopped) fakes. */
static dlt_t gradient_penalty(dlt_graph *g, const dlt_gan_spec *s, dlt_t x, dlt_t fake, dlt_t label,
                              int64_t first)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    int64_t ed[4] = {xs->dim[0], 1, 1, 1};
    dlt_t eps = dlt_random_uniform_samples(g, 4, ed, 0.0f, 1.0f, first);
    dlt_t one = dlt_scalar(g, 1.0f);
    dlt_t xhat = dlt_add(g, dlt_mul(g, eps, x), dlt_mul(g, dlt_sub(g, one, eps), fake));
    dlt_t d_hat = dlt_gan_discriminator(g, s, xhat, label);
    dlt_t gr = -1;
    if (dlt_graph_status(g) != DLT_OK ||
        dlt_grad(g, dlt_sum(g, d_hat, 0, NULL, 0), 1, &xhat, &gr) != DLT_OK)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "wasserstein-gp: gradient of the critic: %s",
                              dlt_errmsg());
    int axes[3] = {1, 2, 3};
    /* + 1e-12 under the root: a zero gradient would give an infinite derivative */
    dlt_t norm =
        dlt_sqrt(g, dlt_add(g, dlt_sum(g, dlt_square(g, gr), 3, axes, 0), dlt_scalar(g, 1e-12f)));
    return mean_all(g, dlt_square(g, dlt_sub(g, norm, one)));
}

/* The parameters whose name starts with prefix (a phase's), for dlt_grad. */
static dlt_status phase_params(dlt_graph *g, const char *prefix, dlt_task_phase *ph)
{
    int nv = dlt_graph_num_values(g), n = 0;
    size_t len = strlen(prefix);
    ph->params = malloc((size_t)(nv > 0 ? nv : 1) * sizeof *ph->params);
    ph->grads = malloc((size_t)(nv > 0 ? nv : 1) * sizeof *ph->grads);
    if (!ph->params || !ph->grads)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int v = 0; v < nv; v++)
        if (dlt_kind_of(g, v) == DLT_VAL_PARAM && !strncmp(dlt_name_of(g, v), prefix, len) &&
            dlt_name_of(g, v)[len] == '.')
            ph->params[n++] = v;
    ph->nparams = n;
    if (n == 0)
        return dlt_seterr(DLT_ERR_INTERNAL, "GAN task: no parameters under '%s'", prefix);
    return dlt_grad(g, ph->loss, n, ph->params, ph->grads);
}

static dlt_status build(dlt_task *t, dlt_graph *g, dlt_task_graph *tg)
{
    const dlt_train_config *c = t->c;
    gan_task *k = t->impl;
    dlt_gan_spec *s = &k->spec;
    *s = c->gan;
    s->img_c = k->c_in, s->img_h = k->h, s->img_w = k->w;
    if (s->num_classes > 0 && s->num_classes != k->classes)
        return dlt_seterr(DLT_ERR_INVALID,
                          "gan.num_classes = %d but the training shards have %d classes",
                          s->num_classes, k->classes);
    int B = c->batch_size;
    int64_t first = (int64_t)t->rank * B; /* this rank's first global sample */
    int64_t xd[4] = {B, k->c_in, k->h, k->w}, ld[1] = {B}, zd[2] = {B, s->z_dim};
    k->x = dlt_input(g, "images", DLT_F32, 4, xd);
    k->labels_d = k->labels_g = -1;
    if (s->num_classes > 0) {
        k->labels_d = dlt_input(g, "labels", DLT_I32, 1, ld);
        k->labels_g = dlt_input(g, "g_labels", DLT_I32, 1, ld);
    }
    /* phase d: real and (stopped) fake batches; the first calls create the parameters */
    dlt_t z = dlt_random_normal_samples(g, 2, zd, 0.0f, 1.0f, first);
    dlt_t fake = dlt_stop_gradient(g, dlt_gan_generator(g, s, z, k->labels_d));
    dlt_t d_real = dlt_gan_discriminator(g, s, k->x, k->labels_d);
    int was = dlt_graph_set_reuse(g, 1);
    dlt_t d_fake = dlt_gan_discriminator(g, s, fake, k->labels_d);
    k->gp = -1;
    if (k->loss == LOSS_BCE) {
        k->loss_d = dlt_add(g, bce_const(g, d_real, B, 1.0f), bce_const(g, d_fake, B, 0.0f));
        k->d_x = mean_all(g, dlt_sigmoid(g, d_real));
        k->d_gz = mean_all(g, dlt_sigmoid(g, d_fake));
    } else {
        k->d_x = mean_all(g, d_real);
        k->d_gz = mean_all(g, d_fake);
        k->loss_d = dlt_sub(g, k->d_gz, k->d_x);
        if (k->loss == LOSS_WASSERSTEIN_GP) {
            k->gp = gradient_penalty(g, s, k->x, fake, k->labels_d, first);
            k->loss_d =
                dlt_add(g, k->loss_d, dlt_mul(g, k->gp, dlt_scalar(g, (float)c->gp_lambda)));
        }
    }
    /* phase g: fresh noise through G and the shared D */
    dlt_t z2 = dlt_random_normal_samples(g, 2, zd, 0.0f, 1.0f, first);
    dlt_t d_gen =
        dlt_gan_discriminator(g, s, dlt_gan_generator(g, s, z2, k->labels_g), k->labels_g);
    dlt_graph_set_reuse(g, was);
    k->loss_g = k->loss == LOSS_BCE ? bce_const(g, d_gen, B, 1.0f) : dlt_neg(g, mean_all(g, d_gen));
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(g), "%s", dlt_graph_errmsg(g));
    dlt_kv_int(&tg->model, "num_parameters", dlt_count_params(g));
    dlt_gan_describe(s, &tg->model);
    dlt_kv_str(&tg->model, "loss",
               k->loss == LOSS_BCE           ? "bce"
               : k->loss == LOSS_WASSERSTEIN ? "wasserstein"
                                             : "wasserstein-gp");
    tg->contract = DLT_GRAD_MEAN;
    tg->loss_scale = -1;
    tg->loss = k->loss_d;
    tg->flops_out = d_gen;
    tg->nphases = 2;
    dlt_task_phase *pd = &tg->phases[0], *pg = &tg->phases[1];
    snprintf(pd->name, sizeof pd->name, "d");
    snprintf(pg->name, sizeof pg->name, "g");
    pd->loss = k->loss_d, pg->loss = k->loss_g;
    pd->nouts = 3;
    pd->outs[0] = k->loss_d, pd->outs[1] = k->d_x, pd->outs[2] = k->d_gz;
    if (k->gp >= 0)
        pd->outs[pd->nouts++] = k->gp;
    pg->nouts = 1;
    pg->outs[0] = k->loss_g;
    tg->nouts = pd->nouts;
    memcpy(tg->outs, pd->outs, sizeof tg->outs);
    /* the papers' optimizers: Adam 2e-4 (0.5, 0.999) for the BCE GANs
     * (DCGAN), RMSprop 5e-5 with clipping 0.01 and n_critic 5 (WGAN), Adam
     * 1e-4 (0.0, 0.9) and n_critic 5 (WGAN-GP) */
    for (int p = 0; p < 2; p++) {
        dlt_task_phase *ph = &tg->phases[p];
        if (k->loss == LOSS_WASSERSTEIN) {
            dlt_optim_config_default("rmsprop", &ph->optim);
            ph->optim.lr = 5e-5;
        } else {
            dlt_optim_config_default("adam", &ph->optim);
            ph->optim.lr = k->loss == LOSS_BCE ? 2e-4 : 1e-4;
            ph->optim.beta1 = k->loss == LOSS_BCE ? 0.5 : 0.0;
            ph->optim.beta2 = k->loss == LOSS_BCE ? 0.999 : 0.9;
        }
        ph->repeat = p == 0 && k->loss != LOSS_BCE ? 5 : 1;
        ph->clip_value = p == 0 && k->loss == LOSS_WASSERSTEIN ? 0.01 : 0;
    }
    dlt_status st = phase_params(g, "discriminator", pd);
    if (st == DLT_OK)
        st = phase_params(g, "generator", pg);
    return st;
}

/* The class the conditional generator's phase asks for at global sample
 * index i of the run keyed `key`: a hash of (seed, key, i), so it depends on
 * neither the rank's share of the batch nor what was fed before (a run
 * resumed between phases asks for the same classes). */
static int32_t g_label(uint64_t seed, int64_t key, int64_t i, int classes)
{
    uint64_t z =
        seed ^ ((uint64_t)key * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)i * 0xd1342543de82ef95ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull; /* splitmix64's finaliser */
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (int32_t)(z % (uint64_t)classes);
}

/* Phase d: the next real batch (and its labels); phase g: no data (the
 * conditional generator's classes from g_label). */
static dlt_status feed(dlt_task *t, dlt_plan *p, int train, dlt_task_batch *tb)
{
    gan_task *k = t->impl;
    const dlt_train_config *c = t->c;
    (void)train;
    if (t->phase != 0) {
        int32_t *gl = k->labels_g >= 0 ? dlt_plan_data(p, k->labels_g) : NULL;
        for (int i = 0; gl && i < c->batch_size; i++)
            gl[i] =
                g_label(c->seed, t->phase_step, (int64_t)t->rank * c->batch_size + i, k->classes);
        memset(tb, 0, sizeof *tb);
        tb->weight = c->batch_size; /* no training data consumed (samples 0) */
        return DLT_OK;
    }
    dlt_batch b;
    dlt_status st = dlt_loader_next(k->loader, &b);
    if (st != DLT_OK)
        return st;
    memcpy(dlt_plan_data(p, k->x), b.images,
           (size_t)b.size * k->c_in * k->h * k->w * sizeof(float));
    int32_t *l = k->labels_d >= 0 ? dlt_plan_data(p, k->labels_d) : NULL;
    for (int i = 0; l && i < b.size; i++)
        l[i] = b.labels[i] >= 0 && b.labels[i] < k->classes ? b.labels[i] : 0;
    tb->samples = b.valid;
    tb->weight = b.valid;
    tb->epoch = b.epoch;
    tb->last_in_epoch = b.last_in_epoch;
    return DLT_OK;
}

static double out_f(dlt_plan *p, dlt_t v)
{
    return v >= 0 ? *(const float *)dlt_plan_data(p, v) : 0;
}

static void accumulate(dlt_task *t, dlt_plan *p, int train, const dlt_task_batch *b, double *sums)
{
    gan_task *k = t->impl;
    (void)train, (void)b;
    if (t->phase == 0) {
        sums[S_DLOSS] += out_f(p, k->loss_d);
        sums[S_DX] += out_f(p, k->d_x);
        sums[S_DGZ] += out_f(p, k->d_gz);
        sums[S_GP] += out_f(p, k->gp);
        sums[S_DRUNS] += 1;
    } else {
        sums[S_GLOSS] += out_f(p, k->loss_g);
        sums[S_GRUNS] += 1;
    }
}

/* Means over every phase run of the interval and every rank. */
static void metrics(const dlt_task *t, int train, const double *sums, dlt_metrics *m)
{
    const gan_task *k = t->impl;
    (void)train;
    double nd = sums[S_DRUNS], ng = sums[S_GRUNS];
    int wass = k->loss != LOSS_BCE;
    m->n = k->gp >= 0 ? 5 : 4;
    m->key[0] = m->label[0] = "d_loss";
    m->key[1] = m->label[1] = "g_loss";
    m->key[2] = "d_x", m->label[2] = wass ? "D(x)" : "D(x)";
    m->key[3] = "d_g_z", m->label[3] = "D(G(z))";
    m->val[0] = nd > 0 ? sums[S_DLOSS] / nd : NAN;
    m->val[1] = ng > 0 ? sums[S_GLOSS] / ng : NAN;
    m->val[2] = nd > 0 ? sums[S_DX] / nd : NAN;
    m->val[3] = nd > 0 ? sums[S_DGZ] / nd : NAN;
    if (k->gp >= 0) {
        m->key[4] = m->label[4] = "gp";
        m->val[4] = nd > 0 ? sums[S_GP] / nd : NAN;
    }
}

static dlt_loader_cursor get_cursor(const dlt_task *t)
{
    return dlt_loader_get_cursor(((const gan_task *)t->impl)->loader);
}

static dlt_status set_cursor(dlt_task *t, int train, dlt_loader_cursor c)
{
    gan_task *k = t->impl;
    if (!train)
        return DLT_OK;
    return dlt_loader_set_cursor(k->loader, c);
}

static dlt_status predict(dlt_task *t, dlt_plan *p, const dlt_task_batch *b, int logits,
                          dlt_pred_file *f)
{
    (void)t, (void)p, (void)b, (void)logits, (void)f;
    return dlt_seterr(DLT_ERR_UNSUPPORTED, "dltrain predict: a GAN has no per-sample predictions");
}

/* Sample grids every gan.sample_every steps and at the end (rank 0), FID at
 * every checkpoint of checkpoint.every_steps and at the end (every rank:
 * gan_fid.c); the generator's parameters and running statistics come from
 * the training graph. */
static dlt_status after_step(dlt_task *t, dlt_graph *g, dlt_comm *comm, int64_t step, int last,
                             dlt_tb_writer *tb, dlt_metrics *m)
{
    gan_task *k = t->impl;
    const dlt_train_config *c = t->c;
    int64_t every = c->gan_sample_every, ck = c->ckpt_every_steps;
    int grid = t->rank == 0 && (last || (every > 0 && step % every == 0));
    int fid = c->gan_fid_classifier[0] && (last || (ck > 0 && step % ck == 0));
    dlt_status st = DLT_OK;
    if (grid || fid)
        st = dlt_graph_download(g, DLT_SYNC_PARAMS | DLT_SYNC_BUFFERS);
    if (st == DLT_OK && grid && !k->sampler)
        st = dlt_gan_sampler_create(&k->spec, DLT_GAN_SAMPLE_N, -1, c->seed, &k->sampler);
    if (st == DLT_OK && grid)
        st = dlt_gan_sampler_load(k->sampler, g);
    if (st == DLT_OK && grid)
        st = dlt_gan_sampler_write(k->sampler, c->run_dir, step, tb);
    if (st == DLT_OK && fid && !k->fid)
        st = dlt_gan_fid_open(c, &k->spec, &k->fid);
    if (st == DLT_OK && fid) {
        st = dlt_gan_fid_compute(k->fid, g, comm, t->rank, t->world, &k->fid_value);
        m->n = 1;
        m->key[0] = m->label[0] = "fid";
        m->val[0] = k->fid_value;
        m->samples = c->gan_fid_samples;
    }
    return st;
}

static void describe(const dlt_task *t, FILE *out)
{
    const gan_task *k = t->impl;
    fprintf(out, "# model %s (GAN, loss %s) on %dx%dx%d images, batch %d per rank, %d rank%s\n",
            t->c->arch,
            k->loss == LOSS_BCE           ? "bce"
            : k->loss == LOSS_WASSERSTEIN ? "wasserstein"
                                          : "wasserstein-gp",
            k->c_in, k->h, k->w, t->c->batch_size, t->world, t->world > 1 ? "s" : "");
}

static void close_task(dlt_task *t)
{
    gan_task *k = t->impl;
    if (!k)
        return;
    dlt_loader_close(k->loader);
    dlt_gan_sampler_free(k->sampler);
    dlt_gan_fid_free(k->fid);
    free(k);
    t->impl = NULL;
}

const dlt_task_ops dlt_task_gan = {
    .name = "gan",
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
