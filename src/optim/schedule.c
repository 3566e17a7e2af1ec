/* Learning-rate schedules as closed forms of the step (PyTorch's
 * _get_closed_form_lr where it has one; HF transformers' lambdas for the
 * warm-up schedules; the CycleGAN reference's lambda for hold_linear), so a
 * resumed run needs only the step count. */
#include <math.h>
#include <string.h>

#include "dlt_optim.h"

static const char *const sched_names[DLT_SCHED_NKINDS] = {
    "constant",      "step",          "multistep",   "exponential", "cosine",     "cosine_restarts",
    "warmup_linear", "warmup_cosine", "warmup_poly", "one_cycle",   "hold_linear"};

const char *dlt_schedule_kind_name(dlt_schedule_kind k)
{
    return (unsigned)k < DLT_SCHED_NKINDS ? sched_names[k] : "?";
}

dlt_status dlt_schedule_init(dlt_schedule *s, const char *name, double base_lr)
{
    if (!s || !name)
        return dlt_seterr(DLT_ERR_INVALID, "schedule: NULL argument");
    int k = 0;
    while (k < DLT_SCHED_NKINDS && strcmp(sched_names[k], name) != 0)
        k++;
    if (k == DLT_SCHED_NKINDS)
        return dlt_seterr(DLT_ERR_NOTFOUND,
                          "unknown lr schedule '%s' (expected constant, step, multistep, "
                          "exponential, cosine, cosine_restarts, warmup_linear, warmup_cosine, "
                          "warmup_poly, one_cycle or hold_linear)",
                          name);
    memset(s, 0, sizeof *s);
    s->kind = (dlt_schedule_kind)k;
    s->base_lr = base_lr;
    s->gamma = 0.1; /* StepLR and MultiStepLR's default; ExponentialLR has none */
    s->warmup_start = 0.001; /* torchvision's detection reference (warmup_factor 1/1000) */
    s->t_mult = 1;
    s->num_cycles = 0.5;
    s->lr_end = 1e-7, s->power = 1.0;
    s->max_lr = base_lr, s->pct_start = 0.3, s->div_factor = 25, s->final_div_factor = 1e4;
    return DLT_OK;
}

dlt_status dlt_schedule_validate(const dlt_schedule *s)
{
    if (!s)
        return dlt_seterr(DLT_ERR_INVALID, "schedule: NULL argument");
    const char *n = dlt_schedule_kind_name(s->kind);
    if ((unsigned)s->kind >= DLT_SCHED_NKINDS)
        return dlt_seterr(DLT_ERR_INVALID, "schedule: invalid kind %d", (int)s->kind);
    if (!(s->base_lr >= 0) || isinf(s->base_lr))
        return dlt_seterr(DLT_ERR_INVALID, "%s schedule: invalid lr %g", n, s->base_lr);
    if ((s->kind == DLT_SCHED_ONE_CYCLE || s->kind == DLT_SCHED_HOLD_LINEAR) && s->warmup_steps != 0)
        return dlt_seterr(DLT_ERR_INVALID,
                          "%s schedule: warmup_steps does not apply (%s)", n,
                          s->kind == DLT_SCHED_ONE_CYCLE ? "its warm-up is pct_start" : "it has no warm-up");
    if (s->warmup_steps < 0 || !(s->warmup_start >= 0 && s->warmup_start <= 1))
        return dlt_seterr(DLT_ERR_INVALID,
                          "%s schedule: warmup_steps must be >= 0 and warmup_start in [0, 1] (got %lld, %g)",
                          n, (long long)s->warmup_steps, s->warmup_start);
    switch (s->kind) {
    case DLT_SCHED_STEP:
        if (s->step_size <= 0)
            return dlt_seterr(DLT_ERR_INVALID, "step schedule: step_size must be > 0");
        break;
    case DLT_SCHED_MULTISTEP:
        if (s->nmilestones < 0 || s->nmilestones > DLT_SCHED_MAX_MILESTONES)
            return dlt_seterr(DLT_ERR_INVALID, "multistep schedule: 0 to %d milestones",
                              DLT_SCHED_MAX_MILESTONES);
        for (int i = 1; i < s->nmilestones; i++)
            if (s->milestones[i] < s->milestones[i - 1])
                return dlt_seterr(DLT_ERR_INVALID,
                                  "multistep schedule: milestones must not decrease");
        break;
    case DLT_SCHED_COSINE:
        if (s->t_max <= 0)
            return dlt_seterr(DLT_ERR_INVALID, "cosine schedule: t_max must be > 0");
        break;
    case DLT_SCHED_COSINE_RESTARTS:
        if (s->t_0 <= 0 || s->t_mult < 1)
            return dlt_seterr(DLT_ERR_INVALID,
                              "cosine_restarts schedule: t_0 must be > 0 and t_mult >= 1");
        break;
    case DLT_SCHED_WARMUP_LINEAR:
    case DLT_SCHED_WARMUP_COSINE:
    case DLT_SCHED_WARMUP_POLY:
        if (s->warmup_steps < 0 || s->total_steps < 0)
            return dlt_seterr(DLT_ERR_INVALID,
                              "%s schedule: warmup_steps and total_steps "
                              "must be >= 0",
                              n);
        if (s->kind == DLT_SCHED_WARMUP_POLY && s->total_steps <= s->warmup_steps)
            return dlt_seterr(DLT_ERR_INVALID,
                              "warmup_poly schedule: total_steps must exceed warmup_steps");
        if (s->kind == DLT_SCHED_WARMUP_POLY && !(s->base_lr > s->lr_end))
            return dlt_seterr(DLT_ERR_INVALID,
                              "warmup_poly schedule: lr_end (%g) must be smaller than lr (%g)",
                              s->lr_end, s->base_lr);
        break;
    case DLT_SCHED_ONE_CYCLE:
        if (s->total_steps <= 0)
            return dlt_seterr(DLT_ERR_INVALID, "one_cycle schedule: total_steps must be > 0");
        if (!(s->pct_start >= 0 && s->pct_start <= 1))
            return dlt_seterr(DLT_ERR_INVALID, "one_cycle schedule: pct_start must be in [0, 1]");
        if (!(s->max_lr >= 0) || !(s->div_factor > 0) || !(s->final_div_factor > 0))
            return dlt_seterr(DLT_ERR_INVALID, "one_cycle schedule: max_lr >= 0, div_factor > 0 "
                                               "and final_div_factor > 0 are required");
        break;
    case DLT_SCHED_HOLD_LINEAR:
        if (s->total_steps <= 0 || s->hold_steps < 0 || s->hold_steps > s->total_steps)
            return dlt_seterr(DLT_ERR_INVALID,
                              "hold_linear schedule: total_steps must be > 0 and "
                              "hold_steps within [0, total_steps] (got %lld of %lld)",
                              (long long)s->hold_steps, (long long)s->total_steps);
        break;
    default:
        break;
    }
    return DLT_OK;
}

static double cosine_restarts(const dlt_schedule *s, int64_t step)
{
    /* Integer walk over the cycles: PyTorch's epoch-given form takes a float
     * log and can land in the wrong cycle at exact boundaries. */
    int64_t t_i = s->t_0, t_cur = step;
    if (s->t_mult == 1) {
        t_cur = step % s->t_0;
    } else {
        while (t_cur >= t_i) {
            t_cur -= t_i;
            t_i *= s->t_mult;
        }
    }
    return s->eta_min +
           (s->base_lr - s->eta_min) * (1 + cos(M_PI * (double)t_cur / (double)t_i)) / 2;
}

static double one_cycle(const dlt_schedule *s, int64_t step)
{
    const double initial = s->max_lr / s->div_factor, min_lr = initial / s->final_div_factor;
    const double end1 = s->pct_start * (double)s->total_steps - 1;
    const double end2 = (double)s->total_steps - 1;
    if (step > s->total_steps) /* PyTorch raises; stay at the end value */
        return min_lr;
    double x = (double)step, start, end, lo, hi;
    if (x <= end1)
        start = 0, end = end1, lo = initial, hi = s->max_lr;
    else
        start = end1, end = end2, lo = s->max_lr, hi = min_lr;
    double pct = (x - start) / (end - start);
    return hi + (lo - hi) / 2.0 * (cos(M_PI * pct) + 1);
}

/* HF transformers' multipliers of the base lr. */
static double warmup_factor(const dlt_schedule *s, int64_t step)
{
    const int64_t w = s->warmup_steps, T = s->total_steps;
    if (step < w)
        return (double)step / (double)(w > 1 ? w : 1);
    const int64_t span = T - w > 1 ? T - w : 1;
    switch (s->kind) {
    case DLT_SCHED_WARMUP_LINEAR: {
        double f = (double)(T - step) / (double)span;
        return f > 0 ? f : 0;
    }
    case DLT_SCHED_WARMUP_COSINE: {
        double progress = (double)(step - w) / (double)span;
        double f = 0.5 * (1.0 + cos(M_PI * s->num_cycles * 2.0 * progress));
        return f > 0 ? f : 0;
    }
    default: { /* poly */
        if (step > T)
            return s->lr_end / s->base_lr;
        double range = s->base_lr - s->lr_end;
        double remaining = 1 - (double)(step - w) / (double)(T - w);
        return (range * pow(remaining, s->power) + s->lr_end) / s->base_lr;
    }
    }
}

/* The schedule's own closed form. */
static double schedule_lr(const dlt_schedule *s, int64_t step)
{
    switch (s->kind) {
    case DLT_SCHED_CONSTANT:
        return s->base_lr;
    case DLT_SCHED_STEP:
        return s->base_lr * pow(s->gamma, (double)(step / s->step_size));
    case DLT_SCHED_MULTISTEP: {
        int passed = 0; /* bisect_right: a milestone at `step` already applies */
        while (passed < s->nmilestones && s->milestones[passed] <= step)
            passed++;
        return s->base_lr * pow(s->gamma, passed);
    }
    case DLT_SCHED_EXPONENTIAL:
        return s->base_lr * pow(s->gamma, (double)step);
    case DLT_SCHED_COSINE:
        return s->eta_min +
               (s->base_lr - s->eta_min) * (1 + cos(M_PI * (double)step / (double)s->t_max)) / 2;
    case DLT_SCHED_COSINE_RESTARTS:
        return cosine_restarts(s, step);
    case DLT_SCHED_WARMUP_LINEAR:
    case DLT_SCHED_WARMUP_COSINE:
        /* eta_min (job key schedule.min_lr) floors the decay after warm-up;
         * 0 gives HF's schedules exactly */
        if (step >= s->warmup_steps && s->eta_min > 0)
            return s->eta_min + (s->base_lr - s->eta_min) * warmup_factor(s, step);
        return s->base_lr * warmup_factor(s, step);
    case DLT_SCHED_WARMUP_POLY:
        return s->base_lr * warmup_factor(s, step);
    case DLT_SCHED_ONE_CYCLE:
        return one_cycle(s, step);
    case DLT_SCHED_HOLD_LINEAR: {
        /* The CycleGAN reference's lambda with steps for epochs: the base lr
         * for H = hold_steps steps, then 1 - (step + 1 - H) / (D + 1) over the
         * D = total - H decay steps (its last step still at lr / (D + 1)),
         * never below 0 past the end. */
        const int64_t h = s->hold_steps, d = s->total_steps - h;
        double f = 1.0 - (double)(step + 1 > h ? step + 1 - h : 0) / (double)(d + 1);
        return s->base_lr * (f > 0 ? f : 0);
    }
    default:
        return s->base_lr;
    }
}

/* The warm-up of the schedules that have none of their own: torchvision's
 * detection and classification references chain LinearLR(start_factor f,
 * total_iters w) before them, a factor f + (1 - f) * step / w during the first
 * w steps. The product of the two closed forms equals PyTorch's
 * ChainedScheduler([LinearLR, S]) for the multiplicative S (step, multistep,
 * exponential, constant) and defines it for the cosine ones. */
static int has_own_warmup(dlt_schedule_kind k)
{
    return k == DLT_SCHED_WARMUP_LINEAR || k == DLT_SCHED_WARMUP_COSINE || k == DLT_SCHED_WARMUP_POLY ||
           k == DLT_SCHED_ONE_CYCLE || k == DLT_SCHED_HOLD_LINEAR;
}

double dlt_schedule_lr(const dlt_schedule *s, int64_t step)
{
    if (step < 0)
        step = 0;
    double lr = schedule_lr(s, step);
    if (!has_own_warmup(s->kind) && step < s->warmup_steps)
        lr *= s->warmup_start + (1.0 - s->warmup_start) * (double)step / (double)s->warmup_steps;
    return lr;
}
