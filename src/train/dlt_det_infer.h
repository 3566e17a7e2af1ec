/* Mask R-CNN's test-time selection of detections on the host
 * (det_infer.c): torchvision's RoIHeads.postprocess_detections for one image
 * (per-class box decoding, softmax scores, clipping, score threshold, small
 * boxes dropped, per-class NMS, the best detections) and maskrcnn_inference
 * (the predicted class's mask channel through a sigmoid), with fixed output
 * sizes plus validity. An inference path runs the box head on the proposals
 * in one plan, selects here, and runs the mask head on the selected boxes
 * in a second plan (a fixed sequence of plans, no per-object round trip). */
#ifndef DLT_DET_INFER_H
#define DLT_DET_INFER_H

#include <stdint.h>

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int num_classes;    /* C, with the background class 0 */
    float score_thresh; /* 0.05: scores above it are kept */
    float nms_thresh;   /* 0.5: IoU above it suppresses (same class only) */
    int detections;     /* D = 100 per image */
    float min_size;     /* 1e-2: boxes narrower or lower are dropped */
    float weights[4];   /* the box coder's 10, 10, 5, 5 */
    float clip;         /* dw, dh clamped at log(1000 / 16) before exp */
} dlt_det_infer_opts;

/* torchvision's RoIHeads defaults for C classes. */
void dlt_det_infer_opts_default(dlt_det_infer_opts *o, int num_classes);

/* One image of im_h x im_w (the resized image, not the padded batch): R
 * proposals [R, 4] (x1, y1, x2, y2; valid [R] 0 = a padding slot, NULL: all
 * real), class_logits [R, C], box_regression [R, 4 C] -> the first
 * o->detections detections in score order (ties: lower proposal, then lower
 * class first): boxes [D, 4], scores [D], labels i32 [D] (1..C-1), from i32
 * [D] (the proposal each came from; may be NULL), det_valid [D] (1, then 0
 * with zeros past *count). DLT_ERR_INVALID for bad sizes; DLT_ERR_NOMEM. */
dlt_status dlt_det_postprocess(const dlt_det_infer_opts *o, int64_t R, const float *proposals,
                               const float *valid, const float *class_logits,
                               const float *box_regression, int im_h, int im_w, float *boxes,
                               float *scores, int32_t *labels, int32_t *from, float *det_valid,
                               int *count);

/* torchvision's BoxCoder.decode_single for one box p (x1, y1, x2, y2) and its
 * deltas d: weights w (RPN 1, 1, 1, 1; box head 10, 10, 5, 5), dw and dh
 * clamped at clip (log(1000 / 16)) before exp -> y. */
void dlt_det_decode_box(const float w[4], float clip, const float *d, const float *p, float *y);

/* torchvision's RegionProposalNetwork.filter_proposals at test time for
 * one image of im_h x im_w: objectness logits [A] and the decoded proposals
 * [A, 4] of all anchors, level after level (nlev levels of per_level[l]
 * anchors, each in torchvision's (row, column, anchor) order) -> the best
 * pre_nms_top_n per level by logit (ties: lower index first), sigmoid
 * scores, boxes clipped to the image, sides < min_size (1e-3) dropped,
 * scores below score_thresh (0) dropped, NMS at nms_thresh (0.7) within each
 * level, then the first post_nms_top_n in score order: out [P, 4] (P =
 * post_nms_top_n), out_scores [P] (may be NULL), out_valid [P] (1, then 0
 * with zero boxes past *count). */
typedef struct {
    int pre_nms_top_n;  /* per level: 1000 at test time (2000 in training) */
    int post_nms_top_n; /* 1000 at test time (2000 in training) */
    float nms_thresh;   /* 0.7 */
    float min_size;     /* 1e-3 */
    float score_thresh; /* 0 */
} dlt_rpn_infer_opts;

void dlt_rpn_infer_opts_default(dlt_rpn_infer_opts *o); /* torchvision's test-time values */

dlt_status dlt_rpn_filter_proposals(const dlt_rpn_infer_opts *o, int nlev, const int64_t *per_level,
                                    const float *objectness, const float *proposals, int im_h,
                                    int im_w, float *out, float *out_scores, float *out_valid,
                                    int *count);

/* maskrcnn_inference: mask_logits [D, C, M, M] -> out [D, M, M] the
 * sigmoid of channel labels[d] (labels outside [0, C) give zeros). */
void dlt_det_mask_probs(const float *mask_logits, int d, int c, int m, const int32_t *labels,
                        float *out);

#ifdef __cplusplus
}
#endif
#endif
