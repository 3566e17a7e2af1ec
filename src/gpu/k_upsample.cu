// GPU kernels of the upsample family (upsample.c), one thread per output
// element in grid-stride loops (k_pool.cuh). The backward ops, scatters on the
// CPU, are gathers here that visit their terms in the CPU's order, so every
// sum is the CPU's sum bit for bit. Products and sums that the CPU rounds
// separately use the _rn intrinsics, so that nvcc does not contract them into
// FMAs. Each kernel is a functor over output elements (host-callable too).
#include "k_pool.cuh"

namespace
{

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

const up_attr &uattr(const dlt_kctx *k)
{
    return *DLT_CATTR(k->node, up_attr);
}

} // namespace

// ------------------------------------------------------------------ kernel functions
// Geometry: the image is the smaller side (upsampling input); geom_of takes it first.
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

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_upsample[] = {
    {DLT_OP_UPSAMPLE_NEAREST2D, dlt_gpu_upsample_nearest2d, NULL},
    {DLT_OP_UPSAMPLE_NEAREST2D_BACKWARD, dlt_gpu_upsample_nearest2d_backward, NULL},
    {DLT_OP_UPSAMPLE_BILINEAR2D, dlt_gpu_upsample_bilinear2d, NULL},
    {DLT_OP_UPSAMPLE_BILINEAR2D_BACKWARD, dlt_gpu_upsample_bilinear2d_backward, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
