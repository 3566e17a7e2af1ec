/* Gradient accumulation bookkeeping and the dynamic loss scaler (the CPU
 * side of torch.cuda.amp.GradScaler). */
#include <math.h>

#include "dlt_optim.h"

dlt_status dlt_accum_init(dlt_accum *a, int k)
{
    if (!a || k < 1)
        return dlt_seterr(DLT_ERR_INVALID, "gradient accumulation: steps must be >= 1 (got %d)", k);
    a->k = k;
    a->micro = 0;
    return DLT_OK;
}

int dlt_accum_is_first(const dlt_accum *a) { return a->micro % a->k == 0; }
int dlt_accum_is_final(const dlt_accum *a) { return a->micro % a->k == a->k - 1; }
void dlt_accum_next(dlt_accum *a) { a->micro++; }

void dlt_accum_average(const dlt_accum *a, float *grads, size_t n)
{
    if (a->k == 1)
        return;
    const float inv = (float)(1.0 / a->k);
#pragma omp parallel for schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++)
        grads[i] *= inv;
}

void dlt_loss_scaler_init(dlt_loss_scaler *s)
{
    s->scale = 65536.0;
    s->growth_factor = 2.0;
    s->backoff_factor = 0.5;
    s->growth_interval = 2000;
    s->growth_tracker = 0;
    s->enabled = 1;
}

double dlt_loss_scaler_get(const dlt_loss_scaler *s) { return s->enabled ? s->scale : 1.0; }

int dlt_loss_scaler_unscale(const dlt_loss_scaler *s, float *grads, size_t n)
{
    /* GradScaler: inv_scale = float(1/double(scale)); every element is
     * checked and multiplied, bad ones included. */
    const float inv = s->enabled ? (float)(1.0 / s->scale) : 1.0f;
    int found = 0;
#pragma omp parallel for schedule(static) reduction(| : found) if (n >= 32768)
    for (size_t i = 0; i < n; i++) {
        found |= !isfinite(grads[i]);
        grads[i] *= inv;
    }
    return found;
}

void dlt_loss_scaler_update(dlt_loss_scaler *s, int found_inf)
{
    if (!s->enabled)
        return;
    /* As at::_amp_update_scale_: the scale is a float32 value. */
    if (found_inf) {
        s->scale = (float)(s->scale * s->backoff_factor);
        s->growth_tracker = 0;
    } else if (s->growth_tracker + 1 == s->growth_interval) {
        float grown = (float)(s->scale * s->growth_factor);
        if (isfinite(grown))
            s->scale = grown;
        s->growth_tracker = 0;
    } else {
        s->growth_tracker++;
    }
}

dlt_status dlt_loss_scaler_step(dlt_loss_scaler *s, dlt_optim *o, float *params, float *grads,
                                double lr, int *skipped)
{
    int found = dlt_loss_scaler_unscale(s, grads, dlt_optim_total(o));
    dlt_status st = DLT_OK;
    if (!found)
        st = dlt_optim_step(o, params, grads, lr);
    else
        dlt_log(DLT_LOG_DEBUG, "loss scaler: inf/nan gradients at scale %g, step %lld skipped",
                s->scale, (long long)dlt_optim_get_step(o) + 1);
    if (st == DLT_OK)
        dlt_loss_scaler_update(s, found);
    if (skipped)
        *skipped = found;
    return st;
}
