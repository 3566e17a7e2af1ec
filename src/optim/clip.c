/* Gradient clipping (global L2 norm, value) and non-finite detection on the
 * flat gradient buffer. */
#include <math.h>

#include "dlt_backend.h"
#include "dlt_optim.h"

/* the CPU backend's deterministic sum (one arithmetic for the reducer, the
 * trainer and the clip) */
double dlt_grad_sumsq(const float *x, size_t n) { return dlt_host_sumsq(x, n); }

static void scale(float *g, size_t n, float coef)
{
#pragma omp parallel for schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++)
        g[i] *= coef;
}

double dlt_clip_grad_norm_sumsq(float *grads, size_t n, double max_norm, double sumsq)
{
    double total = sqrt(sumsq);
    /* PyTorch forms the coefficient as a float32 tensor and always multiplies
     * by the clamped value; multiplying by exactly 1 changes nothing, so skip
     * it, but keep NaN (non-finite gradients) propagating as PyTorch does. */
    float coef = (float)(max_norm / (total + 1e-6));
    if (coef < 1.0f || isnan(coef))
        scale(grads, n, coef);
    return total;
}

double dlt_clip_grad_norm(float *grads, size_t n, double max_norm)
{
    return dlt_clip_grad_norm_sumsq(grads, n, max_norm, dlt_grad_sumsq(grads, n));
}

void dlt_clip_grad_value(float *grads, size_t n, double clip)
{
    const float hi = (float)clip, lo = -hi;
#pragma omp parallel for schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++) {
        if (grads[i] > hi)
            grads[i] = hi;
        else if (grads[i] < lo)
            grads[i] = lo;
    }
}

int dlt_grad_check_finite(const float *grads, const dlt_param_view *views, int n,
                          int *first_bad, size_t *bad_elem)
{
    for (int v = 0; v < n; v++) {
        const float *g = grads + views[v].offset;
        /* Cheap pass first: a sum of finite floats in double is finite
         * unless it is NaN/Inf somewhere. */
        double s = 0;
        for (size_t i = 0; i < views[v].numel; i++)
            s += (double)g[i] * 0.0;
        if (s == 0.0)
            continue;
        for (size_t i = 0; i < views[v].numel; i++)
            if (!isfinite(g[i])) {
                if (first_bad)
                    *first_bad = v;
                if (bad_elem)
                    *bad_elem = i;
                return 0;
            }
    }
    return 1;
}

dlt_status dlt_grad_nonfinite_guard(const float *grads, const dlt_param_view *views, int n,
                                    int64_t step, dlt_nonfinite_policy policy, int *skip)
{
    int bad = -1;
    size_t elem = 0;
    if (skip)
        *skip = 0;
    if (dlt_grad_check_finite(grads, views, n, &bad, &elem))
        return DLT_OK;
    float x = grads[views[bad].offset + elem];
    const char *what = isnan(x) ? "nan" : x > 0 ? "inf" : "-inf";
    const char *name = views[bad].name ? views[bad].name : "?";
    if (policy == DLT_NONFINITE_SKIP_STEP) {
        dlt_log(DLT_LOG_WARN,
                "step %lld: non-finite gradient (%s) in parameter '%s' (element %zu): "
                "skipping this step", (long long)step, what, name, elem);
        if (skip)
            *skip = 1;
        return DLT_OK;
    }
    return dlt_seterr(DLT_ERR_NONFINITE,
                      "step %lld: non-finite gradient (%s) in parameter '%s' (element %zu)",
                      (long long)step, what, name, elem);
}
