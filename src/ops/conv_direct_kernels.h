/* The direct data-gradient convolution of one vmath path (conv_impl.h,
 * "conv_direct.c"): included by vmath_kernels.h, so compiled once per ISA
 * level with that level's flags; the vector type (conv_direct_vec.h) follows
 * the flags.
 *
 * One image: x [C, H, W] = conv_transpose2d(y [OC, OH, OW], w [OC, C, KH, KW]).
 * In the stride phase (py, px) (rows ih = py + sh i, columns iw = px + sw j)
 * the taps that reach the phase are the ky with (py + ph - ky) divisible by sh
 * and the kx likewise, each at a fixed shift ey = (py + ph - ky) / sh,
 * ex = (px + pw - kx) / sw:
 *
 *   x[c, py + sh i, px + sw j] = sum over o, (kx, ex), (ky, ey) of
 *                                w[o, c, ky, kx] * y[o, i + ey, j + ex]
 *
 * with y zero outside [0, OH) x [0, OW). The taps of a phase are ky0,
 * ky0 + sh, ... with shifts e0, e0 - 1, ...: consecutive. A tile is R phase
 * rows x NB vectors x all C channels, its R C NB sums in registers over the
 * whole (o, kx, ky) loop. For one (o, kx) and a group of up to CD_G(C)
 * consecutive vertical taps, each response row the tile needs is loaded once
 * and feeds every (tile row, tap) pair it meets and all C channels:
 * R + G - 1 loads for R G C multiply-adds.
 *
 * How the response is read depends on the path (CD_PADDED):
 * - AVX-512 reads it where it is: masked loads give zeros for the columns
 *   outside [0, OW) at no cost, and rows outside [0, OH) are skipped.
 * - The narrower paths first copy it into a zero-padded buffer
 *   (conv_direct_layout), so every load is a plain one: AVX2's masked load
 *   costs more than a load, its masks take registers out of 16, and the
 *   branches around rows cost more than the copy (measured: ResNet-20's
 *   3->16 data gradient at 45-67 GFLOP/s read in place, 89 padded).
 * Each element's sum runs in the same (o, kx, ky) order whatever the tile
 * and thread count. */
#include <string.h>

#include "conv_direct_vec.h"
#include "conv_impl.h"

/* Per path: CD_PADDED; CD_G(C), the vertical taps per group; CD_ACC(C), the
 * sums per tile. A tile of C channels and NB vectors has R = CD_ACC(C) /
 * (C NB) rows; NB is kept small enough for R >= 4. AVX-512's 32 registers
 * hold the sums, C G weights and a load. AVX2's 16 hold 12 sums, C weights
 * and a load for C > 1; the shared rows of C = 1 pay for 10 sums and 3 weights. */
#if defined(__AVX512F__)
#define CD_PADDED 0
#define CD_G(C) 3
#define CD_ACC(C) ((C) <= 2 ? 24 : (C) == 3 ? 18 : 16)
#define CD_ROWLOAD(p, m) CD_MLOAD((p), (m))
#else
#define CD_PADDED 1
#define CD_G(C) ((C) == 1 ? 3 : 1)
#define CD_ACC(C) ((C) == 1 ? 10 : 12)
#define CD_ROWLOAD(p, m) CD_LOADU(p)
#endif
enum { CD_GMAX = 3, CD_ACCMAX = 24 };
_Static_assert(CD_G(1) <= CD_GMAX && CD_G(4) <= CD_GMAX, "cd_tile dispatches groups of 1 to 3 taps");
_Static_assert((int)CD_ACCMAX <= (int)CONV_DIRECT_TILE, "the padded layout leaves CONV_DIRECT_TILE rows for a tile");
#define CD_ROWS(C, NB) (CD_ACC(C) / ((C) * (NB)) > 0 ? CD_ACC(C) / ((C) * (NB)) : 1)
#define CD_NBMAX(C) (CD_ACC(C) / (4 * (C)) > 4 ? 4 : CD_ACC(C) / (4 * (C)) < 1 ? 1 : CD_ACC(C) / (4 * (C)))

/* One phase of one image: its taps, where to read and where to write. The
 * response is read at y + row * ys + column, channel o at o * ycs: y itself
 * (ys = OW) or its padded copy (ys = the padded row, origin at (0, 0)). */
typedef struct {
    const float *y, *w, *bias;
    float *x;
    int64_t ys, ycs;      /* the response's row and channel strides */
    int64_t oc, oh, ow;   /* the response */
    int64_t h, wd;        /* the image */
    int64_t ip, jp;       /* the phase's rows and columns */
    int64_t khw;          /* KH KW */
    int kw, py, px, sh, sw;
    int nky, nkx;
    int ky[CONV_DIRECT_MAX_K], kx[CONV_DIRECT_MAX_K]; /* the taps reaching this phase ... */
    int64_t ey[CONV_DIRECT_MAX_K], ex[CONV_DIRECT_MAX_K]; /* ... and their shifts */
} cd_phase;

/* One group of NG consecutive vertical taps of one (o, kx) into the tile at
 * (i0, jc - ex): tap t (t < NG) is ky[k0 + NG - 1 - t], whose shift is the
 * group's lowest plus t, so tile row r reads response row lo + r + t. Row d
 * of the group (d < R + NG - 1; in place, only those of [d0, d1) exist) is
 * loaded once and feeds tile rows r = d - t. C, NB, R and NG are constants
 * where it is inlined, so acc stays in registers. */
VM_INLINE void cd_group(const cd_phase *p, cd_vec *acc, const float *yo, const float *wb, const cd_mask *m,
                        int64_t i0, int64_t jc, int k0, int C, int NB, int R, int NG)
{
    int64_t lo = i0 + p->ey[k0 + NG - 1];
    cd_vec wv[CD_GMAX][CONV_DIRECT_MAX_C];
#pragma GCC unroll 3
    for (int t = 0; t < NG; t++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++)
            wv[t][c] = CD_SET1(wb[c * p->khw + (int64_t)p->ky[k0 + NG - 1 - t] * p->kw]);
    int64_t d0 = lo < 0 ? -lo : 0, d1 = p->oh - lo;
    const float *yr = yo + lo * p->ys + jc;
#pragma GCC unroll 26
    for (int d = 0; d < R + NG - 1; d++) {
        if (!CD_PADDED && (d < d0 || d >= d1))
            continue;
#pragma GCC unroll 4
        for (int v = 0; v < NB; v++) {
            const float *src = yr + d * p->ys + v * CD_VW;
            cd_vec yv = CD_ROWLOAD(src, m[v]);
            CD_KEEP(yv);
#pragma GCC unroll 3
            for (int t = 0; t < NG; t++) {
                int r = d - t;
                if (r < 0 || r >= R)
                    continue;
#pragma GCC unroll 4
                for (int c = 0; c < C; c++)
                    acc[(r * C + c) * NB + v] = CD_FMA(yv, wv[t][c], acc[(r * C + c) * NB + v]);
            }
        }
    }
}

/* The tile at phase rows [i0, i0 + R) and columns [j0, j0 + NB CD_VW):
 * C, NB, R and G = CD_G(C) are constants where it is inlined. The taps of a
 * column go in groups of G, the last group of what is left (1 or 2 taps).
 * Rows past ip and columns past jp are computed and not stored. */
VM_INLINE void cd_tile(const cd_phase *p, int C, int NB, int R, int G, int64_t i0, int64_t j0)
{
    cd_vec acc[CD_ACCMAX];
#pragma GCC unroll 24
    for (int a = 0; a < R * C * NB; a++)
        acc[a] = CD_ZERO();
    for (int64_t o = 0; o < p->oc; o++) {
        const float *yo = p->y + o * p->ycs;
        const float *wo = p->w + o * C * p->khw;
        for (int b = 0; b < p->nkx; b++) {
            int64_t jc = j0 + p->ex[b];
            const float *wb = wo + p->kx[b];
            cd_mask m[4]; /* the columns in [0, OW), read in place */
            (void)m;
#pragma GCC unroll 4
            for (int v = 0; v < NB && !CD_PADDED; v++)
                m[v] = cd_mask_of(jc + v * CD_VW, p->ow);
            int g = 0;
            for (; g + G <= p->nky; g += G)
                cd_group(p, acc, yo, wb, m, i0, jc, g, C, NB, R, G);
            if (G >= 3 && p->nky - g == 2)
                cd_group(p, acc, yo, wb, m, i0, jc, g, C, NB, R, 2);
            else if (G >= 2 && p->nky - g == 1)
                cd_group(p, acc, yo, wb, m, i0, jc, g, C, NB, R, 1);
        }
    }
    cd_mask ms[4];
#pragma GCC unroll 4
    for (int v = 0; v < NB; v++)
        ms[v] = cd_mask_of(j0 + v * CD_VW, p->jp);
#pragma GCC unroll 24
    for (int r = 0; r < R; r++) {
        if (i0 + r >= p->ip)
            break;
        int64_t ih = p->py + p->sh * (i0 + r);
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            float *dst = p->x + (c * p->h + ih) * p->wd + p->px + p->sw * j0;
            cd_vec bv = CD_SET1(p->bias ? p->bias[c] : 0.f);
#pragma GCC unroll 4
            for (int v = 0; v < NB; v++) {
                cd_vec s = CD_ADD(acc[(r * C + c) * NB + v], bv);
                if (p->sw == 1) {
                    CD_MSTORE(dst + v * CD_VW, s, ms[v]);
                } else {
                    float t[CD_VW];
                    CD_STORE(t, s);
                    for (int64_t l = 0; l < CD_VW && j0 + v * CD_VW + l < p->jp; l++)
                        dst[(v * CD_VW + l) * p->sw] = t[l];
                }
            }
        }
    }
}

#define CD_CASE(C, NB)                                                                             \
    case (C) * 8 + (NB):                                                                           \
        cd_tile(p, C, NB, CD_ROWS(C, NB), CD_G(C), i0, j0);                                               \
        break;

static void cd_tile_any(const cd_phase *p, int C, int NB, int64_t i0, int64_t j0)
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
    int C = (int)q->c;
    cd_phase p = {.y = y, .w = w, .bias = bias, .x = x, .ys = q->ow, .ycs = q->oh * q->ow, .oc = q->oc,
                  .oh = q->oh, .ow = q->ow, .h = q->h, .wd = q->w, .khw = (int64_t)q->kh * q->kw, .kw = q->kw,
                  .sh = q->sh, .sw = q->sw};
    if (CD_PADDED) {
        cd_fill_pad(q, l, y, pad, fresh);
        p.y = pad + l->pt * l->wp + l->pl;
        p.ys = l->wp;
        p.ycs = l->hp * l->wp;
    }
    for (int py = 0; py < q->sh && py < q->h; py++) {
        p.py = py;
        p.ip = (q->h - py + q->sh - 1) / q->sh;
        p.nky = conv_phase_taps(py, q->ph, q->sh, q->kh, p.ky, p.ey);
        for (int px = 0; px < q->sw && px < q->w; px++) {
            p.px = px;
            p.jp = (q->w - px + q->sw - 1) / q->sw;
            p.nkx = conv_phase_taps(px, q->pw, q->sw, q->kw, p.kx, p.ex);
            for (int64_t j0 = 0; j0 < p.jp; j0 += (int64_t)CD_NBMAX(C) * CD_VW) {
                int64_t left = (p.jp - j0 + CD_VW - 1) / CD_VW;
                int nb = left < CD_NBMAX(C) ? (int)left : CD_NBMAX(C);
                for (int64_t i0 = 0; i0 < p.ip; i0 += CD_ROWS(C, nb))
                    cd_tile_any(&p, C, nb, i0, j0);
            }
        }
    }
}
