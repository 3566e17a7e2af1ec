/* The classification task: image shards through the prefetching loader, an
 * image classifier with a cross-entropy SUM over the valid samples (padding
 * carries label -100), top-1/top-5 accuracy and the confusion matrix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "task.h"

typedef struct {
    dlt_loader *loader, *val;
    int classes, c_in, h, w;
    dlt_t x, labels, logits, loss;
    int64_t *confusion;       /* evaluation scratch of one batch: classes x classes */
    int64_t *confusion_total; /* the last evaluation's totals, reported */
} classify;

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
    memcpy(lc.mean, c->mean, sizeof lc.mean);
    memcpy(lc.std, c->std, sizeof lc.std);
    lc.crop_pad = train ? c->crop_pad : 0;
    lc.flip = train ? c->flip : 0;
    lc.prefetch = c->prefetch > 0 ? c->prefetch : 2;
    lc.threads = c->loader_threads;
    lc.rank = rank;
    lc.world_size = world > 0 ? world : 1;
    if (meta) {
        lc.threads = 0;         /* nothing is read ahead */
        lc.inmem_threshold = 0; /* headers and shapes only: cheap on every rank */
        lc.verify = 0;
        lc.shuffle = lc.crop_pad = lc.flip = 0;
    }
    return dlt_loader_open(&lc, out);
}

/* data.mean and data.std hold one value for every channel, or one for all
 * of them: a count that fits other images is refused, not repeated. */
static dlt_status check_norm(const dlt_train_config *c, const dlt_loader *l)
{
    int ch, h, w;
    dlt_loader_sample_shape(l, &ch, &h, &w);
    const int n[2] = {c->nmean, c->nstd};
    const char *key[2] = {"data.mean", "data.std"}, *where[2] = {c->mean_where, c->std_where};
    for (int i = 0; i < 2; i++)
        if (n[i] > 1 && n[i] != ch)
            return dlt_seterr(DLT_ERR_INVALID,
                              "%s: %s holds %d values, but %s holds %dx%dx%d images (HxWxC) of %d channel%s: "
                              "give one value per channel, or one for all",
                              where[i], key[i], n[i], dlt_loader_first_path(l), h, w, ch, ch, ch == 1 ? "" : "s");
    return DLT_OK;
}

static dlt_status check(const dlt_train_config *c, int world)
{
    dlt_loader *tr = NULL, *va = NULL;
    dlt_status st = open_loader(c, c->train_glob, 1, 0, world, 1, &tr);
    if (st != DLT_OK) {
        dlt_adderr(st, "data.train");
        return DLT_ERR_INVALID;
    }
    int ct, ht, wt, k = dlt_loader_num_classes(tr);
    dlt_loader_sample_shape(tr, &ct, &ht, &wt);
    if (c->model.num_classes > 0 && c->model.num_classes != k)
        st = dlt_seterr(DLT_ERR_INVALID,
                        "model.num_classes = %d but the training shards have %d classes",
                        c->model.num_classes, k);
    if (st == DLT_OK)
        st = check_norm(c, tr);
    if (st == DLT_OK && c->val_glob[0]) {
        if ((st = open_loader(c, c->val_glob, 0, 0, world, 1, &va)) != DLT_OK) {
            dlt_adderr(st, "data.val");
            st = DLT_ERR_INVALID;
        } else {
            int cv, hv, wv;
            dlt_loader_sample_shape(va, &cv, &hv, &wv);
            if (cv != ct || hv != ht || wv != wt)
                st = dlt_seterr(DLT_ERR_INVALID,
                                "data.val: the shards hold %dx%dx%d images (HxWxC), the training "
                                "shards %dx%dx%d",
                                hv, wv, cv, ht, wt, ct);
            else if (dlt_loader_num_classes(va) > k)
                st = dlt_seterr(DLT_ERR_INVALID,
                                "data.val: the shards have %d classes, the training shards %d",
                                dlt_loader_num_classes(va), k);
        }
    }
    dlt_loader_close(va);
    dlt_loader_close(tr);
    return st;
}

static dlt_status open_task(dlt_task *t)
{
    const dlt_train_config *c = t->c;
    classify *k = calloc(1, sizeof *k);
    dlt_status st;
    if (!k)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    t->impl = k;
    if ((st = open_loader(c, c->train_glob, 1, t->rank, t->world, 0, &k->loader)) != DLT_OK)
        return dlt_adderr(st, "data.train");
    if (c->val_glob[0] &&
        (st = open_loader(c, c->val_glob, 0, t->rank, t->world, 0, &k->val)) != DLT_OK)
        return dlt_adderr(st, "data.val");
    dlt_loader_sample_shape(k->loader, &k->c_in, &k->h, &k->w);
    k->classes = dlt_loader_num_classes(k->loader);
    if (c->model.num_classes > 0 && c->model.num_classes != k->classes)
        return dlt_seterr(DLT_ERR_INVALID,
                          "model.num_classes = %d but the training shards have %d classes",
                          c->model.num_classes, k->classes);
    if ((st = check_norm(c, k->loader)) != DLT_OK)
        return st;
    t->steps_per_epoch = dlt_loader_steps_per_epoch(k->loader);
    t->num_samples = dlt_loader_num_samples(k->loader);
    t->val_steps = k->val ? dlt_loader_steps_per_epoch(k->val) : 0;
    t->ntrain_sums = 2;                          /* loss sum, top-1 hits */
    t->neval_sums = 3 + k->classes * k->classes; /* loss sum, top-1, top-5, confusion */
    t->best_higher = 1;
    t->best_key = "top1";
    if (k->val && (!(k->confusion = calloc((size_t)k->classes * k->classes, sizeof *k->confusion)) ||
                   !(k->confusion_total = calloc((size_t)k->classes * k->classes, sizeof *k->confusion))))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    return DLT_OK;
}

static dlt_status build(dlt_task *t, dlt_graph *g, dlt_task_graph *tg)
{
    const dlt_train_config *c = t->c;
    classify *k = t->impl;
    dlt_model_spec spec = c->model;
    int64_t xs[4] = {c->batch_size, k->c_in, k->h, k->w}, ls[1] = {c->batch_size};
    spec.in_channels = k->c_in, spec.in_h = k->h, spec.in_w = k->w, spec.num_classes = k->classes;
    k->x = dlt_input(g, "images", DLT_F32, 4, xs);
    k->labels = dlt_input(g, "labels", DLT_I32, 1, ls);
    k->logits = dlt_set_name(g, dlt_model_classifier(g, &spec, k->x), "logits");
    /* a SUM over the rank's valid samples (padding carries label -100): the
     * reducer divides by the global sample count */
    k->loss = dlt_cross_entropy(g, k->logits, k->labels, DLT_IGNORE_LABEL, c->label_smoothing,
                                DLT_REDUCE_SUM);
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(g), "%s", dlt_graph_errmsg(g));
    tg->loss = k->loss;
    tg->contract = DLT_GRAD_SUM;
    tg->nouts = 2;
    tg->outs[0] = k->loss, tg->outs[1] = k->logits;
    tg->flops_out = k->logits;
    dlt_model_describe(&spec, &tg->model);
    return dlt_task_grads(t, g, tg);
}

/* Images, and labels with padding marked as ignored. */
static dlt_status feed(dlt_task *t, dlt_plan *p, int train, dlt_task_batch *tb)
{
    classify *k = t->impl;
    dlt_batch b;
    dlt_status st = dlt_loader_next(train ? k->loader : k->val, &b);
    if (st != DLT_OK)
        return st;
    float *x = dlt_plan_data(p, k->x);
    int32_t *l = dlt_plan_data(p, k->labels);
    memcpy(x, b.images, (size_t)b.size * k->c_in * k->h * k->w * sizeof(float));
    for (int i = 0; i < b.size; i++)
        l[i] = i < b.valid ? b.labels[i] : DLT_IGNORE_LABEL;
    tb->samples = b.valid;
    tb->weight = b.valid;
    tb->epoch = b.epoch;
    tb->last_in_epoch = b.last_in_epoch;
    return DLT_OK;
}

static void accumulate(dlt_task *t, dlt_plan *p, int train, const dlt_task_batch *b, double *sums)
{
    classify *k = t->impl;
    int64_t t1 = 0, t5 = 0;
    dlt_classify_count(dlt_plan_data(p, k->logits), dlt_plan_data(p, k->labels), b->samples,
                       k->classes, &t1, &t5, train ? NULL : k->confusion);
    sums[0] += *(const float *)dlt_plan_data(p, k->loss);
    sums[1] += (double)t1;
    if (!train) {
        sums[2] += (double)t5;
        /* the confusion counts of this batch only: the scratch restarts at zero */
        for (int i = 0; i < k->classes * k->classes; i++) {
            sums[3 + i] += (double)k->confusion[i];
            k->confusion[i] = 0;
        }
    }
}

/* sums: the task's, after the trainer's samples count in m->samples. */
static void metrics(const dlt_task *t, int train, const double *sums, dlt_metrics *m)
{
    classify *k = t->impl;
    double n = (double)m->samples;
    m->n = train ? 2 : 3;
    m->key[0] = m->label[0] = "loss";
    m->val[0] = n > 0 ? sums[0] / n : NAN;
    if (train) {
        m->key[1] = "accuracy", m->label[1] = "acc";
        m->val[1] = n > 0 ? sums[1] / n : 0;
        return;
    }
    m->key[1] = "top1", m->label[1] = "top-1";
    m->key[2] = "top5", m->label[2] = "top-5";
    m->val[1] = n > 0 ? sums[1] / n : NAN;
    m->val[2] = n > 0 ? sums[2] / n : NAN;
    m->best = 1;
    /* totals go to their own array: the scratch must start the next
     * evaluation at zero */
    for (int i = 0; i < k->classes * k->classes; i++)
        k->confusion_total[i] = (int64_t)sums[3 + i];
    m->confusion = k->confusion_total;
    m->classes = k->classes;
    m->names = k->val;
}

/* logits [N, C], the predicted class and the shard's label of each sample */
static dlt_status predict(dlt_task *t, dlt_plan *p, const dlt_task_batch *b, int logits,
                          dlt_pred_file *f)
{
    classify *k = t->impl;
    const float *l = dlt_plan_data(p, k->logits);
    int64_t C = k->classes;
    int32_t *pred = dlt_task_argmax_rows(l, b->samples, C);
    (void)logits;
    if (!pred)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    dlt_status st = dlt_pred_file_append(f, "logits", DLT_F32, 1, &C, l, b->samples);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "pred", DLT_I32, 0, NULL, pred, b->samples);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "label", DLT_I32, 0, NULL, dlt_plan_data(p, k->labels),
                                  b->samples);
    free(pred);
    return st;
}

static dlt_loader_cursor get_cursor(const dlt_task *t)
{
    return dlt_loader_get_cursor(((const classify *)t->impl)->loader);
}

static dlt_status set_cursor(dlt_task *t, int train, dlt_loader_cursor c)
{
    classify *k = t->impl;
    return dlt_loader_set_cursor(train ? k->loader : k->val, c);
}

static void describe(const dlt_task *t, FILE *out)
{
    const classify *k = t->impl;
    fprintf(out, "# model %s on %dx%dx%d inputs, %d classes, batch %d per rank, %d rank%s\n",
            t->c->arch, k->c_in, k->h, k->w, k->classes, t->c->batch_size, t->world,
            t->world > 1 ? "s" : "");
}

static void close_task(dlt_task *t)
{
    classify *k = t->impl;
    if (!k)
        return;
    dlt_loader_close(k->loader);
    dlt_loader_close(k->val);
    free(k->confusion);
    free(k->confusion_total);
    free(k);
    t->impl = NULL;
}

const dlt_task_ops dlt_task_classify = {
    .name = "classification",
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
};
