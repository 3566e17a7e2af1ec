// GPU kernels of the activation family (activation.c): relu, prelu and their
// derivatives, maps over contiguous f32 tensors (k_map.cuh).
#include "gpu_impl.h"
#include "k_map.cuh"

namespace {

// ---------------------------------------------------------------- relu
struct ReluF {
    __device__ float operator()(int64_t, float x, float) const { return x > 0.f ? x : 0.f; }
};
// p0 = dy, p1 = x
struct ReluGradF {
    __device__ float operator()(int64_t, float d, float x) const { return x > 0.f ? d : 0.f; }
};

dlt_status relu_cuda(const dlt_kctx *k)
{
    return map_launch<1>(k, "relu_kernel", dlt_shape_numel(k->out_shape[0]), (const float *)k->in[0],
                         (const float *)NULL, (float *)k->out[0], ReluF());
}

dlt_status relu_grad_cuda(const dlt_kctx *k)
{
    return map_launch<2>(k, "relu_grad_kernel", dlt_shape_numel(k->out_shape[0]), (const float *)k->in[0],
                         (const float *)k->in[1], (float *)k->out[0], ReluGradF());
}

// ---------------------------------------------------------------- prelu
// prelu (p0 = x): x > 0 ? x : w[c] x; prelu_dx (p0 = dy, p1 = x): x > 0 ? dy : w[c] dy,
// with c = (i / inner) % C the index on axis 1 (w of one element: always w[0]).
struct PreluF {
    const float *w;
    int64_t wn, inner, c;
    bool small; // i < 2^32: 32-bit division
    bool dx;
    __device__ float operator()(int64_t i, float v, float xin) const
    {
        float x = dx ? xin : v, wi;
        if (wn == 1)
            wi = w[0];
        else if (small)
            wi = w[((uint32_t)i / (uint32_t)inner) % (uint32_t)c];
        else
            wi = w[(i / inner) % c];
        return x > 0.f ? v : wi * v;
    }
};

dlt_status prelu_cuda(const dlt_kctx *k)
{
    int nin = k->node->nin;
    const dlt_shape *xs = k->in_shape[nin - 2];
    int64_t n = dlt_shape_numel(xs);
    PreluF f;
    f.w = (const float *)k->in[nin - 1];
    f.wn = dlt_shape_numel(k->in_shape[nin - 1]);
    f.c = xs->ndim >= 2 ? xs->dim[1] : 1;
    f.inner = 1;
    for (int i = 2; i < xs->ndim; i++)
        f.inner *= xs->dim[i];
    f.small = n <= (int64_t)UINT32_MAX;
    f.dx = nin == 3;
    if (n == 0)
        return DLT_OK; // inner or c may be 0 then
    if (nin == 3)
        return map_launch<2>(k, "prelu_dx_kernel", n, (const float *)k->in[0], (const float *)k->in[1],
                             (float *)k->out[0], f);
    return map_launch<1>(k, "prelu_kernel", n, (const float *)k->in[0], (const float *)NULL, (float *)k->out[0],
                         f);
}

} // namespace

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_activation[] = {
    {DLT_OP_RELU, relu_cuda, NULL},
    {DLT_OP_RELU_GRAD, relu_grad_cuda, NULL},
    {DLT_OP_PRELU, prelu_cuda, NULL},
    {DLT_OP_PRELU_DX, prelu_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
