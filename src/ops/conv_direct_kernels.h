/* The direct data-gradient convolution of one vmath path (conv_impl.h,
 * "conv_direct.c"): included by vmath_kernels.h, so compiled once per ISA
 * level with that level's flags; the vector type below follows the flags.
 *
 * One image: x [C, H, W] = conv_transpose2d(y [OC, OH, OW], w [OC, C, KH, KW]).
 * In the stride phase (py, px) (rows ih = py + sh i, columns iw = px + sw j)
 * the taps that reach the phase are the ky with (py + ph - ky) divisible by sh
 * and the kx likewise, each at a fixed shift ey = (py + ph - ky) / sh,
 * ex = (px + pw - kx) / sw:
 *
 *   x[c, py + sh i, px + sw j] = sum over o, (ky, ey), (kx, ex) of
 *                                w[o, c, ky, kx] * y[o, i + ey, j + ex]
 *
 * with y zero outside [0, OH) x [0, OW). y is copied into the zero-padded
 * buffer `pad` first (conv_direct_layout), so every shifted row is a plain
 * vector load. A tile is R phase rows x NB vectors x all C channels: its R C NB
 * sums stay in registers over the whole (o, ky, kx) loop, and each load of y
 * feeds C fused multiply-adds. Tiles may run past the phase's last row or
 * column into the padding; those lanes are dropped when the tile is stored. */
#include <string.h>

#include "conv_impl.h"

#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 cd_vec;
enum { CD_VW = 16 };
#define CD_ZERO() _mm512_setzero_ps()
#define CD_LOAD(p) _mm512_loadu_ps(p)
#define CD_STORE(p, v) _mm512_storeu_ps((p), (v))
#define CD_SET1(s) _mm512_set1_ps(s)
#define CD_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 cd_vec;
enum { CD_VW = 8 };
#define CD_ZERO() _mm256_setzero_ps()
#define CD_LOAD(p) _mm256_loadu_ps(p)
#define CD_STORE(p, v) _mm256_storeu_ps((p), (v))
#define CD_SET1(s) _mm256_set1_ps(s)
#define CD_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#elif defined(__SSE2__)
#include <emmintrin.h>
typedef __m128 cd_vec;
enum { CD_VW = 4 };
#define CD_ZERO() _mm_setzero_ps()
#define CD_LOAD(p) _mm_loadu_ps(p)
#define CD_STORE(p, v) _mm_storeu_ps((p), (v))
#define CD_SET1(s) _mm_set1_ps(s)
#define CD_FMA(a, b, c) _mm_add_ps(_mm_mul_ps((a), (b)), (c))
#else
typedef float cd_vec;
enum { CD_VW = 1 };
#define CD_ZERO() 0.f
#define CD_LOAD(p) (*(p))
#define CD_STORE(p, v) (*(p) = (v))
#define CD_SET1(s) (s)
#define CD_FMA(a, b, c) ((a) * (b) + (c))
#endif

/* CD_KEEP(v): v stays in a register. Without it GCC folds the response load
 * into each of the C multiply-adds that use it, C loads (most of them split
 * across cache lines) instead of one: half the speed. */
#if defined(__SSE2__) && defined(__GNUC__)
#define CD_KEEP(v) __asm__("" : "+v"(v))
#else
#define CD_KEEP(v) ((void)0)
#endif

/* Sums per tile: 12 of 16 vector registers (24 of AVX-512's 32) leave room
 * for the loads and the C broadcast weights. A tile of C channels and NB
 * vectors has R = CD_ACC / (C NB) rows. NB is kept small enough for R >= 4:
 * the R rows of a tile read R + (taps per phase column) - 1 response rows
 * per channel, not R times the taps, so taller tiles take less from the
 * caches per multiply-add. */
#if defined(__AVX512F__)
enum { CD_ACC = 24 };
#else
enum { CD_ACC = 12 };
#endif
_Static_assert((int)CD_ACC <= (int)CONV_DIRECT_TILE, "the padded layout leaves CONV_DIRECT_TILE rows for a tile");
/* The most sums a tile has: R = 1 when C NB > CD_ACC (C, NB <= 4). */
enum { CD_ACCMAX = CD_ACC > 16 ? CD_ACC : 16 };
#define CD_ROWS(C, NB) (CD_ACC / ((C) * (NB)) > 0 ? CD_ACC / ((C) * (NB)) : 1)
#define CD_NBMAX(C) (CD_ACC / (4 * (C)) > 4 ? 4 : CD_ACC / (4 * (C)) < 1 ? 1 : CD_ACC / (4 * (C)))

/* One phase of one image: its taps and where to read. */
typedef struct {
    const float *w;
    int64_t wp, khw;   /* padded row length; KH KW */
    int nky, nkx, kw;
    int ky[CONV_DIRECT_MAX_K], kx[CONV_DIRECT_MAX_K]; /* the taps reaching this phase ... */
    int64_t ey[CONV_DIRECT_MAX_K], ex[CONV_DIRECT_MAX_K]; /* ... and their shifts */
    int64_t oc, chan;          /* response channels; floats per padded channel */
} cd_phase;

/* One tile into out [R][C][NB CD_VW]: base points at the padded response's
 * channel 0 at the tile's first phase row and column (shift 0). C, NB and R
 * are constants where it is inlined, so acc lives in registers. */
VM_INLINE void cd_tile(const cd_phase *p, int C, int NB, int R, const float *base, float *out)
{
    cd_vec acc[CD_ACCMAX];
#pragma GCC unroll 24
    for (int a = 0; a < R * C * NB; a++)
        acc[a] = CD_ZERO();
    for (int64_t o = 0; o < p->oc; o++) {
        const float *yo = base + o * p->chan;
        const float *wo = p->w + o * C * p->khw;
        for (int a = 0; a < p->nky; a++) {
            const float *yr = yo + p->ey[a] * p->wp;
            const float *wa = wo + (int64_t)p->ky[a] * p->kw;
            for (int b = 0; b < p->nkx; b++) {
                const float *yb = yr + p->ex[b];
                const float *wb = wa + p->kx[b];
                cd_vec wv[CONV_DIRECT_MAX_C];
#pragma GCC unroll 4
                for (int c = 0; c < C; c++)
                    wv[c] = CD_SET1(wb[c * p->khw]);
#pragma GCC unroll 24
                for (int r = 0; r < R; r++)
#pragma GCC unroll 4
                    for (int v = 0; v < NB; v++) {
                        cd_vec yv = CD_LOAD(yb + r * p->wp + v * CD_VW);
                        CD_KEEP(yv);
#pragma GCC unroll 4
                        for (int c = 0; c < C; c++)
                            acc[(r * C + c) * NB + v] = CD_FMA(yv, wv[c], acc[(r * C + c) * NB + v]);
                    }
            }
        }
    }
#pragma GCC unroll 24
    for (int a = 0; a < R * C * NB; a++)
        CD_STORE(out + a * CD_VW, acc[a]);
}

#define CD_CASE(C, NB)                                                                             \
    case (C) * 8 + (NB):                                                                           \
        cd_tile(p, C, NB, CD_ROWS(C, NB), base, out);                                              \
        break;

static void cd_tile_any(const cd_phase *p, int C, int NB, const float *base, float *out)
{
    switch (C * 8 + NB) {
        CD_CASE(1, 1) CD_CASE(1, 2) CD_CASE(1, 3) CD_CASE(1, 4)
        CD_CASE(2, 1) CD_CASE(2, 2) CD_CASE(2, 3) CD_CASE(2, 4)
        CD_CASE(3, 1) CD_CASE(3, 2) CD_CASE(3, 3) CD_CASE(3, 4)
        CD_CASE(4, 1) CD_CASE(4, 2) CD_CASE(4, 3) CD_CASE(4, 4)
    default:
        break;
    }
}
#undef CD_CASE

/* pad = y with zeros around it (conv_direct_layout). The zeros are written
 * only when `fresh`: nothing else writes outside y's place, so later images
 * through the same buffer copy y alone. */
static void cd_fill_pad(const conv_geom *q, const conv_direct_layout *l, const float *y, float *pad, int fresh)
{
    if (fresh)
        memset(pad, 0, (size_t)(q->oc * l->hp * l->wp) * sizeof(float));
    for (int64_t o = 0; o < q->oc; o++)
        for (int64_t r = 0; r < q->oh; r++)
            memcpy(pad + (o * l->hp + l->pt + r) * l->wp + l->pl, y + (o * q->oh + r) * q->ow,
                   (size_t)q->ow * sizeof(float));
}

static void vk_conv_data_image(const conv_geom *q, const conv_direct_layout *l, const float *y, const float *w,
                               const float *bias, float *x, float *pad, int fresh)
{
    cd_fill_pad(q, l, y, pad, fresh);
    int C = (int)q->c;
    cd_phase p = {.w = w, .wp = l->wp, .khw = (int64_t)q->kh * q->kw, .kw = q->kw, .oc = q->oc,
                  .chan = l->hp * l->wp};
    float out[CD_ACCMAX * CD_VW];
    for (int py = 0; py < q->sh && py < q->h; py++) {
        int64_t ip = (q->h - py + q->sh - 1) / q->sh;
        p.nky = conv_phase_taps(py, q->ph, q->sh, q->kh, p.ky, p.ey);
        for (int px = 0; px < q->sw && px < q->w; px++) {
            int64_t jp = (q->w - px + q->sw - 1) / q->sw;
            p.nkx = conv_phase_taps(px, q->pw, q->sw, q->kw, p.kx, p.ex);
            for (int64_t j0 = 0; j0 < jp; j0 += (int64_t)CD_NBMAX(C) * CD_VW) {
                int64_t left = (jp - j0 + CD_VW - 1) / CD_VW;
                int nb = left < CD_NBMAX(C) ? (int)left : CD_NBMAX(C);
                int rows = CD_ROWS(C, nb);
                int64_t cols = jp - j0 < (int64_t)nb * CD_VW ? jp - j0 : (int64_t)nb * CD_VW;
                for (int64_t i0 = 0; i0 < ip; i0 += rows) {
                    cd_tile_any(&p, C, nb, pad + (l->pt + i0) * l->wp + l->pl + j0, out);
                    for (int r = 0; r < rows && i0 + r < ip; r++) {
                        int64_t ih = py + q->sh * (i0 + r);
                        for (int c = 0; c < C; c++) {
                            const float *src = out + (int64_t)(r * C + c) * nb * CD_VW;
                            float *dst = x + (c * q->h + ih) * q->w + px + q->sw * j0;
                            float b = bias ? bias[c] : 0.f;
                            if (q->sw == 1)
                                for (int64_t j = 0; j < cols; j++)
                                    dst[j] = src[j] + b;
                            else
                                for (int64_t j = 0; j < cols; j++)
                                    dst[j * q->sw] = src[j] + b;
                        }
                    }
                }
            }
        }
    }
}
