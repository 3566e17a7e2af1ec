/* The stand-in device (tests only, any build): a dlt_backend whose "device
 * memory" is separate host blocks (filled with garbage when allocated, never
 * the host mirrors: host_memory = 0) and whose kernels are the ops' CPU
 * kernels, so the whole device path of the core, the optimizer and the
 * trainer (staging, mirrors, uploads and downloads, fused optimizer tiles)
 * runs and is tested without a GPU: a graph on it must train bit for bit like
 * the same graph on the CPU with one thread. */
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_bf16.h"
#include "optim_impl.h"
#include "standin.h"

static dlt_status h_alloc(void *ctx, size_t bytes, void **p)
{
    (void)ctx;
    *p = malloc(bytes ? bytes : 1);
    if (!*p)
        return dlt_seterr(DLT_ERR_NOMEM, "stand-in device: cannot allocate %zu bytes", bytes);
    memset(*p, 0xab, bytes ? bytes : 1); /* device memory is not zeroed */
    return DLT_OK;
}

static void h_release(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static dlt_status h_alloc_host(void *ctx, size_t bytes, void **p)
{
    (void)ctx;
    *p = calloc(1, bytes ? bytes : 1);
    return *p ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "stand-in device: cannot allocate %zu bytes", bytes);
}

static dlt_status h_copy(void *ctx, void *dst, const void *src, size_t n)
{
    (void)ctx;
    if (n)
        memmove(dst, src, n);
    return DLT_OK;
}

static dlt_status h_memset(void *ctx, void *dst, int b, size_t n)
{
    (void)ctx;
    memset(dst, b, n);
    return DLT_OK;
}

static dlt_status h_add(void *ctx, float *dst, const float *src, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
    return DLT_OK;
}

static dlt_status h_scale(void *ctx, float *x, double a, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(x[i] * a);
    return DLT_OK;
}

static dlt_status h_clamp(void *ctx, float *x, float lo, float hi, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        x[i] = dlt_clamp_elem(x[i], lo, hi);
    return DLT_OK;
}

static dlt_status h_sumsq(void *ctx, const float *x, size_t n, double *out)
{
    (void)ctx;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    *out = s;
    return DLT_OK;
}

static dlt_status h_sync(void *ctx)
{
    (void)ctx;
    return DLT_OK;
}

/* Overlap: every copy is done when its call returns, so a prefetch is a plain
 * copy and there is never anything to wait for. */
static dlt_status h_record(void *ctx, int ev)
{
    (void)ctx, (void)ev;
    return DLT_OK;
}

static dlt_status h_join(void *ctx)
{
    (void)ctx;
    return DLT_OK;
}

static int h_kernel(void *ctx, const dlt_op_def *op, dlt_kernel_fn *fn, dlt_workspace_fn *ws)
{
    (void)ctx;
    *fn = op->cpu;
    *ws = op->workspace;
    return 1;
}

static double h_elapsed(void *ctx)
{
    (void)ctx;
    return 0;
}

/* LAMB in k_optim.cu's three phases: per-tile sums (here serial within the
 * tile: the GPU's block tree adds in another order, so the two agree to
 * rounding), per-parameter sums of the tiles in order, then the update. */
static void h_lamb(const dlt_optim_dev_args *a)
{
    float *m = a->slot[DLT_SLOT_EXP_AVG], *v = a->slot[DLT_SLOT_EXP_AVG_SQ];
    for (int64_t t = 0; t < a->ntiles; t++) {
        int s = a->tile_seg[t];
        uint64_t end = a->seg_off[s] + a->seg_len[s], start = a->tile_start[t];
        uint64_t stop = start + DLT_OPTIM_TILE < end ? start + DLT_OPTIM_TILE : end;
        double ww = 0, uu = 0;
        for (uint64_t i = start; i < stop; i++)
            dlt_lamb_moments_elem(&a->coef[s], a->params[i], a->grads[i], &m[i], &v[i], &ww, &uu);
        a->tile_sums[2 * t] = ww, a->tile_sums[2 * t + 1] = uu;
    }
    for (int s = 0; s < a->nsegs; s++) {
        double ww = 0, uu = 0;
        for (int64_t t = a->seg_tile0[s], e = t + a->seg_ntiles[s]; t < e; t++)
            ww += a->tile_sums[2 * t], uu += a->tile_sums[2 * t + 1];
        a->seg_sums[2 * s] = ww, a->seg_sums[2 * s + 1] = uu;
    }
    for (int64_t t = 0; t < a->ntiles; t++) {
        int s = a->tile_seg[t];
        const dlt_optim_coef *c = &a->coef[s];
        double step = dlt_lamb_step(c, a->seg_sums[2 * s], a->seg_sums[2 * s + 1], a->lamb_skip_adapt && c->wd == 0);
        uint64_t end = a->seg_off[s] + a->seg_len[s], start = a->tile_start[t];
        uint64_t stop = start + DLT_OPTIM_TILE < end ? start + DLT_OPTIM_TILE : end;
        for (uint64_t i = start; i < stop; i++)
            dlt_lamb_apply_elem(c, step, &a->params[i], m[i], v[i]);
    }
}

/* The fused step exactly as k_optim.cu runs it: a tile at a time, one
 * coefficient set per tile. */
static dlt_status h_optim_step(void *ctx, const dlt_optim_dev_args *a)
{
    (void)ctx;
    if (a->kind == DLT_OPTIM_LAMB) {
        h_lamb(a);
        return DLT_OK;
    }
    for (int64_t t = 0; t < a->ntiles; t++) {
        int s = a->tile_seg[t];
        const dlt_optim_coef c = a->coef[s];
        uint64_t end = a->seg_off[s] + a->seg_len[s], start = a->tile_start[t];
        uint64_t stop = start + DLT_OPTIM_TILE < end ? start + DLT_OPTIM_TILE : end;
        float *p = a->params;
        const float *g = a->grads;
        float *const *sl = a->slot;
        for (uint64_t i = start; i < stop; i++) {
            switch (a->kind) {
            case DLT_OPTIM_SGD:
                dlt_sgd_elem(&c, &p[i], g[i], sl[DLT_SLOT_MOMENTUM_BUFFER] ? &sl[DLT_SLOT_MOMENTUM_BUFFER][i] : NULL);
                break;
            case DLT_OPTIM_ADAM:
            case DLT_OPTIM_ADAMW:
                dlt_adam_elem(&c, &p[i], g[i], &sl[DLT_SLOT_EXP_AVG][i], &sl[DLT_SLOT_EXP_AVG_SQ][i],
                              a->amsgrad ? &sl[DLT_SLOT_MAX_EXP_AVG_SQ][i] : NULL);
                break;
            case DLT_OPTIM_RMSPROP:
                dlt_rmsprop_elem(&c, &p[i], g[i], &sl[DLT_SLOT_SQUARE_AVG][i], a->centered ? &sl[DLT_SLOT_GRAD_AVG][i] : NULL,
                                 sl[DLT_SLOT_MOMENTUM_BUFFER] ? &sl[DLT_SLOT_MOMENTUM_BUFFER][i] : NULL);
                break;
            case DLT_OPTIM_ADADELTA:
                dlt_adadelta_elem(&c, &p[i], g[i], &sl[DLT_SLOT_SQUARE_AVG][i], &sl[DLT_SLOT_ACC_DELTA][i]);
                break;
            case DLT_OPTIM_ADAGRAD:
                dlt_adagrad_elem(&c, &p[i], g[i], &sl[DLT_SLOT_SUM][i]);
                break;
            default:
                return dlt_seterr(DLT_ERR_UNSUPPORTED, "stand-in device: optimizer kind %d", a->kind);
            }
        }
    }
    return DLT_OK;
}

/* The bf16 conversions of k_core.cu, element by element with the same
 * functions (dlt_bf16.h). */
static dlt_status h_f32_to_bf16(void *ctx, dlt_bf16 *dst, const float *src, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        dst[i] = dlt_f32_to_bf16(src[i]);
    return DLT_OK;
}

static dlt_status h_bf16_to_f32(void *ctx, float *dst, const dlt_bf16 *src, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        dst[i] = dlt_bf16_to_f32(src[i]);
    return DLT_OK;
}

static void *h_symbol(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "optim_step") == 0)
        return (void *)(dlt_optim_dev_step_fn)h_optim_step;
    if (strcmp(name, "f32_to_bf16") == 0)
        return (void *)(dlt_f32_to_bf16_fn)h_f32_to_bf16;
    if (strcmp(name, "bf16_to_f32") == 0)
        return (void *)(dlt_bf16_to_f32_fn)h_bf16_to_f32;
    return NULL;
}

static dlt_backend hostdev = {
    .name = "stand-in",
    .ctx = NULL,
    .alloc = h_alloc,
    .release = h_release,
    .alloc_host = h_alloc_host,
    .release_host = h_release,
    .upload = h_copy,
    .download = h_copy,
    .copy = h_copy,
    .memset = h_memset,
    .add = h_add,
    .scale = h_scale,
    .clamp = h_clamp,
    .sumsq = h_sumsq,
    .sync = h_sync,
    .kernel = h_kernel,
    .elapsed = h_elapsed,
    .symbol = h_symbol,
    .record = h_record,
    .wait_host = h_record,
    .prefetch = h_copy,
    .join_prefetch = h_join,
};

dlt_backend *dlt_standin_backend(void) { return &hostdev; }
