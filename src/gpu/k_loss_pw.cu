// GPU kernel of the loss_pw family (loss_pw.c): pointwise_loss, every
// function code through the CPU's own pw_eval (loss_impl.h).
#include "k_reduce.cuh"

namespace dlt_kred
{

// ---------------------------------------------------------------- pointwise_loss
// y may alias x (DLT_OP_INPLACE): one thread reads and writes each index.
__global__ void pw_kernel(int64_t n, int fn, double beta, const float *x, const float *t,
                          const float *p, float *y)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = pw_eval(fn, beta, x[i], t[i], p ? (double)p[i] : 1.0);
}

dlt_status pw_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const pw_attr *a = DLT_CATTR(k->node, pw_attr);
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    if (n == 0)
        return DLT_OK;
    const float *p = k->node->nin > 2 ? (const float *)k->in[2] : NULL;
    pw_kernel<<<dlt_gpu_blocks(g, n, kThreads), kThreads, 0, g->stream>>>(
        n, a->fn, (double)a->beta, (const float *)k->in[0], (const float *)k->in[1], p,
        (float *)k->out[0]);
    return dlt_gpu_launched(k, "pw_kernel");
}

} // namespace dlt_kred

using namespace dlt_kred;

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_loss_pw[] = {
    {DLT_OP_POINTWISE_LOSS, pw_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
