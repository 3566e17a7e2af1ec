/* Mask R-CNN inference (maskrcnn_infer.c): torchvision's MaskRCNN in eval mode
 * on a padded batch, as a fixed sequence of three plans over one graph
 * (dlt_maskrcnn.h's networks, torchvision's parameter names) with the
 * selection on the host in between (dlt_det_infer.h), once per batch:
 *
 *   plan 1: backbone + RPN head -> objectness and deltas of every level;
 *   host:   anchors (torchvision's AnchorGenerator: sizes 32..512, one per
 *           level, ratios 0.5, 1, 2), decode (1, 1, 1, 1), filter_proposals;
 *   plan 2: backbone + box RoI pool (7 x 7) + box head on the proposals;
 *   host:   postprocess_detections (D per image with validity);
 *   plan 3: backbone + mask RoI pool (14 x 14) + mask head on the detections;
 *   host:   the label's mask channel through a sigmoid -> [B, D, 28, 28].
 *
 * Each plan recomputes the backbone (the graph has no way yet to keep a
 * value across plans); outputs are in the batch's pixels, ready for
 * dlt_mrcnn_eval_add and dlt_det_grid (dlt_mrcnn_dets). */
#ifndef DLT_MASKRCNN_INFER_H
#define DLT_MASKRCNN_INFER_H

#include <stdint.h>

#include "dlt_det_infer.h"
#include "dlt_maskrcnn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    dlt_maskrcnn_spec spec;
    int batch, height, width; /* the padded batch, multiples of 32 */
    dlt_rpn_infer_opts rpn;   /* test time: 1000 / 1000, NMS 0.7 */
    dlt_det_infer_opts det;   /* 0.05, NMS 0.5, 100 detections */
} dlt_mrcnn_infer_config;

void dlt_mrcnn_infer_config_default(dlt_mrcnn_infer_config *c, const dlt_maskrcnn_spec *s,
                                    int batch, int height, int width);

typedef struct dlt_mrcnn_infer dlt_mrcnn_infer;

dlt_status dlt_mrcnn_infer_create(const dlt_mrcnn_infer_config *c, dlt_mrcnn_infer **out);
void dlt_mrcnn_infer_free(dlt_mrcnn_infer *m); /* NULL is a no-op */
/* The graph whose parameters and buffers (torchvision's names) the caller
 * fills (dlt_param_lookup / dlt_param_data, or a checkpoint) before a run. */
dlt_graph *dlt_mrcnn_infer_graph(dlt_mrcnn_infer *m);

/* Detections of the batch images [B, 3, H, W] (normalised, each image at the
 * top-left, image_sizes [B, 2] its h, w): boxes [B, D, 4], scores [B, D],
 * labels i32 [B, D], valid [B, D], masks [B, D, 28, 28] probabilities of the
 * label's channel (all caller-allocated; D = c->det.detections). */
dlt_status dlt_mrcnn_infer_run(dlt_mrcnn_infer *m, const float *images, const int32_t *image_sizes,
                               float *boxes, float *scores, int32_t *labels, float *valid,
                               float *masks);

#ifdef __cplusplus
}
#endif
#endif
