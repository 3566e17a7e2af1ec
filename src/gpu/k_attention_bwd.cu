// GPU backward of attention (attention_grad), the CPU's bwd_block math:
// P = exp(S - lse), dP = dO V^T (dropped: kept entries scaled by 1/(1-p),
// others 0), dS = P (dP - Dl) with Dl_i = dO_i . O_i - dlse_i,
// dq = scale dS K, dk = scale dS^T Q, dv = dropped(P)^T dO.
// Three deterministic passes, no atomics: Dl per row; dq per query tile
// (looping over key tiles); dk and dv per key tile (looping over query tiles).
#include "k_attention.cuh"

// One warp per row: the CPU also sums dO . O in double.
static __global__ void __launch_bounds__(FA_THREADS)
    fa_delta(attn_dev a, const float *__restrict__ o, const float *__restrict__ dO,
             const float *__restrict__ dlse, float *__restrict__ dl)
{
    const int lane = threadIdx.x & 31;
    const int64_t nrows = a.B * a.H * a.Tq;
    const int64_t wstep = (int64_t)gridDim.x * (FA_THREADS / 32);
    for (int64_t row = (int64_t)blockIdx.x * (FA_THREADS / 32) + (threadIdx.x >> 5); row < nrows;
         row += wstep) {
        const int64_t bh = row / a.Tq, i = row % a.Tq, b = bh / a.H, h = bh % a.H;
        double t = 0;
        if (dO) {
            int64_t off = fa_orow(a, b, h, a.Tq, a.Dv, i);
            for (int c = lane; c < a.Dv; c += 32)
                t += (double)o[off + c] * dO[off + c];
        }
        t = fa_warp_sum_d(t);
        if (dlse)
            t -= dlse[row];
        if (lane == 0)
            dl[row] = (float)t;
    }
}

// dS of one score (x: masked, scaled score; li, di: the query's lse and Dl;
// dp: dO_i . v_j). Writes the dropped probability (dv's factor) to *pd.
static __device__ __forceinline__ float fa_ds(const attn_dev &a, int64_t b, int64_t h, int64_t i,
                                              int64_t j, float x, float li, float di, float dp,
                                              float *pd)
{
    if (x == -INFINITY || li == -INFINITY) {
        *pd = 0.f;
        return 0.f;
    }
    float p = expf(x - li), g = dp;
    *pd = p;
    if (a.drop) {
        bool keep = fa_keep(a, b, h, i, j);
        g = keep ? dp * a.keep_scale : 0.f;
        *pd = keep ? p * a.keep_scale : 0.f;
    }
    return p * (g - di);
}

// Copy rows [r0, r0 + n) of a head's tensor (T rows of width W, hs heads per
// row: a.Hin for q, k, v, a.H for dO) into shared memory with row stride ld,
// zeros past T (and everywhere when x is NULL).
static __device__ __forceinline__ void fa_load(const attn_dev &a, float *dst, int ld,
                                               const float *__restrict__ x, int64_t hs, int64_t b,
                                               int64_t h, int64_t T, int W, int64_t r0, int n)
{
    for (int e = threadIdx.x; e < n * W; e += FA_THREADS) {
        int r = e / W, d = e % W;
        int64_t t = r0 + r;
        dst[r * ld + d] = x && t < T ? x[fa_row_hs(a, hs, b, h, T, W, t) + d] : 0.f;
    }
}

// ---------------------------------------------------------------- tiled dq
// Block: FA_ROWS query rows; lane = key of a FA_COLS tile. Q and dO tiles are
// read by row (broadcast), K and V by lane (odd strides: no bank conflicts).
template <int NC>
static __global__ void __launch_bounds__(FA_THREADS)
    fa_dq_tiled(attn_dev a, const float *__restrict__ q, const float *__restrict__ k,
                const float *__restrict__ v, const float *__restrict__ lse,
                const float *__restrict__ dO, const float *__restrict__ dl,
                float *__restrict__ dq, int64_t nqb)
{
    fa_rng(a);
    extern __shared__ float sm[];
    const int D = a.D, Dv = a.Dv, ldk = D | 1, ldv = Dv | 1;
    float *Qs = sm;
    float *Os = Qs + FA_ROWS * D;
    float *Ks = Os + FA_ROWS * Dv;
    float *Vs = Ks + FA_COLS * ldk;
    const int64_t bh = blockIdx.x / nqb;
    int64_t qb = blockIdx.x % nqb;
    if (a.causal)
        qb = nqb - 1 - qb;
    const int64_t b = bh / a.H, h = bh % a.H, i0 = qb * FA_ROWS;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;

    fa_load(a, Qs, D, q, a.Hin, b, h, a.Tq, D, i0, FA_ROWS);
    fa_load(a, Os, Dv, dO, a.H, b, h, a.Tq, Dv, i0, FA_ROWS);
    float li[FA_RPW], di[FA_RPW], acc[FA_RPW][NC];
#pragma unroll
    for (int r = 0; r < FA_RPW; r++) {
        int64_t i = i0 + w * FA_RPW + r;
        li[r] = i < a.Tq ? lse[bh * a.Tq + i] : -INFINITY;
        di[r] = i < a.Tq ? dl[bh * a.Tq + i] : 0.f;
#pragma unroll
        for (int c = 0; c < NC; c++)
            acc[r][c] = 0.f;
    }
    int64_t kend = a.Tk;
    if (a.causal && i0 + FA_ROWS < kend)
        kend = i0 + FA_ROWS;
    for (int64_t j0 = 0; j0 < kend; j0 += FA_COLS) {
        __syncthreads();
        fa_load(a, Ks, ldk, k, a.Hin, b, h, a.Tk, D, j0, FA_COLS);
        fa_load(a, Vs, ldv, v, a.Hin, b, h, a.Tk, Dv, j0, FA_COLS);
        __syncthreads();
        const int64_t j = j0 + lane;
        float s[FA_RPW], dp[FA_RPW];
#pragma unroll
        for (int r = 0; r < FA_RPW; r++)
            s[r] = dp[r] = 0.f;
        const float *qr = Qs + (w * FA_RPW) * D, *kr = Ks + lane * ldk;
        for (int d = 0; d < D; d++) {
            float kv = kr[d];
#pragma unroll
            for (int r = 0; r < FA_RPW; r++)
                s[r] += qr[r * D + d] * kv;
        }
        const float *orow = Os + (w * FA_RPW) * Dv, *vr = Vs + lane * ldv;
        for (int d = 0; d < Dv; d++) {
            float vv = vr[d];
#pragma unroll
            for (int r = 0; r < FA_RPW; r++)
                dp[r] += orow[r * Dv + d] * vv;
        }
        float ds[FA_RPW];
#pragma unroll
        for (int r = 0; r < FA_RPW; r++) {
            const int64_t i = i0 + w * FA_RPW + r;
            float x = j < a.Tk && i < a.Tq ? fa_mask(a, b, i, j, s[r] * a.scale) : -INFINITY;
            float pd;
            ds[r] = fa_ds(a, b, h, i, j, x, li[r], di[r], dp[r], &pd);
        }
        const int jn = a.Tk - j0 < FA_COLS ? (int)(a.Tk - j0) : FA_COLS;
        for (int jj = 0; jj < jn; jj++) {
            float kk[NC];
#pragma unroll
            for (int c = 0; c < NC; c++) {
                int col = lane + 32 * c;
                kk[c] = col < D ? Ks[jj * ldk + col] : 0.f;
            }
#pragma unroll
            for (int r = 0; r < FA_RPW; r++) {
                float dsj = __shfl_sync(0xffffffffu, ds[r], jj);
#pragma unroll
                for (int c = 0; c < NC; c++)
                    acc[r][c] += dsj * kk[c];
            }
        }
    }
#pragma unroll
    for (int r = 0; r < FA_RPW; r++) {
        const int64_t i = i0 + w * FA_RPW + r;
        if (i >= a.Tq)
            continue;
        float *out = dq + fa_row(a, b, h, a.Tq, D, i);
#pragma unroll
        for (int c = 0; c < NC; c++) {
            int col = lane + 32 * c;
            if (col < D)
                out[col] = a.scale * acc[r][c];
        }
    }
}

// ---------------------------------------------------------------- tiled dk, dv
// Block: FA_ROWS keys; lane = query of a FA_COLS tile. K and V tiles are read
// by row (broadcast), Q and dO by lane (odd strides).
template <int NC>
static __global__ void __launch_bounds__(FA_THREADS)
    fa_dkdv_tiled(attn_dev a, const float *__restrict__ q, const float *__restrict__ k,
                  const float *__restrict__ v, const float *__restrict__ lse,
                  const float *__restrict__ dO, const float *__restrict__ dl,
                  float *__restrict__ dk, float *__restrict__ dv, int64_t nkb)
{
    fa_rng(a);
    extern __shared__ float sm[];
    const int D = a.D, Dv = a.Dv, ldq = D | 1, ldo = Dv | 1;
    float *Ks = sm;
    float *Vs = Ks + FA_ROWS * D;
    float *Qs = Vs + FA_ROWS * Dv;
    float *Os = Qs + FA_COLS * ldq;
    const int64_t bh = blockIdx.x / nkb, kb = blockIdx.x % nkb;
    const int64_t b = bh / a.H, h = bh % a.H, j0 = kb * FA_ROWS;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;

    fa_load(a, Ks, D, k, a.Hin, b, h, a.Tk, D, j0, FA_ROWS);
    fa_load(a, Vs, Dv, v, a.Hin, b, h, a.Tk, Dv, j0, FA_ROWS);
    float gk[FA_RPW][NC], gv[FA_RPW][NC];
#pragma unroll
    for (int r = 0; r < FA_RPW; r++)
#pragma unroll
        for (int c = 0; c < NC; c++)
            gk[r][c] = gv[r][c] = 0.f;
    // causal: query i sees key j only when i >= j
    for (int64_t i0 = a.causal ? j0 : 0; i0 < a.Tq; i0 += FA_COLS) {
        __syncthreads();
        fa_load(a, Qs, ldq, q, a.Hin, b, h, a.Tq, D, i0, FA_COLS);
        fa_load(a, Os, ldo, dO, a.H, b, h, a.Tq, Dv, i0, FA_COLS);
        __syncthreads();
        const int64_t i = i0 + lane;
        const float li = i < a.Tq ? lse[bh * a.Tq + i] : -INFINITY;
        const float di = i < a.Tq ? dl[bh * a.Tq + i] : 0.f;
        float s[FA_RPW], dp[FA_RPW];
#pragma unroll
        for (int r = 0; r < FA_RPW; r++)
            s[r] = dp[r] = 0.f;
        const float *kr = Ks + (w * FA_RPW) * D, *qr = Qs + lane * ldq;
        for (int d = 0; d < D; d++) {
            float qv = qr[d];
#pragma unroll
            for (int r = 0; r < FA_RPW; r++)
                s[r] += kr[r * D + d] * qv;
        }
        const float *vr = Vs + (w * FA_RPW) * Dv, *orow = Os + lane * ldo;
        for (int d = 0; d < Dv; d++) {
            float ov = orow[d];
#pragma unroll
            for (int r = 0; r < FA_RPW; r++)
                dp[r] += vr[r * Dv + d] * ov;
        }
        float ds[FA_RPW], pd[FA_RPW];
#pragma unroll
        for (int r = 0; r < FA_RPW; r++) {
            const int64_t j = j0 + w * FA_RPW + r;
            float x = j < a.Tk && i < a.Tq ? fa_mask(a, b, i, j, s[r] * a.scale) : -INFINITY;
            ds[r] = fa_ds(a, b, h, i, j, x, li, di, dp[r], &pd[r]);
        }
        const int in = a.Tq - i0 < FA_COLS ? (int)(a.Tq - i0) : FA_COLS;
        for (int ii = 0; ii < in; ii++) {
            float qq[NC], oo[NC];
#pragma unroll
            for (int c = 0; c < NC; c++) {
                int col = lane + 32 * c;
                qq[c] = col < D ? Qs[ii * ldq + col] : 0.f;
                oo[c] = col < Dv ? Os[ii * ldo + col] : 0.f;
            }
#pragma unroll
            for (int r = 0; r < FA_RPW; r++) {
                float dsi = __shfl_sync(0xffffffffu, ds[r], ii);
                float pdi = __shfl_sync(0xffffffffu, pd[r], ii);
#pragma unroll
                for (int c = 0; c < NC; c++) {
                    gk[r][c] += dsi * qq[c];
                    gv[r][c] += pdi * oo[c];
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < FA_RPW; r++) {
        const int64_t j = j0 + w * FA_RPW + r;
        if (j >= a.Tk)
            continue;
        float *ok = dk + fa_row(a, b, h, a.Tk, D, j), *ov = dv + fa_row(a, b, h, a.Tk, Dv, j);
#pragma unroll
        for (int c = 0; c < NC; c++) {
            int col = lane + 32 * c;
            if (col < D)
                ok[col] = a.scale * gk[r][c];
            if (col < Dv)
                ov[col] = gv[r][c];
        }
    }
}

// ---------------------------------------------------------------- row kernels
// Heads wider than FA_MAXNC x 32: one warp per query row (dq) or key row
// (dk, dv); scores are recomputed for every FA_CHUNK x 32 output columns.
static __global__ void __launch_bounds__(FA_THREADS)
    fa_dq_rows(attn_dev a, const float *__restrict__ q, const float *__restrict__ k,
               const float *__restrict__ v, const float *__restrict__ lse,
               const float *__restrict__ dO, const float *__restrict__ dl, float *__restrict__ dq)
{
    fa_rng(a);
    const int lane = threadIdx.x & 31;
    const int64_t nrows = a.B * a.H * a.Tq;
    const int64_t wstep = (int64_t)gridDim.x * (FA_THREADS / 32);
    for (int64_t row = (int64_t)blockIdx.x * (FA_THREADS / 32) + (threadIdx.x >> 5); row < nrows;
         row += wstep) {
        const int64_t bh = row / a.Tq, i = row % a.Tq, b = bh / a.H, h = bh % a.H;
        const float *qi = q + fa_row(a, b, h, a.Tq, a.D, i);
        const float *oi = dO ? dO + fa_orow(a, b, h, a.Tq, a.Dv, i) : NULL;
        float *gi = dq + fa_row(a, b, h, a.Tq, a.D, i);
        const float li = lse[row], di = dl[row];
        const int64_t kend = fa_key_end(a, i);
        for (int c0 = 0; c0 < a.D; c0 += 32 * FA_CHUNK) {
            float acc[FA_CHUNK];
#pragma unroll
            for (int t = 0; t < FA_CHUNK; t++)
                acc[t] = 0.f;
            for (int64_t j = 0; j < kend && li != -INFINITY; j++) {
                const float *kj = k + fa_row(a, b, h, a.Tk, a.D, j);
                float x = fa_mask(a, b, i, j, fa_dot_warp(qi, kj, a.D, lane) * a.scale);
                if (x == -INFINITY)
                    continue;
                float dp = oi ? fa_dot_warp(oi, v + fa_row(a, b, h, a.Tk, a.Dv, j), a.Dv, lane) : 0.f;
                float pd, ds = fa_ds(a, b, h, i, j, x, li, di, dp, &pd);
#pragma unroll
                for (int t = 0; t < FA_CHUNK; t++) {
                    int c = c0 + lane + 32 * t;
                    if (c < a.D)
                        acc[t] += ds * kj[c];
                }
            }
#pragma unroll
            for (int t = 0; t < FA_CHUNK; t++) {
                int c = c0 + lane + 32 * t;
                if (c < a.D)
                    gi[c] = a.scale * acc[t];
            }
        }
    }
}

static __global__ void __launch_bounds__(FA_THREADS)
    fa_dkdv_rows(attn_dev a, const float *__restrict__ q, const float *__restrict__ k,
                 const float *__restrict__ v, const float *__restrict__ lse,
                 const float *__restrict__ dO, const float *__restrict__ dl,
                 float *__restrict__ dk, float *__restrict__ dv)
{
    fa_rng(a);
    const int lane = threadIdx.x & 31;
    const int64_t nrows = a.B * a.H * a.Tk;
    const int64_t wstep = (int64_t)gridDim.x * (FA_THREADS / 32);
    const int W = a.D > a.Dv ? a.D : a.Dv;
    for (int64_t row = (int64_t)blockIdx.x * (FA_THREADS / 32) + (threadIdx.x >> 5); row < nrows;
         row += wstep) {
        const int64_t bh = row / a.Tk, j = row % a.Tk, b = bh / a.H, h = bh % a.H;
        const float *kj = k + fa_row(a, b, h, a.Tk, a.D, j);
        const float *vj = v + fa_row(a, b, h, a.Tk, a.Dv, j);
        float *gk = dk + fa_row(a, b, h, a.Tk, a.D, j);
        float *gv = dv + fa_row(a, b, h, a.Tk, a.Dv, j);
        for (int c0 = 0; c0 < W; c0 += 32 * FA_CHUNK) {
            float ak[FA_CHUNK], av[FA_CHUNK];
#pragma unroll
            for (int t = 0; t < FA_CHUNK; t++)
                ak[t] = av[t] = 0.f;
            for (int64_t i = a.causal ? j : 0; i < a.Tq; i++) {
                const float li = lse[bh * a.Tq + i];
                if (li == -INFINITY)
                    continue;
                const float *qi = q + fa_row(a, b, h, a.Tq, a.D, i);
                float x = fa_mask(a, b, i, j, fa_dot_warp(qi, kj, a.D, lane) * a.scale);
                if (x == -INFINITY)
                    continue;
                const float *oi = dO ? dO + fa_orow(a, b, h, a.Tq, a.Dv, i) : NULL;
                float dp = oi ? fa_dot_warp(oi, vj, a.Dv, lane) : 0.f;
                float pd, ds = fa_ds(a, b, h, i, j, x, li, dl[bh * a.Tq + i], dp, &pd);
#pragma unroll
                for (int t = 0; t < FA_CHUNK; t++) {
                    int c = c0 + lane + 32 * t;
                    if (c < a.D)
                        ak[t] += ds * qi[c];
                    if (oi && c < a.Dv)
                        av[t] += pd * oi[c];
                }
            }
#pragma unroll
            for (int t = 0; t < FA_CHUNK; t++) {
                int c = c0 + lane + 32 * t;
                if (c < a.D)
                    gk[c] = a.scale * ak[t];
                if (c < a.Dv)
                    gv[c] = av[t];
            }
        }
    }
}

// ---------------------------------------------------------------- host side
struct fa_bwd_io {
    const float *q, *k, *v, *o, *lse, *dO, *dlse;
    float *dq, *dk, *dv, *dl;
};

static size_t fa_bwd_smem(const attn_dev &a)
{
    return (size_t)(FA_ROWS * (a.D + a.Dv) + FA_COLS * ((a.D | 1) + (a.Dv | 1))) * sizeof(float);
}

template <int NC>
static dlt_status fa_dq_launch(const attn_dev &a, const fa_bwd_io &io, const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t nqb = (a.Tq + FA_ROWS - 1) / FA_ROWS;
    size_t smem = fa_bwd_smem(a);
    dlt_status st = fa_smem_optin((const void *)fa_dq_tiled<NC>, smem, k, "fa_dq_tiled");
    if (st != DLT_OK)
        return st;
    fa_dq_tiled<NC><<<(unsigned)(a.B * a.H * nqb), FA_THREADS, smem, g->stream>>>(
        a, io.q, io.k, io.v, io.lse, io.dO, io.dl, io.dq, nqb);
    return dlt_gpu_launched(k, "fa_dq_tiled");
}

template <int NC>
static dlt_status fa_dkdv_launch(const attn_dev &a, const fa_bwd_io &io, const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t nkb = (a.Tk + FA_ROWS - 1) / FA_ROWS;
    size_t smem = fa_bwd_smem(a);
    dlt_status st = fa_smem_optin((const void *)fa_dkdv_tiled<NC>, smem, k, "fa_dkdv_tiled");
    if (st != DLT_OK)
        return st;
    fa_dkdv_tiled<NC><<<(unsigned)(a.B * a.H * nkb), FA_THREADS, smem, g->stream>>>(
        a, io.q, io.k, io.v, io.lse, io.dO, io.dl, io.dk, io.dv, nkb);
    return dlt_gpu_launched(k, "fa_dkdv_tiled");
}

static int fa_nc(int w) { return w <= 32 ? 1 : (w + 31) / 32; }

extern "C" size_t fa_backward_ws(const dlt_node *n, const dlt_shape *const *in,
                                 const dlt_shape *const *out)
{
    (void)out;
    attn_geom gm = dlt_attn_geometry(DLT_CATTR(n, attn_attr), in[0], in[1], in[2]);
    return ((size_t)(gm.B * gm.H * gm.Tq) * sizeof(float) + 255) & ~(size_t)255;
}

// inputs q, k, v, o, lse [, dO] [, mask] [, dlse]; outputs dq, dk, dv
extern "C" dlt_status fa_backward_cuda(const dlt_kctx *k)
{
    const attn_attr *at = DLT_CATTR(k->node, attn_attr);
    int pos = 5;
    const float *dO = at->has_do ? (const float *)k->in[pos++] : NULL;
    int mi = at->has_mask ? pos++ : -1;
    const float *dlse = at->has_dlse ? (const float *)k->in[pos++] : NULL;
    attn_dev a;
    dlt_status st = fa_setup(&a, k, mi >= 0 ? k->in_shape[mi] : NULL, mi >= 0 ? k->in[mi] : NULL);
    if (st != DLT_OK)
        return st;
    struct dlt_gpu *g = dlt_gpu_of(k);
    attn_ptrs p = fa_pointers(k, 1);
    fa_bwd_io io = {p.q, p.k, p.v, (const float *)k->in[3], (const float *)k->in[4], dO, dlse, p.dq, p.dk, p.dv,
                    (float *)k->work};
    int64_t nq = a.B * a.H * a.Tq, nk = a.B * a.H * a.Tk;
    int wide = fa_nc(a.D > a.Dv ? a.D : a.Dv);
    bool tiled = wide <= FA_MAXNC && fa_smem_fits(k, fa_bwd_smem(a));
    if (tiled && a.B * a.H * (((a.Tq > a.Tk ? a.Tq : a.Tk) + FA_ROWS - 1) / FA_ROWS) > INT32_MAX)
        return dlt_seterr(DLT_ERR_SHAPE, "attention_grad: too many blocks for the GPU");
    if (nq > 0) {
        if (!io.dl)
            return dlt_seterr(DLT_ERR_INTERNAL, "attention_grad: no GPU workspace");
        fa_delta<<<dlt_gpu_blocks(g, nq * 32, FA_THREADS), FA_THREADS, 0, g->stream>>>(
            a, io.o, dO, dlse, io.dl);
        if ((st = dlt_gpu_launched(k, "fa_delta")) != DLT_OK)
            return st;
        if (!tiled) {
            fa_dq_rows<<<dlt_gpu_blocks(g, nq * 32, FA_THREADS), FA_THREADS, 0, g->stream>>>(
                a, io.q, io.k, io.v, io.lse, dO, io.dl, io.dq);
            st = dlt_gpu_launched(k, "fa_dq_rows");
        } else {
            switch (fa_nc(a.D)) {
            case 1:
                st = fa_dq_launch<1>(a, io, k);
                break;
            case 2:
                st = fa_dq_launch<2>(a, io, k);
                break;
            case 3:
                st = fa_dq_launch<3>(a, io, k);
                break;
            default:
                st = fa_dq_launch<4>(a, io, k);
                break;
            }
        }
        if (st != DLT_OK)
            return st;
    }
    if (nk == 0)
        return DLT_OK;
    // With Tq == 0, dk and dv are zeros: both paths write every element.
    if (!tiled) {
        fa_dkdv_rows<<<dlt_gpu_blocks(g, nk * 32, FA_THREADS), FA_THREADS, 0, g->stream>>>(
            a, io.q, io.k, io.v, io.lse, dO, io.dl, io.dk, io.dv);
        return dlt_gpu_launched(k, "fa_dkdv_rows");
    }
    switch (wide) {
    case 1:
        return fa_dkdv_launch<1>(a, io, k);
    case 2:
        return fa_dkdv_launch<2>(a, io, k);
    case 3:
        return fa_dkdv_launch<3>(a, io, k);
    default:
        return fa_dkdv_launch<4>(a, io, k);
    }
}
