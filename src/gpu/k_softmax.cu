// GPU kernels of the softmax family (softmax.c): softmax / log_softmax and
// their backward ops over any axis, each row reduced by a team (one thread, a
// warp or a block, k_reduce.cuh) in a fixed order.
#include <math.h>

#include "k_reduce.cuh"

namespace dlt_kred
{

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

} // namespace dlt_kred

using namespace dlt_kred;

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_softmax[] = {
    {DLT_OP_SOFTMAX, softmax_cuda, NULL},
    {DLT_OP_LOG_SOFTMAX, log_softmax_cuda, NULL},
    {DLT_OP_SOFTMAX_GRAD, softmax_grad_cuda, NULL},
    {DLT_OP_LOG_SOFTMAX_GRAD, log_softmax_grad_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
