/* Scalar math of the elementwise kinds (unary_impl.h): f^(k)(x) for every kind,
 * shared by the CPU kernel (unary.c) and the CUDA kernel (k_unary.cu) so
 * both evaluate one definition. The CPU computes in double, so that f32 results
 * are correctly rounded or nearly so (the PyTorch fixtures agree to ~1e-7); a
 * file may define DLT_EW_FLOAT to 1 before including this header to get the same
 * functions in float (the GPU does: double transcendentals would make these
 * memory-bound kernels compute-bound). One precision per translation unit.
 * Constants go through DLT_EW_C and functions through DLT_EW_M so that the
 * double version is exactly the expression it always was. */
#ifndef DLT_UNARY_MATH_H
#define DLT_UNARY_MATH_H

#include <math.h>

#include "unary_impl.h"

#if defined(DLT_EW_FLOAT) && DLT_EW_FLOAT
typedef float dlt_ew_real;
#define DLT_EW_M(fn) fn##f
#else
typedef double dlt_ew_real;
#define DLT_EW_M(fn) fn
#endif
#define DLT_EW_C(v) ((dlt_ew_real)(v))

static inline DLT_HD dlt_ew_real dlt_ew_sigm(dlt_ew_real x)
{
    if (x >= 0)
        return 1 / (1 + DLT_EW_M(exp)(-x));
    dlt_ew_real e = DLT_EW_M(exp)(x);
    return e / (1 + e);
}

/* d^k/dx^k x^p = p (p-1) ... (p-k+1) x^(p-k); exactly 0 once a factor is 0 (x^0
 * has zero derivative even at x = 0, as in PyTorch). */
static inline DLT_HD dlt_ew_real dlt_ew_pow_deriv(dlt_ew_real p, int k, dlt_ew_real x)
{
    if (k == 0)
        return DLT_EW_M(pow)(x, p);
    dlt_ew_real c = 1;
    for (int j = 0; j < k; j++)
        c *= p - j;
    return c == 0 ? 0 : c * DLT_EW_M(pow)(x, p - k);
}

static inline DLT_HD dlt_ew_real dlt_ew_gelu(int k, dlt_ew_real x)
{
    const dlt_ew_real inv_sqrt_2pi = DLT_EW_C(0.39894228040143267794);
    const dlt_ew_real inv_sqrt_2 = DLT_EW_C(0.70710678118654752440); /* M_SQRT1_2 */
    dlt_ew_real cdf = DLT_EW_C(0.5) * DLT_EW_M(erfc)(-x * inv_sqrt_2);
    dlt_ew_real pdf = inv_sqrt_2pi * DLT_EW_M(exp)(-DLT_EW_C(0.5) * x * x);
    switch (k) {
    case 0: return x * cdf;
    case 1: return cdf + x * pdf;
    case 2: return pdf * (2 - x * x);
    default: return pdf * (x * x * x - 4 * x);
    }
}

/* 0.5 x (1 + tanh(u)), u = c (x + kappa x^3); s = 1 - tanh^2 = tanh'. */
static inline DLT_HD dlt_ew_real dlt_ew_gelu_tanh(int k, dlt_ew_real x)
{
    const dlt_ew_real c = DLT_EW_C(0.79788456080286535588), kappa = DLT_EW_C(0.044715);
    dlt_ew_real u = c * (x + kappa * x * x * x), u1 = c * (1 + 3 * kappa * x * x);
    dlt_ew_real u2 = 6 * c * kappa * x, u3 = 6 * c * kappa;
    dlt_ew_real t = DLT_EW_M(tanh)(u), s = 1 - t * t;
    dlt_ew_real h = u1 - x * t * u1 * u1 + DLT_EW_C(0.5) * x * u2; /* f'' = s h */
    switch (k) {
    case 0: return DLT_EW_C(0.5) * x * (1 + t);
    case 1: return DLT_EW_C(0.5) * (1 + t) + DLT_EW_C(0.5) * x * s * u1;
    case 2: return s * h;
    default: {
        dlt_ew_real dh = DLT_EW_C(1.5) * u2 - t * u1 * u1 - x * s * u1 * u1 * u1 - 2 * x * t * u1 * u2 +
                         DLT_EW_C(0.5) * x * u3;
        return -2 * t * s * u1 * h + s * dh;
    }
    }
}

/* sigmoid and its derivatives with sm = 1 - s computed without cancellation */
static inline DLT_HD dlt_ew_real dlt_ew_sigmoid(int k, dlt_ew_real x)
{
    dlt_ew_real s = dlt_ew_sigm(x), sm = dlt_ew_sigm(-x);
    switch (k) {
    case 0: return s;
    case 1: return s * sm;
    case 2: return s * sm * (sm - s);
    default: return s * sm * (1 - 6 * s * sm);
    }
}

/* f^(k)(x) of every kind (k >= 0; a, b the kind's parameters). */
static inline DLT_HD dlt_ew_real dlt_ew_eval(int kind, int k, dlt_ew_real a, dlt_ew_real b, dlt_ew_real x)
{
    switch (kind) {
    case DLT_EW_EXP:
        return DLT_EW_M(exp)(x);
    case DLT_EW_LOG: {
        if (k == 0)
            return DLT_EW_M(log)(x);
        dlt_ew_real c = 1; /* (-1)^(k-1) (k-1)! */
        for (int j = 1; j < k; j++)
            c *= -j;
        return c / DLT_EW_M(pow)(x, (dlt_ew_real)k);
    }
    case DLT_EW_SQRT:
        return k == 0 ? DLT_EW_M(sqrt)(x) : dlt_ew_pow_deriv(DLT_EW_C(0.5), k, x);
    case DLT_EW_RSQRT:
        return k == 0 ? 1 / DLT_EW_M(sqrt)(x) : dlt_ew_pow_deriv(DLT_EW_C(-0.5), k, x);
    case DLT_EW_POW:
        return dlt_ew_pow_deriv(a, k, x);
    case DLT_EW_ABS:
        /* PyTorch's convention: the derivative at 0 is 0 */
        return k == 0 ? DLT_EW_M(fabs)(x) : k == 1 ? (x > 0 ? 1 : x < 0 ? -1 : x == 0 ? 0 : x) : 0;
    case DLT_EW_CLAMP:
        if (k == 0) {
            dlt_ew_real y = x < a ? a : x; /* NaN stays NaN; min > max gives max, as torch */
            return y > b ? b : y;
        }
        return k == 1 && x >= a && x <= b ? 1 : 0; /* both ends pass the gradient */
    case DLT_EW_SQUARE:
        return k == 0 ? x * x : k == 1 ? 2 * x : k == 2 ? 2 : 0;
    case DLT_EW_LEAKY_RELU:
        return k == 0 ? (x > 0 ? x : a * x) : k == 1 ? (x > 0 ? 1 : a) : 0;
    case DLT_EW_ELU:
    case DLT_EW_SELU:
        /* torch uses x <= 0 for f' but x < 0 for f'' (they differ at 0 only) */
        if (k == 0)
            return x > 0 ? b * x : b * a * DLT_EW_M(expm1)(x);
        if (k == 1)
            return x > 0 ? b : b * a * DLT_EW_M(exp)(x);
        return x < 0 ? b * a * DLT_EW_M(exp)(x) : 0;
    case DLT_EW_GELU:
        return dlt_ew_gelu(k, x);
    case DLT_EW_GELU_TANH:
        return dlt_ew_gelu_tanh(k, x);
    case DLT_EW_SIGMOID:
        return dlt_ew_sigmoid(k, x);
    case DLT_EW_TANH: {
        dlt_ew_real t = DLT_EW_M(tanh)(x), s = 1 - t * t;
        return k == 0 ? t : k == 1 ? s : k == 2 ? -2 * t * s : s * (6 * t * t - 2);
    }
    default: { /* softplus: linear above the threshold, as torch (whose f'' is 0 already at
                * a x == threshold); f^(k) = a^(k-1) sigmoid^(k-1)(a x) */
        dlt_ew_real z = a * x;
        if (z > b || (k >= 2 && z >= b))
            return k == 0 ? x : k == 1 ? 1 : 0;
        return k == 0 ? DLT_EW_M(log1p)(DLT_EW_M(exp)(z)) / a
                      : DLT_EW_M(pow)(a, (dlt_ew_real)(k - 1)) * dlt_ew_sigmoid(k - 1, z);
    }
    }
}

#endif
