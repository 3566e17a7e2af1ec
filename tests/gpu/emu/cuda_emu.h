/* CUDA on the CPU, for tests: enough of the CUDA runtime, cuBLAS and cuDNN
 * for src/gpu/k_*.cu to compile as C++17 with the host compiler and run on the
 * host (tests/gpu/local.mk turns each .cu into a .cc with cu2cc.sed). Blocks run
 * one after another; the threads of a block are fibers on one OS thread that
 * switch only at barriers (__syncthreads, warp shuffles), so shared memory and
 * atomics need no locking. A barrier that not every live thread of the block
 * (or warp) reaches aborts with "deadlock": divergent __syncthreads is a kernel
 * bug on a GPU too. */
#ifndef DLT_CUDA_EMU_H
#define DLT_CUDA_EMU_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
/* One copy per block: blocks run in turn, the fibers of a block share it. */
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef dim3 uint3;
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(16) double2 { double x, y; };
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
static inline double2 make_double2(double x, double y) { return double2{x, y}; }
using std::isfinite;
using std::isinf;
using std::isnan;
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
static const int warpSize = 32;

/* ---------------------------------------------------------------- runtime types */
typedef int cudaError_t;
enum { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2,
       cudaErrorInvalidConfiguration = 9 };
typedef struct emu_stream *cudaStream_t;
typedef struct emu_event *cudaEvent_t;
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost,
                      cudaMemcpyDeviceToDevice, cudaMemcpyDefault };
enum cudaDeviceAttr { cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDataType { CUDA_R_32F = 0 };
typedef struct emu_graph *cudaGraph_t;
typedef struct emu_graph *cudaGraphExec_t;
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal = 0, cudaStreamCaptureModeThreadLocal = 1,
                             cudaStreamCaptureModeRelaxed = 2 };
enum { cudaErrorStreamCaptureUnsupported = 900, cudaErrorIllegalState = 401 };
typedef cudaDataType cudaDataType_t;

/* ---------------------------------------------------------------- cuBLAS / cuDNN stubs */
typedef struct emu_cublas *cublasHandle_t;
typedef struct emu_cublaslt *cublasLtHandle_t;
typedef struct emu_cudnn *cudnnHandle_t;
typedef enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_INVALID_VALUE = 7 } cublasStatus_t;
typedef enum {
    CUDNN_STATUS_SUCCESS = 0,
    CUDNN_STATUS_BAD_PARAM = 3,
    CUDNN_STATUS_NOT_SUPPORTED = 9,
    CUDNN_STATUS_EXECUTION_FAILED = 11
} cudnnStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum {
    CUBLAS_COMPUTE_32F = 68,
    CUBLAS_COMPUTE_32F_FAST_16F = 74,
    CUBLAS_COMPUTE_32F_FAST_16BF = 75,
    CUBLAS_COMPUTE_32F_FAST_TF32 = 77
} cublasComputeType_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;

extern "C" {
cudaError_t cudaGetLastError(void);
const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemsetAsync(void *dst, int byte, size_t n, cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int dev);
cudaError_t cudaFuncSetAttribute(const void *fn, cudaFuncAttribute a, int v);
cudaError_t cudaGetDevice(int *dev);
/* Stream capture: between Begin and End the work below (launches, async
 * copies and memsets, cuBLAS and cuDNN calls) is recorded instead of run; an
 * instantiated graph runs the record in order on each launch. */
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
/* Column-major like cuBLAS; accumulates in double. */
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                          int n, int k, const void *alpha, const void *a, cudaDataType at,
                                          int lda, long long sa, const void *b, cudaDataType bt, int ldb,
                                          long long sb, const void *beta, void *c, cudaDataType ct, int ldc,
                                          long long sc, int count, cublasComputeType_t comp,
                                          cublasGemmAlgo_t algo);
/* x as the tensor cores read it under compute type ct (FAST_TF32/16BF/16F:
 * rounded to nearest even; 32F: unchanged). Also cuDNN's math types. */
float emu_tensor_core_input(float x, cublasComputeType_t ct);
}
/* Whether a capture is open, and how emulated work is recorded during one. */
bool emu_capturing(void);
void emu_defer(std::function<void()> work);

template <class T>
static inline cudaError_t cudaMemcpyFromSymbolAsync(void *dst, const T &sym, size_t n, size_t off,
                                                    cudaMemcpyKind, cudaStream_t)
{
    std::memcpy(dst, (const char *)&sym + off, n);
    return cudaSuccess;
}
template <class T>
static inline cudaError_t cudaMemcpyToSymbolAsync(T &sym, const void *src, size_t n, size_t off,
                                                  cudaMemcpyKind, cudaStream_t)
{
    std::memcpy((char *)&sym + off, src, n);
    return cudaSuccess;
}

/* ---------------------------------------------------------------- barriers, shuffles */
void emu_syncthreads(void);
/* Exchanges 8 bytes with the lane `src` of this warp (own value when src < 0). */
uint64_t emu_shuffle(uint64_t v, int src);
static inline void __syncthreads() { emu_syncthreads(); }
static inline int emu_lane() { return (int)((threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) & 31); }
template <class T> static inline T emu_shfl(T v, int src)
{
    static_assert(sizeof(T) <= 8, "shuffle of more than 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof v);
    b = emu_shuffle(b, src);
    T r;
    std::memcpy(&r, &b, sizeof r);
    return r;
}
template <class T> static inline T __shfl_sync(unsigned, T v, int src, int w = 32)
{
    return emu_shfl(v, (emu_lane() & ~(w - 1)) + (src & (w - 1)));
}
template <class T> static inline T __shfl_xor_sync(unsigned, T v, int m, int w = 32)
{
    int l = emu_lane(), s = l ^ m;
    return emu_shfl(v, (s & ~(w - 1)) == (l & ~(w - 1)) ? s : l);
}
template <class T> static inline T __shfl_down_sync(unsigned, T v, unsigned d, int w = 32)
{
    int l = emu_lane();
    return emu_shfl(v, (l & (w - 1)) + (int)d < w ? l + (int)d : l);
}
template <class T> static inline T __shfl_up_sync(unsigned, T v, unsigned d, int w = 32)
{
    int l = emu_lane();
    return emu_shfl(v, (l & (w - 1)) >= (int)d ? l - (int)d : l);
}

/* Fibers switch only at barriers, so read-modify-write is atomic. */
template <class T> static inline T atomicAdd(T *p, T v) { T o = *p; *p = o + v; return o; }
template <class T> static inline T atomicMax(T *p, T v) { T o = *p; *p = o < v ? v : o; return o; }
template <class T> static inline T atomicMin(T *p, T v) { T o = *p; *p = v < o ? v : o; return o; }
template <class T> static inline T atomicExch(T *p, T v) { T o = *p; *p = v; return o; }
template <class T> static inline T atomicCAS(T *p, T cmp, T v) { T o = *p; if (o == cmp) *p = v; return o; }

/* Round-to-nearest without contraction into an FMA (the host compiler may fuse a*b+c). */
static inline float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
static inline float __fsub_rn(float a, float b) { volatile float r = a - b; return r; }
static inline float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
static inline float __fdiv_rn(float a, float b) { volatile float r = a / b; return r; }
static inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
template <class T> static inline T __ldg(const T *p) { return *p; }

/* ---------------------------------------------------------------- launches */
/* cu2cc.awk turns `k<<<g, b, smem, s>>>(args)` into
 * `emu_launcher([](auto &&...emu_a) { k(emu_a...); }, emu_cfg(g, b, smem, s))(args)`:
 * the lambda calls k as the launch would, templates deduced from the arguments. */
struct emu_cfg {
    dim3 grid, block;
    size_t smem;
    emu_cfg(dim3 g, dim3 b, size_t s = 0, cudaStream_t = nullptr) : grid(g), block(b), smem(s) {}
};
typedef void (*emu_body_fn)(void *);
/* Runs body(ctx) as every thread of every block; sets the error cudaGetLastError reports. */
void emu_launch(const emu_cfg &c, emu_body_fn body, void *ctx);
/* Dynamic shared memory of the running block (extern __shared__). */
extern char *emu_dyn_smem;

template <class L, class Tup> struct emu_call {
    L l;
    const Tup *args;
    /* Each thread gets its own copy of the parameters (the kernel takes them by value). */
    static void run(void *p)
    {
        emu_call *c = (emu_call *)p;
        std::apply(c->l, *c->args);
    }
};
template <class L> struct emu_launcher {
    L l;
    emu_cfg c;
    emu_launcher(L l_, const emu_cfg &c_) : l(l_), c(c_) {}
    template <class... A> void operator()(A &&...a) const
    {
        typedef std::tuple<typename std::decay<A>::type...> Tup;
        /* the arguments are copied at the launch, as the CUDA runtime does */
        std::shared_ptr<const Tup> args = std::make_shared<const Tup>(std::forward<A>(a)...);
        L fn = l;
        emu_cfg cfg = c;
        auto run = [fn, cfg, args]() {
            emu_call<L, Tup> call{fn, args.get()};
            emu_launch(cfg, emu_call<L, Tup>::run, &call);
        };
        if (emu_capturing())
            emu_defer(run);
        else
            run();
    }
};

#endif
