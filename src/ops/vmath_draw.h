/* The dropout draws of one vmath path (included by vmath_kernels.h, so
 * compiled once per ISA level): u[i] = dlt_rng_uniform's 24-bit uniform of
 * counter c0 + i under key = dlt_rng_key(seed, stream), bit for bit.
 *
 * Why a path of its own: the draw is splitmix64, two 64-bit multiplies by
 * constants after a 64-bit multiply-add for the counter. AVX-512DQ multiplies
 * 64-bit lanes (vpmullq) and GCC vectorises the plain loop there; on AVX2 it
 * does not (a 64-bit lane product costs three 32-bit ones) and the loop ran
 * one element at a time, 2.7 ns per element on one thread, dropout's whole
 * cost. The AVX2 code below builds each 64-bit product from three vpmuludq
 * and steps the counter by adding 8 G per group instead of multiplying; the
 * kernels take a block of draws from it, then select. Elsewhere (baseline,
 * AVX-512) the kernels keep the draw inside their own loops. */
#include <stdint.h>

#include "dlt_opdef.h"
#include "vmath_math.h"

/* dlt_rng_uniform's value for counter c under key, the 24-bit integer
 * converted through int32 (exact, and a conversion every ISA level vectorises) */
VM_INLINE float vm_draw24(uint64_t key, uint64_t c)
{
    return (float)(int32_t)(dlt_rng_keyed(key, c) >> 40) * (1.0f / 16777216.0f);
}

#if defined(__AVX2__) && !defined(__AVX512DQ__)
#include <immintrin.h>

/* the kernels draw a block into an array, then use it (elsewhere they draw
 * inside their own vectorised loops) */
#define VK_DRAW_SPLIT 1

/* a * c mod 2^64 per lane, c a constant split into 32-bit halves */
static inline __m256i vd_mul64(__m256i a, __m256i c_lo, __m256i c_hi)
{
    __m256i lo = _mm256_mul_epu32(a, c_lo);
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), c_lo), _mm256_mul_epu32(a, c_hi));
    return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
}

/* dlt_rng_mix's top 24 bits per lane (its last xor-shift leaves them as they are) */
static inline __m256i vd_mix_top24(__m256i z)
{
    const __m256i m1l = _mm256_set1_epi64x(0x1ce4e5b9), m1h = _mm256_set1_epi64x(0xbf58476d);
    const __m256i m2l = _mm256_set1_epi64x(0x133111eb), m2h = _mm256_set1_epi64x(0x94d049bb);
    z = vd_mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), m1l, m1h);
    z = vd_mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), m2l, m2h);
    return _mm256_srli_epi64(z, 40);
}

static void vk_draw24(uint64_t key, uint64_t c0, int64_t n, float *u)
{
    const uint64_t G = 0x9e3779b97f4a7c15ull;
    int64_t i = 0;
    if (n >= 8) {
        /* even counters in one vector, odd in the other: their 32-bit results
         * interleave into counter order with one shift and an or */
        uint64_t b = key + c0 * G;
        __m256i ze = _mm256_setr_epi64x((long long)b, (long long)(b + 2 * G), (long long)(b + 4 * G),
                                        (long long)(b + 6 * G));
        __m256i zo = _mm256_add_epi64(ze, _mm256_set1_epi64x((long long)G));
        const __m256i step = _mm256_set1_epi64x((long long)(8 * G));
        const __m256 scale = _mm256_set1_ps(1.0f / 16777216.0f);
        for (; i + 8 <= n; i += 8) {
            __m256i w = _mm256_or_si256(vd_mix_top24(ze), _mm256_slli_epi64(vd_mix_top24(zo), 32));
            _mm256_storeu_ps(u + i, _mm256_mul_ps(_mm256_cvtepi32_ps(w), scale));
            ze = _mm256_add_epi64(ze, step);
            zo = _mm256_add_epi64(zo, step);
        }
    }
    for (; i < n; i++)
        u[i] = vm_draw24(key, c0 + (uint64_t)i);
}
#else
#define VK_DRAW_SPLIT 0
#endif
