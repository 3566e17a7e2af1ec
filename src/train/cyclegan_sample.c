/* `dltrain sample` on a CycleGAN checkpoint (dlt_gan_sample.h): the first
 * images of each domain of image-pairs shards through the checkpoint's
 * generators, A -> B -> A and B -> A -> B, as two grids of rows real,
 * translated, reconstructed (the layout of the run's own translation grids,
 * task_cyclegan.c). The checkpoint loads only into a graph with exactly its
 * tensors, so the graph holds all four networks, built as the task builds
 * them: first calls create each network's parameters, later ones reuse them.
 * Instance norm keeps no running statistics: evaluation mode computes what
 * training mode does. */
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ckpt_model.h"
#include "dlt_data.h"
#include "dlt_gan_sample.h"
#include "dlt_gen.h"
#include "dlt_job.h"
#include "dlt_ops.h"
#include "dlt_png.h"
#include "gan_sample.h"
#include "task.h"

int dlt_ckpt_is_cyclegan(const char *ckpt)
{
    dlt_job *job = NULL;
    char *text = NULL;
    dlt_train_config c;
    int yes =
        dlt_task_config_from_ckpt(ckpt, &job, &text, &c) == DLT_OK && c.task == DLT_TASK_CYCLEGAN;
    dlt_job_free(job);
    free(text);
    dlt_clearerr();
    return yes;
}

static void model_attr(const char *key, const char *value, void *user)
{
    dlt_cyclegan_spec *s = user;
    if (!strcmp(key, "image_channels"))
        s->img_c = atoi(value);
    else if (!strcmp(key, "image_height"))
        s->img_h = atoi(value);
    else if (!strcmp(key, "image_width"))
        s->img_w = atoi(value);
}

/* The first n images of each domain of the shards pattern matches, as the
 * pair loader normalises them, into a, b [n, C, H, W] (malloc'd); *n shrinks
 * to the smaller domain's count. */
static dlt_status read_pairs(const char *pattern, const dlt_cyclegan_spec *s, int *n, float **a,
                             float **b)
{
    glob_t gl;
    if (glob(pattern, 0, NULL, &gl) != 0)
        return dlt_seterr(DLT_ERR_NOTFOUND, "no shard matches '%s'", pattern);
    size_t plane = (size_t)s->img_h * s->img_w, img = plane * s->img_c;
    float *x[2] = { *a = calloc((size_t)*n * img, sizeof(float)),
                    *b = calloc((size_t)*n * img, sizeof(float))};
    uint8_t *hwc = malloc(img);
    int64_t got[2] = {0, 0};
    dlt_status st = x[0] && x[1] && hwc ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (size_t f = 0; st == DLT_OK && f < gl.gl_pathc && (got[0] < *n || got[1] < *n); f++) {
        dlt_shard *sh = NULL;
        if ((st = dlt_shard_open(gl.gl_pathv[f], NULL, &sh)) != DLT_OK)
            break;
        const dlt_shard_info *in = dlt_shard_get_info(sh);
        if (in->kind != DLT_KIND_IMAGE_PAIRS || in->c != s->img_c || in->h != s->img_h ||
            in->w != s->img_w)
            st = dlt_seterr(DLT_ERR_INVALID,
                            "%s: not image-pairs of %dx%dx%d images (HxWxC), which the "
                            "checkpoint's generators take",
                            gl.gl_pathv[f], s->img_h, s->img_w, s->img_c);
        for (int d = 0; st == DLT_OK && d < 2; d++) {
            int64_t have = d ? in->num_b : in->num_a;
            for (int64_t i = 0; st == DLT_OK && i < have && got[d] < *n; i++, got[d]++) {
                st = dlt_shard_read_pair_image(sh, d, i, hwc);
                /* HWC bytes -> CHW in [-1, 1]: the pair loader's f32 arithmetic */
                float *dst = x[d] + (size_t)got[d] * img;
                for (size_t q = 0; st == DLT_OK && q < plane; q++)
                    for (int k = 0; k < s->img_c; k++)
                        dst[(size_t)k * plane + q] =
                            (float)hwc[q * s->img_c + k] * (1.0f / (255.0f * 0.5f)) - 1.0f;
            }
        }
        dlt_shard_close(sh);
    }
    globfree(&gl);
    free(hwc);
    int m = (int)(got[0] < got[1] ? got[0] : got[1]);
    if (st == DLT_OK && m < 1)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: domain %c holds no image", pattern,
                        got[0] < 1 ? 'A' : 'B');
    *n = m < *n ? m : *n;
    return st;
}

/* The four networks on inputs real_a, real_b [n, C, H, W] with the
 * checkpoint's parameters; outs: G_AB(a), G_BA(G_AB(a)), G_BA(b), G_AB(G_BA(b)). */
static dlt_status build(const char *ckpt, const dlt_cyclegan_spec *s, uint64_t seed, int n,
                        dlt_graph **out, dlt_t *ab, dlt_t outs[4])
{
    dlt_graph *g = dlt_graph_create(seed);
    *out = g;
    if (!g)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int64_t xd[4] = {n, s->img_c, s->img_h, s->img_w};
    ab[0] = dlt_input(g, "real_a", DLT_F32, 4, xd);
    ab[1] = dlt_input(g, "real_b", DLT_F32, 4, xd);
    outs[0] = dlt_cyclegan_generator(g, s, ab[0], "G_AB");
    outs[1] = dlt_cyclegan_generator(g, s, outs[0], "G_BA");
    dlt_cyclegan_discriminator(g, s, ab[0], "D_A");
    dlt_cyclegan_discriminator(g, s, ab[1], "D_B");
    int was = dlt_graph_set_reuse(g, 1);
    outs[2] = dlt_cyclegan_generator(g, s, ab[1], "G_BA");
    outs[3] = dlt_cyclegan_generator(g, s, outs[2], "G_AB");
    dlt_graph_set_reuse(g, was);
    return dlt_sampler_load_ckpt(g, ckpt);
}

/* One grid: rows real, translated, reconstructed of n images each. */
static dlt_status write_grid(const char *path, const float *real, const float *tr, const float *rec,
                             int n, const dlt_cyclegan_spec *s, int *h, int *w)
{
    size_t img = (size_t)s->img_c * s->img_h * s->img_w, row = (size_t)n * img;
    float *x = malloc(3 * row * sizeof *x);
    if (!x)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    memcpy(x, real, row * sizeof *x);
    memcpy(x + row, tr, row * sizeof *x);
    memcpy(x + 2 * row, rec, row * sizeof *x);
    dlt_grid_opts o = {.cols = n};
    dlt_image8 im = {0};
    dlt_status st = dlt_image_grid(x, 3 * n, s->img_c, s->img_h, s->img_w, &o, &im);
    if (st == DLT_OK)
        st = dlt_png_write(path, &im);
    *h = im.h, *w = im.w;
    dlt_image8_free(&im);
    free(x);
    return st;
}

dlt_status dlt_cyclegan_sample_ckpt(const dlt_gan_sample_opts *o, dlt_cyclegan_sample_result *r)
{
    dlt_job *job = NULL;
    char *text = NULL;
    dlt_train_config c;
    dlt_graph *g = NULL;
    dlt_plan *p = NULL;
    float *a = NULL, *b = NULL;
    memset(r, 0, sizeof *r);
    dlt_status st = dlt_task_config_from_ckpt(o->ckpt, &job, &text, &c);
    dlt_cyclegan_spec s = c.cyclegan;
    if (st == DLT_OK && c.task != DLT_TASK_CYCLEGAN)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: model.arch = %s is not a CycleGAN", o->ckpt, c.arch);
    if (st == DLT_OK)
        st = dlt_ckpt_read_model(o->ckpt, model_attr, &s);
    if (st == DLT_OK && (s.img_c <= 0 || s.img_h <= 0 || s.img_w <= 0))
        st = dlt_seterr(DLT_ERR_INVALID, "%s: /model records no image shape", o->ckpt);
    if (st == DLT_OK && o->label >= 0)
        st = dlt_seterr(DLT_ERR_INVALID, "--label %d: a CycleGAN has no classes", o->label);
    if (s.n_blocks <= 0) /* the task's rule by image size */
        s.n_blocks = s.img_h >= 256 && s.img_w >= 256 ? 9 : 6;
    const char *data = o->data ? o->data : c.val_glob[0] ? c.val_glob : c.train_glob;
    int n = o->n > 0 ? o->n : DLT_CYCLEGAN_SAMPLE_N;
    if (st == DLT_OK && (st = read_pairs(data, &s, &n, &a, &b)) != DLT_OK)
        st = dlt_adderr(st, "%s", o->data ? "--data" : c.val_glob[0] ? "data.val" : "data.train");
    dlt_t ab[2] = {-1, -1}, outs[4] = {-1, -1, -1, -1};
    if (st == DLT_OK)
        st = build(o->ckpt, &s, c.seed, n, &g, ab, outs);
    if (st == DLT_OK)
        st = dlt_plan_create(g, 4, outs, NULL, &p);
    if (st == DLT_OK) {
        size_t bytes = (size_t)n * s.img_c * s.img_h * s.img_w * sizeof(float);
        memcpy(dlt_plan_data(p, ab[0]), a, bytes);
        memcpy(dlt_plan_data(p, ab[1]), b, bytes);
        dlt_exec_opts eo = {.training = 0};
        if ((st = dlt_plan_run(p, &eo)) == DLT_OK)
            st = dlt_plan_wait(p);
    }
    size_t len = strlen(o->out);
    int stem = len > 4 && !strcmp(o->out + len - 4, ".png") ? (int)len - 4 : (int)len;
    snprintf(r->files[0], sizeof r->files[0], "%.*s_a2b2a.png", stem, o->out);
    snprintf(r->files[1], sizeof r->files[1], "%.*s_b2a2b.png", stem, o->out);
    r->n = n;
    for (int d = 0; st == DLT_OK && d < 2; d++)
        st = write_grid(r->files[d], d ? b : a, dlt_plan_data(p, outs[2 * d]),
                        dlt_plan_data(p, outs[2 * d + 1]), n, &s, &r->h, &r->w);
    dlt_plan_free(p);
    dlt_graph_free(g);
    free(a), free(b);
    dlt_job_free(job);
    free(text);
    return st;
}
