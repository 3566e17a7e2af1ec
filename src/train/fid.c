/* The Fréchet distance of FID (dlt_fid.h): Gaussian fits of feature rows in
 * double, and tr(sqrtm(s1 s2)) through two symmetric eigendecompositions
 * (LAPACK dsyev from OpenBLAS), never the non-symmetric product itself. */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_fid.h"

/* LAPACK's Fortran symbol (OpenBLAS ships LAPACK; configure checks that it
 * links). gfortran passes the length of each CHARACTER argument after the
 * others, as size_t since GCC 8: both are given, so the call matches the ABI. */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                   double *w, double *work, const int *lwork, int *info, size_t jobz_len,
                   size_t uplo_len);

/* Eigenvalues w[d] (ascending) and eigenvectors of the symmetric a [d * d],
 * in place: afterwards row k of a is the unit eigenvector of w[k]. (LAPACK
 * stores eigenvector k as column k of a column-major array, which is row k of
 * the same memory read row-major; the symmetric input reads the same either
 * way.) */
static dlt_status sym_eig(double *a, int d, double *w)
{
    int info = 0, lwork = -1;
    double q = 0;
    dsyev_("V", "U", &d, a, &d, w, &q, &lwork, &info, 1, 1); /* workspace query */
    if (info != 0)
        return dlt_seterr(DLT_ERR_INTERNAL, "FID: LAPACK dsyev workspace query failed (info %d)",
                          info);
    lwork = (int)q;
    double *work = malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof *work);
    if (!work)
        return dlt_seterr(DLT_ERR_NOMEM, "FID: out of memory");
    dsyev_("V", "U", &d, a, &d, w, work, &lwork, &info, 1, 1);
    free(work);
    if (info != 0)
        return dlt_seterr(DLT_ERR_INTERNAL,
                          "FID: LAPACK dsyev failed on a %dx%d covariance (info %d: %s)", d, d,
                          info, info > 0 ? "no convergence" : "bad argument");
    return DLT_OK;
}

static void symmetrize(double *a, int d)
{
    for (int i = 0; i < d; i++)
        for (int j = i + 1; j < d; j++) {
            double m = 0.5 * (a[(size_t)i * d + j] + a[(size_t)j * d + i]);
            a[(size_t)i * d + j] = a[(size_t)j * d + i] = m;
        }
}

dlt_status dlt_fid_stats(const float *x, int64_t n, int d, double *mu, double *sigma)
{
    if (n < 2 || d < 1)
        return dlt_seterr(DLT_ERR_INVALID,
                          "FID statistics: need at least 2 feature rows of at least 1 value "
                          "(got %lld rows of %d)",
                          (long long)n, d);
    size_t D = (size_t)d;
    double *c = malloc((size_t)n * D * sizeof *c);
    if (!c)
        return dlt_seterr(DLT_ERR_NOMEM, "FID statistics: out of memory for %lld x %d doubles",
                          (long long)n, d);
    for (size_t j = 0; j < D; j++)
        mu[j] = 0;
    for (int64_t i = 0; i < n; i++)
        for (size_t j = 0; j < D; j++) {
            double v = x[(size_t)i * D + j];
            if (!isfinite(v)) {
                free(c);
                return dlt_seterr(DLT_ERR_NONFINITE,
                                  "FID statistics: feature row %lld holds a non-finite value "
                                  "(column %zu)",
                                  (long long)i, j);
            }
            mu[j] += v;
        }
    for (size_t j = 0; j < D; j++)
        mu[j] /= (double)n;
    /* two passes: centre first, so the covariance does not lose the digits
     * that E[x x^T] - mu mu^T would cancel */
    for (int64_t i = 0; i < n; i++)
        for (size_t j = 0; j < D; j++)
            c[(size_t)i * D + j] = (double)x[(size_t)i * D + j] - mu[j];
    /* sigma = C^T C / (n - 1), the upper triangle, mirrored below */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)n, 1.0 / (double)(n - 1), c, d, 0.0,
                sigma, d);
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < i; j++)
            sigma[i * D + j] = sigma[j * D + i];
    free(c);
    return DLT_OK;
}

dlt_status dlt_sqrtm_psd(const double *s, int d, double *a)
{
    if (d < 1)
        return dlt_seterr(DLT_ERR_INVALID, "matrix square root: size must be at least 1 (got %d)",
                          d);
    size_t D = (size_t)d;
    double *e = malloc(D * D * sizeof *e), *w = malloc(D * sizeof *w);
    if (!e || !w) {
        free(e), free(w);
        return dlt_seterr(DLT_ERR_NOMEM, "matrix square root: out of memory");
    }
    memcpy(e, s, D * D * sizeof *e);
    symmetrize(e, d);
    dlt_status st = sym_eig(e, d, w);
    if (st == DLT_OK) {
        /* a = sum_k sqrt(l_k) v_k v_k^T with v_k = row k of e */
        for (size_t k = 0; k < D; k++)
            w[k] = w[k] > 0 ? sqrt(w[k]) : 0.0;
        for (size_t i = 0; i < D; i++)
            for (size_t j = i; j < D; j++) {
                double sum = 0;
                for (size_t k = 0; k < D; k++)
                    sum += w[k] * e[k * D + i] * e[k * D + j];
                a[i * D + j] = a[j * D + i] = sum;
            }
    }
    free(e);
    free(w);
    return st;
}

dlt_status dlt_fid_distance(const double *mu1, const double *s1, const double *mu2,
                            const double *s2, int d, double *fid)
{
    if (d < 1)
        return dlt_seterr(DLT_ERR_INVALID, "FID: feature size must be at least 1 (got %d)", d);
    size_t D = (size_t)d;
    const double *in[4] = {mu1, s1, mu2, s2};
    const char *what[4] = {"mu1", "sigma1", "mu2", "sigma2"};
    for (int i = 0; i < 4; i++)
        for (size_t k = 0; k < (i % 2 ? D * D : D); k++)
            if (!isfinite(in[i][k]))
                return dlt_seterr(DLT_ERR_NONFINITE, "FID: %s[%zu] is not finite", what[i], k);
    double *a = malloc(D * D * sizeof *a), *t = malloc(D * D * sizeof *t),
           *m = malloc(D * D * sizeof *m), *w = malloc(D * sizeof *w);
    dlt_status st = DLT_OK;
    if (!a || !t || !m || !w) {
        st = dlt_seterr(DLT_ERR_NOMEM, "FID: out of memory");
        goto done;
    }
    if ((st = dlt_sqrtm_psd(s1, d, a)) != DLT_OK)
        goto done;
    /* m = A s2 A: symmetric PSD, with the eigenvalues of s1 s2 */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, a, d, s2, d, 0.0, t, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, t, d, a, d, 0.0, m, d);
    symmetrize(m, d);
    if ((st = sym_eig(m, d, w)) != DLT_OK)
        goto done;
    double tr_sqrt = 0, tr1 = 0, tr2 = 0, dist = 0;
    for (size_t k = 0; k < D; k++) {
        tr_sqrt += w[k] > 0 ? sqrt(w[k]) : 0.0;
        tr1 += s1[k * D + k];
        tr2 += s2[k * D + k];
        double dm = mu1[k] - mu2[k];
        dist += dm * dm;
    }
    *fid = dist + tr1 + tr2 - 2.0 * tr_sqrt;
done:
    free(a);
    free(t);
    free(m);
    free(w);
    return st;
}
