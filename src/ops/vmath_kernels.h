/* The array kernels of one vmath path (vmath.h): included once by each of
 * vmath_base.c, vmath_avx2.c and vmath_avx512.c, which define VM_TABLE (the
 * table's symbol) and VM_ISA_NAME before including it and are compiled with
 * their ISA's flags. Every loop is a plain `omp simd` loop over vmath_math.h's
 * inline functions; nothing here depends on the ISA but the dropout draws
 * (vmath_draw.h) and the direct convolution (conv_direct_kernels.h). */
#include <math.h>
#include <stddef.h>

#include "dlt_opdef.h"
#include "unary_impl.h"
#include "vmath.h"
#include "vmath_draw.h"
#include "vmath_math.h"

#if !defined(VM_TABLE) || !defined(VM_ISA_NAME)
#error "define VM_TABLE and VM_ISA_NAME before including vmath_kernels.h"
#endif

/* y[i] = F(x[i]) */
#define VM_ARRAY(name, F)                                                                          \
    static void name(const float *x, float *y, int64_t n)                                          \
    {                                                                                              \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = F(x[i]);                        \
    }
VM_ARRAY(vk_exp, vm_exp)
VM_ARRAY(vk_expm1, vm_expm1)
VM_ARRAY(vk_log, vm_log)
VM_ARRAY(vk_tanh, vm_tanh)
VM_ARRAY(vk_tanh_d1, vm_tanh_d1)
VM_ARRAY(vk_erf, vm_erf)
VM_ARRAY(vk_gelu, vm_gelu)
VM_ARRAY(vk_gelu_d1, vm_gelu_d1)
VM_ARRAY(vk_gelu_tanh, vm_gelu_tanh)
VM_ARRAY(vk_gelu_tanh_d1, vm_gelu_tanh_d1)

VM_INLINE float vm_sigmoid(float x)
{
    float p, q;
    vm_sigmoid2(x, &p, &q);
    return p;
}

VM_INLINE float vm_sigmoid_d1(float x)
{
    float p, q;
    vm_sigmoid2(x, &p, &q);
    return p * q;
}
VM_ARRAY(vk_sigmoid, vm_sigmoid)
VM_ARRAY(vk_sigmoid_d1, vm_sigmoid_d1)

VM_INLINE float vm_recip(float x)
{
    return 1.f / x;
}

/* y = dy * F(x), or F(x) without dy; y may alias dy or x (same index) */
#define VM_EW(F)                                                                                   \
    do {                                                                                           \
        if (dy) {                                                                                  \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = dy[i] * F(x[i]);            \
        } else {                                                                                   \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = F(x[i]);                    \
        }                                                                                          \
    } while (0)

/* ELU/SELU: f = b x (x > 0) or b a expm1(x); f' = b or b a exp(x) */
#define VM_ELU0(v) ((v) > 0.f ? b * (v) : ba * vm_expm1(v))
#define VM_ELU1(v) ((v) > 0.f ? b : ba * vm_exp(v))

/* LeakyReLU: f = x (x > 0) or a x; f' = 1 or a. One f32 product, as the
 * double path's (a product of two floats is exact in double), so the same bits. */
#define VM_LEAKY0(v) ((v) > 0.f ? (v) : a * (v))
#define VM_LEAKY1(v) ((v) > 0.f ? 1.f : a)

static int vk_ew(int kind, int order, float a, float b, const float *dy, const float *x, float *y,
                 int64_t n)
{
    float ba = b * a;
    switch (kind) {
    case DLT_EW_LEAKY_RELU:
        if (order > 1)
            return 0;
        if (order == 0)
            VM_EW(VM_LEAKY0);
        else
            VM_EW(VM_LEAKY1);
        return 1;
    case DLT_EW_EXP:
        VM_EW(vm_exp); /* every derivative is exp */
        return 1;
    case DLT_EW_LOG:
        if (order > 1)
            return 0;
        if (order == 0)
            VM_EW(vm_log);
        else
            VM_EW(vm_recip);
        return 1;
    case DLT_EW_ELU:
    case DLT_EW_SELU:
        if (order > 1)
            return 0;
        if (order == 0)
            VM_EW(VM_ELU0);
        else
            VM_EW(VM_ELU1);
        return 1;
    case DLT_EW_SIGMOID:
        if (order > 1)
            return 0;
        if (order == 0)
            VM_EW(vm_sigmoid);
        else
            VM_EW(vm_sigmoid_d1);
        return 1;
    case DLT_EW_TANH:
        if (order > 1)
            return 0;
        if (order == 0)
            VM_EW(vm_tanh);
        else
            VM_EW(vm_tanh_d1);
        return 1;
    case DLT_EW_GELU:
        if (order > 1)
            return 0;
        if (order == 0)
            VM_EW(vm_gelu);
        else
            VM_EW(vm_gelu_d1);
        return 1;
    case DLT_EW_GELU_TANH:
        if (order > 1)
            return 0;
        if (order == 0)
            VM_EW(vm_gelu_tanh);
        else
            VM_EW(vm_gelu_tanh_d1);
        return 1;
    default:
        return 0;
    }
}

/* y = f(x) and d = f'(x) in one pass, for the kinds whose forward keeps its
 * derivative (unary.c): the same bits as ew's orders 0 and 1 (one inline
 * source; the shared parts are computed once). y may be x: x[i] is read
 * before y[i] and d[i] are written; d is neither. */
#define VM_EW2(F, D1)                                                                              \
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++)                                            \
    {                                                                                              \
        float v = x[i];                                                                            \
        y[i] = F(v);                                                                               \
        d[i] = D1(v);                                                                              \
    }

static int vk_ew2(int kind, float a, float b, const float *x, float *y, float *d, int64_t n)
{
    (void)a;
    (void)b;
    switch (kind) {
    case DLT_EW_GELU:
        VM_EW2(vm_gelu, vm_gelu_d1);
        return 1;
    case DLT_EW_GELU_TANH:
        VM_EW2(vm_gelu_tanh, vm_gelu_tanh_d1);
        return 1;
    default:
        return 0;
    }
}

/* exp(x - m) with the rounding error of x - m added back (TwoSum): the
 * difference can be ~100 and its rounding would cost that many ulp */
VM_INLINE float vm_exp_diff(float x, float m)
{
    float d = x - m, bv = d - x;
    float err = (x - (d - bv)) - (m + bv);
    err = d == d && vm_abs(d) < 1e30f ? err : 0.f; /* -inf - m: no correction */
    return vm_exp_hl(d, err);
}

/* m = max over the row, ignoring NaN as the libm path does (a NaN element
 * still makes the row NaN through its exp) */
static float vk_rowmax(const float *x, int64_t n)
{
    float m = -__builtin_inff();
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; j++)
        m = x[j] > m ? x[j] : m;
    return m;
}

/* e^d for d <= 0 (or NaN) as a term of a sum >= 1: one power of two (n >=
 * -126 is normal) and results below FLT_MIN (d < -87) flushed to 0, which
 * no such sum can notice; vm_exp's clamps and split scaling are for
 * results that are used one by one. */
VM_INLINE float vm_exp_term(float d)
{
    float dc = d < -87.f ? -87.f : d, nf;
    int32_t n;
    float p = vm_expm1_poly(vm_reduce(dc, &nf, &n)) + 1.f;
    return d < -87.f ? 0.f : p * vm_pow2i(n);
}

/* sum of e^(x - m) over the row in double, each term by vm_exp_diff
 * (corrected) or vm_exp_term, and stored to y when `store`; the flags are
 * constants at every call, so each caller gets its own straight loop */
VM_INLINE double vk_exp_sum(const float *x, float *y, int64_t n, float m, int corrected, int store)
{
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; j++) {
        float e = corrected ? vm_exp_diff(x[j], m) : vm_exp_term(x[j] - m);
        if (store)
            y[j] = e;
        sum += (double)e;
    }
    return sum;
}

/* y = exp(x - m) over the row (y may be x: each x[j] is read before y[j] is
 * written); returns their sum in double */
static double vk_exp_row(const float *x, float *y, int64_t n, float m)
{
    return vk_exp_sum(x, y, n, m, 1, 1);
}

/* log sum exp of the row, the sum in double (softmax_row's log form: its
 * values near 0 are x - m - log(sum) with log(sum) small, so the terms keep
 * vm_exp_diff's correction) */
static double vk_lse_row(const float *x, int64_t n)
{
    float m = vk_rowmax(x, n);
    return (double)m + log(vk_exp_sum(x, NULL, n, m, 1, 0));
}

/* Cross-entropy's log-sum-exp of a row, for its loss lse - z[label]: x - m
 * is not corrected as in vm_exp_diff. Its rounding (half an ulp of |x - m|)
 * is a relative error of |x - m| 2^-24 in a term e^(x - m), below 2^-24 of
 * the sum (>= 1) for every |x - m| (t e^-t <= 1/e), so far below an ulp of
 * the loss. With vm_exp_term, a row of 4096 on AVX2 1.34 -> 0.89 ns per
 * logit. */
static double vk_ce_lse_row(const float *x, int64_t n)
{
    float m = vk_rowmax(x, n);
    return (double)m + log(vk_exp_sum(x, NULL, n, m, 0, 0));
}

static void vk_softmax_row(const float *x, float *y, int64_t n, int log_form)
{
    if (log_form) {
        double lse = vk_lse_row(x, n);
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            y[j] = (float)((double)x[j] - lse);
    } else {
        double inv = 1 / vk_exp_row(x, y, n, vk_rowmax(x, n));
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            y[j] = (float)((double)y[j] * inv);
    }
}

static void vk_softmax_grad_row(const float *dy, const float *y, float *dx, int64_t n, int log_form)
{
    double s = 0;
    if (log_form) {
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; j++)
            s += (double)dy[j];
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            dx[j] = (float)((double)dy[j] - (double)vm_exp(y[j]) * s);
    } else {
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; j++)
            s += (double)dy[j] * (double)y[j];
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            dx[j] = (float)((double)y[j] * ((double)dy[j] - s));
    }
}

/* Cross-entropy's gradient row: d = sc (softmax(z) - q), q = eps / n + (1 - eps)
 * at the label (the smoothed one-hot), in f32 but for the label's entry.
 * d may be z. */
static void vk_ce_grad_row(const float *z, float *d, int64_t n, int64_t label, double eps, double sc)
{
    /* the terms as vk_ce_lse_row sums them: a probability e^(z - m) / sum is
     * then off by |z - m| 2^-24 of itself, at most 2^-24 / e of the row's
     * largest, where every gradient entry is (label smoothing q0 aside)
     * sc (p - q) with |sc| the gradient's scale: nothing the products
     * downstream can tell apart, for 0.7 of the row's cost (AVX2) */
    double inv = 1 / vk_exp_sum(z, d, n, vk_rowmax(z, n), 0, 1), q0 = eps / (double)n;
    float pl = (float)((double)d[label] * inv);
    float finv = (float)inv, fsc = (float)sc, fq0 = (float)q0;
#pragma omp simd
    for (int64_t j = 0; j < n; j++)
        d[j] = fsc * (d[j] * finv - fq0);
    d[label] = (float)(sc * ((double)pl - (q0 + (1 - eps))));
}

/* acc[j] += x[j] in double (a column sum's row): no cross-lane sums, so the
 * same bits on every path */
static void vk_col_add(const float *x, double *acc, int64_t n)
{
#pragma omp simd
    for (int64_t j = 0; j < n; j++)
        acc[j] += x[j];
}

static double vk_exp_max_row(const float *x, float *y, int64_t n, float *m)
{
    float mx = vk_rowmax(x, n);
    *m = mx;
    return mx == -__builtin_inff() ? 0 : vk_exp_row(x, y, n, mx);
}

static void vk_lse_grad_row(float *s, float *g, int64_t n, float l, float d)
{
    if (!g) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            s[j] = vm_exp_diff(s[j], l);
        return;
    }
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        float p = vm_exp_diff(s[j], l);
        s[j] = p;
        g[j] = p * (g[j] - d);
    }
}

/* dropout: the draws dlt_rng_uniform(seed, stream, c0 + i) (vm_draw24, the
 * key hoisted) and the select. Where the loop vectorises with the draw in it,
 * one loop; where it would not (VK_DRAW_SPLIT, vmath_draw.h) the draws come a
 * block at a time from vk_draw24 and the same select follows. */
enum { VK_DRAW_BLOCK = 256 };

VM_INLINE float vk_drop_at(float u, float x, float p, float scale)
{
    float v = x * scale;
    return u >= p ? v : 0.f;
}

static void vk_dropout(uint64_t seed, uint64_t stream, uint64_t c0, int64_t n, float p, float scale,
                       const float *x, float *y)
{
    uint64_t key = dlt_rng_key(seed, stream);
#if !VK_DRAW_SPLIT
#pragma omp simd
    for (int64_t i = 0; i < n; i++)
        y[i] = vk_drop_at(vm_draw24(key, c0 + (uint64_t)i), x[i], p, scale);
#else
    float u[VK_DRAW_BLOCK];
    for (int64_t i0 = 0; i0 < n; i0 += VK_DRAW_BLOCK) {
        int64_t len = n - i0 < VK_DRAW_BLOCK ? n - i0 : VK_DRAW_BLOCK;
        vk_draw24(key, c0 + (uint64_t)i0, len, u);
#pragma omp simd
        for (int64_t i = 0; i < len; i++)
            y[i0 + i] = vk_drop_at(u[i], x[i0 + i], p, scale);
    }
#endif
}

/* lse_grad_row under dropout: p = exp(s - l), key j of the row kept when
 * dlt_rng_uniform(seed, stream, c0 + j) >= pd; g = p ((kept ? g ks : 0) - d)
 * and s = kept ? p ks : 0 (the dropped probabilities, for dv). One element,
 * u its draw: */
VM_INLINE void vk_lse_drop_at(float u, float *s, float *g, float l, float d, float pd, float ks)
{
    float p = vm_exp_diff(*s, l), gk = *g * ks, pk = p * ks;
    int keep = u >= pd;
    *g = p * ((keep ? gk : 0.f) - d);
    *s = keep ? pk : 0.f;
}

static void vk_lse_grad_drop_row(float *s, float *g, int64_t n, float l, float d, uint64_t seed,
                                 uint64_t stream, uint64_t c0, float pd, float ks)
{
    uint64_t key = dlt_rng_key(seed, stream);
#if !VK_DRAW_SPLIT
#pragma omp simd
    for (int64_t j = 0; j < n; j++)
        vk_lse_drop_at(vm_draw24(key, c0 + (uint64_t)j), &s[j], &g[j], l, d, pd, ks);
#else
    float u[VK_DRAW_BLOCK];
    for (int64_t j0 = 0; j0 < n; j0 += VK_DRAW_BLOCK) {
        int64_t len = n - j0 < VK_DRAW_BLOCK ? n - j0 : VK_DRAW_BLOCK;
        vk_draw24(key, c0 + (uint64_t)j0, len, u);
#pragma omp simd
        for (int64_t j = 0; j < len; j++)
            vk_lse_drop_at(u[j], &s[j0 + j], &g[j0 + j], l, d, pd, ks);
    }
#endif
}

/* BCE with logits (loss_impl.h's BCE and BCE_DX) in f32, p NULL for a
 * pos_weight of 1:
 *   order 0: y = p t softplus(-x) + (1 - t) softplus(x)
 *            (= -(p t log sigmoid(x) + (1 - t) log sigmoid(-x))),
 *            softplus(+-x) = max(+-x, 0) + log1p(exp(-|x|)), one exp and one
 *            log for both; log1p(e) = log(u) e / (u - 1), u = 1 + e (exact
 *            to a few ulp, e itself when u rounds to 1)
 *   order 1: y = sigmoid(x) (1 - t + p t) - p t */
VM_INLINE float vm_log1p_small(float e)
{
    float u = 1.f + e;
    return u == 1.f ? e : vm_log(u) * (e / (u - 1.f));
}

/* one order with or without p: `order` and `has_p` are constants at every
 * call, so each is its own straight loop (a select on p inside the loop ran
 * AVX2 code one element at a time, 13-16 ns per element) with pi = 1.f the
 * same arithmetic, so the same bits */
VM_INLINE void vk_bce_loop(int order, int has_p, const float *x, const float *t, const float *p, float *y,
                           int64_t n)
{
    if (order == 0) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float xi = x[i], ti = t[i], pi = has_p ? p[i] : 1.f;
            float l = vm_log1p_small(vm_exp(-vm_abs(xi)));
            float sp_neg = (xi < 0.f ? -xi : 0.f) + l, sp_pos = (xi > 0.f ? xi : 0.f) + l;
            y[i] = pi * ti * sp_neg + (1.f - ti) * sp_pos;
        }
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float sg, sm, ti = t[i], pi = has_p ? p[i] : 1.f;
            vm_sigmoid2(x[i], &sg, &sm);
            y[i] = sg * (1.f - ti + pi * ti) - pi * ti;
        }
    }
}

static void vk_bce(int order, const float *x, const float *t, const float *p, float *y, int64_t n)
{
    if (order == 0 && p)
        vk_bce_loop(0, 1, x, t, p, y, n);
    else if (order == 0)
        vk_bce_loop(0, 0, x, t, NULL, y, n);
    else if (p)
        vk_bce_loop(1, 1, x, t, p, y, n);
    else
        vk_bce_loop(1, 0, x, t, NULL, y, n);
}

#include "conv_direct_kernels.h"
#include "norm_block_kernels.h"
#include "vmath_gemm.h"

const dlt_vmath_ops VM_TABLE = {
    .name = VM_ISA_NAME,
    .fn =
        {
            [DLT_VM_EXP] = vk_exp,
            [DLT_VM_EXPM1] = vk_expm1,
            [DLT_VM_LOG] = vk_log,
            [DLT_VM_TANH] = vk_tanh,
            [DLT_VM_TANH_D1] = vk_tanh_d1,
            [DLT_VM_SIGMOID] = vk_sigmoid,
            [DLT_VM_SIGMOID_D1] = vk_sigmoid_d1,
            [DLT_VM_ERF] = vk_erf,
            [DLT_VM_GELU] = vk_gelu,
            [DLT_VM_GELU_D1] = vk_gelu_d1,
            [DLT_VM_GELU_TANH] = vk_gelu_tanh,
            [DLT_VM_GELU_TANH_D1] = vk_gelu_tanh_d1,
        },
    .ew = vk_ew,
    .ew2 = vk_ew2,
    .softmax_row = vk_softmax_row,
    .softmax_grad_row = vk_softmax_grad_row,
    .lse_row = vk_ce_lse_row,
    .ce_grad_row = vk_ce_grad_row,
    .bce = vk_bce,
    .col_add = vk_col_add,
    .exp_max_row = vk_exp_max_row,
    .lse_grad_row = vk_lse_grad_row,
    .conv_data_image = vk_conv_data_image,
    .conv_data_in_place = !CD_PADDED,
    .dropout = vk_dropout,
    .lse_grad_drop_row = vk_lse_grad_drop_row,
    .norm = {.sum = vk_norm_sum,
             .sqdev = vk_norm_sqdev,
             .map = vk_norm_map,
             .dsums = vk_norm_dsums,
             .dx = vk_norm_dx,
             .row_dsums = vk_norm_row_dsums,
             .col_dsums = vk_norm_col_dsums,
             .row_dx = vk_norm_row_dx},
    .gemm_small = vk_gemm_small,
    .transpose = vk_transpose,
};
