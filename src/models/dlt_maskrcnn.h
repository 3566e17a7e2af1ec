/* Mask R-CNN's networks (He et al. 2017 with FPN, Lin et al. 2017), as
 * torchvision's maskrcnn_resnet50_fpn builds them, with its parameter names
 * ("backbone.body.layer1.0.conv1.weight", "backbone.fpn.inner_blocks.0.0.weight",
 * "rpn.head.cls_logits.weight", "roi_heads.box_head.fc6.weight",
 * "roi_heads.mask_predictor.mask_fcn_logits.weight", ...), so checkpoints map
 * one to one and 91 classes give torchvision's parameter count.
 *
 * These are the learned parts only: the backbone with its feature pyramid,
 * the RPN head, the box head and the mask head. Anchors, proposal selection,
 * RoIAlign pooling, target matching and sampling, and the losses connect them
 * (src/ops: the box and roi families; the Mask R-CNN task). Shapes are
 * static: the heads run on a fixed number of RoIs per image. */
#ifndef DLT_MASKRCNN_H
#define DLT_MASKRCNN_H

#include "dlt_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int depth;            /* backbone ResNet: 18, 34, 50 (torchvision's), 101, 152 */
    int num_classes;      /* with the background class 0: 91 for COCO */
    int trainable_layers; /* backbone stages trained, 0..5: layer4, layer3, ..., the stem
                             (torchvision's trainable_backbone_layers, default 3) */
    char norm;            /* backbone normalisation: 'f' frozen batch norm (torchvision with a
                             pretrained backbone), 'b' batch norm, 'g' group norm (32) */
    float norm_eps;       /* 1e-5 */
    int fpn_channels;     /* 256 */
    int anchors;          /* anchors per location: 3 (aspect ratios 0.5, 1, 2) */
    int box_pool;         /* the box head's RoIAlign output: 7 (x 7) */
    int representation;   /* the box head's MLP width: 1024 */
    int mask_channels;    /* the mask head's conv width: 256 */
    int mask_convs;       /* the mask head's 3x3 convs: 4 */
} dlt_maskrcnn_spec;

/* torchvision's maskrcnn_resnet50_fpn with a pretrained backbone: ResNet-50,
 * 91 classes, 3 trainable stages, frozen batch norm, 256 channels. */
void dlt_maskrcnn_spec_default(dlt_maskrcnn_spec *s);

/* The ResNet body and its feature pyramid on images x [N, 3, H, W] (H and W
 * multiples of 32, as torchvision pads a batch): p[0..4] receive the pyramid
 * levels '0'..'3' and 'pool' (strides 4, 8, 16, 32, 64), each [N, fpn_channels,
 * H / stride, W / stride] ('pool' rounds up). Returns p[4], or -1 with the
 * error recorded in the graph. */
dlt_t dlt_maskrcnn_backbone(dlt_graph *g, const dlt_maskrcnn_spec *s, dlt_t x, dlt_t p[5]);

/* The RPN head, one set of weights for all n levels: obj[i] [N, A, H_i, W_i]
 * objectness logits and deltas[i] [N, 4 A, H_i, W_i] box regression (anchor a's
 * dx, dy, dw, dh at channels 4a..4a+3, as torchvision). Returns deltas[n - 1]
 * or -1. */
dlt_t dlt_maskrcnn_rpn_head(dlt_graph *g, const dlt_maskrcnn_spec *s, const dlt_t *feats, int n, dlt_t *obj,
                            dlt_t *deltas);

/* The box head (two fully connected layers with ReLU) and predictor on pooled
 * RoI features [R, fpn_channels, box_pool, box_pool]: returns class logits [R,
 * num_classes]; *deltas gets the per-class box regression [R, 4 num_classes]. */
dlt_t dlt_maskrcnn_box_head(dlt_graph *g, const dlt_maskrcnn_spec *s, dlt_t pooled, dlt_t *deltas);

/* The mask head (mask_convs 3x3 convs with ReLU), the 2x2 stride-2 transposed
 * conv with ReLU and the 1x1 per-class predictor on pooled RoI features
 * [R, fpn_channels, P, P] (P = 14): returns mask logits [R, num_classes, 2P, 2P]. */
dlt_t dlt_maskrcnn_mask_head(dlt_graph *g, const dlt_maskrcnn_spec *s, dlt_t pooled);

#ifdef __cplusplus
}
#endif
#endif
