// GPU kernels of the normalisation family (src/ops/norm*.c): batch, group and
// layer norm, and the backward ops norm_grad / norm_backward, with the CPU
// kernels' semantics (norm_kernels.c). The second-order rules are built from
// other ops plus norm_grad, so nothing else is needed here.
//
// Data is [A, C, S] as on the CPU. Two kinds of reduction:
//  - group statistics (group/layer norm): each (a, group) is M contiguous
//    values; one block reduces them and then maps them.
//  - per-channel sums over A and S (batch statistics, the batch backward, and
//    dgamma/dbeta of group statistics): each channel's A*S values are split
//    into P parts, P a function of the shape only; one block per (channel,
//    part) writes the part's two sums to the workspace and a second kernel adds
//    each channel's parts in order. No atomics, so results are deterministic
//    and the same on every device.
// Sums are accumulated in double like the CPU's, so statistics agree with it
// to about float rounding.
#include "gpu_impl.h"
#include "norm_impl.h"

#define COLS 32 // S == 1 layout: columns (channels) per block ...
#define ROWS 8  // ... and rows of threads

static __host__ __device__ int64_t lmin(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

static __device__ __forceinline__ double warp_sum(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

// Sums of (a, b) over the block (blockDim.x a multiple of 32, at most 1024) in
// a fixed order; every thread gets them. May be called repeatedly.
static __device__ double2 block_sum2(double a, double b)
{
    __shared__ double sa[32], sb[32];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    a = warp_sum(a);
    b = warp_sum(b);
    __syncthreads(); // every thread has read the previous call's result
    if (lane == 0) {
        sa[w] = a;
        sb[w] = b;
    }
    __syncthreads();
    if (w == 0) {
        a = warp_sum(lane < nw ? sa[lane] : 0.0);
        b = warp_sum(lane < nw ? sb[lane] : 0.0);
        if (lane == 0) {
            sa[0] = a;
            sb[0] = b;
        }
    }
    __syncthreads();
    return make_double2(sa[0], sb[0]);
}

// The CPU's float expressions, each operation rounded on its own (no fused
// multiply-add, which the CPU build does not use), so y and dx match it bit
// for bit given the same statistics.
static __device__ __forceinline__ float apply_rn(float x, float m, float r, const float *gam, const float *bet,
                                                 int64_t c)
{
    float sc = gam ? __fmul_rn(gam[c], r) : r, sh = __fsub_rn(bet ? bet[c] : 0.f, __fmul_rn(m, sc));
    return __fadd_rn(__fmul_rn(x, sc), sh);
}
// The epilogue of batch norm: + r (may be NULL), then relu when asked.
static __device__ __forceinline__ float epi_rn(float v, const float *r, int relu, int64_t i)
{
    if (r)
        v = __fadd_rn(v, r[i]);
    return relu && !(v > 0.f) ? 0.f : v;
}
static __device__ __forceinline__ float dx_rn(float dy, float x, float m, float k0, float k1, float k2)
{
    return __fsub_rn(__fsub_rn(__fmul_rn(k1, dy), k0), __fmul_rn(k2, __fsub_rn(x, m)));
}

static __global__ void set_scalar_kernel(float *p, float v) { *p = v; }

static dlt_status set_scalar(const dlt_kctx *k, float *p, float v)
{
    set_scalar_kernel<<<1, 1, 0, dlt_gpu_of(k)->stream>>>(p, v);
    return dlt_gpu_launched(k, "set_scalar_kernel");
}

// ------------------------------------------------------------ group statistics

// Threads for one group of M values: about 4 values each, 1 to 16 warps.
static unsigned group_threads(int64_t M)
{
    int64_t w = cdiv(M, 128);
    return 32u * (unsigned)(w < 1 ? 1 : w > 16 ? 16 : w);
}

// One block per group gi = a*G + group: mean and rstd (two passes in double,
// as moments() on the CPU), then y = x*sc + sh with the channel's gamma/beta.
// y may be x: every read of the statistics passes precedes a barrier, and the
// last pass reads and writes each element in the same thread.
template <typename IT>
static __global__ void group_fwd_kernel(const float *x, float *y, float *mean, float *rstd, float *alpha,
                                        const float *gam, const float *bet, IT M, IT S, IT cpg, int64_t G,
                                        float eps)
{
    const int64_t gi = blockIdx.x, c0 = (gi % G) * (int64_t)cpg;
    const float *px = x + gi * (int64_t)M;
    float *py = y + gi * (int64_t)M;
    double s = 0;
    for (IT j = threadIdx.x; j < M; j += blockDim.x)
        s += px[j];
    const double m = block_sum2(s, 0.0).x / (double)M;
    double q = 0;
    for (IT j = threadIdx.x; j < M; j += blockDim.x) {
        double d = (double)px[j] - m;
        q += d * d;
    }
    const double v = block_sum2(q, 0.0).x / (double)M;
    const float mf = (float)m, rf = (float)(1.0 / sqrt(v + (double)eps));
    if (threadIdx.x == 0) {
        mean[gi] = mf;
        rstd[gi] = rf;
        if (gi == 0)
            *alpha = 1.f;
    }
    for (IT j = threadIdx.x; j < M; j += blockDim.x) {
        py[j] = apply_rn(px[j], mf, rf, gam, bet, c0 + (int64_t)(S == 1 ? j : j / S));
    }
}

// One block per group: with u = dy*gamma[c],
// dx = rstd*(u - al*mean(u) - al*xhat*mean(u*xhat)) in group_backward's
// float form. dx may be dy (the sums finish at a barrier before any write).
template <typename IT>
static __global__ void group_dx_kernel(const float *dy, const float *x, const float *mean, const float *rstd,
                                       const float *gam, const float *alpha, float *dx, IT M, IT S, IT cpg,
                                       int64_t G)
{
    const int64_t gi = blockIdx.x, c0 = (gi % G) * (int64_t)cpg;
    const float *pd = dy + gi * (int64_t)M, *px = x + gi * (int64_t)M;
    float *po = dx + gi * (int64_t)M;
    const double m = mean[gi], r = rstd[gi];
    double s1 = 0, s2 = 0;
    for (IT j = threadIdx.x; j < M; j += blockDim.x) {
        double gc = gam ? (double)gam[c0 + (int64_t)(S == 1 ? j : j / S)] : 1.0, d = pd[j];
        s1 += gc * d;
        s2 += gc * d * ((double)px[j] - m);
    }
    const double2 t = block_sum2(s1, s2);
    const double al = *alpha;
    const double c1 = al * t.x / (double)M, c2 = al * t.y * r / (double)M;
    const float mf = (float)m, k0 = (float)(r * c1), k2 = (float)(r * r * c2);
    for (IT j = threadIdx.x; j < M; j += blockDim.x) {
        float k1 = (float)(r * (gam ? (double)gam[c0 + (int64_t)(S == 1 ? j : j / S)] : 1.0));
        po[j] = dx_rn(pd[j], px[j], mf, k0, k1, k2);
    }
}

// ------------------------------------------------------------ per-channel sums

// The two values element (a, c, s) at i = (a*C + c)*S + s adds to its channel's sums.
struct sum_sq { // x and x^2, shifted by the channel's first value against cancellation
    const float *x;
    int64_t S;
    __device__ double2 operator()(int64_t, int64_t c, int64_t i) const
    {
        double d = (double)x[i] - (double)x[c * S];
        return make_double2(d, d * d);
    }
};
struct batch_dsums { // dy and dy*(x - mean[c]), dy masked by y > 0 when y (relu epilogue)
    const float *dy, *x, *mean, *y;
    __device__ double2 operator()(int64_t, int64_t c, int64_t i) const
    {
        double d = !y || y[i] > 0.f ? dy[i] : 0.f;
        return make_double2(d, d * ((double)x[i] - (double)mean[c]));
    }
};
struct group_dsums { // dy and dy*xhat with group statistics (dbeta, dgamma)
    const float *dy, *x, *mean, *rstd;
    int64_t G, cpg;
    __device__ double2 operator()(int64_t a, int64_t c, int64_t i) const
    {
        int64_t st = a * G + c / cpg;
        double d = dy[i];
        return make_double2(d, d * ((double)x[i] - (double)mean[st]) * (double)rstd[st]);
    }
};

// S > 1: block (c, p) sums flat positions j = a*S + s in [p*L, (p+1)*L) of
// channel c; (a, s) advance by the block size without divisions.
template <class F>
static __global__ void parts_flat_kernel(F f, int64_t A, int64_t C, int64_t S, int64_t L, double2 *part)
{
    const int64_t c = blockIdx.x, p = blockIdx.y, P = gridDim.y;
    const int64_t j1 = lmin(A * S, (p + 1) * L), da = blockDim.x / S, ds = blockDim.x % S;
    int64_t j = p * L + threadIdx.x, a = j / S, s = j % S;
    double s1 = 0, s2 = 0;
    for (; j < j1; j += blockDim.x) {
        double2 v = f(a, c, (a * C + c) * S + s);
        s1 += v.x;
        s2 += v.y;
        a += da;
        s += ds;
        if (s >= S) {
            s -= S;
            a++;
        }
    }
    const double2 t = block_sum2(s1, s2);
    if (threadIdx.x == 0)
        part[c * P + p] = t;
}

// S == 1 ([A, C] rows): block (tile, p) sums rows [p*R, (p+1)*R) of COLS
// adjacent channels, so reads are coalesced along the rows.
template <class F>
static __global__ void parts_cols_kernel(F f, int64_t A, int64_t C, int64_t R, double2 *part)
{
    __shared__ double sa[ROWS][COLS], sb[ROWS][COLS];
    const int64_t c = (int64_t)blockIdx.x * COLS + threadIdx.x, p = blockIdx.y, P = gridDim.y;
    const int64_t a1 = lmin(A, (p + 1) * R);
    double s1 = 0, s2 = 0;
    if (c < C)
        for (int64_t a = p * R + threadIdx.y; a < a1; a += ROWS) {
            double2 v = f(a, c, a * C + c);
            s1 += v.x;
            s2 += v.y;
        }
    sa[threadIdx.y][threadIdx.x] = s1;
    sb[threadIdx.y][threadIdx.x] = s2;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        for (int r = 1; r < ROWS; r++) {
            s1 += sa[r][threadIdx.x];
            s2 += sb[r][threadIdx.x];
        }
        part[c * P + p] = make_double2(s1, s2);
    }
}

// Parts per channel: enough blocks to fill a large GPU, each with a few
// thousand values; a function of the shape only.
static int64_t nparts(const dlt_norm_attr *a)
{
    if (a->C < 1)
        return 1;
    int64_t p = a->S == 1 ? lmin(cdiv(512, cdiv(a->C, COLS)), cdiv(a->A, 64))
                          : lmin(cdiv(512, a->C), cdiv(a->A * a->S, 4096));
    return p < 1 ? 1 : p > 256 ? 256 : p;
}

// Workspace: C*P part sums, then (batch backward) three coefficients per channel.
static size_t norm_ws(const dlt_node *n, const dlt_shape *const *, const dlt_shape *const *)
{
    const dlt_norm_attr *a = DLT_CATTR(n, dlt_norm_attr);
    if (a->kind == DLT_NORM_GROUP && n->nout != 4)
        return 0;
    return (size_t)(a->C * nparts(a)) * sizeof(double2) + 3 * (size_t)a->C * sizeof(float);
}

// Fills part[c*P + p] for every channel and part; needs A*S > 0 and C > 0.
template <class F>
static dlt_status channel_parts(const dlt_kctx *k, const dlt_norm_attr *a, F f, double2 *part)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const int64_t P = nparts(a);
    if (a->S == 1) {
        dim3 grid((unsigned)cdiv(a->C, COLS), (unsigned)P), block(COLS, ROWS);
        parts_cols_kernel<<<grid, block, 0, g->stream>>>(f, a->A, a->C, cdiv(a->A, P), part);
        return dlt_gpu_launched(k, "parts_cols_kernel");
    }
    dim3 grid((unsigned)a->C, (unsigned)P);
    parts_flat_kernel<<<grid, 256, 0, g->stream>>>(f, a->A, a->C, a->S, cdiv(a->A * a->S, P), part);
    return dlt_gpu_launched(k, "parts_flat_kernel");
}

// A channel's parts added in order (zero when the channel is empty).
static __device__ double2 part_sum(const double2 *part, int64_t P, int64_t c, int64_t N)
{
    double s1 = 0, s2 = 0;
    if (N > 0)
        for (int64_t p = 0; p < P; p++) {
            s1 += part[c * P + p].x;
            s2 += part[c * P + p].y;
        }
    return make_double2(s1, s2);
}

#define CHANNELS(c, C)                                                                   \
    for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < (C);          \
         c += (int64_t)gridDim.x * blockDim.x)

// ------------------------------------------------------------ batch statistics

// Batch mean, rstd and (rm != NULL) the running statistics with the unbiased
// variance, rounded as batch_stats() rounds them (no fused multiply-add).
static __global__ void batch_stats_kernel(const double2 *part, int64_t P, const float *x, int64_t C, int64_t S,
                                          int64_t M, float eps, float mo, float *rm, float *rv, float *mean,
                                          float *rstd, float *alpha)
{
    CHANNELS(c, C)
    {
        double m = 0, sq = 0;
        if (M > 0) {
            double2 t = part_sum(part, P, c, M);
            double d = t.x / (double)M;
            m = (double)x[c * S] + d;
            sq = t.y - t.x * d;
            if (sq < 0)
                sq = 0;
        }
        const float mf = (float)m;
        mean[c] = mf;
        rstd[c] = (float)(1.0 / sqrt(sq / (double)M + (double)eps));
        if (rm) {
            rm[c] = __fadd_rn(__fmul_rn(1.f - mo, rm[c]), __fmul_rn(mo, mf));
            rv[c] = __fadd_rn(__fmul_rn(1.f - mo, rv[c]), __fmul_rn(mo, (float)(sq / (double)(M - 1))));
        }
    }
    if (blockIdx.x == 0 && threadIdx.x == 0)
        *alpha = 1.f;
}

// Eval mode: the running statistics, and alpha = 0.
static __global__ void running_stats_kernel(const float *rm, const float *rv, int64_t C, float eps, float *mean,
                                            float *rstd, float *alpha)
{
    CHANNELS(c, C)
    {
        mean[c] = rm[c];
        rstd[c] = (float)(1.0 / sqrt((double)rv[c] + (double)eps));
    }
    if (blockIdx.x == 0 && threadIdx.x == 0)
        *alpha = 0.f;
}

// y = act(x*sc + sh + r) per channel c = (i / S) % C (r may be NULL). y may be x.
template <typename IT>
static __global__ void batch_apply_kernel(const float *x, float *y, const float *mean, const float *rstd,
                                          const float *gam, const float *bet, const float *r, int relu, IT n,
                                          IT C, IT S)
{
    for (IT i = (IT)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (IT)gridDim.x * blockDim.x) {
        IT c = (i / S) % C;
        y[i] = epi_rn(apply_rn(x[i], mean[c], rstd[c], gam, bet, (int64_t)c), r, relu, (int64_t)i);
    }
}

// batch_backward's per-channel coefficients k0, k1, k2 (coef[0..C), [C..2C),
// [2C..3C)) and, for norm_backward, dgamma and dbeta.
static __global__ void batch_coef_kernel(const double2 *part, int64_t P, int64_t C, int64_t M, const float *rstd,
                                         const float *gam, const float *alpha, float *coef, float *dg, float *db)
{
    const double al = *alpha;
    CHANNELS(c, C)
    {
        const double2 t = part_sum(part, P, c, M);
        const double r = rstd[c], gc = gam ? (double)gam[c] : 1.0;
        const double c1 = al * t.x / (double)M, c2 = al * t.y * r * r / (double)M;
        coef[c] = (float)(gc * r * c1);
        coef[C + c] = (float)(gc * r);
        coef[2 * C + c] = (float)(gc * r * c2);
        if (dg) {
            dg[c] = (float)(t.y * r);
            db[c] = (float)t.x;
        }
    }
}

// dx = k1*dy - k0 - k2*(x - mean) per channel, dy masked by y > 0 when y
// (relu epilogue) and then also written to dr when dr. dx may be dy.
template <typename IT>
static __global__ void batch_dx_kernel(const float *dy, const float *y, const float *x, const float *mean,
                                       const float *coef, float *dx, float *dr, IT n, IT C, IT S)
{
    for (IT i = (IT)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (IT)gridDim.x * blockDim.x) {
        IT c = (i / S) % C;
        const float d = !y || y[i] > 0.f ? dy[i] : 0.f;
        if (dr)
            dr[i] = d;
        dx[i] = dx_rn(d, x[i], mean[c], coef[c], coef[C + c], coef[2 * C + c]);
    }
}

// dbeta and dgamma of group statistics from the parts.
static __global__ void group_param_kernel(const double2 *part, int64_t P, int64_t C, int64_t N, float *dg,
                                          float *db)
{
    CHANNELS(c, C)
    {
        const double2 t = part_sum(part, P, c, N);
        db[c] = (float)t.x;
        dg[c] = (float)t.y;
    }
}

// ------------------------------------------------------------ ops

// 32-bit indices (cheaper divisions) where every index fits.
static bool fits32(int64_t n) { return n < (int64_t)INT32_MAX; }

// batch_apply_kernel over n = A*C*S values (nothing for n = 0): the forward's
// affine map and epilogue, and norm_apply's
static dlt_status launch_apply(const dlt_kctx *k, const float *x, float *y, const float *mean, const float *rstd,
                               const float *gam, const float *bet, const float *r, int relu, int64_t n, int64_t C,
                               int64_t S)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    if (n == 0)
        return DLT_OK;
    const unsigned nb = dlt_gpu_blocks(g, n, 256);
    if (fits32(n))
        batch_apply_kernel<uint32_t><<<nb, 256, 0, g->stream>>>(x, y, mean, rstd, gam, bet, r, relu, (uint32_t)n,
                                                                (uint32_t)C, (uint32_t)S);
    else
        batch_apply_kernel<int64_t><<<nb, 256, 0, g->stream>>>(x, y, mean, rstd, gam, bet, r, relu, n, C, S);
    return dlt_gpu_launched(k, "batch_apply_kernel");
}

static dlt_status norm_cuda(const dlt_kctx *k)
{
    const dlt_norm_attr *a = DLT_CATTR(k->node, dlt_norm_attr);
    struct dlt_gpu *g = dlt_gpu_of(k);
    const float *x = (const float *)k->in[0];
    const float *gam = a->affine ? (const float *)k->in[DLT_NORM_IN_GAMMA] : NULL;
    const float *bet = a->affine ? (const float *)k->in[DLT_NORM_IN_GAMMA + 1] : NULL;
    float *y = (float *)k->out[0], *mean = (float *)k->out[1], *rstd = (float *)k->out[2];
    float *alpha = (float *)k->out[3];
    const int64_t A = a->A, C = a->C, S = a->S, n = A * C * S;
    dlt_status st;
    if (a->kind == DLT_NORM_GROUP) {
        const int64_t ng = A * a->G, M = dlt_norm_count(a), cpg = C / a->G;
        if (ng == 0)
            return set_scalar(k, alpha, 1.f);
        const unsigned th = group_threads(M);
        if (fits32(M))
            group_fwd_kernel<uint32_t><<<(unsigned)ng, th, 0, g->stream>>>(
                x, y, mean, rstd, alpha, gam, bet, (uint32_t)M, (uint32_t)S, (uint32_t)cpg, a->G, a->eps);
        else
            group_fwd_kernel<int64_t><<<(unsigned)ng, th, 0, g->stream>>>(x, y, mean, rstd, alpha, gam, bet, M, S,
                                                                          cpg, a->G, a->eps);
        return dlt_gpu_launched(k, "group_fwd_kernel");
    }
    const unsigned cb = dlt_gpu_blocks(g, C, 256);
    if (k->training || !a->running) {
        const int64_t M = A * S;
        float *rm = NULL, *rv = NULL;
        if (M < 2 && a->running && k->training)
            return dlt_seterr(DLT_ERR_SHAPE, "training needs more than one value per channel");
        if (a->running && k->training) {
            rm = (float *)k->state[DLT_NORM_IN_RMEAN(a)];
            rv = (float *)k->state[DLT_NORM_IN_RMEAN(a) + 1];
            if (!rm || !rv)
                return dlt_seterr(DLT_ERR_INTERNAL, "batch_norm: no storage for the running statistics");
        }
        if (C == 0)
            return set_scalar(k, alpha, 1.f);
        double2 *part = (double2 *)k->work;
        if (M > 0 && (st = channel_parts(k, a, sum_sq{x, S}, part)))
            return st;
        batch_stats_kernel<<<cb, 256, 0, g->stream>>>(part, nparts(a), x, C, S, M, a->eps, a->momentum, rm, rv,
                                                      mean, rstd, alpha);
        if ((st = dlt_gpu_launched(k, "batch_stats_kernel")))
            return st;
    } else {
        if (C == 0)
            return set_scalar(k, alpha, 0.f);
        const float *rm = (const float *)k->in[DLT_NORM_IN_RMEAN(a)];
        const float *rv = (const float *)k->in[DLT_NORM_IN_RMEAN(a) + 1];
        running_stats_kernel<<<cb, 256, 0, g->stream>>>(rm, rv, C, a->eps, mean, rstd, alpha);
        if ((st = dlt_gpu_launched(k, "running_stats_kernel")))
            return st;
    }
    const float *r = a->resid ? (const float *)k->in[DLT_NORM_IN_RES(a)] : NULL;
    return launch_apply(k, x, y, mean, rstd, gam, bet, r, a->act == DLT_NORM_ACT_RELU, n, C, S);
}

// norm_grad(dy, x, mean, rstd, alpha[, gamma]) -> dx, and norm_backward (with
// gamma[, y]) -> dx, dgamma, dbeta, dr (the relu epilogue masks dy by y > 0;
// dr is the masked dy with a residual). dx may share dy's storage: every
// kernel that reads dy across elements runs before the one that writes dx.
static dlt_status norm_grad_cuda(const dlt_kctx *k)
{
    const dlt_norm_attr *a = DLT_CATTR(k->node, dlt_norm_attr);
    struct dlt_gpu *g = dlt_gpu_of(k);
    const float *dy = (const float *)k->in[0], *x = (const float *)k->in[1];
    const float *mean = (const float *)k->in[2], *rstd = (const float *)k->in[3];
    const float *alpha = (const float *)k->in[4], *gam = a->affine ? (const float *)k->in[5] : NULL;
    float *dx = (float *)k->out[0];
    const bool bwd = k->node->nout == 4;
    float *dg = bwd ? (float *)k->out[1] : NULL, *db = bwd ? (float *)k->out[2] : NULL;
    const float *y = bwd && a->act ? (const float *)k->in[DLT_NORM_BWD_Y] : NULL;
    float *dr = bwd && DLT_NORM_HAS_DR(a) ? (float *)k->out[3] : NULL;
    const int64_t A = a->A, C = a->C, S = a->S, n = A * C * S, N = A * S;
    double2 *part = (double2 *)k->work;
    const int64_t P = nparts(a);
    const unsigned cb = dlt_gpu_blocks(g, C, 256);
    dlt_status st;
    if (bwd && !DLT_NORM_HAS_DR(a) && (st = set_scalar(k, (float *)k->out[3], 0.f)))
        return st; // the rank-0 placeholder
    if (a->kind == DLT_NORM_BATCH) {
        if (C == 0)
            return DLT_OK;
        float *coef = (float *)(part + C * P);
        if (N > 0 && (st = channel_parts(k, a, batch_dsums{dy, x, mean, y}, part)))
            return st;
        batch_coef_kernel<<<cb, 256, 0, g->stream>>>(part, P, C, N, rstd, gam, alpha, coef, dg, db);
        if ((st = dlt_gpu_launched(k, "batch_coef_kernel")) || n == 0)
            return st;
        const unsigned nb = dlt_gpu_blocks(g, n, 256);
        if (fits32(n))
            batch_dx_kernel<uint32_t><<<nb, 256, 0, g->stream>>>(dy, y, x, mean, coef, dx, dr, (uint32_t)n,
                                                                 (uint32_t)C, (uint32_t)S);
        else
            batch_dx_kernel<int64_t><<<nb, 256, 0, g->stream>>>(dy, y, x, mean, coef, dx, dr, n, C, S);
        return dlt_gpu_launched(k, "batch_dx_kernel");
    }
    const int64_t cpg = C / a->G, ng = A * a->G, M = dlt_norm_count(a);
    if (dg && C > 0) {
        if (N > 0 && (st = channel_parts(k, a, group_dsums{dy, x, mean, rstd, a->G, cpg}, part)))
            return st;
        group_param_kernel<<<cb, 256, 0, g->stream>>>(part, P, C, N, dg, db);
        if ((st = dlt_gpu_launched(k, "group_param_kernel")))
            return st;
    }
    if (ng == 0)
        return DLT_OK;
    const unsigned th = group_threads(M);
    if (fits32(M))
        group_dx_kernel<uint32_t><<<(unsigned)ng, th, 0, g->stream>>>(dy, x, mean, rstd, gam, alpha, dx,
                                                                       (uint32_t)M, (uint32_t)S, (uint32_t)cpg, a->G);
    else
        group_dx_kernel<int64_t><<<(unsigned)ng, th, 0, g->stream>>>(dy, x, mean, rstd, gam, alpha, dx, M, S, cpg,
                                                                     a->G);
    return dlt_gpu_launched(k, "group_dx_kernel");
}

// norm_apply(x, mean, rstd[, gamma, beta]) -> act(x*sc + sh): batch norm's
// output rebuilt for the backward by the forward's own apply kernel.
static dlt_status norm_apply_cuda(const dlt_kctx *k)
{
    const dlt_norm_attr *a = DLT_CATTR(k->node, dlt_norm_attr);
    const float *gam = a->affine ? (const float *)k->in[3] : NULL, *bet = a->affine ? (const float *)k->in[4] : NULL;
    const float *no_resid = NULL;
    return launch_apply(k, (const float *)k->in[0], (float *)k->out[0], (const float *)k->in[1],
                        (const float *)k->in[2], gam, bet, no_resid, a->act == DLT_NORM_ACT_RELU, a->A * a->C * a->S,
                        a->C, a->S);
}

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_norm[] = {
    {DLT_OP_BATCH_NORM, norm_cuda, norm_ws},        {DLT_OP_GROUP_NORM, norm_cuda, norm_ws},
    {DLT_OP_LAYER_NORM, norm_cuda, norm_ws},        {DLT_OP_NORM_GRAD, norm_grad_cuda, norm_ws},
    {DLT_OP_NORM_BACKWARD, norm_grad_cuda, norm_ws}, {DLT_OP_NORM_APPLY, norm_apply_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
