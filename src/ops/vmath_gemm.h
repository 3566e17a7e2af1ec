/* Small matrix products of one vmath path (included by vmath_kernels.h, so
 * compiled once per ISA level with its flags; the vector type is the direct
 * convolution's, conv_direct_vec.h): attention's per-head products, whose
 * sizes (a block of 32-64 query rows, up to a few hundred keys, heads of
 * 64) are too small for a BLAS call to reach the FMA units' rate. A
 * library sgemm packs both operands into panels on every call; for 32 x 128 x
 * 64 that is as much memory traffic as arithmetic. Here the A operand is
 * read where it is (one broadcast per element and row of a tile, any
 * strides, so A and A^T cost the same) and the B operand's rows are loaded
 * as vectors, so B must have its columns contiguous: the caller lays out
 * the operands that are used transposed (K^T, V^T) once per head with
 * vk_transpose.
 *
 * Each element of C is one chain of multiply-adds over p = 0..K-1 in order,
 * then alpha times it (plus C when beta is 1): its bits do not depend on
 * where it falls in the tiling, nor on M or N. */
#ifndef DLT_VMATH_GEMM_H
#define DLT_VMATH_GEMM_H

#include <stdint.h>

#include "conv_direct_vec.h"
#include "vmath_math.h"

/* Tile rows: accumulators MR x 2 vectors plus two B vectors and a broadcast
 * fit the register file (AVX-512 32, AVX2 and SSE2 16 registers). */
#if CD_VW == 16
#define VG_MR 8
#elif CD_VW == 8
#define VG_MR 6
#else
#define VG_MR 4
#endif

/* C[mr x nv vectors] (+)= alpha A B for one tile: A(i, p) = a[i sai + p sap],
 * B's row p at b + p ldb. mr and nv are constants at every call. */
VM_INLINE void vg_tile(const int mr, const int nv, int64_t K, const float *a, int64_t sai, int64_t sap,
                       const float *b, int64_t ldb, float alpha, int beta, float *c, int64_t ldc)
{
    cd_vec acc[VG_MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
        acc[i][0] = CD_ZERO();
        acc[i][1] = CD_ZERO();
    }
    for (int64_t p = 0; p < K; p++) {
        const float *bp = b + p * ldb, *ap = a + p * sap;
        cd_vec b0 = CD_LOADU(bp), b1 = nv > 1 ? CD_LOADU(bp + CD_VW) : b0;
#pragma GCC unroll 8
        for (int i = 0; i < mr; i++) {
            cd_vec ai = CD_SET1(ap[i * sai]);
            acc[i][0] = CD_FMA(ai, b0, acc[i][0]);
            if (nv > 1)
                acc[i][1] = CD_FMA(ai, b1, acc[i][1]);
        }
    }
    cd_vec al = CD_SET1(alpha);
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            cd_vec r = CD_MUL(acc[i][v], al);
            if (beta)
                r = CD_ADD(r, CD_LOADU(ci + v * CD_VW));
            CD_STORE(ci + v * CD_VW, r);
        }
    }
}

/* every row of a panel of nv vectors: whole tiles, then one of the rest */
VM_INLINE void vg_panel(const int nv, int64_t M, int64_t K, const float *a, int64_t sai, int64_t sap,
                        const float *b, int64_t ldb, float alpha, int beta, float *c, int64_t ldc)
{
    int64_t i = 0;
    for (; i + VG_MR <= M; i += VG_MR)
        vg_tile(VG_MR, nv, K, a + i * sai, sai, sap, b, ldb, alpha, beta, c + i * ldc, ldc);
    const float *ai = a + i * sai;
    float *ci = c + i * ldc;
    switch (M - i) {
#define VG_REST(r)                                                                                 \
    case r:                                                                                        \
        vg_tile(r, nv, K, ai, sai, sap, b, ldb, alpha, beta, ci, ldc);                             \
        break;
        VG_REST(1)
        VG_REST(2)
        VG_REST(3)
#if VG_MR > 4
        VG_REST(4)
        VG_REST(5)
#endif
#if VG_MR > 6
        VG_REST(6)
        VG_REST(7)
#endif
#undef VG_REST
    default:
        break;
    }
}

/* C = alpha op(A) B (+ C when beta is 1; beta 0 does not read C), C [M, N]
 * with rows ldc apart, A(i, p) = a[i sai + p sap] (A row-major: sai = lda,
 * sap = 1; A^T: sai = 1, sap = lda), B [K, N] rows ldb apart. */
static void vk_gemm_small(int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t sai, int64_t sap,
                          const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    int bt = beta != 0.f;
    int64_t j = 0;
    for (; j + 2 * CD_VW <= N; j += 2 * CD_VW)
        vg_panel(2, M, K, a, sai, sap, b + j, ldb, alpha, bt, c + j, ldc);
    for (; j + CD_VW <= N; j += CD_VW)
        vg_panel(1, M, K, a, sai, sap, b + j, ldb, alpha, bt, c + j, ldc);
    for (; j < N; j++) /* the last columns, one at a time in the same order */
        for (int64_t i = 0; i < M; i++) {
            float s = 0.f;
            for (int64_t p = 0; p < K; p++)
                s = VM_FMA(a[i * sai + p * sap], b[p * ldb + j], s);
            float r = s * alpha;
            c[i * ldc + j] = bt ? r + c[i * ldc + j] : r;
        }
}

/* y[c ldy + r] = x[r ldx + c] for r < rows, c < cols (8 x 8 blocks in
 * registers where there is AVX) */
static void vk_transpose(const float *x, int64_t rows, int64_t cols, int64_t ldx, float *y, int64_t ldy)
{
    int64_t r0 = 0;
#if defined(__AVX2__)
    for (; r0 + 8 <= rows; r0 += 8) {
        int64_t c0 = 0;
        for (; c0 + 8 <= cols; c0 += 8) {
            const float *p = x + r0 * ldx + c0;
            __m256 r[8], t[8];
            for (int k = 0; k < 8; k++)
                r[k] = _mm256_loadu_ps(p + k * ldx);
            for (int k = 0; k < 8; k += 2) {
                t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
                t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
            }
            for (int k = 0; k < 8; k += 4) {
                r[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
                r[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xee);
                r[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
                r[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xee);
            }
            float *q = y + c0 * ldy + r0;
            for (int k = 0; k < 4; k++) {
                _mm256_storeu_ps(q + k * ldy, _mm256_permute2f128_ps(r[k], r[k + 4], 0x20));
                _mm256_storeu_ps(q + (k + 4) * ldy, _mm256_permute2f128_ps(r[k], r[k + 4], 0x31));
            }
        }
        for (int64_t rr = r0; rr < r0 + 8; rr++)
            for (int64_t cc = c0; cc < cols; cc++)
                y[cc * ldy + rr] = x[rr * ldx + cc];
    }
#endif
    for (; r0 < rows; r0++)
        for (int64_t cc = 0; cc < cols; cc++)
            y[cc * ldy + r0] = x[r0 * ldx + cc];
}

#endif
