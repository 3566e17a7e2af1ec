/* Vectorised f32 elementwise math (exp, expm1, log, tanh, sigmoid, erf, GELU in
 * both forms, and the first derivatives the kernels need) with one path per
 * x86-64 ISA level, chosen once at run time. Internal to libdltrain (the dlt_
 * names are exported only so that tests and benches can compare the paths).
 *
 * The math is one portable source (vmath_math.h, kernels in vmath_kernels.h)
 * compiled three times: baseline x86-64 (SSE2), AVX2+FMA and AVX-512
 * (F/DQ/BW/VL), each in its own translation unit (vmath_base.c, vmath_avx2.c,
 * vmath_avx512.c). dlt_vmath() picks the best path this CPU supports
 * (__builtin_cpu_supports), or the one named by the environment variable
 * DLT_CPU_ISA = libm | baseline | avx2 | avx512; "libm" (NULL) keeps the old
 * per-element double evaluation of unary_math.h. Non-x86 builds have the
 * baseline path only. The choice itself is dlt_cpu_isa_chosen() (src/core),
 * which the optimizer's update loops follow too.
 *
 * Every path's results are deterministic (no FP contraction in these files:
 * fused multiply-adds are written out with VM_FMA) and within a few ulp of the
 * exact function; tests/ops/test_vmath.c measures it on every path. */
#ifndef DLT_VMATH_H
#define DLT_VMATH_H

#include <stdint.h>

#include "dlt_cpu_isa.h" /* the levels, and the choice of one (src/core/cpu_isa.c) */

/* y[i] = f(x[i]) for i < n; y may be x. */
typedef void (*dlt_vmath_fn)(const float *x, float *y, int64_t n);

/* The vmath functions (dlt_vmath_fn tables index) */
typedef enum {
    DLT_VM_EXP = 0,
    DLT_VM_EXPM1,
    DLT_VM_LOG,
    DLT_VM_TANH,
    DLT_VM_TANH_D1, /* 1 - tanh^2 */
    DLT_VM_SIGMOID,
    DLT_VM_SIGMOID_D1, /* s (1 - s) */
    DLT_VM_ERF,
    DLT_VM_GELU, /* x Phi(x) */
    DLT_VM_GELU_D1,
    DLT_VM_GELU_TANH, /* 0.5 x (1 + tanh(c (x + 0.044715 x^3))) */
    DLT_VM_GELU_TANH_D1,
    DLT_VM_NFN
} dlt_vm_fn_id;

struct conv_geom;
struct conv_direct_layout;

typedef struct {
    const char *name; /* "baseline", "avx2", "avx512" */
    dlt_vmath_fn fn[DLT_VM_NFN];
    /* y = dy * f^(order)(x) (dy NULL: f^(order)(x)) of an elementwise kind
     * (unary_impl.h) with parameters a, b, if this path has it: returns 0 and
     * does nothing otherwise (the caller evaluates in double). y may be x or dy. */
    int (*ew)(int kind, int order, float a, float b, const float *dy, const float *x, float *y,
              int64_t n);
    /* y = f(x) and d = f'(x) of a kind in one pass, with the bits of ew's
     * orders 0 and 1, if this path has it: returns 0 and does nothing
     * otherwise. y may be x; d is neither. */
    int (*ew2)(int kind, float a, float b, const float *x, float *y, float *d, int64_t n);
    /* One contiguous softmax (log_form 0) or log-softmax row of n > 0 elements
     * (y may be x); sums in double. */
    void (*softmax_row)(const float *x, float *y, int64_t n, int log_form);
    /* Its backward: softmax dx = y (dy - sum(dy y)), log-softmax dx = dy -
     * exp(y) sum(dy) (dx may be dy). */
    void (*softmax_grad_row)(const float *dy, const float *y, float *dx, int64_t n, int log_form);
    /* Cross-entropy's log-sum-exp of a row (its terms as ce_grad_row's: within
     * 2^-24 of the sum, not softmax_row's log form's few ulp near 0). */
    double (*lse_row)(const float *x, int64_t n);
    /* Cross-entropy's gradient row d = sc (p - q), p = softmax_row(z) (f32),
     * q = eps / n + (1 - eps) [j == label] (d may be z). */
    void (*ce_grad_row)(const float *z, float *d, int64_t n, int64_t label, double eps, double sc);
    /* BCE with logits over n elements in f32 (p NULL: pos_weight 1): order 0
     * the loss -(p t log sigmoid(x) + (1 - t) log sigmoid(-x)), order 1 its
     * derivative in x, sigmoid(x) (1 - t + p t) - p t (loss_impl.h's BCE and
     * BCE_DX, which libm's path evaluates in double). */
    void (*bce)(int order, const float *x, const float *t, const float *p, float *y, int64_t n);
    /* acc[j] += x[j] for j < n, in double (reduce.c's column sums; the same
     * bits on every path) */
    void (*col_add)(const float *x, double *acc, int64_t n);
    /* Attention's score rows (attention_kernels.c), whose softmax keeps the
     * log-sum-exp. Forward: *m = max of x[0..n); when it is -inf (every key
     * masked) nothing else happens and 0 is returned, otherwise y = exp(x - *m)
     * (y may be x) and their sum, in double, is returned. */
    double (*exp_max_row)(const float *x, float *y, int64_t n, float *m);
    /* Backward from the row's log-sum-exp l: p = exp(s - l) into s, and
     * unless g is NULL g = p (g - d) (the softmax gradient given d = sum(g p)). */
    void (*lse_grad_row)(float *s, float *g, int64_t n, float l, float d);
    /* The same under attention's dropout: p = exp(s - l); key j is kept when
     * dlt_rng_uniform(seed, stream, c0 + j) >= pd; g = p ((kept ? g ks : 0) - d)
     * and s = kept ? p ks : 0. */
    void (*lse_grad_drop_row)(float *s, float *g, int64_t n, float l, float d, uint64_t seed, uint64_t stream,
                              uint64_t c0, float pd, float ks);
    /* One image of conv_direct_data (conv_impl.h, conv_direct_kernels.h):
     * x [C, H, W] = conv_transpose2d(y [OC, OH, OW], w) + bias (bias may be
     * NULL). Unless conv_data_in_place, through `pad`, a buffer of
     * OC * l->hp * l->wp floats whose padding is zeroed when `fresh` and must
     * be left as the last call left it otherwise; in place, pad may be NULL. */
    void (*conv_data_image)(const struct conv_geom *q, const struct conv_direct_layout *l, const float *y,
                            const float *w, const float *bias, float *x, float *pad, int fresh);
    int conv_data_in_place; /* reads y where it is (AVX-512's masked loads) */
    /* y[i] = x[i] / (1 - p) where dlt_rng_uniform(seed, stream, c0 + i) >= p,
     * else 0 (dropout's forward and backward; scale = 1 / (1 - p)); y may be x. */
    void (*dropout)(uint64_t seed, uint64_t stream, uint64_t c0, int64_t n, float p, float scale,
                    const float *x, float *y);
    /* The normalisation family's passes over one contiguous block
     * (norm_block_kernels.h, used by norm_kernels.c on every path, "libm"
     * included): sums in double, maps in f32 with the same bits on every path. */
    struct {
        double (*sum)(const float *x, int64_t n);
        double (*sqdev)(const float *x, int64_t n, double m); /* sum (x - m)^2 */
        /* y = x sc + sh, + r unless r is NULL, max(., 0) when relu; y may be x */
        void (*map)(const float *x, float *y, int64_t n, float sc, float sh, const float *r, int relu);
        /* *s1 += sum g, *s2 += sum g (x - m), g = dy, or with y given g = dy (y > 0)
         * written to t (t may be dy) */
        void (*dsums)(const float *dy, const float *y, float *t, const float *x, int64_t n, double m,
                      double *s1, double *s2);
        /* dx = k1 dy - k0 - k2 (x - m); dx may be dy */
        void (*dx)(const float *dy, const float *x, float *dx, int64_t n, float m, float k0, float k1,
                   float k2);
        /* a layer norm row (a value per channel, gam per channel or NULL for 1):
         * *s1 = sum gam dy, *s2 = sum gam dy (x - m) */
        void (*row_dsums)(const float *dy, const float *x, const float *gam, int64_t n, double m, double *s1,
                          double *s2);
        /* and its parameter sums, per channel c < n: s1[c] += dy[c],
         * s2[c] += dy[c] (x[c] - m) r */
        void (*col_dsums)(const float *dy, const float *x, int64_t n, double m, double r, double *s1,
                          double *s2);
        /* and its dx = (f32)(r gam) dy - k0 - k2 (x - m); dx may be dy */
        void (*row_dx)(const float *dy, const float *x, const float *gam, float *dx, int64_t n, double r,
                       float k0, float k2, float m);
    } norm;
    /* C = alpha op(A) B (+ C when beta is 1; beta 0 does not read C) for
     * small products (vmath_gemm.h: attention's per-head products), C [M, N]
     * rows ldc apart, A(i, p) = a[i sai + p sap] (any strides: A or A^T),
     * B [K, N] with contiguous rows ldb apart. Each C element sums over p in
     * order: its bits do not depend on M, N or its place. */
    void (*gemm_small)(int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t sai, int64_t sap,
                       const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
    /* y[c ldy + r] = x[r ldx + c] for r < rows, c < cols */
    void (*transpose)(const float *x, int64_t rows, int64_t cols, int64_t ldx, float *y, int64_t ldy);
} dlt_vmath_ops;

#ifdef __cplusplus
extern "C" {
#endif

/* The paths compiled in (vmath_<isa>.c); use dlt_vmath_isa() to get one the CPU runs. */
extern const dlt_vmath_ops dlt_vmath_base, dlt_vmath_avx2,
    dlt_vmath_avx512; /* the last two: x86-64 only */

/* The path in use: chosen on the first call (thread-safe), NULL for "libm". */
const dlt_vmath_ops *dlt_vmath(void);
/* The same for passes with no libm form (normalisation blocks, column sums,
 * the direct convolution): the baseline path under "libm". Never NULL. */
const dlt_vmath_ops *dlt_vmath_vec(void);
/* The path of one ISA level if it is compiled in and this CPU runs it, else NULL
 * (also NULL for DLT_ISA_LIBM). */
const dlt_vmath_ops *dlt_vmath_isa(dlt_cpu_isa isa);
/* One line saying which path runs and why (for dltrain --version). */
const char *dlt_vmath_describe(void);

#ifdef __cplusplus
}
#endif

#endif
