/* Private to the loss family: elementwise loss nodes (loss_pw.c) that the
 * builders in loss.c reduce, and the attributes and per-element math that the
 * CPU kernels share with the CUDA kernels (src/gpu/k_loss*.cu), so this
 * header compiles as C and as C++ (nvcc). */
#ifndef DLT_LOSS_IMPL_H
#define DLT_LOSS_IMPL_H

#include <math.h>

#include "dlt_opdef.h"

#ifdef __cplusplus
extern "C" {
#endif

dlt_t dlt_loss_smooth_l1_elem(dlt_graph *g, dlt_t x, dlt_t t, float beta);
dlt_t dlt_loss_bce_elem(dlt_graph *g, dlt_t x, dlt_t t, dlt_t pos_weight); /* pos_weight may be -1 */
dlt_t dlt_loss_kl_elem(dlt_graph *g, dlt_t x, dlt_t t);

#ifdef __cplusplus
}
#endif

/* cross_entropy, cross_entropy_grad, cross_entropy_hvp */
typedef struct {
    int ignore_index;
    float smoothing;
    int reduction; /* dlt_reduction: MEAN, SUM or NONE */
} ce_attr;

/* pointwise_loss function codes */
enum {
    SL1, SL1_D, SL1_DD,                              /* of d = x - t */
    BCE, BCE_DX, BCE_DT, BCE_DP, BCE_DXX, BCE_DXT, BCE_DXP, BCE_DTP, /* of (x, t, p) */
    KL, KL_DT, KL_DTT, NEG_ONE,                      /* of (x, t) */
    NFN
};

typedef struct {
    int fn;
    float beta;
} pw_attr;

/* log(sigmoid(x)) without overflow */
static inline DLT_HD double log_sigmoid(double x) { return -(fmax(-x, 0.0) + log1p(exp(-fabs(x)))); }

static inline DLT_HD float pw_eval(int fn, double beta, double x, double t, double p)
{
    double d = x - t, ad = fabs(d), s;
    switch (fn) {
    case SL1:
        return (float)(ad < beta ? 0.5 * d * d / beta : ad - 0.5 * beta);
    case SL1_D:
        return (float)(ad < beta ? d / beta : (d > 0) - (d < 0));
    case SL1_DD:
        return (float)(ad < beta ? 1.0 / beta : 0.0);
    case BCE:
        return (float)(-(p * t * log_sigmoid(x) + (1 - t) * log_sigmoid(-x)));
    case BCE_DX:
        s = 1.0 / (1.0 + exp(-x));
        return (float)(s * (1 - t + p * t) - p * t);
    case BCE_DT:
        return (float)(-p * log_sigmoid(x) + log_sigmoid(-x));
    case BCE_DP:
        return (float)(-t * log_sigmoid(x));
    case BCE_DXX:
        s = 1.0 / (1.0 + exp(-x));
        return (float)(s * (1 - s) * (1 - t + p * t));
    case BCE_DXT:
        s = 1.0 / (1.0 + exp(-x));
        return (float)(s * (p - 1) - p);
    case BCE_DXP:
        s = 1.0 / (1.0 + exp(-x));
        return (float)(t * (s - 1));
    case BCE_DTP:
        return (float)(-log_sigmoid(x));
    case KL: /* torch's xlogy: 0 where t == 0 */
        return (float)(t > 0 ? t * (log(t) - x) : -t * x);
    case KL_DT:
        return (float)(t > 0 ? log(t) + 1 - x : -x);
    case KL_DTT:
        return (float)(t > 0 ? 1 / t : 0);
    default:
        return -1.f;
    }
}

#endif
