/* The rnn family's attributes and per-element math (rnn.c), shared with the
 * CUDA kernels (src/gpu/k_rnn.cu) so that both backends evaluate one
 * definition. Internal to libdltrain.
 *
 * LSTM cell, torch's gate order i, f, g, o in gates [N, 4H] (row n holds
 * a_i[0..H), a_f, a_g, a_o):
 *     i = s(a_i), f = s(a_f), g = tanh(a_g), o = s(a_o)     (s: sigmoid)
 *     c = f c_prev + i g,  h = o tanh(c)
 * and its backward from dh, dc (either may be absent = 0):
 *     dC = dc + dh o (1 - tanh(c)^2)              (the total gradient of c)
 *     da_i = dC g i (1 - i), da_f = dC c_prev f (1 - f),
 *     da_g = dC i (1 - g^2), da_o = dh tanh(c) o (1 - o),  dc_prev = dC f.
 * GRU cell, torch's order r, z, n in gi = x W_ih^T + b_ih and gh = h W_hh^T
 * + b_hh, both [N, 3H]:
 *     r = s(gi_r + gh_r), z = s(gi_z + gh_z), n = tanh(gi_n + r gh_n)
 *     h = (1 - z) n + z h_prev
 * and its backward from dh:
 *     dn = dh (1 - z) (1 - n^2)  (= dgi_n),  dgh_n = dn r,
 *     dr = dn gh_n r (1 - r)     (= dgi_r = dgh_r),
 *     dz = dh (h_prev - n) z (1 - z)  (= dgi_z = dgh_z),  dh_prev = dh z.
 * The backward recomputes the gates from the forward's inputs (a few
 * transcendentals per element) instead of keeping them alive.
 *
 * categorical_sample draws row r's index from softmax(logits_r / T) by
 * inverse CDF on one uniform. For CPU and GPU to pick the same index every
 * float operation is one correctly rounded IEEE operation in a fixed order:
 * x_k = (l_k - max) / T, w_k = exp(x_k) by dlt_rnn_exp below (range reduction
 * and a polynomial in explicit fmaf, 2^n built from its bits, no libm), the
 * running sums S_k = w_0 + ... + w_k left to right, target = u S_{K-1} with
 * u = (word >> 40) 2^-24 in [0, 1), and the index the first k with
 * S_k > target (where u S rounds up to S: the last k with w_k > 0). Products
 * quotients and sums go through dlt_rnn_mul/div/add, which on the device are
 * the never-contracted, always IEEE __fmul_rn/__fdiv_rn/__fadd_rn, so nvcc cannot fuse them into
 * FMAs the host would not do. w_k is 0 below x_k = -80 (a probability below e^-80 of the largest
 * one), so every w_k and S_k is a normal float and flush-to-zero cannot matter either. */
#ifndef DLT_RNN_IMPL_H
#define DLT_RNN_IMPL_H

#include <math.h>

#include "dlt_opdef.h"
#include "random_impl.h"

/* lstm_cell_grad / gru_cell_grad: which output gradients came in (the rest
 * are zeros, not inputs). lstm_cell_grad's inputs: gates, c_prev, [dh], [dc]. */
typedef struct {
    int has_dh, has_dc;
} rnn_grad_attr;

typedef struct {
    float temp;  /* temperature: the divisor of (l - max) */
    uint64_t id; /* per-node stream id */
    /* global keying (first_sample >= 0): row r is sample base + r of the
     * graph's own seed gseed, the same on every rank */
    uint64_t base, gseed;
    int global;
} rnn_sample_attr;

static inline DLT_HD float dlt_rnn_sigmoid(float x)
{
    if (x >= 0.f)
        return 1.f / (1.f + expf(-x));
    float e = expf(x);
    return e / (1.f + e);
}

/* One element j of row n of an LSTM cell: h and c. */
static inline DLT_HD void dlt_lstm_fwd(const float *gates, const float *c_prev, int64_t H,
                                       int64_t n, int64_t j, float *h, float *c)
{
    const float *a = gates + n * 4 * H;
    float i = dlt_rnn_sigmoid(a[j]), f = dlt_rnn_sigmoid(a[H + j]);
    float g = tanhf(a[2 * H + j]), o = dlt_rnn_sigmoid(a[3 * H + j]);
    float cc = f * c_prev[n * H + j] + i * g;
    *c = cc;
    *h = o * tanhf(cc);
}

/* Its backward: the four gate gradients (written to dgates' row n) and dc_prev. */
static inline DLT_HD void dlt_lstm_bwd(const float *gates, const float *c_prev, const float *dh,
                                       const float *dc, int64_t H, int64_t n, int64_t j,
                                       float *dgates, float *dc_prev)
{
    const float *a = gates + n * 4 * H;
    float i = dlt_rnn_sigmoid(a[j]), f = dlt_rnn_sigmoid(a[H + j]);
    float g = tanhf(a[2 * H + j]), o = dlt_rnn_sigmoid(a[3 * H + j]);
    float cp = c_prev[n * H + j], tc = tanhf(f * cp + i * g);
    float dhj = dh ? dh[n * H + j] : 0.f, dC = dc ? dc[n * H + j] : 0.f;
    dC += dhj * o * (1.f - tc * tc);
    float *d = dgates + n * 4 * H;
    d[j] = dC * g * i * (1.f - i);
    d[H + j] = dC * cp * f * (1.f - f);
    d[2 * H + j] = dC * i * (1.f - g * g);
    d[3 * H + j] = dhj * tc * o * (1.f - o);
    dc_prev[n * H + j] = dC * f;
}

static inline DLT_HD float dlt_gru_fwd(const float *gi, const float *gh, const float *h_prev,
                                       int64_t H, int64_t n, int64_t j)
{
    const float *x = gi + n * 3 * H, *y = gh + n * 3 * H;
    float r = dlt_rnn_sigmoid(x[j] + y[j]), z = dlt_rnn_sigmoid(x[H + j] + y[H + j]);
    float nn = tanhf(x[2 * H + j] + r * y[2 * H + j]);
    return (1.f - z) * nn + z * h_prev[n * H + j];
}

static inline DLT_HD void dlt_gru_bwd(const float *gi, const float *gh, const float *h_prev,
                                      const float *dh, int64_t H, int64_t n, int64_t j, float *dgi,
                                      float *dgh, float *dh_prev)
{
    const float *x = gi + n * 3 * H, *y = gh + n * 3 * H;
    float r = dlt_rnn_sigmoid(x[j] + y[j]), z = dlt_rnn_sigmoid(x[H + j] + y[H + j]);
    float nn = tanhf(x[2 * H + j] + r * y[2 * H + j]);
    float d = dh[n * H + j], hp = h_prev[n * H + j];
    float dn = d * (1.f - z) * (1.f - nn * nn);
    float dr = dn * y[2 * H + j] * r * (1.f - r);
    float dz = d * (hp - nn) * z * (1.f - z);
    float *ox = dgi + n * 3 * H, *oy = dgh + n * 3 * H;
    ox[j] = dr, oy[j] = dr;
    ox[H + j] = dz, oy[H + j] = dz;
    ox[2 * H + j] = dn, oy[2 * H + j] = dn * r;
    dh_prev[n * H + j] = d * z;
}

/* ---------------------------------------------------------------- sampling */
static inline DLT_HD float dlt_rnn_mul(float a, float b)
{
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

static inline DLT_HD float dlt_rnn_div(float a, float b)
{
#if defined(__CUDA_ARCH__)
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}

static inline DLT_HD float dlt_rnn_add(float a, float b)
{
#if defined(__CUDA_ARCH__)
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

/* e^x for x <= 0, 0 below -80; within 2 ulp of exp. x = n ln2 + r with
 * n = rint(x log2 e) and r = x - n ln2 by two fmaf (ln2 split in a 16-bit
 * high part, so n ln2_hi is exact), |r| <= 0.35; e^r by its Taylor
 * polynomial through r^7 (Horner in fmaf; the remainder is below 1e-8
 * relative); times 2^n by ldexpf, exact on both sides (n in [-116, 0]). */
static inline DLT_HD float dlt_rnn_exp(float x)
{
    if (!(x >= -80.f))
        return 0.f;
    float n = rintf(dlt_rnn_mul(x, 1.44269504088896341f));
    float r = fmaf(n, -0.693145751953125f, x); /* ln2_hi = 0x1.62e4p-1 */
    r = fmaf(n, -1.42860682030941723e-06f, r); /* ln2 - ln2_hi */
    float p = 1.98412698412698413e-04f;        /* 1/7! */
    p = fmaf(p, r, 1.38888888888888889e-03f);  /* 1/6! */
    p = fmaf(p, r, 8.33333333333333333e-03f);  /* 1/5! */
    p = fmaf(p, r, 4.16666666666666667e-02f);  /* 1/4! */
    p = fmaf(p, r, 1.66666666666666667e-01f);  /* 1/3! */
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.f);
    p = fmaf(p, r, 1.f);
    return ldexpf(p, (int)n); /* exact: n >= -116, so the result is normal */
}

/* The stream of a categorical_sample node at a run's step (random's, so
 * a node's id keys it the same way). */
static inline DLT_HD uint64_t dlt_cat_stream(uint64_t id, int64_t step)
{
    return dlt_random_stream(id, step);
}

/* Row r of logits [.., K] (x points at its first element): the sampled index,
 * or -1 when a logit is not finite. */
static inline DLT_HD int32_t dlt_cat_sample_row(const rnn_sample_attr *a, const float *x, int64_t K,
                                                uint64_t seed, uint64_t stream, uint64_t counter)
{
    float m = x[0];
    for (int64_t k = 0; k < K; k++) {
        if (!(x[k] - x[k] == 0.f)) /* NaN or infinite */
            return -1;
        m = x[k] > m ? x[k] : m;
    }
    float S = 0.f;
    for (int64_t k = 0; k < K; k++)
        S = dlt_rnn_add(S, dlt_rnn_exp(dlt_rnn_div(x[k] - m, a->temp)));
    float u = (float)(dlt_rng_u64(seed, stream, counter) >> 40) * (1.0f / 16777216.0f);
    float target = dlt_rnn_mul(u, S), cum = 0.f;
    int32_t last = 0;
    for (int64_t k = 0; k < K; k++) {
        float w = dlt_rnn_exp(dlt_rnn_div(x[k] - m, a->temp));
        if (w > 0.f)
            last = (int32_t)k;
        cum = dlt_rnn_add(cum, w);
        if (cum > target)
            return (int32_t)k;
    }
    return last;
}

#endif
