// GPU kernels of the random family (random.c): random_normal and
// random_uniform draw each element with the CPU's formula (the DLT_HD
// helpers of random_impl.h: integer fixed point and one fmaf, so the bits are
// the CPU's), with the run's seed and step read from the device
// (dlt_kctx.run_dev), so that a CUDA graph replays each run's draws.
#include "gpu_impl.h"
#include "random_impl.h"

namespace
{

const int kThreads = 256;

template <bool NORMAL>
__global__ void random_kernel(int64_t n, const uint64_t *run, random_attr a, float *y)
{
    uint64_t seed = dlt_random_seed(&a, run[0]), stream = dlt_random_stream(a.id, (int64_t)run[1]);
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = NORMAL ? dlt_random_normal_at(&a, seed, stream, a.base + (uint64_t)i)
                      : dlt_random_uniform_at(&a, seed, stream, a.base + (uint64_t)i);
}

template <bool NORMAL> dlt_status random_launch(const dlt_kctx *k, const char *name)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    if (n == 0)
        return DLT_OK;
    if (!k->run_dev)
        return dlt_seterr(DLT_ERR_INTERNAL, "%s: no run key on the device (not a device plan)",
                          k->node->op->name);
    random_kernel<NORMAL><<<dlt_gpu_blocks(g, n, kThreads), kThreads, 0, g->stream>>>(
        n, k->run_dev, *DLT_CATTR(k->node, random_attr), (float *)k->out[0]);
    return dlt_gpu_launched(k, name);
}

dlt_status random_normal_cuda(const dlt_kctx *k)
{
    return random_launch<true>(k, "random_normal_kernel");
}

dlt_status random_uniform_cuda(const dlt_kctx *k)
{
    return random_launch<false>(k, "random_uniform_kernel");
}

} // namespace

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_random[] = {
    {DLT_OP_RANDOM_NORMAL, random_normal_cuda, NULL},
    {DLT_OP_RANDOM_UNIFORM, random_uniform_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
