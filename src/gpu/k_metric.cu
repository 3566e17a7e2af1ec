// GPU kernel of the metric family (metric.c): topk_correct, each position's
// class scores compared by a team (k_reduce.cuh).
#include "k_reduce.cuh"

namespace dlt_kred
{

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

using namespace dlt_kred;

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_metric[] = {
    {DLT_OP_TOPK_CORRECT, topk_cuda, topk_ws},
    {DLT_OP_COUNT, NULL, NULL},
};
