// The fused optimizer step: one launch updates every parameter of the flat
// buffer with the per-element rules the CPU uses (src/optim/optim_elem.h).
// One block per tile; a tile lies inside one parameter, so the block reads
// that parameter's coefficients once.
#include "gpu_impl.h"
#include "optim_impl.h"

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

extern "C" dlt_status dlt_gpu_optim_step(void *ctx, const dlt_optim_dev_args *a)
{
    struct dlt_gpu *g = (struct dlt_gpu *)ctx;
    if (a->ntiles == 0)
        return DLT_OK;
    if (a->ntiles > 0x7fffffffLL)
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "optimizer: %lld tiles exceed one grid", (long long)a->ntiles);
    dim3 grid((unsigned)a->ntiles), block(256);
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
