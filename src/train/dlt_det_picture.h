/* Pictures of detections (det_picture.c): boxes, class labels with scores and
 * translucent masks drawn over images (dlt_draw.h), one image or a grid of a
 * validation batch, as `dltrain detect` and the Mask R-CNN task's run folder
 * show them. Each class gets dlt_draw_palette(label)'s colour. */
#ifndef DLT_DET_PICTURE_H
#define DLT_DET_PICTURE_H

#include <stdint.h>

#include "dlt_draw.h"
#include "dlt_maskrcnn_eval.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float score_min;  /* detections scoring below it are left out (0.5) */
    float mask_alpha; /* the masks' blend (0.45) */
    int thickness;    /* the boxes' outline (1) */
    int text_scale;   /* font pixel size (1) */
} dlt_det_draw_opts;

void dlt_det_draw_opts_default(dlt_det_draw_opts *o);

/* Draws n detections on the RGB image im, in its pixel coordinates: boxes
 * [n, 4] (x1, y1, x2, y2; the outline covers pixels floor(x1)..ceil(x2) - 1),
 * scores [n], labels [n], masks (n x im->h x im->w bytes, nonzero = inside;
 * NULL: none), all masks first, then the boxes, then each label as "NAME
 * 0.87" (names[label], or the number when names or the entry is NULL) in
 * white on a strip of the box's colour just above the box (inside it when the
 * box touches the top). valid (may be NULL) skips slots that are 0. */
void dlt_det_draw(dlt_image8 *im, int n, const float *boxes, const float *scores,
                  const int32_t *labels, const float *valid, const uint8_t *masks,
                  const char *const *names, const dlt_det_draw_opts *o);

/* The first n images of a normalised batch images [B, 3, H, W] (each image's
 * top-left d->image_sizes[b] pixels, (v std[c] + mean[c]) 255 rounded to
 * bytes) with their detections d (in the batch's pixels; masks pasted into
 * the image and thresholded at 0.5) in a grid of `cols` columns, 2 black
 * pixels around and between cells of H x W. out->px is malloc'd. */
dlt_status dlt_det_grid(const float *images, int n, int h, int w, const float mean[3],
                        const float std[3], const dlt_mrcnn_dets *d, const char *const *names,
                        const dlt_det_draw_opts *o, int cols, dlt_image8 *out);

#ifdef __cplusplus
}
#endif
#endif
