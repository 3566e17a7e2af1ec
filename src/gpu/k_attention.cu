// GPU kernels: attention family (see gpu_impl.h). Same semantics as the CPU
// kernels in src/ops/attention_kernels.c: scores scale q.k + masks, softmax in
// float, dropout on the probabilities with the CPU's counters, outputs o and
// the log-sum-exp of every score row (-inf and o = 0 for a row that sees no
// key). The forward streams K/V tiles through shared memory with an online
// softmax; the backward (k_attention_bwd.cu) recomputes P from lse.
#include "k_attention.cuh"

// ---------------------------------------------------------------- tiled forward
// Block: FA_ROWS query rows of one (b, h); lane = key within a FA_COLS tile.
// Shared: Q tile [FA_ROWS][D] (read by row: broadcast), K tile [FA_COLS][D|1]
// (read by lane: the odd stride avoids bank conflicts), V tile [FA_COLS][Dv].
template <int NC>
static __global__ void __launch_bounds__(FA_THREADS)
    fa_fwd_tiled(attn_dev a, const float *__restrict__ q, const float *__restrict__ k,
                 const float *__restrict__ v, float *__restrict__ o, float *__restrict__ lse,
                 int64_t nqb)
{
    fa_rng(a);
    extern __shared__ float sm[];
    const int D = a.D, Dv = a.Dv, ldk = D | 1;
    float *Qs = sm;
    float *Ks = Qs + FA_ROWS * D;
    float *Vs = Ks + FA_COLS * ldk;
    const int64_t bh = blockIdx.x / nqb;
    int64_t qb = blockIdx.x % nqb;
    if (a.causal) // the last query tiles see the most keys: start them first
        qb = nqb - 1 - qb;
    const int64_t b = bh / a.H, h = bh % a.H, i0 = qb * FA_ROWS;
    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;

    for (int e = tid; e < FA_ROWS * D; e += FA_THREADS) {
        int r = e / D, d = e % D;
        int64_t i = i0 + r;
        Qs[e] = i < a.Tq ? q[fa_row(a, b, h, a.Tq, D, i) + d] : 0.f;
    }
    int64_t kend = a.Tk;
    if (a.causal && i0 + FA_ROWS < kend)
        kend = i0 + FA_ROWS;

    float m[FA_RPW], l[FA_RPW], acc[FA_RPW][NC];
#pragma unroll
    for (int r = 0; r < FA_RPW; r++) {
        m[r] = -INFINITY;
        l[r] = 0.f;
#pragma unroll
        for (int c = 0; c < NC; c++)
            acc[r][c] = 0.f;
    }
    for (int64_t j0 = 0; j0 < kend; j0 += FA_COLS) {
        __syncthreads(); // the previous tile is consumed (first pass: Q is loaded)
        for (int e = tid; e < FA_COLS * D; e += FA_THREADS) {
            int r = e / D, d = e % D;
            int64_t j = j0 + r;
            Ks[r * ldk + d] = j < a.Tk ? k[fa_row(a, b, h, a.Tk, D, j) + d] : 0.f;
        }
        for (int e = tid; e < FA_COLS * Dv; e += FA_THREADS) {
            int r = e / Dv, d = e % Dv;
            int64_t j = j0 + r;
            Vs[e] = j < a.Tk ? v[fa_row(a, b, h, a.Tk, Dv, j) + d] : 0.f;
        }
        __syncthreads();

        const int64_t j = j0 + lane;
        float s[FA_RPW];
#pragma unroll
        for (int r = 0; r < FA_RPW; r++)
            s[r] = 0.f;
        const float *kr = Ks + lane * ldk;
        const float *qr = Qs + (w * FA_RPW) * D;
        for (int d = 0; d < D; d++) {
            float kv = kr[d];
#pragma unroll
            for (int r = 0; r < FA_RPW; r++)
                s[r] += qr[r * D + d] * kv;
        }
        float pd[FA_RPW];
#pragma unroll
        for (int r = 0; r < FA_RPW; r++) {
            const int64_t i = i0 + w * FA_RPW + r;
            float x = j < a.Tk ? fa_mask(a, b, i, j, s[r] * a.scale) : -INFINITY;
            float mn = fmaxf(m[r], fa_warp_max(x));
            // a row that has seen only masked keys keeps m = -inf and l = 0
            float alpha = mn == -INFINITY ? 1.f : expf(m[r] - mn);
            float pr = x == -INFINITY ? 0.f : expf(x - mn);
            l[r] = l[r] * alpha + fa_warp_sum(pr);
            m[r] = mn;
            if (a.drop)
                pr = (pr != 0.f && i < a.Tq && fa_keep(a, b, h, i, j)) ? pr * a.keep_scale : 0.f;
            pd[r] = pr;
#pragma unroll
            for (int c = 0; c < NC; c++)
                acc[r][c] *= alpha;
        }
        const int jn = a.Tk - j0 < FA_COLS ? (int)(a.Tk - j0) : FA_COLS;
        for (int jj = 0; jj < jn; jj++) {
            float vv[NC];
#pragma unroll
            for (int c = 0; c < NC; c++) {
                int col = lane + 32 * c;
                vv[c] = col < Dv ? Vs[jj * Dv + col] : 0.f;
            }
#pragma unroll
            for (int r = 0; r < FA_RPW; r++) {
                float pj = __shfl_sync(0xffffffffu, pd[r], jj);
#pragma unroll
                for (int c = 0; c < NC; c++)
                    acc[r][c] += pj * vv[c];
            }
        }
    }
#pragma unroll
    for (int r = 0; r < FA_RPW; r++) {
        const int64_t i = i0 + w * FA_RPW + r;
        if (i >= a.Tq)
            continue;
        bool none = m[r] == -INFINITY;
        float inv = none ? 0.f : 1.f / l[r];
        float *orow = o + fa_orow(a, b, h, a.Tq, Dv, i);
#pragma unroll
        for (int c = 0; c < NC; c++) {
            int col = lane + 32 * c;
            if (col < Dv)
                orow[col] = acc[r][c] * inv;
        }
        if (lane == 0)
            lse[bh * a.Tq + i] = none ? -INFINITY : m[r] + logf(l[r]);
    }
}

// ---------------------------------------------------------------- row forward
// Heads wider than FA_MAXNC x 32: one warp per query row. Pass 1 finds the
// row's max and sum online; each later pass recomputes the probabilities for
// FA_CHUNK x 32 output columns.
static __global__ void __launch_bounds__(FA_THREADS)
    fa_fwd_rows(attn_dev a, const float *__restrict__ q, const float *__restrict__ k,
                const float *__restrict__ v, float *__restrict__ o, float *__restrict__ lse)
{
    fa_rng(a);
    const int lane = threadIdx.x & 31;
    const int64_t nrows = a.B * a.H * a.Tq;
    const int64_t wstep = (int64_t)gridDim.x * (FA_THREADS / 32);
    for (int64_t row = (int64_t)blockIdx.x * (FA_THREADS / 32) + (threadIdx.x >> 5); row < nrows;
         row += wstep) {
        const int64_t bh = row / a.Tq, i = row % a.Tq, b = bh / a.H, h = bh % a.H;
        const float *qi = q + fa_row(a, b, h, a.Tq, a.D, i);
        float *oi = o + fa_orow(a, b, h, a.Tq, a.Dv, i);
        const int64_t kend = fa_key_end(a, i);
        float m = -INFINITY, l = 0.f;
        for (int64_t j = 0; j < kend; j++) {
            float x = fa_dot_warp(qi, k + fa_row(a, b, h, a.Tk, a.D, j), a.D, lane);
            x = fa_mask(a, b, i, j, x * a.scale);
            if (x == -INFINITY)
                continue;
            float mn = fmaxf(m, x);
            l = l * expf(m - mn) + expf(x - mn);
            m = mn;
        }
        if (m == -INFINITY) {
            for (int c = lane; c < a.Dv; c += 32)
                oi[c] = 0.f;
            if (lane == 0)
                lse[row] = -INFINITY;
            continue;
        }
        const float L = m + logf(l);
        if (lane == 0)
            lse[row] = L;
        for (int c0 = 0; c0 < a.Dv; c0 += 32 * FA_CHUNK) {
            float acc[FA_CHUNK];
#pragma unroll
            for (int t = 0; t < FA_CHUNK; t++)
                acc[t] = 0.f;
            for (int64_t j = 0; j < kend; j++) {
                float x = fa_dot_warp(qi, k + fa_row(a, b, h, a.Tk, a.D, j), a.D, lane);
                x = fa_mask(a, b, i, j, x * a.scale);
                if (x == -INFINITY)
                    continue;
                float pr = expf(x - m) / l;
                if (a.drop)
                    pr = fa_keep(a, b, h, i, j) ? pr * a.keep_scale : 0.f;
                const float *vj = v + fa_row(a, b, h, a.Tk, a.Dv, j);
#pragma unroll
                for (int t = 0; t < FA_CHUNK; t++) {
                    int c = c0 + lane + 32 * t;
                    if (c < a.Dv)
                        acc[t] += pr * vj[c];
                }
            }
#pragma unroll
            for (int t = 0; t < FA_CHUNK; t++) {
                int c = c0 + lane + 32 * t;
                if (c < a.Dv)
                    oi[c] = acc[t];
            }
        }
    }
}

// ---------------------------------------------------------------- host side
extern "C" dlt_status fa_setup(attn_dev *a, const dlt_kctx *k, const dlt_shape *mask_shape,
                               const void *mask)
{
    const attn_attr *at = DLT_CATTR(k->node, attn_attr);
    attn_geom gm = dlt_attn_geometry(at, k->in_shape[0], k->in_shape[1], k->in_shape[2]);
    if (gm.D > INT32_MAX / FA_ROWS || gm.Dv > INT32_MAX / FA_ROWS)
        return dlt_seterr(DLT_ERR_SHAPE, "attention: head size too large for the GPU kernel");
    a->B = gm.B;
    a->H = gm.H;
    a->Hin = gm.Hin;
    a->Tq = gm.Tq;
    a->Tk = gm.Tk;
    a->D = (int)gm.D;
    a->Dv = (int)gm.Dv;
    a->bthd = gm.bthd;
    a->scale = at->scale;
    a->causal = at->causal;
    a->mask_kind = mask_shape ? dlt_attn_mask_kind(mask_shape) : ATTN_MASK_NONE;
    a->mask = mask;
    a->drop = k->training && at->p > 0.f;
    a->p = at->p;
    a->keep_scale = 1.0f / (1.0f - at->p);
    a->seed = k->seed;
    a->stream = attn_stream(at->id, k->step);
    a->run = k->run_dev;
    a->id = at->id;
    a->flag = dlt_gpu_of(k)->d_flag;
    return DLT_OK;
}

extern "C" attn_ptrs fa_pointers(const dlt_kctx *k, int backward)
{
    attn_geom gm = dlt_attn_geometry(DLT_CATTR(k->node, attn_attr), k->in_shape[0], k->in_shape[1], k->in_shape[2]);
    return attn_pointers(&gm, k, backward);
}

extern "C" int fa_smem_fits(const dlt_kctx *k, size_t bytes)
{
    int optin = 0;
    if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                               dlt_gpu_of(k)->device) != cudaSuccess) {
        (void)cudaGetLastError(); // clear it: the default limit is safe
        optin = 48 * 1024;
    }
    return bytes <= (size_t)optin;
}

extern "C" dlt_status fa_smem_optin(const void *fn, size_t bytes, const dlt_kctx *k,
                                    const char *name)
{
    if (bytes <= 48 * 1024)
        return DLT_OK;
    return dlt_gpu_check(
        cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes), k, name);
}

static size_t fa_fwd_smem(const attn_dev &a)
{
    return (size_t)(FA_ROWS * a.D + FA_COLS * (a.D | 1) + FA_COLS * a.Dv) * sizeof(float);
}

template <int NC>
static dlt_status fa_fwd_launch(const attn_dev &a, const dlt_kctx *k, int64_t nblk, int64_t nqb)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    size_t smem = fa_fwd_smem(a);
    dlt_status st = fa_smem_optin((const void *)fa_fwd_tiled<NC>, smem, k, "fa_fwd_tiled");
    if (st != DLT_OK)
        return st;
    attn_ptrs p = fa_pointers(k, 0);
    fa_fwd_tiled<NC><<<(unsigned)nblk, FA_THREADS, smem, g->stream>>>(a, p.q, p.k, p.v, (float *)k->out[0],
                                                                     (float *)k->out[1], nqb);
    return dlt_gpu_launched(k, "fa_fwd_tiled");
}

// inputs q, k, v [, mask]; outputs o, lse
static dlt_status attention_cuda(const dlt_kctx *k)
{
    int nin = k->node->nin;
    attn_dev a;
    dlt_status st = fa_setup(&a, k, nin > 3 ? k->in_shape[3] : NULL, nin > 3 ? k->in[3] : NULL);
    if (st != DLT_OK)
        return st;
    if (a.B * a.H * a.Tq == 0)
        return DLT_OK;
    int nc = ((a.D > a.Dv ? a.D : a.Dv) + 31) / 32;
    if (nc <= FA_MAXNC && fa_smem_fits(k, fa_fwd_smem(a))) {
        int64_t nqb = (a.Tq + FA_ROWS - 1) / FA_ROWS, nblk = a.B * a.H * nqb;
        if (nblk > INT32_MAX)
            return dlt_seterr(DLT_ERR_SHAPE, "attention: too many query blocks for the GPU");
        // the accumulators hold Dv columns; D only sets the shared tiles' width
        int ncv = (a.Dv + 31) / 32;
        switch (ncv <= 1 ? 1 : ncv) {
        case 1:
            return fa_fwd_launch<1>(a, k, nblk, nqb);
        case 2:
            return fa_fwd_launch<2>(a, k, nblk, nqb);
        case 3:
            return fa_fwd_launch<3>(a, k, nblk, nqb);
        default:
            return fa_fwd_launch<4>(a, k, nblk, nqb);
        }
    }
    struct dlt_gpu *g = dlt_gpu_of(k);
    attn_ptrs p = fa_pointers(k, 0);
    fa_fwd_rows<<<dlt_gpu_blocks(g, a.B * a.H * a.Tq * 32, FA_THREADS), FA_THREADS, 0, g->stream>>>(
        a, p.q, p.k, p.v, (float *)k->out[0], (float *)k->out[1]);
    return dlt_gpu_launched(k, "fa_fwd_rows");
}

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_attention[] = {
    {DLT_OP_ATTENTION, attention_cuda, NULL},
    {DLT_OP_ATTENTION_GRAD, fa_backward_cuda, fa_backward_ws},
    {DLT_OP_COUNT, NULL, NULL},
};
