// GPU kernel of the matmul family (matmul.c): batched GEMMs on cuBLAS, with
// the backend's compute type (dlt_gpu.gemm_compute).
#include <limits.h>

#include "k_reduce.cuh"

namespace dlt_kred
{

// ---------------------------------------------------------------- matmul
// Row-major y = op(a) op(b) is column-major y^T = op(b)^T op(a)^T, and a
// row-major buffer read column-major is the transpose: so cuBLAS gets b
// first with op = tb, then a with op = ta, m and n swapped.
static dlt_status gemm_batched(const dlt_kctx *k, int ta, int tb, int64_t m, int64_t n, int64_t kk,
                               const float *a, int64_t lda, int64_t sa, const float *b, int64_t ldb,
                               int64_t sb, float *y, int64_t count)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    if (m > INT_MAX || n > INT_MAX || kk > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        count > INT_MAX)
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "matmul: a dimension exceeds cuBLAS's int range");
    const float alpha = 1.f, beta = 0.f;
    cublasComputeType_t ct = g->gemm_compute;
    cublasStatus_t s = cublasGemmStridedBatchedEx(
        g->cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int)n, (int)m,
        (int)kk, &alpha, b, CUDA_R_32F, (int)ldb, (long long)sb, a, CUDA_R_32F, (int)lda,
        (long long)sa, &beta, y, CUDA_R_32F, (int)n, (long long)(m * n), (int)count, ct,
        CUBLAS_GEMM_DEFAULT);
    return dlt_gpu_check_cublas(s, k, "cublasGemmStridedBatchedEx");
}

dlt_status mm_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const mm_attr *at = DLT_CATTR(k->node, mm_attr);
    const dlt_shape *sa = k->in_shape[0], *sb = k->in_shape[1], *so = k->out_shape[0];
    const float *a = (const float *)k->in[0], *b = (const float *)k->in[1];
    float *y = (float *)k->out[0];
    int64_t ra = sa->dim[sa->ndim - 2], ca = sa->dim[sa->ndim - 1];
    int64_t rb = sb->dim[sb->ndim - 2], cb = sb->dim[sb->ndim - 1];
    int64_t m = at->ta ? ca : ra, kk = at->ta ? ra : ca, n = at->tb ? rb : cb;
    int64_t ny = dlt_shape_numel(so);
    if (ny == 0)
        return DLT_OK;
    if (kk == 0) // an empty inner product: y = 0
        return dlt_gpu_check(cudaMemsetAsync(y, 0, (size_t)ny * sizeof(float), g->stream), k,
                             "cudaMemsetAsync");
    // Batch axes as a loop nest: size-1 axes dropped, axes merged where both
    // a's and b's matrix strides continue (0 stays 0); the innermost becomes
    // cuBLAS's batch, the rest a host loop (usually of one iteration).
    dlt_shape ba = *sa, bb = *sb, bo = *so;
    ba.ndim -= 2, bb.ndim -= 2, bo.ndim -= 2;
    int64_t stra[DLT_MAX_DIMS], strb[DLT_MAX_DIMS];
    dlt_broadcast_strides(&ba, &bo, stra);
    dlt_broadcast_strides(&bb, &bo, strb);
    int64_t dim[DLT_MAX_DIMS], xa[DLT_MAX_DIMS], xb[DLT_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < bo.ndim; i++) {
        int64_t d = bo.dim[i];
        if (d == 1)
            continue;
        if (nd > 0 && xa[nd - 1] == stra[i] * d && xb[nd - 1] == strb[i] * d) {
            dim[nd - 1] *= d, xa[nd - 1] = stra[i], xb[nd - 1] = strb[i];
            continue;
        }
        dim[nd] = d, xa[nd] = stra[i], xb[nd] = strb[i], nd++;
    }
    int64_t asz = ra * ca, bsz = rb * cb, count = nd ? dim[nd - 1] : 1;
    int64_t sA = nd ? xa[nd - 1] * asz : 0, sB = nd ? xb[nd - 1] * bsz : 0;
    if (nd == 1 && !at->ta && sB == 0 && sA == asz &&
        m * count <= INT_MAX) // b shared, a's stacked: one GEMM
        return gemm_batched(k, 0, at->tb, m * count, n, kk, a, ca, 0, b, cb, 0, y, 1);
    int64_t nloop = ny / (m * n) / count;
    for (int64_t l = 0; l < nloop; l++) {
        int64_t oa = 0, ob = 0, r = l;
        for (int d = nd - 2; d >= 0; d--) {
            int64_t idx = r % dim[d];
            r /= dim[d];
            oa += idx * xa[d];
            ob += idx * xb[d];
        }
        dlt_status st = gemm_batched(k, at->ta, at->tb, m, n, kk, a + oa * asz, ca, sA,
                                     b + ob * bsz, cb, sB, y + l * count * m * n, count);
        if (st != DLT_OK)
            return st;
    }
    return DLT_OK;
}

} // namespace dlt_kred

using namespace dlt_kred;

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_matmul[] = {
    {DLT_OP_MATMUL, mm_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
