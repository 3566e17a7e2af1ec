/* Elementwise unary functions shared by unary.c (math) and activation.c
 * (activations). Internal to libdltrain.
 *
 * Every kind is one scalar function f with its derivatives f^(k). The forward op
 * computes f(x); its gradient is the op "<name>_grad"(dy, x; k = 1) computing
 * dy * f'(x), whose own gradient is the same op with k + 1 (and k again for dy),
 * so any order of differentiation is the same fused kernel. */
#ifndef DLT_UNARY_IMPL_H
#define DLT_UNARY_IMPL_H

#include "dlt_opdef.h"

typedef enum {
    DLT_EW_EXP = 0,
    DLT_EW_LOG,
    DLT_EW_SQRT,
    DLT_EW_RSQRT,
    DLT_EW_POW,       /* a = exponent */
    DLT_EW_ABS,
    DLT_EW_CLAMP,     /* a = min, b = max */
    DLT_EW_SQUARE,
    DLT_EW_LEAKY_RELU, /* a = negative slope */
    DLT_EW_ELU,       /* a = alpha, b = scale */
    DLT_EW_SELU,      /* ELU with PyTorch's constants in a, b */
    DLT_EW_GELU,      /* exact: x * Phi(x) */
    DLT_EW_GELU_TANH, /* tanh approximation */
    DLT_EW_SIGMOID,
    DLT_EW_TANH,
    DLT_EW_SOFTPLUS,  /* a = beta, b = threshold */
    DLT_EW_NKINDS
} dlt_ew_kind;

/* Attributes of the forward op "<name>" and its derivative op "<name>_grad". */
typedef struct {
    int kind;  /* dlt_ew_kind */
    int order; /* 0: y = f(x); k >= 1: y = dy * f^(k)(x) */
    float a, b;
} dlt_ew_attr;

#ifdef __cplusplus
extern "C" {
#endif

/* y = f(x) for kind (with parameters a, b). */
dlt_t dlt_ew_apply(dlt_graph *g, dlt_t x, dlt_ew_kind kind, float a, float b);
/* dy * f^(order)(x), order >= 1. */
dlt_t dlt_ew_deriv(dlt_graph *g, dlt_t dy, dlt_t x, dlt_ew_kind kind, int order, float a, float b);

#ifdef __cplusplus
}
#endif

#endif
