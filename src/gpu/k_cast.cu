// GPU kernel of the cast family (cast.c): one thread per element, the
// conversion of cast_impl.h, so both backends give the same values.
#include "cast_impl.h"
#include "gpu_impl.h"

namespace
{

const int kThreads = 256;

template <typename TI, typename TO>
__global__ void cast_kernel(int64_t n, cast_attr a, const TI *x, TO *y)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        if (sizeof(TO) == sizeof(int32_t) && a.to_i32)
            y[i] = (TO)dlt_cast1_i32(&a, (double)x[i]);
        else
            y[i] = (TO)dlt_cast1(&a, (double)x[i]);
    }
}

template <typename TI>
void launch(struct dlt_gpu *g, int64_t n, const cast_attr &a, const void *x, void *y)
{
    int blocks = dlt_gpu_blocks(g, n, kThreads);
    if (a.to_i32)
        cast_kernel<TI, int32_t>
            <<<blocks, kThreads, 0, g->stream>>>(n, a, (const TI *)x, (int32_t *)y);
    else
        cast_kernel<TI, float><<<blocks, kThreads, 0, g->stream>>>(n, a, (const TI *)x, (float *)y);
}

dlt_status cast_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const cast_attr *a = DLT_CATTR(k->node, cast_attr);
    int64_t n = dlt_shape_numel(k->in_shape[0]);
    if (n == 0)
        return DLT_OK;
    if (k->in_shape[0]->dtype == DLT_I32)
        launch<int32_t>(g, n, *a, k->in[0], k->out[0]);
    else
        launch<float>(g, n, *a, k->in[0], k->out[0]);
    return dlt_gpu_launched(k, "cast_kernel");
}

} // namespace

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_cast[] = {
    {DLT_OP_CAST, cast_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
