// GPU kernel of the core's own op, accum (src/core/accum.c): the sum of a
// gradient's contributions.
#include "gpu_impl.h"

// y = in[0] + in[1] + ... in that order per element (the CPU's order), so the
// result is the same when y is one of the inputs.
struct accum_args {
    const float *in[DLT_MAX_IN];
    int nin;
};

static __global__ void accum_kernel(int64_t n, accum_args a, float *y)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float t = a.in[0][i];
        for (int j = 1; j < a.nin; j++)
            t += a.in[j][i];
        y[i] = t;
    }
}

static dlt_status accum_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    accum_args a;
    a.nin = k->node->nin;
    for (int j = 0; j < a.nin; j++)
        a.in[j] = (const float *)k->in[j];
    if (n == 0)
        return DLT_OK;
    accum_kernel<<<dlt_gpu_blocks(g, n, 256), 256, 0, g->stream>>>(n, a, (float *)k->out[0]);
    return dlt_gpu_launched(k, "accum_kernel");
}

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_accum[] = {
    {DLT_OP_ACCUM, accum_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
