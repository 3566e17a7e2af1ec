// GPU kernels of the binary family (binary.c): add, sub, mul and div through
// the broadcasting kernels of k_bcast.cuh, and affine, a map over a
// contiguous f32 tensor (k_map.cuh).
#include "gpu_impl.h"
#include "k_bcast.cuh"
#include "k_map.cuh"

namespace {

dlt_status binary_cuda(const dlt_kctx *k)
{
    switch (DLT_CATTR(k->node, bin_attr)->kind) {
    case BIN_ADD: return bin_run<OP_ADD>(k);
    case BIN_SUB: return bin_run<OP_SUB>(k);
    case BIN_MUL: return bin_run<OP_MUL>(k);
    case BIN_DIV: return bin_run<OP_DIV>(k);
    default: return dlt_seterr(DLT_ERR_INTERNAL, "binary kind %d out of range", DLT_CATTR(k->node, bin_attr)->kind);
    }
}

// ---------------------------------------------------------------- affine
// x * s + t rounded after each operation, as the CPU computes it (no FMA).
struct AffineF {
    float s, t;
    __device__ float operator()(int64_t, float x, float) const { return __fadd_rn(__fmul_rn(x, s), t); }
};

dlt_status affine_cuda(const dlt_kctx *k)
{
    const affine_attr *a = DLT_CATTR(k->node, affine_attr);
    AffineF f = {a->s, a->t};
    return map_launch<1>(k, "affine_kernel", dlt_shape_numel(k->out_shape[0]), (const float *)k->in[0],
                         (const float *)NULL, (float *)k->out[0], f);
}

} // namespace

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_binary[] = {
    {DLT_OP_ADD, binary_cuda, NULL},
    {DLT_OP_SUB, binary_cuda, NULL},
    {DLT_OP_MUL, binary_cuda, NULL},
    {DLT_OP_DIV, binary_cuda, NULL},
    {DLT_OP_AFFINE, affine_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
