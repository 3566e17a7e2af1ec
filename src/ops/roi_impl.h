/* The roi family's attributes and its bilinear sampling math (roi.c), shared
 * with the CUDA kernels (src/gpu/k_roi.cu) so that both backends compute the
 * same floats. Internal to libdltrain.
 *
 * RoIAlign as torchvision.ops.roi_align defines it: a roi (x1, y1, x2, y2)
 * times spatial_scale, shifted by -0.5 when aligned, is split into PH x PW
 * bins; each bin averages gh x gw bilinear samples on a regular grid (gh =
 * sampling_ratio, or ceil(roi height / PH) when sampling_ratio <= 0). A
 * sample more than one pixel outside the map (y < -1, y > H) counts as 0;
 * otherwise it is clamped into the map: negative coordinates to 0 and
 * coordinates past the last row/column to it. Without `aligned` the roi is at
 * least 1 x 1 pixel. Every product, sum and quotient below is a separately
 * rounded float operation in torchvision's order (the _rn intrinsics on the
 * device, so nvcc does not contract them into FMAs): the GPU forward gives the
 * CPU's bits, and both are torchvision's CPU arithmetic.
 *
 * Static shapes: a roi whose batch index is outside [0, B) (e.g. -1 for a
 * padding slot), or whose level input is outside the maps, pools to zeros and
 * gets no gradient; that is the validity mask of a fixed-size roi list. */
#ifndef DLT_ROI_IMPL_H
#define DLT_ROI_IMPL_H

#include <math.h>

#include "dlt_opdef.h"

#define DLT_ROI_MAX_LEVELS 4   /* feature maps of one roi_align (the backward has <= 4 outputs) */
#define DLT_ROI_MAX_GRID 65536 /* adaptive sampling points per bin and axis, at most */

typedef struct {
    int nlev;                        /* roi_align: feature maps (inputs 0..nlev-1), 1..4 */
    int ph, pw;                      /* output bins */
    int sampling;                    /* > 0: sampling x sampling points per bin; <= 0: adaptive */
    int aligned;                     /* -0.5 pixel shift, no minimum roi size */
    int has_bidx;                    /* rois [R,4] and an i32 batch index [R]; else rois [R,5] */
    int has_level;                   /* an i32 level input [R] (after the batch index) */
    int select;                      /* one map with a level input: only the rois at this level */
    float scale[DLT_ROI_MAX_LEVELS]; /* spatial scale of each map */
    int64_t b, c, h, w;              /* roi_align_backward: the input's shape */
} roi_attr;

/* roi_level: torchvision's LevelMapper. */
typedef struct {
    int k_min, k_max, canonical_level;
    float canonical_scale, eps;
    int col; /* first box column: 1 for rois [R,5], 0 for boxes [R,4] */
} roi_level_attr;

static inline DLT_HD float roi_add(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}
static inline DLT_HD float roi_sub(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fsub_rn(a, b);
#else
    return a - b;
#endif
}
static inline DLT_HD float roi_mul(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}
static inline DLT_HD float roi_div(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}

/* The kernels' view of the inputs after the image(s): rois, then the batch
 * index and the level where the attributes say so. */
typedef struct {
    const float *rois;
    const int32_t *bidx, *level;
    int64_t nbatch; /* B of the maps */
} roi_src;

/* Roi r's image (-1: inactive), its map (*lev) and its box (4 floats). The
 * [R,5] batch index is a float truncated toward zero, as torchvision does. */
static inline DLT_HD int64_t roi_source(const roi_attr *a, const roi_src *s, int64_t r, int *lev,
                                        const float **box)
{
    int64_t b;
    if (a->has_bidx) {
        b = s->bidx[r];
        *box = s->rois + 4 * r;
    } else {
        float f = s->rois[5 * r];
        if (!(f > -1.f && f < (float)s->nbatch))
            return -1;
        b = (int64_t)f;
        *box = s->rois + 5 * r + 1;
    }
    if (b < 0 || b >= s->nbatch)
        return -1;
    *lev = 0;
    if (a->has_level) {
        int l = s->level[r];
        if (a->nlev > 1) {
            if (l < 0 || l >= a->nlev)
                return -1;
            *lev = l;
        } else if (l != a->select) {
            return -1;
        }
    }
    return b;
}

/* A roi's bins: start (y0, x0), bin size (bh, bw), sampling grid (gh, gw),
 * and count = max(gh gw, 1), the divisor of each bin's sum. */
typedef struct {
    float y0, x0, bh, bw, count;
    int gh, gw;
} roi_bins;

static inline DLT_HD int roi_grid(float extent, int bins, int sampling)
{
    if (sampling > 0)
        return sampling;
    float g = ceilf(roi_div(extent, (float)bins));
    /* torchvision's loops run 0 times for g <= 0 (NaN too) */
    return g > 0.f ? (g < (float)DLT_ROI_MAX_GRID ? (int)g : DLT_ROI_MAX_GRID) : 0;
}

static inline DLT_HD roi_bins roi_bins_of(const roi_attr *a, const float *box, float scale)
{
    float off = a->aligned ? 0.5f : 0.f;
    float x0 = roi_sub(roi_mul(box[0], scale), off), y0 = roi_sub(roi_mul(box[1], scale), off);
    float x1 = roi_sub(roi_mul(box[2], scale), off), y1 = roi_sub(roi_mul(box[3], scale), off);
    float rw = roi_sub(x1, x0), rh = roi_sub(y1, y0);
    if (!a->aligned) {
        rw = rw < 1.f ? 1.f : rw; /* std::max(rw, 1.f) */
        rh = rh < 1.f ? 1.f : rh;
    }
    roi_bins q;
    q.y0 = y0, q.x0 = x0;
    q.bh = roi_div(rh, (float)a->ph), q.bw = roi_div(rw, (float)a->pw);
    q.gh = roi_grid(rh, a->ph, a->sampling), q.gw = roi_grid(rw, a->pw, a->sampling);
    int64_t n = (int64_t)q.gh * q.gw;
    q.count = n > 1 ? (float)n : 1.f;
    return q;
}

/* Sample (iy, ix) of bin (i, j): y = y0 + i bh + (iy + 0.5) bh / gh. */
static inline DLT_HD float roi_coord(float start, int i, float bin, int k, int grid)
{
    return roi_add(roi_add(start, roi_mul((float)i, bin)),
                   roi_div(roi_mul((float)k + 0.5f, bin), (float)grid));
}

/* The four taps of a bilinear sample at (y, x) in an h x w map: offsets
 * (row-major in the plane) and weights in torchvision's order (low-low,
 * low-high, high-low, high-high). 0 when the sample is outside. */
typedef struct {
    int64_t o[4];
    float w[4];
} roi_tap;

static inline DLT_HD int roi_tap_at(float y, float x, int64_t h, int64_t w, roi_tap *t)
{
    if (y < -1.f || y > (float)h || x < -1.f || x > (float)w)
        return 0;
    if (y <= 0.f)
        y = 0.f;
    if (x <= 0.f)
        x = 0.f;
    int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
    if (yl >= h - 1) {
        yh = yl = h - 1;
        y = (float)yl;
    } else {
        yh = yl + 1;
    }
    if (xl >= w - 1) {
        xh = xl = w - 1;
        x = (float)xl;
    } else {
        xh = xl + 1;
    }
    float ly = roi_sub(y, (float)yl), lx = roi_sub(x, (float)xl);
    float hy = roi_sub(1.f, ly), hx = roi_sub(1.f, lx);
    t->o[0] = yl * w + xl, t->o[1] = yl * w + xh, t->o[2] = yh * w + xl, t->o[3] = yh * w + xh;
    t->w[0] = roi_mul(hy, hx), t->w[1] = roi_mul(hy, lx), t->w[2] = roi_mul(ly, hx),
    t->w[3] = roi_mul(ly, lx);
    return 1;
}

/* Element o of a plane of f32 values or, u8 set, of u8 values (0/1 masks:
 * Mask R-CNN's ground truth, a quarter of the bytes; exact in f32). */
/* Sample s of bin (i, j), s < gh gw, row by row (iy = s / gw, ix = s % gw):
 * its taps into *t; 0 when the sample is outside the map. Every kernel walks
 * a bin's samples with this, in this order. */
static inline DLT_HD int roi_sample_tap(const roi_bins *q, int i, int j, int64_t s, int64_t h, int64_t w,
                                        roi_tap *t)
{
    int iy = (int)(s / q->gw), ix = (int)(s % q->gw);
    return roi_tap_at(roi_coord(q->y0, i, q->bh, iy, q->gh), roi_coord(q->x0, j, q->bw, ix, q->gw), h, w, t);
}

static inline DLT_HD float roi_plane_at(const void *p, int u8, int64_t o)
{
    return u8 ? (float)((const uint8_t *)p)[o] : ((const float *)p)[o];
}

/* Plane `k` of x (planes of hw elements, f32 or u8). */
static inline DLT_HD const void *roi_plane(const void *x, int u8, int64_t k, int64_t hw)
{
    return u8 ? (const void *)((const uint8_t *)x + k * hw) : (const void *)((const float *)x + k * hw);
}

/* One sample's value from plane p: ((w1 v1 + w2 v2) + w3 v3) + w4 v4. */
static inline DLT_HD float roi_tap_value(const roi_tap *t, const void *p, int u8)
{
    float s = roi_add(roi_mul(t->w[0], roi_plane_at(p, u8, t->o[0])), roi_mul(t->w[1], roi_plane_at(p, u8, t->o[1])));
    s = roi_add(s, roi_mul(t->w[2], roi_plane_at(p, u8, t->o[2])));
    return roi_add(s, roi_mul(t->w[3], roi_plane_at(p, u8, t->o[3])));
}

/* One output bin of one channel: the samples summed row by row, then divided
 * by count. The GPU forward calls this per output element; the CPU kernel
 * keeps the same order with the channel loop innermost. */
static inline DLT_HD float roi_bin_value(const roi_bins *q, int i, int j, const void *plane, int u8,
                                         int64_t h, int64_t w)
{
    float s = 0.f;
    for (int64_t k = 0; k < (int64_t)q->gh * q->gw; k++) {
        roi_tap t;
        if (roi_sample_tap(q, i, j, k, h, w, &t))
            s = roi_add(s, roi_tap_value(&t, plane, u8));
    }
    return roi_div(s, q->count);
}

/* LevelMapper: floor(k0 + log2(sqrt(area) / s0) + eps) clamped to
 * [k_min, k_max], minus k_min, in float32 as torchvision computes it. A box
 * whose area is negative or NaN (sqrt NaN) goes to the first level. */
static inline DLT_HD int32_t roi_level_of(const roi_level_attr *a, const float *box)
{
    float area = roi_mul(roi_sub(box[2], box[0]), roi_sub(box[3], box[1]));
    float s = sqrtf(area);
    float l = floorf(
        roi_add(roi_add((float)a->canonical_level, log2f(roi_div(s, a->canonical_scale))), a->eps));
    if (!(l > (float)a->k_min))
        return 0;
    if (l > (float)a->k_max)
        l = (float)a->k_max;
    return (int32_t)l - a->k_min;
}

#endif
