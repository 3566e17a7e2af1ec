// GPU kernels of the elementwise family: the unary kinds and their derivatives
// (unary.c, the math shared through unary_math.h), relu, prelu, dropout,
// affine; the binary ops are in k_binary.cu. Every kernel here is a
// map over contiguous f32 tensors of the same size: y[i] = f(i, in0[i], in1[i]).
#include "gpu_impl.h"

#define DLT_EW_FLOAT 1 // float math on the GPU (see unary_math.h)
#include "binary_impl.h"
#include "dropout_impl.h"
#include "unary_math.h"

extern "C" dlt_status dlt_gpu_ew_binary(const dlt_kctx *k);
extern "C" dlt_status dlt_gpu_ew_pow_tensor(const dlt_kctx *k);

namespace {

const int kThreads = 256;

// y[i] = f(i, p0[i], p1[i]) (p1 read only when NIN == 2). y may alias p0 or p1:
// each element is read and written by one thread at one index. VEC: every
// pointer is 16-byte aligned, so four elements move as one float4; the n % 4
// tail is done by the first threads of the grid.
template <int NIN, bool VEC, class F>
__global__ void map_kernel(int64_t n, const float *p0, const float *p1, float *y, F f)
{
    int64_t t0 = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
    if (VEC) {
        int64_t nv = n >> 2;
        for (int64_t v = t0; v < nv; v += stride) {
            float4 a = reinterpret_cast<const float4 *>(p0)[v], b = a;
            if (NIN == 2)
                b = reinterpret_cast<const float4 *>(p1)[v];
            int64_t i = v * 4;
            float4 r;
            r.x = f(i, a.x, b.x);
            r.y = f(i + 1, a.y, b.y);
            r.z = f(i + 2, a.z, b.z);
            r.w = f(i + 3, a.w, b.w);
            reinterpret_cast<float4 *>(y)[v] = r;
        }
        int64_t i = nv * 4 + t0;
        if (i < n) {
            float a = p0[i];
            y[i] = f(i, a, NIN == 2 ? p1[i] : a);
        }
    } else {
        for (int64_t i = t0; i < n; i += stride) {
            float a = p0[i];
            y[i] = f(i, a, NIN == 2 ? p1[i] : a);
        }
    }
}

inline bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

template <int NIN, class F>
dlt_status map_launch(const dlt_kctx *k, const char *name, int64_t n, const float *p0, const float *p1,
                      float *y, F f)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    if (n <= 0)
        return DLT_OK;
    if (aligned16(p0) && (NIN == 1 || aligned16(p1)) && aligned16(y)) {
        int64_t nv = n >> 2;
        map_kernel<NIN, true, F><<<dlt_gpu_blocks(g, nv > 0 ? nv : 1, kThreads), kThreads, 0, g->stream>>>(
            n, p0, p1, y, f);
    } else {
        map_kernel<NIN, false, F><<<dlt_gpu_blocks(g, n, kThreads), kThreads, 0, g->stream>>>(n, p0, p1, y, f);
    }
    return dlt_gpu_launched(k, name);
}

// ---------------------------------------------------------------- unary kinds
// Forward (NIN 1): f(x). Derivative (NIN 2, p0 = dy, p1 = x): dy * f^(k)(x).
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

#define EW_ENTRIES(ID) {DLT_OP_##ID, ew_cuda, NULL}, {DLT_OP_##ID##_GRAD, ew_cuda, NULL}

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_elementwise[] = {
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
    {DLT_OP_POW_TENSOR, dlt_gpu_ew_pow_tensor, NULL},
    {DLT_OP_RELU, relu_cuda, NULL},
    {DLT_OP_RELU_GRAD, relu_grad_cuda, NULL},
    {DLT_OP_PRELU, prelu_cuda, NULL},
    {DLT_OP_PRELU_DX, prelu_cuda, NULL},
    {DLT_OP_ADD, dlt_gpu_ew_binary, NULL},
    {DLT_OP_SUB, dlt_gpu_ew_binary, NULL},
    {DLT_OP_MUL, dlt_gpu_ew_binary, NULL},
    {DLT_OP_DIV, dlt_gpu_ew_binary, NULL},
    {DLT_OP_AFFINE, affine_cuda, NULL},
    {DLT_OP_DROPOUT, dropout_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
