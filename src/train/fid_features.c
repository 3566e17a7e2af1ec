/* FID's feature extractor (dlt_fid.h): a classifier checkpoint's penultimate
 * features. The graph is the classification task's (same spec, input shape
 * and names, so the checkpoint's parameters and buffers load one to one), but
 * its plan's only output is the value the final linear layer reads
 * (dlt_model_classifier_features), run in evaluation mode; the inputs are
 * normalised the way the task's loader normalises shard pixels. */
#include <stdlib.h>
#include <string.h>

#include "dlt_ckpt.h"
#include "dlt_ckpt_model.h"
#include "dlt_fid.h"
#include "dlt_job.h"
#include "task.h"

struct dlt_fid_net {
    dlt_graph *g;
    dlt_plan *p;
    dlt_t x, feat;
    int batch, c, h, w, dim;
    float mean[4], std[4];
    char arch[32];
};

void dlt_fid_net_free(dlt_fid_net *net)
{
    if (!net)
        return;
    dlt_plan_free(net->p);
    dlt_graph_free(net->g);
    free(net);
}

int dlt_fid_net_dim(const dlt_fid_net *net)
{
    return net->dim;
}

const char *dlt_fid_net_arch(const dlt_fid_net *net)
{
    return net->arch;
}

/* The sizes the checkpoint's /model records (the job leaves them to the
 * shards: the stored job spells num_classes' default, not the shards' count). */
typedef struct {
    int in_channels, image_height, image_width, num_classes;
} model_sizes;

static void model_attr(const char *key, const char *value, void *user)
{
    model_sizes *m = user;
    int v = atoi(value);
    if (strcmp(key, "in_channels") == 0)
        m->in_channels = v;
    else if (strcmp(key, "image_height") == 0)
        m->image_height = v;
    else if (strcmp(key, "image_width") == 0)
        m->image_width = v;
    else if (strcmp(key, "num_classes") == 0)
        m->num_classes = v;
}

/* The job's classifier, its normalisation, and the graph with its plan. */
static dlt_status build(const char *ckpt, const model_sizes *m, dlt_fid_net *net)
{
    dlt_job *job = NULL;
    char *text = NULL;
    dlt_train_config c;
    dlt_train_config_default(&c);
    dlt_status st = dlt_task_config_from_ckpt(ckpt, &job, &text, &c);
    dlt_job_free(job);
    free(text);
    if (st != DLT_OK)
        return st;
    if (c.task != DLT_TASK_CLASSIFY)
        return dlt_seterr(DLT_ERR_INVALID,
                          "%s: FID features need an image classifier checkpoint (model.arch "
                          "'%s' is a %s model)",
                          ckpt, c.arch, dlt_task_kind_name(c.task));
    for (int k = 0; k < net->c; k++) {
        net->mean[k] = c.mean[k];
        net->std[k] = c.std[k];
        if (!(net->std[k] != 0.f))
            return dlt_seterr(DLT_ERR_INVALID, "%s: the job's data.std[%d] is 0", ckpt, k);
    }
    dlt_model_spec spec = c.model;
    spec.in_channels = net->c, spec.in_h = net->h, spec.in_w = net->w;
    if (m->num_classes > 0)
        spec.num_classes = m->num_classes;
    else if (spec.num_classes <= 0)
        spec.num_classes = 10; /* the schema's default; a mismatch is caught at load */
    snprintf(net->arch, sizeof net->arch, "%s", spec.arch);
    if (!(net->g = dlt_graph_create(c.seed)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int64_t xs[4] = {net->batch, net->c, net->h, net->w};
    /* the classification task's input name and model call (task_classify.c) */
    net->x = dlt_input(net->g, "images", DLT_F32, 4, xs);
    dlt_set_name(net->g, dlt_model_classifier_features(net->g, &spec, net->x, &net->feat),
                 "logits");
    if (dlt_graph_status(net->g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(net->g), "%s: %s", ckpt, dlt_graph_errmsg(net->g));
    const dlt_shape *fs = dlt_shape_of(net->g, net->feat);
    if (!fs || fs->ndim != 2 || fs->dim[0] != net->batch)
        return dlt_seterr(DLT_ERR_INTERNAL, "%s: the %s's penultimate value is not [N, F]", ckpt,
                          spec.arch);
    net->dim = (int)fs->dim[1];
    return dlt_plan_create(net->g, 1, &net->feat, NULL, &net->p);
}

dlt_status dlt_fid_net_open(const char *ckpt, const dlt_fid_net_opts *o, dlt_fid_net **out)
{
    *out = NULL;
    dlt_fid_net *net = calloc(1, sizeof *net);
    if (!net)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    /* older checkpoints without /model: the opts, else 1x28x28 and the job's classes */
    model_sizes m = {0, 0, 0, 0};
    dlt_status st = dlt_ckpt_read_model(ckpt, model_attr, &m);
    net->batch = o && o->batch > 0 ? o->batch : 100;
    net->c = o && o->channels > 0 ? o->channels : m.in_channels > 0 ? m.in_channels : 1;
    net->h = o && o->height > 0 ? o->height : m.image_height > 0 ? m.image_height : 28;
    net->w = o && o->width > 0 ? o->width : m.image_width > 0 ? m.image_width : 28;
    if (o && o->threads > 0)
        dlt_set_num_threads(o->threads);
    if (st == DLT_OK && net->c > 4)
        st = dlt_seterr(DLT_ERR_INVALID, "FID features: at most 4 channels (got %d)", net->c);
    if (st == DLT_OK)
        st = build(ckpt, &m, net);
    if (st == DLT_OK) {
        /* parameters and batch-norm statistics; no optimizer state */
        dlt_ckpt_tensors t;
        dlt_ckpt_state cs;
        memset(&cs, 0, sizeof cs);
        dlt_ckpt_tensors_from_graph(net->g, &t);
        t.nslots = 0;
        if ((st = dlt_ckpt_load(ckpt, &t, &cs)) != DLT_OK)
            st = dlt_adderr(st, "FID features: the %s of %s on %dx%dx%d inputs", net->arch, ckpt,
                            net->c, net->h, net->w);
        dlt_ckpt_state_free(&cs);
    }
    if (st != DLT_OK) {
        dlt_fid_net_free(net);
        return st;
    }
    *out = net;
    return DLT_OK;
}

/* Runs the plan on the batch already in its input; copies `rows` rows of features. */
static dlt_status run_batch(dlt_fid_net *net, int64_t rows, float *features)
{
    dlt_exec_opts eo = {.training = 0};
    dlt_status st = dlt_plan_run(net->p, &eo);
    if (st != DLT_OK)
        return st;
    memcpy(features, dlt_plan_data(net->p, net->feat), (size_t)rows * net->dim * sizeof(float));
    return DLT_OK;
}

dlt_status dlt_fid_net_features(dlt_fid_net *net, const float *x, int64_t n, float lo, float hi,
                                float *features)
{
    if (!(hi > lo))
        return dlt_seterr(DLT_ERR_INVALID, "FID features: value range [%g, %g] is empty",
                          (double)lo, (double)hi);
    size_t plane = (size_t)net->h * net->w, img = plane * net->c;
    for (int64_t i0 = 0; i0 < n; i0 += net->batch) {
        int64_t rows = n - i0 < net->batch ? n - i0 : net->batch;
        float *in = dlt_plan_data(net->p, net->x);
        for (int64_t i = 0; i < rows; i++)
            for (int k = 0; k < net->c; k++) {
                const float *src = x + (size_t)(i0 + i) * img + (size_t)k * plane;
                float *dst = in + (size_t)i * img + (size_t)k * plane;
                for (size_t q = 0; q < plane; q++) {
                    float p = (src[q] - lo) / (hi - lo);
                    p = p > 0.f ? (p < 1.f ? p : 1.f) : 0.f; /* NaN -> 0 too */
                    dst[q] = (p - net->mean[k]) / net->std[k];
                }
            }
        memset(in + (size_t)rows * img, 0, (size_t)(net->batch - rows) * img * sizeof(float));
        dlt_status st = run_batch(net, rows, features + (size_t)i0 * net->dim);
        if (st != DLT_OK)
            return st;
    }
    return DLT_OK;
}

dlt_status dlt_fid_net_features_u8(dlt_fid_net *net, const uint8_t *hwc, int64_t n, float *features)
{
    size_t plane = (size_t)net->h * net->w, img = plane * net->c;
    float scale[4], bias[4];
    for (int k = 0; k < net->c; k++) { /* src/data/transform.c's arithmetic */
        scale[k] = 1.0f / (255.0f * net->std[k]);
        bias[k] = -net->mean[k] / net->std[k];
    }
    for (int64_t i0 = 0; i0 < n; i0 += net->batch) {
        int64_t rows = n - i0 < net->batch ? n - i0 : net->batch;
        float *in = dlt_plan_data(net->p, net->x);
        for (int64_t i = 0; i < rows; i++) {
            const uint8_t *src = hwc + (size_t)(i0 + i) * img;
            float *dst = in + (size_t)i * img;
            for (size_t q = 0; q < plane; q++)
                for (int k = 0; k < net->c; k++)
                    dst[(size_t)k * plane + q] =
                        (float)src[q * (size_t)net->c + (size_t)k] * scale[k] + bias[k];
        }
        memset(in + (size_t)rows * img, 0, (size_t)(net->batch - rows) * img * sizeof(float));
        dlt_status st = run_batch(net, rows, features + (size_t)i0 * net->dim);
        if (st != DLT_OK)
            return st;
    }
    return DLT_OK;
}
