/* The Fréchet distance (src/train/fid.c): statistics, the PSD square root and
 * the distance against float64 references from numpy and scipy.linalg.sqrtm
 * (tests/fixtures/fid_make_fixtures.py, feature sizes 8 and 64), the
 * degenerate case (one Gaussian against itself: 0), and hand-computed
 * diagonal and rotated cases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_fid.h"
#include "dlt_test.h"

static double max_abs_diff(const double *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

typedef struct {
    int d, n1, n2;
    float *x1, *x2;
    double *mu1, *s1, *mu2, *s2, *sqrtm1, tr_sqrt, fid;
} case_data;

static void read_case(const char *group, case_data *c)
{
    hid_t f = dlt_test_fixture_open("fid.h5");
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    ck_assert_int_ge(g, 0);
    hid_t a;
    int *dst[3] = {&c->d, &c->n1, &c->n2};
    const char *names[3] = {"d", "n1", "n2"};
    for (int i = 0; i < 3; i++) {
        a = H5Aopen(g, names[i], H5P_DEFAULT);
        ck_assert_int_ge(a, 0);
        ck_assert_int_ge(H5Aread(a, H5T_NATIVE_INT, dst[i]), 0);
        H5Aclose(a);
    }
    size_t d = (size_t)c->d;
    c->x1 = malloc((size_t)c->n1 * d * sizeof(float));
    c->x2 = malloc((size_t)c->n2 * d * sizeof(float));
    c->mu1 = malloc(d * sizeof(double)), c->mu2 = malloc(d * sizeof(double));
    c->s1 = malloc(d * d * sizeof(double)), c->s2 = malloc(d * d * sizeof(double));
    c->sqrtm1 = malloc(d * d * sizeof(double));
    dlt_test_h5_read(g, "x1", H5T_NATIVE_FLOAT, c->x1, (size_t)c->n1 * d);
    dlt_test_h5_read(g, "x2", H5T_NATIVE_FLOAT, c->x2, (size_t)c->n2 * d);
    dlt_test_h5_read(g, "mu1", H5T_NATIVE_DOUBLE, c->mu1, d);
    dlt_test_h5_read(g, "mu2", H5T_NATIVE_DOUBLE, c->mu2, d);
    dlt_test_h5_read(g, "sigma1", H5T_NATIVE_DOUBLE, c->s1, d * d);
    dlt_test_h5_read(g, "sigma2", H5T_NATIVE_DOUBLE, c->s2, d * d);
    dlt_test_h5_read(g, "sqrtm1", H5T_NATIVE_DOUBLE, c->sqrtm1, d * d);
    dlt_test_h5_read(g, "tr_sqrt", H5T_NATIVE_DOUBLE, &c->tr_sqrt, 1);
    dlt_test_h5_read(g, "fid", H5T_NATIVE_DOUBLE, &c->fid, 1);
    H5Gclose(g);
    H5Fclose(f);
}

static void free_case(case_data *c)
{
    free(c->x1), free(c->x2), free(c->mu1), free(c->mu2);
    free(c->s1), free(c->s2), free(c->sqrtm1);
}

static void check_case(const char *group)
{
    case_data c;
    read_case(group, &c);
    size_t d = (size_t)c.d;
    double *mu = malloc(d * sizeof *mu), *s = malloc(d * d * sizeof *s);
    double *mu2 = malloc(d * sizeof *mu2), *s2 = malloc(d * d * sizeof *s2);
    double *a = malloc(d * d * sizeof *a), *aa = calloc(d * d, sizeof *aa);

    /* statistics: numpy's mean and cov(rowvar=False) */
    ck_assert_int_eq(dlt_fid_stats(c.x1, c.n1, c.d, mu, s), DLT_OK);
    ck_assert_int_eq(dlt_fid_stats(c.x2, c.n2, c.d, mu2, s2), DLT_OK);
    double emu = max_abs_diff(mu, c.mu1, d),
           es = max_abs_diff(s, c.s1, d * d) / max_abs(c.s1, d * d);
    double es2 = max_abs_diff(s2, c.s2, d * d) / max_abs(c.s2, d * d);
    printf("%s: stats: |mu - numpy| %.3g, |sigma - numpy| / max %.3g, %.3g\n", group, emu, es, es2);
    ck_assert_double_le(emu, 1e-12);
    ck_assert_double_le(es, 1e-12);
    ck_assert_double_le(es2, 1e-12);
    ck_assert_double_le(max_abs_diff(mu2, c.mu2, d), 1e-12);
    for (size_t i = 0; i < d; i++) /* exactly symmetric */
        for (size_t j = 0; j < d; j++)
            ck_assert_double_eq(s[i * d + j], s[j * d + i]);

    /* the square root: scipy's, and a * a = s */
    ck_assert_int_eq(dlt_sqrtm_psd(c.s1, c.d, a), DLT_OK);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            for (size_t k = 0; k < d; k++)
                aa[i * d + j] += a[i * d + k] * a[k * d + j];
    double ea = max_abs_diff(a, c.sqrtm1, d * d) / max_abs(c.sqrtm1, d * d);
    double eaa = max_abs_diff(aa, c.s1, d * d) / max_abs(c.s1, d * d);
    printf("%s: sqrtm: |a - scipy| / max %.3g, |a a - s| / max %.3g\n", group, ea, eaa);
    ck_assert_double_le(ea, 1e-10);
    ck_assert_double_le(eaa, 1e-12);

    /* the distance, from the fixture's statistics and from ours */
    double fid = NAN, fid2 = NAN, self1 = NAN, self2 = NAN;
    ck_assert_int_eq(dlt_fid_distance(c.mu1, c.s1, c.mu2, c.s2, c.d, &fid), DLT_OK);
    ck_assert_int_eq(dlt_fid_distance(mu, s, mu2, s2, c.d, &fid2), DLT_OK);
    ck_assert_int_eq(dlt_fid_distance(mu, s, mu, s, c.d, &self1), DLT_OK);
    ck_assert_int_eq(dlt_fid_distance(mu2, s2, mu2, s2, c.d, &self2), DLT_OK);
    printf("%s: fid %.12g (scipy %.12g, diff %.3g; from own stats diff %.3g); self %.3g %.3g\n",
           group, fid, c.fid, fid - c.fid, fid2 - c.fid, self1, self2);
    ck_assert_double_le(fabs(fid - c.fid), 1e-9 * c.fid);
    ck_assert_double_le(fabs(fid2 - c.fid), 1e-9 * c.fid);
    ck_assert_double_le(fabs(self1), 1e-9);
    ck_assert_double_le(fabs(self2), 1e-9);
    /* symmetric in its two arguments */
    ck_assert_int_eq(dlt_fid_distance(c.mu2, c.s2, c.mu1, c.s1, c.d, &fid2), DLT_OK);
    ck_assert_double_le(fabs(fid2 - c.fid), 1e-9 * c.fid);

    free(mu), free(s), free(mu2), free(s2), free(a), free(aa);
    free_case(&c);
}

START_TEST(against_scipy_d8)
{
    check_case("d8");
}
END_TEST

START_TEST(against_scipy_d64)
{
    check_case("d64");
}
END_TEST

START_TEST(hand_cases)
{
    /* diagonal covariances: tr sqrtm(s1 s2) = sum sqrt(a_i b_i), so
     * fid = |mu1 - mu2|^2 + sum (sqrt a_i - sqrt b_i)^2
     *     = 4 + (2 - 1)^2 + (3 - 4)^2 + (0 - sqrt 2)^2 = 8 (a singular s1) */
    const double mu1[3] = {1, 2, 3}, mu2[3] = {1, 0, 3};
    double s1[9] = {4, 0, 0, 0, 9, 0, 0, 0, 0}, s2[9] = {1, 0, 0, 0, 16, 0, 0, 0, 2};
    double fid = NAN;
    ck_assert_int_eq(dlt_fid_distance(mu1, s1, mu2, s2, 3, &fid), DLT_OK);
    printf("diagonal: fid %.17g (8 by hand)\n", fid);
    ck_assert_double_eq_tol(fid, 8.0, 1e-12);
    /* the same covariances rotated by 30 degrees in the first two axes
     * (R s R^T for both: the distance does not change) */
    double c = sqrt(3.0) / 2, sn = 0.5;
    double r[9] = {c, -sn, 0, sn, c, 0, 0, 0, 1}, rs1[9], rs2[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            rs1[i * 3 + j] = rs2[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++) {
                rs1[i * 3 + j] += r[i * 3 + k] * s1[k * 3 + k] * r[j * 3 + k];
                rs2[i * 3 + j] += r[i * 3 + k] * s2[k * 3 + k] * r[j * 3 + k];
            }
        }
    ck_assert_int_eq(dlt_fid_distance(mu1, rs1, mu2, rs2, 3, &fid), DLT_OK);
    ck_assert_double_eq_tol(fid, 8.0, 1e-12);
    /* the square root of the rotated diag(4, 9, 0) is the rotated diag(2, 3, 0) */
    double a[9];
    ck_assert_int_eq(dlt_sqrtm_psd(rs1, 3, a), DLT_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double want = 0, d[3] = {2, 3, 0};
            for (int k = 0; k < 3; k++)
                want += r[i * 3 + k] * d[k] * r[j * 3 + k];
            ck_assert_double_eq_tol(a[i * 3 + j], want, 1e-12);
        }
    /* a rounding-negative eigenvalue is taken as 0: diag(1, -1e-18) */
    double neg[4] = {1, 0, 0, -1e-18}, an[4];
    ck_assert_int_eq(dlt_sqrtm_psd(neg, 2, an), DLT_OK);
    ck_assert_double_eq_tol(an[0], 1.0, 1e-15);
    ck_assert_double_eq(an[3], 0.0);
    /* stats by hand: rows (0, 1), (2, 3), (4, 8): mean (2, 4), cov
     * [[4, 7], [7, 13]] (sums of products of deviations / 2) */
    const float x[6] = {0, 1, 2, 3, 4, 8};
    double mu[2], s[4];
    ck_assert_int_eq(dlt_fid_stats(x, 3, 2, mu, s), DLT_OK);
    ck_assert_double_eq(mu[0], 2.0);
    ck_assert_double_eq(mu[1], 4.0);
    ck_assert_double_eq_tol(s[0], 4.0, 1e-14);
    ck_assert_double_eq_tol(s[1], 7.0, 1e-14);
    ck_assert_double_eq_tol(s[2], 7.0, 1e-14);
    ck_assert_double_eq_tol(s[3], 13.0, 1e-14);
}
END_TEST

START_TEST(errors)
{
    const float x[4] = {1, 2, NAN, 4};
    double mu[2], s[4];
    ck_assert_int_eq(dlt_fid_stats(x, 1, 2, mu, s), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "at least 2 feature rows"));
    ck_assert_int_eq(dlt_fid_stats(x, 2, 2, mu, s), DLT_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "row 1"));
    double fid;
    ck_assert_int_eq(dlt_fid_distance(mu, s, mu, s, 0, &fid), DLT_ERR_INVALID);
    const double m[2] = {0, 0}, bad[4] = {1, 0, 0, INFINITY};
    ck_assert_int_eq(dlt_fid_distance(m, bad, m, bad, 2, &fid), DLT_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "sigma1[3]"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fid");
    TCase *tc = tcase_create("fid");
    tcase_add_test(tc, against_scipy_d8);
    tcase_add_test(tc, against_scipy_d64);
    tcase_add_test(tc, hand_cases);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
