// GPU kernels of the conv family: pooling (pool.c) and upsampling
// (upsample.c), one thread per output element in grid-stride loops. The
// backward ops, scatters on the CPU, are gathers here that visit their terms
// in the CPU's order, so every sum is the CPU's sum bit for bit. Products and
// sums that the CPU rounds separately use the _rn intrinsics, so that nvcc
// does not contract them into FMAs. Each kernel is a functor over output
// elements (host-callable too). The table is in k_conv.cu.
#include <cmath>

#include "conv_impl.h"
#include "gpu_impl.h"

namespace
{

const int THREADS = 256;

#define HD __host__ __device__

// Separately rounded float operations (plain operators on the host, where
// this file's functors are also unit-checked).
HD inline float add_rn(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}
HD inline float sub_rn(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fsub_rn(a, b);
#else
    return a - b;
#endif
}
HD inline float mul_rn(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}
HD inline float div_rn(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}

// Planes (N C) and the image / pooled (or small / large) extents.
struct geom2 {
    int64_t planes, h, w, oh, ow;
};

geom2 geom_of(const dlt_shape *img, const dlt_shape *pooled)
{
    geom2 q = {img->dim[0] * img->dim[1], img->dim[2], img->dim[3], pooled->dim[2], pooled->dim[3]};
    return q;
}

// One thread per element i < total: f(i).
template <typename F> __global__ void each_kernel(int64_t total, F f)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x)
        f(i);
}

template <typename F>
dlt_status launch(const dlt_kctx *k, int64_t total, const F &f, const char *name)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    if (total == 0)
        return DLT_OK;
    each_kernel<<<dlt_gpu_blocks(g, total, THREADS), THREADS, 0, g->stream>>>(total, f);
    return dlt_gpu_launched(k, name);
}

// ------------------------------------------------------------------ max pooling
// The first maximum of each window (NaN wins), as its in-plane index; a
// window wholly in the padding gives 0 and -1.
struct maxpool_op {
    pool_attr a;
    geom2 q;
    const float *x;
    float *y;
    int32_t *idx;
    HD void operator()(int64_t o) const
    {
        int64_t ohw = q.oh * q.ow, p = o / ohw, r = o % ohw, oy = r / q.ow, ox = r % q.ow;
        const float *xp = x + p * q.h * q.w;
        idx[o] = (int32_t)dlt_maxpool_window(&a, xp, q.h, q.w, oy, ox, &y[o]);
    }
};

// dx at one pixel: the dy of every window whose argmax it is, in increasing
// output order (the CPU's scatter order). The argmax lies in its window, so
// only the windows over the pixel are visited: kernel tap i hits row
// oy = (iy + ph - i dh) / sh, which grows as i falls.
struct maxpool_bwd_op {
    pool_attr a;
    geom2 q;
    const float *dy;
    const int32_t *idx;
    float *dx;
    HD void operator()(int64_t e) const
    {
        int64_t hw = q.h * q.w, p = e / hw, pix = e % hw, iy = pix / q.w, ix = pix % q.w;
        const float *dp = dy + p * q.oh * q.ow;
        const int32_t *ip = idx + p * q.oh * q.ow;
        float s = 0.f;
        for (int i = a.kh - 1; i >= 0; i--) {
            int64_t t = iy + a.ph - (int64_t)i * a.dh;
            if (t < 0 || t % a.sh)
                continue;
            int64_t oy = t / a.sh;
            if (oy >= q.oh)
                continue;
            for (int j = a.kw - 1; j >= 0; j--) {
                int64_t u = ix + a.pw - (int64_t)j * a.dw;
                if (u < 0 || u % a.sw)
                    continue;
                int64_t ox = u / a.sw;
                if (ox >= q.ow)
                    continue;
                int64_t o = oy * q.ow + ox;
                if (ip[o] == pix)
                    s = add_rn(s, dp[o]);
            }
        }
        dx[e] = s;
    }
};

// y[o] = g[argmax of o] (0 where there is none).
struct maxpool_gather_op {
    geom2 q;
    const float *src;
    const int32_t *idx;
    float *y;
    HD void operator()(int64_t o) const
    {
        int64_t hw = q.h * q.w, p = o / (q.oh * q.ow);
        int32_t i = idx[o];
        y[o] = i >= 0 && i < hw ? src[p * hw + i] : 0.f;
    }
};

// ------------------------------------------------------------------ average pooling
// The reciprocal divisor of window (oy, ox) (pool.c's avg_window) and its
// clipped extent.
HD inline float avg_inv(const pool_attr &a, const geom2 &q, int64_t oy, int64_t ox, int64_t *h0,
                        int64_t *h1, int64_t *w0, int64_t *w1)
{
    int64_t cnt = dlt_avgpool_window(&a, q.h, q.w, oy, ox, h0, h1, w0, w1);
    return cnt > 0 ? div_rn(1.f, (float)cnt) : 0.f;
}

// The window sum in double, in row-major order, as on the CPU.
struct avgpool_op {
    pool_attr a;
    geom2 q;
    const float *x;
    float *y;
    HD void operator()(int64_t o) const
    {
        int64_t ohw = q.oh * q.ow, p = o / ohw, r = o % ohw, oy = r / q.ow, ox = r % q.ow;
        const float *xp = x + p * q.h * q.w;
        int64_t h0, h1, w0, w1;
        float inv = avg_inv(a, q, oy, ox, &h0, &h1, &w0, &w1);
        double s = 0;
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = w0; iw < w1; iw++)
                s += (double)xp[ih * q.w + iw];
        y[o] = mul_rn((float)s, inv);
    }
};

// dx at one pixel: dy * inv of every window that covers it, windows in
// increasing output order. Window oy covers iy when
// oy sh - ph <= iy < oy sh - ph + kh.
struct avgpool_bwd_op {
    pool_attr a;
    geom2 q;
    const float *dy;
    float *dx;
    HD void operator()(int64_t e) const
    {
        int64_t hw = q.h * q.w, p = e / hw, pix = e % hw, iy = pix / q.w, ix = pix % q.w;
        const float *dp = dy + p * q.oh * q.ow;
        int64_t ty = iy + a.ph - a.kh + 1, tx = ix + a.pw - a.kw + 1;
        int64_t y0 = ty <= 0 ? 0 : (ty + a.sh - 1) / a.sh, y1 = (iy + a.ph) / a.sh;
        int64_t x0 = tx <= 0 ? 0 : (tx + a.sw - 1) / a.sw, x1 = (ix + a.pw) / a.sw;
        if (y1 > q.oh - 1)
            y1 = q.oh - 1;
        if (x1 > q.ow - 1)
            x1 = q.ow - 1;
        float s = 0.f;
        for (int64_t oy = y0; oy <= y1; oy++)
            for (int64_t ox = x0; ox <= x1; ox++) {
                int64_t h0, h1, w0, w1;
                float inv = avg_inv(a, q, oy, ox, &h0, &h1, &w0, &w1);
                s = add_rn(s, mul_rn(dp[oy * q.ow + ox], inv));
            }
        dx[e] = s;
    }
};

// ------------------------------------------------------------------ upsampling
struct nearest_op {
    up_attr a;
    geom2 q;
    const float *x;
    float *y;
    HD void operator()(int64_t o) const
    {
        int64_t ohw = q.oh * q.ow, p = o / ohw, r = o % ohw, i = r / q.ow, j = r % q.ow;
        y[o] = x[(p * q.h + i / a.sh) * q.w + j / a.sw];
    }
};

// The sum of each sh x sw block, row-major.
struct nearest_bwd_op {
    up_attr a;
    geom2 q;
    const float *dy;
    float *dx;
    HD void operator()(int64_t e) const
    {
        int64_t hw = q.h * q.w, p = e / hw, r = e % hw, i = r / q.w, j = r % q.w;
        float s = 0.f;
        for (int u = 0; u < a.sh; u++) {
            const float *row = dy + (p * q.oh + i * a.sh + u) * q.ow + j * a.sw;
            for (int v = 0; v < a.sw; v++)
                s = add_rn(s, row[v]);
        }
        dx[e] = s;
    }
};

// upsample.c's src_index: the source index for align_corners=False,
// (o + 0.5) / scale - 0.5 clamped at 0, with the same float roundings.
HD inline void src_index(int64_t o, int s, int64_t n, int64_t *i0, int64_t *i1, float *l1)
{
    float rs = div_rn(1.0f, (float)s), src = sub_rn(mul_rn(rs, add_rn((float)o, 0.5f)), 0.5f);
    if (src < 0.f)
        src = 0.f;
    *i0 = (int64_t)src;
    *i1 = *i0 < n - 1 ? *i0 + 1 : *i0;
    *l1 = sub_rn(src, (float)*i0);
}

struct bilinear_op {
    up_attr a;
    geom2 q;
    const float *x;
    float *y;
    HD void operator()(int64_t o) const
    {
        int64_t ohw = q.oh * q.ow, p = o / ohw, r = o % ohw, i = r / q.ow, j = r % q.ow;
        int64_t h0, h1, w0, w1;
        float lh, lw;
        src_index(i, a.sh, q.h, &h0, &h1, &lh);
        src_index(j, a.sw, q.w, &w0, &w1, &lw);
        const float *r0 = x + (p * q.h + h0) * q.w, *r1 = x + (p * q.h + h1) * q.w;
        float mh = sub_rn(1.f, lh), mw = sub_rn(1.f, lw);
        float t0 = add_rn(mul_rn(mw, r0[w0]), mul_rn(lw, r0[w1]));
        float t1 = add_rn(mul_rn(mw, r1[w0]), mul_rn(lw, r1[w1]));
        y[o] = add_rn(mul_rn(mh, t0), mul_rn(lh, t1));
    }
};

// Outputs along one axis whose source rows can include `in` (h0 or h1 of
// src_index equal to it needs h0 in {in - 1, in}, i.e. the output within
// about [(in - 0.5) s, (in + 1.5) s)): a range with a margin, filtered exactly
// by src_index.
HD inline void touching(int64_t in, int s, int64_t nout, int64_t *lo, int64_t *hi)
{
    int64_t l = (in - 1) * s - 2, h = (in + 2) * s + 2;
    *lo = l < 0 ? 0 : l;
    *hi = h < nout ? h : nout;
}

// dx at one pixel: the CPU scatters each dy(i, j) to its four sources in the
// order (h0 w0), (h0 w1), (h1 w0), (h1 w1); this adds the terms that land on
// the pixel in that order, (i, j) row-major.
struct bilinear_bwd_op {
    up_attr a;
    geom2 q;
    const float *dy;
    float *dx;
    HD void operator()(int64_t e) const
    {
        int64_t hw = q.h * q.w, p = e / hw, r = e % hw, iy = r / q.w, ix = r % q.w;
        int64_t i_lo, i_hi, j_lo, j_hi;
        touching(iy, a.sh, q.oh, &i_lo, &i_hi);
        touching(ix, a.sw, q.ow, &j_lo, &j_hi);
        float s = 0.f;
        for (int64_t i = i_lo; i < i_hi; i++) {
            int64_t h0, h1;
            float lh;
            src_index(i, a.sh, q.h, &h0, &h1, &lh);
            if (h0 != iy && h1 != iy)
                continue;
            float mh = sub_rn(1.f, lh);
            const float *gr = dy + (p * q.oh + i) * q.ow;
            for (int64_t j = j_lo; j < j_hi; j++) {
                int64_t w0, w1;
                float lw;
                src_index(j, a.sw, q.w, &w0, &w1, &lw);
                if (w0 != ix && w1 != ix)
                    continue;
                float gv = gr[j], mw = sub_rn(1.f, lw);
                if (h0 == iy && w0 == ix)
                    s = add_rn(s, mul_rn(mul_rn(mh, mw), gv));
                if (h0 == iy && w1 == ix)
                    s = add_rn(s, mul_rn(mul_rn(mh, lw), gv));
                if (h1 == iy && w0 == ix)
                    s = add_rn(s, mul_rn(mul_rn(lh, mw), gv));
                if (h1 == iy && w1 == ix)
                    s = add_rn(s, mul_rn(mul_rn(lh, lw), gv));
            }
        }
        dx[e] = s;
    }
};

const pool_attr &pattr(const dlt_kctx *k)
{
    return *DLT_CATTR(k->node, pool_attr);
}
const up_attr &uattr(const dlt_kctx *k)
{
    return *DLT_CATTR(k->node, up_attr);
}
const float *fin(const dlt_kctx *k, int i)
{
    return (const float *)k->in[i];
}
float *fout(const dlt_kctx *k)
{
    return (float *)k->out[0];
}

} // namespace

// ------------------------------------------------------------------ kernel functions
// Geometry: the image is the larger (pooling input) or smaller (upsampling
// input) side; geom_of takes it first.
extern "C" dlt_status dlt_gpu_maxpool2d(const dlt_kctx *k)
{
    geom2 q = geom_of(k->in_shape[0], k->out_shape[0]);
    maxpool_op f = {pattr(k), q, fin(k, 0), fout(k), (int32_t *)k->out[1]};
    return launch(k, dlt_shape_numel(k->out_shape[0]), f, "maxpool2d kernel");
}

extern "C" dlt_status dlt_gpu_maxpool2d_backward(const dlt_kctx *k)
{
    geom2 q = geom_of(k->out_shape[0], k->in_shape[0]);
    maxpool_bwd_op f = {pattr(k), q, fin(k, 0), (const int32_t *)k->in[1], fout(k)};
    return launch(k, dlt_shape_numel(k->out_shape[0]), f, "maxpool2d_backward kernel");
}

extern "C" dlt_status dlt_gpu_maxpool2d_gather(const dlt_kctx *k)
{
    geom2 q = geom_of(k->in_shape[0], k->out_shape[0]);
    maxpool_gather_op f = {q, fin(k, 0), (const int32_t *)k->in[1], fout(k)};
    return launch(k, dlt_shape_numel(k->out_shape[0]), f, "maxpool2d_gather kernel");
}

extern "C" dlt_status dlt_gpu_avgpool2d(const dlt_kctx *k)
{
    geom2 q = geom_of(k->in_shape[0], k->out_shape[0]);
    avgpool_op f = {pattr(k), q, fin(k, 0), fout(k)};
    return launch(k, dlt_shape_numel(k->out_shape[0]), f, "avgpool2d kernel");
}

extern "C" dlt_status dlt_gpu_avgpool2d_backward(const dlt_kctx *k)
{
    geom2 q = geom_of(k->out_shape[0], k->in_shape[0]);
    avgpool_bwd_op f = {pattr(k), q, fin(k, 0), fout(k)};
    return launch(k, dlt_shape_numel(k->out_shape[0]), f, "avgpool2d_backward kernel");
}

extern "C" dlt_status dlt_gpu_upsample_nearest2d(const dlt_kctx *k)
{
    geom2 q = geom_of(k->in_shape[0], k->out_shape[0]);
    nearest_op f = {uattr(k), q, fin(k, 0), fout(k)};
    return launch(k, dlt_shape_numel(k->out_shape[0]), f, "upsample_nearest2d kernel");
}

extern "C" dlt_status dlt_gpu_upsample_nearest2d_backward(const dlt_kctx *k)
{
    geom2 q = geom_of(k->out_shape[0], k->in_shape[0]);
    nearest_bwd_op f = {uattr(k), q, fin(k, 0), fout(k)};
    return launch(k, dlt_shape_numel(k->out_shape[0]), f, "upsample_nearest2d_backward kernel");
}

extern "C" dlt_status dlt_gpu_upsample_bilinear2d(const dlt_kctx *k)
{
    geom2 q = geom_of(k->in_shape[0], k->out_shape[0]);
    bilinear_op f = {uattr(k), q, fin(k, 0), fout(k)};
    return launch(k, dlt_shape_numel(k->out_shape[0]), f, "upsample_bilinear2d kernel");
}

extern "C" dlt_status dlt_gpu_upsample_bilinear2d_backward(const dlt_kctx *k)
{
    geom2 q = geom_of(k->out_shape[0], k->in_shape[0]);
    bilinear_bwd_op f = {uattr(k), q, fin(k, 0), fout(k)};
    return launch(k, dlt_shape_numel(k->out_shape[0]), f, "upsample_bilinear2d_backward kernel");
}
