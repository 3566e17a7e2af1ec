/* Update loops over one parameter's elements. The per-element rules
 * (optim_elem.h, shared with the GPU kernel) are transcribed from PyTorch
 * 1.13's torch/optim/<name>.py `_single_tensor_*` functions. Arithmetic is in
 * double; state is rounded to float where PyTorch stores it (so later uses see
 * the same stored value), which keeps trajectories within a few float ulps of
 * PyTorch's. */
#include <math.h>

#include "optim_impl.h"

#define PFOR _Pragma("omp parallel for schedule(static) if (n >= 32768)")

void dlt_optim_coef_init(const dlt_optim_config *cfg, double lr, double wd, int64_t t, dlt_optim_coef *k)
{
    const double bc1 = 1 - pow(cfg->beta1, (double)t), bc2 = 1 - pow(cfg->beta2, (double)t);
    *k = (dlt_optim_coef){0};
    k->lr = lr;
    k->wd = wd;
    k->sign = cfg->maximize ? -1.0 : 1.0;
    k->mu = cfg->momentum;
    k->damp = cfg->dampening;
    k->nesterov = cfg->nesterov;
    k->first = t == 1;
    k->b1 = cfg->beta1;
    k->b2 = cfg->beta2;
    k->eps = cfg->eps;
    k->step_size = lr / bc1;
    k->bc2_sqrt = sqrt(bc2);
    k->bc1 = bc1;
    k->decay = 1 - lr * wd;
    k->decoupled = cfg->kind == DLT_OPTIM_ADAMW;
    k->alpha = cfg->alpha;
    k->rho = cfg->rho;
    k->clr = lr / (1 + (double)(t - 1) * cfg->lr_decay);
}

static void sgd(const dlt_optim_coef *k, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    float *p = c->p, *buf = c->s[DLT_SLOT_MOMENTUM_BUFFER];
    const float *g = c->g;
    PFOR
    for (size_t i = 0; i < n; i++)
        dlt_sgd_elem(k, &p[i], g[i], buf ? &buf[i] : NULL);
}

static void adam(const dlt_optim_config *cfg, const dlt_optim_coef *k, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    float *p = c->p, *m = c->s[DLT_SLOT_EXP_AVG], *v = c->s[DLT_SLOT_EXP_AVG_SQ];
    float *vmax = cfg->amsgrad ? c->s[DLT_SLOT_MAX_EXP_AVG_SQ] : NULL;
    const float *g = c->g;
    PFOR
    for (size_t i = 0; i < n; i++)
        dlt_adam_elem(k, &p[i], g[i], &m[i], &v[i], vmax ? &vmax[i] : NULL);
}

static void rmsprop(const dlt_optim_config *cfg, const dlt_optim_coef *k, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    float *p = c->p, *sq = c->s[DLT_SLOT_SQUARE_AVG];
    float *ga = cfg->centered ? c->s[DLT_SLOT_GRAD_AVG] : NULL;
    float *buf = cfg->momentum > 0 ? c->s[DLT_SLOT_MOMENTUM_BUFFER] : NULL;
    const float *g = c->g;
    PFOR
    for (size_t i = 0; i < n; i++)
        dlt_rmsprop_elem(k, &p[i], g[i], &sq[i], ga ? &ga[i] : NULL, buf ? &buf[i] : NULL);
}

static void adadelta(const dlt_optim_coef *k, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    float *p = c->p, *sq = c->s[DLT_SLOT_SQUARE_AVG], *acc = c->s[DLT_SLOT_ACC_DELTA];
    const float *g = c->g;
    PFOR
    for (size_t i = 0; i < n; i++)
        dlt_adadelta_elem(k, &p[i], g[i], &sq[i], &acc[i]);
}

static void adagrad(const dlt_optim_coef *k, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    float *p = c->p, *sum = c->s[DLT_SLOT_SUM];
    const float *g = c->g;
    PFOR
    for (size_t i = 0; i < n; i++)
        dlt_adagrad_elem(k, &p[i], g[i], &sum[i]);
}

void dlt_optim_kernel(const dlt_optim_config *cfg, const dlt_optim_chunk *c)
{
    dlt_optim_coef k;
    dlt_optim_coef_init(cfg, c->lr, c->wd, c->t, &k);
    switch (cfg->kind) {
    case DLT_OPTIM_SGD: sgd(&k, c); break;
    case DLT_OPTIM_ADAM:
    case DLT_OPTIM_ADAMW: adam(cfg, &k, c); break;
    case DLT_OPTIM_RMSPROP: rmsprop(cfg, &k, c); break;
    case DLT_OPTIM_ADADELTA: adadelta(&k, c); break;
    case DLT_OPTIM_ADAGRAD: adagrad(&k, c); break;
    default: break; /* LAMB goes through its two phases */
    }
}

/* LAMB (You et al. 2019, Algorithm 2, with Adam's bias correction as in its
 * v3+ text, timm's Lamb and apex FusedLAMB):
 *   m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2
 *   u = (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + wd * w
 *   ratio = ||w|| / ||u||, or 1 when either norm is 0
 *   w -= lr * ratio * u
 * No gradient pre-normalisation and no trust-ratio clamp (clip beforehand). */
void dlt_optim_lamb_moments(const dlt_optim_config *cfg, const dlt_optim_chunk *c, double out[2])
{
    dlt_optim_coef k;
    dlt_optim_coef_init(cfg, c->lr, c->wd, c->t, &k);
    float *m = c->s[DLT_SLOT_EXP_AVG], *v = c->s[DLT_SLOT_EXP_AVG_SQ];
    const float *p = c->p, *g = c->g;
    /* Serial so the sums are the same for any thread count. */
    double ww = 0, uu = 0;
    for (size_t i = 0; i < c->n; i++)
        dlt_lamb_moments_elem(&k, p[i], g[i], &m[i], &v[i], &ww, &uu);
    out[0] += ww;
    out[1] += uu;
}

void dlt_optim_lamb_apply(const dlt_optim_config *cfg, const dlt_optim_chunk *c,
                          const double sums[2])
{
    const size_t n = c->n;
    dlt_optim_coef k;
    dlt_optim_coef_init(cfg, c->lr, c->wd, c->t, &k);
    const double step = dlt_lamb_step(&k, sums[0], sums[1], cfg->lamb_skip_adapt_no_decay && c->wd == 0);
    float *p = c->p;
    const float *m = c->s[DLT_SLOT_EXP_AVG], *v = c->s[DLT_SLOT_EXP_AVG_SQ];
    PFOR
    for (size_t i = 0; i < n; i++)
        dlt_lamb_apply_elem(&k, step, &p[i], m[i], v[i]);
}
