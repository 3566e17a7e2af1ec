/* f32 elementwise math written for the auto-vectoriser: every function is
 * straight-line code (selects, no branches, no libm calls) so that a loop
 * over an array under `#pragma omp simd` becomes vector code for whatever
 * ISA the including translation unit is compiled for (vmath_kernels.h).
 *
 * Methods (all constants derived here or by src/ops/vmath_fit.py):
 * - exp: n = round(x / ln 2), r = x - n ln 2 in two parts (Cody-Waite; n ln2_hi
 *   is exact), e^r by its Taylor polynomial of degree 7 (|r| <= 0.347: error
 *   < 0.1 ulp), times 2^n as two factors 2^n1 2^n2 so that results down in the
 *   subnormals round once and 2^128 overflows to inf.
 * - expm1: the same reduction, e^r - 1 = r + r^2 (1/2 + r/6 + ...) (degree 8),
 *   then 2^n q + (2^n - 1) (exact for n <= 24) or 2^n (1 + q) - 1 above.
 * - log: x = m 2^e with m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact), s =
 *   f / (2 + f), log(1 + f) = 2 atanh(s) = f - s (f - R(s^2)) with R the odd
 *   series of atanh to s^11.
 * - tanh(x) = sign(x) e / (e + 2), e = expm1(2|x|): no cancellation near 0.
 * - sigmoid: e = exp(-|x|), 1 / (1 + e) or e / (1 + e) by the sign, so the
 *   small side is never 1 - something; derivatives as products of both sides.
 * - erfc(z) = exp(-z^2) g(z), g the scaled complementary error function,
 *   g(z) = t P(u), t = 2 / (2 + z), u affine in t over [0.164, 1] (z <= 10.2),
 *   P a degree-10 Chebyshev least-squares fit (relative error 4e-9). erf(z) =
 *   1 - erfc(z) for |z| >= 0.5, its Taylor series below.
 * - GELU: Phi(x) = h E for x < 0 and 1 - h E for x >= 0 with E = exp(-x^2/2)
 *   and h = g(|x|/sqrt 2)/2; for |x| < 0.8 Phi's Taylor series instead. x^2/2
 *   is formed exactly (FMA, or double without it) and passed to exp as hi +
 *   lo: in the tails a rounded x^2 would cost ~x^2/2 ulp.
 * - GELU (tanh): 0.5 (1 + tanh u) = sigmoid(2u), so f = x sigmoid(2u) and f' =
 *   sigmoid(2u) + 2 x sigmoid(2u) sigmoid(-2u) u' (no 1 + tanh cancellation in
 *   the left tail), with 2u formed as hi + lo (f32 pairs with FMA, else
 *   double) for the same reason, and
 *   e^-|2u| kept as m 2^k so that x e^-|2u| is rounded once near FLT_MIN.
 * Special values: NaN propagates, exp/expm1 overflow to inf and underflow to 0,
 * log(0) = -inf, log(x < 0) = NaN, tanh/erf/expm1/GELU keep -0; GELU(-inf) is
 * NaN as in the libm path, but the GELU derivatives at -inf/+inf are their
 * limits 0 and 1 (the libm path gives NaN there). */
#ifndef DLT_VMATH_MATH_H
#define DLT_VMATH_MATH_H

#include <stdint.h>

#define VM_INLINE static inline __attribute__((always_inline))

/* a * b + c, fused where the ISA has it (the files are compiled with
 * -ffp-contract=off, so nothing else is fused: the vector body and the scalar
 * remainder of a loop compute bit-identical results). */
#if defined(__FMA__) || defined(__AVX512F__)
#define VM_FMA(a, b, c) __builtin_fmaf((a), (b), (c))
#define VM_HAS_FMA 1
#else
#define VM_FMA(a, b, c) ((a) * (b) + (c))
#define VM_HAS_FMA 0
#endif

#define VM_LOG2E 1.44269504088896340736f
#define VM_LN2_HI 0.693145751953125f         /* 16 bits: n ln2_hi exact for |n| < 256 */
#define VM_LN2_LO 1.42860682030941723212e-6f /* ln 2 - VM_LN2_HI */
#define VM_SHIFTER 12582912.f                /* 1.5 * 2^23: x + it rounds x to an integer */
#define VM_INV_SQRT_2PI 0.39894228040143267794f
#define VM_SQRT1_2 0.70710678118654752440f

VM_INLINE float vm_asf(uint32_t u)
{
    union {
        uint32_t u;
        float f;
    } v = {.u = u};
    return v.f;
}

VM_INLINE uint32_t vm_asu(float f)
{
    union {
        float f;
        uint32_t u;
    } v = {.f = f};
    return v.u;
}

VM_INLINE float vm_abs(float x)
{
    return vm_asf(vm_asu(x) & 0x7fffffffu);
}
/* |m| with the sign of s */
VM_INLINE float vm_copysign(float m, float s)
{
    return vm_asf((vm_asu(m) & 0x7fffffffu) | (vm_asu(s) & 0x80000000u));
}
/* 2^n for -126 <= n <= 127 */
VM_INLINE float vm_pow2i(int32_t n)
{
    return vm_asf((uint32_t)(n + 127) << 23);
}

/* e^r - 1 for |r| <= 0.35: Taylor to r^8 (error < 1e-9 relative) */
VM_INLINE float vm_expm1_poly(float r)
{
    float p = VM_FMA(r, 1.f / 40320, 1.f / 5040);
    p = VM_FMA(p, r, 1.f / 720);
    p = VM_FMA(p, r, 1.f / 120);
    p = VM_FMA(p, r, 1.f / 24);
    p = VM_FMA(p, r, 1.f / 6);
    p = VM_FMA(p, r, 0.5f);
    return VM_FMA(r * r, p, r);
}

/* n = round(x / ln 2) as float and int, and r = x - n ln 2 (|x| <= ~160) */
VM_INLINE float vm_reduce(float x, float *nf, int32_t *n)
{
    float t = VM_FMA(x, VM_LOG2E, VM_SHIFTER);
    *nf = t - VM_SHIFTER;
    /* the low mantissa bits of t are n (garbage, but no UB, for NaN) */
    *n = (int32_t)(vm_asu(t) - vm_asu(VM_SHIFTER));
    float r = VM_FMA(*nf, -VM_LN2_HI, x);
    return VM_FMA(*nf, -VM_LN2_LO, r);
}

/* e^(x + lo) = *m * 2^k with *m normal (or 0, inf, NaN) and the power of two
 * returned, for callers that multiply *m by something first so that a result
 * in the subnormals is rounded once. |lo| <= ulp(x). */
VM_INLINE float vm_exp_split(float x, float lo, float *m)
{
    float xc = x > 100.f ? 100.f : x; /* NaN passes through both */
    xc = xc < -110.f ? -110.f : xc;
    lo = xc == x ? lo : 0.f; /* clamped: lo (up to ulp(x)) would undo it */
    float nf;
    int32_t n;
    float r = vm_reduce(xc, &nf, &n) + lo;
    float p = vm_expm1_poly(r) + 1.f;
    int32_t n1 = n >> 1, n2 = n - n1;         /* each in [-80, 73]: 2^n1 2^n2 are normal */
    *m = x < -110.f ? 0.f : p * vm_pow2i(n1); /* 0 below: whatever multiplies it */
    return vm_pow2i(n2);
}

/* e^(x + lo) with |lo| <= ulp(x) (lo = 0: e^x) */
VM_INLINE float vm_exp_hl(float x, float lo)
{
    float m, k = vm_exp_split(x, lo, &m);
    return m * k;
}

VM_INLINE float vm_exp(float x)
{
    return vm_exp_hl(x, 0.f);
}

VM_INLINE float vm_expm1(float x)
{
    float xc = x > 100.f ? 100.f : x;
    xc = xc < -30.f ? -30.f : xc; /* e^-30 - 1 rounds to -1 */
    float nf;
    int32_t n;
    float q = vm_expm1_poly(vm_reduce(xc, &nf, &n));
    int32_t n1 = n >> 1, n2 = n - n1;
    float s = vm_pow2i(n1) * vm_pow2i(n2);
    float lo = VM_FMA(s, q, s - 1.f);                         /* 2^n - 1 exact for n <= 24 */
    float hi = (q + 1.f) * vm_pow2i(n1) * vm_pow2i(n2) - 1.f; /* n > 24: the -1 is below an ulp */
    float y = n > 24 ? hi : lo;
    return x == 0.f ? x : y; /* keeps -0 */
}

VM_INLINE float vm_log(float x)
{
    int sub = x < 0x1p-126f;
    float xs = sub ? x * 0x1p23f : x;
    uint32_t ix = vm_asu(xs);
    int32_t e = (int32_t)((ix >> 23) & 0xffu) - 127 - (sub ? 23 : 0);
    float m = vm_asf((ix & 0x7fffffu) | 0x3f800000u); /* [1, 2) */
    int big = m > 1.41421356237309504880f;
    m = big ? m * 0.5f : m;
    e = e + (big ? 1 : 0);
    float f = m - 1.f; /* exact */
    float s = f / (2.f + f), z = s * s;
    float R = VM_FMA(z, 2.f / 11, 2.f / 9);
    R = VM_FMA(R, z, 2.f / 7);
    R = VM_FMA(R, z, 2.f / 5);
    R = VM_FMA(R, z, 2.f / 3);
    R = R * z; /* log1p(f) = 2s + s R = f - s (f - R) */
    float ef = (float)e;
    float lg = f - (s * (f - R) - ef * VM_LN2_LO);
    float y = VM_FMA(ef, VM_LN2_HI, lg);
    y = x == __builtin_inff() ? x : y;
    y = x == 0.f ? -__builtin_inff() : y;
    y = x < 0.f ? __builtin_nanf("") : y;
    return x == x ? y : x;
}

/* tanh(|x|) >= 1 - 2^-25 from |x| = 9.01 on: clamped to 10 so e stays finite */
VM_INLINE float vm_tanh(float x)
{
    float ax = vm_abs(x);
    ax = ax > 10.f ? 10.f : ax;
    float e = vm_expm1(2.f * ax);
    return vm_copysign(e / (e + 2.f), x);
}

/* sigmoid(x) in *p and sigmoid(-x) in *q, both to a few ulp */
VM_INLINE void vm_sigmoid2(float x, float *p, float *q)
{
    float e = vm_exp(-vm_abs(x)), d = 1.f + e;
    float big = 1.f / d, small = e / d;
    *p = x >= 0.f ? big : small;
    *q = x >= 0.f ? small : big; /* NaN: both NaN already */
}

/* 1 - tanh(x)^2 = 4 sigmoid(2x) sigmoid(-2x) */
VM_INLINE float vm_tanh_d1(float x)
{
    float p, q;
    vm_sigmoid2(2.f * x, &p, &q);
    return 4.f * p * q;
}

/* g(z) = e^(z^2) erfc(z) for z >= 0 (z = inf: 0) */
VM_INLINE float vm_erfcx(float z)
{
    float t = 2.f / (2.f + z);
    float u = VM_FMA(t, 2.392156863f, -1.392156863f);
    float p = VM_FMA(u, 5.887029024e-06f, 6.665686272e-06f);
    p = VM_FMA(p, u, -6.919037645e-05f);
    p = VM_FMA(p, u, 6.639351794e-06f);
    p = VM_FMA(p, u, 6.089345728e-04f);
    p = VM_FMA(p, u, -6.418505878e-04f);
    p = VM_FMA(p, u, -6.225262204e-03f);
    p = VM_FMA(p, u, 6.103111775e-03f);
    p = VM_FMA(p, u, 1.026405444e-01f);
    p = VM_FMA(p, u, 3.266210345e-01f);
    p = VM_FMA(p, u, 5.709434893e-01f);
    return t * p;
}

VM_INLINE float vm_erf(float x)
{
    float ax = vm_abs(x), z2 = ax * ax;
    /* |x| < 0.5: 2/sqrt(pi) sum (-1)^k z^(2k+1) / (k! (2k+1)), k <= 7 */
    float s = VM_FMA(z2, (float)(-1.0 / 75600), (float)(1.0 / 9360));
    s = VM_FMA(s, z2, (float)(-1.0 / 1320));
    s = VM_FMA(s, z2, (float)(1.0 / 216));
    s = VM_FMA(s, z2, (float)(-1.0 / 42));
    s = VM_FMA(s, z2, 0.1f);
    s = VM_FMA(s, z2, (float)(-1.0 / 3));
    float small = (ax * 1.12837916709551257390f) * VM_FMA(s, z2, 1.f);
    /* a rounded z^2 costs z^2 erfc(z) ~ 1e-8 absolute here: negligible */
    float big = 1.f - vm_exp(-z2) * vm_erfcx(ax);
    return vm_copysign(ax < 0.5f ? small : big, x);
}

/* exp(-x^2 / 2) in *E and h = Phi(-|x|) / E in *h (Phi(-|x|) = h E) */
VM_INLINE void vm_gelu_parts(float x, float *E, float *h)
{
#if VM_HAS_FMA /* x^2 = a + ae exactly: the double evaluation's hi and lo (AVX2 2.46 -> 1.84 ns) */
    float a = x * x, hi = 0.5f * a, lo = 0.5f * VM_FMA(x, x, -a);
#else
    double xd = x, hx2 = 0.5 * xd * xd; /* exact */
    float hi = (float)hx2, lo = (float)(hx2 - (double)hi);
#endif
    lo = hi < 1e30f ? lo : 0.f; /* x = +-inf: inf - inf */
    *E = vm_exp_hl(-hi, -lo);
    *h = 0.5f * vm_erfcx(vm_abs(x) * VM_SQRT1_2);
}

/* Phi(x) for |x| < 0.8 by its Taylor series: 1/2 + phi(0) sum_k (-1)^k
 * x^(2k+1) / (2^k k! (2k+1)), k <= 9 (error < 1e-9); more accurate there than
 * 1 - h E, whose erfcx fit carries ~2 ulp into the result */
#define VM_PHI_K(k, f)                                                                             \
    ((float)(((k) % 2 ? -1.0 : 1.0) / ((double)(1 << (k)) * (f) * (2 * (k) + 1))))
VM_INLINE float vm_ncdf_small(float x)
{
    float z = x * x;
    float s = VM_FMA(z, VM_PHI_K(9, 362880.0), VM_PHI_K(8, 40320.0));
    s = VM_FMA(s, z, VM_PHI_K(7, 5040.0));
    s = VM_FMA(s, z, VM_PHI_K(6, 720.0));
    s = VM_FMA(s, z, VM_PHI_K(5, 120.0));
    s = VM_FMA(s, z, VM_PHI_K(4, 24.0));
    s = VM_FMA(s, z, VM_PHI_K(3, 6.0));
    s = VM_FMA(s, z, VM_PHI_K(2, 2.0));
    s = VM_FMA(s, z, VM_PHI_K(1, 1.0));
    s = VM_FMA(s, z, 1.f);
    return VM_FMA(x * VM_INV_SQRT_2PI, s, 0.5f);
}

/* x Phi(x); products ordered so that a subnormal E is rounded once */
VM_INLINE float vm_gelu(float x)
{
    float E, h;
    vm_gelu_parts(x, &E, &h);
    float big = x < 0.f ? (x * h) * E : x * (1.f - h * E);
    return vm_abs(x) < 0.8f ? x * vm_ncdf_small(x) : big;
}

/* Phi(x) + x phi(x) */
VM_INLINE float vm_gelu_d1(float x)
{
    float E, h;
    vm_gelu_parts(x, &E, &h);
    float xl =
        vm_abs(x) < 1e9f ? x : vm_copysign(1e9f, x); /* E = 0 there: limits 0 and 1 at -+inf */
    float xp = xl * VM_INV_SQRT_2PI;
    float big = x < 0.f ? E * (h + xp) : VM_FMA(E, xp - h, 1.f);
    return vm_abs(x) < 0.8f ? VM_FMA(xp, E, vm_ncdf_small(x)) : big;
}

/* 2u = x (c2 + c2k x^2) as hi + lo, so that e^-|2u| is not off by |2u| ulp in
 * the left tail. With FMA in f32 pairs: x^2 = a + ae and c2k a = p + pe
 * exactly, p + c2 = s + se exactly (Fast2Sum, the larger first: both are
 * positive), then x s = hi + (its rounding error) exactly and the small terms
 * (the constants' low halves among them) into lo, which is then within an ulp
 * of the double evaluation's: the results had its bits on every 1021st f32
 * bit pattern, for a quarter less time (AVX2: value and derivative 2.47 ->
 * 1.82 ns per element). Without FMA the products are not exact: in double. sigmoid(2u)
 * and sigmoid(-2u) are big = 1 / d and small = e / d = (m / d) 2^k, e =
 * e^-|2u| = m 2^k (the power of two kept apart: e may be subnormal while x
 * times it is not) */
VM_INLINE float vm_gelu_tanh_parts(float x, float *big, float *md, float *pk)
{
#if VM_HAS_FMA
    /* 2 sqrt(2 / pi) and it times 0.044715, each as f32 hi + lo */
    const float c2h = 1.59576916694641113281f, c2l = -4.53406805e-8f;
    const float kh = 0.07135481387376785278f, kl = 2.39883247e-9f;
    float a = x * x, ae = VM_FMA(x, x, -a);
    float p = kh * a, pe = VM_FMA(kh, a, -p);
    float mx = p > c2h ? p : c2h, mn = p > c2h ? c2h : p;
    float s = p + c2h, se = (mx - s) + mn;
    float te = VM_FMA(kh, ae, VM_FMA(kl, a, c2l) + pe + se);
    float hi = x * s, lo = VM_FMA(x, te, VM_FMA(x, s, -hi));
#else
    const double c2 = 2 * 0.79788456080286535588, c2k = c2 * 0.044715;
    double xd = x, v = xd * (c2 + c2k * xd * xd);
    float hi = (float)v, lo = (float)(v - (double)hi);
#endif
    float ahi = vm_abs(hi), m;
    lo = ahi < 1e30f ? lo : 0.f;
    *pk = vm_exp_split(-ahi, hi >= 0.f ? -lo : lo, &m);
    float d = 1.f + m * *pk;
    *big = 1.f / d;
    *md = m / d;
    return hi;
}

/* x sigmoid(2u) */
VM_INLINE float vm_gelu_tanh(float x)
{
    float big, md, pk;
    float v = vm_gelu_tanh_parts(x, &big, &md, &pk);
    return v >= 0.f ? x * big : (x * md) * pk;
}

/* p + 2 x p q u' with p = sigmoid(2u), q = sigmoid(-2u) */
VM_INLINE float vm_gelu_tanh_d1(float x)
{
    const float c = 0.79788456080286535588f, k3 = 3 * 0.044715f;
    float big, md, pk;
    float v = vm_gelu_tanh_parts(x, &big, &md, &pk);
    float xl =
        vm_abs(x) < 1e9f ? x : vm_copysign(1e9f, x);      /* e = 0 there: limits 0 and 1 at -+inf */
    float xu = 2.f * xl * (c * VM_FMA(k3, xl * xl, 1.f)); /* 2 x u', finite */
    float pos = VM_FMA((xu * big) * md, pk, big);         /* p = big, q = small */
    float neg = (md * VM_FMA(xu, big, 1.f)) * pk;         /* p = small: p (1 + 2 x q u') */
    return v >= 0.f ? pos : neg;
}

#endif
