/* The Mask R-CNN task: detection shards through the detection loader
 * (torchvision's resize, flip, padding to one batch shape, up to M boxes),
 * the training graph of maskrcnn_graph.c, and the five losses in the
 * progress lines (rpn_obj, rpn_box, cls, box, mask) through the metric sums.
 *
 * Data parallelism: every loss is a mean over this rank's sampled elements
 * (DLT_GRAD_MEAN: the reducer averages the ranks), and the samplers draw
 * with the global index of each image (rank x batch + b) and the step, so
 * the same images sample the same anchors and RoIs whatever the split.
 * Evaluation (after_step, with data.val): at the evaluation cadence and at
 * the end, COCO box and mask metrics of inference on the validation shards
 * with the training graph's weights, the results JSON and a prediction grid
 * in the run folder (maskrcnn_val.c: rank 0 evaluates, the others wait). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_maskrcnn.h"
#include "dlt_ops.h"
#include "maskrcnn_graph.h"
#include "maskrcnn_val.h"
#include "task.h"

#define NLOSS 5

typedef struct {
    dlt_det_loader *loader;
    int c_in, h, w, max_boxes, classes;
    dlt_maskrcnn_train_spec spec;
    dlt_maskrcnn_train_graph tg;
    dlt_mrcnn_val *val; /* rank 0, from the first evaluation on */
    int epoch_done;     /* the training loader finished an epoch since the last evaluation */
} maskrcnn;

static const char *loss_keys[NLOSS] = {"rpn_obj", "rpn_box", "cls", "box", "mask"};

static dlt_status open_loader(const dlt_train_config *c, int train, int rank, int world, int meta,
                              dlt_det_loader **out)
{
    dlt_det_loader_config lc;
    dlt_det_loader_config_default(&lc);
    lc.base.paths = c->train_glob;
    lc.base.batch_size = c->batch_size;
    lc.base.shuffle = train ? c->shuffle : 0;
    lc.base.seed = c->seed;
    lc.base.drop_last = train ? c->drop_last : 0;
    lc.base.flip = train ? c->mrcnn.flip : 0;
    lc.base.prefetch = c->prefetch > 0 ? c->prefetch : 2;
    lc.base.threads = c->loader_threads;
    lc.base.rank = rank;
    lc.base.world_size = world > 0 ? world : 1;
    lc.min_size = c->mrcnn.min_size;
    lc.max_size = c->mrcnn.max_size;
    lc.skip_crowd = 1; /* torchvision trains without crowd regions */
    if (meta) {
        lc.base.threads = 0;
        lc.base.inmem_threshold = 0;
        lc.base.verify = 0;
        lc.base.shuffle = lc.base.flip = 0;
    }
    return dlt_det_loader_open(&lc, out);
}

/* The shards' classes and M against the job's. */
static dlt_status check_sizes(const dlt_train_config *c, const dlt_det_loader *l)
{
    int k = dlt_det_loader_num_classes(l), ch, h, w, m;
    dlt_det_loader_shape(l, &ch, &h, &w, &m);
    if (c->mrcnn.num_classes > 0 && c->mrcnn.num_classes < k)
        return dlt_seterr(DLT_ERR_INVALID,
                          "maskrcnn.num_classes = %d but the training shards have %d classes (with "
                          "the background)",
                          c->mrcnn.num_classes, k);
    if (ch != 3)
        return dlt_seterr(DLT_ERR_INVALID,
                          "data.train: the shards hold %d-channel images, Mask R-CNN takes 3", ch);
    return DLT_OK;
}

static dlt_status check(const dlt_train_config *c, int world)
{
    dlt_det_loader *l = NULL;
    dlt_status st = open_loader(c, 1, 0, world, 1, &l);
    if (st != DLT_OK) {
        dlt_adderr(st, "data.train");
        return DLT_ERR_INVALID;
    }
    st = check_sizes(c, l);
    dlt_det_loader_close(l);
    if (st == DLT_OK && c->val_glob[0])
        st = dlt_mrcnn_val_check(c);
    return st;
}

static dlt_status open_task(dlt_task *t)
{
    const dlt_train_config *c = t->c;
    maskrcnn *k = calloc(1, sizeof *k);
    dlt_status st;
    if (!k)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    t->impl = k;
    if ((st = open_loader(c, 1, t->rank, t->world, 0, &k->loader)) != DLT_OK)
        return dlt_adderr(st, "data.train");
    if ((st = check_sizes(c, k->loader)) != DLT_OK)
        return st;
    dlt_det_loader_shape(k->loader, &k->c_in, &k->h, &k->w, &k->max_boxes);
    k->classes =
        c->mrcnn.num_classes > 0 ? c->mrcnn.num_classes : dlt_det_loader_num_classes(k->loader);
    if (c->mrcnn.max_boxes > 0 && c->mrcnn.max_boxes < k->max_boxes)
        k->max_boxes = c->mrcnn.max_boxes; /* the first max_boxes objects of each image (feed) */
    t->steps_per_epoch = dlt_det_loader_steps_per_epoch(k->loader);
    t->num_samples = dlt_det_loader_num_samples(k->loader);
    t->val_steps = 0;
    t->ntrain_sums = NLOSS;
    t->neval_sums = NLOSS;
    /* evaluated by the after_step hook when data.val is set: box AP */
    t->best_higher = c->val_glob[0] != '\0';
    t->best_key = t->best_higher ? "box_ap" : "loss";
    return DLT_OK;
}

void dlt_task_maskrcnn_spec(const dlt_train_config *c, int classes, dlt_maskrcnn_spec *net)
{
    const dlt_maskrcnn_config *m = &c->mrcnn;
    dlt_maskrcnn_spec_default(net);
    net->depth = m->depth, net->num_classes = classes, net->trainable_layers = m->trainable_layers;
    net->norm = m->norm, net->fpn_channels = m->fpn_channels;
    net->representation = m->representation, net->mask_channels = m->mask_channels;
    net->anchors = m->nratios;
}

static void make_spec(const dlt_task *t, const maskrcnn *k, dlt_maskrcnn_train_spec *s)
{
    const dlt_maskrcnn_config *m = &t->c->mrcnn;
    dlt_maskrcnn_spec net;
    dlt_task_maskrcnn_spec(t->c, k->classes, &net);
    dlt_maskrcnn_train_spec_default(s, &net);
    memcpy(s->sizes, m->anchor_sizes, sizeof s->sizes);
    memcpy(s->ratios, m->anchor_ratios, sizeof s->ratios);
    s->batch = t->c->batch_size, s->image_h = k->h, s->image_w = k->w, s->max_boxes = k->max_boxes;
    s->pre_nms_top_n = m->rpn_pre_nms_top_n, s->post_nms_top_n = m->rpn_post_nms_top_n;
    s->rpn_batch = m->rpn_batch, s->rpn_pos_fraction = m->rpn_positive_fraction;
    s->rpn_fg = m->rpn_fg_iou, s->rpn_bg = m->rpn_bg_iou;
    s->roi_batch = m->roi_batch, s->roi_pos_fraction = m->roi_positive_fraction;
    s->roi_fg = m->roi_fg_iou, s->roi_bg = m->roi_bg_iou;
    s->rois = m->rois, s->positives = m->mask_positives;
    s->first_sample = (int64_t)t->rank * t->c->batch_size;
}

static dlt_status build(dlt_task *t, dlt_graph *g, dlt_task_graph *tg)
{
    maskrcnn *k = t->impl;
    make_spec(t, k, &k->spec);
    if (dlt_maskrcnn_train_build(g, &k->spec, &k->tg) < 0)
        return dlt_seterr(dlt_graph_status(g), "%s", dlt_graph_errmsg(g));
    tg->loss = k->tg.loss;
    tg->contract = DLT_GRAD_MEAN;
    tg->nouts = 1 + NLOSS;
    tg->outs[0] = k->tg.loss;
    tg->outs[1] = k->tg.rpn_obj, tg->outs[2] = k->tg.rpn_box, tg->outs[3] = k->tg.cls;
    tg->outs[4] = k->tg.box, tg->outs[5] = k->tg.mask;
    tg->flops_out = k->tg.loss;
    dlt_kv_str(&tg->model, "arch", "maskrcnn");
    dlt_kv_int(&tg->model, "depth", k->spec.net.depth);
    dlt_kv_int(&tg->model, "num_classes", k->classes);
    dlt_kv_int(&tg->model, "fpn_channels", k->spec.net.fpn_channels);
    dlt_kv_int(&tg->model, "image_h", k->h);
    dlt_kv_int(&tg->model, "image_w", k->w);
    dlt_kv_int(&tg->model, "max_boxes", k->max_boxes);
    return dlt_task_grads(t, g, tg);
}

/* The batch into the graph's inputs: M may be below the loader's (the
 * first M objects of an image are kept); labels get the background column. */
static dlt_status feed(dlt_task *t, dlt_plan *p, int train, dlt_task_batch *tb)
{
    maskrcnn *k = t->impl;
    dlt_det_batch b;
    (void)train;
    dlt_status st = dlt_det_loader_next(k->loader, &b);
    if (st != DLT_OK)
        return st;
    int c, h, w, lm;
    dlt_det_loader_shape(k->loader, &c, &h, &w, &lm);
    const int B = b.size, M = k->max_boxes;
    const size_t hw = (size_t)h * w;
    memcpy(dlt_plan_data(p, k->tg.images), b.images, (size_t)B * c * hw * sizeof(float));
    float *boxes = dlt_plan_data(p, k->tg.gt_boxes), *labels = dlt_plan_data(p, k->tg.gt_labels);
    float *valid = dlt_plan_data(p, k->tg.gt_valid);
    uint8_t *masks = dlt_plan_data(p, k->tg.gt_masks);
    float *lim = dlt_plan_data(p, k->tg.image_max);
    int32_t *count = dlt_plan_data(p, k->tg.gt_count);
    for (int i = 0; i < B; i++) {
        int n = i < b.valid ? b.num_boxes[i] : 0;
        if (n > M)
            n = M;
        count[i] = n;
        labels[(size_t)i * (M + 1)] = 0;
        for (int j = 0; j < M; j++) {
            int on = j < n;
            for (int q = 0; q < 4; q++)
                boxes[((size_t)i * M + j) * 4 + q] =
                    on ? b.boxes[((size_t)i * lm + j) * 4 + q] : 0.f;
            labels[(size_t)i * (M + 1) + 1 + j] = on ? (float)b.classes[(size_t)i * lm + j] : 0.f;
            valid[(size_t)i * M + j] = (float)on;
            uint8_t *dst = masks + ((size_t)i * M + j) * hw;
            const uint8_t *src = b.masks ? b.masks + ((size_t)i * lm + j) * hw : NULL;
            if (on && src)
                memcpy(dst, src, hw);
            else
                memset(dst, 0, hw);
        }
        float ih = (float)b.image_sizes[2 * i], iw = (float)b.image_sizes[2 * i + 1];
        lim[4 * i] = iw, lim[4 * i + 1] = ih, lim[4 * i + 2] = iw, lim[4 * i + 3] = ih;
    }
    tb->samples = b.valid;
    tb->weight = b.valid;
    tb->epoch = b.epoch;
    tb->last_in_epoch = b.last_in_epoch;
    k->epoch_done |= b.last_in_epoch;
    return DLT_OK;
}

/* Each loss is a mean over the rank's batch: summed weighted by its images,
 * divided by the images in metrics(). */
static void accumulate(dlt_task *t, dlt_plan *p, int train, const dlt_task_batch *b, double *sums)
{
    maskrcnn *k = t->impl;
    const dlt_t parts[NLOSS] = {k->tg.rpn_obj, k->tg.rpn_box, k->tg.cls, k->tg.box, k->tg.mask};
    (void)train;
    for (int i = 0; i < NLOSS; i++)
        sums[i] += (double)*(const float *)dlt_plan_data(p, parts[i]) * b->samples;
}

static void metrics(const dlt_task *t, int train, const double *sums, dlt_metrics *m)
{
    double n = (double)m->samples, total = 0;
    (void)t, (void)train;
    m->n = 1 + NLOSS;
    m->key[0] = m->label[0] = "loss";
    for (int i = 0; i < NLOSS; i++) {
        m->key[1 + i] = m->label[1 + i] = loss_keys[i];
        m->val[1 + i] = n > 0 ? sums[i] / n : NAN;
        total += m->val[1 + i];
    }
    m->val[0] = total;
}

/* The evaluation (with data.val): every train.eval_every_steps (0: after
 * each epoch) and after the last step; on rank 0 the network of the training
 * graph's spec with its weights. */
static dlt_status after_step(dlt_task *t, dlt_graph *g, dlt_comm *comm, int64_t step, int last,
                             dlt_tb_writer *tb, dlt_metrics *m)
{
    maskrcnn *k = t->impl;
    const dlt_train_config *c = t->c;
    (void)tb;
    if (!c->val_glob[0])
        return DLT_OK;
    int due = last || (c->eval_every_steps > 0 ? step % c->eval_every_steps == 0 : k->epoch_done);
    if (!due)
        return DLT_OK;
    k->epoch_done = 0;
    dlt_status pre = DLT_OK;
    if (t->rank == 0) {
        pre = dlt_graph_download(g, DLT_SYNC_PARAMS | DLT_SYNC_BUFFERS);
        if (pre == DLT_OK && !k->val)
            pre = dlt_mrcnn_val_open(c, &k->spec.net, &k->val);
    }
    double stats[DLT_MRCNN_VAL_NSTATS];
    int64_t images = 0;
    dlt_status st =
        dlt_mrcnn_val_run(k->val, pre, g, comm, t->rank, t->world, step, stats, &images);
    if (st != DLT_OK)
        return st;
    m->n = DLT_MRCNN_VAL_NSTATS;
    for (int i = 0; i < DLT_MRCNN_VAL_NSTATS; i++) {
        m->key[i] = m->label[i] = dlt_mrcnn_val_keys[i];
        m->val[i] = stats[i];
    }
    m->best = 0;
    m->samples = images;
    return DLT_OK;
}

static dlt_loader_cursor get_cursor(const dlt_task *t)
{
    return dlt_det_loader_get_cursor(((const maskrcnn *)t->impl)->loader);
}

static dlt_status set_cursor(dlt_task *t, int train, dlt_loader_cursor c)
{
    maskrcnn *k = t->impl;
    if (!train)
        return DLT_OK;
    return dlt_det_loader_set_cursor(k->loader, c);
}

static void describe(const dlt_task *t, FILE *out)
{
    const maskrcnn *k = t->impl;
    fprintf(out,
            "# model maskrcnn (ResNet-%d-FPN) on %dx%d batches, %d classes, up to %d boxes, batch "
            "%d per rank, %d rank%s\n",
            t->c->mrcnn.depth, k->h, k->w, k->classes, k->max_boxes, t->c->batch_size, t->world,
            t->world > 1 ? "s" : "");
}

static void close_task(dlt_task *t)
{
    maskrcnn *k = t->impl;
    if (!k)
        return;
    dlt_det_loader_close(k->loader);
    dlt_mrcnn_val_free(k->val);
    free(k);
    t->impl = NULL;
}

const dlt_task_ops dlt_task_maskrcnn = {
    .name = "maskrcnn",
    .check = check,
    .open = open_task,
    .build = build,
    .feed = feed,
    .accumulate = accumulate,
    .metrics = metrics,
    .get_cursor = get_cursor,
    .set_cursor = set_cursor,
    .after_step = after_step,
    .describe = describe,
    .close = close_task,
};
