// GPU kernels of the reduce family: max (max_pick, max_grad) and var over any
// axes (reduce_ext.c), softmax / log_softmax and their backward ops over any
// axis (softmax.c), topk_correct (metric.c). Each group of elements is reduced
// by a team (one thread, a warp or a block) in a fixed order, so results do
// not vary from run to run.
#include <math.h>

#include "k_reduce.h"

namespace dlt_kred
{

// A team size for groups of nred elements: one thread per group when the
// innermost axis is kept (neighbouring groups are neighbours in memory) and
// there are enough groups, else a warp, or a block for long groups.
static int team_for(int64_t ngroups, int64_t nred, int inner_kept)
{
    if (inner_kept && ngroups >= 1024)
        return 1;
    if (nred >= 2048)
        return kThreads;
    return nred >= 32 ? 32 : 1;
}

__device__ inline int64_t red_off(const Geom &gm, int64_t r)
{
    return gm.nr == 1 ? r * gm.rstr[0] : mixed_off(gm.nr, gm.rdim, gm.rstr, r);
}
__device__ inline int64_t kept_off(const Geom &gm, int64_t o)
{
    return gm.nk == 1 ? o * gm.kstr[0] : mixed_off(gm.nk, gm.kdim, gm.kstr, o);
}

// ---------------------------------------------------------------- max
// Does candidate (v at offset i) beat (bv at bi)? The CPU keeps the first NaN,
// else the first maximum in reduction order; offsets grow with that order, so
// "first" is "lower offset". i < 0: no candidate. A total order, so any
// combination order picks the same element.
__device__ inline bool beats(float v, int64_t i, float bv, int64_t bi)
{
    if (i < 0)
        return false;
    if (bi < 0)
        return true;
    bool vn = isnan(v), bn = isnan(bv);
    if (vn || bn)
        return vn && bn ? i < bi : vn;
    if (v != bv)
        return v > bv;
    return i < bi;
}

template <int TEAM> __device__ inline void team_argmax(float &bv, long long &bi)
{
    if constexpr (TEAM > 1) {
        for (int o = 16; o > 0; o >>= 1) {
            float v = __shfl_xor_sync(0xffffffffu, bv, o);
            long long i = __shfl_xor_sync(0xffffffffu, bi, o);
            if (beats(v, i, bv, bi))
                bv = v, bi = i;
        }
    }
    if constexpr (TEAM > 32) {
        __shared__ float sv[32];
        __shared__ long long si[32];
        int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
        __syncthreads(); // a previous call's readers are done
        if (lane == 0)
            sv[w] = bv, si[w] = bi;
        __syncthreads();
        bv = sv[0], bi = si[0];
        for (int j = 1; j < nw; j++)
            if (beats(sv[j], si[j], bv, bi))
                bv = sv[j], bi = si[j];
    }
}

// grad == 0: y[o] = v[argmax of group o of x] (-inf for an empty group).
// grad == 1: dx[argmax] = dy[o] (dx zeroed before).
template <int TEAM>
__global__ void argmax_kernel(Geom gm, const float *x, const float *v, float *y, int grad)
{
    for (int64_t o = team_id<TEAM>(); o < gm.nout; o += team_count<TEAM>()) {
        int64_t base = kept_off(gm, o);
        float bv = 0.f;
        long long bi = -1;
        for (int64_t r = team_rank<TEAM>(); r < gm.nred; r += TEAM) {
            int64_t off = base + red_off(gm, r);
            float val = x[off];
            if (beats(val, off, bv, bi))
                bv = val, bi = off;
        }
        team_argmax<TEAM>(bv, bi);
        if (team_rank<TEAM>() != 0)
            continue;
        if (!grad)
            y[o] = bi >= 0 ? v[bi] : -INFINITY;
        else if (bi >= 0)
            y[bi] = v[o];
    }
}

static dlt_status argmax_launch(const dlt_kctx *k, const Geom &gm, const float *x, const float *v,
                                float *y, int grad)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int team = team_for(gm.nout, gm.nred, gm.nk > 0 && gm.kstr[gm.nk - 1] == 1);
    unsigned nb = team_blocks(g, gm.nout, team);
    if (team == 1)
        argmax_kernel<1><<<nb, kThreads, 0, g->stream>>>(gm, x, v, y, grad);
    else if (team == 32)
        argmax_kernel<32><<<nb, kThreads, 0, g->stream>>>(gm, x, v, y, grad);
    else
        argmax_kernel<kThreads><<<nb, kThreads, 0, g->stream>>>(gm, x, v, y, grad);
    return dlt_gpu_launched(k, "argmax_kernel");
}

// max(x) = x[argmax]; max_pick(v, x) = v[argmax of x]
dlt_status max_cuda(const dlt_kctx *k)
{
    int nin = k->node->nin;
    Geom gm;
    geom_make(k->in_shape[nin - 1], DLT_CATTR(k->node, rx_attr)->reduce, &gm);
    if (gm.nout == 0)
        return DLT_OK;
    return argmax_launch(k, gm, (const float *)k->in[nin - 1], (const float *)k->in[0],
                         (float *)k->out[0], 0);
}

// max_grad(dy, x): dy[o] at each group's argmax, 0 elsewhere
dlt_status max_grad_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    Geom gm;
    geom_make(k->in_shape[1], DLT_CATTR(k->node, rx_attr)->reduce, &gm);
    size_t bytes = (size_t)dlt_shape_numel(k->out_shape[0]) * sizeof(float);
    if (bytes == 0)
        return DLT_OK;
    dlt_status st =
        dlt_gpu_check(cudaMemsetAsync(k->out[0], 0, bytes, g->stream), k, "cudaMemsetAsync");
    if (st != DLT_OK || gm.nout == 0)
        return st;
    return argmax_launch(k, gm, (const float *)k->in[1], (const float *)k->in[0],
                         (float *)k->out[0], 1);
}

// ---------------------------------------------------------------- var
// Two passes in double per group (mean, then squared deviations), as the CPU.
template <int TEAM> __global__ void var_kernel(Geom gm, double div, const float *x, float *y)
{
    for (int64_t o = team_id<TEAM>(); o < gm.nout; o += team_count<TEAM>()) {
        int64_t base = kept_off(gm, o);
        double sum = 0, ss = 0;
        for (int64_t r = team_rank<TEAM>(); r < gm.nred; r += TEAM)
            sum += (double)x[base + red_off(gm, r)];
        double mean = team_sum<TEAM>(sum) / (double)gm.nred;
        for (int64_t r = team_rank<TEAM>(); r < gm.nred; r += TEAM) {
            double d = (double)x[base + red_off(gm, r)] - mean;
            ss += d * d;
        }
        ss = team_sum<TEAM>(ss);
        if (team_rank<TEAM>() == 0)
            y[o] = (float)(ss / div);
    }
}

dlt_status var_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const rx_attr *a = DLT_CATTR(k->node, rx_attr);
    Geom gm;
    geom_make(k->in_shape[0], a->reduce, &gm);
    if (gm.nout == 0)
        return DLT_OK;
    double div = (double)gm.nred - a->correction;
    if (div < 0)
        div = 0; // torch: max(N - correction, 0), so the result is inf or NaN
    const float *x = (const float *)k->in[0];
    float *y = (float *)k->out[0];
    int team = team_for(gm.nout, gm.nred, gm.nk > 0 && gm.kstr[gm.nk - 1] == 1);
    unsigned nb = team_blocks(g, gm.nout, team);
    if (team == 1)
        var_kernel<1><<<nb, kThreads, 0, g->stream>>>(gm, div, x, y);
    else if (team == 32)
        var_kernel<32><<<nb, kThreads, 0, g->stream>>>(gm, div, x, y);
    else
        var_kernel<kThreads><<<nb, kThreads, 0, g->stream>>>(gm, div, x, y);
    return dlt_gpu_launched(k, "var_kernel");
}

// ---------------------------------------------------------------- softmax
// x as [outer, n, inner]: row t = (o, i) is x[o n inner + j inner + i], j < n.
// Each thread writes only elements it read itself, after the row's sums: the
// output may alias an input (DLT_OP_INPLACE).
enum { SM_FWD, SM_LOG_FWD, SM_BWD, SM_LOG_BWD };

template <int TEAM, int MODE>
__global__ void sm_kernel(int64_t rows, int64_t n, int64_t inner, const float *a, const float *b,
                          float *y)
{
    for (int64_t t = team_id<TEAM>(); t < rows; t += team_count<TEAM>()) {
        int64_t base = (t / inner) * n * inner + t % inner;
        const float *pa = a + base, *pb = b + base;
        float *py = y + base;
        int64_t j0 = team_rank<TEAM>();
        if (MODE == SM_FWD || MODE == SM_LOG_FWD) {
            float m = -INFINITY; // NaN never wins a > comparison (the CPU's max)
            for (int64_t j = j0; j < n; j += TEAM) {
                float v = pa[j * inner];
                m = v > m ? v : m;
            }
            m = team_max<TEAM>(m);
            double sum = 0;
            for (int64_t j = j0; j < n; j += TEAM)
                sum += (double)expf(pa[j * inner] - m);
            sum = team_sum<TEAM>(sum);
            if (MODE == SM_FWD) {
                for (int64_t j = j0; j < n; j += TEAM)
                    py[j * inner] = (float)((double)expf(pa[j * inner] - m) / sum);
            } else {
                double lse = (double)m + log(sum);
                for (int64_t j = j0; j < n; j += TEAM)
                    py[j * inner] = (float)((double)pa[j * inner] - lse);
            }
        } else { // a = dy, b = the forward output
            double s = 0;
            for (int64_t j = j0; j < n; j += TEAM)
                s += MODE == SM_LOG_BWD ? (double)pa[j * inner]
                                        : (double)pa[j * inner] * pb[j * inner];
            s = team_sum<TEAM>(s);
            for (int64_t j = j0; j < n; j += TEAM) {
                double d = pa[j * inner], v = pb[j * inner];
                py[j * inner] =
                    (float)(MODE == SM_LOG_BWD ? d - (double)expf((float)v) * s : v * (d - s));
            }
        }
    }
}

template <int MODE> static dlt_status sm_launch(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const dlt_shape *s = k->in_shape[0];
    int axis = DLT_CATTR(k->node, sm_attr)->axis;
    int64_t n = s->dim[axis], inner = 1, rows = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (i > axis)
            inner *= s->dim[i];
        if (i != axis)
            rows *= s->dim[i];
    }
    if (rows == 0 || n == 0 || inner == 0)
        return DLT_OK;
    const float *a = (const float *)k->in[0];
    const float *b = k->node->nin > 1 ? (const float *)k->in[1] : a;
    float *y = (float *)k->out[0];
    int team = inner > 1 ? 1 : n >= 2048 ? kThreads : 32;
    unsigned nb = team_blocks(g, rows, team);
    if (team == 1)
        sm_kernel<1, MODE><<<nb, kThreads, 0, g->stream>>>(rows, n, inner, a, b, y);
    else if (team == 32)
        sm_kernel<32, MODE><<<nb, kThreads, 0, g->stream>>>(rows, n, inner, a, b, y);
    else
        sm_kernel<kThreads, MODE><<<nb, kThreads, 0, g->stream>>>(rows, n, inner, a, b, y);
    return dlt_gpu_launched(k, "sm_kernel");
}

dlt_status softmax_cuda(const dlt_kctx *k)
{
    return sm_launch<SM_FWD>(k);
}
dlt_status log_softmax_cuda(const dlt_kctx *k)
{
    return sm_launch<SM_LOG_FWD>(k);
}
dlt_status softmax_grad_cuda(const dlt_kctx *k)
{
    return sm_launch<SM_BWD>(k);
}
dlt_status log_softmax_grad_cuda(const dlt_kctx *k)
{
    return sm_launch<SM_LOG_BWD>(k);
}

// ---------------------------------------------------------------- topk_correct
// Hits are counted in integers (exact in any order): a block total per block,
// added to one counter; a last kernel writes the count or the fraction.
template <int TEAM>
__global__ void topk_kernel(int64_t npos, int64_t C, int64_t P, int kk, const float *z,
                            const int32_t *lab, unsigned long long *hits)
{
    long long mine = 0;
    for (int64_t t = team_id<TEAM>(); t < npos; t += team_count<TEAM>()) {
        int32_t y = lab[t];
        if (y < 0 || y >= C) // the same label for the whole team
            continue;
        const float *zi = z + (t / P) * C * P + t % P;
        float zy = zi[(int64_t)y * P];
        long long above = 0;
        for (int64_t c = team_rank<TEAM>(); c < C; c += TEAM)
            above += zi[c * P] > zy;
        above = team_sum<TEAM>(above);
        if (team_rank<TEAM>() == 0 && above < kk)
            mine++;
    }
    mine = block_sum(mine);
    if (threadIdx.x == 0 && mine)
        atomicAdd(hits, (unsigned long long)mine);
}

__global__ void topk_finish(const unsigned long long *hits, int64_t npos, int fraction, float *y)
{
    double h = (double)*hits;
    *y = fraction ? (float)(h / (double)npos) : (float)h;
}

size_t topk_ws(const dlt_node *, const dlt_shape *const *, const dlt_shape *const *)
{
    return sizeof(unsigned long long);
}

dlt_status topk_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const topk_attr *a = DLT_CATTR(k->node, topk_attr);
    const dlt_shape *s = k->in_shape[0];
    int64_t N = s->dim[0], C = s->dim[1], NC = N * C;
    int64_t P = NC ? dlt_shape_numel(s) / NC : 0, npos = N * P;
    unsigned long long *hits = (unsigned long long *)k->work;
    if (!hits || k->work_bytes < sizeof *hits)
        return dlt_seterr(DLT_ERR_INTERNAL, "topk_correct: no workspace");
    dlt_status st =
        dlt_gpu_check(cudaMemsetAsync(hits, 0, sizeof *hits, g->stream), k, "cudaMemsetAsync");
    if (st != DLT_OK)
        return st;
    const float *z = (const float *)k->in[0];
    const int32_t *lab = (const int32_t *)k->in[1];
    if (npos > 0) {
        int team = P == 1 && C > 32 ? (C >= 4096 ? kThreads : 32) : 1;
        unsigned nb = team_blocks(g, npos, team);
        if (team == 1)
            topk_kernel<1><<<nb, kThreads, 0, g->stream>>>(npos, C, P, a->k, z, lab, hits);
        else if (team == 32)
            topk_kernel<32><<<nb, kThreads, 0, g->stream>>>(npos, C, P, a->k, z, lab, hits);
        else
            topk_kernel<kThreads><<<nb, kThreads, 0, g->stream>>>(npos, C, P, a->k, z, lab, hits);
        if ((st = dlt_gpu_launched(k, "topk_kernel")) != DLT_OK)
            return st;
    }
    topk_finish<<<1, 1, 0, g->stream>>>(hits, npos, a->fraction, (float *)k->out[0]);
    return dlt_gpu_launched(k, "topk_finish");
}

} // namespace dlt_kred
