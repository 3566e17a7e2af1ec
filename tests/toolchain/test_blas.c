/* OpenBLAS sgemm against a naive triple loop, all transpose combinations. */
#include <cblas.h>
#include <stdlib.h>

#include "dlt_test.h"

static void naive(int ta, int tb, int m, int n, int k, float alpha, const float *a, const float *b,
                  float beta, float *c)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                float av = ta ? a[p * m + i] : a[i * k + p];
                float bv = tb ? b[j * k + p] : b[p * n + j];
                s += (double)av * bv;
            }
            c[i * n + j] = (float)(alpha * s + beta * c[i * n + j]);
        }
}

START_TEST(sgemm_matches_naive)
{
    /* odd sizes exercise the kernels' edge handling */
    static const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 128, 96}};
    int s = _i / 4, ta = _i % 2, tb = (_i / 2) % 2;
    int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
    float *c = malloc(sizeof(float) * m * n), *r = malloc(sizeof(float) * m * n);
    dlt_test_fill_uniform(a, (size_t)m * k, -1, 1, 1);
    dlt_test_fill_uniform(b, (size_t)k * n, -1, 1, 2);
    dlt_test_fill_uniform(c, (size_t)m * n, -1, 1, 3);
    for (int i = 0; i < m * n; i++)
        r[i] = c[i];
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, 0.5f, a, ta ? m : k, b, tb ? k : n, 0.25f, c, n);
    naive(ta, tb, m, n, k, 0.5f, a, b, 0.25f, r);
    /* each entry sums k products of magnitude <= 1 in f32: error <= k * eps */
    double tol = (double)k * 1.2e-7 * 4;
    ck_assert_double_le(dlt_test_max_abserr(c, r, (size_t)m * n), tol);
    free(a), free(b), free(c), free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blas");
    TCase *tc = tcase_create("sgemm");
    tcase_add_loop_test(tc, sgemm_matches_naive, 0, 16);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
