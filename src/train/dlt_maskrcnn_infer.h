/* Mask R-CNN inference (maskrcnn_infer.c): torchvision's MaskRCNN in eval mode
 * on a padded batch, as a fixed sequence of three plans over one graph
 * (dlt_maskrcnn.h's networks, torchvision's parameter names) with the
 * selection on the host in between (dlt_det_infer.h), once per batch:
 *
 *   plan 1: backbone + RPN head -> objectness and deltas of every level, and
 *           the pyramid P2..P5;
 *   host:   anchors (torchvision's AnchorGenerator: sizes 32..512, one per
 *           level, ratios 0.5, 1, 2), decode (1, 1, 1, 1), filter_proposals;
 *   plan 2: box RoI pool (7 x 7) of the pyramid + box head on the proposals;
 *   host:   postprocess_detections (D per image with validity);
 *   plan 3: mask RoI pool (14 x 14) of the pyramid + mask head on the
 *           detections;
 *   host:   the label's mask channel through a sigmoid -> [B, D, 28, 28].
 *
 * The pyramid goes from plan 1's outputs into plans 2 and 3's inputs (host
 * copies; the backbone runs once). Outputs are in the batch's pixels, ready
 * for dlt_mrcnn_eval_add and dlt_det_grid (dlt_mrcnn_dets). */
#ifndef DLT_MASKRCNN_INFER_H
#define DLT_MASKRCNN_INFER_H

#include <stdint.h>

#include "dlt_det_infer.h"
#include "dlt_det_picture.h"
#include "dlt_maskrcnn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    dlt_maskrcnn_spec spec;
    int batch, height, width; /* the padded batch, multiples of 32 */
    dlt_rpn_infer_opts rpn;   /* test time: 1000 / 1000, NMS 0.7 */
    dlt_det_infer_opts det;   /* 0.05, NMS 0.5, 100 detections */
    float sizes[5];           /* anchor size of each FPN level (32 .. 512) */
    float ratios[3];          /* spec.anchors aspect ratios (0.5, 1, 2) */
} dlt_mrcnn_infer_config;

void dlt_mrcnn_infer_config_default(dlt_mrcnn_infer_config *c, const dlt_maskrcnn_spec *s,
                                    int batch, int height, int width);

typedef struct dlt_mrcnn_infer dlt_mrcnn_infer;

dlt_status dlt_mrcnn_infer_create(const dlt_mrcnn_infer_config *c, dlt_mrcnn_infer **out);
void dlt_mrcnn_infer_free(dlt_mrcnn_infer *m); /* NULL is a no-op */
/* The graph whose parameters and buffers (torchvision's names) the caller
 * fills (dlt_param_lookup / dlt_param_data, or a checkpoint) before a run. */
dlt_graph *dlt_mrcnn_infer_graph(dlt_mrcnn_infer *m);
/* Copies every parameter and buffer of m's graph from src's host storage of
 * the same name (a training graph built with the same spec: download a
 * device graph first); DLT_ERR_INVALID names the first one missing or of
 * another size. What a task's evaluation calls before running m. */
dlt_status dlt_mrcnn_infer_load(dlt_mrcnn_infer *m, dlt_graph *src);

/* Detections of the batch images [B, 3, H, W] (normalised, each image at the
 * top-left, image_sizes [B, 2] its h, w): boxes [B, D, 4], scores [B, D],
 * labels i32 [B, D], valid [B, D], masks [B, D, 28, 28] probabilities of the
 * label's channel (all caller-allocated; D = c->det.detections). */
dlt_status dlt_mrcnn_infer_run(dlt_mrcnn_infer *m, const float *images, const int32_t *image_sizes,
                               float *boxes, float *scores, int32_t *labels, float *valid,
                               float *masks);

/* ---- one image, as `dltrain detect` sees it (maskrcnn_detect.c) */
/* torchvision's GeneralizedRCNNTransform as the detection loader computes it
 * (det_transform.c): the RGB bytes (HWC, h x w) resized by bilinear
 * interpolation (align_corners = False) to dlt_det_resized_size's rh x rw,
 * then (v / 255 - mean) / std with ImageNet's mean and std, at the top-left of
 * a zero canvas ph x pw (rh, rw rounded up to multiples of 32). *out [3, ph,
 * pw] is malloc'd. */
dlt_status dlt_mrcnn_transform(const uint8_t *rgb, int h, int w, int min_size, int max_size,
                               float **out, int *rh, int *rw, int *ph, int *pw);

/* Fills the parameters and buffers of an inference graph (a checkpoint's, or
 * a test's); user is passed through. */
typedef dlt_status (*dlt_mrcnn_load_fn)(dlt_graph *g, void *user);

typedef struct {
    int min_size, max_size;   /* the transform's (800, 1333; the job's) */
    dlt_det_draw_opts draw;   /* score_min: the detections drawn */
    const char *const *names; /* class names (NULL: numbers) */
    float sizes[5];           /* the anchors the network was trained with; */
    float ratios[3];          /* sizes[0] = 0: torchvision's (32 .. 512; 0.5, 1, 2) */
} dlt_mrcnn_detect_opts;

/* Detections of one image in its own pixels: n of them, boxes [n, 4], scores,
 * labels, masks [n, h, w] (pasted probabilities); malloc'd. */
typedef struct {
    int n, h, w;
    float *boxes, *scores, *masks;
    int32_t *labels;
} dlt_mrcnn_found;
void dlt_mrcnn_found_free(dlt_mrcnn_found *f);

/* The network of spec s on one RGB image im (im->c = 3): transform, the
 * inference graph for its padded size with the weights from load, the three
 * plans, boxes mapped back to im's pixels (resize_boxes) and masks pasted
 * there; found (may be NULL) receives the detections, picture (may be NULL)
 * a copy of im with those scoring >= o->draw.score_min drawn (masks > 0.5). */
dlt_status dlt_mrcnn_detect(const dlt_maskrcnn_spec *s, dlt_mrcnn_load_fn load, void *user,
                            const dlt_image8 *im, const dlt_mrcnn_detect_opts *o,
                            dlt_mrcnn_found *found, dlt_image8 *picture);

/* ---- a checkpoint's network (maskrcnn_detect.c) */
/* The spec, the transform's sizes and anchors (o->min_size, max_size,
 * sizes, ratios; the rest of o untouched) and the class names (*names:
 * *nnames malloc'd strings, NULL when the checkpoint has none) a checkpoint
 * of the Mask R-CNN task was trained with: its stored job mapped as the task
 * maps it (dlt_task_maskrcnn_spec), the class count from its /model.
 * DLT_ERR_INVALID naming the file and its model.arch for any other
 * checkpoint. */
dlt_status dlt_mrcnn_ckpt_spec(const char *ckpt, dlt_maskrcnn_spec *s, dlt_mrcnn_detect_opts *o,
                               char ***names, int *nnames);
/* A dlt_mrcnn_load_fn for a checkpoint: user is the path; every parameter
 * and buffer by name (dlt_ckpt_load). */
dlt_status dlt_mrcnn_load_ckpt(dlt_graph *g, void *user);

#ifdef __cplusplus
}
#endif
#endif
