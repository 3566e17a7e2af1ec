/* The vectorised f32 math (src/ops/vmath.h) on every ISA path this CPU runs,
 * against long double libm references: a sweep over the whole f32 range (every
 * 1021st bit pattern of each sign), a dense sweep of [-20, 20], and the edge
 * cases (NaN, +-inf, +-0, subnormals, the overflow and underflow thresholds).
 * Prints the max ulp error per function and path and asserts a bound. For the
 * derivatives whose formula is a sum that cancels near a zero of f' (GELU's),
 * the ulp is that of the larger term. A path the CPU lacks is printed as not
 * checked. Also: the elementwise kernels (y = dy f^(k)(x)) agree bit for bit
 * with the functions, element results do not depend on the position in the
 * array (vector body or remainder), and softmax rows (and attention's, which
 * keep the log-sum-exp) match a reference. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_test.h"
#include "dlt_opdef.h"
#include "unary_impl.h"
#include "unary_math.h"
#include "vmath.h"

typedef long double ld;

/* reference value and the magnitude whose ulp measures the error */
typedef ld (*ref_fn)(ld x, ld *scale);

static ld r_exp(ld x, ld *s)
{
    return *s = expl(x);
}
static ld r_expm1(ld x, ld *s)
{
    return *s = expm1l(x);
}
static ld r_log(ld x, ld *s)
{
    return *s = logl(x);
}
static ld r_tanh(ld x, ld *s)
{
    return *s = tanhl(x);
}
static ld r_tanh_d1(ld x, ld *s)
{
    ld c = coshl(x);
    return *s = 1 / (c * c);
}
static ld r_sigmoid(ld x, ld *s)
{
    return *s = 1 / (1 + expl(-x));
}
static ld r_sigmoid_d1(ld x, ld *s)
{
    ld e = expl(-fabsl(x));
    return *s = e / ((1 + e) * (1 + e));
}
static ld r_erf(ld x, ld *s)
{
    return *s = erfl(x);
}
static ld ncdf(ld x)
{
    return 0.5L * erfcl(-x / sqrtl(2.0L));
}
static ld npdf(ld x)
{
    return expl(-0.5L * x * x) / sqrtl(2 * 3.14159265358979323846264338327950288L);
}
static ld r_gelu(ld x, ld *s)
{
    return *s = x * ncdf(x);
}
/* the derivatives at +-inf: their limits 1 and 0 (the libm path gives NaN) */
static ld r_gelu_d1(ld x, ld *s)
{
    if (isinf(x))
        return *s = x > 0;
    ld a = ncdf(x), b = x * npdf(x);
    *s = fabsl(a) > fabsl(b) ? a : b;
    return a + b;
}
static const ld gt_c = 0.79788456080286535588L, gt_k = 0.044715L;
/* 0.5 (1 + tanh u) = sigmoid(2u): no cancellation in the left tail */
static ld r_gelu_tanh(ld x, ld *s)
{
    ld u = gt_c * (x + gt_k * x * x * x);
    return *s = x / (1 + expl(-2 * u));
}
static ld r_gelu_tanh_d1(ld x, ld *s)
{
    if (isinf(x))
        return *s = x > 0;
    ld u = gt_c * (x + gt_k * x * x * x), u1 = gt_c * (1 + 3 * gt_k * x * x);
    ld p = 1 / (1 + expl(-2 * u)), q = 1 / (1 + expl(2 * u)), b = 2 * x * p * q * u1;
    *s = fabsl(p) > fabsl(b) ? p : b;
    return p + b;
}

typedef struct {
    dlt_vm_fn_id id;
    const char *name;
    ref_fn ref;
    double bound; /* max ulp error allowed */
} fcase;

static const fcase fcases[] = {
    {DLT_VM_EXP, "exp", r_exp, 2},
    {DLT_VM_EXPM1, "expm1", r_expm1, 3},
    {DLT_VM_LOG, "log", r_log, 2},
    {DLT_VM_TANH, "tanh", r_tanh, 3},
    {DLT_VM_TANH_D1, "tanh'", r_tanh_d1, 4},
    {DLT_VM_SIGMOID, "sigmoid", r_sigmoid, 3},
    {DLT_VM_SIGMOID_D1, "sigmoid'", r_sigmoid_d1, 4},
    {DLT_VM_ERF, "erf", r_erf, 3},
    {DLT_VM_GELU, "gelu", r_gelu, 6},
    {DLT_VM_GELU_D1, "gelu'", r_gelu_d1, 6},
    {DLT_VM_GELU_TANH, "gelu_tanh", r_gelu_tanh, 6},
    {DLT_VM_GELU_TANH_D1, "gelu_tanh'", r_gelu_tanh_d1, 6},
};
#define NF ((int)(sizeof fcases / sizeof fcases[0]))

/* Worst errors below are kept as worst = !(e <= worst) ? e : worst, so that a
 * NaN error is kept and fails its bound (e > worst would skip it). */

/* the ulp of an f32 of magnitude |v| (subnormal spacing below FLT_MIN) */
static double ulp_of(ld v)
{
    ld a = fabsl(v);
    if (a < FLT_MIN)
        return ldexp(1.0, -149);
    if (a >= FLT_MAX)
        return ldexp(1.0, 104);
    int e;
    frexpl(a, &e);
    return ldexp(1.0, e - 24);
}

static const float edges[] = {
    0.f,        -0.f,        INFINITY,    -INFINITY, NAN,     -NAN,     FLT_MIN,    -FLT_MIN,
    1e-45f,     -1e-45f,     1e-40f,      -1e-40f,   FLT_MAX, -FLT_MAX, 1e-30f,     -1e-30f,
    1e-7f,      -1e-7f,      0.5f,        -0.5f,     1.f,     -1.f,     0.4999999f, 0.5000001f,
    88.72283f,  88.72284f,   88.8f,       89.f,      100.f,   1e10f,    -87.33654f, -87.4f,
    -103.97f,   -103.98f,    -104.f,      -110.f,    -150.f,  -1e10f,   9.f,        -9.f,
    10.f,       -10.f,       13.f,        -13.f,     14.f,    -14.f,    20.f,       -20.f,
    1e18f,      -1e18f,      1e20f,       -1e20f,    1e30f,   -1e30f,   0.6931472f, -0.6931472f,
    1.4142135f, 0.70710677f, -0.7517915f,
};
#define NEDGE ((int)(sizeof edges / sizeof edges[0]))

/* the inputs: whole-range sweep, dense [-20, 20], edges */
static float *make_inputs(int64_t *n_out)
{
    const uint32_t stride = 4093;
    int64_t nsweep = 2 * (int64_t)(0x7f800000u / stride + 1), ndense = 400001,
            n = nsweep + ndense + NEDGE;
    float *x = malloc((size_t)n * sizeof *x);
    int64_t k = 0;
    for (uint32_t u = 0; u < 0x7f800000u; u += stride) {
        uint32_t v[2] = {u, u | 0x80000000u};
        for (int s = 0; s < 2; s++)
            memcpy(&x[k++], &v[s], sizeof(float));
    }
    for (int64_t i = 0; i < ndense; i++)
        x[k++] = (float)(-20.0 + 40.0 * (double)i / (double)(ndense - 1));
    for (int i = 0; i < NEDGE; i++)
        x[k++] = edges[i];
    *n_out = k;
    return x;
}

static const char *isa_status(dlt_cpu_isa isa)
{
    if (!dlt_cpu_isa_compiled(isa))
        return "not checked (not in this build)";
    return dlt_vmath_isa(isa) ? "checked" : "not checked (this CPU lacks it)";
}

START_TEST(functions_within_ulp_bounds)
{
    int64_t n;
    float *x = make_inputs(&n), *y = malloc((size_t)n * sizeof *y);
    double *ref = malloc((size_t)n * sizeof *ref), *ulp = malloc((size_t)n * sizeof *ulp);
    int checked = 0;
    printf("max ulp error over %lld inputs (bound in brackets):\n%-12s", (long long)n, "");
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++)
        printf(" %10s", dlt_cpu_isa_name((dlt_cpu_isa)isa));
    printf("\n");
    for (int f = 0; f < NF; f++) {
        const fcase *fc = &fcases[f];
        for (int64_t i = 0; i < n; i++) {
            ld s;
            ld r = fc->ref((ld)x[i], &s);
            ref[i] = (double)r;
            ulp[i] = ulp_of(s);
        }
        printf("%-12s", fc->name);
        for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
            const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
            if (!vm) {
                printf(" %10s", "-");
                continue;
            }
            checked++;
            vm->fn[fc->id](x, y, n);
            double worst = 0;
            int64_t wi = 0;
            for (int64_t i = 0; i < n; i++) {
                double r = ref[i], v = y[i], e;
                if (isnan(r) || isnan(v)) {
                    ck_assert_msg(isnan(r) && isnan(v), "%s/%s(%a) = %a, want %a", vm->name,
                                  fc->name, (double)x[i], v, r);
                    continue;
                }
                if (isinf(r) || isinf(v) || fabs(r) > FLT_MAX) {
                    ck_assert_msg(v == (float)r, "%s/%s(%a) = %a, want %a", vm->name, fc->name,
                                  (double)x[i], v, r);
                    continue;
                }
                if (r == 0 && x[i] == 0) /* f(+-0): the sign of the zero too */
                    ck_assert_msg(v == 0 && signbit(v) == signbit(r), "%s/%s(%a) = %a, want %a",
                                  vm->name, fc->name, (double)x[i], v, r);
                e = fabs(v - r) / ulp[i];
                if (e > worst)
                    worst = e, wi = i;
            }
            printf(" %10.2f", worst);
            ck_assert_msg(worst <= fc->bound, "%s/%s: %.2f ulp at x = %a (%.9g, want %.9g)",
                          vm->name, fc->name, worst, (double)x[wi], (double)y[wi], ref[wi]);
        }
        printf("  [%g]\n", fc->bound);
    }
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++)
        printf("path %-8s: %s\n", dlt_cpu_isa_name((dlt_cpu_isa)isa),
               isa_status((dlt_cpu_isa)isa));
    ck_assert_int_gt(checked, 0);
    free(x), free(y), free(ref), free(ulp);
}
END_TEST

/* element i's value does not depend on where it sits (vector body, peeled or
 * remainder iterations): the same input at every offset of a 67-element array
 * and alone gives the same bits */
START_TEST(results_do_not_depend_on_position)
{
    float x[67], y[67], one;
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
        const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
        if (!vm)
            continue;
        for (int f = 0; f < DLT_VM_NFN; f++)
            for (int v = 0; v < 40; v++) {
                float xv = v < 20 ? edges[v + 16] : -12.f + 0.61f * (float)v;
                for (int i = 0; i < 67; i++)
                    x[i] = xv;
                vm->fn[f](x, y, 67);
                vm->fn[f](&xv, &one, 1);
                for (int i = 0; i < 67; i++)
                    ck_assert_msg(memcmp(&y[i], &one, sizeof one) == 0,
                                  "%s fn %d x = %a: element %d differs", vm->name, f, (double)xv,
                                  i);
            }
    }
}
END_TEST

/* the elementwise kernel: y = dy f^(k)(x) with f^(k) the table's function, for
 * the kinds and orders the path has; 0 (and y untouched) for the rest */
START_TEST(ew_kernels_match_functions)
{
    enum { N = 1000 };
    static const struct {
        int kind, order;
        dlt_vm_fn_id fn;
    } map[] = {
        {DLT_EW_EXP, 0, DLT_VM_EXP},
        {DLT_EW_EXP, 2, DLT_VM_EXP},
        {DLT_EW_LOG, 0, DLT_VM_LOG},
        {DLT_EW_SIGMOID, 0, DLT_VM_SIGMOID},
        {DLT_EW_SIGMOID, 1, DLT_VM_SIGMOID_D1},
        {DLT_EW_TANH, 0, DLT_VM_TANH},
        {DLT_EW_TANH, 1, DLT_VM_TANH_D1},
        {DLT_EW_GELU, 0, DLT_VM_GELU},
        {DLT_EW_GELU, 1, DLT_VM_GELU_D1},
        {DLT_EW_GELU_TANH, 0, DLT_VM_GELU_TANH},
        {DLT_EW_GELU_TANH, 1, DLT_VM_GELU_TANH_D1},
    };
    float x[N], dy[N], y[N], f[N];
    for (int i = 0; i < N; i++) {
        x[i] = -15.f + 30.f * (float)i / N + 1e-3f * (float)(i % 7);
        dy[i] = 0.5f + (float)(i % 13) / 8.f;
    }
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
        const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
        if (!vm)
            continue;
        for (size_t m = 0; m < sizeof map / sizeof map[0]; m++) {
            vm->fn[map[m].fn](x, f, N);
            ck_assert(vm->ew(map[m].kind, map[m].order, 0, 0, NULL, x, y, N));
            ck_assert(memcmp(y, f, sizeof y) == 0);
            ck_assert(vm->ew(map[m].kind, map[m].order, 0, 0, dy, x, y, N));
            for (int i = 0; i < N; i++) {
                float want = dy[i] * f[i];
                ck_assert_msg(memcmp(&y[i], &want, sizeof want) == 0, "%s kind %d order %d at %d",
                              vm->name, map[m].kind, map[m].order, i);
            }
        }
        /* f and f' in one pass: the bits of the two functions, also in place */
        static const struct {
            int kind;
            dlt_vm_fn_id f, d1;
        } two[] = {{DLT_EW_GELU, DLT_VM_GELU, DLT_VM_GELU_D1},
                   {DLT_EW_GELU_TANH, DLT_VM_GELU_TANH, DLT_VM_GELU_TANH_D1}};
        for (size_t m = 0; m < sizeof two / sizeof two[0]; m++) {
            float d[N], d1[N];
            vm->fn[two[m].f](x, f, N);
            vm->fn[two[m].d1](x, d1, N);
            ck_assert(vm->ew2(two[m].kind, 0, 0, x, y, d, N));
            ck_assert_msg(memcmp(y, f, sizeof y) == 0 && memcmp(d, d1, sizeof d) == 0, "%s ew2 kind %d",
                          vm->name, two[m].kind);
            memcpy(y, x, sizeof y);
            ck_assert(vm->ew2(two[m].kind, 0, 0, y, y, d, N));
            ck_assert_msg(memcmp(y, f, sizeof y) == 0 && memcmp(d, d1, sizeof d) == 0, "%s ew2 kind %d in place",
                          vm->name, two[m].kind);
        }
        ck_assert(!vm->ew2(DLT_EW_TANH, 0, 0, x, y, f, 0));
        /* log' = 1/x; ELU/SELU against long double */
        ck_assert(vm->ew(DLT_EW_LOG, 1, 0, 0, NULL, x, y, N));
        for (int i = 0; i < N; i++)
            ck_assert(y[i] == 1.f / x[i]);
        const float a = 1.6732632423543772848f, b = 1.0507009873554804934f;
        for (int ord = 0; ord < 2; ord++) {
            ck_assert(vm->ew(DLT_EW_SELU, ord, a, b, NULL, x, y, N));
            double worst = 0;
            for (int i = 0; i < N; i++) {
                ld r = x[i] > 0 ? (ord ? (ld)b : (ld)b * x[i])
                                : (ld)b * a * (ord ? expl(x[i]) : expm1l(x[i]));
                double e = (double)(fabsl(y[i] - r) / ulp_of(r));
                worst = !(e <= worst) ? e : worst;
            }
            printf("%s selu%s: max %.2f ulp\n", vm->name, ord ? "'" : "", worst);
            ck_assert(worst <= 4);
        }
        /* LeakyReLU and its derivative: f bitwise the double evaluation of the
         * libm path (one rounding of an exact product), and dy f as the other
         * kinds, the f32 product of dy and f */
        for (int ord = 0; ord < 2; ord++)
            for (int with_dy = 0; with_dy < 2; with_dy++) {
                const float slope = 0.2f;
                ck_assert(vm->ew(DLT_EW_LEAKY_RELU, ord, slope, 0, with_dy ? dy : NULL, x, y, N));
                for (int i = 0; i < N; i++) {
                    float fv = (float)dlt_ew_eval(DLT_EW_LEAKY_RELU, ord, slope, 0, x[i]);
                    float want = with_dy ? dy[i] * fv : fv;
                    ck_assert_msg(memcmp(&y[i], &want, sizeof want) == 0,
                                  "%s leaky_relu order %d%s at %d: %a, not %a", vm->name, ord,
                                  with_dy ? " with dy" : "", i, y[i], want);
                }
            }
        /* not on the vector path: unchanged output, 0 */
        y[0] = 42.f;
        ck_assert(!vm->ew(DLT_EW_SOFTPLUS, 0, 1, 20, NULL, x, y, N));
        ck_assert(!vm->ew(DLT_EW_GELU, 2, 0, 0, NULL, x, y, N));
        ck_assert(!vm->ew(DLT_EW_POW, 0, 2, 0, NULL, x, y, N));
        ck_assert(y[0] == 42.f);
    }
}
END_TEST

/* softmax / log-softmax rows and their backward against long double */
START_TEST(softmax_rows_match_reference)
{
    static const int lens[] = {1, 2, 7, 16, 33, 1000};
    enum { MAXN = 1000 };
    float x[MAXN], y[MAXN], dy[MAXN], dx[MAXN];
    ld ref[MAXN];
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
        const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
        if (!vm)
            continue;
        double worst[4] = {0};
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            int n = lens[li];
            for (int j = 0; j < n; j++) {
                x[j] = 60.f * sinf(1.3f * (float)j + (float)n) + (j % 5 == 3 ? -INFINITY : 0.f);
                dy[j] = cosf(0.7f * (float)j);
            }
            x[0] = 3.f; /* at least one finite */
            for (int lf = 0; lf < 2; lf++) {
                ld m = -INFINITY, s = 0, sd = 0;
                for (int j = 0; j < n; j++)
                    m = x[j] > m ? x[j] : m;
                for (int j = 0; j < n; j++)
                    s += expl((ld)x[j] - m);
                for (int j = 0; j < n; j++)
                    ref[j] = lf ? (ld)x[j] - m - logl(s) : expl((ld)x[j] - m) / s;
                vm->softmax_row(x, y, n, lf);
                for (int j = 0; j < n; j++) {
                    if (isinf(ref[j])) {
                        ck_assert(y[j] == (float)ref[j]);
                        continue;
                    }
                    /* log form: ulp of the larger of x - m and log(sum) (cancellation) */
                    ld sc = lf ? fmaxl(fabsl((ld)x[j] - m), logl(s)) : ref[j];
                    double e = (double)(fabsl(y[j] - ref[j]) / ulp_of(sc));
                    worst[lf] = !(e <= worst[lf]) ? e : worst[lf];
                }
                /* backward from this y (f32, as the op sees it) */
                for (int j = 0; j < n; j++)
                    sd += lf ? (ld)dy[j] : (ld)dy[j] * y[j];
                vm->softmax_grad_row(dy, y, dx, n, lf);
                for (int j = 0; j < n; j++) {
                    ld p = lf ? expl((ld)y[j]) : (ld)y[j];
                    ld r = lf ? dy[j] - p * sd : p * (dy[j] - sd);
                    ld sc = lf ? fmaxl(fabsl(dy[j]), fabsl(p * sd))
                               : fabsl(p) * fmaxl(fabsl(dy[j]), fabsl(sd));
                    double e = (double)(fabsl(dx[j] - r) / ulp_of(sc));
                    worst[2 + lf] = !(e <= worst[2 + lf]) ? e : worst[2 + lf];
                }
            }
        }
        printf("%s rows: softmax %.2f, log_softmax %.2f, softmax_grad %.2f, log_softmax_grad %.2f "
               "ulp\n",
               vm->name, worst[0], worst[1], worst[2], worst[3]);
        for (int i = 0; i < 4; i++)
            ck_assert(worst[i] <= 4);
    }
}
END_TEST

/* Cross-entropy's rows (lse_row, ce_grad_row) against long double, on rows of
 * logits spread over +-60 with some -inf, with and without label smoothing:
 * the log-sum-exp (returned in double) to 2^-24 absolute, what its terms'
 * missing correction allows at most; each gradient entry sc (p - q) to 4 ulp of itself beyond what
 * the terms' missing correction allows (they are summed without
 * vm_exp_diff's: sc p |z - m| 2^-24, and flushed below FLT_MIN). */
START_TEST(ce_rows_match_reference)
{
    static const int lens[] = {1, 7, 33, 1000, 4096};
    enum { MAXN = 4096 };
    static float z[MAXN], d[MAXN];
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
        const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
        if (!vm)
            continue;
        double worst_l = 0, worst_g = 0;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
            for (int sm = 0; sm < 2; sm++) {
                int n = lens[li], lab = n / 3;
                double eps = sm ? 0.1 : 0, sc = sm ? -0.37 : 1.0 / 4096;
                for (int j = 0; j < n; j++)
                    z[j] = 60.f * sinf(0.9f * (float)j + (float)n) + (j % 7 == 5 ? -INFINITY : 0.f);
                z[lab] = 2.5f;
                ld m = -INFINITY, s = 0;
                for (int j = 0; j < n; j++)
                    m = z[j] > m ? z[j] : m;
                for (int j = 0; j < n; j++)
                    s += expl((ld)z[j] - m);
                ld lse = m + logl(s);
                /* in units of 2^-24: the terms' error, at most 2^-24 of the sum, moves log(sum) by as much */
                double l = vm->lse_row(z, n), el = (double)(fabsl((ld)l - lse) / 0x1p-24L);
                ck_assert_msg(isfinite(l), "%s: lse_row of %d logits = %g", vm->name, n, l);
                worst_l = !(el <= worst_l) ? el : worst_l;
                vm->ce_grad_row(z, d, n, lab, eps, sc);
                for (int j = 0; j < n; j++) {
                    ld pj = expl((ld)z[j] - lse), q = eps / n + (j == lab ? 1 - eps : 0), r = sc * (pj - q);
                    /* the uncorrected z - m: |z - m| 2^-24 of p; flushed below FLT_MIN */
                    ld own = fabsl((ld)sc) * (pj * fabsl((ld)z[j] - m) * 0x1p-24L + 2 * FLT_MIN);
                    double e = (double)((fabsl(d[j] - r) - own) / ulp_of(r));
                    ck_assert_msg(isfinite(d[j]), "%s: ce_grad_row entry %d of %d = %g", vm->name, j, n, d[j]);
                    worst_g = !(e <= worst_g) ? e : worst_g;
                }
            }
        printf("%s cross-entropy rows: log-sum-exp %.3f x 2^-24, gradient %.2f ulp\n", vm->name,
               worst_l, worst_g);
        ck_assert(worst_l <= 1);
        ck_assert(worst_g <= 4);
    }
}
END_TEST

/* BCE with logits and its x-derivative (vmath.h's bce) against long double,
 * over logits from -40 to 40 (log1p of a tiny exp(-|x|); the sigmoid's
 * saturation), targets 0 to 1, pos_weight 1 (p NULL) and others: the loss to
 * a few ulp of its value (both terms are >= 0), the derivative to a few ulp
 * of the larger of its two terms (they cancel near the minimum). */
START_TEST(bce_matches_reference)
{
    enum { N = 803 };
    static float x[N], t[N], p[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = -40.f + 80.f * (float)i / (N - 1) + 0.013f * (float)(i % 7);
        t[i] = (float)(i % 5) / 4.f + (i % 3 == 1 ? 0.07f : 0.f);
        t[i] = t[i] > 1.f ? 1.f : t[i];
        p[i] = 0.5f + (float)(i % 4);
    }
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
        const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
        if (!vm)
            continue;
        double worst[2] = {0};
        for (int withp = 0; withp < 2; withp++)
            for (int order = 0; order < 2; order++) {
                vm->bce(order, x, t, withp ? p : NULL, y, N);
                for (int i = 0; i < N; i++) {
                    ld xi = x[i], ti = t[i], pi = withp ? p[i] : 1;
                    ld l = log1pl(expl(-fabsl(xi)));
                    ld a, b; /* the two terms */
                    if (order == 0) {
                        a = pi * ti * (fmaxl(-xi, 0) + l);
                        b = (1 - ti) * (fmaxl(xi, 0) + l);
                    } else {
                        ld s = 1 / (1 + expl(-xi));
                        a = s * (1 - ti + pi * ti);
                        b = -pi * ti;
                    }
                    ld ref = a + b, sc = fmaxl(fmaxl(fabsl(a), fabsl(b)), 1e-30L);
                    double e = (double)(fabsl((ld)y[i] - ref) / ulp_of(sc));
                    worst[order] = !(e <= worst[order]) ? e : worst[order];
                }
            }
        printf("%s bce: loss %.2f, derivative %.2f ulp\n", vm->name, worst[0], worst[1]);
        ck_assert(worst[0] <= 4 && worst[1] <= 4);
    }
}
END_TEST

/* attention's rows (exp_max_row, lse_grad_row) against long double, with
 * masked (-inf) keys, scores far below the maximum (exp underflows) and
 * large ones (rounding of s - m would cost ulp without the correction) */
START_TEST(attention_rows_match_reference)
{
    static const int lens[] = {1, 3, 16, 37, 128, 1000};
    enum { MAXN = 1000 };
    float x[MAXN], y[MAXN], g[MAXN], s2[MAXN];
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
        const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
        if (!vm)
            continue;
        double worst[3] = {0};
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            int n = lens[li];
            for (int sc = 0; sc < 3; sc++) {
                float amp = sc == 0 ? 3.f : sc == 1 ? 90.f : 3e4f;
                for (int j = 0; j < n; j++) {
                    x[j] = amp * sinf(1.7f * (float)j + (float)n) + (j % 7 == 5 ? -INFINITY : 0.f);
                    g[j] = cosf(0.9f * (float)j) * (j % 11 == 4 ? 1e20f : 1.f);
                }
                x[0] = amp; /* the maximum, finite */
                float m;
                double sum = vm->exp_max_row(x, y, n, &m);
                ck_assert(m == amp);
                ld rs = 0;
                for (int j = 0; j < n; j++) {
                    ld r = expl((ld)x[j] - m);
                    rs += r;
                    if (r == 0) {
                        ck_assert(y[j] == 0.f || y[j] < FLT_MIN);
                        continue;
                    }
                    double e = (double)(fabsl(y[j] - r) / ulp_of(r));
                    worst[0] = !(e <= worst[0]) ? e : worst[0];
                }
                ck_assert(fabsl(sum - rs) <= 1e-6L * rs);
                /* backward from lse = m + log(sum) (f32, as the forward stores it) */
                float l = (float)(m + log(sum)), d = 0.37f;
                memcpy(s2, x, (size_t)n * sizeof *x);
                float gin[MAXN];
                memcpy(gin, g, (size_t)n * sizeof *g);
                vm->lse_grad_row(x, g, n, l, d);
                for (int j = 0; j < n; j++) {
                    ld p = expl((ld)s2[j] - l);
                    double e = p == 0 ? (x[j] < FLT_MIN ? 0 : 1e9) : (double)(fabsl(x[j] - p) / ulp_of(p));
                    worst[1] = !(e <= worst[1]) ? e : worst[1];
                    /* the gradient from the f32 p the kernel stored (a subnormal p is inexact) */
                    ld r = (ld)x[j] * ((ld)gin[j] - d), scale = fabsl((ld)x[j]) * fmaxl(fabsl((ld)gin[j]), fabsl((ld)d));
                    e = scale == 0 ? (g[j] == 0 ? 0 : 1e9) : (double)(fabsl(g[j] - r) / ulp_of(scale));
                    worst[2] = !(e <= worst[2]) ? e : worst[2];
                }
                vm->lse_grad_row(s2, NULL, n, l, d); /* p only */
                for (int j = 0; j < n; j++)
                    ck_assert(s2[j] == x[j]);
            }
        }
        printf("%s attention rows: exp(x - max) %.2f, exp(s - lse) %.2f, p (g - d) %.2f ulp\n", vm->name,
               worst[0], worst[1], worst[2]);
        fflush(stdout);
        for (int i = 0; i < 3; i++)
            ck_assert(worst[i] <= 4);
    }
}
END_TEST

/* DLT_CPU_ISA is read once; whatever it says, the path in use is one this CPU
 * runs (or libm) and --version's line names it */
/* Dropout's draws and select (vmath.h's dropout) on every path: element i
 * is x[i] * scale exactly when the scalar dlt_rng_uniform at start + i is
 * >= p, else 0, for any seed, stream, start and length, in place too; p set
 * to a draw's own value keeps that element (>=); and the hand-checkable edge
 * of the draw: the 24-bit value k maps to exactly k / 2^24. */
START_TEST(dropout_equals_scalar_draws)
{
    static const uint64_t seeds[] = {0, 1, 0x123456789abcdefull, ~0ull};
    static const uint64_t starts[] = {0, 1, 1000003, 0xfffffffffffff000ull};
    static const int64_t lens[] = {1, 7, 16, 33, 256, 300}; /* 300: past a draw block */
    float x[320], y[320];
    for (int i = 0; i < 320; i++)
        x[i] = 0.5f + (float)(i % 13) * 0.37f;
    int checked = 0;
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
        const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
        if (!vm)
            continue;
        for (size_t a = 0; a < sizeof seeds / sizeof *seeds; a++)
            for (size_t c = 0; c < sizeof starts / sizeof *starts; c++)
                for (size_t l = 0; l < sizeof lens / sizeof *lens; l++)
                    for (int pi = 0; pi < 3; pi++) {
                        uint64_t stream = seeds[a] * 31 + c;
                        float p = pi == 0 ? 0.1f
                                : pi == 1 ? 0.7f
                                          : dlt_rng_uniform(seeds[a], stream, starts[c]); /* element 0's */
                        float scale = 1.f / (1.f - p);
                        int inplace = (int)(l % 2);
                        if (inplace)
                            memcpy(y, x, sizeof x);
                        vm->dropout(seeds[a], stream, starts[c], lens[l], p, scale, inplace ? y : x, y);
                        for (int64_t i = 0; i < lens[l]; i++) {
                            float u = dlt_rng_uniform(seeds[a], stream, starts[c] + (uint64_t)i);
                            uint32_t k = (uint32_t)(dlt_rng_u64(seeds[a], stream, starts[c] + (uint64_t)i) >> 40);
                            ck_assert(u == (float)((double)k / 16777216.0) && u >= 0.f && u < 1.f);
                            float want = u >= p ? x[i] * scale : 0.f;
                            ck_assert_msg(memcmp(&y[i], &want, sizeof want) == 0,
                                          "%s: seed %llx start %llx i %lld p %.9g: %.9g, scalar %.9g", vm->name,
                                          (unsigned long long)seeds[a], (unsigned long long)starts[c],
                                          (long long)i, p, y[i], want);
                        }
                        if (pi == 2)
                            ck_assert(y[0] != 0.f); /* u == p is kept */
                        checked++;
                    }
    }
    ck_assert_int_gt(checked, 0);
}
END_TEST

/* layer norm's per-channel parameter sums (norm.col_dsums) and a column
 * sum's rows (col_add): bitwise the scalar double loops on every path,
 * accumulated over three rows of 301 channels */
START_TEST(column_sums_equal_scalar_loops)
{
    enum { C = 301, R = 3 };
    float dy[R][C], x[R][C];
    const double m[R] = {0.25, -1.5, 3.0}, r[R] = {1.75, 0.3, 12.5};
    for (int i = 0; i < R; i++)
        for (int c = 0; c < C; c++) {
            dy[i][c] = (float)sin(0.37 * (i * C + c)) * 3.f;
            x[i][c] = (float)cos(0.11 * (i * C + c)) * 5.f;
        }
    double w1[C] = {0}, w2[C] = {0};
    for (int i = 0; i < R; i++)
        for (int c = 0; c < C; c++) {
            double d = dy[i][c];
            w1[c] += d;
            w2[c] += d * ((double)x[i][c] - m[i]) * r[i];
        }
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
        const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
        if (!vm)
            continue;
        double s1[C] = {0}, s2[C] = {0};
        for (int i = 0; i < R; i++)
            vm->norm.col_dsums(dy[i], x[i], C, m[i], r[i], s1, s2);
        ck_assert_msg(memcmp(s1, w1, sizeof s1) == 0 && memcmp(s2, w2, sizeof s2) == 0, "%s col_dsums", vm->name);
        /* a column sum's rows (col_add) */
        double a[C] = {0};
        for (int i = 0; i < R; i++)
            vm->col_add(x[i], a, C);
        for (int c = 0; c < C; c++)
            ck_assert_msg(a[c] == ((double)x[0][c] + x[1][c]) + x[2][c], "%s col_add at %d", vm->name, c);
    }
}
END_TEST

START_TEST(dispatch_names_the_path)
{
    const dlt_vmath_ops *vm = dlt_vmath();
    const char *d = dlt_vmath_describe();
    printf("%s\n", d);
    ck_assert_ptr_nonnull(strstr(d, vm ? vm->name : "libm"));
    ck_assert_ptr_nonnull(dlt_vmath_isa(DLT_ISA_BASELINE));
    ck_assert_ptr_null(dlt_vmath_isa(DLT_ISA_LIBM));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vmath");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, functions_within_ulp_bounds);
    tcase_add_test(t, results_do_not_depend_on_position);
    tcase_add_test(t, ew_kernels_match_functions);
    tcase_add_test(t, softmax_rows_match_reference);
    tcase_add_test(t, ce_rows_match_reference);
    tcase_add_test(t, bce_matches_reference);
    tcase_add_test(t, attention_rows_match_reference);
    tcase_add_test(t, dropout_equals_scalar_draws);
    tcase_add_test(t, column_sums_equal_scalar_loops);
    tcase_add_test(t, dispatch_names_the_path);
    suite_add_tcase(s, t);
    return dlt_test_run(s);
}
