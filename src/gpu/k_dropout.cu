// GPU kernel of the dropout family (dropout.c): a map over contiguous f32
// tensors (k_map.cuh) that draws the CPU's mask (dropout_impl.h).
#include "dropout_impl.h"
#include "gpu_impl.h"
#include "k_map.cuh"

namespace {

// ---------------------------------------------------------------- dropout
// The CPU's mask exactly: element i kept when dlt_rng_uniform(seed, stream, i) >= p,
// with seed and step read from the device (dlt_kctx.run_dev), so that a CUDA
// graph replays each run's mask.
struct DropoutF {
    const uint64_t *run;
    uint64_t id;
    float p, scale;
    __device__ float operator()(int64_t i, float x, float) const
    {
        uint64_t stream = dlt_dropout_stream(id, (int64_t)run[1]);
        return dlt_rng_uniform(run[0], stream, (uint64_t)i) >= p ? x * scale : 0.f;
    }
};

dlt_status dropout_cuda(const dlt_kctx *k)
{
    const dropout_attr *a = DLT_CATTR(k->node, dropout_attr);
    const float *x = (const float *)k->in[0];
    float *y = (float *)k->out[0];
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    if (!k->training || a->p == 0.f) {
        if (y == x || n == 0)
            return DLT_OK;
        return dlt_gpu_check(cudaMemcpyAsync(y, x, (size_t)n * sizeof(float), cudaMemcpyDeviceToDevice,
                                             dlt_gpu_of(k)->stream),
                             k, "dropout copy");
    }
    if (!k->run_dev)
        return dlt_seterr(DLT_ERR_INTERNAL, "dropout: no run key on the device (not a device plan)");
    DropoutF f;
    f.run = k->run_dev;
    f.id = a->id;
    f.p = a->p;
    f.scale = 1.0f / (1.0f - a->p);
    return map_launch<1>(k, "dropout_kernel", n, x, (const float *)NULL, y, f);
}

} // namespace

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_dropout[] = {
    {DLT_OP_DROPOUT, dropout_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
