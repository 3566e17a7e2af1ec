// GPU kernels of the loss family (loss.c): cross_entropy with its backward
// and Hessian-vector product (pointwise_loss is in k_loss_pw.cu).
//
// Scalar results never leave the device: each block sums its positions in a
// fixed order and writes a partial, and one block adds the partials up. Label
// counts are integers (exact in any order). A label outside [0, C) that is not
// ignore_index makes the CPU kernel fail; here it cannot be reported without
// a synchronisation, so it turns that position's loss and gradient into NaN,
// and the forward kernel notes the first such label in the device's
// input-error flag (gpu_flag.h) that the backend's check() reports.
#include <math.h>

#include "k_reduce.cuh"

namespace dlt_kred
{

const int kMaxPart = 1024; // partial sums of a scalar loss (workspace is fixed by the shape)

struct CeGeom {
    int64_t C, P, npos;
};

static CeGeom ce_geom(const dlt_shape *s)
{
    CeGeom gm;
    int64_t N = s->dim[0];
    gm.C = s->dim[1];
    gm.P = N * gm.C != 0 ? dlt_shape_numel(s) / (N * gm.C) : 0;
    gm.npos = N * gm.P;
    return gm;
}

// a warp (or block) per position when its C classes are contiguous (P = 1),
// else one thread per position (neighbouring positions are neighbours in memory)
static int pos_team(const CeGeom &gm)
{
    return gm.P == 1 && gm.C > 32 ? (gm.C >= 4096 ? kThreads : 32) : 1;
}

// log-sum-exp of the C logits of one position at stride P; the max ignores
// NaN as the CPU's fmax does
template <int TEAM> __device__ inline double team_lse(const float *zi, int64_t C, int64_t P)
{
    float m = -INFINITY;
    for (int64_t c = team_rank<TEAM>(); c < C; c += TEAM)
        m = fmaxf(m, zi[c * P]);
    m = team_max<TEAM>(m);
    double s = 0;
    for (int64_t c = team_rank<TEAM>(); c < C; c += TEAM)
        s += (double)expf(zi[c * P] - m);
    s = team_sum<TEAM>(s);
    return (double)m + log(s);
}

// ---------------------------------------------------------------- cross_entropy
// y_none: per-position losses (reduction NONE); else block partials of the
// loss sum and of the number of counted labels.
template <int TEAM>
__global__ void ce_kernel(CeGeom gm, ce_attr a, const float *z, const int32_t *lab, float *y_none,
                          double *part_loss, double *part_cnt, dlt_gpu_flag *flag)
{
    double eps = a.smoothing, my_loss = 0, my_cnt = 0;
    for (int64_t t = team_id<TEAM>(); t < gm.npos; t += team_count<TEAM>()) {
        int32_t l = lab[t];
        double v = 0;
        int counted = l != a.ignore_index;
        if (counted) {
            const float *zi = z + (t / gm.P) * gm.C * gm.P + t % gm.P;
            double lse = team_lse<TEAM>(zi, gm.C, gm.P), sz = 0;
            if (eps != 0) {
                for (int64_t c = team_rank<TEAM>(); c < gm.C; c += TEAM)
                    sz += zi[c * gm.P];
                sz = team_sum<TEAM>(sz);
            }
            if (l < 0 || l >= gm.C) {
                v = NAN;
                if (team_rank<TEAM>() == 0)
                    dlt_gpu_note(flag, t, l, DLT_BAD_LABEL);
            } else
                v = (1 - eps) * (lse - zi[(int64_t)l * gm.P]) + eps * (lse - sz / (double)gm.C);
        }
        if (team_rank<TEAM>() != 0)
            continue;
        if (y_none)
            y_none[t] = (float)v;
        my_loss += v;
        my_cnt += counted;
    }
    if (!part_loss)
        return;
    my_loss = block_sum(my_loss);
    my_cnt = block_sum(my_cnt);
    if (threadIdx.x == 0) {
        part_loss[blockIdx.x] = my_loss;
        part_cnt[blockIdx.x] = my_cnt;
    }
}

__global__ void ce_finish(const double *part_loss, const double *part_cnt, int nb, int mean,
                          float *y)
{
    double s = 0, c = 0;
    for (int i = threadIdx.x; i < nb; i += blockDim.x)
        s += part_loss[i], c += part_cnt[i];
    s = block_sum(s);
    c = block_sum(c);
    if (threadIdx.x == 0)
        y[0] = (float)(mean ? s / c : s);
}

size_t ce_ws(const dlt_node *n, const dlt_shape *const *, const dlt_shape *const *)
{
    return DLT_CATTR(n, ce_attr)->reduction == DLT_REDUCE_NONE ? 0 : 2 * kMaxPart * sizeof(double);
}

dlt_status ce_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    ce_attr a = *DLT_CATTR(k->node, ce_attr);
    CeGeom gm = ce_geom(k->in_shape[0]);
    const float *z = (const float *)k->in[0];
    const int32_t *lab = (const int32_t *)k->in[1];
    float *y = (float *)k->out[0];
    int none = a.reduction == DLT_REDUCE_NONE;
    if (none && gm.npos == 0)
        return DLT_OK;
    if (!none && (!k->work || k->work_bytes < 2 * kMaxPart * sizeof(double)))
        return dlt_seterr(DLT_ERR_INTERNAL, "cross_entropy: no workspace");
    double *pl = none ? NULL : (double *)k->work, *pc = none ? NULL : (double *)k->work + kMaxPart;
    int team = pos_team(gm);
    unsigned nb = team_blocks(g, gm.npos, team);
    if (nb > (unsigned)kMaxPart)
        nb = kMaxPart;
    float *yn = none ? y : NULL;
    if (team == 1)
        ce_kernel<1><<<nb, kThreads, 0, g->stream>>>(gm, a, z, lab, yn, pl, pc, g->d_flag);
    else if (team == 32)
        ce_kernel<32><<<nb, kThreads, 0, g->stream>>>(gm, a, z, lab, yn, pl, pc, g->d_flag);
    else
        ce_kernel<kThreads><<<nb, kThreads, 0, g->stream>>>(gm, a, z, lab, yn, pl, pc, g->d_flag);
    dlt_status st = dlt_gpu_launched(k, "ce_kernel");
    if (st != DLT_OK || none)
        return st;
    ce_finish<<<1, kThreads, 0, g->stream>>>(pl, pc, (int)nb, a.reduction == DLT_REDUCE_MEAN, y);
    return dlt_gpu_launched(k, "ce_finish");
}

// ---------------------------------------------------------------- backward, HVP
// Labels that are not ignore_index, into *cnt (zeroed before).
__global__ void ce_count_kernel(int64_t npos, int ignore_index, const int32_t *lab,
                                unsigned long long *cnt)
{
    long long mine = 0;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < npos;
         t += (int64_t)gridDim.x * blockDim.x)
        mine += lab[t] != ignore_index;
    mine = block_sum(mine);
    if (threadIdx.x == 0 && mine)
        atomicAdd(cnt, (unsigned long long)mine);
}

// v == NULL: cross_entropy_grad = scale (softmax - q), q the smoothed one-hot.
// else cross_entropy_hvp = scale s (v - <s, v>), s = softmax.
template <int TEAM>
__global__ void ce_bwd_kernel(CeGeom gm, ce_attr a, const float *dy, const float *z,
                              const int32_t *lab, const unsigned long long *cnt, const float *v,
                              float *out)
{
    double eps = a.smoothing;
    for (int64_t t = team_id<TEAM>(); t < gm.npos; t += team_count<TEAM>()) {
        int64_t off = (t / gm.P) * gm.C * gm.P + t % gm.P;
        const float *zi = z + off;
        float *oi = out + off;
        int32_t l = lab[t];
        if (l == a.ignore_index) {
            for (int64_t c = team_rank<TEAM>(); c < gm.C; c += TEAM)
                oi[c * gm.P] = 0.f;
            continue;
        }
        double lse = team_lse<TEAM>(zi, gm.C, gm.P), sc;
        if (a.reduction == DLT_REDUCE_NONE)
            sc = dy[t];
        else
            sc = a.reduction == DLT_REDUCE_MEAN ? dy[0] / (double)*cnt : dy[0];
        if (l < 0 || l >= gm.C)
            sc = NAN;
        if (!v) {
            for (int64_t c = team_rank<TEAM>(); c < gm.C; c += TEAM) {
                double q = eps / (double)gm.C + (c == l ? 1 - eps : 0);
                double p = expf((float)((double)zi[c * gm.P] - lse));
                oi[c * gm.P] = (float)(sc * (p - q));
            }
        } else {
            const float *vi = v + off;
            double sv = 0;
            for (int64_t c = team_rank<TEAM>(); c < gm.C; c += TEAM)
                sv += (double)expf((float)((double)zi[c * gm.P] - lse)) * vi[c * gm.P];
            sv = team_sum<TEAM>(sv);
            for (int64_t c = team_rank<TEAM>(); c < gm.C; c += TEAM) {
                double p = expf((float)((double)zi[c * gm.P] - lse));
                oi[c * gm.P] = (float)(sc * p * (vi[c * gm.P] - sv));
            }
        }
    }
}

size_t ce_grad_ws(const dlt_node *, const dlt_shape *const *, const dlt_shape *const *)
{
    return sizeof(unsigned long long);
}

// inputs: [v,] dy, logits, labels
static dlt_status ce_bwd(const dlt_kctx *k, int hvp)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    ce_attr a = *DLT_CATTR(k->node, ce_attr);
    const float *v = hvp ? (const float *)k->in[0] : NULL;
    const float *dy = (const float *)k->in[hvp], *z = (const float *)k->in[hvp + 1];
    const int32_t *lab = (const int32_t *)k->in[hvp + 2];
    CeGeom gm = ce_geom(k->in_shape[hvp + 1]);
    int64_t nz = dlt_shape_numel(k->in_shape[hvp + 1]);
    float *out = (float *)k->out[0];
    unsigned long long *cnt = (unsigned long long *)k->work;
    dlt_status st;
    if (nz == 0)
        return DLT_OK;
    if (a.reduction == DLT_REDUCE_MEAN) {
        if (!cnt || k->work_bytes < sizeof *cnt)
            return dlt_seterr(DLT_ERR_INTERNAL, "%s: no workspace", k->node->op->name);
        st = dlt_gpu_check(cudaMemsetAsync(cnt, 0, sizeof *cnt, g->stream), k, "cudaMemsetAsync");
        if (st != DLT_OK)
            return st;
        ce_count_kernel<<<dlt_gpu_blocks(g, gm.npos, kThreads), kThreads, 0, g->stream>>>(
            gm.npos, a.ignore_index, lab, cnt);
        if ((st = dlt_gpu_launched(k, "ce_count_kernel")) != DLT_OK)
            return st;
    }
    int team = pos_team(gm);
    unsigned nb = team_blocks(g, gm.npos, team);
    if (team == 1)
        ce_bwd_kernel<1><<<nb, kThreads, 0, g->stream>>>(gm, a, dy, z, lab, cnt, v, out);
    else if (team == 32)
        ce_bwd_kernel<32><<<nb, kThreads, 0, g->stream>>>(gm, a, dy, z, lab, cnt, v, out);
    else
        ce_bwd_kernel<kThreads><<<nb, kThreads, 0, g->stream>>>(gm, a, dy, z, lab, cnt, v, out);
    return dlt_gpu_launched(k, "ce_bwd_kernel");
}

dlt_status ce_grad_cuda(const dlt_kctx *k)
{
    return ce_bwd(k, 0);
}
dlt_status ce_hvp_cuda(const dlt_kctx *k)
{
    return ce_bwd(k, 1);
}

} // namespace dlt_kred

using namespace dlt_kred;

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_loss[] = {
    {DLT_OP_CROSS_ENTROPY, ce_cuda, ce_ws},
    {DLT_OP_CROSS_ENTROPY_GRAD, ce_grad_cuda, ce_grad_ws},
    {DLT_OP_CROSS_ENTROPY_HVP, ce_hvp_cuda, ce_grad_ws},
    {DLT_OP_COUNT, NULL, NULL},
};
