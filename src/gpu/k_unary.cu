// GPU kernels of the unary family (unary.c): the unary kinds and their
// derivatives, the math shared with the CPU through unary_math.h, each a map
// over contiguous f32 tensors (k_map.cuh); pow_tensor, whose exponent
// broadcasts, runs the binary ops' broadcasting kernels (k_bcast.cuh).
#include "gpu_impl.h"

#define DLT_EW_FLOAT 1 // float math on the GPU (see unary_math.h)
#include "k_bcast.cuh"
#include "k_map.cuh"
#include "unary_math.h"

namespace {

// ---------------------------------------------------------------- unary kinds
// Forward (NIN 1): f(x), and f'(x) into output 1 where the op has one and the
// plan gives it storage. Derivative (NIN 2, p0 = dy, p1 = x): dy * f^(k)(x).
template <int KIND, bool DER>
struct EwF {
    int order;
    float a, b;
    __device__ float operator()(int64_t, float p0, float p1) const
    {
        if (DER)
            return p0 * dlt_ew_eval(KIND, order, a, b, p1);
        return dlt_ew_eval(KIND, order, a, b, p0);
    }
};

template <int KIND>
dlt_status ew_launch(const dlt_kctx *k, const dlt_ew_attr *at, int64_t n)
{
    float *y = (float *)k->out[0];
    if (k->node->nin == 2) {
        EwF<KIND, true> f = {at->order, at->a, at->b};
        return map_launch<2>(k, "ew_grad_kernel", n, (const float *)k->in[0], (const float *)k->in[1], y, f);
    }
    if (k->node->op->nout == 2 && k->out[1]) {
        // a forward that keeps f'(x) (unary.c's EW_DEFS_D1): d first, as y may be x
        EwF<KIND, false> f1 = {1, at->a, at->b};
        dlt_status st =
            map_launch<1>(k, "ew_d1_kernel", n, (const float *)k->in[0], (const float *)NULL, (float *)k->out[1], f1);
        if (st != DLT_OK)
            return st;
    }
    EwF<KIND, false> f = {at->order, at->a, at->b};
    return map_launch<1>(k, "ew_kernel", n, (const float *)k->in[0], (const float *)NULL, y, f);
}

// "<name>" (x) and "<name>_grad" (dy, x) for every kind; the kind is a template
// argument so each kernel holds only its own function.
dlt_status ew_cuda(const dlt_kctx *k)
{
    const dlt_ew_attr *at = DLT_CATTR(k->node, dlt_ew_attr);
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    switch (at->kind) {
    case DLT_EW_EXP: return ew_launch<DLT_EW_EXP>(k, at, n);
    case DLT_EW_LOG: return ew_launch<DLT_EW_LOG>(k, at, n);
    case DLT_EW_SQRT: return ew_launch<DLT_EW_SQRT>(k, at, n);
    case DLT_EW_RSQRT: return ew_launch<DLT_EW_RSQRT>(k, at, n);
    case DLT_EW_POW: return ew_launch<DLT_EW_POW>(k, at, n);
    case DLT_EW_ABS: return ew_launch<DLT_EW_ABS>(k, at, n);
    case DLT_EW_CLAMP: return ew_launch<DLT_EW_CLAMP>(k, at, n);
    case DLT_EW_SQUARE: return ew_launch<DLT_EW_SQUARE>(k, at, n);
    case DLT_EW_LEAKY_RELU: return ew_launch<DLT_EW_LEAKY_RELU>(k, at, n);
    case DLT_EW_ELU: return ew_launch<DLT_EW_ELU>(k, at, n);
    case DLT_EW_SELU: return ew_launch<DLT_EW_SELU>(k, at, n);
    case DLT_EW_GELU: return ew_launch<DLT_EW_GELU>(k, at, n);
    case DLT_EW_GELU_TANH: return ew_launch<DLT_EW_GELU_TANH>(k, at, n);
    case DLT_EW_SIGMOID: return ew_launch<DLT_EW_SIGMOID>(k, at, n);
    case DLT_EW_TANH: return ew_launch<DLT_EW_TANH>(k, at, n);
    case DLT_EW_SOFTPLUS: return ew_launch<DLT_EW_SOFTPLUS>(k, at, n);
    default: return dlt_seterr(DLT_ERR_INTERNAL, "elementwise kind %d out of range", at->kind);
    }
}

dlt_status pow_tensor_cuda(const dlt_kctx *k) { return bin_run<OP_POW>(k); }

} // namespace

#define EW_ENTRIES(ID) {DLT_OP_##ID, ew_cuda, NULL}, {DLT_OP_##ID##_GRAD, ew_cuda, NULL}

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_unary[] = {
    EW_ENTRIES(EXP),
    EW_ENTRIES(LOG),
    EW_ENTRIES(SQRT),
    EW_ENTRIES(RSQRT),
    EW_ENTRIES(POW),
    EW_ENTRIES(ABS),
    EW_ENTRIES(CLAMP),
    EW_ENTRIES(SQUARE),
    EW_ENTRIES(LEAKY_RELU),
    EW_ENTRIES(ELU),
    EW_ENTRIES(SELU),
    EW_ENTRIES(GELU),
    EW_ENTRIES(GELU_TANH),
    EW_ENTRIES(SIGMOID),
    EW_ENTRIES(TANH),
    EW_ENTRIES(SOFTPLUS),
    {DLT_OP_POW_TENSOR, pow_tensor_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
