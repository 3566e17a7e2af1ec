/* Mask R-CNN's test-time selection on the host (dlt_det_infer.h), in
 * torchvision 0.14's order of float32 operations:
 *
 *   scores   = softmax(class_logits) per proposal (max subtracted)
 *   boxes    = BoxCoder(10, 10, 5, 5).decode_single per class, clipped to
 *              [0, w] x [0, h] (clip_boxes_to_image)
 *   the background column dropped, (proposal, class) pairs flattened
 *   proposal-major, kept where score > score_thresh and both sides >= min_size
 *   batched_nms: greedy in score order, a kept box suppressing the later ones
 *   of its class with IoU > nms_thresh; the first `detections` kept.
 *
 * torchvision's batched_nms offsets each class's boxes by label * (max + 1)
 * instead of comparing classes (its "coordinate trick"); the kept set is the
 * same up to the rounding of IoUs that sit on the threshold. The RPN's
 * filter_proposals (dlt_rpn_filter_proposals) works the same way with the
 * FPN level as the class. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_det_infer.h"

void dlt_det_infer_opts_default(dlt_det_infer_opts *o, int num_classes)
{
    *o = (dlt_det_infer_opts){.num_classes = num_classes,
                              .score_thresh = 0.05f,
                              .nms_thresh = 0.5f,
                              .detections = 100,
                              .min_size = 1e-2f,
                              .weights = {10.f, 10.f, 5.f, 5.f},
                              .clip = logf(1000.f / 16.f)};
}

typedef struct {
    float box[4], score;
    int32_t label, from;
    int64_t order; /* the flattened index: the tie-break */
} cand;

static int by_score(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

void dlt_det_decode_box(const float wt[4], float clip, const float *d, const float *p, float *y)
{
    float w = p[2] - p[0], h = p[3] - p[1];
    float cx = p[0] + 0.5f * w, cy = p[1] + 0.5f * h;
    float dx = d[0] / wt[0], dy = d[1] / wt[1];
    float dw = fminf(d[2] / wt[2], clip), dh = fminf(d[3] / wt[3], clip);
    float px = dx * w + cx, py = dy * h + cy;
    float pw = expf(dw) * w, ph = expf(dh) * h;
    float hw = 0.5f * pw, hh = 0.5f * ph;
    y[0] = px - hw, y[1] = py - hh, y[2] = px + hw, y[3] = py + hh;
}

static float clampf(float v, float hi)
{
    return v < 0.f ? 0.f : v > hi ? hi : v;
}

/* torchvision's nms kernel: IoU as inter / (area_a + area_b - inter) in f32 */
static float iou(const float *a, const float *b)
{
    float area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
    float w = fmaxf(0.f, fminf(a[2], b[2]) - fmaxf(a[0], b[0]));
    float h = fmaxf(0.f, fminf(a[3], b[3]) - fmaxf(a[1], b[1]));
    float inter = w * h;
    return inter / (area_a + area_b - inter);
}

dlt_status dlt_det_postprocess(const dlt_det_infer_opts *o, int64_t R, const float *proposals,
                               const float *valid, const float *class_logits,
                               const float *box_regression, int im_h, int im_w, float *boxes,
                               float *scores, int32_t *labels, int32_t *from, float *det_valid,
                               int *count)
{
    int C = o->num_classes, D = o->detections;
    *count = 0;
    if (C < 2 || D < 0 || R < 0 || im_h < 1 || im_w < 1)
        return dlt_seterr(DLT_ERR_INVALID,
                          "detection post-processing: %d classes (>= 2 with the background), "
                          "%d detections, %lld proposals, image %dx%d",
                          C, D, (long long)R, im_h, im_w);
    memset(boxes, 0, sizeof *boxes * 4 * (size_t)D);
    memset(scores, 0, sizeof *scores * (size_t)D);
    memset(labels, 0, sizeof *labels * (size_t)D);
    memset(det_valid, 0, sizeof *det_valid * (size_t)D);
    if (from)
        memset(from, 0, sizeof *from * (size_t)D);
    cand *cs = malloc(sizeof *cs * (size_t)(R * (C - 1) > 0 ? R * (C - 1) : 1));
    float *prob = malloc(sizeof *prob * (size_t)C);
    uint8_t *gone = NULL;
    if (!cs || !prob) {
        free(cs), free(prob);
        return dlt_seterr(DLT_ERR_NOMEM,
                          "detection post-processing: out of memory for %lld "
                          "candidates",
                          (long long)(R * (C - 1)));
    }
    int64_t n = 0;
    for (int64_t r = 0; r < R; r++) {
        if (valid && valid[r] == 0.f)
            continue;
        const float *z = class_logits + r * C;
        float mx = z[0], sum = 0.f;
        for (int c = 1; c < C; c++)
            mx = fmaxf(mx, z[c]);
        for (int c = 0; c < C; c++)
            prob[c] = expf(z[c] - mx), sum += prob[c];
        for (int c = 1; c < C; c++) {
            float s = prob[c] / sum;
            if (!(s > o->score_thresh))
                continue;
            cand *k = &cs[n];
            dlt_det_decode_box(o->weights, o->clip, box_regression + (r * C + c) * 4,
                               proposals + 4 * r, k->box);
            k->box[0] = clampf(k->box[0], (float)im_w), k->box[2] = clampf(k->box[2], (float)im_w);
            k->box[1] = clampf(k->box[1], (float)im_h), k->box[3] = clampf(k->box[3], (float)im_h);
            if (!(k->box[2] - k->box[0] >= o->min_size && k->box[3] - k->box[1] >= o->min_size))
                continue;
            k->score = s, k->label = c, k->from = (int32_t)r, k->order = r * (C - 1) + (c - 1);
            n++;
        }
    }
    free(prob);
    qsort(cs, (size_t)n, sizeof *cs, by_score);
    gone = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!gone) {
        free(cs);
        return dlt_seterr(DLT_ERR_NOMEM, "detection post-processing: out of memory");
    }
    int kept = 0;
    for (int64_t i = 0; i < n && kept < D; i++) {
        if (gone[i])
            continue;
        const cand *k = &cs[i];
        memcpy(boxes + 4 * kept, k->box, sizeof k->box);
        scores[kept] = k->score, labels[kept] = k->label, det_valid[kept] = 1.f;
        if (from)
            from[kept] = k->from;
        kept++;
        for (int64_t j = i + 1; j < n; j++)
            if (!gone[j] && cs[j].label == k->label &&
                (double)iou(k->box, cs[j].box) > o->nms_thresh)
                gone[j] = 1;
    }
    free(cs), free(gone);
    *count = kept;
    return DLT_OK;
}

void dlt_rpn_infer_opts_default(dlt_rpn_infer_opts *o)
{
    *o = (dlt_rpn_infer_opts){.pre_nms_top_n = 1000,
                              .post_nms_top_n = 1000,
                              .nms_thresh = 0.7f,
                              .min_size = 1e-3f,
                              .score_thresh = 0.f};
}

dlt_status dlt_rpn_filter_proposals(const dlt_rpn_infer_opts *o, int nlev, const int64_t *per_level,
                                    const float *objectness, const float *proposals, int im_h,
                                    int im_w, float *out, float *out_scores, float *out_valid,
                                    int *count)
{
    int P = o->post_nms_top_n;
    *count = 0;
    int64_t total = 0, most = 0;
    for (int l = 0; l < nlev; l++) {
        total += per_level[l];
        most = per_level[l] > most ? per_level[l] : most;
    }
    if (nlev < 1 || P < 0 || o->pre_nms_top_n < 1 || im_h < 1 || im_w < 1)
        return dlt_seterr(DLT_ERR_INVALID,
                          "proposal filtering: %d levels, top %d per level, %d kept, image %dx%d",
                          nlev, o->pre_nms_top_n, P, im_h, im_w);
    memset(out, 0, sizeof *out * 4 * (size_t)P);
    memset(out_valid, 0, sizeof *out_valid * (size_t)P);
    if (out_scores)
        memset(out_scores, 0, sizeof *out_scores * (size_t)P);
    cand *lv = malloc(sizeof *lv * (size_t)(most > 0 ? most : 1));
    cand *cs = malloc(sizeof *cs * (size_t)(total > 0 ? total : 1));
    uint8_t *gone = calloc((size_t)(total > 0 ? total : 1), 1);
    if (!lv || !cs || !gone) {
        free(lv), free(cs), free(gone);
        return dlt_seterr(DLT_ERR_NOMEM, "proposal filtering: out of memory for %lld anchors",
                          (long long)total);
    }
    int64_t n = 0, base = 0;
    for (int l = 0; l < nlev; l++) {
        for (int64_t a = 0; a < per_level[l]; a++)
            lv[a] = (cand){.score = objectness[base + a], .order = a};
        qsort(lv, (size_t)per_level[l], sizeof *lv, by_score); /* by logit, stable */
        int64_t top = per_level[l] < o->pre_nms_top_n ? per_level[l] : o->pre_nms_top_n;
        for (int64_t t = 0; t < top; t++) {
            int64_t a = base + lv[t].order;
            cand *k = &cs[n];
            const float *p = proposals + 4 * a;
            k->box[0] = clampf(p[0], (float)im_w), k->box[2] = clampf(p[2], (float)im_w);
            k->box[1] = clampf(p[1], (float)im_h), k->box[3] = clampf(p[3], (float)im_h);
            k->score = 1.f / (1.f + expf(-objectness[a]));
            k->label = l, k->order = n;
            if (!(k->box[2] - k->box[0] >= o->min_size && k->box[3] - k->box[1] >= o->min_size))
                continue;
            if (!(k->score >= o->score_thresh))
                continue;
            n++;
        }
        base += per_level[l];
    }
    qsort(cs, (size_t)n, sizeof *cs, by_score);
    int kept = 0;
    for (int64_t i = 0; i < n && kept < P; i++) {
        if (gone[i])
            continue;
        const cand *k = &cs[i];
        memcpy(out + 4 * kept, k->box, sizeof k->box);
        out_valid[kept] = 1.f;
        if (out_scores)
            out_scores[kept] = k->score;
        kept++;
        for (int64_t j = i + 1; j < n; j++)
            if (!gone[j] && cs[j].label == k->label &&
                (double)iou(k->box, cs[j].box) > o->nms_thresh)
                gone[j] = 1;
    }
    free(lv), free(cs), free(gone);
    *count = kept;
    return DLT_OK;
}

void dlt_det_mask_probs(const float *mask_logits, int d, int c, int m, const int32_t *labels,
                        float *out)
{
    size_t mm = (size_t)m * m;
    for (int i = 0; i < d; i++) {
        float *y = out + i * mm;
        if (labels[i] < 0 || labels[i] >= c) {
            memset(y, 0, mm * sizeof *y);
            continue;
        }
        const float *x = mask_logits + ((size_t)i * c + labels[i]) * mm;
        for (size_t p = 0; p < mm; p++)
            y[p] = 1.f / (1.f + expf(-x[p]));
    }
}
