// Shared by the attention kernel files (k_attention.cu: forward, host glue and
// table; k_attention_bwd.cu: backward). Device code only sees attn_dev, a
// by-value copy of everything a kernel needs, so no host structure is read.
#ifndef DLT_K_ATTENTION_CUH
#define DLT_K_ATTENTION_CUH

#include <math.h>

#include "attention_impl.h"
#include "gpu_impl.h"

// Tiled kernels: 8 warps; each warp owns FA_RPW rows of the block's tile and
// each lane one key (forward, dq) or one query (dk/dv) of a 32-wide tile, so a
// score row is reduced with warp shuffles and never goes through shared memory.
#define FA_THREADS 256
#define FA_WARPS 8
#define FA_RPW 8
#define FA_ROWS (FA_WARPS * FA_RPW) /* rows owned by a block: 64 */
#define FA_COLS 32                  /* the lane dimension of a tile */
#define FA_MAXNC 4                  /* head sizes up to 4 x 32 on the tiled path */
// Wider heads use the row kernels: one warp per row, columns in chunks.
#define FA_CHUNK 8 /* columns per lane per pass: 256 per warp */

struct attn_dev {
    int64_t B, H, Tq, Tk;
    int64_t Hin; // heads per row of q, k, v and their gradients: H, or 3H packed
    int D, Dv, bthd;
    float scale;
    int causal;
    int mask_kind;
    const void *mask;
    int drop;
    float p, keep_scale;
    uint64_t seed, stream; // set on the device by fa_rng
    const uint64_t *run;   // dlt_kctx.run_dev: {seed, step} of the run
    uint64_t id;           // the op's RNG id (attn_attr.id)
    dlt_gpu_flag *flag;    // the device's input-error flag (a key length out of range)
};

// The dropout key of this run, read on the device from dlt_kctx.run_dev at
// the start of every kernel that draws (so a CUDA graph replays each run's
// masks): the CPU's seed and attn_stream(id, step).
static __device__ __forceinline__ void fa_rng(attn_dev &a)
{
    if (a.drop && a.run) {
        a.seed = a.run[0];
        a.stream = attn_stream(a.id, (int64_t)a.run[1]);
    }
}

// Offset of row t of head (b, h) in a tensor of T rows of width W (either
// layout) with hs heads per row (BTHD).
static __device__ __forceinline__ int64_t fa_row_hs(const attn_dev &a, int64_t hs, int64_t b, int64_t h,
                                                     int64_t T, int64_t W, int64_t t)
{
    return a.bthd ? ((b * T + t) * hs + h) * W : ((b * a.H + h) * T + t) * W;
}
// ... of q, k, v and their gradients (Hin heads per row; k's and v's pointers
// start at their heads, attention_impl.h's hk and hv)
static __device__ __forceinline__ int64_t fa_row(const attn_dev &a, int64_t b, int64_t h, int64_t T,
                                                  int64_t W, int64_t t)
{
    return fa_row_hs(a, a.Hin, b, h, T, W, t);
}
// ... of o and dO (H heads per row)
static __device__ __forceinline__ int64_t fa_orow(const attn_dev &a, int64_t b, int64_t h, int64_t T,
                                                   int64_t W, int64_t t)
{
    return fa_row_hs(a, a.H, b, h, T, W, t);
}

// The scaled score of query i and key j (j < Tk) after the causal and padding
// masks, in the CPU's order (causal first, then the mask). A key length
// outside [0, Tk] acts clamped and is noted in the input-error flag (the CPU
// kernel refuses it).
static __device__ __forceinline__ float fa_mask(const attn_dev &a, int64_t b, int64_t i,
                                                 int64_t j, float s)
{
    if (a.causal && j > i)
        s = -INFINITY;
    switch (a.mask_kind) {
    case ATTN_MASK_LENGTHS: {
        int32_t len = ((const int32_t *)a.mask)[b];
        if (len < 0 || len > a.Tk)
            dlt_gpu_note(a.flag, b, len, DLT_BAD_KEY_LENGTH);
        if (j >= len)
            s = -INFINITY;
        break;
    }
    case ATTN_MASK_KEEP:
        if (!((const int32_t *)a.mask)[b * a.Tk + j])
            s = -INFINITY;
        break;
    case ATTN_MASK_ADD:
        s += ((const float *)a.mask)[b * a.Tk + j];
        break;
    default:
        break;
    }
    return s;
}

// The CPU's keep_elem: same counter, same stream, same comparison.
static __device__ __forceinline__ bool fa_keep(const attn_dev &a, int64_t b, int64_t h, int64_t i,
                                                int64_t j)
{
    uint64_t c = (uint64_t)(((b * a.H + h) * a.Tq + i) * a.Tk + j);
    return dlt_rng_uniform(a.seed, a.stream, c) >= a.p;
}

static __device__ __forceinline__ float fa_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float fa_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

static __device__ __forceinline__ double fa_warp_sum_d(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// x . y over n floats of global memory, by one warp (every lane gets the sum).
static __device__ __forceinline__ float fa_dot_warp(const float *x, const float *y, int n, int lane)
{
    float t = 0.f;
    for (int d = lane; d < n; d += 32)
        t += x[d] * y[d];
    return fa_warp_sum(t);
}

// Keys query i can see (exclusive end), before the padding mask.
static __device__ __forceinline__ int64_t fa_key_end(const attn_dev &a, int64_t i)
{
    return a.causal && i + 1 < a.Tk ? i + 1 : a.Tk;
}

#ifdef __cplusplus
extern "C" {
#endif
// Fill a from the kernel context; the forward's inputs are q, k, v [, mask].
dlt_status fa_setup(attn_dev *a, const dlt_kctx *k, const dlt_shape *mask_shape,
                    const void *mask);
// The backward (k_attention_bwd.cu) and its scratch bytes.
dlt_status fa_backward_cuda(const dlt_kctx *k);
size_t fa_backward_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out);
// Dynamic shared memory above 48 KiB needs an opt-in per kernel; fits: 1
// when the device allows that much for one block (else the row kernels run).
int fa_smem_fits(const dlt_kctx *k, size_t bytes);
// attn_pointers (attention_impl.h) of this node's geometry
attn_ptrs fa_pointers(const dlt_kctx *k, int backward);
dlt_status fa_smem_optin(const void *fn, size_t bytes, const dlt_kctx *k, const char *name);
#ifdef __cplusplus
}
#endif

#endif
