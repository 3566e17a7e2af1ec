/* Update loops over one parameter's elements: the coefficients, the choice of
 * the ISA level's loops (optim_loops.h) and LAMB's two phases. The per-element rules
 * (optim_elem.h, shared with the GPU kernel) are transcribed from PyTorch
 * 1.13's torch/optim/<name>.py `_single_tensor_*` functions. Arithmetic is in
 * double; state is rounded to float where PyTorch stores it (so later uses see
 * the same stored value), which keeps trajectories within a few float ulps of
 * PyTorch's. */
#include "config.h"

#include <math.h>

#include "dlt_backend.h"
#include "dlt_cpu_isa.h"
#include "optim_impl.h"

void dlt_optim_coef_init(const dlt_optim_config *cfg, double lr, double wd, int64_t t,
                         dlt_optim_coef *k)
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

/* The loops of an ISA level: avx2 vectors for avx2 and avx512 (see
 * optim_loops.h for why not 512-bit ones), baseline otherwise. */
static const dlt_optim_loops *loops_of(dlt_cpu_isa isa)
{
#ifdef DLT_HAVE_X86_ISA
    if (isa == DLT_ISA_AVX2 || isa == DLT_ISA_AVX512)
        return &dlt_optim_loops_avx2;
#endif
    return &dlt_optim_loops_base;
}

const dlt_optim_loops *dlt_optim_loops_isa(int isa)
{
    return isa == DLT_ISA_LIBM || dlt_cpu_isa_supported((dlt_cpu_isa)isa)
               ? loops_of((dlt_cpu_isa)isa)
               : NULL;
}

void dlt_optim_kernel(const dlt_optim_config *cfg, const dlt_optim_chunk *c)
{
    dlt_optim_coef k;
    dlt_optim_coef_init(cfg, c->lr, c->wd, c->t, &k);
    const dlt_optim_loops *L = loops_of(dlt_cpu_isa_chosen()); /* supported, or libm */
    switch (cfg->kind) {
    case DLT_OPTIM_SGD:
        L->sgd(&k, c);
        break;
    case DLT_OPTIM_ADAM:
    case DLT_OPTIM_ADAMW:
        L->adam(cfg, &k, c);
        break;
    case DLT_OPTIM_RMSPROP:
        L->rmsprop(cfg, &k, c);
        break;
    case DLT_OPTIM_ADADELTA:
        L->adadelta(&k, c);
        break;
    case DLT_OPTIM_ADAGRAD:
        L->adagrad(&k, c);
        break;
    default:
        break; /* LAMB goes through its two phases */
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
    const double step =
        dlt_lamb_step(&k, sums[0], sums[1], cfg->lamb_skip_adapt_no_decay && c->wd == 0);
    float *p = c->p;
    const float *m = c->s[DLT_SLOT_EXP_AVG], *v = c->s[DLT_SLOT_EXP_AVG_SQ];
    DLT_SIMD_FOR(n, DLT_OPTIM_PAR_MIN, dlt_lamb_apply_elem(&k, step, &p[i], m[i], v[i]));
}
