// GPU kernels of the box family (box.c): the per-element math is
// box_impl.h's (the CPU kernels' helpers), and the selection ops keep the
// CPU's order, so both backends select the same elements:
//   - box_topk: one block per row finds the k-th largest key by a 4-pass
//     radix select (8 bits a pass), collects the keys above it and the
//     lowest-index ties in index order (block scans), then ranks the k
//     chosen among themselves (O(k^2) per row).
//   - box_nms: one block per image ranks the valid scores (O(N^2)), then
//     walks them in order; every thread tests the later boxes against a
//     kept one (torchvision's greedy loop, one barrier per candidate).
//   - box_match: a block per (image, ground truth) for the highest quality,
//     then a thread per anchor.
//   - box_sample: one block per image binary-searches the 64-bit key of
//     the m-th sampled element (64 counting passes), as the CPU does; the
//     step comes from the device (dlt_kctx.run_dev), so CUDA graphs replay
//     each step's draw.
#include "box_impl.h"
#include "gpu_impl.h"

namespace
{

const int kThreads = 256;

__global__ void iou_kernel(int64_t total, int64_t n, int64_t m, const float *a, const float *b,
                           float *y)
{
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = t / m, j = t % m, l = r / n;
        y[t] = dlt_box_iou1(a + 4 * r, b + 4 * (l * m + j));
    }
}

dlt_status iou_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const dlt_shape *sa = k->in_shape[0], *sb = k->in_shape[1];
    int64_t n = sa->dim[sa->ndim - 2], m = sb->dim[sb->ndim - 2];
    int64_t total = dlt_shape_numel(k->out_shape[0]);
    if (total == 0)
        return DLT_OK;
    iou_kernel<<<dlt_gpu_blocks(g, total, kThreads), kThreads, 0, g->stream>>>(
        total, n, m, (const float *)k->in[0], (const float *)k->in[1], (float *)k->out[0]);
    return dlt_gpu_launched(k, "box_iou_kernel");
}

// MODE 0: encode (r, p -> t), 1: decode (d, b -> y), 2: decode_grad (d, b, g -> gd)
template <int MODE>
__global__ void coder_kernel(int64_t n, int64_t kk, box_coder_attr c, const float *x0,
                             const float *x1, const float *x2, float *y)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        if (MODE == 0)
            dlt_box_encode1(&c, x0 + 4 * i, x1 + 4 * i, y + 4 * i);
        else if (MODE == 1)
            dlt_box_decode1(&c, x0 + 4 * i, x1 + 4 * (i / kk), y + 4 * i);
        else
            dlt_box_decode_grad1(&c, x0 + 4 * i, x1 + 4 * (i / kk), x2 + 4 * i, y + 4 * i);
    }
}

template <int MODE> dlt_status coder_cuda(const dlt_kctx *k, const char *name)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const dlt_shape *s = k->in_shape[0];
    int64_t n = dlt_shape_numel(s) / 4, kk = s->dim[s->ndim - 1] / 4;
    if (n == 0)
        return DLT_OK;
    coder_kernel<MODE><<<dlt_gpu_blocks(g, n, kThreads), kThreads, 0, g->stream>>>(
        n, kk, *DLT_CATTR(k->node, box_coder_attr), (const float *)k->in[0],
        (const float *)k->in[1], MODE == 2 ? (const float *)k->in[2] : nullptr, (float *)k->out[0]);
    return dlt_gpu_launched(k, name);
}

dlt_status encode_cuda(const dlt_kctx *k)
{
    return coder_cuda<0>(k, "box_encode_kernel");
}
dlt_status decode_cuda(const dlt_kctx *k)
{
    return coder_cuda<1>(k, "box_decode_kernel");
}
dlt_status decode_grad_cuda(const dlt_kctx *k)
{
    return coder_cuda<2>(k, "box_decode_grad_kernel");
}

// ---------------------------------------------------------------- block helpers
// Inclusive prefix sum of v over the block (Hillis-Steele in buf[kThreads]);
// *total gets the block's sum. Every thread must call it.
__device__ int block_scan(int v, int *buf, int *total)
{
    int t = threadIdx.x;
    buf[t] = v;
    __syncthreads();
    for (int off = 1; off < kThreads; off <<= 1) {
        int add = t >= off ? buf[t - off] : 0;
        __syncthreads();
        buf[t] += add;
        __syncthreads();
    }
    int r = buf[t];
    *total = buf[kThreads - 1];
    __syncthreads();
    return r;
}

// The block's sum of c (every thread must call it).
__device__ unsigned long long block_count(unsigned long long c, unsigned long long *cell)
{
    if (threadIdx.x == 0)
        *cell = 0;
    __syncthreads();
    if (c)
        atomicAdd(cell, c);
    __syncthreads();
    unsigned long long r = *cell;
    __syncthreads();
    return r;
}

// ---------------------------------------------------------------- topk
__global__ void __launch_bounds__(kThreads)
    topk_kernel(int64_t n, int64_t k, const float *x, int32_t *idx, uint32_t *wkey, int32_t *widx)
{
    __shared__ unsigned int hist[256];
    __shared__ int buf[kThreads];
    __shared__ uint32_t s_prefix;
    __shared__ long long s_rem, s_ties, s_out;
    const int t = threadIdx.x;
    const float *xr = x + (int64_t)blockIdx.x * n;
    uint32_t *ck = wkey + (int64_t)blockIdx.x * k;
    int32_t *ci = widx + (int64_t)blockIdx.x * k;
    uint32_t prefix = 0, mask = 0;
    long long rem = k;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = t; i < 256; i += kThreads)
            hist[i] = 0;
        __syncthreads();
        for (int64_t i = t; i < n; i += kThreads) {
            uint32_t key = dlt_box_fkey(xr[i]);
            if ((key & mask) == prefix)
                atomicAdd(&hist[(key >> shift) & 255u], 1u);
        }
        __syncthreads();
        if (t == 0) {
            long long r = rem;
            int b = 255;
            for (; b > 0 && (long long)hist[b] < r; b--)
                r -= hist[b];
            s_prefix = prefix | ((uint32_t)b << shift);
            s_rem = r;
        }
        __syncthreads();
        prefix = s_prefix, rem = s_rem, mask |= 255u << shift;
        __syncthreads();
    }
    // keys above the k-th one, and the first `rem` equal to it, in index order
    if (t == 0)
        s_ties = 0, s_out = 0;
    __syncthreads();
    for (int64_t base = 0; base < n; base += kThreads) {
        int64_t i = base + t;
        uint32_t key = i < n ? dlt_box_fkey(xr[i]) : 0u;
        int tie = i < n && key == prefix, ties, picks;
        long long before = s_ties + block_scan(tie, buf, &ties) - tie;
        int pick = i < n && (key > prefix || (tie && before < rem));
        long long pos = s_out + block_scan(pick, buf, &picks) - 1;
        if (pick)
            ck[pos] = key, ci[pos] = (int32_t)i;
        __syncthreads();
        if (t == 0)
            s_ties += ties, s_out += picks;
        __syncthreads();
        if (s_out >= k)
            break;
    }
    __syncthreads();
    for (int64_t c = t; c < k; c += kThreads) {
        int64_t r = 0;
        for (int64_t j = 0; j < k; j++)
            r += dlt_box_before(ck[j], ci[j], ck[c], ci[c]);
        idx[(int64_t)blockIdx.x * k + r] = ci[c];
    }
}

size_t topk_ws(const dlt_node *, const dlt_shape *const *, const dlt_shape *const *out)
{
    return (size_t)dlt_shape_numel(out[0]) * (sizeof(uint32_t) + sizeof(int32_t));
}

dlt_status topk_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const dlt_shape *s = k->in_shape[0];
    int64_t n = s->dim[s->ndim - 1], kk = k->out_shape[0]->dim[s->ndim - 1];
    int64_t rows = dlt_shape_numel(s) / n, m = rows * kk;
    if (rows == 0)
        return DLT_OK;
    uint32_t *wkey = (uint32_t *)k->work;
    topk_kernel<<<(unsigned)rows, kThreads, 0, g->stream>>>(
        n, kk, (const float *)k->in[0], (int32_t *)k->out[0], wkey, (int32_t *)(wkey + m));
    return dlt_gpu_launched(k, "box_topk_kernel");
}

// ---------------------------------------------------------------- nms
// Key 0 marks an absent box: dlt_box_fkey gives no float the key 0.
__global__ void __launch_bounds__(kThreads)
    nms_kernel(int64_t n, int64_t kk, double thr, const float *boxes, const float *scores,
               const int32_t *cls, const float *valid, int32_t *keep, float *kmask, uint32_t *wkey,
               int32_t *worder, int32_t *wsupp)
{
    __shared__ unsigned long long cell;
    __shared__ long long s_kept;
    const int t = threadIdx.x;
    const int64_t b = blockIdx.x;
    uint32_t *key = wkey + b * n;
    int32_t *order = worder + b * n, *supp = wsupp + b * n;
    const float *bx = boxes + 4 * b * n;
    unsigned long long mine = 0;
    for (int64_t i = t; i < n; i += kThreads) {
        int ok = !valid || valid[b * n + i] != 0.f;
        key[i] = ok ? dlt_box_fkey(scores[b * n + i]) : 0u;
        mine += ok;
    }
    long long nv = (long long)block_count(mine, &cell);
    for (int64_t i = t; i < n; i += kThreads) {
        if (!key[i])
            continue;
        int64_t r = 0;
        for (int64_t j = 0; j < n; j++)
            r += key[j] && dlt_box_before(key[j], j, key[i], i);
        order[r] = (int32_t)i;
        supp[r] = 0;
    }
    if (t == 0)
        s_kept = 0;
    __syncthreads();
    for (long long r = 0; r < nv; r++) {
        long long kept = s_kept;
        if (kept >= kk)
            break;
        int take = !supp[r];
        int32_t i = order[r];
        if (take)
            for (long long s = r + 1 + t; s < nv; s += kThreads) {
                int32_t j = order[s];
                if (supp[s] || (cls && cls[b * n + i] != cls[b * n + j]))
                    continue;
                if ((double)dlt_box_iou1(bx + 4 * i, bx + 4 * j) > thr)
                    supp[s] = 1;
            }
        __syncthreads();
        if (take && t == 0)
            keep[b * kk + kept] = i, s_kept = kept + 1;
        __syncthreads();
    }
    long long kept = s_kept;
    for (int64_t j = t; j < kk; j += kThreads) {
        kmask[b * kk + j] = j < kept ? 1.f : 0.f;
        if (j >= kept)
            keep[b * kk + j] = 0;
    }
}

size_t nms_ws(const dlt_node *, const dlt_shape *const *in, const dlt_shape *const *)
{
    return (size_t)dlt_shape_numel(in[1]) * 12;
}

dlt_status nms_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const box_nms_attr *a = DLT_CATTR(k->node, box_nms_attr);
    int64_t nb = k->in_shape[1]->dim[0], n = k->in_shape[1]->dim[1];
    if (nb == 0)
        return DLT_OK;
    uint32_t *wkey = (uint32_t *)k->work;
    int32_t *worder = (int32_t *)(wkey + nb * n), *wsupp = worder + nb * n;
    nms_kernel<<<(unsigned)nb, kThreads, 0, g->stream>>>(
        n, a->k, a->thr, (const float *)k->in[0], (const float *)k->in[1],
        a->has_classes ? (const int32_t *)k->in[2] : nullptr,
        a->has_valid ? (const float *)k->in[2 + a->has_classes] : nullptr, (int32_t *)k->out[0],
        (float *)k->out[1], wkey, worder, wsupp);
    return dlt_gpu_launched(k, "box_nms_kernel");
}

// ---------------------------------------------------------------- matcher
__device__ int64_t gt_valid(const int32_t *count, int64_t b, int64_t ng)
{
    if (!count)
        return ng;
    int64_t c = count[b];
    return c < 0 ? 0 : c > ng ? ng : c;
}

// one block per (image, ground truth): the highest quality over anchors
__global__ void __launch_bounds__(kThreads) gt_max_kernel(int64_t na, const float *q, float *gmax)
{
    __shared__ float buf[kThreads];
    const int t = threadIdx.x;
    const float *row = q + (int64_t)blockIdx.x * na;
    float v = row[0];
    for (int64_t a = t; a < na; a += kThreads) {
        float x = row[a];
        if (x > v || (x != x && v == v))
            v = x;
    }
    buf[t] = v;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
        if (t < s) {
            float x = buf[t + s];
            if (x > buf[t] || (x != x && buf[t] == buf[t]))
                buf[t] = x;
        }
        __syncthreads();
    }
    if (t == 0)
        gmax[blockIdx.x] = buf[0];
}

__global__ void match_kernel(int64_t nb, int64_t ng, int64_t na, box_match_attr m, const float *q,
                             const int32_t *count, const float *gmax, int32_t *y)
{
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < nb * na;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t b = t / na, a = t % na, nv = gt_valid(count, b, ng);
        const float *qb = q + b * ng * na;
        int32_t best, r = dlt_box_match1(&m, qb + a, na, nv, &best);
        for (int64_t g = 0; g < nv && m.allow_low_quality && r < 0; g++)
            if (qb[g * na + a] == gmax[b * ng + g])
                r = best;
        y[t] = r;
    }
}

size_t match_ws(const dlt_node *, const dlt_shape *const *in, const dlt_shape *const *)
{
    return (size_t)(in[0]->dim[0] * in[0]->dim[1]) * sizeof(float);
}

dlt_status match_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const box_match_attr *m = DLT_CATTR(k->node, box_match_attr);
    const dlt_shape *s = k->in_shape[0];
    int64_t nb = s->dim[0], ng = s->dim[1], na = s->dim[2];
    if (nb * na == 0)
        return DLT_OK;
    const int32_t *count = m->has_count ? (const int32_t *)k->in[1] : nullptr;
    if (m->allow_low_quality) {
        gt_max_kernel<<<(unsigned)(nb * ng), kThreads, 0, g->stream>>>(na, (const float *)k->in[0],
                                                                       (float *)k->work);
        dlt_status st = dlt_gpu_launched(k, "box_gt_max_kernel");
        if (st != DLT_OK)
            return st;
    }
    match_kernel<<<dlt_gpu_blocks(g, nb * na, kThreads), kThreads, 0, g->stream>>>(
        nb, ng, na, *m, (const float *)k->in[0], count, (const float *)k->work,
        (int32_t *)k->out[0]);
    return dlt_gpu_launched(k, "box_match_kernel");
}

// ---------------------------------------------------------------- sampler
__device__ int eligible(int32_t l, int positive)
{
    return positive ? l >= 1 : l == 0;
}

// the smallest t with at least m eligible keys <= t (the CPU's kth_key)
__device__ uint64_t kth_key(const int32_t *l, int64_t na, int positive, int64_t m, uint64_t seed,
                            uint64_t stream, uint64_t sample, unsigned long long *cell)
{
    uint64_t lo = 0, hi = ~0ull;
    while (lo < hi) { // uniform: every thread holds the same lo, hi
        uint64_t mid = lo + (hi - lo) / 2;
        unsigned long long c = 0;
        for (int64_t a = threadIdx.x; a < na; a += kThreads)
            c += eligible(l[a], positive) && dlt_box_sample_key(seed, stream, sample, na, a) <= mid;
        if ((long long)block_count(c, cell) >= m)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

__global__ void __launch_bounds__(kThreads)
    sample_kernel(int64_t na, box_sample_attr s, const uint64_t *run, const int32_t *lab,
                  float *pos, float *neg)
{
    __shared__ unsigned long long cell;
    const int64_t b = blockIdx.x;
    const int32_t *l = lab + b * na;
    uint64_t stream = dlt_box_sample_stream(s.id, (int64_t)run[1]);
    uint64_t sample = (uint64_t)(s.first_sample + b);
    unsigned long long cp = 0, cn = 0;
    for (int64_t a = threadIdx.x; a < na; a += kThreads)
        cp += l[a] >= 1, cn += l[a] == 0;
    long long np = (long long)block_count(cp, &cell), nn = (long long)block_count(cn, &cell);
    np = np < s.num_pos ? np : s.num_pos;
    nn = nn < s.batch_per_image - np ? nn : s.batch_per_image - np;
    uint64_t tp = np ? kth_key(l, na, 1, np, s.gseed, stream, sample, &cell) : 0;
    uint64_t tn = nn ? kth_key(l, na, 0, nn, s.gseed, stream, sample, &cell) : 0;
    for (int64_t a = threadIdx.x; a < na; a += kThreads) {
        uint64_t key = dlt_box_sample_key(s.gseed, stream, sample, na, a);
        pos[b * na + a] = np && l[a] >= 1 && key <= tp ? 1.f : 0.f;
        neg[b * na + a] = nn && l[a] == 0 && key <= tn ? 1.f : 0.f;
    }
}

dlt_status sample_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t nb = k->in_shape[0]->dim[0], na = k->in_shape[0]->dim[1];
    if (nb * na == 0)
        return DLT_OK;
    if (!k->run_dev)
        return dlt_seterr(DLT_ERR_INTERNAL, "%s: no run key on the device (not a device plan)",
                          k->node->op->name);
    sample_kernel<<<(unsigned)nb, kThreads, 0, g->stream>>>(
        na, *DLT_CATTR(k->node, box_sample_attr), k->run_dev, (const int32_t *)k->in[0],
        (float *)k->out[0], (float *)k->out[1]);
    return dlt_gpu_launched(k, "box_sample_kernel");
}

} // namespace

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_box[] = {
    {DLT_OP_BOX_IOU, iou_cuda, NULL},
    {DLT_OP_BOX_ENCODE, encode_cuda, NULL},
    {DLT_OP_BOX_DECODE, decode_cuda, NULL},
    {DLT_OP_BOX_DECODE_GRAD, decode_grad_cuda, NULL},
    {DLT_OP_BOX_TOPK, topk_cuda, topk_ws},
    {DLT_OP_BOX_NMS, nms_cuda, nms_ws},
    {DLT_OP_BOX_MATCH, match_cuda, match_ws},
    {DLT_OP_BOX_SAMPLE, sample_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
