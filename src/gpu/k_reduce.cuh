// Shared by the kernel files that reduce (k_reduce.cu, k_reduce_ext.cu,
// k_softmax.cu, k_metric.cu, k_loss.cu, k_loss_pw.cu; k_core.cu and k_optim.cu
// use the block sum): deterministic warp/block reductions, a "team" (1 thread,
// a warp or a whole block) that reduces one group of elements, and the sum
// plan (k_reduce.cu). C++ only.
#ifndef DLT_K_REDUCE_CUH
#define DLT_K_REDUCE_CUH

#include "dlt_ops.h"
#include "gpu_impl.h"

extern "C" {
#include "ops_util.h"
}
#include "loss_impl.h"
#include "reduce_impl.h"

namespace dlt_kred
{

const int kThreads = 256; // every kernel of the family runs blocks of this size

// Butterfly sum: every lane ends with the same bits (a + b == b + a), so the
// result does not depend on which lane reads it.
template <typename T> __device__ inline T warp_sum(T v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <typename T> __device__ inline T warp_max(T v)
{
    for (int o = 16; o > 0; o >>= 1) {
        T w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}

// Sum over the block (blockDim.x a multiple of 32); every thread gets it.
// Every thread of the block must call it. The first barrier keeps a previous
// call's readers of `s` from seeing this call's writes.
template <typename T> __device__ inline T block_sum(T v)
{
    __shared__ T s[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0)
        s[w] = v;
    __syncthreads();
    return warp_sum(lane < nw ? s[lane] : T(0));
}

template <typename T> __device__ inline T block_max(T v)
{
    __shared__ T s[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0)
        s[w] = v;
    __syncthreads();
    T t = s[0];
    return warp_max(lane < nw ? s[lane] : t);
}

// A team of TEAM threads (1, 32 or kThreads = the block) shares one group.
// rank: this thread's index in its team; team_id / team_count: the grid's teams.
template <int TEAM> __device__ inline int team_rank()
{
    return TEAM == 1 ? 0 : (int)(threadIdx.x % TEAM);
}
template <int TEAM> __device__ inline int64_t team_id()
{
    return ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / TEAM;
}
template <int TEAM> __device__ inline int64_t team_count()
{
    return (int64_t)gridDim.x * blockDim.x / TEAM;
}

template <int TEAM, typename T> __device__ inline T team_sum(T v)
{
    if constexpr (TEAM == 1)
        return v;
    else if constexpr (TEAM == 32)
        return warp_sum(v);
    else
        return block_sum(v);
}
template <int TEAM, typename T> __device__ inline T team_max(T v)
{
    if constexpr (TEAM == 1)
        return v;
    else if constexpr (TEAM == 32)
        return warp_max(v);
    else
        return block_max(v);
}

// Blocks for `ngroups` groups handled by teams of `team` threads (at least 1,
// at most 32 blocks per SM; the team loops stride over the rest).
inline unsigned team_blocks(const struct dlt_gpu *g, int64_t ngroups, int team)
{
    return dlt_gpu_blocks(g, ngroups * team, kThreads);
}

// ---- reduce groups of an arbitrary layout (max, var): kept and reduced axes
// with size-1 axes dropped and contiguous runs merged; the reduced axes in
// row-major order (so increasing index = increasing offset).
// The nest is reduce_impl.h's, shared with the CPU kernels.
typedef dlt_red_nest Geom;
void geom_make(const dlt_shape *s, const unsigned char *reduce, Geom *gm);

__device__ inline int64_t mixed_off(int n, const int64_t *dim, const int64_t *str, int64_t i)
{
    int64_t off = 0;
    for (int j = n - 1; j >= 0; j--) {
        off += (i % dim[j]) * str[j];
        i /= dim[j];
    }
    return off;
}

// ---- the sum of a contiguous tensor over a set of axes (sum op, reused).
// One pass per run of reduced axes (innermost first), each a [outer, r, inner]
// reduction; a long r is split into S chunks whose double partial sums a
// second launch adds up. Intermediate results are double.
struct SumPass {
    int64_t outer, r, inner, S, chunk;
};
struct SumPlan {
    int np;
    SumPass p[DLT_MAX_DIMS];
    int64_t nout, nred;
    size_t buf_elems[2], part_elems; // doubles: ping-pong buffers, split partials
    size_t bytes;                    // workspace
};
void sum_plan(const dlt_shape *s, const unsigned char *reduce, SumPlan *pl);
// y = scale * sum(x) over the plan's axes; x is float or (x_double) double.
dlt_status sum_run(const dlt_kctx *k, const SumPlan *pl, const void *x, int x_double, float *y,
                   double scale, void *work);

} // namespace dlt_kred

#endif
