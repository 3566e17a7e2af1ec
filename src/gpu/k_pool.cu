// GPU kernels of the pool family (pool.c), one thread per output element in
// grid-stride loops (k_pool.cuh). The backward ops, scatters on the CPU, are
// gathers here that visit their terms in the CPU's order, so every sum is the
// CPU's sum bit for bit. Products and sums that the CPU rounds separately use
// the _rn intrinsics, so that nvcc does not contract them into FMAs. Each
// kernel is a functor over output elements (host-callable too).
#include "k_pool.cuh"

namespace
{

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

const pool_attr &pattr(const dlt_kctx *k)
{
    return *DLT_CATTR(k->node, pool_attr);
}

} // namespace

// ------------------------------------------------------------------ kernel functions
// Geometry: the image is the larger side (pooling input); geom_of takes it first.
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

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_pool[] = {
    {DLT_OP_MAXPOOL2D, dlt_gpu_maxpool2d, NULL},
    {DLT_OP_MAXPOOL2D_BACKWARD, dlt_gpu_maxpool2d_backward, NULL},
    {DLT_OP_MAXPOOL2D_GATHER, dlt_gpu_maxpool2d_gather, NULL},
    {DLT_OP_AVGPOOL2D, dlt_gpu_avgpool2d, NULL},
    {DLT_OP_AVGPOOL2D_BACKWARD, dlt_gpu_avgpool2d_backward, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
