/* The per-sample transform of the detection loader, torchvision's
 * GeneralizedRCNNTransform with static shapes: resize keeping the aspect
 * (shorter side to min_size, longer side capped at max_size), normalise, an
 * optional horizontal flip, and placement at the top-left of a fixed canvas.
 *
 * Sizes follow torch.nn.functional.interpolate(scale_factor=s,
 * recompute_scale_factor=True): the output is floor(in * s) and pixels are
 * then sampled with the ratio in / out. The image is bilinear with
 * align_corners=False (source x = (x + 0.5) * in / out - 0.5, clamped at 0),
 * masks nearest (source x = floor(x * in / out)), boxes scale by out / in per
 * axis, as torchvision's resize_boxes. Normalising before or after the resize
 * is the same (bilinear weights sum to 1), so pixels are resized as bytes and
 * normalised on the way out.
 *
 * The flip mirrors the resized image: output column x shows resized column
 * rw - 1 - x, and a box (x1, x2) becomes (rw - x2, rw - x1). */
#include "det_internal.h"

#include <math.h>
#include <string.h>

void dlt_det_resized_size(int h, int w, int min_size, int max_size, int *rh, int *rw)
{
    /* As torchvision computes it: the scale in float32, where `size / tensor` is
     * torch's reciprocal-then-multiply (so 800 / 480 rounds to 1.66666675, not
     * 1.66666663), then the output size floor(in * scale) in double. */
    float mn = (float)(h < w ? h : w), mx = (float)(h < w ? w : h);
    float rmn = 1.0f / mn, rmx = 1.0f / mx;
    float a = rmn * (float)min_size, b = rmx * (float)max_size;
    double s = a < b ? a : b;
    *rh = (int)floor((double)h * s);
    *rw = (int)floor((double)w * s);
    if (*rh < 1)
        *rh = 1;
    if (*rw < 1)
        *rw = 1;
}

static void resize_image(const dlt_det_stored *in, int rh, int rw, int flip, const float *mean,
                         const float *std, const dlt_det_out *out)
{
    int C = in->C;
    size_t plane = (size_t)out->bh * (size_t)out->bw;
    float sy = (float)in->h / (float)rh, sx = (float)in->w / (float)rw;
    float scale[DLT_DATA_MAX_CHANNELS], bias[DLT_DATA_MAX_CHANNELS];
    for (int k = 0; k < C; k++)
        scale[k] = 1.0f / (255.0f * std[k]), bias[k] = -mean[k] / std[k];
    memset(out->image, 0, (size_t)C * plane * sizeof(float));
    for (int y = 0; y < rh; y++) {
        float fy = ((float)y + 0.5f) * sy - 0.5f;
        if (fy < 0)
            fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < in->h ? y0 + 1 : in->h - 1;
        float wy = fy - (float)y0;
        for (int xo = 0; xo < rw; xo++) {
            int x = flip ? rw - 1 - xo : xo;
            float fx = ((float)x + 0.5f) * sx - 0.5f;
            if (fx < 0)
                fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < in->w ? x0 + 1 : in->w - 1;
            float wx = fx - (float)x0;
            const uint8_t *r0 = in->hwc + (size_t)y0 * (size_t)in->W * (size_t)C;
            const uint8_t *r1 = in->hwc + (size_t)y1 * (size_t)in->W * (size_t)C;
            for (int k = 0; k < C; k++) {
                float a = r0[(size_t)x0 * C + k], b = r0[(size_t)x1 * C + k];
                float d = r1[(size_t)x0 * C + k], e = r1[(size_t)x1 * C + k];
                float v = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
                out->image[(size_t)k * plane + (size_t)y * out->bw + xo] = v * scale[k] + bias[k];
            }
        }
    }
}

static void resize_mask(const uint8_t *m, const dlt_det_stored *in, int rh, int rw, int flip,
                        uint8_t *dst, int bw)
{
    float sy = (float)in->h / (float)rh, sx = (float)in->w / (float)rw;
    for (int y = 0; y < rh; y++) {
        int ys = (int)floorf((float)y * sy);
        if (ys > in->h - 1)
            ys = in->h - 1;
        const uint8_t *row = m + (size_t)ys * (size_t)in->W;
        for (int xo = 0; xo < rw; xo++) {
            int x = flip ? rw - 1 - xo : xo;
            int xs = (int)floorf((float)x * sx);
            if (xs > in->w - 1)
                xs = in->w - 1;
            dst[(size_t)y * (size_t)bw + xo] = row[xs] != 0;
        }
    }
}

dlt_status dlt_det_transform(const dlt_det_stored *in, int min_size, int max_size, int flip,
                             int skip_crowd, const float *mean, const float *std,
                             const dlt_det_out *out)
{
    int rh, rw, M = out->M;
    dlt_det_resized_size(in->h, in->w, min_size, max_size, &rh, &rw);
    if (rh > out->bh || rw > out->bw)
        return dlt_seterr(DLT_ERR_SHAPE,
                          "an image of %dx%d resizes to %dx%d, larger than the "
                          "batch shape %dx%d",
                          in->h, in->w, rh, rw, out->bh, out->bw);
    resize_image(in, rh, rw, flip, mean, std, out);
    float ry = (float)rh / (float)in->h, rx = (float)rw / (float)in->w;
    size_t mplane = (size_t)out->bh * (size_t)out->bw;
    memset(out->boxes, 0, (size_t)M * 4 * sizeof(float));
    memset(out->classes, 0, (size_t)M * sizeof(int32_t));
    memset(out->box_valid, 0, (size_t)M);
    memset(out->iscrowd, 0, (size_t)M);
    if (out->masks)
        memset(out->masks, 0, (size_t)M * mplane);
    int n = 0;
    for (int i = 0; i < in->nboxes && n < M; i++) {
        int crowd = in->iscrowd ? in->iscrowd[i] : 0;
        if (crowd && skip_crowd)
            continue;
        const float *b = in->boxes + 4 * i;
        float x1 = b[0] * rx, y1 = b[1] * ry, x2 = b[2] * rx, y2 = b[3] * ry;
        float *o = out->boxes + 4 * n;
        o[0] = flip ? (float)rw - x2 : x1;
        o[1] = y1;
        o[2] = flip ? (float)rw - x1 : x2;
        o[3] = y2;
        out->classes[n] = in->classes[i];
        out->box_valid[n] = 1;
        out->iscrowd[n] = (uint8_t)crowd;
        if (out->masks && in->masks)
            resize_mask(in->masks + (size_t)i * (size_t)in->H * (size_t)in->W, in, rh, rw, flip,
                        out->masks + (size_t)n * mplane, out->bw);
        n++;
    }
    *out->num_boxes = n;
    out->image_size[0] = rh, out->image_size[1] = rw;
    return DLT_OK;
}

/* ------------------------------------------------------- masks and RLE */

int64_t dlt_det_mask_area(const uint8_t *m, int h, int w)
{
    int64_t a = 0;
    for (size_t i = 0; i < (size_t)h * (size_t)w; i++)
        a += m[i] != 0;
    return a;
}

int dlt_det_mask_box(const uint8_t *m, int h, int w, float box[4])
{
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (m[(size_t)y * w + x]) {
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            }
    if (x1 < 0) {
        box[0] = box[1] = box[2] = box[3] = 0;
        return 0;
    }
    box[0] = (float)x0, box[1] = (float)y0, box[2] = (float)(x1 + 1), box[3] = (float)(y1 + 1);
    return 1;
}

int64_t dlt_det_mask_rle(const uint8_t *m, int h, int w, uint32_t *counts)
{
    /* column-major (COCO's Fortran order); the first run counts zeros */
    int64_t n = 0;
    uint32_t run = 0;
    int cur = 0;
    for (int x = 0; x < w; x++)
        for (int y = 0; y < h; y++) {
            int v = m[(size_t)y * w + x] != 0;
            if (v != cur) {
                counts[n++] = run;
                run = 0, cur = v;
            }
            run++;
        }
    counts[n++] = run;
    return n;
}
