/* The CycleGAN task (Zhu et al. 2017): two generators G_AB, G_BA and two
 * PatchGAN discriminators D_A, D_B of cyclegan.c, trained on unpaired
 * batches of two image domains (image-pairs shards, dlt_pair_loader) in two
 * phases per iteration (trainer_phase.c), in the reference's order:
 *
 *   "g": both generators (scopes G_AB and G_BA: one contiguous range of the
 *        flat buffers, dlt_dist_create_groups lays a phase's parameters out
 *        together whatever their scopes), on the next pair batch (a, b):
 *        L_G = MSE(D_B(G_AB(a)), 1) + MSE(D_A(G_BA(b)), 1)
 *            + lc (L1(G_BA(G_AB(a)), a) + L1(G_AB(G_BA(b)), b))
 *            + lc li (L1(G_BA(a), a) + L1(G_AB(b), b))
 *        with lc = cyclegan.lambda_cycle (10) and li = lambda_identity (0.5,
 *        a fraction of lc as in the reference). The gradients are taken
 *        w.r.t. the generators only: D_A and D_B get none from L_G.
 *   "d": both discriminators, on the same (a, b) and the fakes of phase g
 *        passed through the history pools (image_pool.h):
 *        L_D = 0.5 (MSE(D_A(a), 1) + MSE(D_A(pool_A(G_BA(b))), 0))
 *            + 0.5 (MSE(D_B(b), 1) + MSE(D_B(pool_B(G_AB(a))), 0)).
 * MSE against a constant is the least-squares GAN loss, a mean over the
 * patch map; every term is a mean over the local batch (the reducer averages
 * the ranks: DLT_GRAD_MEAN).
 *
 * The one host round trip: the fakes G_AB(a), G_BA(b) are outputs of the g
 * plan; accumulate() copies them to the host, and phase d's feed() runs them
 * through the pools into the d plan's inputs "pool_fake_a", "pool_fake_b"
 * (the pool's choices are data-dependent: which stored image comes back is
 * host bookkeeping, so the d plan cannot recompute the fakes itself, and the
 * reference feeds D the fakes of the pre-update generators anyway).
 *
 * Pools: cyclegan.pool_size images per domain per rank (each rank keeps its
 * own, as each process of the reference does), their choices from the
 * counter-based RNG keyed by (seed, the d run's step key, rank, domain), so
 * a run is reproducible for a fixed world size. The pools and the pending
 * batch with its fakes are this task's own state (state_len/get/set), which
 * checkpoints keep per rank: a resume, also between g and d, is exact.
 *
 * At the end of a run rank 0 writes the translation grids (finish):
 * <run_dir>/samples/translate_a2b2a.png and translate_b2a2b.png, rows real,
 * translated, reconstructed of the last GRID_N samples phase g saw. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlt_gen.h"
#include "dlt_ops.h"
#include "dlt_png.h"
#include "image_pool.h"
#include "task.h"

enum { GRID_N = 8 }; /* images per row of the translation grids */
/* Training sums (summed over ranks): per run of g its loss, adversarial,
 * cycle and identity parts and a count; per run of d its loss and a count. */
enum { S_GLOSS = 0, S_GAN, S_CYC, S_IDT, S_GRUNS, S_DLOSS, S_DRUNS, S_N };

typedef struct {
    dlt_pair_loader *loader;
    dlt_cyclegan_spec spec;
    int c_in, h, w;
    int64_t numel; /* floats per image */
    dlt_t a, b, pool_a, pool_b;
    dlt_t loss_g, gan_g, cyc, idt, fakes, recs, loss_d;
    /* host copies: the g batch (for phase d), its fakes (through the pools)
     * and, for the translation grids, the images of the last GRID_N samples
     * of g batches: rows real_a, fake_b, rec_a, real_b, fake_a, rec_b of
     * GRID_N images each, grid_n filled, slot grid_next written next */
    float *real_a, *real_b, *fakes_a, *fakes_b, *grid;
    int grid_n, grid_next;
    dlt_image_pool pa, pb;
} cyclegan_task;

static dlt_status open_loader(const dlt_train_config *c, int rank, int world, int meta,
                              dlt_pair_loader **out)
{
    dlt_loader_config lc;
    dlt_pair_loader_config_default(&lc); /* [-1, 1], the generators' tanh range */
    lc.paths = c->train_glob;
    lc.batch_size = c->batch_size;
    lc.shuffle = c->shuffle;
    lc.seed = c->seed;
    lc.drop_last = 1;
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
    return dlt_pair_loader_open(&lc, out);
}

static dlt_status check(const dlt_train_config *c, int world)
{
    /* phase d trains on the one batch phase g ran and its fakes */
    int more = c->accumulate > 1;
    for (int i = 0; i < c->nphase_cfg; i++)
        more |= c->phase[i].accumulate > 1 || c->phase[i].repeat > 1;
    if (more)
        return dlt_seterr(DLT_ERR_UNSUPPORTED,
                          "cyclegan: train.accumulate, phase.<g|d>_accumulate and "
                          "phase.<g|d>_repeat must be 1 (phase d trains on phase g's batch)");
    dlt_pair_loader *l = NULL;
    dlt_status st = open_loader(c, 0, world, 1, &l);
    if (st != DLT_OK)
        return dlt_adderr(st, "data.train (cyclegan needs image-pairs shards: dlprep "
                              "fashion-mnist-pair or two-domain)");
    dlt_pair_loader_close(l);
    return DLT_OK;
}

static dlt_status open_task(dlt_task *t)
{
    const dlt_train_config *c = t->c;
    cyclegan_task *k = calloc(1, sizeof *k);
    dlt_status st;
    if (!k)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    t->impl = k;
    if ((st = open_loader(c, t->rank, t->world, 0, &k->loader)) != DLT_OK)
        return dlt_adderr(st, "data.train (cyclegan needs image-pairs shards: dlprep "
                              "fashion-mnist-pair or two-domain)");
    dlt_pair_loader_sample_shape(k->loader, &k->c_in, &k->h, &k->w);
    k->numel = (int64_t)k->c_in * k->h * k->w;
    size_t n = (size_t)c->batch_size * (size_t)k->numel;
    k->real_a = calloc(n, sizeof(float));
    k->real_b = calloc(n, sizeof(float));
    k->fakes_a = calloc(n, sizeof(float));
    k->fakes_b = calloc(n, sizeof(float));
    k->grid = calloc(6 * GRID_N * (size_t)k->numel, sizeof(float));
    if (!k->real_a || !k->real_b || !k->fakes_a || !k->fakes_b || !k->grid)
        return dlt_seterr(DLT_ERR_NOMEM, "cyclegan: out of memory for the batch copies");
    if ((st = dlt_image_pool_init(&k->pa, c->cyc_pool, k->numel)) != DLT_OK ||
        (st = dlt_image_pool_init(&k->pb, c->cyc_pool, k->numel)) != DLT_OK)
        return st;
    t->steps_per_epoch = dlt_pair_loader_steps_per_epoch(k->loader);
    t->num_samples = dlt_pair_loader_num_images(k->loader, dlt_pair_loader_epoch_domain(k->loader));
    t->val_steps = 0; /* no validation loop */
    t->ntrain_sums = S_N;
    t->neval_sums = 0;
    t->best_higher = 0;
    t->best_key = "loss_g";
    return DLT_OK;
}

void dlt_task_cyclegan_phase_defaults(dlt_task_phase *ph)
{
    for (int p = 0; p < 2; p++) {
        snprintf(ph[p].name, sizeof ph[p].name, "%s", p == 0 ? "g" : "d");
        dlt_optim_config_default("adam", &ph[p].optim);
        ph[p].optim.lr = 2e-4;
        ph[p].optim.beta1 = 0.5;
        ph[p].optim.beta2 = 0.999;
        ph[p].repeat = 1;
        ph[p].clip_value = 0;
    }
}

/* The least-squares GAN term mean((x - target)^2) over the patch map. */
static dlt_t lsgan(dlt_graph *g, dlt_t logits, float target)
{
    dlt_t d = target != 0.0f ? dlt_sub(g, logits, dlt_scalar(g, target)) : logits;
    return dlt_mean(g, dlt_square(g, d), 0, NULL, 0);
}

static dlt_t l1(dlt_graph *g, dlt_t x, dlt_t y)
{
    return dlt_l1_loss(g, x, y, DLT_REDUCE_MEAN);
}

/* The parameters under either scope (a phase's), and their gradients of ph->loss. */
static dlt_status phase_params(dlt_graph *g, const char *s1, const char *s2, dlt_task_phase *ph)
{
    int nv = dlt_graph_num_values(g), n = 0;
    ph->params = malloc((size_t)(nv > 0 ? nv : 1) * sizeof *ph->params);
    ph->grads = malloc((size_t)(nv > 0 ? nv : 1) * sizeof *ph->grads);
    if (!ph->params || !ph->grads)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int v = 0; v < nv; v++) {
        if (dlt_kind_of(g, v) != DLT_VAL_PARAM)
            continue;
        const char *name = dlt_name_of(g, v);
        size_t l1n = strlen(s1), l2n = strlen(s2);
        if ((!strncmp(name, s1, l1n) && name[l1n] == '.') ||
            (!strncmp(name, s2, l2n) && name[l2n] == '.'))
            ph->params[n++] = v;
    }
    ph->nparams = n;
    if (n == 0)
        return dlt_seterr(DLT_ERR_INTERNAL, "cyclegan task: no parameters under '%s', '%s'", s1,
                          s2);
    return dlt_grad(g, ph->loss, n, ph->params, ph->grads);
}

static dlt_status build(dlt_task *t, dlt_graph *g, dlt_task_graph *tg)
{
    const dlt_train_config *c = t->c;
    cyclegan_task *k = t->impl;
    dlt_cyclegan_spec *s = &k->spec;
    *s = c->cyclegan;
    s->img_c = k->c_in, s->img_h = k->h, s->img_w = k->w;
    if (s->n_blocks <= 0) /* the reference's rule by image size */
        s->n_blocks = k->h >= 256 && k->w >= 256 ? 9 : 6;
    int B = c->batch_size;
    int64_t xd[4] = {B, k->c_in, k->h, k->w};
    k->a = dlt_input(g, "real_a", DLT_F32, 4, xd);
    k->b = dlt_input(g, "real_b", DLT_F32, 4, xd);
    k->pool_a = dlt_input(g, "pool_fake_a", DLT_F32, 4, xd);
    k->pool_b = dlt_input(g, "pool_fake_b", DLT_F32, 4, xd);
    /* first calls create the parameters of each network; later ones reuse them */
    dlt_t fake_b = dlt_cyclegan_generator(g, s, k->a, "G_AB");
    dlt_t rec_a = dlt_cyclegan_generator(g, s, fake_b, "G_BA");
    dlt_t d_real_a = dlt_cyclegan_discriminator(g, s, k->a, "D_A");
    dlt_t d_real_b = dlt_cyclegan_discriminator(g, s, k->b, "D_B");
    int was = dlt_graph_set_reuse(g, 1);
    dlt_t fake_a = dlt_cyclegan_generator(g, s, k->b, "G_BA");
    dlt_t rec_b = dlt_cyclegan_generator(g, s, fake_a, "G_AB");
    dlt_t idt_a = dlt_cyclegan_generator(g, s, k->a, "G_BA");
    dlt_t idt_b = dlt_cyclegan_generator(g, s, k->b, "G_AB");
    dlt_t dg_b = dlt_cyclegan_discriminator(g, s, fake_b, "D_B");
    dlt_t dg_a = dlt_cyclegan_discriminator(g, s, fake_a, "D_A");
    dlt_t dp_a = dlt_cyclegan_discriminator(g, s, k->pool_a, "D_A");
    dlt_t dp_b = dlt_cyclegan_discriminator(g, s, k->pool_b, "D_B");
    dlt_graph_set_reuse(g, was);
    float lc = (float)c->cyc_lambda, li = (float)(c->cyc_lambda * c->cyc_lambda_id);
    k->gan_g = dlt_add(g, lsgan(g, dg_b, 1.0f), lsgan(g, dg_a, 1.0f));
    k->cyc = dlt_add(g, l1(g, rec_a, k->a), l1(g, rec_b, k->b));
    k->idt = dlt_add(g, l1(g, idt_a, k->a), l1(g, idt_b, k->b));
    k->loss_g = dlt_add(
        g, k->gan_g,
        dlt_add(g, dlt_mul(g, k->cyc, dlt_scalar(g, lc)), dlt_mul(g, k->idt, dlt_scalar(g, li))));
    dlt_t half = dlt_scalar(g, 0.5f);
    dlt_t la = dlt_mul(g, dlt_add(g, lsgan(g, d_real_a, 1.0f), lsgan(g, dp_a, 0.0f)), half);
    dlt_t lb = dlt_mul(g, dlt_add(g, lsgan(g, d_real_b, 1.0f), lsgan(g, dp_b, 0.0f)), half);
    k->loss_d = dlt_add(g, la, lb);
    /* the g plan's image outputs, A's then B's along the batch */
    dlt_t fk[2] = {fake_a, fake_b}, rc[2] = {rec_a, rec_b};
    k->fakes = dlt_concat(g, 2, fk, 0);
    k->recs = dlt_concat(g, 2, rc, 0);
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(g), "%s", dlt_graph_errmsg(g));
    dlt_kv_int(&tg->model, "num_parameters", dlt_count_params(g));
    dlt_cyclegan_describe(s, &tg->model);
    tg->contract = DLT_GRAD_MEAN;
    tg->loss_scale = -1;
    tg->loss = k->loss_g;
    tg->flops_out = k->loss_g;
    tg->nphases = 2;
    dlt_task_phase *pg = &tg->phases[0], *pd = &tg->phases[1];
    dlt_task_cyclegan_phase_defaults(tg->phases);
    pg->loss = k->loss_g, pd->loss = k->loss_d;
    pg->nouts = 6;
    pg->outs[0] = k->loss_g, pg->outs[1] = k->gan_g, pg->outs[2] = k->cyc;
    pg->outs[3] = k->idt, pg->outs[4] = k->fakes, pg->outs[5] = k->recs;
    pd->nouts = 1;
    pd->outs[0] = k->loss_d;
    tg->nouts = 4;
    memcpy(tg->outs, pg->outs, sizeof tg->outs);
    dlt_status st = phase_params(g, "G_AB", "G_BA", pg);
    if (st == DLT_OK)
        st = phase_params(g, "D_A", "D_B", pd);
    return st;
}

/* Phase g: the next pair batch (kept for phase d); phase d: that batch and
 * the pools' answer to the fakes phase g made of it. */
static dlt_status feed(dlt_task *t, dlt_plan *p, int train, dlt_task_batch *tb)
{
    cyclegan_task *k = t->impl;
    const dlt_train_config *c = t->c;
    size_t n = (size_t)c->batch_size * (size_t)k->numel;
    (void)train;
    if (t->phase != 0) {
        memcpy(dlt_plan_data(p, k->a), k->real_a, n * sizeof(float));
        memcpy(dlt_plan_data(p, k->b), k->real_b, n * sizeof(float));
        dlt_image_pool_query(&k->pa, k->fakes_a, c->batch_size, dlt_plan_data(p, k->pool_a),
                             c->seed, dlt_image_pool_stream(t->phase_step, t->rank, 0));
        dlt_image_pool_query(&k->pb, k->fakes_b, c->batch_size, dlt_plan_data(p, k->pool_b),
                             c->seed, dlt_image_pool_stream(t->phase_step, t->rank, 1));
        memset(tb, 0, sizeof *tb);
        tb->weight = c->batch_size; /* no training data consumed (samples 0) */
        return DLT_OK;
    }
    dlt_pair_batch b;
    dlt_status st = dlt_pair_loader_next(k->loader, &b);
    if (st != DLT_OK)
        return st;
    memcpy(k->real_a, b.a, n * sizeof(float));
    memcpy(k->real_b, b.b, n * sizeof(float));
    memcpy(dlt_plan_data(p, k->a), b.a, n * sizeof(float));
    memcpy(dlt_plan_data(p, k->b), b.b, n * sizeof(float));
    int valid = dlt_pair_loader_epoch_domain(k->loader) ? b.valid_b : b.valid_a;
    tb->samples = valid;
    tb->weight = valid;
    tb->epoch = b.epoch;
    tb->last_in_epoch = b.last_in_epoch;
    return DLT_OK;
}

/* The g batch just run into the grid rows (recs: rec_a's batch, then rec_b's). */
static void grid_add(cyclegan_task *k, int batch, const float *recs)
{
    size_t in = (size_t)k->numel;
    const float *src[6] = {k->real_a, k->fakes_b, recs, k->real_b, k->fakes_a, recs + batch * in};
    for (int i = 0; i < batch; i++) {
        for (int r = 0; r < 6; r++)
            memcpy(k->grid + ((size_t)r * GRID_N + (size_t)k->grid_next) * in, src[r] + i * in,
                   in * sizeof(float));
        k->grid_next = (k->grid_next + 1) % GRID_N;
        if (k->grid_n < GRID_N)
            k->grid_n++;
    }
}

static double out_f(dlt_plan *p, dlt_t v)
{
    return *(const float *)dlt_plan_data(p, v);
}

/* Phase g: its losses, and its fakes to the host for phase d. */
static void accumulate(dlt_task *t, dlt_plan *p, int train, const dlt_task_batch *b, double *sums)
{
    cyclegan_task *k = t->impl;
    (void)train, (void)b;
    if (t->phase == 0) {
        size_t n = (size_t)t->c->batch_size * (size_t)k->numel;
        const float *f = dlt_plan_data(p, k->fakes);
        memcpy(k->fakes_a, f, n * sizeof(float));
        memcpy(k->fakes_b, f + n, n * sizeof(float));
        grid_add(k, t->c->batch_size, dlt_plan_data(p, k->recs));
        sums[S_GLOSS] += out_f(p, k->loss_g);
        sums[S_GAN] += out_f(p, k->gan_g);
        sums[S_CYC] += out_f(p, k->cyc);
        sums[S_IDT] += out_f(p, k->idt);
        sums[S_GRUNS] += 1;
    } else {
        sums[S_DLOSS] += out_f(p, k->loss_d);
        sums[S_DRUNS] += 1;
    }
}

/* Means over every phase run of the interval and every rank; cycle and
 * identity are the unweighted L1 sums of both directions. */
static void metrics(const dlt_task *t, int train, const double *sums, dlt_metrics *m)
{
    (void)t, (void)train;
    double ng = sums[S_GRUNS], nd = sums[S_DRUNS];
    m->n = 5;
    m->key[0] = m->label[0] = "loss_g";
    m->key[1] = m->label[1] = "loss_d";
    m->key[2] = m->label[2] = "cycle";
    m->key[3] = m->label[3] = "identity";
    m->key[4] = m->label[4] = "gan_g";
    m->val[0] = ng > 0 ? sums[S_GLOSS] / ng : NAN;
    m->val[1] = nd > 0 ? sums[S_DLOSS] / nd : NAN;
    m->val[2] = ng > 0 ? sums[S_CYC] / ng : NAN;
    m->val[3] = ng > 0 ? sums[S_IDT] / ng : NAN;
    m->val[4] = ng > 0 ? sums[S_GAN] / ng : NAN;
}

static dlt_loader_cursor get_cursor(const dlt_task *t)
{
    return dlt_pair_loader_get_cursor(((const cyclegan_task *)t->impl)->loader);
}

static dlt_status set_cursor(dlt_task *t, int train, dlt_loader_cursor c)
{
    cyclegan_task *k = t->impl;
    return train ? dlt_pair_loader_set_cursor(k->loader, c) : DLT_OK;
}

static dlt_status predict(dlt_task *t, dlt_plan *p, const dlt_task_batch *b, int logits,
                          dlt_pred_file *f)
{
    (void)t, (void)p, (void)b, (void)logits, (void)f;
    return dlt_seterr(DLT_ERR_UNSUPPORTED,
                      "dltrain predict: a CycleGAN has no per-sample predictions");
}

static void describe(const dlt_task *t, FILE *out)
{
    const cyclegan_task *k = t->impl;
    fprintf(out,
            "# model cyclegan on %dx%dx%d image pairs (%lld A, %lld B), pool %d, batch %d per "
            "rank, %d rank%s\n",
            k->c_in, k->h, k->w, (long long)dlt_pair_loader_num_images(k->loader, 0),
            (long long)dlt_pair_loader_num_images(k->loader, 1), t->c->cyc_pool, t->c->batch_size,
            t->world, t->world > 1 ? "s" : "");
}

/* The state a checkpoint keeps per rank (/state/task_state, docs/formats.md),
 * floats: [count_a, count_b, pool_size, image floats, batch], the pending
 * batch and its fakes (real_a, real_b, fakes_a, fakes_b: batch x image
 * floats each; what phase d of an iteration stopped between its phases
 * needs), then pool A and pool B (pool_size x image floats each, the first
 * count valid). Counts and sizes are exact in floats (< 2^24). */
enum { ST_HEAD = 5 };

static int64_t state_len(const dlt_task *t)
{
    const cyclegan_task *k = t->impl;
    return ST_HEAD + (4 * (int64_t)t->c->batch_size + 2 * (int64_t)k->pa.capacity) * k->numel;
}

static void state_get(const dlt_task *t, float *out)
{
    const cyclegan_task *k = t->impl;
    size_t bn = (size_t)t->c->batch_size * (size_t)k->numel,
           pn = (size_t)k->pa.capacity * (size_t)k->numel;
    out[0] = (float)k->pa.count, out[1] = (float)k->pb.count, out[2] = (float)k->pa.capacity;
    out[3] = (float)k->numel, out[4] = (float)t->c->batch_size;
    float *o = out + ST_HEAD;
    memcpy(o, k->real_a, bn * sizeof(float));
    memcpy(o + bn, k->real_b, bn * sizeof(float));
    memcpy(o + 2 * bn, k->fakes_a, bn * sizeof(float));
    memcpy(o + 3 * bn, k->fakes_b, bn * sizeof(float));
    if (pn) {
        memcpy(o + 4 * bn, k->pa.images, pn * sizeof(float));
        memcpy(o + 4 * bn + pn, k->pb.images, pn * sizeof(float));
    }
}

static dlt_status state_set(dlt_task *t, const float *in, int64_t n)
{
    cyclegan_task *k = t->impl;
    size_t bn = (size_t)t->c->batch_size * (size_t)k->numel,
           pn = (size_t)k->pa.capacity * (size_t)k->numel;
    if (n != state_len(t) || in[2] != (float)k->pa.capacity || in[3] != (float)k->numel ||
        in[4] != (float)t->c->batch_size)
        return dlt_seterr(
            DLT_ERR_INVALID,
            "/state/task_state: the checkpoint's CycleGAN pools hold %.0f images of %.0f "
            "floats with batch %.0f (%lld floats); this run has pool_size %d, %lld, "
            "batch %d: resume with the same cyclegan.pool_size, data and batch size",
            n >= ST_HEAD ? in[2] : -1.0, n >= ST_HEAD ? in[3] : -1.0, n >= ST_HEAD ? in[4] : -1.0,
            (long long)n, k->pa.capacity, (long long)k->numel, t->c->batch_size);
    const float *s = in + ST_HEAD;
    memcpy(k->real_a, s, bn * sizeof(float));
    memcpy(k->real_b, s + bn, bn * sizeof(float));
    memcpy(k->fakes_a, s + 2 * bn, bn * sizeof(float));
    memcpy(k->fakes_b, s + 3 * bn, bn * sizeof(float));
    dlt_status st = dlt_image_pool_restore(&k->pa, (int)in[0], k->numel, s + 4 * bn,
                                           "/state/task_state (pool A)");
    if (st == DLT_OK)
        st = dlt_image_pool_restore(&k->pb, (int)in[1], k->numel, s + 4 * bn + pn,
                                    "/state/task_state (pool B)");
    return st;
}

/* One translation grid at <run_dir>/samples/<name>: grid rows row0 ..
 * row0 + 2 (real, translated, reconstructed), grid_n images each. */
static dlt_status write_grid(const dlt_task *t, const char *name, int row0)
{
    const cyclegan_task *k = t->impl;
    int n = k->grid_n;
    size_t in = (size_t)k->numel;
    float *x = malloc(3 * (size_t)n * in * sizeof(float));
    if (!x)
        return dlt_seterr(DLT_ERR_NOMEM, "cyclegan: out of memory for the sample grid");
    for (int r = 0; r < 3; r++)
        memcpy(x + (size_t)r * n * in, k->grid + (size_t)(row0 + r) * GRID_N * in,
               (size_t)n * in * sizeof(float));
    dlt_grid_opts o = {.cols = n};
    dlt_image8 im = {0};
    char path[DLT_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/samples/%s", t->c->run_dir, name);
    dlt_status st = dlt_image_grid(x, 3 * n, k->c_in, k->h, k->w, &o, &im);
    if (st == DLT_OK)
        st = dlt_png_write(path, &im);
    dlt_image8_free(&im);
    free(x);
    return st;
}

/* The end of the run: the translation grids A->B->A and B->A->B of the
 * last GRID_N samples the g phase saw on rank 0 (none when this process ran
 * no g update). */
static dlt_status finish(dlt_task *t)
{
    cyclegan_task *k = t->impl;
    if (t->rank != 0 || k->grid_n == 0)
        return DLT_OK;
    char dir[DLT_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/samples", t->c->run_dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return dlt_seterr(DLT_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    dlt_status st = write_grid(t, "translate_a2b2a.png", 0);
    if (st == DLT_OK)
        st = write_grid(t, "translate_b2a2b.png", 3);
    return st;
}

static void close_task(dlt_task *t)
{
    cyclegan_task *k = t->impl;
    if (!k)
        return;
    dlt_pair_loader_close(k->loader);
    dlt_image_pool_free(&k->pa);
    dlt_image_pool_free(&k->pb);
    free(k->real_a), free(k->real_b), free(k->fakes_a), free(k->fakes_b), free(k->grid);
    free(k);
    t->impl = NULL;
}

const dlt_task_ops dlt_task_cyclegan = {
    .name = "cyclegan",
    .check = check,
    .open = open_task,
    .build = build,
    .feed = feed,
    .accumulate = accumulate,
    .metrics = metrics,
    .get_cursor = get_cursor,
    .set_cursor = set_cursor,
    .predict = predict,
    .describe = describe,
    .close = close_task,
    .state_len = state_len,
    .state_get = state_get,
    .state_set = state_set,
    .finish = finish,
};
