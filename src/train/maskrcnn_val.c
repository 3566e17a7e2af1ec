/* The Mask R-CNN task's evaluation (maskrcnn_val.h): rank 0 runs the
 * inference graph (dlt_maskrcnn_infer.h) with the training graph's weights
 * over the first eval_images validation images, batch by batch in the
 * loader's order, adds each batch's detections to a COCO evaluation
 * (dlt_maskrcnn_eval.h) and finishes it: the box and mask metrics, the
 * results JSON, and a picture of the first batch's detections. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlt_data.h"
#include "dlt_det_picture.h"
#include "dlt_maskrcnn_eval.h"
#include "dlt_maskrcnn_infer.h"
#include "maskrcnn_val.h"

const char *const dlt_mrcnn_val_keys[DLT_MRCNN_VAL_NSTATS] = {
    "box_ap",  "box_ap50",  "box_ap75",  "box_aps",  "box_apm",  "box_apl",
    "mask_ap", "mask_ap50", "mask_ap75", "mask_aps", "mask_apm", "mask_apl"};

enum { MASK = 28, GRID_COLS = 4 };

struct dlt_mrcnn_val {
    const dlt_train_config *c;
    dlt_det_loader *loader;
    dlt_loader_cursor start; /* every evaluation begins at the first image */
    int batch, h, w, classes, dets;
    float mean[3], std[3];
    dlt_mrcnn_infer *infer;
    char *gt;           /* the ground truth JSON beside the shards */
    const char **names; /* the shards' class names (the loader owns the strings) */
    float *boxes, *scores, *valid, *masks; /* one batch's detections */
    int32_t *labels;
};

dlt_status dlt_mrcnn_val_check(const dlt_train_config *c)
{
    char *gt = NULL;
    dlt_status st = dlt_mrcnn_eval_gt_beside(c->val_glob, &gt);
    free(gt);
    return st == DLT_OK ? st : dlt_adderr(st, "data.val: the COCO ground truth of the evaluation");
}

void dlt_mrcnn_val_free(dlt_mrcnn_val *v)
{
    if (!v)
        return;
    dlt_det_loader_close(v->loader);
    dlt_mrcnn_infer_free(v->infer);
    free(v->gt), free(v->names);
    free(v->boxes), free(v->scores), free(v->valid), free(v->masks), free(v->labels);
    free(v);
}

dlt_status dlt_mrcnn_val_open(const dlt_train_config *c, const dlt_maskrcnn_spec *net,
                              dlt_mrcnn_val **out)
{
    dlt_mrcnn_val *v = calloc(1, sizeof *v);
    *out = NULL;
    if (!v)
        return dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN evaluation: out of memory");
    v->c = c;
    /* the whole validation set on this rank, in file order, unflipped, with
     * the training transform's sizes; no ground truth masks (the JSON's are
     * the reference) */
    dlt_det_loader_config lc;
    dlt_det_loader_config_default(&lc);
    lc.base.paths = c->val_glob;
    lc.base.batch_size = c->batch_size;
    lc.base.prefetch = c->prefetch > 0 ? c->prefetch : 2;
    lc.base.threads = c->loader_threads;
    lc.min_size = c->mrcnn.min_size, lc.max_size = c->mrcnn.max_size;
    lc.masks = 0;
    memcpy(v->mean, lc.base.mean, sizeof v->mean);
    memcpy(v->std, lc.base.std, sizeof v->std);
    dlt_status st = dlt_det_loader_open(&lc, &v->loader);
    if (st != DLT_OK)
        st = dlt_adderr(st, "data.val");
    int ch = 0, m;
    if (st == DLT_OK) {
        dlt_det_loader_shape(v->loader, &ch, &v->h, &v->w, &m);
        v->start = dlt_det_loader_get_cursor(v->loader);
        v->batch = c->batch_size, v->classes = net->num_classes;
        if (ch != 3)
            st = dlt_seterr(DLT_ERR_INVALID, "data.val: %d-channel images, Mask R-CNN takes 3", ch);
        else if (dlt_det_loader_num_classes(v->loader) > v->classes)
            st = dlt_seterr(DLT_ERR_INVALID,
                            "data.val: the shards have %d classes (with the background), the "
                            "network %d",
                            dlt_det_loader_num_classes(v->loader), v->classes);
    }
    if (st == DLT_OK)
        st = dlt_mrcnn_eval_gt_beside(c->val_glob, &v->gt);
    dlt_mrcnn_infer_config ic;
    dlt_mrcnn_infer_config_default(&ic, net, v->batch, v->h, v->w);
    memcpy(ic.sizes, c->mrcnn.anchor_sizes, sizeof ic.sizes);
    memcpy(ic.ratios, c->mrcnn.anchor_ratios, sizeof ic.ratios);
    if (st == DLT_OK)
        st = dlt_mrcnn_infer_create(&ic, &v->infer);
    if (st == DLT_OK) {
        size_t bd = (size_t)v->batch * ic.det.detections;
        v->dets = ic.det.detections;
        v->boxes = malloc(sizeof(float) * 4 * bd), v->scores = malloc(sizeof(float) * bd);
        v->valid = malloc(sizeof(float) * bd), v->labels = malloc(sizeof(int32_t) * bd);
        v->masks = malloc(sizeof(float) * MASK * MASK * bd);
        v->names = calloc((size_t)v->classes, sizeof *v->names);
        if (!v->boxes || !v->scores || !v->valid || !v->labels || !v->masks || !v->names)
            st = dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN evaluation: out of memory");
        for (int i = 0; st == DLT_OK && i < v->classes; i++)
            v->names[i] = dlt_det_loader_class_name(v->loader, i);
    }
    if (st != DLT_OK) {
        dlt_mrcnn_val_free(v);
        return st;
    }
    *out = v;
    return DLT_OK;
}

/* The picture of the first batch's n images and detections. */
static dlt_status write_grid(const dlt_mrcnn_val *v, const dlt_det_batch *b,
                             const dlt_mrcnn_dets *d, int n, int64_t step)
{
    char path[DLT_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/samples", v->c->run_dir);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot create the directory: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/samples/val-%08lld.png", v->c->run_dir, (long long)step);
    dlt_det_draw_opts o;
    dlt_det_draw_opts_default(&o);
    dlt_image8 im = {0};
    dlt_status st =
        dlt_det_grid(b->images, n, v->h, v->w, v->mean, v->std, d, (const char *const *)v->names,
                     &o, n < GRID_COLS ? n : GRID_COLS, &im);
    if (st == DLT_OK)
        st = dlt_png_write(path, &im);
    dlt_image8_free(&im);
    return st;
}

/* Rank 0's side: every batch through the network into ev, then the numbers.
 * With other ranks, a heartbeat broadcast (1) follows each batch. */
static dlt_status evaluate(dlt_mrcnn_val *v, dlt_graph *g, int64_t step, dlt_comm *comm, int world,
                           double stats[DLT_MRCNN_VAL_NSTATS], int64_t *images)
{
    const dlt_train_config *c = v->c;
    int64_t total = dlt_det_loader_num_samples(v->loader), seen = 0;
    if (c->mrcnn.eval_images > 0 && c->mrcnn.eval_images < total)
        total = c->mrcnn.eval_images;
    dlt_mrcnn_eval *ev = NULL;
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)(total > 0 ? total : 1));
    dlt_status st = ids ? dlt_mrcnn_infer_load(v->infer, g)
                        : dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN evaluation: out of memory");
    if (st == DLT_OK)
        st = dlt_det_loader_set_cursor(v->loader, v->start);
    if (st == DLT_OK)
        st = dlt_mrcnn_eval_open(v->gt, &ev);
    while (st == DLT_OK && seen < total) {
        dlt_det_batch b;
        if ((st = dlt_det_loader_next(v->loader, &b)) != DLT_OK)
            break;
        int n = b.valid;
        if (n > total - seen)
            n = (int)(total - seen);
        st = dlt_mrcnn_infer_run(v->infer, b.images, b.image_sizes, v->boxes, v->scores, v->labels,
                                 v->valid, v->masks);
        dlt_mrcnn_dets d = {.batch = v->batch,
                            .nimages = n,
                            .per_image = v->dets,
                            .mask_size = MASK,
                            .boxes = v->boxes,
                            .scores = v->scores,
                            .labels = v->labels,
                            .valid = v->valid,
                            .masks = v->masks,
                            .image_sizes = b.image_sizes,
                            .orig_sizes = b.orig_sizes,
                            .image_ids = b.image_ids};
        if (st == DLT_OK)
            st = dlt_mrcnn_eval_add(ev, &d);
        if (st == DLT_OK && seen == 0)
            st = write_grid(v, &b, &d, n, step);
        memcpy(ids + seen, b.image_ids, sizeof(int64_t) * (size_t)(n > 0 ? n : 0));
        seen += n;
        if (n < 1 && st == DLT_OK) /* a loader that gives no image: never loop */
            st = dlt_seterr(DLT_ERR_INVALID, "data.val: an evaluation batch without images");
        double beat[1] = {1};
        if (st == DLT_OK && world > 1)
            st = dlt_comm_bcast(comm, beat, 1, DLT_COMM_F64, 0, NULL);
    }
    char path[DLT_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/val_results-%08lld.json", c->run_dir, (long long)step);
    double segm[DLT_COCO_NSTATS], box[DLT_COCO_NSTATS];
    /* a capped evaluation: COCOeval over the images evaluated */
    if (st == DLT_OK && total < dlt_det_loader_num_samples(v->loader))
        st = dlt_mrcnn_eval_keep_images(ev, ids, seen);
    if (st == DLT_OK)
        st = dlt_mrcnn_eval_finish(ev, path, box, segm);
    if (st == DLT_OK)
        for (int i = 0; i < 6; i++)
            stats[i] = box[i], stats[6 + i] = segm[i];
    dlt_mrcnn_eval_free(ev);
    free(ids);
    *images = seen;
    return st;
}

dlt_status dlt_mrcnn_val_run(dlt_mrcnn_val *v, dlt_status pre, dlt_graph *g, dlt_comm *comm,
                             int rank, int world, int64_t step, double stats[DLT_MRCNN_VAL_NSTATS],
                             int64_t *images)
{
    /* the last broadcast: 0 (done), rank 0's status, images, the stats */
    double msg[3 + DLT_MRCNN_VAL_NSTATS];
    dlt_status st = DLT_OK;
    memset(msg, 0, sizeof msg);
    *images = 0;
    if (rank == 0) {
        st = pre != DLT_OK ? pre
             : v           ? evaluate(v, g, step, comm, world, msg + 3, images)
                           : dlt_seterr(DLT_ERR_INVALID, "Mask R-CNN evaluation: no evaluator");
        msg[1] = (double)st, msg[2] = (double)*images;
        if (world > 1) {
            double done[1] = {0};
            dlt_status bs = dlt_comm_bcast(comm, done, 1, DLT_COMM_F64, 0, NULL);
            if (bs == DLT_OK)
                bs = dlt_comm_bcast(comm, msg, 3 + DLT_MRCNN_VAL_NSTATS, DLT_COMM_F64, 0, NULL);
            st = st != DLT_OK ? st : bs;
        }
    } else {
        /* heartbeats (1) until the last broadcast (0) */
        do
            st = dlt_comm_bcast(comm, msg, 1, DLT_COMM_F64, 0, NULL);
        while (st == DLT_OK && msg[0] == 1);
        if (st == DLT_OK)
            st = dlt_comm_bcast(comm, msg, 3 + DLT_MRCNN_VAL_NSTATS, DLT_COMM_F64, 0, NULL);
        if (st == DLT_OK && msg[1] != 0)
            st = dlt_seterr((dlt_status)msg[1], "Mask R-CNN evaluation failed on rank 0");
        *images = (int64_t)msg[2];
    }
    memcpy(stats, msg + 3, sizeof(double) * DLT_MRCNN_VAL_NSTATS);
    return st;
}
