/* The small products and transposes of the vmath paths (src/ops/vmath_gemm.h,
 * attention's per-head products) on every ISA path this CPU runs:
 * - C = alpha op(A) B + beta C against a long double reference, A row-major
 *   and transposed, with row strides wider than the rows, every tail of the
 *   register tiles (M and N from 1 up past two tiles), within the error bound
 *   of a K-term f32 dot product; beta 0 never reads C (NaN there stays out);
 * - an element's bits do not depend on where it falls: a sub-block computed
 *   on its own (offset pointers, fewer rows and columns) equals the same
 *   elements of the whole product bit for bit (attention splits rows over
 *   threads on this);
 * - transposes are exact for every shape around the 8 x 8 blocks.
 * A path the CPU lacks is printed as not checked. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_test.h"
#include "vmath.h"

typedef long double ld;

enum { MAXD = 140 };

static float val(int i, int j, int salt)
{
    return sinf(0.37f * (float)i + 1.3f * (float)j + (float)salt) * (1.f + (float)((i + j + salt) % 5));
}

/* the product with ta (A given as [K, M], ld lda) or not ([M, K]) */
static void run(const dlt_vmath_ops *vm, int ta, int M, int N, int K, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc)
{
    vm->gemm_small(M, N, K, alpha, a, ta ? 1 : lda, ta ? lda : 1, b, ldb, beta, c, ldc);
}

START_TEST(products_match_reference)
{
    static const int ms[] = {1, 3, 5, 6, 7, 8, 9, 13, 32, 33};
    static const int ns[] = {1, 4, 7, 8, 15, 16, 17, 31, 32, 33, 48, 64, 70};
    static const int ks[] = {1, 2, 7, 64, 130};
    float *a = malloc(MAXD * MAXD * sizeof *a), *b = malloc(MAXD * MAXD * sizeof *b);
    float *c = malloc(MAXD * MAXD * sizeof *c), *c0 = malloc(MAXD * MAXD * sizeof *c0);
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
        const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
        if (!vm) {
            printf("%s: not checked (this CPU lacks it)\n", dlt_cpu_isa_name((dlt_cpu_isa)isa));
            continue;
        }
        double worst = 0;
        int cases = 0;
        for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
            for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
                for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
                    for (int v = 0; v < 4; v++) {
                        int M = ms[mi], N = ns[ni], K = ks[ki], ta = v & 1, acc = v >> 1;
                        int lda = (ta ? M : K) + 3, ldb = N + 5, ldc = N + 2;
                        float alpha = 0.75f, beta = acc ? 1.f : 0.f;
                        for (int i = 0; i < (ta ? K : M); i++)
                            for (int j = 0; j < lda; j++)
                                a[i * lda + j] = val(i, j, 1);
                        for (int i = 0; i < K; i++)
                            for (int j = 0; j < ldb; j++)
                                b[i * ldb + j] = val(i, j, 2);
                        for (int i = 0; i < M; i++)
                            for (int j = 0; j < ldc; j++)
                                c[i * ldc + j] = c0[i * ldc + j] = acc ? val(i, j, 3) : NAN;
                        run(vm, ta, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
                        for (int i = 0; i < M; i++) {
                            for (int j = 0; j < N; j++) {
                                ld r = 0, mag = 0;
                                for (int p = 0; p < K; p++) {
                                    ld x = ta ? a[p * lda + i] : a[i * lda + p], y = b[p * ldb + j];
                                    r += x * y;
                                    mag += fabsl(x * y);
                                }
                                ld ref = alpha * r + (acc ? (ld)c0[i * ldc + j] : 0);
                                ld bound = ((ld)K + 2) * FLT_EPSILON / 2 *
                                           (alpha * mag + (acc ? fabsl((ld)c0[i * ldc + j]) : 0));
                                double e = (double)(fabsl((ld)c[i * ldc + j] - ref) / bound);
                                worst = !(e <= worst) ? e : worst;
                                ck_assert_msg(e <= 1, "%s %c M %d N %d K %d beta %g: C[%d][%d] = %g, reference %Lg",
                                              vm->name, ta ? 'T' : 'N', M, N, K, beta, i, j, c[i * ldc + j], ref);
                            }
                            for (int j = N; j < ldc; j++) /* the stride's padding is not written */
                                ck_assert(memcmp(&c[i * ldc + j], &c0[i * ldc + j], sizeof *c) == 0);
                        }
                        cases++;
                    }
        printf("%s small products: %d cases, worst error %.3f of the bound\n", vm->name, cases, worst);
    }
    free(a), free(b), free(c), free(c0);
}
END_TEST

START_TEST(sub_blocks_have_the_same_bits)
{
    enum { M = 37, N = 70, K = 90 };
    float *a = malloc(M * K * sizeof *a), *b = malloc(K * N * sizeof *b);
    float *c = malloc(M * N * sizeof *c), *s = malloc(M * N * sizeof *s);
    for (int i = 0; i < M * K; i++)
        a[i] = val(i, 0, 4);
    for (int i = 0; i < K * N; i++)
        b[i] = val(i, 0, 5);
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
        const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
        if (!vm)
            continue;
        vm->gemm_small(M, N, K, 1.25f, a, K, 1, b, N, 0.f, c, N);
        static const int cut[][4] = {{0, 0, M, N}, {5, 0, 11, N}, {1, 3, 20, 33}, {36, 69, 1, 1}, {7, 17, 9, 40}};
        for (size_t t = 0; t < sizeof cut / sizeof *cut; t++) {
            int i0 = cut[t][0], j0 = cut[t][1], m = cut[t][2], n = cut[t][3];
            memset(s, 0, M * N * sizeof *s);
            vm->gemm_small(m, n, K, 1.25f, a + i0 * K, K, 1, b + j0, N, 0.f, s, n);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    ck_assert_msg(memcmp(&s[i * n + j], &c[(i0 + i) * N + j0 + j], sizeof *s) == 0,
                                  "%s: element (%d, %d) of the block at (%d, %d) differs", vm->name, i, j, i0,
                                  j0);
        }
    }
    free(a), free(b), free(c), free(s);
}
END_TEST

START_TEST(transposes_are_exact)
{
    static const int dims[] = {1, 7, 8, 9, 16, 23, 64, 130};
    float *x = malloc(MAXD * (MAXD + 4) * sizeof *x), *y = malloc(MAXD * (MAXD + 4) * sizeof *y);
    for (int isa = DLT_ISA_BASELINE; isa < DLT_ISA_N; isa++) {
        const dlt_vmath_ops *vm = dlt_vmath_isa((dlt_cpu_isa)isa);
        if (!vm)
            continue;
        for (size_t ri = 0; ri < sizeof dims / sizeof *dims; ri++)
            for (size_t ci = 0; ci < sizeof dims / sizeof *dims; ci++) {
                int rows = dims[ri], cols = dims[ci], ldx = cols + 3, ldy = rows + 4;
                for (int i = 0; i < rows * ldx; i++)
                    x[i] = (float)i;
                for (int i = 0; i < cols * ldy; i++)
                    y[i] = -1.f;
                vm->transpose(x, rows, cols, ldx, y, ldy);
                for (int cc = 0; cc < cols; cc++)
                    for (int r = 0; r < ldy; r++)
                        ck_assert_msg(y[cc * ldy + r] == (r < rows ? x[r * ldx + cc] : -1.f),
                                      "%s %d x %d: y[%d][%d] = %g", vm->name, rows, cols, cc, r, y[cc * ldy + r]);
            }
    }
    free(x), free(y);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vmath_gemm");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, products_match_reference);
    tcase_add_test(t, sub_blocks_have_the_same_bits);
    tcase_add_test(t, transposes_are_exact);
    suite_add_tcase(s, t);
    return dlt_test_run(s);
}
