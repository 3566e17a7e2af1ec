// GPU kernels of the roi family (roi.c), on the DLT_HD math of roi_impl.h.
// roi_align: one thread per output element (roi, channel, bin) sums its
// samples in the CPU's order with separately rounded operations, so the
// forward gives the CPU's bits. roi_align_backward: one thread per element of
// dy scatters its bin's samples into dx with float atomicAdd; the order of
// those additions varies from run to run, so the backward is NOT bitwise
// deterministic on the GPU (it is within float rounding of the CPU's, which
// is deterministic). roi_level: one thread per roi (log2f on the device may
// differ from the host's in the last bit, which moves a level only for a box
// within an ulp of a level boundary).
#include "gpu_impl.h"
#include "roi_impl.h"

namespace
{

const int kThreads = 256;

// The maps of a roi_align (up to 4): pointers and extents.
struct roi_maps {
    const void *x[DLT_ROI_MAX_LEVELS];
    int64_t h[DLT_ROI_MAX_LEVELS], w[DLT_ROI_MAX_LEVELS];
    int u8; // all maps u8 (masks), else f32
};

roi_src src_of(const roi_attr &a, const dlt_kctx *k, int first, int64_t nbatch)
{
    roi_src s;
    s.rois = (const float *)k->in[first];
    s.bidx = NULL, s.level = NULL, s.nbatch = nbatch;
    int i = first + 1;
    if (a.has_bidx)
        s.bidx = (const int32_t *)k->in[i++];
    if (a.has_level)
        s.level = (const int32_t *)k->in[i++];
    return s;
}

__global__ void align_kernel(int64_t n, int64_t c, roi_attr a, roi_src s, roi_maps m, float *y)
{
    int64_t bins = (int64_t)a.ph * a.pw;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = e / (c * bins), ch = e / bins % c, ij = e % bins;
        int lev;
        const float *box;
        int64_t b = roi_source(&a, &s, r, &lev, &box);
        if (b < 0) {
            y[e] = 0.f;
            continue;
        }
        int64_t h = m.h[lev], w = m.w[lev];
        roi_bins q = roi_bins_of(&a, box, a.scale[lev]);
        y[e] = roi_bin_value(&q, (int)(ij / a.pw), (int)(ij % a.pw),
                             roi_plane(m.x[lev], m.u8, b * c + ch, h * w), m.u8, h, w);
    }
}

__global__ void align_bwd_kernel(int64_t n, roi_attr a, roi_src s, const float *dy, float *dx)
{
    int64_t bins = (int64_t)a.ph * a.pw, c = a.c, h = a.h, w = a.w;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = e / (c * bins), ch = e / bins % c, ij = e % bins;
        int lev;
        const float *box;
        int64_t b = roi_source(&a, &s, r, &lev, &box);
        if (b < 0)
            continue;
        roi_bins q = roi_bins_of(&a, box, a.scale[0]);
        int i = (int)(ij / a.pw), j = (int)(ij % a.pw);
        float gv = dy[e], *p = dx + (b * c + ch) * h * w;
        for (int64_t sm = 0; sm < (int64_t)q.gh * q.gw; sm++) {
            roi_tap t;
            if (!roi_sample_tap(&q, i, j, sm, h, w, &t))
                continue;
            for (int u = 0; u < 4; u++)
                atomicAdd(p + t.o[u], roi_div(roi_mul(gv, t.w[u]), q.count));
        }
    }
}

__global__ void level_kernel(int64_t n, int64_t cols, roi_level_attr a, const float *boxes,
                             int32_t *lv)
{
    for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < n;
         r += (int64_t)gridDim.x * blockDim.x)
        lv[r] = roi_level_of(&a, boxes + r * cols + a.col);
}

dlt_status roi_align_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const roi_attr &a = *DLT_CATTR(k->node, roi_attr);
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    if (n == 0)
        return DLT_OK;
    roi_maps m;
    m.u8 = k->in_shape[0]->dtype == DLT_U8;
    for (int l = 0; l < DLT_ROI_MAX_LEVELS; l++) {
        int src = l < a.nlev ? l : 0;
        m.x[l] = k->in[src];
        m.h[l] = k->in_shape[src]->dim[2], m.w[l] = k->in_shape[src]->dim[3];
    }
    align_kernel<<<dlt_gpu_blocks(g, n, kThreads), kThreads, 0, g->stream>>>(
        n, k->out_shape[0]->dim[1], a, src_of(a, k, a.nlev, k->in_shape[0]->dim[0]), m,
        (float *)k->out[0]);
    return dlt_gpu_launched(k, "roi_align_kernel");
}

dlt_status roi_align_backward_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const roi_attr &a = *DLT_CATTR(k->node, roi_attr);
    size_t bytes = dlt_shape_bytes(k->out_shape[0]);
    if (bytes == 0)
        return DLT_OK;
    dlt_status st =
        dlt_gpu_check(cudaMemsetAsync(k->out[0], 0, bytes, g->stream), k, "cudaMemsetAsync");
    int64_t n = dlt_shape_numel(k->in_shape[0]);
    if (st != DLT_OK || n == 0)
        return st;
    align_bwd_kernel<<<dlt_gpu_blocks(g, n, kThreads), kThreads, 0, g->stream>>>(
        n, a, src_of(a, k, 1, a.b), (const float *)k->in[0], (float *)k->out[0]);
    return dlt_gpu_launched(k, "roi_align_backward_kernel");
}

dlt_status roi_level_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t n = k->in_shape[0]->dim[0];
    if (n == 0)
        return DLT_OK;
    level_kernel<<<dlt_gpu_blocks(g, n, kThreads), kThreads, 0, g->stream>>>(
        n, k->in_shape[0]->dim[1], *DLT_CATTR(k->node, roi_level_attr), (const float *)k->in[0],
        (int32_t *)k->out[0]);
    return dlt_gpu_launched(k, "roi_level_kernel");
}

} // namespace

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_roi[] = {
    {DLT_OP_ROI_ALIGN, roi_align_cuda, NULL},
    {DLT_OP_ROI_ALIGN_BACKWARD, roi_align_backward_cuda, NULL},
    {DLT_OP_ROI_LEVEL, roi_level_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
