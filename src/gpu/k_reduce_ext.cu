// GPU kernels of the reduce_ext family (reduce_ext.c): max (max_pick,
// max_grad) and var over any axes. Each group of elements is reduced
// by a team (one thread, a warp or a block) in a fixed order, so results do
// not vary from run to run.
#include <math.h>

#include "k_reduce.cuh"

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
} // namespace dlt_kred

using namespace dlt_kred;

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_reduce_ext[] = {
    {DLT_OP_MAX, max_cuda, NULL},
    {DLT_OP_MAX_PICK, max_cuda, NULL},
    {DLT_OP_MAX_GRAD, max_grad_cuda, NULL},
    {DLT_OP_VAR, var_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
