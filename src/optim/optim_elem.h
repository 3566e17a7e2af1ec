/* The per-element update rules, shared by the CPU loops (kernels.c) and the
 * fused GPU kernel (src/gpu/k_optim.cu), so both compute the same expressions:
 * double arithmetic, state rounded to float where PyTorch stores it.
 * Also the argument block of the device step. C and C++ (nvcc) compatible. */
#ifndef DLT_OPTIM_ELEM_H
#define DLT_OPTIM_ELEM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything one parameter's update needs, precomputed per step. */
/* State roles (the slots of dlt_optim_dev_args and of the optimizer); a slot exists only for the roles the configuration uses. */
enum {
    DLT_SLOT_MOMENTUM_BUFFER = 0,
    DLT_SLOT_EXP_AVG,
    DLT_SLOT_EXP_AVG_SQ,
    DLT_SLOT_MAX_EXP_AVG_SQ,
    DLT_SLOT_SQUARE_AVG,
    DLT_SLOT_GRAD_AVG,
    DLT_SLOT_ACC_DELTA,
    DLT_SLOT_SUM,
    DLT_SLOT_NROLES
};

typedef struct {
    double lr, wd, sign;
    double mu, damp;              /* sgd, rmsprop (mu) */
    int nesterov, first;          /* sgd */
    double b1, b2, eps;           /* adam(w), rmsprop/adadelta/adagrad (eps) */
    double step_size, bc2_sqrt, decay; /* adam(w); lamb: bc2_sqrt */
    double bc1;                   /* lamb: 1 - beta1^t */
    int decoupled;                /* adamw */
    double alpha;                 /* rmsprop */
    double rho;                   /* adadelta */
    double clr;                   /* adagrad: lr after lr_decay */
} dlt_optim_coef;

static inline DLT_HD void dlt_sgd_elem(const dlt_optim_coef *c, float *p, float g, float *buf)
{
    double d = c->sign * (double)g;
    if (c->wd != 0)
        d += c->wd * (double)*p;
    if (c->mu != 0) {
        /* PyTorch's buffer starts as a copy of the first d_p, undamped. */
        float b = c->first ? (float)d : (float)(c->mu * (double)*buf + (1 - c->damp) * d);
        *buf = b;
        d = c->nesterov ? d + c->mu * (double)b : (double)b;
    }
    *p = (float)((double)*p - c->lr * d);
}

/* Adam (L2 weight decay folded into the gradient: l2) and AdamW (decoupled),
 * the two options arguments so that a loop can make them constants: the loop
 * then has no branch and vectorises (optim_loops.h). The AMSGrad maximum is
 * a select, not a conditional store, for the same reason. */
static inline DLT_HD void dlt_adam_elem_as(const dlt_optim_coef *c, int decoupled, int l2, float *p, float g,
                                           float *m, float *v, float *vmax)
{
    double gi = c->sign * (double)g;
    double pi = *p;
    if (decoupled)
        pi = (float)(pi * c->decay);
    else if (l2)
        gi += c->wd * pi;
    float mi = (float)(c->b1 * (double)*m + (1 - c->b1) * gi);
    float vi = (float)(c->b2 * (double)*v + (1 - c->b2) * gi * gi);
    *m = mi, *v = vi;
    double vd = vi;
    if (vmax) {
        float vx = *vmax > vi ? *vmax : vi;
        *vmax = vx;
        vd = vx;
    }
    double denom = sqrt(vd) / c->bc2_sqrt + c->eps;
    *p = (float)(pi - c->step_size * (double)mi / denom);
}

static inline DLT_HD void dlt_adam_elem(const dlt_optim_coef *c, float *p, float g, float *m, float *v,
                                        float *vmax)
{
    dlt_adam_elem_as(c, c->decoupled, !c->decoupled && c->wd != 0, p, g, m, v, vmax);
}

static inline DLT_HD void dlt_rmsprop_elem(const dlt_optim_coef *c, float *p, float g, float *sq, float *ga,
                                           float *buf)
{
    double gi = c->sign * (double)g;
    if (c->wd != 0)
        gi += c->wd * (double)*p;
    float si = (float)(c->alpha * (double)*sq + (1 - c->alpha) * gi * gi);
    *sq = si;
    double avg;
    if (ga) {
        float gai = (float)(c->alpha * (double)*ga + (1 - c->alpha) * gi);
        *ga = gai;
        avg = sqrt((double)(float)((double)si - (double)gai * (double)gai));
    } else {
        avg = sqrt((double)si);
    }
    avg += c->eps;
    if (buf) {
        float b = (float)(c->mu * (double)*buf + gi / avg);
        *buf = b;
        *p = (float)((double)*p - c->lr * (double)b);
    } else {
        *p = (float)((double)*p - c->lr * gi / avg);
    }
}

static inline DLT_HD void dlt_adadelta_elem(const dlt_optim_coef *c, float *p, float g, float *sq, float *acc)
{
    double gi = c->sign * (double)g;
    if (c->wd != 0)
        gi += c->wd * (double)*p;
    float si = (float)(c->rho * (double)*sq + (1 - c->rho) * gi * gi);
    *sq = si;
    double delta = sqrt((double)*acc + c->eps) / sqrt((double)si + c->eps) * gi;
    *acc = (float)(c->rho * (double)*acc + (1 - c->rho) * delta * delta);
    *p = (float)((double)*p - c->lr * delta);
}

static inline DLT_HD void dlt_adagrad_elem(const dlt_optim_coef *c, float *p, float g, float *sum)
{
    double gi = c->sign * (double)g;
    if (c->wd != 0)
        gi += c->wd * (double)*p;
    float si = (float)((double)*sum + gi * gi);
    *sum = si;
    *p = (float)((double)*p - c->clr * gi / (sqrt((double)si) + c->eps));
}

/* LAMB: u = (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + wd * w */
static inline DLT_HD double dlt_lamb_u(const dlt_optim_coef *c, double m, double v, double w)
{
    return (m / c->bc1) / (sqrt(v) / c->bc2_sqrt + c->eps) + c->wd * w;
}

/* LAMB phase 1 for one element: the moments, and w^2 and u^2 added to *ww, *uu. */
static inline DLT_HD void dlt_lamb_moments_elem(const dlt_optim_coef *c, float w, float g, float *m, float *v,
                                                double *ww, double *uu)
{
    double gi = c->sign * (double)g;
    float mi = (float)(c->b1 * (double)*m + (1 - c->b1) * gi);
    float vi = (float)(c->b2 * (double)*v + (1 - c->b2) * gi * gi);
    *m = mi, *v = vi;
    double u = dlt_lamb_u(c, mi, vi, w);
    *ww += (double)w * (double)w;
    *uu += u * u;
}

/* LAMB phase 2: w -= lr * ratio * u, ratio from whole-parameter sums (1 when a
 * norm is 0, or when `no_adapt`). */
static inline DLT_HD double dlt_lamb_step(const dlt_optim_coef *c, double ww, double uu, int no_adapt)
{
    double wn = sqrt(ww), un = sqrt(uu);
    double ratio = wn > 0 && un > 0 ? wn / un : 1.0;
    return c->lr * (no_adapt ? 1.0 : ratio);
}

static inline DLT_HD void dlt_lamb_apply_elem(const dlt_optim_coef *c, double step, float *p, float m, float v)
{
    double w = *p;
    *p = (float)(w - step * dlt_lamb_u(c, m, v, w));
}

/* ---- the fused device step (one launch over every parameter; LAMB: three) */
#define DLT_OPTIM_NSLOTS 8
#define DLT_OPTIM_TILE 4096
typedef struct {
    int kind;                      /* dlt_optim_kind (not LAMB) */
    float *params;                 /* device flat buffers */
    const float *grads;
    float *slot[DLT_OPTIM_NSLOTS]; /* by role (optim_impl.h), NULL when unused */
    int amsgrad, centered;
    /* per parameter (device arrays): coefficients of this step, element ranges */
    const dlt_optim_coef *coef;
    const uint64_t *seg_off, *seg_len;
    /* per tile: its parameter and first element (tiles never straddle parameters) */
    const int32_t *tile_seg;
    const uint64_t *tile_start;
    int64_t ntiles;
    /* LAMB: per tile (w^2, u^2) partial sums, then per parameter the sums of its
     * tiles in tile order (tiles [seg_tile0[s], + seg_ntiles[s])) */
    double *tile_sums, *seg_sums;
    const int64_t *seg_tile0, *seg_ntiles;
    int nsegs;
    int lamb_skip_adapt; /* no trust ratio where the weight decay is 0 */
} dlt_optim_dev_args;
/* The backend symbol "optim_step" has this type. */
typedef dlt_status (*dlt_optim_dev_step_fn)(void *ctx, const dlt_optim_dev_args *a);

#ifdef __cplusplus
}
#endif
#endif
