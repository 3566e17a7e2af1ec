/* The CUDA emulation's runtime (see cuda_emu.h): launches, fibers, barriers,
 * the runtime calls the kernels make, and a reference GEMM for cuBLAS. */
#undef _FORTIFY_SOURCE /* its longjmp check rejects jumps between fiber stacks */
#include <cmath>
#include <vector>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#include "cuda_emu.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
char *emu_dyn_smem;

namespace {

const int kMaxThreads = 1024;
const size_t kStack = 256 * 1024;
const size_t kSmemOptinMax = 227 * 1024; /* an H100's opt-in limit */

struct fiber {
    jmp_buf jb;
    ucontext_t uc;
    char *stack;
    uint3 tid;
    int group;     /* barrier waited on, -1: runnable */
    unsigned gen;  /* that barrier's generation when the wait began */
    bool done;
    void *asan_fake; /* AddressSanitizer's fake stack while switched away */
};

struct group {
    int count, arrived;
    unsigned gen;
};

fiber fibers[kMaxThreads];
group groups[kMaxThreads / 32 + 1]; /* the warps, then the block */
uint64_t slots[kMaxThreads];
int nthreads, cur, block_group;
jmp_buf sched;
ucontext_t boot;
emu_body_fn body;
void *body_ctx;
cudaError_t last_error;
size_t smem_optin; /* largest cudaFuncSetAttribute opt-in */

/* AddressSanitizer is told of every switch between the scheduler's stack and
 * a fiber's (so it checks the fibers' stacks as stacks); no-ops otherwise. */
#ifdef __SANITIZE_ADDRESS__
void *main_fake;
const void *main_bottom;
size_t main_size;
void leaving_main(int t) { __sanitizer_start_switch_fiber(&main_fake, fibers[t].stack, kStack); }
void entered_fiber(int t) { __sanitizer_finish_switch_fiber(fibers[t].asan_fake, &main_bottom, &main_size); }
void leaving_fiber(int t) { __sanitizer_start_switch_fiber(&fibers[t].asan_fake, main_bottom, main_size); }
void entered_main() { __sanitizer_finish_switch_fiber(main_fake, nullptr, nullptr); }
#else
void leaving_main(int) {}
void entered_fiber(int) {}
void leaving_fiber(int) {}
void entered_main() {}
#endif

void to_scheduler()
{
    if (!_setjmp(fibers[cur].jb)) {
        leaving_fiber(cur);
        _longjmp(sched, 1);
    }
    entered_fiber(cur);
}

void arrive(int g)
{
    group &G = groups[g];
    if (++G.arrived >= G.count) {
        G.arrived = 0;
        G.gen++;
        return;
    }
    fibers[cur].group = g;
    fibers[cur].gen = G.gen;
    to_scheduler();
}

/* A thread that returns no longer counts at barriers (as on a GPU). */
void leave(int g)
{
    group &G = groups[g];
    if (--G.count > 0 && G.arrived >= G.count) {
        G.arrived = 0;
        G.gen++;
    }
}

void fiber_main()
{
    entered_fiber(cur);
    if (!_setjmp(fibers[cur].jb)) {
        leaving_fiber(cur);
        swapcontext(&fibers[cur].uc, &boot);
    }
    entered_fiber(cur); /* resumed by the scheduler */
    for (;;) {
        body(body_ctx);
        fiber &f = fibers[cur];
        f.done = true;
        leave(cur / 32);
        leave(block_group);
        to_scheduler();
    }
}

void start_fiber(int t)
{
    fiber &f = fibers[t];
    if (f.stack)
        return;
    f.stack = (char *)malloc(kStack);
    if (!f.stack) {
        fprintf(stderr, "cuda_emu: out of memory for fiber stacks\n");
        abort();
    }
    getcontext(&f.uc);
    f.uc.uc_stack.ss_sp = f.stack;
    f.uc.uc_stack.ss_size = kStack;
    f.uc.uc_link = nullptr;
    makecontext(&f.uc, fiber_main, 0);
    cur = t;
    leaving_main(t);
    swapcontext(&boot, &f.uc);
    entered_main();
}

/* Out of line: no local of the scheduler loop lives across the jumps. */
__attribute__((noinline)) void resume(int t)
{
    if (!_setjmp(sched)) {
        leaving_main(t);
        _longjmp(fibers[t].jb, 1);
    }
    entered_main();
}

void run_block()
{
    for (int w = 0; w * 32 < nthreads; w++)
        groups[w] = {nthreads - w * 32 < 32 ? nthreads - w * 32 : 32, 0, 0};
    block_group = (nthreads + 31) / 32;
    groups[block_group] = {nthreads, 0, 0};
    for (int t = 0; t < nthreads; t++) {
        fiber &f = fibers[t];
        f.group = -1;
        f.done = false;
    }
    for (;;) {
        int alive = 0, ran = 0;
        for (int t = 0; t < nthreads; t++) {
            fiber &f = fibers[t];
            if (f.done)
                continue;
            alive++;
            if (f.group >= 0 && groups[f.group].gen == f.gen)
                continue;
            f.group = -1;
            cur = t;
            threadIdx = f.tid;
            ran++;
            resume(t);
        }
        if (!alive)
            return;
        if (!ran) {
            fprintf(stderr, "cuda_emu: deadlock in block (%u,%u,%u): threads wait at different barriers\n",
                    blockIdx.x, blockIdx.y, blockIdx.z);
            abort();
        }
    }
}

} // namespace

void emu_syncthreads(void) { arrive(block_group); }

uint64_t emu_shuffle(uint64_t v, int src)
{
    int w = cur / 32, i = w * 32 + src;
    slots[cur] = v;
    arrive(w);
    uint64_t r = src >= 0 && src < 32 && i < nthreads ? slots[i] : v;
    arrive(w);
    return r;
}

void emu_launch(const emu_cfg &c, emu_body_fn b, void *ctx)
{
    unsigned long long nt = (unsigned long long)c.block.x * c.block.y * c.block.z;
    /* The launch does not know its kernel's address: any opt-in counts. */
    size_t limit = smem_optin > 48 * 1024 ? smem_optin : 48 * 1024;
    if (nt == 0 || nt > kMaxThreads || c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 || c.grid.y > 65535 ||
        c.grid.z > 65535 || c.block.z > 64 || c.smem > limit) {
        last_error = cudaErrorInvalidConfiguration;
        return;
    }
    static char *smem;
    if (!smem)
        smem = (char *)aligned_alloc(256, kSmemOptinMax);
    emu_dyn_smem = smem;
    nthreads = (int)nt;
    for (int t = 0; t < nthreads; t++)
        start_fiber(t);
    blockDim = c.block;
    gridDim = c.grid;
    body = b;
    body_ctx = ctx;
    for (int t = 0; t < nthreads; t++)
        fibers[t].tid = dim3(t % c.block.x, t / c.block.x % c.block.y, t / (c.block.x * c.block.y));
    for (unsigned z = 0; z < c.grid.z; z++)
        for (unsigned y = 0; y < c.grid.y; y++)
            for (unsigned x = 0; x < c.grid.x; x++) {
                blockIdx = dim3(x, y, z);
                memset(smem, 0xff, c.smem); /* NaN: reads of unwritten shared memory show */
                run_block();
            }
}

extern "C" {

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    default: return "unknown error";
    }
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind, cudaStream_t)
{
    if (n && emu_capturing())
        emu_defer([=]() { memmove(dst, src, n); });
    else if (n)
        memmove(dst, src, n);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *dst, int byte, size_t n, cudaStream_t)
{
    if (emu_capturing())
        emu_defer([=]() { memset(dst, byte, n); });
    else
        memset(dst, byte, n);
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int)
{
    if (a != cudaDevAttrMaxSharedMemoryPerBlockOptin)
        return cudaErrorInvalidValue;
    *v = (int)kSmemOptinMax;
    return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void *, cudaFuncAttribute a, int v)
{
    if (a != cudaFuncAttributeMaxDynamicSharedMemorySize || v < 0 || (size_t)v > kSmemOptinMax)
        return last_error = cudaErrorInvalidValue;
    if ((size_t)v > smem_optin)
        smem_optin = (size_t)v;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *dev)
{
    *dev = 0;
    return cudaSuccess;
}

/* What the tensor cores see of an f32 input under a FAST compute type: x
 * rounded to nearest even at 10 (tf32, f16) or 7 (bf16) mantissa bits; f16
 * also has a range: overflow to inf at 65520, subnormal steps of 2^-24. */
struct emu_graph {
    std::vector<std::function<void()>> work;
};
static emu_graph *capture; /* the open capture, or NULL */

cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode)
{
    if (capture)
        return last_error = cudaErrorIllegalState;
    capture = new emu_graph;
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t *graph)
{
    if (!capture)
        return last_error = cudaErrorIllegalState;
    *graph = capture;
    capture = nullptr;
    return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long)
{
    *exec = new emu_graph(*graph);
    return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t)
{
    if (capture) /* a graph launched into a capture would nest: not emulated */
        return last_error = cudaErrorStreamCaptureUnsupported;
    for (auto &w : exec->work)
        w();
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec)
{
    delete exec;
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph)
{
    delete graph;
    return cudaSuccess;
}

float emu_tensor_core_input(float x, cublasComputeType_t ct)
{
    if (ct == CUBLAS_COMPUTE_32F || !std::isfinite(x) || x == 0.f)
        return x;
    int mant = ct == CUBLAS_COMPUTE_32F_FAST_16BF ? 7 : 10, e;
    double ax = std::fabs((double)x);
    if (ct == CUBLAS_COMPUTE_32F_FAST_16F && ax >= 65520.0)
        return x > 0 ? INFINITY : -INFINITY;
    std::frexp(ax, &e); /* ax = f * 2^e, f in [0.5, 1): the leading bit is 2^(e-1) */
    int q = e - 1 - mant;
    if (ct == CUBLAS_COMPUTE_32F_FAST_16F && q < -24)
        q = -24;
    double quantum = std::ldexp(1.0, q);
    return (float)(std::nearbyint((double)x / quantum) * quantum);
}

static cublasStatus_t gemm_now(cublasOperation_t ta, cublasOperation_t tb, int m,
                                          int n, int k, float al, const void *a, cudaDataType at,
                                          int lda, long long sa, const void *b, cudaDataType bt, int ldb,
                                          long long sb, float be, void *c, cudaDataType ct, int ldc,
                                          long long sc, int count, cublasComputeType_t comp)
{
    if (at != CUDA_R_32F || bt != CUDA_R_32F || ct != CUDA_R_32F || m < 0 || n < 0 || k < 0 || count < 0 ||
        ldc < (m > 1 ? m : 1) || lda < (ta == CUBLAS_OP_N ? (m > 1 ? m : 1) : (k > 1 ? k : 1)) ||
        ldb < (tb == CUBLAS_OP_N ? (k > 1 ? k : 1) : (n > 1 ? n : 1)))
        return CUBLAS_STATUS_INVALID_VALUE;
    for (int s = 0; s < count; s++) {
        const float *A = (const float *)a + s * sa, *B = (const float *)b + s * sb;
        float *C = (float *)c + s * sc;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double acc = 0;
                for (int l = 0; l < k; l++) {
                    float x = ta == CUBLAS_OP_N ? A[i + (long long)l * lda] : A[l + (long long)i * lda];
                    float y = tb == CUBLAS_OP_N ? B[l + (long long)j * ldb] : B[j + (long long)l * ldb];
                    acc += (double)emu_tensor_core_input(x, comp) * emu_tensor_core_input(y, comp);
                }
                float *p = &C[i + (long long)j * ldc];
                *p = (float)(al * acc + (be == 0 ? 0.0 : (double)be * *p)); /* beta 0: C is not read */
            }
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m,
                                          int n, int k, const void *alpha, const void *a, cudaDataType at,
                                          int lda, long long sa, const void *b, cudaDataType bt, int ldb,
                                          long long sb, const void *beta, void *c, cudaDataType ct, int ldc,
                                          long long sc, int count, cublasComputeType_t comp, cublasGemmAlgo_t)
{
    /* alpha and beta are host scalars: read at the call, as cuBLAS does */
    float al = *(const float *)alpha, be = *(const float *)beta;
    if (!emu_capturing())
        return gemm_now(ta, tb, m, n, k, al, a, at, lda, sa, b, bt, ldb, sb, be, c, ct, ldc, sc, count, comp);
    /* recorded: the arguments are checked now (count 0 runs nothing) */
    cublasStatus_t st = gemm_now(ta, tb, m, n, k, al, a, at, lda, sa, b, bt, ldb, sb, be, c, ct, ldc, sc, 0, comp);
    if (st != CUBLAS_STATUS_SUCCESS || count < 0)
        return st != CUBLAS_STATUS_SUCCESS ? st : CUBLAS_STATUS_INVALID_VALUE;
    emu_defer([=]() { gemm_now(ta, tb, m, n, k, al, a, at, lda, sa, b, bt, ldb, sb, be, c, ct, ldc, sc, count, comp); });
    return CUBLAS_STATUS_SUCCESS;
}

} // extern "C"

bool emu_capturing(void) { return capture != nullptr; }

void emu_defer(std::function<void()> work) { capture->work.push_back(std::move(work)); }
