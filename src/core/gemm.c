/* GEMM for CPU kernels: OpenBLAS runs single-threaded and dltrain splits the
 * output over its own OpenMP threads. Two thread pools on one set of cores
 * (OpenBLAS's pthreads waking while OpenMP workers spin) cost more than a third
 * of the step time in measurements, and one pool keeps the result independent
 * of anything but the thread count. */
#include <cblas.h>
#include <omp.h>

#include "dlt_opdef.h"

void dlt_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc, int nthreads)
{
    CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    /* below ~1 MFLOP per thread the fork costs more than it saves */
    double flops = 2.0 * (double)m * (double)n * (double)k;
    int nt = nthreads;
    if (omp_in_parallel() || nt <= 1 || flops < 2e6 * nt)
        nt = 1;
    if (nt == 1) {
        cblas_sgemm(CblasRowMajor, TA, TB, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c,
                    (int)ldc);
        return;
    }
    /* split the longer output dimension in blocks of 16 rows/columns */
    int by_rows = m >= n;
    int64_t len = by_rows ? m : n, blocks = (len + 15) / 16;
    if (blocks < nt)
        nt = (int)blocks;
#pragma omp parallel for schedule(static, 1) num_threads(nt)
    for (int t = 0; t < nt; t++) {
        int64_t lo = blocks * t / nt * 16, hi = blocks * (t + 1) / nt * 16;
        if (hi > len)
            hi = len;
        if (hi <= lo)
            continue;
        if (by_rows) {
            const float *as = ta ? a + lo : a + lo * lda;
            cblas_sgemm(CblasRowMajor, TA, TB, (int)(hi - lo), (int)n, (int)k, alpha, as, (int)lda, b, (int)ldb,
                        beta, c + lo * ldc, (int)ldc);
        } else {
            const float *bs = tb ? b + lo * ldb : b + lo;
            cblas_sgemm(CblasRowMajor, TA, TB, (int)m, (int)(hi - lo), (int)k, alpha, a, (int)lda, bs, (int)ldb,
                        beta, c + lo, (int)ldc);
        }
    }
}
