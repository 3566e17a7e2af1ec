/* CPU kernels of the normalisation family: the forward (statistics, running
 * buffers, affine map) and the backward norm_grad / norm_backward.
 *
 * Data is seen as [A, C, S]. Statistics are accumulated in double over blocks
 * whose partition depends only on the shape, and the parallel loops run over
 * independent statistics or channels, so results are bitwise independent of
 * the thread count. The passes over a contiguous block run on the vector path
 * the CPU has (vmath.h's norm table, norm_block_kernels.h; the baseline path
 * when DLT_CPU_ISA=libm); the rest are `omp simd` loops built for baseline. */
#include <math.h>

#include "norm_impl.h"
#include "vmath.h"

/* below this many elements per block, per-block bookkeeping dominates: the
 * batch-statistics loops switch to row-major sweeps over chunks of channels */
#define BLOCK_MIN 16
#define CHUNK 256
#define PAR(n) ((n) > 32768)

/* Mean and biased variance of n contiguous values (two passes, in double). */
static void moments(const float *x, int64_t n, double *mean, double *var)
{
    const dlt_vmath_ops *v = dlt_vmath_vec();
    double m = v->norm.sum(x, n) / (double)n;
    *mean = m;
    *var = v->norm.sqdev(x, n, m) / (double)n;
}

/* Per-channel mean and sum of squared deviations of [A, C, S] data: each
 * (a, c) block of S values is reduced with two passes while it is in cache, and
 * blocks are merged in order of a with Chan et al.'s pairwise update. */
static void channel_moments_blocked(const float *x, int64_t A, int64_t C, int64_t S, int64_t c, double *mean,
                                    double *sqdev)
{
    const dlt_vmath_ops *v = dlt_vmath_vec();
    double n = 0, m = 0, m2 = 0;
    for (int64_t a = 0; a < A; a++) {
        const float *p = x + (a * C + c) * S;
        double bm = v->norm.sum(p, S) / (double)S, bq = v->norm.sqdev(p, S, bm);
        double nb = (double)S, nn = n + nb, d = bm - m;
        m += d * nb / nn;
        m2 += bq + d * d * n * nb / nn;
        n = nn;
    }
    *mean = m;
    *sqdev = m2;
}

/* Small S: sweep rows of C*S values for a chunk of channels at a time, two
 * passes, accumulators per (channel, s) position, combined per channel. */
static void channel_moments_rows(const float *x, int64_t A, int64_t C, int64_t S, int64_t c0, int64_t nc,
                                 double *mean, double *sqdev)
{
    double acc[CHUNK];
    int64_t w = nc * S, M = A * S;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t j = 0; j < w; j++)
            acc[j] = 0;
        for (int64_t a = 0; a < A; a++) {
            const float *p = x + (a * C + c0) * S;
            if (pass == 0) {
#pragma omp simd
                for (int64_t j = 0; j < w; j++)
                    acc[j] += p[j];
            } else {
                for (int64_t cc = 0; cc < nc; cc++) {
                    double m = mean[cc];
#pragma omp simd
                    for (int64_t s = 0; s < S; s++) {
                        double d = (double)p[cc * S + s] - m;
                        acc[cc * S + s] += d * d;
                    }
                }
            }
        }
        for (int64_t cc = 0; cc < nc; cc++) {
            double t = 0;
            for (int64_t s = 0; s < S; s++)
                t += acc[cc * S + s];
            if (pass == 0)
                mean[cc] = t / (double)M;
            else
                sqdev[cc] = t;
        }
    }
}

/* The epilogue's inputs: a residual shaped like x (or NULL) and a relu flag. */
typedef struct {
    const float *r;
    int relu;
} epilogue;

/* y = x * sc + sh over n values at offset o of x's tensor, then the epilogue; y may be x */
static void map_block(const float *x, float *y, int64_t n, float sc, float sh, const epilogue *e, int64_t o)
{
    dlt_vmath_vec()->norm.map(x, y, n, sc, sh, e->r ? e->r + o : NULL, e->relu);
}

static void apply_channels(const float *x, float *y, int64_t A, int64_t C, int64_t S, int64_t c0, int64_t nc,
                           const float *mean, const float *rstd, const float *gam, const float *bet,
                           const epilogue *e);

/* Batch statistics per channel into mean/rstd and (training with running
 * buffers) the running statistics, unbiased variance as torch keeps it; then
 * y for the same channels while their values are still in cache (one
 * parallel region, one pass over memory for the statistics). */
static void batch_stats(const dlt_kctx *k, const dlt_norm_attr *a, const float *x, float *mean, float *rstd,
                        const float *gam, const float *bet, const epilogue *e, float *y)
{
    int64_t A = a->A, C = a->C, S = a->S, M = dlt_norm_count(a);
    float *rm = NULL, *rv = NULL;
    if (a->running && k->training) {
        rm = k->state[DLT_NORM_IN_RMEAN(a)];
        rv = k->state[DLT_NORM_IN_RMEAN(a) + 1];
    }
    int64_t per = S >= BLOCK_MIN ? 1 : (CHUNK / S > 0 ? CHUNK / S : 1);
    int64_t nchunks = (C + per - 1) / per;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (PAR(A * C * S))
    for (int64_t ch = 0; ch < nchunks; ch++) {
        double m[CHUNK], v[CHUNK];
        int64_t c0 = ch * per, nc = C - c0 < per ? C - c0 : per;
        if (S >= BLOCK_MIN)
            channel_moments_blocked(x, A, C, S, c0, &m[0], &v[0]);
        else
            channel_moments_rows(x, A, C, S, c0, nc, m, v);
        for (int64_t cc = 0; cc < nc; cc++) {
            int64_t c = c0 + cc;
            mean[c] = (float)m[cc];
            rstd[c] = (float)(1.0 / sqrt(v[cc] / (double)M + a->eps));
            if (rm) {
                float mo = a->momentum;
                rm[c] = (1.f - mo) * rm[c] + mo * (float)m[cc];
                rv[c] = (1.f - mo) * rv[c] + mo * (float)(v[cc] / (double)(M - 1));
            }
        }
        apply_channels(x, y, A, C, S, c0, nc, mean, rstd, gam, bet, e);
    }
}

/* y = x * sc + sh (and the epilogue) for channels [c0, c0 + nc) of batch statistics */
static void apply_channels(const float *x, float *y, int64_t A, int64_t C, int64_t S, int64_t c0, int64_t nc,
                           const float *mean, const float *rstd, const float *gam, const float *bet,
                           const epilogue *e)
{
    for (int64_t i = 0; i < A; i++)
        for (int64_t c = c0; c < c0 + nc; c++) {
            float m = mean[c], r = rstd[c];
            float sc = gam ? gam[c] * r : r, sh = (bet ? bet[c] : 0.f) - m * sc;
            int64_t o = (i * C + c) * S;
            map_block(x + o, y + o, S, sc, sh, e, o);
        }
}

/* y = x * sc + sh with sc = gamma[c] * rstd, sh = beta[c] - mean * sc, and the epilogue */
static void apply(const dlt_norm_attr *a, const float *x, const float *mean, const float *rstd,
                  const float *gam, const float *bet, const epilogue *e, float *y, int nthreads)
{
    int64_t A = a->A, C = a->C, S = a->S, G = a->G, cpg = a->kind == DLT_NORM_BATCH ? 1 : C / G;
    int batch = a->kind == DLT_NORM_BATCH;
    if (S >= BLOCK_MIN) {
#pragma omp parallel for schedule(static) num_threads(nthreads) if (PAR(A * C * S))
        for (int64_t ac = 0; ac < A * C; ac++) {
            int64_t c = ac % C;
            int64_t st = batch ? c : (ac / C) * G + c / cpg;
            float m = mean[st], r = rstd[st];
            float sc = gam ? gam[c] * r : r, sh = (bet ? bet[c] : 0.f) - m * sc;
            map_block(x + ac * S, y + ac * S, S, sc, sh, e, ac * S);
        }
        return;
    }
    /* short blocks (layer norm: S = 1): a row of C*S values at a time */
#pragma omp parallel for schedule(static) num_threads(nthreads) if (PAR(A * C * S))
    for (int64_t i = 0; i < A; i++) {
        if (S == 1 && !batch && !e->r && !e->relu) { /* map_block's arithmetic, no call per value */
            for (int64_t gi = 0; gi < G; gi++) { /* a group's channels share m and r */
                const float *px = x + i * C, *pg = gam, *pb = bet;
                float *py = y + i * C, m = mean[i * G + gi], r = rstd[i * G + gi];
#pragma omp simd
                for (int64_t c = gi * cpg; c < (gi + 1) * cpg; c++) {
                    float sc = pg ? pg[c] * r : r, sh = (pb ? pb[c] : 0.f) - m * sc;
                    py[c] = px[c] * sc + sh;
                }
            }
            continue;
        }
        for (int64_t c = 0; c < C; c++) {
            int64_t st = batch ? c : i * G + c / cpg;
            float m = mean[st], r = rstd[st];
            float sc = gam ? gam[c] * r : r, sh = (bet ? bet[c] : 0.f) - m * sc;
            int64_t o = (i * C + c) * S;
            map_block(x + o, y + o, S, sc, sh, e, o);
        }
    }
}

dlt_status dlt_norm_cpu(const dlt_kctx *k)
{
    const dlt_norm_attr *a = DLT_CATTR(k->node, dlt_norm_attr);
    const float *x = k->in[0];
    const float *gam = a->affine ? k->in[DLT_NORM_IN_GAMMA] : NULL;
    const float *bet = a->affine ? k->in[DLT_NORM_IN_GAMMA + 1] : NULL;
    float *mean = k->out[1], *rstd = k->out[2], *alpha = k->out[3];
    int64_t A = a->A, C = a->C, S = a->S, M = dlt_norm_count(a);
    epilogue e = {a->resid ? k->in[DLT_NORM_IN_RES(a)] : NULL, a->act == DLT_NORM_ACT_RELU};
    if (a->kind == DLT_NORM_GROUP) {
        int64_t ng = A * a->G;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (PAR(A * C * S))
        for (int64_t gi = 0; gi < ng; gi++) {
            double m, v;
            moments(x + gi * M, M, &m, &v);
            mean[gi] = (float)m;
            rstd[gi] = (float)(1.0 / sqrt(v + a->eps));
        }
        *alpha = 1.f;
    } else if (k->training || !a->running) {
        if (M < 2 && a->running && k->training)
            return dlt_seterr(DLT_ERR_SHAPE, "training needs more than one value per channel");
        batch_stats(k, a, x, mean, rstd, gam, bet, &e, k->out[0]);
        *alpha = 1.f;
        return DLT_OK;
    } else {
        const float *rm = k->in[DLT_NORM_IN_RMEAN(a)], *rv = k->in[DLT_NORM_IN_RMEAN(a) + 1];
        for (int64_t c = 0; c < C; c++) {
            mean[c] = rm[c];
            rstd[c] = (float)(1.0 / sqrt((double)rv[c] + a->eps));
        }
        *alpha = 0.f;
    }
    apply(a, x, mean, rstd, gam, bet, &e, k->out[0], k->nthreads);
    return DLT_OK;
}

/* norm_apply: apply()'s arithmetic, as the forward's, so y is bitwise the same */
dlt_status dlt_norm_apply_cpu(const dlt_kctx *k)
{
    const dlt_norm_attr *a = DLT_CATTR(k->node, dlt_norm_attr);
    epilogue e = {NULL, a->act == DLT_NORM_ACT_RELU};
    const float *gam = a->affine ? k->in[3] : NULL, *bet = a->affine ? k->in[4] : NULL;
    apply(a, k->in[0], k->in[1], k->in[2], gam, bet, &e, k->out[0], k->nthreads);
    return DLT_OK;
}

/* ---------------------------------------------------------------- backward */

/* sums of dy and dy * (x - m) over n contiguous values, in double */
static void block_dsums(const float *dy, const float *x, int64_t n, double m, double *s1, double *s2)
{
    dlt_vmath_vec()->norm.dsums(dy, NULL, NULL, x, n, m, s1, s2);
}

/* dx = k1 * dy - k0 - k2 * (x - m) over n values; dx may be dy (in place) */
static void block_dx(const float *dy, const float *x, float *dx, int64_t n, float m, float k0, float k1,
                     float k2)
{
    dlt_vmath_vec()->norm.dx(dy, x, dx, n, m, k0, k1, k2);
}

/* Per-channel sum(dy) and sum(dy * xhat) of group statistics with S > 1
 * (dbeta, dgamma of group and instance norm; layer norm's are
 * layer_backward's): channels are independent, each sums over a in order. */
static void group_param_grads(const dlt_kctx *k, const dlt_norm_attr *a, const float *dy, const float *x,
                              const float *mean, const float *rstd, float *dg, float *db)
{
    int64_t A = a->A, C = a->C, S = a->S, G = a->G, cpg = C / G;
    int64_t per = S >= BLOCK_MIN ? 1 : (CHUNK / S > 0 ? CHUNK / S : 1);
    int64_t nchunks = (C + per - 1) / per;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (PAR(A * C * S))
    for (int64_t ch = 0; ch < nchunks; ch++) {
        double s1[CHUNK], s2[CHUNK];
        int64_t c0 = ch * per, nc = C - c0 < per ? C - c0 : per;
        for (int64_t cc = 0; cc < nc; cc++)
            s1[cc] = s2[cc] = 0;
        for (int64_t i = 0; i < A; i++)
            for (int64_t cc = 0; cc < nc; cc++) {
                int64_t c = c0 + cc, st = i * G + c / cpg, o = (i * C + c) * S;
                double b1 = 0, b2 = 0;
                block_dsums(dy + o, x + o, S, mean[st], &b1, &b2);
                s1[cc] += b1;
                s2[cc] += b2 * rstd[st];
            }
        for (int64_t cc = 0; cc < nc; cc++) {
            db[c0 + cc] = (float)s1[cc];
            dg[c0 + cc] = (float)s2[cc];
        }
    }
}

/* One group's dx when S = 1 (a layer norm row, or its G groups): a run of n
 * single values with their own gamma (pg, or NULL), on the vector path */
static void layer_row_dx(const dlt_vmath_ops *v, const float *dy, const float *x, const float *pg, float *dx,
                         int64_t n, double m, double r, float al)
{
    double s1 = 0, s2 = 0;
    v->norm.row_dsums(dy, x, pg, n, m, &s1, &s2);
    double c1 = al * s1 / (double)n, c2 = al * s2 * r / (double)n;
    v->norm.row_dx(dy, x, pg, dx, n, r, (float)(r * c1), (float)(r * r * c2), (float)m);
}

/* Group statistics: each group of M = C/G*S values is contiguous. With
 * u = dy * gamma[c]: dx = rstd * (u - al*mean(u) - al*xhat*mean(u*xhat)). */
static void group_backward(const dlt_kctx *k, const dlt_norm_attr *a, const float *dy, const float *x,
                           const float *mean, const float *rstd, const float *gam, float al, float *dx)
{
    int64_t A = a->A, C = a->C, S = a->S, G = a->G, cpg = C / G, M = dlt_norm_count(a);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (PAR(A * C * S))
    for (int64_t gi = 0; gi < A * G; gi++) {
        const float *px = x + gi * M, *pd = dy + gi * M;
        float *po = dx + gi * M;
        const float *pg = gam ? gam + (gi % G) * cpg : NULL;
        double m = mean[gi], r = rstd[gi], s1 = 0, s2 = 0;
        if (S == 1) { /* layer norm */
            layer_row_dx(dlt_vmath_vec(), pd, px, pg, po, cpg, m, r, al);
            continue;
        }
        for (int64_t ci = 0; ci < cpg; ci++) {
            double b1 = 0, b2 = 0, gc = pg ? pg[ci] : 1.0;
            block_dsums(pd + ci * S, px + ci * S, S, m, &b1, &b2);
            s1 += gc * b1;
            s2 += gc * b2;
        }
        double c1 = al * s1 / (double)M, c2 = al * s2 * r / (double)M;
        for (int64_t ci = 0; ci < cpg; ci++) {
            double gc = pg ? pg[ci] : 1.0;
            block_dx(pd + ci * S, px + ci * S, po + ci * S, S, (float)m, (float)(r * c1), (float)(r * gc),
                     (float)(r * r * c2));
        }
    }
}

/* Batch statistics, per channel c over A blocks of S:
 * dx = gamma*rstd * (dy - al*mean(dy) - al*(x - m)*rstd^2*mean(dy*(x - m))),
 * and (norm_backward) dbeta = sum(dy), dgamma = rstd * sum(dy*(x - m)). With
 * the relu epilogue (y not NULL) dy is dy * (y > 0) throughout: the sums pass
 * writes it to dr (with a residual) or else to dx, and the dx pass reads it
 * there, so the same two passes over memory give relu_grad's values and the
 * sums of the composition in the same order (bitwise the same results). */
static void batch_backward(const dlt_kctx *k, const dlt_norm_attr *a, const float *dy, const float *y,
                           const float *x, const float *mean, const float *rstd, const float *gam, float al,
                           float *dx, float *dg, float *db, float *dr)
{
    int64_t A = a->A, C = a->C, S = a->S, M = dlt_norm_count(a);
    int64_t per = S >= BLOCK_MIN ? 1 : (CHUNK / S > 0 ? CHUNK / S : 1);
    int64_t nchunks = (C + per - 1) / per;
    float *gm = y ? (dr ? dr : dx) : NULL; /* the masked dy (dx may be dy: in place) */
    const float *g = gm ? gm : dy;          /* what the sums and dx read */
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (PAR(A * C * S))
    for (int64_t ch = 0; ch < nchunks; ch++) {
        double s1[CHUNK], s2[CHUNK];
        int64_t c0 = ch * per, nc = C - c0 < per ? C - c0 : per;
        for (int64_t cc = 0; cc < nc; cc++)
            s1[cc] = s2[cc] = 0;
        for (int64_t i = 0; i < A; i++)
            for (int64_t cc = 0; cc < nc; cc++) {
                int64_t o = (i * C + c0 + cc) * S;
                dlt_vmath_vec()->norm.dsums(dy + o, y ? y + o : NULL, gm ? gm + o : NULL, x + o, S, mean[c0 + cc],
                                 &s1[cc], &s2[cc]);
            }
        float k0[CHUNK], k1[CHUNK], k2[CHUNK];
        for (int64_t cc = 0; cc < nc; cc++) {
            int64_t c = c0 + cc;
            double r = rstd[c], gc = gam ? gam[c] : 1.0;
            double c1 = al * s1[cc] / (double)M, c2 = al * s2[cc] * r * r / (double)M;
            k0[cc] = (float)(gc * r * c1), k1[cc] = (float)(gc * r), k2[cc] = (float)(gc * r * c2);
            if (dg) {
                dg[c] = (float)(s2[cc] * r);
                db[c] = (float)s1[cc];
            }
        }
        for (int64_t i = 0; i < A; i++)
            for (int64_t cc = 0; cc < nc; cc++) {
                int64_t o = (i * C + c0 + cc) * S;
                block_dx(g + o, x + o, dx + o, S, mean[c0 + cc], k0[cc], k1[cc], k2[cc]);
            }
    }
}

/* A layer norm's backward with its parameter sums (norm_backward, S = 1: a
 * row of C single values per a, G groups of C/G in it) in one sweep over dy
 * and x: rows in blocks of NORM_LN_ROWS, each block's per-channel sums of dy
 * and dy (x - m) r into its own part of the workspace while the row is in
 * cache for its dx, then each channel's parts added in block order. The
 * blocks depend on the shape only, so the bits do not depend on the thread
 * count. The parameter sums were a sweep of their own, per channel over all
 * rows (group_param_grads): a third read of dy and x, most of it from L3
 * (GPT-mini, 2 threads, AVX2 code: norm_backward 6.2-6.8 -> 3.4-3.5 ms per
 * step). */
static void layer_backward(const dlt_kctx *k, const dlt_norm_attr *a, const float *dy, const float *x,
                           const float *mean, const float *rstd, const float *gam, float al, float *dx,
                           float *dg, float *db)
{
    int64_t A = a->A, C = a->C, G = a->G, cpg = C / G, nb = (A + NORM_LN_ROWS - 1) / NORM_LN_ROWS;
    double *part = k->work; /* [nb][2][C] */
    const dlt_vmath_ops *v = dlt_vmath_vec();
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (PAR(A * C))
    for (int64_t bk = 0; bk < nb; bk++) {
        double *p1 = part + bk * 2 * C, *p2 = p1 + C;
        for (int64_t c = 0; c < C; c++)
            p1[c] = p2[c] = 0;
        int64_t i1 = (bk + 1) * NORM_LN_ROWS < A ? (bk + 1) * NORM_LN_ROWS : A;
        for (int64_t i = bk * NORM_LN_ROWS; i < i1; i++)
            for (int64_t gr = 0; gr < G; gr++) { /* dx may be dy: its sums first */
                int64_t gi = i * G + gr, o = gi * cpg;
                v->norm.col_dsums(dy + o, x + o, cpg, mean[gi], rstd[gi], p1 + gr * cpg, p2 + gr * cpg);
                layer_row_dx(v, dy + o, x + o, gam ? gam + gr * cpg : NULL, dx + o, cpg, mean[gi], rstd[gi], al);
            }
    }
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (PAR(nb * C))
    for (int64_t c = 0; c < C; c++) {
        double s1 = 0, s2 = 0;
        for (int64_t bk = 0; bk < nb; bk++) {
            s1 += part[bk * 2 * C + c];
            s2 += part[bk * 2 * C + C + c];
        }
        db[c] = (float)s1;
        dg[c] = (float)s2;
    }
}

size_t dlt_norm_backward_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    const dlt_norm_attr *a = DLT_CATTR(n, dlt_norm_attr);
    (void)in, (void)out;
    if (a->kind == DLT_NORM_BATCH || a->S != 1)
        return 0;
    return (size_t)((a->A + NORM_LN_ROWS - 1) / NORM_LN_ROWS) * 2 * (size_t)a->C * sizeof(double);
}

/* norm_grad(dy, x, mean, rstd, alpha[, gamma]) -> dx, and norm_backward (the
 * same inputs with gamma[, y]) -> dx, dgamma, dbeta, dr. dx may share dy's
 * storage: every element of dy is read by the sums before the block that
 * overwrites it. */
dlt_status dlt_norm_grad_cpu(const dlt_kctx *k)
{
    const dlt_norm_attr *a = DLT_CATTR(k->node, dlt_norm_attr);
    const float *dy = k->in[0], *x = k->in[1], *mean = k->in[2], *rstd = k->in[3];
    const float *gam = a->affine ? k->in[5] : NULL;
    float al = *(const float *)k->in[4], *dx = k->out[0];
    int bwd = k->node->nout == 4;
    float *dg = bwd ? k->out[1] : NULL, *db = bwd ? k->out[2] : NULL;
    if (bwd && !DLT_NORM_HAS_DR(a))
        *(float *)k->out[3] = 0.f; /* the rank-0 placeholder */
    if (a->kind == DLT_NORM_BATCH) {
        const float *y = bwd && a->act ? k->in[DLT_NORM_BWD_Y] : NULL;
        batch_backward(k, a, dy, y, x, mean, rstd, gam, al, dx, dg, db, bwd && DLT_NORM_HAS_DR(a) ? k->out[3] : NULL);
        return DLT_OK;
    }
    if (dg && a->S == 1) {
        layer_backward(k, a, dy, x, mean, rstd, gam, al, dx, dg, db);
        return DLT_OK;
    }
    /* the parameter sums read dy, so they run before dx may overwrite it */
    if (dg)
        group_param_grads(k, a, dy, x, mean, rstd, dg, db);
    group_backward(k, a, dy, x, mean, rstd, gam, al, dx);
    return DLT_OK;
}
