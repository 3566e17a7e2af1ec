/* GAN sample grids (dlt_gan_sample.h): a sampler graph with the generator
 * alone, used by the GAN task's training hook (the graph's parameters come
 * from the training graph) and by `dltrain sample` (from a checkpoint, through
 * a graph holding the whole GAN, since a checkpoint loads only into a graph
 * with exactly its tensors). Both build the sampler the same way, so the
 * random node of the noise has the same node id, and draw with the same
 * seed and step key: the same noise. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "dlt_ckpt.h"
#include "dlt_ckpt_model.h"
#include "dlt_job.h"
#include "dlt_ops.h"
#include "gan_sample.h"
#include "task.h"

struct dlt_gan_sampler {
    dlt_gan_spec spec; /* a VAE's: its image shape, no classes */
    int vae;           /* a VAE decoder of prior samples: images in [0, 1] */
    int n;
    dlt_graph *g;
    dlt_plan *p;
    dlt_t labels, images;
};

void dlt_gan_sampler_free(dlt_gan_sampler *sm)
{
    if (!sm)
        return;
    dlt_plan_free(sm->p);
    dlt_graph_free(sm->g);
    free(sm);
}

/* The sampler's graph: noise first (its node id, part of its random
 * stream, is fixed), then the generator (GAN) or the decoder and its sigmoid
 * (VAE: the Bernoulli means of prior samples z ~ N(0, I)). */
static dlt_status create(const dlt_gan_spec *s, const dlt_vae_spec *v, int n, int label,
                         uint64_t seed, dlt_gan_sampler **out)
{
    dlt_gan_sampler *sm = calloc(1, sizeof *sm);
    *out = NULL;
    if (!sm || !(sm->g = dlt_graph_create(seed))) {
        free(sm);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    sm->spec = *s, sm->n = n, sm->vae = v != NULL;
    int64_t zd[2] = {n, v ? v->z_dim : s->z_dim}, ld[1] = {n};
    dlt_t z = dlt_random_normal_samples(sm->g, 2, zd, 0.0f, 1.0f, 0);
    sm->labels = s->num_classes > 0 ? dlt_input(sm->g, "labels", DLT_I32, 1, ld) : -1;
    sm->images = v ? dlt_sigmoid(sm->g, dlt_vae_decoder(sm->g, v, z))
                   : dlt_gan_generator(sm->g, s, z, sm->labels);
    dlt_status st = dlt_graph_status(sm->g);
    if (st != DLT_OK)
        st = dlt_seterr(st, "sample grid: %s", dlt_graph_errmsg(sm->g));
    if (st == DLT_OK)
        st = dlt_plan_create(sm->g, 1, &sm->images, NULL, &sm->p);
    if (st == DLT_OK && sm->labels >= 0) {
        /* one row per class, cycling (or every sample of `label`) */
        int32_t *l = dlt_plan_data(sm->p, sm->labels);
        for (int i = 0; i < n; i++)
            l[i] = label >= 0 ? label : (i / DLT_GAN_SAMPLE_COLS) % s->num_classes;
    }
    if (st != DLT_OK) {
        dlt_gan_sampler_free(sm);
        return st;
    }
    *out = sm;
    return DLT_OK;
}

dlt_status dlt_gan_sampler_create(const dlt_gan_spec *s, int n, int label, uint64_t seed,
                                  dlt_gan_sampler **out)
{
    return create(s, NULL, n, label, seed, out);
}

dlt_status dlt_vae_sampler_create(const dlt_vae_spec *v, int n, uint64_t seed,
                                  dlt_gan_sampler **out)
{
    dlt_gan_spec s;
    memset(&s, 0, sizeof s);
    s.img_c = v->img_c, s.img_h = v->img_h, s.img_w = v->img_w;
    return create(&s, v, n, -1, seed, out);
}

void dlt_gan_sampler_range(const dlt_gan_sampler *sm, float *lo, float *hi)
{
    *lo = sm->vae ? 0.0f : -1.0f, *hi = 1.0f;
}

/* One parameter or buffer of the sampler from src's storage of that name. */
static dlt_status copy_value(dlt_gan_sampler *sm, dlt_graph *src, const dlt_param_info *pi)
{
    dlt_t v = dlt_param_lookup(src, pi->name);
    if (v < 0)
        return dlt_seterr(DLT_ERR_INVALID, "sample grid: the model has no '%s'", pi->name);
    if (dlt_shape_numel(dlt_shape_of(src, v)) != (int64_t)pi->numel)
        return dlt_seterr(DLT_ERR_INVALID, "sample grid: '%s' has %lld values, the sampler %zu",
                          pi->name, (long long)dlt_shape_numel(dlt_shape_of(src, v)), pi->numel);
    memcpy(dlt_param_data(sm->g, pi->value), dlt_param_data(src, v), pi->numel * sizeof(float));
    return DLT_OK;
}

dlt_status dlt_gan_sampler_load(dlt_gan_sampler *sm, dlt_graph *src)
{
    dlt_status st = DLT_OK;
    for (int i = 0; st == DLT_OK && i < dlt_num_params(sm->g); i++)
        st = copy_value(sm, src, dlt_param_at(sm->g, i));
    for (int i = 0; st == DLT_OK && i < dlt_num_buffers(sm->g); i++)
        st = copy_value(sm, src, dlt_buffer_at(sm->g, i));
    return st;
}

dlt_status dlt_gan_sampler_run(dlt_gan_sampler *sm, int64_t key, const float **images)
{
    /* evaluation mode: batch norm uses (and keeps) its running statistics */
    dlt_exec_opts eo = {.training = 0, .step = key};
    dlt_status st = dlt_plan_run(sm->p, &eo);
    if (st == DLT_OK)
        st = dlt_plan_wait(sm->p);
    if (st != DLT_OK)
        return dlt_adderr(st, "generator samples");
    *images = dlt_plan_data(sm->p, sm->images);
    return DLT_OK;
}

int32_t *dlt_gan_sampler_labels(dlt_gan_sampler *sm)
{
    return sm->labels >= 0 ? dlt_plan_data(sm->p, sm->labels) : NULL;
}

const dlt_gan_spec *dlt_gan_sampler_spec(const dlt_gan_sampler *sm)
{
    return &sm->spec;
}

dlt_status dlt_gan_sampler_grid(dlt_gan_sampler *sm, dlt_image8 *grid)
{
    const float *x;
    dlt_status st = dlt_gan_sampler_run(sm, DLT_GAN_SAMPLE_KEY, &x);
    if (st != DLT_OK)
        return st;
    dlt_grid_opts go = {.cols = DLT_GAN_SAMPLE_COLS};
    dlt_gan_sampler_range(sm, &go.lo, &go.hi);
    const dlt_gan_spec *s = &sm->spec;
    return dlt_image_grid(x, sm->n, s->img_c, s->img_h, s->img_w, &go, grid);
}

dlt_status dlt_gan_sampler_write(dlt_gan_sampler *sm, const char *run_dir, int64_t step,
                                 dlt_tb_writer *tb)
{
    char path[DLT_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/samples", run_dir);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot create the directory: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/samples/step-%08lld.png", run_dir, (long long)step);
    dlt_image8 im = {0};
    dlt_status st = dlt_gan_sampler_grid(sm, &im);
    if (st == DLT_OK)
        st = dlt_png_write(path, &im);
    if (st == DLT_OK && tb) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        st = dlt_tb_image(tb, tv.tv_sec + tv.tv_usec * 1e-6, step, "samples", &im);
    }
    dlt_image8_free(&im);
    return st;
}

/* ---------------------------------------------------------------- dltrain sample */

/* The image shape the run took from its shards, from the checkpoint's /model. */
static void model_attr(const char *key, const char *value, void *user)
{
    dlt_gan_spec *s = user;
    if (!strcmp(key, "image_channels"))
        s->img_c = atoi(value);
    else if (!strcmp(key, "image_height"))
        s->img_h = atoi(value);
    else if (!strcmp(key, "image_width"))
        s->img_w = atoi(value);
}

dlt_status dlt_sampler_load_ckpt(dlt_graph *g, const char *ckpt)
{
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(g), "%s: %s", ckpt, dlt_graph_errmsg(g));
    dlt_status st = dlt_graph_finalize(g, NULL, 0);
    if (st != DLT_OK)
        return st;
    dlt_ckpt_tensors t;
    dlt_ckpt_state cs;
    memset(&cs, 0, sizeof cs);
    dlt_ckpt_tensors_from_graph(g, &t);
    t.nslots = 0; /* parameters and buffers; no optimizer state */
    st = dlt_ckpt_load(ckpt, &t, &cs);
    dlt_ckpt_state_free(&cs);
    return st;
}

/* The whole GAN (generator and discriminator: the checkpoint's tensors) with
 * the checkpoint's parameters and buffers. */
static dlt_status load_gan(const char *ckpt, const dlt_train_config *c, const dlt_gan_spec *s,
                           dlt_graph **out)
{
    dlt_graph *g = dlt_graph_create(c->seed);
    *out = g;
    if (!g)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int64_t zd[2] = {1, s->z_dim}, xd[4] = {1, s->img_c, s->img_h, s->img_w}, ld[1] = {1};
    dlt_t label = s->num_classes > 0 ? dlt_input(g, "labels", DLT_I32, 1, ld) : -1;
    dlt_gan_generator(g, s, dlt_input(g, "z", DLT_F32, 2, zd), label);
    dlt_gan_discriminator(g, s, dlt_input(g, "x", DLT_F32, 4, xd), label);
    return dlt_sampler_load_ckpt(g, ckpt);
}

/* The whole VAE (encoder and decoder: the checkpoint's tensors) with the
 * checkpoint's parameters and buffers. */
static dlt_status load_vae(const char *ckpt, const dlt_train_config *c, const dlt_vae_spec *v,
                           dlt_graph **out)
{
    dlt_graph *g = dlt_graph_create(c->seed);
    *out = g;
    if (!g)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int64_t zd[2] = {1, v->z_dim}, xd[4] = {1, v->img_c, v->img_h, v->img_w};
    dlt_t mu, logvar;
    dlt_vae_encoder(g, v, dlt_input(g, "images", DLT_F32, 4, xd), &mu, &logvar);
    dlt_vae_decoder(g, v, dlt_input(g, "z", DLT_F32, 2, zd));
    return dlt_sampler_load_ckpt(g, ckpt);
}

dlt_status dlt_gan_sampler_from_ckpt(const char *ckpt, int n, int label, int has_seed,
                                     uint64_t seed, dlt_gan_sampler **out)
{
    dlt_job *job = NULL;
    char *text = NULL;
    dlt_train_config c;
    dlt_graph *g = NULL;
    *out = NULL;
    dlt_status st = dlt_task_config_from_ckpt(ckpt, &job, &text, &c);
    dlt_gan_spec s = c.gan;
    int vae = st == DLT_OK && c.task == DLT_TASK_VAE;
    if (st == DLT_OK && c.task != DLT_TASK_GAN && !vae)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: model.arch = %s is not a GAN (one of %s) or a VAE",
                        ckpt, c.arch, dlt_gan_archs());
    if (vae)
        s.num_classes = 0;
    if (st == DLT_OK)
        st = dlt_ckpt_read_model(ckpt, model_attr, &s);
    if (st == DLT_OK && (s.img_c <= 0 || s.img_h <= 0 || s.img_w <= 0))
        st = dlt_seterr(DLT_ERR_INVALID, "%s: /model records no image shape", ckpt);
    if (st == DLT_OK && label >= 0 && s.num_classes <= 0)
        st = dlt_seterr(DLT_ERR_INVALID, "--label %d: %s is unconditional%s", label, c.arch,
                        vae ? "" : " (gan.num_classes = 0)");
    if (st == DLT_OK && label >= s.num_classes && s.num_classes > 0)
        st = dlt_seterr(DLT_ERR_INVALID, "--label %d: the model has classes 0..%d", label,
                        s.num_classes - 1);
    dlt_vae_spec v = c.vae;
    v.img_c = s.img_c, v.img_h = s.img_h, v.img_w = s.img_w;
    if (st == DLT_OK)
        st = vae ? load_vae(ckpt, &c, &v, &g) : load_gan(ckpt, &c, &s, &g);
    if (st == DLT_OK)
        st = vae ? dlt_vae_sampler_create(&v, n, has_seed ? seed : c.seed, out)
                 : dlt_gan_sampler_create(&s, n, label, has_seed ? seed : c.seed, out);
    if (st == DLT_OK && (st = dlt_gan_sampler_load(*out, g)) != DLT_OK) {
        dlt_gan_sampler_free(*out);
        *out = NULL;
    }
    dlt_graph_free(g);
    dlt_job_free(job);
    free(text);
    return st;
}

dlt_status dlt_gan_sample_ckpt(const dlt_gan_sample_opts *o, int *h, int *w)
{
    dlt_gan_sampler *sm = NULL;
    dlt_image8 im = {0};
    int n = o->n > 0 ? o->n : DLT_GAN_SAMPLE_N;
    dlt_status st = dlt_gan_sampler_from_ckpt(o->ckpt, n, o->label, o->has_seed, o->seed, &sm);
    if (st == DLT_OK)
        st = dlt_gan_sampler_grid(sm, &im);
    if (st == DLT_OK)
        st = dlt_png_write(o->out, &im);
    if (h)
        *h = im.h;
    if (w)
        *w = im.w;
    dlt_image8_free(&im);
    dlt_gan_sampler_free(sm);
    return st;
}
