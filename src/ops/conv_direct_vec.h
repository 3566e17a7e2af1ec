/* The vector type of the direct convolution kernels (conv_direct_kernels.h),
 * following the flags of the vmath path that includes it: loads and stores,
 * and masked stores that touch only the lanes of a window [0, n) of a row.
 * AVX-512 has a masked load too (CD_MLOAD: zeros in the lanes outside the
 * window, no memory read there, no fault), so its kernel reads a shifted row
 * of the response where it is; the narrower paths read a zero-padded copy
 * with plain loads (conv_direct_kernels.h says why). */
#ifndef DLT_CONV_DIRECT_VEC_H
#define DLT_CONV_DIRECT_VEC_H

#include <stdint.h>

#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 cd_vec;
typedef __mmask16 cd_mask;
enum { CD_VW = 16 };
#define CD_ZERO() _mm512_setzero_ps()
#define CD_SET1(s) _mm512_set1_ps(s)
#define CD_ADD(a, b) _mm512_add_ps((a), (b))
#define CD_MUL(a, b) _mm512_mul_ps((a), (b))
#define CD_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define CD_STORE(p, v) _mm512_storeu_ps((p), (v))
#define CD_LOADU(p) _mm512_loadu_ps(p)
#define CD_MLOAD(p, m) _mm512_maskz_loadu_ps((m), (p))
#define CD_MSTORE(p, v, m) _mm512_mask_storeu_ps((p), (m), (v))
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 cd_vec;
typedef __m256i cd_mask;
enum { CD_VW = 8 };
#define CD_ZERO() _mm256_setzero_ps()
#define CD_SET1(s) _mm256_set1_ps(s)
#define CD_ADD(a, b) _mm256_add_ps((a), (b))
#define CD_MUL(a, b) _mm256_mul_ps((a), (b))
#define CD_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define CD_STORE(p, v) _mm256_storeu_ps((p), (v))
#define CD_LOADU(p) _mm256_loadu_ps(p)
#define CD_MSTORE(p, v, m) _mm256_maskstore_ps((p), (m), (v))
#else
#if defined(__SSE2__)
#include <emmintrin.h>
typedef __m128 cd_vec;
enum { CD_VW = 4 };
#define CD_ZERO() _mm_setzero_ps()
#define CD_SET1(s) _mm_set1_ps(s)
#define CD_ADD(a, b) _mm_add_ps((a), (b))
#define CD_MUL(a, b) _mm_mul_ps((a), (b))
#define CD_FMA(a, b, c) _mm_add_ps(_mm_mul_ps((a), (b)), (c))
#define CD_STORE(p, v) _mm_storeu_ps((p), (v))
#define CD_LOADU(p) _mm_loadu_ps(p)
#else
typedef float cd_vec;
enum { CD_VW = 1 };
#define CD_ZERO() 0.f
#define CD_SET1(s) (s)
#define CD_ADD(a, b) ((a) + (b))
#define CD_MUL(a, b) ((a) * (b))
#define CD_FMA(a, b, c) ((a) * (b) + (c))
#define CD_STORE(p, v) (*(p) = (v))
#define CD_LOADU(p) (*(p))
#endif
/* The lanes [lo, hi) of the window. */
typedef struct {
    int lo, hi;
} cd_mask;
static inline void cd_mstore(float *p, cd_vec v, cd_mask m)
{
    float t[CD_VW];
    CD_STORE(t, v);
    for (int l = m.lo; l < m.hi; l++)
        p[l] = t[l];
}
#define CD_MSTORE(p, v, m) cd_mstore((p), (v), (m))
#endif

/* The mask of the lanes l of a vector starting at column j of a row whose
 * window is [0, n): those with 0 <= j + l < n. */
static inline cd_mask cd_mask_of(int64_t j, int64_t n)
{
    int64_t lo = j < 0 ? -j : 0, hi = n - j;
    lo = lo < CD_VW ? lo : CD_VW;
    hi = hi < 0 ? 0 : hi < CD_VW ? hi : CD_VW;
    hi = hi > lo ? hi : lo;
#if defined(__AVX512F__)
    return (cd_mask)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
#elif defined(__AVX2__) && defined(__FMA__)
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32((int)lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), idx));
#else
    return (cd_mask){(int)lo, (int)hi};
#endif
}

/* CD_KEEP(v): v stays in a register. Without it GCC folds a load into each
 * of the multiply-adds that use it, several loads (most of them split across
 * cache lines) instead of one. */
#if defined(__SSE2__) && defined(__GNUC__)
#define CD_KEEP(v) __asm__("" : "+v"(v))
#else
#define CD_KEEP(v) ((void)0)
#endif

#endif
