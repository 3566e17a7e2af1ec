/* The random family's attributes, RNG stream and per-element draws (random.c),
 * shared with the CUDA kernels (src/gpu/k_random.cu) so that both backends
 * produce the same bits. Internal to libdltrain.
 *
 * Element i of a node at a run draws one 64-bit word,
 *     w = dlt_rng_u64(seed, dlt_random_stream(id, step), i),
 * and maps it to a float without any floating-point operation whose result
 * could differ between the host compiler, nvcc and libm:
 *   - uniform: u = (w >> 40) 2^-24 (24 bits, exact), y = fmaf(hi - lo, u, lo),
 *     and y = the float just below hi where that rounds up to hi. fmaf is one
 *     correctly rounded operation on both sides (C99 fma; CUDA's fmaf), so
 *     no FMA contraction or library difference can change it.
 *   - normal (Box-Muller): u1 = (high 32 bits + 1) 2^-32 in (0, 1] (never 0:
 *     no log(0)), theta = 2 pi (low 32 bits) 2^-32, z = sqrt(-2 ln u1)
 *     cos(theta). All of it is computed in integer fixed point (log2 by
 *     repeated squaring, an integer square root, sine and cosine by Taylor
 *     polynomials on an octant), which is exact and the same on every
 *     machine; the only floating-point steps are the conversion of the
 *     fixed-point product to float (correctly rounded) and
 *     y = fmaf(std, z, mean). |z| <= sqrt(64 ln 2) < 6.67: never inf or NaN.
 * Before its rounding to float, z is within 2e-9 of the exact Box-Muller
 * value (tests/ops/test_random.c checks it against libm in double). */
#ifndef DLT_RANDOM_IMPL_H
#define DLT_RANDOM_IMPL_H

#include <math.h>

#include "dlt_opdef.h"

typedef struct {
    int ndim;
    int64_t dim[DLT_MAX_DIMS];
    float p0, p1;   /* normal: mean, std; uniform: lo, hi */
    float width;    /* uniform: hi - lo as the builder rounded it */
    float hi_below; /* uniform: the largest float below hi */
    uint64_t id;    /* per-node stream id */
    /* dlt_random_*_samples: the counter of element i is base + i (base = the
     * rank's first global sample times the elements per sample), and the
     * seed the graph's own (gseed) instead of the run's rank-mixed one */
    uint64_t base, gseed;
    int global;
} random_attr;

/* The seed and first counter of a node at a run whose seed is run_seed. */
static inline DLT_HD uint64_t dlt_random_seed(const random_attr *a, uint64_t run_seed)
{
    return a->global ? a->gseed : run_seed;
}

/* The RNG stream of a random node at a run's step: new numbers every step,
 * the same numbers for the same (seed, step) (a resumed run). */
static inline DLT_HD uint64_t dlt_random_stream(uint64_t id, int64_t step)
{
    return dlt_rng_mix(id * 0xd1342543de82ef95ull ^
                       dlt_rng_mix((uint64_t)step + 0x2545f4914f6cdd1dull));
}

/* Uniform on [lo, hi): never hi itself. */
static inline DLT_HD float dlt_random_uniform_at(const random_attr *a, uint64_t seed,
                                                 uint64_t stream, uint64_t i)
{
    float u = (float)(dlt_rng_u64(seed, stream, i) >> 40) * (1.0f / 16777216.0f);
    float y = fmaf(a->width, u, a->p0);
    return y < a->p1 ? y : a->hi_below;
}

/* The 128-bit product a b as hi:lo from 32-bit halves: the portable way. */
static inline DLT_HD uint64_t dlt_random_mul128_halves(uint64_t a, uint64_t b, uint64_t *lo)
{
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu); /* < 3 2^32 */
    *lo = (mid << 32) | (p00 & 0xffffffffu);
    return a1 * b1 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* The same product the fast way where there is one: exact integer
 * arithmetic, so the device's __umul64hi, the host compiler's 128-bit
 * integers and the halves above all give the same bits. */
static inline DLT_HD uint64_t dlt_random_mul128(uint64_t a, uint64_t b, uint64_t *lo)
{
#if defined(__CUDA_ARCH__)
    *lo = a * b;
    return __umul64hi(a, b);
#elif defined(__SIZEOF_INT128__)
    __extension__ typedef unsigned __int128 u128;
    u128 p = (u128)a * b;
    *lo = (uint64_t)p;
    return (uint64_t)(p >> 64);
#else
    return dlt_random_mul128_halves(a, b, lo);
#endif
}

/* floor(a b / 2^s), 0 < s < 64, for products whose quotient fits 64 bits. */
static inline DLT_HD uint64_t dlt_random_mulshr(uint64_t a, uint64_t b, int s)
{
    uint64_t lo, hi = dlt_random_mul128(a, b, &lo);
    return (hi << (64 - s)) | (lo >> s);
}

/* -log2(m 2^-32) in Q48 (48 fraction bits) for m in [1, 2^32]. The mantissa
 * x = m / 2^e in [1, 2) (Q62) gives one bit of log2 x per squaring: x^2 >= 2
 * means the next bit is 1 (and x^2 / 2 goes on). Each square is truncated by
 * less than 2^-62, so the result is within 2^-47 of -log2 u. */
static inline DLT_HD uint64_t dlt_random_neglog2_q48(uint64_t m)
{
    int e = 0;
    for (int s = 32; s; s >>= 1)
        if (m >> (e + s))
            e += s;
    uint64_t x = m << (62 - e), f = 0;
    for (int k = 47; k >= 0; k--) { /* branch-free: the bits are random */
        x = dlt_random_mulshr(x, x, 62);
        uint64_t bit = x >> 63;
        x >>= bit;
        f |= bit << k;
    }
    return ((uint64_t)(32 - e) << 48) - f;
}

/* round(sqrt(v)), digit by digit (then up when v - r^2 > r, i.e. v >= (r + 1/2)^2). */
static inline DLT_HD uint64_t dlt_random_isqrt(uint64_t v)
{
    uint64_t r = 0, bit = 1ull << 62, w = v;
    while (bit > w)
        bit >>= 2;
    for (; bit; bit >>= 2) {
        uint64_t t = r + bit, take = 0 - (uint64_t)(w >= t); /* all ones when the digit is 1 */
        w -= t & take;
        r = (r >> 1) + (bit & take);
    }
    return v - r * r > r ? r + 1 : r;
}

/* cos (want_sin = 0) or sin of x in [0, pi/4], both Q62: Horner in x^2 with
 * the Taylor coefficients 1/k! in Q62, through x^14/14! and x^15/15! (the
 * first terms left out are below 1e-15). Every nested term is positive (an
 * alternating series of decreasing terms), so unsigned arithmetic holds. */
static inline DLT_HD uint64_t dlt_random_sincos_q62(uint64_t x, int want_sin)
{
    uint64_t x2 = dlt_random_mulshr(x, x, 62);
    if (want_sin) {
        uint64_t s = 3526632ull;                                  /* 1/15! */
        s = 740592679ull - dlt_random_mulshr(x2, s, 62);          /* 1/13! */
        s = 115532457973ull - dlt_random_mulshr(x2, s, 62);       /* 1/11! */
        s = 12708570377060ull - dlt_random_mulshr(x2, s, 62);     /* 1/9! */
        s = 915017067148291ull - dlt_random_mulshr(x2, s, 62);    /* 1/7! */
        s = 38430716820228233ull - dlt_random_mulshr(x2, s, 62);  /* 1/5! */
        s = 768614336404564651ull - dlt_random_mulshr(x2, s, 62); /* 1/3! */
        s = (1ull << 62) - dlt_random_mulshr(x2, s, 62);
        return dlt_random_mulshr(x, s, 62);
    }
    uint64_t c = 52899477ull;                                  /* 1/14! */
    c = 9627704831ull - dlt_random_mulshr(x2, c, 62);          /* 1/12! */
    c = 1270857037706ull - dlt_random_mulshr(x2, c, 62);       /* 1/10! */
    c = 114377133393536ull - dlt_random_mulshr(x2, c, 62);     /* 1/8! */
    c = 6405119470038039ull - dlt_random_mulshr(x2, c, 62);    /* 1/6! */
    c = 192153584101141163ull - dlt_random_mulshr(x2, c, 62);  /* 1/4! */
    c = 2305843009213693952ull - dlt_random_mulshr(x2, c, 62); /* 1/2! */
    return (1ull << 62) - dlt_random_mulshr(x2, c, 62);
}

/* Standard normal z for one 64-bit word (Box-Muller, see above), in Q60,
 * and as a float (one correctly rounded conversion). u1's
 * -log2 (Q48) times 2 ln 2 (Q62) gives -2 ln u1 in Q58 (< 2^64), its
 * rounded square root r in Q29 (r < 6.67, within 2^-30 of exact). theta's
 * octant o = top 3 bits and angle t into it (alpha = pi/4 t 2^-29; beta =
 * pi/4 - alpha in the odd octants): cos(o pi/4 + alpha) is cos alpha,
 * sin beta, -sin alpha, -cos beta, -cos alpha, -sin beta, sin alpha, cos beta
 * for o = 0..7. r |cos| in Q60 is below 2^63. */
static inline DLT_HD int64_t dlt_random_std_normal_q60(uint64_t w)
{
    uint64_t l = dlt_random_neglog2_q48((w >> 32) + 1);
    uint64_t r =
        dlt_random_isqrt(dlt_random_mulshr(l, 6393154322601327830ull, 52)); /* 2 ln 2 in Q62 */
    uint32_t b = (uint32_t)w;
    int o = (int)(b >> 29);
    uint64_t t = b & 0x1fffffffu;
    if (o & 1)
        t = (1ull << 29) - t;
    uint64_t ang = dlt_random_mulshr(t, 3622009729038561421ull, 29); /* pi/4 in Q62 */
    uint64_t c = dlt_random_sincos_q62(ang, ((o + 1) >> 1) & 1);
    int64_t z = (int64_t)dlt_random_mulshr(r, c, 31);
    return o >= 2 && o <= 5 ? -z : z;
}

static inline DLT_HD float dlt_random_std_normal(uint64_t w)
{
    return (float)dlt_random_std_normal_q60(w) * 0x1p-60f;
}

/* Normal with mean p0 and standard deviation p1. */
static inline DLT_HD float dlt_random_normal_at(const random_attr *a, uint64_t seed,
                                                uint64_t stream, uint64_t i)
{
    return fmaf(a->p1, dlt_random_std_normal(dlt_rng_u64(seed, stream, i)), a->p0);
}

#endif
