/* The box family's attributes and per-element math (box.c, box_kernels.c),
 * shared with the CUDA kernels (src/gpu/k_box.cu) so that both backends
 * compute the same formulas in the same order. Boxes are (x1, y1, x2, y2)
 * in the last axis. The products and sums go through BOX_MUL/BOX_ADD/BOX_SUB,
 * which are plain operators on the host (ISO C: no FMA contraction) and the
 * _rn intrinsics on the device (nvcc would otherwise fuse a * b + c), so
 * IoU, encode and the selection ops give the same bits on both sides; only
 * logf/expf (encode, decode) may differ by an ulp between libm and CUDA.
 * Internal to libdltrain. */
#ifndef DLT_BOX_IMPL_H
#define DLT_BOX_IMPL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dlt_opdef.h"

#if defined(__CUDA_ARCH__)
#define BOX_MUL(a, b) __fmul_rn(a, b)
#define BOX_ADD(a, b) __fadd_rn(a, b)
#define BOX_SUB(a, b) __fsub_rn(a, b)
#else
#define BOX_MUL(a, b) ((a) * (b))
#define BOX_ADD(a, b) ((a) + (b))
#define BOX_SUB(a, b) ((a) - (b))
#endif

/* box_encode, box_decode, box_decode_grad: the BoxCoder's weights (wx, wy,
 * ww, wh) and the clamp of dw, dh before exp (decode only). */
typedef struct {
    float w[4];
    float clip;
} box_coder_attr;

/* topk along the last axis */
typedef struct {
    int64_t k;
} box_topk_attr;

/* nms: K outputs per image, IoU above `thr` suppresses (compared in double,
 * as torchvision's kernel compares its float IoU with a double threshold). */
typedef struct {
    int64_t k;
    double thr;
    int has_classes, has_valid;
} box_nms_attr;

/* box_match: torchvision's Matcher */
typedef struct {
    float high, low;
    int allow_low_quality, has_count;
} box_match_attr;

/* box_sample: torchvision's BalancedPositiveNegativeSampler with keys from
 * the counter-based RNG: the graph seed, the node's stream id and step, and
 * counter (first_sample + b) * A + a for element a of image b. */
typedef struct {
    int64_t batch_per_image, num_pos; /* num_pos = int(batch_per_image * fraction) */
    int64_t first_sample;
    uint64_t id, gseed;
} box_sample_attr;

/* IoU of two boxes as torchvision computes it (box_iou and nms alike):
 * inter / ((area_a + area_b) - inter), with widths clamped at 0. Two empty
 * boxes give 0 / 0 = NaN, which is never above a threshold. */
static inline DLT_HD float dlt_box_iou1(const float *a, const float *b)
{
    float area_a = BOX_MUL(BOX_SUB(a[2], a[0]), BOX_SUB(a[3], a[1]));
    float area_b = BOX_MUL(BOX_SUB(b[2], b[0]), BOX_SUB(b[3], b[1]));
    float w = BOX_SUB(fminf(a[2], b[2]), fmaxf(a[0], b[0]));
    float h = BOX_SUB(fminf(a[3], b[3]), fmaxf(a[1], b[1]));
    w = w < 0.f ? 0.f : w;
    h = h < 0.f ? 0.f : h;
    float inter = BOX_MUL(w, h);
    return inter / BOX_SUB(BOX_ADD(area_a, area_b), inter);
}

/* torchvision's encode_boxes: the deltas of reference box r (the matched
 * ground truth) relative to proposal p. */
static inline DLT_HD void dlt_box_encode1(const box_coder_attr *c, const float *r, const float *p,
                                          float *t)
{
    float ew = BOX_SUB(p[2], p[0]), eh = BOX_SUB(p[3], p[1]);
    float ex = BOX_ADD(p[0], BOX_MUL(0.5f, ew)), ey = BOX_ADD(p[1], BOX_MUL(0.5f, eh));
    float gw = BOX_SUB(r[2], r[0]), gh = BOX_SUB(r[3], r[1]);
    float gx = BOX_ADD(r[0], BOX_MUL(0.5f, gw)), gy = BOX_ADD(r[1], BOX_MUL(0.5f, gh));
    t[0] = BOX_MUL(c->w[0], BOX_SUB(gx, ex)) / ew;
    t[1] = BOX_MUL(c->w[1], BOX_SUB(gy, ey)) / eh;
    t[2] = BOX_MUL(c->w[2], logf(gw / ew));
    t[3] = BOX_MUL(c->w[3], logf(gh / eh));
}

/* torchvision's decode_single for one box b and one set of deltas d. */
static inline DLT_HD void dlt_box_decode1(const box_coder_attr *c, const float *d, const float *b,
                                          float *y)
{
    float w = BOX_SUB(b[2], b[0]), h = BOX_SUB(b[3], b[1]);
    float cx = BOX_ADD(b[0], BOX_MUL(0.5f, w)), cy = BOX_ADD(b[1], BOX_MUL(0.5f, h));
    float dx = d[0] / c->w[0], dy = d[1] / c->w[1], dw = d[2] / c->w[2], dh = d[3] / c->w[3];
    dw = dw > c->clip ? c->clip : dw;
    dh = dh > c->clip ? c->clip : dh;
    float px = BOX_ADD(BOX_MUL(dx, w), cx), py = BOX_ADD(BOX_MUL(dy, h), cy);
    float hw = BOX_MUL(0.5f, BOX_MUL(expf(dw), w)), hh = BOX_MUL(0.5f, BOX_MUL(expf(dh), h));
    y[0] = BOX_SUB(px, hw);
    y[1] = BOX_SUB(py, hh);
    y[2] = BOX_ADD(px, hw);
    y[3] = BOX_ADD(py, hh);
}

/* The gradient of decode w.r.t. the deltas, from g = dL/dy: with
 * px = dx w + cx, pw = exp(min(dw, clip)) w and y = px -+ pw / 2,
 * dL/dpx = g0 + g2, dL/dpw = (g2 - g0) / 2, dL/dd0 = dL/dpx w / wx and
 * dL/dd2 = dL/dpw pw / ww where d2 / ww <= clip (torch's clamp passes the
 * gradient at the bound), else 0. */
static inline DLT_HD void dlt_box_decode_grad1(const box_coder_attr *c, const float *d,
                                               const float *b, const float *g, float *gd)
{
    float w = BOX_SUB(b[2], b[0]), h = BOX_SUB(b[3], b[1]);
    float dw = d[2] / c->w[2], dh = d[3] / c->w[3];
    gd[0] = BOX_MUL(BOX_ADD(g[0], g[2]), w) / c->w[0];
    gd[1] = BOX_MUL(BOX_ADD(g[1], g[3]), h) / c->w[1];
    gd[2] = dw > c->clip
                ? 0.f
                : BOX_MUL(BOX_MUL(0.5f, BOX_SUB(g[2], g[0])), BOX_MUL(expf(dw), w)) / c->w[2];
    gd[3] = dh > c->clip
                ? 0.f
                : BOX_MUL(BOX_MUL(0.5f, BOX_SUB(g[3], g[1])), BOX_MUL(expf(dh), h)) / c->w[3];
}

/* topk's order as an unsigned key: a larger key is a larger value, NaN the
 * largest (as torch.topk), -0 and +0 equal; ties go to the lower index. */
static inline DLT_HD uint32_t dlt_box_fkey(float v)
{
    if (v != v)
        return 0xffffffffu;
    if (v == 0.f)
        v = 0.f;
#if defined(__CUDA_ARCH__)
    uint32_t u = __float_as_uint(v);
#else
    uint32_t u;
    memcpy(&u, &v, sizeof u);
#endif
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* Whether (key a, index ia) comes before (key b, index ib) in topk / nms order. */
static inline DLT_HD int dlt_box_before(uint32_t a, int64_t ia, uint32_t b, int64_t ib)
{
    return a > b || (a == b && ia < ib);
}

/* The sampler's key of element a of global image s: 40 random bits above
 * the element's index (24 bits), so keys are distinct and the draw is a
 * uniformly random order of the elements. */
static inline DLT_HD uint64_t dlt_box_sample_key(uint64_t seed, uint64_t stream, uint64_t s,
                                                 int64_t a_count, int64_t a)
{
    uint64_t w = dlt_rng_u64(seed, stream, s * (uint64_t)a_count + (uint64_t)a);
    return (w & ~0xffffffull) | (uint64_t)a;
}

/* The sampler's stream for a node at a step: new draws every step. */
static inline DLT_HD uint64_t dlt_box_sample_stream(uint64_t id, int64_t step)
{
    return dlt_rng_mix(id * 0xd1342543de82ef95ull ^
                       dlt_rng_mix((uint64_t)step + 0x6a09e667f3bcc909ull));
}

/* Matcher for one anchor: the first ground truth of the maximum quality
 * among the n valid ones (q points at column a of a [G, A] matrix, stride A),
 * then -1 below low, -2 in [low, high). *best gets the argmax (-1 if n = 0). */
static inline DLT_HD int32_t dlt_box_match1(const box_match_attr *m, const float *q, int64_t stride,
                                            int64_t n, int32_t *best)
{
    if (n <= 0) {
        *best = -1;
        return -1;
    }
    float v = q[0];
    int32_t arg = 0;
    for (int64_t gi = 1; gi < n; gi++) {
        float x = q[gi * stride];
        if (x > v || (x != x && v == v)) /* NaN wins, as torch.max */
            v = x, arg = (int32_t)gi;
    }
    *best = arg;
    if (v < m->low)
        return -1;
    if (v < m->high)
        return -2;
    return arg;
}

#endif
