/* The training graph of Mask R-CNN (maskrcnn_graph.c), torchvision's
 * MaskRCNN in training mode with static shapes: one plan per step computes
 * the five losses from a fixed-shape detection batch. Internal to the
 * Mask R-CNN task (task_maskrcnn.c) and its tests. */
#ifndef DLT_MASKRCNN_GRAPH_H
#define DLT_MASKRCNN_GRAPH_H

#include "dlt_core.h"
#include "dlt_maskrcnn.h"

typedef struct {
    dlt_maskrcnn_spec net;
    int batch, image_h, image_w;                     /* the padded batch shape (multiples of 32) */
    int max_boxes;                                   /* M ground-truth slots per image */
    float sizes[5];                                  /* anchor size of each FPN level: 32 .. 512 */
    float ratios[3];                                 /* net.anchors aspect ratios: 0.5, 1, 2 */
    int pre_nms_top_n;                               /* per level and image: 2000 (training) */
    int post_nms_top_n;                              /* per image: 2000 (training) */
    float rpn_nms, rpn_fg, rpn_bg, rpn_pos_fraction; /* 0.7, 0.7, 0.3, 0.5 */
    int rpn_batch;                                   /* 256 */
    float min_box;                                   /* 1e-3 */
    float roi_fg, roi_bg, roi_pos_fraction;          /* 0.5, 0.5, 0.25 */
    int roi_batch;                                   /* 512 */
    int rois;             /* R: sampled RoIs the box head runs on per image (<= roi_batch) */
    int positives;        /* P: sampled positives the mask head runs on per image */
    int64_t first_sample; /* the global index of this rank's image 0 (rank x batch) */
} dlt_maskrcnn_train_spec;

/* torchvision's training defaults for net (batch, image size and M still to set). */
void dlt_maskrcnn_train_spec_default(dlt_maskrcnn_train_spec *s, const dlt_maskrcnn_spec *net);

/* The graph's inputs (fed by the task) and its losses. */
typedef struct {
    dlt_t images;    /* f32 [B, 3, H, W] */
    dlt_t gt_boxes;  /* f32 [B, M, 4] in batch pixels, zeros past the count */
    dlt_t gt_labels; /* f32 [B, M + 1]: 0 (background), then the classes of the boxes */
    dlt_t gt_count;  /* i32 [B] boxes per image */
    dlt_t gt_valid;  /* f32 [B, M] 1 for the first gt_count slots */
    dlt_t gt_masks;  /* u8 [B M, 1, H, W] 0/1 (a quarter of f32's bytes: full-size masks) */
    dlt_t image_max; /* f32 [B, 1, 4]: w, h, w, h of each resized image (box clipping) */
    dlt_t loss;      /* the sum of the five */
    dlt_t rpn_obj, rpn_box, cls, box, mask; /* rank-0 f32 each */
    dlt_t props_valid;                      /* f32 [B, post]: the proposals NMS kept */
    dlt_t roi_labels, roi_sampled;          /* f32 [B R]: the selected RoIs' classes and validity */
    dlt_t roi_boxes;                        /* f32 [B R, 4]: the selected RoIs */
} dlt_maskrcnn_train_graph;

/* Builds everything on g. Returns the total loss, or -1 with the graph's error set. */
dlt_t dlt_maskrcnn_train_build(dlt_graph *g, const dlt_maskrcnn_train_spec *s,
                               dlt_maskrcnn_train_graph *out);

#endif
