/* Detection post-processing on the host, after a plan computed a batch's
 * detections: masks pasted into the image as torchvision's Mask R-CNN does
 * it, so that its predictions and COCO evaluation (dlt_coco.h) see the same
 * pixels. */
#ifndef DLT_DET_POST_H
#define DLT_DET_POST_H

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One M x M mask of probabilities (row-major) for a box (x1, y1, x2, y2 in
 * image pixels) pasted into an im_h x im_w image: out (im_h x im_w floats)
 * gets the mask's values inside the box and 0 elsewhere. Exactly
 * torchvision's paste_masks_in_image with padding 1: the mask is padded by a
 * zero border to (M + 2) x (M + 2), the box widened about its centre by
 * (M + 2) / M and truncated to integers, the padded mask resized to the
 * box's (x2 - x1 + 1) x (y2 - y1 + 1) pixels by bilinear interpolation
 * (align_corners = False) and written where the box meets the image. COCO
 * evaluation then thresholds at 0.5. */
void dlt_det_paste_mask(const float *mask, int m, const float box[4], int im_h, int im_w, float *out);

#ifdef __cplusplus
}
#endif
#endif
