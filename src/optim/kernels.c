/* Per-element update rules, transcribed from PyTorch 1.13's
 * torch/optim/<name>.py `_single_tensor_*` functions. Arithmetic is in double;
 * state is rounded to float where PyTorch stores it (so later uses see the
 * same stored value), which keeps trajectories within a few float ulps of
 * PyTorch's. */
#include <math.h>

#include "optim_impl.h"

#define PFOR _Pragma("omp parallel for schedule(static) if (n >= 32768)")

static void sgd(const dlt_optim_config *cfg, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    const double lr = c->lr, wd = c->wd, mu = cfg->momentum, damp = cfg->dampening;
    const double sign = cfg->maximize ? -1.0 : 1.0;
    const int first = c->t == 1, nesterov = cfg->nesterov;
    float *p = c->p, *buf = c->s[DLT_SLOT_MOMENTUM_BUFFER];
    const float *g = c->g;
    PFOR
    for (size_t i = 0; i < n; i++) {
        double d = sign * (double)g[i];
        if (wd != 0)
            d += wd * (double)p[i];
        if (mu != 0) {
            /* PyTorch's buffer starts as a copy of the first d_p, undamped. */
            float b = first ? (float)d : (float)(mu * (double)buf[i] + (1 - damp) * d);
            buf[i] = b;
            d = nesterov ? d + mu * (double)b : (double)b;
        }
        p[i] = (float)((double)p[i] - lr * d);
    }
}

/* Adam (L2 weight decay folded into the gradient) and AdamW (decoupled). */
static void adam(const dlt_optim_config *cfg, const dlt_optim_chunk *c, int decoupled)
{
    const size_t n = c->n;
    const double lr = c->lr, wd = c->wd, b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps;
    const double sign = cfg->maximize ? -1.0 : 1.0;
    const double bc1 = 1 - pow(b1, (double)c->t), bc2 = 1 - pow(b2, (double)c->t);
    const double step_size = lr / bc1, bc2_sqrt = sqrt(bc2);
    const double decay = 1 - lr * wd;
    float *p = c->p, *m = c->s[DLT_SLOT_EXP_AVG], *v = c->s[DLT_SLOT_EXP_AVG_SQ];
    float *vmax = cfg->amsgrad ? c->s[DLT_SLOT_MAX_EXP_AVG_SQ] : NULL;
    const float *g = c->g;
    PFOR
    for (size_t i = 0; i < n; i++) {
        double gi = sign * (double)g[i];
        double pi = p[i];
        if (decoupled)
            pi = (float)(pi * decay);
        else if (wd != 0)
            gi += wd * pi;
        float mi = (float)(b1 * (double)m[i] + (1 - b1) * gi);
        float vi = (float)(b2 * (double)v[i] + (1 - b2) * gi * gi);
        m[i] = mi, v[i] = vi;
        double vd = vi;
        if (vmax) {
            if (vmax[i] > vi)
                vd = vmax[i];
            else
                vmax[i] = vi;
        }
        double denom = sqrt(vd) / bc2_sqrt + eps;
        p[i] = (float)(pi - step_size * (double)mi / denom);
    }
}

static void rmsprop(const dlt_optim_config *cfg, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    const double lr = c->lr, wd = c->wd, a = cfg->alpha, eps = cfg->eps, mu = cfg->momentum;
    const double sign = cfg->maximize ? -1.0 : 1.0;
    float *p = c->p, *sq = c->s[DLT_SLOT_SQUARE_AVG];
    float *ga = cfg->centered ? c->s[DLT_SLOT_GRAD_AVG] : NULL;
    float *buf = mu > 0 ? c->s[DLT_SLOT_MOMENTUM_BUFFER] : NULL;
    const float *g = c->g;
    PFOR
    for (size_t i = 0; i < n; i++) {
        double gi = sign * (double)g[i];
        if (wd != 0)
            gi += wd * (double)p[i];
        float si = (float)(a * (double)sq[i] + (1 - a) * gi * gi);
        sq[i] = si;
        double avg;
        if (ga) {
            float gai = (float)(a * (double)ga[i] + (1 - a) * gi);
            ga[i] = gai;
            avg = sqrt((double)(float)((double)si - (double)gai * (double)gai));
        } else {
            avg = sqrt((double)si);
        }
        avg += eps;
        if (buf) {
            float b = (float)(mu * (double)buf[i] + gi / avg);
            buf[i] = b;
            p[i] = (float)((double)p[i] - lr * (double)b);
        } else {
            p[i] = (float)((double)p[i] - lr * gi / avg);
        }
    }
}

static void adadelta(const dlt_optim_config *cfg, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    const double lr = c->lr, wd = c->wd, rho = cfg->rho, eps = cfg->eps;
    const double sign = cfg->maximize ? -1.0 : 1.0;
    float *p = c->p, *sq = c->s[DLT_SLOT_SQUARE_AVG], *acc = c->s[DLT_SLOT_ACC_DELTA];
    const float *g = c->g;
    PFOR
    for (size_t i = 0; i < n; i++) {
        double gi = sign * (double)g[i];
        if (wd != 0)
            gi += wd * (double)p[i];
        float si = (float)(rho * (double)sq[i] + (1 - rho) * gi * gi);
        sq[i] = si;
        double delta = sqrt((double)acc[i] + eps) / sqrt((double)si + eps) * gi;
        acc[i] = (float)(rho * (double)acc[i] + (1 - rho) * delta * delta);
        p[i] = (float)((double)p[i] - lr * delta);
    }
}

static void adagrad(const dlt_optim_config *cfg, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    const double wd = c->wd, eps = cfg->eps;
    const double clr = c->lr / (1 + (double)(c->t - 1) * cfg->lr_decay);
    const double sign = cfg->maximize ? -1.0 : 1.0;
    float *p = c->p, *sum = c->s[DLT_SLOT_SUM];
    const float *g = c->g;
    PFOR
    for (size_t i = 0; i < n; i++) {
        double gi = sign * (double)g[i];
        if (wd != 0)
            gi += wd * (double)p[i];
        float si = (float)((double)sum[i] + gi * gi);
        sum[i] = si;
        p[i] = (float)((double)p[i] - clr * gi / (sqrt((double)si) + eps));
    }
}

void dlt_optim_kernel(const dlt_optim_config *cfg, const dlt_optim_chunk *c)
{
    switch (cfg->kind) {
    case DLT_OPTIM_SGD: sgd(cfg, c); break;
    case DLT_OPTIM_ADAM: adam(cfg, c, 0); break;
    case DLT_OPTIM_ADAMW: adam(cfg, c, 1); break;
    case DLT_OPTIM_RMSPROP: rmsprop(cfg, c); break;
    case DLT_OPTIM_ADADELTA: adadelta(cfg, c); break;
    case DLT_OPTIM_ADAGRAD: adagrad(cfg, c); break;
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
static double lamb_u(const dlt_optim_config *cfg, double m, double v, double w, double wd,
                     double bc1, double bc2_sqrt)
{
    return (m / bc1) / (sqrt(v) / bc2_sqrt + cfg->eps) + wd * w;
}

void dlt_optim_lamb_moments(const dlt_optim_config *cfg, const dlt_optim_chunk *c, double out[2])
{
    const double b1 = cfg->beta1, b2 = cfg->beta2, wd = c->wd;
    const double bc1 = 1 - pow(b1, (double)c->t), bc2_sqrt = sqrt(1 - pow(b2, (double)c->t));
    const double sign = cfg->maximize ? -1.0 : 1.0;
    float *m = c->s[DLT_SLOT_EXP_AVG], *v = c->s[DLT_SLOT_EXP_AVG_SQ];
    const float *p = c->p, *g = c->g;
    /* Serial so the sums are the same for any thread count. */
    double ww = 0, uu = 0;
    for (size_t i = 0; i < c->n; i++) {
        double gi = sign * (double)g[i];
        float mi = (float)(b1 * (double)m[i] + (1 - b1) * gi);
        float vi = (float)(b2 * (double)v[i] + (1 - b2) * gi * gi);
        m[i] = mi, v[i] = vi;
        double w = p[i], u = lamb_u(cfg, mi, vi, w, wd, bc1, bc2_sqrt);
        ww += w * w;
        uu += u * u;
    }
    out[0] += ww;
    out[1] += uu;
}

void dlt_optim_lamb_apply(const dlt_optim_config *cfg, const dlt_optim_chunk *c,
                          const double sums[2])
{
    const size_t n = c->n;
    const double b1 = cfg->beta1, b2 = cfg->beta2, wd = c->wd;
    const double bc1 = 1 - pow(b1, (double)c->t), bc2_sqrt = sqrt(1 - pow(b2, (double)c->t));
    const double wn = sqrt(sums[0]), un = sqrt(sums[1]);
    double ratio = wn > 0 && un > 0 ? wn / un : 1.0;
    if (cfg->lamb_skip_adapt_no_decay && wd == 0)
        ratio = 1.0;
    const double step = c->lr * ratio;
    float *p = c->p;
    const float *m = c->s[DLT_SLOT_EXP_AVG], *v = c->s[DLT_SLOT_EXP_AVG_SQ];
    PFOR
    for (size_t i = 0; i < n; i++) {
        double w = p[i];
        p[i] = (float)(w - step * lamb_u(cfg, m[i], v[i], w, wd, bc1, bc2_sqrt));
    }
}
