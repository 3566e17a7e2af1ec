// The fused optimizer step: one launch updates every parameter of the flat
// buffer with the per-element rules the CPU uses (src/optim/optim_elem.h).
// One block per tile; a tile lies inside one parameter, so the block reads
// that parameter's coefficients once.
#include "gpu_impl.h"
#include "k_reduce.cuh"
#include "dlt_optim.h"
#include "optim_elem.h"

using dlt_kred::block_sum;

template <int KIND>
static __global__ void optim_kernel(dlt_optim_dev_args a)
{
    int64_t tile = blockIdx.x;
    if (tile >= a.ntiles)
        return;
    int s = a.tile_seg[tile];
    const dlt_optim_coef c = a.coef[s];
    uint64_t end = a.seg_off[s] + a.seg_len[s], start = a.tile_start[tile];
    uint64_t stop = start + DLT_OPTIM_TILE < end ? start + DLT_OPTIM_TILE : end;
    float *p = a.params;
    const float *g = a.grads;
    for (uint64_t i = start + threadIdx.x; i < stop; i += blockDim.x) {
        if (KIND == DLT_OPTIM_SGD) {
            float *buf = a.slot[DLT_SLOT_MOMENTUM_BUFFER];
            dlt_sgd_elem(&c, &p[i], g[i], buf ? &buf[i] : NULL);
        } else if (KIND == DLT_OPTIM_ADAM) { // also AdamW: c.decoupled
            float *vmax = a.amsgrad ? a.slot[DLT_SLOT_MAX_EXP_AVG_SQ] + i : NULL;
            dlt_adam_elem(&c, &p[i], g[i], &a.slot[DLT_SLOT_EXP_AVG][i], &a.slot[DLT_SLOT_EXP_AVG_SQ][i], vmax);
        } else if (KIND == DLT_OPTIM_RMSPROP) {
            float *ga = a.centered ? a.slot[DLT_SLOT_GRAD_AVG] + i : NULL;
            float *buf = a.slot[DLT_SLOT_MOMENTUM_BUFFER] ? a.slot[DLT_SLOT_MOMENTUM_BUFFER] + i : NULL;
            dlt_rmsprop_elem(&c, &p[i], g[i], &a.slot[DLT_SLOT_SQUARE_AVG][i], ga, buf);
        } else if (KIND == DLT_OPTIM_ADADELTA) {
            dlt_adadelta_elem(&c, &p[i], g[i], &a.slot[DLT_SLOT_SQUARE_AVG][i], &a.slot[DLT_SLOT_ACC_DELTA][i]);
        } else if (KIND == DLT_OPTIM_ADAGRAD) {
            dlt_adagrad_elem(&c, &p[i], g[i], &a.slot[DLT_SLOT_SUM][i]);
        }
    }
}

// LAMB, three launches (deterministic: fixed element-to-thread assignment,
// fixed reduction trees, tiles added in order):
//  1. per tile: the moments, and the tile's sums of w^2 and u^2;
//  2. per parameter: its tiles' sums in tile order;
//  3. per tile: w -= lr * ratio * u with the parameter's trust ratio.
static __global__ void lamb_moments_kernel(dlt_optim_dev_args a)
{
    int64_t tile = blockIdx.x;
    int s = a.tile_seg[tile];
    const dlt_optim_coef c = a.coef[s];
    uint64_t end = a.seg_off[s] + a.seg_len[s], start = a.tile_start[tile];
    uint64_t stop = start + DLT_OPTIM_TILE < end ? start + DLT_OPTIM_TILE : end;
    double ww = 0, uu = 0;
    for (uint64_t i = start + threadIdx.x; i < stop; i += blockDim.x)
        dlt_lamb_moments_elem(&c, a.params[i], a.grads[i], &a.slot[DLT_SLOT_EXP_AVG][i],
                              &a.slot[DLT_SLOT_EXP_AVG_SQ][i], &ww, &uu);
    ww = block_sum(ww);
    uu = block_sum(uu);
    if (threadIdx.x == 0)
        a.tile_sums[2 * tile] = ww, a.tile_sums[2 * tile + 1] = uu;
}

static __global__ void lamb_segsum_kernel(dlt_optim_dev_args a)
{
    int s = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (s >= a.nsegs)
        return;
    double ww = 0, uu = 0;
    for (int64_t t = a.seg_tile0[s], e = t + a.seg_ntiles[s]; t < e; t++)
        ww += a.tile_sums[2 * t], uu += a.tile_sums[2 * t + 1];
    a.seg_sums[2 * s] = ww, a.seg_sums[2 * s + 1] = uu;
}

static __global__ void lamb_apply_kernel(dlt_optim_dev_args a)
{
    int64_t tile = blockIdx.x;
    int s = a.tile_seg[tile];
    const dlt_optim_coef c = a.coef[s];
    double step = dlt_lamb_step(&c, a.seg_sums[2 * s], a.seg_sums[2 * s + 1], a.lamb_skip_adapt && c.wd == 0);
    uint64_t end = a.seg_off[s] + a.seg_len[s], start = a.tile_start[tile];
    uint64_t stop = start + DLT_OPTIM_TILE < end ? start + DLT_OPTIM_TILE : end;
    for (uint64_t i = start + threadIdx.x; i < stop; i += blockDim.x)
        dlt_lamb_apply_elem(&c, step, &a.params[i], a.slot[DLT_SLOT_EXP_AVG][i], a.slot[DLT_SLOT_EXP_AVG_SQ][i]);
}

extern "C" dlt_status dlt_gpu_optim_step(void *ctx, const dlt_optim_dev_args *a)
{
    struct dlt_gpu *g = (struct dlt_gpu *)ctx;
    dlt_status st;
    if (a->ntiles == 0)
        return DLT_OK;
    if (a->ntiles > 0x7fffffffLL)
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "optimizer: %lld tiles exceed one grid", (long long)a->ntiles);
    dim3 grid((unsigned)a->ntiles), block(256);
    if (a->kind == DLT_OPTIM_LAMB) {
        lamb_moments_kernel<<<grid, block, 0, g->stream>>>(*a);
        if ((st = dlt_gpu_launched(NULL, "lamb_moments_kernel")) != DLT_OK)
            return st;
        lamb_segsum_kernel<<<(unsigned)((a->nsegs + 255) / 256), 256, 0, g->stream>>>(*a);
        if ((st = dlt_gpu_launched(NULL, "lamb_segsum_kernel")) != DLT_OK)
            return st;
        lamb_apply_kernel<<<grid, block, 0, g->stream>>>(*a);
        return dlt_gpu_launched(NULL, "lamb_apply_kernel");
    }
    switch (a->kind) {
    case DLT_OPTIM_SGD: optim_kernel<DLT_OPTIM_SGD><<<grid, block, 0, g->stream>>>(*a); break;
    case DLT_OPTIM_ADAM:
    case DLT_OPTIM_ADAMW: optim_kernel<DLT_OPTIM_ADAM><<<grid, block, 0, g->stream>>>(*a); break;
    case DLT_OPTIM_RMSPROP: optim_kernel<DLT_OPTIM_RMSPROP><<<grid, block, 0, g->stream>>>(*a); break;
    case DLT_OPTIM_ADADELTA: optim_kernel<DLT_OPTIM_ADADELTA><<<grid, block, 0, g->stream>>>(*a); break;
    case DLT_OPTIM_ADAGRAD: optim_kernel<DLT_OPTIM_ADAGRAD><<<grid, block, 0, g->stream>>>(*a); break;
    default: return dlt_seterr(DLT_ERR_UNSUPPORTED, "optimizer kind %d has no GPU kernel", a->kind);
    }
    return dlt_gpu_launched(NULL, "optim_kernel");
}
