/* Mask R-CNN's host-side evaluation (dlt_maskrcnn_eval.h): fixed-shape
 * detections -> COCO detections of the source images -> COCOeval.
 *
 * The evaluator owns the ground truth, a growing array of dlt_coco_det and,
 * beside it, one RLE per detection (det[i].rle points into rles[i]; both
 * arrays grow together, so the pointers are refreshed after each realloc). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlt_det_post.h"
#include "dlt_maskrcnn_eval.h"

struct dlt_mrcnn_eval {
    dlt_coco_gt *gt;
    dlt_coco_det *dets;
    dlt_coco_rle *rles; /* [cap]; rles[i] is det i's mask (m = 0 when none) */
    int64_t n, cap;
    int64_t *cats; /* label -> category id; NULL: identity */
    int ncats;
    int masks; /* 1 while every detection so far had a mask */
};

dlt_status dlt_mrcnn_eval_gt_beside(const char *shards, char **out)
{
    *out = NULL;
    const char *slash = strrchr(shards, '/');
    const char *base = slash ? slash + 1 : shards;
    const char *dash = strchr(base, '-');
    if (!dash || dash == base)
        return dlt_seterr(DLT_ERR_INVALID,
                          "%s: expected shards named PREFIX-... (e.g. val-*.h5) to find the "
                          "ground truth instances_PREFIX.json beside them",
                          shards);
    int dir = slash ? (int)(slash - shards) : 1;
    size_t n = (size_t)dir + (size_t)(dash - base) + 32;
    char *p = malloc(n);
    if (!p)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    snprintf(p, n, "%.*s/instances_%.*s.json", dir, slash ? shards : ".", (int)(dash - base), base);
    if (access(p, R_OK) != 0) {
        dlt_status st = dlt_seterr(DLT_ERR_NOTFOUND,
                                   "%s: no COCO ground truth for the shards %s (dlprep "
                                   "detection-synth writes it beside them)",
                                   p, shards);
        free(p);
        return st;
    }
    *out = p;
    return DLT_OK;
}

dlt_status dlt_mrcnn_eval_open(const char *gt_json, dlt_mrcnn_eval **out)
{
    *out = NULL;
    dlt_mrcnn_eval *e = calloc(1, sizeof *e);
    if (!e)
        return dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN evaluation: out of memory");
    dlt_status st = dlt_coco_gt_load(gt_json, &e->gt);
    if (st != DLT_OK) {
        free(e);
        return st;
    }
    e->masks = 1;
    *out = e;
    return DLT_OK;
}

dlt_status dlt_mrcnn_eval_set_categories(dlt_mrcnn_eval *e, const int64_t *ids, int n)
{
    int64_t *c = malloc(sizeof *c * (size_t)(n > 0 ? n : 1));
    if (!c)
        return dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN evaluation: out of memory");
    memcpy(c, ids, sizeof *c * (size_t)n);
    free(e->cats);
    e->cats = c, e->ncats = n;
    return DLT_OK;
}

static dlt_status grow(dlt_mrcnn_eval *e, int64_t need)
{
    if (need <= e->cap)
        return DLT_OK;
    int64_t cap = e->cap ? 2 * e->cap : 256;
    while (cap < need)
        cap *= 2;
    dlt_coco_det *d = realloc(e->dets, sizeof *d * (size_t)cap);
    if (d)
        e->dets = d;
    dlt_coco_rle *r = d ? realloc(e->rles, sizeof *r * (size_t)cap) : NULL;
    if (!r)
        return dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN evaluation: out of memory for %lld detections",
                          (long long)cap);
    e->rles = r, e->cap = cap;
    for (int64_t i = 0; i < e->n; i++) /* the rle pointers moved with the array */
        e->dets[i].rle = e->rles[i].cnts ? &e->rles[i] : NULL;
    return DLT_OK;
}

/* One image's detections. torchvision's resize_boxes scales by the f32 ratios
 * source / resized size; the reference's convert_to_xywh keeps f32. */
static dlt_status add_image(dlt_mrcnn_eval *e, const dlt_mrcnn_dets *d, int b, float *pasted,
                            uint8_t *bits)
{
    int64_t id = d->image_ids[b];
    int gh, gw;
    if (dlt_coco_gt_image_size(e->gt, id, &gh, &gw) != DLT_OK)
        return dlt_seterr(DLT_ERR_INVALID,
                          "Mask R-CNN evaluation: image %lld (batch slot %d) is not in the "
                          "ground truth",
                          (long long)id, b);
    int oh = d->orig_sizes[2 * b], ow = d->orig_sizes[2 * b + 1];
    if (oh != gh || ow != gw)
        return dlt_seterr(DLT_ERR_INVALID,
                          "Mask R-CNN evaluation: image %lld is %dx%d in the batch's source sizes "
                          "but %dx%d in the ground truth",
                          (long long)id, oh, ow, gh, gw);
    float ry = (float)oh / (float)d->image_sizes[2 * b],
          rx = (float)ow / (float)d->image_sizes[2 * b + 1];
    int D = d->per_image, M = d->mask_size;
    for (int k = 0; k < D; k++) {
        size_t s = (size_t)b * D + k;
        if (d->valid && d->valid[s] == 0.f)
            continue;
        int32_t label = d->labels[s];
        int64_t cat = label;
        if (e->cats) {
            if (label < 0 || label >= e->ncats)
                return dlt_seterr(DLT_ERR_INVALID,
                                  "Mask R-CNN evaluation: image %lld detection %d: label %d "
                                  "outside the %d categories",
                                  (long long)id, k, (int)label, e->ncats);
            cat = e->cats[label];
        }
        const float *bx = d->boxes + 4 * s;
        float box[4] = {bx[0] * rx, bx[1] * ry, bx[2] * rx, bx[3] * ry};
        dlt_status st = grow(e, e->n + 1);
        if (st != DLT_OK)
            return st;
        dlt_coco_det *o = &e->dets[e->n];
        dlt_coco_rle *r = &e->rles[e->n];
        memset(o, 0, sizeof *o), memset(r, 0, sizeof *r);
        o->image_id = id, o->category_id = cat, o->score = d->scores[s];
        o->bbox[0] = box[0], o->bbox[1] = box[1];
        o->bbox[2] = box[2] - box[0], o->bbox[3] = box[3] - box[1];
        if (M > 0 && d->masks) {
            dlt_det_paste_mask(d->masks + s * M * M, M, box, oh, ow, pasted);
            for (size_t i = 0; i < (size_t)oh * ow; i++)
                bits[i] = pasted[i] > 0.5f;
            if ((st = dlt_coco_rle_encode(bits, oh, ow, r)) != DLT_OK)
                return st;
            o->rle = r;
        } else {
            e->masks = 0;
        }
        e->n++;
    }
    return DLT_OK;
}

dlt_status dlt_mrcnn_eval_add(dlt_mrcnn_eval *e, const dlt_mrcnn_dets *d)
{
    if (d->nimages < 0 || d->nimages > d->batch || d->per_image < 0 || d->mask_size < 0)
        return dlt_seterr(DLT_ERR_INVALID,
                          "Mask R-CNN evaluation: %d images of a batch of %d, %d detections "
                          "each, %d x %d masks",
                          d->nimages, d->batch, d->per_image, d->mask_size, d->mask_size);
    size_t most = 1;
    for (int b = 0; b < d->nimages; b++) {
        size_t px = (size_t)d->orig_sizes[2 * b] * (size_t)d->orig_sizes[2 * b + 1];
        most = px > most ? px : most;
    }
    float *pasted = malloc(most * sizeof *pasted);
    uint8_t *bits = malloc(most);
    dlt_status st = pasted && bits ? DLT_OK
                                   : dlt_seterr(DLT_ERR_NOMEM,
                                                "Mask R-CNN evaluation: out of memory for a mask");
    for (int b = 0; b < d->nimages && st == DLT_OK; b++)
        st = add_image(e, d, b, pasted, bits);
    free(pasted), free(bits);
    return st;
}

dlt_status dlt_mrcnn_eval_keep_images(dlt_mrcnn_eval *e, const int64_t *ids, int64_t n)
{
    return dlt_coco_gt_keep_images(e->gt, ids, n);
}

int64_t dlt_mrcnn_eval_count(const dlt_mrcnn_eval *e)
{
    return e->n;
}

const dlt_coco_det *dlt_mrcnn_eval_det(const dlt_mrcnn_eval *e, int64_t i)
{
    return i >= 0 && i < e->n ? &e->dets[i] : NULL;
}

dlt_status dlt_mrcnn_eval_finish(dlt_mrcnn_eval *e, const char *results_json,
                                 double box[DLT_COCO_NSTATS], double segm[DLT_COCO_NSTATS])
{
    dlt_status st = DLT_OK;
    if (results_json && (st = dlt_coco_results_write(results_json, e->gt, e->dets, e->n)) != DLT_OK)
        return st;
    if (box && (st = dlt_coco_evaluate(e->gt, e->dets, e->n, DLT_COCO_BBOX, box)) != DLT_OK)
        return st;
    if (!segm)
        return DLT_OK;
    if (!e->masks)
        return dlt_seterr(DLT_ERR_INVALID,
                          "Mask R-CNN evaluation: mask metrics asked for detections without masks");
    /* mask-only results take the mask's area (pycocotools' loadRes) */
    for (int64_t i = 0; i < e->n; i++)
        e->dets[i].area = (double)dlt_coco_rle_area(&e->rles[i]), e->dets[i].has_area = 1;
    st = dlt_coco_evaluate(e->gt, e->dets, e->n, DLT_COCO_SEGM, segm);
    for (int64_t i = 0; i < e->n; i++)
        e->dets[i].area = 0, e->dets[i].has_area = 0;
    return st;
}

void dlt_mrcnn_eval_free(dlt_mrcnn_eval *e)
{
    if (!e)
        return;
    for (int64_t i = 0; i < e->n; i++)
        dlt_coco_rle_free(&e->rles[i]);
    free(e->dets), free(e->rles), free(e->cats);
    dlt_coco_gt_free(e->gt);
    free(e);
}
