/* Classification: configuration defaults, the training graph and host-side
 * evaluation metrics. */
#include <math.h>
#include <string.h>

#include "classify_impl.h"
#include "dlt_ops.h"

void dlt_classify_config_default(dlt_classify_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "run");
    snprintf(c->run_dir, sizeof c->run_dir, "runs/run");
    dlt_model_spec_default("resnet20", &c->model);
    c->batch_size = 128;
    c->shuffle = 1, c->drop_last = 1, c->loader_threads = 1, c->prefetch = 2;
    for (int i = 0; i < 4; i++)
        c->mean[i] = 0, c->std[i] = 1;
    dlt_optim_config_default("sgd", &c->optim);
    c->optim.lr = 0.1, c->optim.momentum = 0.9, c->optim.weight_decay = 1e-4;
    dlt_schedule_init(&c->schedule, "constant", 0.1);
    c->accumulate = 1;
    c->epochs = 1;
    c->eval_batch_size = 0;
    c->keep_last = 3;
    c->timeout_s = 600;
    c->log_every = 50;
}

void dlt_classify_count(const float *logits, const int32_t *labels, int valid, int classes,
                        int64_t *top1, int64_t *top5, int64_t *confusion)
{
    for (int i = 0; i < valid; i++) {
        const float *l = logits + (size_t)i * classes;
        int y = labels[i], best = 0, rank = 0;
        if (y < 0 || y >= classes)
            continue;
        for (int c = 0; c < classes; c++) {
            if (l[c] > l[best])
                best = c;
            /* rank of the true class: classes scoring higher, ties before it count */
            if (l[c] > l[y] || (l[c] == l[y] && c < y))
                rank++;
        }
        *top1 += rank == 0;
        *top5 += rank < 5;
        if (confusion)
            confusion[(size_t)y * classes + best]++;
    }
}

dlt_status dlt_classify_build(dlt_graph *g, const dlt_classify_config *c, int c_in, int h, int w,
                              int classes, dlt_classify_graph *out)
{
    dlt_model_spec spec = c->model;
    int64_t xs[4] = {c->batch_size, c_in, h, w}, ls[1] = {c->batch_size};
    spec.in_channels = c_in, spec.in_h = h, spec.in_w = w, spec.num_classes = classes;
    out->x = dlt_input(g, "images", DLT_F32, 4, xs);
    out->labels = dlt_input(g, "labels", DLT_I32, 1, ls);
    out->logits = dlt_set_name(g, dlt_model_classifier(g, &spec, out->x), "logits");
    /* a SUM over the rank's valid samples (padding carries label -100): the
     * reducer divides by the global sample count */
    out->loss = dlt_cross_entropy(g, out->logits, out->labels, DLT_IGNORE_LABEL, c->label_smoothing,
                                  DLT_REDUCE_SUM);
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(g), "%s", dlt_graph_errmsg(g));
    return dlt_grad_params(g, out->loss, &out->nparams, &out->params, &out->grads);
}
