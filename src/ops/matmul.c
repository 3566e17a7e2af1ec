/* Batched matrix multiply with transposes (OpenBLAS sgemm), and linear layers. */
#include <string.h>

#include "dlt_ops.h"
#include "ops_util.h"
#include "reduce_impl.h"
#include "shape_util.h"

static void mat_dims(const dlt_shape *s, int t, int64_t *rows, int64_t *cols)
{
    int64_t r = s->dim[s->ndim - 2], c = s->dim[s->ndim - 1];
    *rows = t ? c : r;
    *cols = t ? r : c;
}

static dlt_status mm_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const mm_attr *at = DLT_CATTR(n, mm_attr);
    int64_t m, ka, kb, nn;
    if (in[0].dtype != DLT_F32 || in[1].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "inputs must be f32");
    if (in[0].ndim < 2 || in[1].ndim < 2)
        return dlt_seterr(DLT_ERR_SHAPE, "inputs must have rank >= 2");
    mat_dims(&in[0], at->ta, &m, &ka);
    mat_dims(&in[1], at->tb, &kb, &nn);
    if (ka != kb)
        return dlt_seterr(DLT_ERR_SHAPE, "inner dimensions differ (%lld vs %lld)", (long long)ka,
                          (long long)kb);
    dlt_shape ba = in[0], bb = in[1], bo;
    ba.ndim -= 2, bb.ndim -= 2;
    if (dlt_broadcast_shape(&ba, &bb, &bo) != DLT_OK)
        return dlt_seterr(DLT_ERR_SHAPE, "batch dimensions do not broadcast");
    out[0] = bo;
    out[0].dim[bo.ndim] = m;
    out[0].dim[bo.ndim + 1] = nn;
    out[0].ndim = bo.ndim + 2;
    return DLT_OK;
}

/* A weight gradient C = A^T B [m, n] with m >= 2n (a linear layer's
 * [out, in] gradient with out > in, the tied LM head's [vocab, d]) runs as
 * T = B^T A [n, m] into the workspace, then C = T^T: oneDNN's sgemm ran the
 * LM head's 4096x256x2048 product at 53-55 GFLOP/s and its transpose at
 * 83-100 on one thread (1024x256x2048: 113 against 134). A function of the
 * shapes, so the result depends on the thread count no more than before.
 * The transpose is the shape family's tiled dlt_strided_copy. */
static int flipped(const mm_attr *at, const dlt_shape *sa, const dlt_shape *sb)
{
    /* a [k, m], b [k, n] */
    return at->ta && !at->tb && sa->ndim == 2 && sb->ndim == 2 && sa->dim[1] >= 2 * sb->dim[1] && sb->dim[1] > 0;
}

static size_t mm_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return flipped(DLT_CATTR(n, mm_attr), in[0], in[1]) ? (size_t)dlt_shape_numel(out[0]) * sizeof(float) : 0;
}

/* A batch of products y_i = op(a_i) op(b_i) with broadcast batch strides. */
typedef struct {
    const mm_attr *at;
    const float *a, *b;
    float *y;
    int64_t m, n, kk, lda, ldb, asz, bsz;
    dlt_shape bo; /* the batch dimensions of y */
    int64_t stra[DLT_MAX_DIMS], strb[DLT_MAX_DIMS];
} mm_batch;

/* Product i of the batch, its GEMM split over nthreads. */
static void mm_one(const mm_batch *q, int64_t i, int nthreads)
{
    int64_t oa = 0, ob = 0, r = i;
    for (int d = q->bo.ndim - 1; d >= 0; d--) {
        int64_t idx = r % q->bo.dim[d];
        r /= q->bo.dim[d];
        oa += idx * q->stra[d];
        ob += idx * q->strb[d];
    }
    dlt_gemm(q->at->ta, q->at->tb, q->m, q->n, q->kk, 1.f, q->a + oa * q->asz, q->lda, q->b + ob * q->bsz, q->ldb,
             0.f, q->y + i * q->m * q->n, q->n, nthreads);
}

static dlt_status mm_cpu(const dlt_kctx *k)
{
    const mm_attr *at = DLT_CATTR(k->node, mm_attr);
    const dlt_shape *sa = k->in_shape[0], *sb = k->in_shape[1], *so = k->out_shape[0];
    const float *a = k->in[0], *b = k->in[1];
    float *y = k->out[0];
    int64_t m, kk, n, kb;
    mat_dims(sa, at->ta, &m, &kk);
    mat_dims(sb, at->tb, &kb, &n);
    int64_t lda = sa->dim[sa->ndim - 1], ldb = sb->dim[sb->ndim - 1];
    int64_t nbatch = dlt_shape_numel(so) / (m * n);
    if (flipped(at, sa, sb)) { /* T = B^T A, y = T^T (the shape family's tiled copy) */
        float *t = k->work;
        dlt_gemm(1, 0, n, m, kk, 1.f, b, ldb, a, lda, 0.f, t, m, k->nthreads);
        dlt_strided_copy(sizeof(float), 2, (const int64_t[]){m, n}, t, (const int64_t[]){1, m}, y,
                         (const int64_t[]){n, 1}, k->nthreads);
        return DLT_OK;
    }
    if (sb->ndim == 2 && !at->ta) {
        /* b shared by every batch: one GEMM over all rows of a */
        dlt_gemm(0, at->tb, m * nbatch, n, kk, 1.f, a, lda, b, ldb, 0.f, y, n, k->nthreads);
        return DLT_OK;
    }
    mm_batch q = {.at = at, .a = a, .b = b, .y = y, .m = m, .n = n, .kk = kk, .lda = lda, .ldb = ldb,
                  .asz = sa->dim[sa->ndim - 2] * lda, .bsz = sb->dim[sb->ndim - 2] * ldb, .bo = *so};
    dlt_shape ba = *sa, bb = *sb;
    ba.ndim -= 2, bb.ndim -= 2, q.bo.ndim -= 2;
    dlt_broadcast_strides(&ba, &q.bo, q.stra);
    dlt_broadcast_strides(&bb, &q.bo, q.strb);
    /* Many small products: one per thread. Few large ones: one after the
     * other, each split by dlt_gemm; not inside an `if (0)` parallel
     * region, whose serialized team would make every split GEMM fork a
     * nested team of new threads (GPT-mini: 24 thread creations per step,
     * the new threads landing on a busy core, its weight gradients 2x
     * slower than the same GEMM from the outermost level). */
    if (nbatch >= k->nthreads && k->nthreads > 1) {
#pragma omp parallel for schedule(static) num_threads(k->nthreads)
        for (int64_t i = 0; i < nbatch; i++)
            mm_one(&q, i, 1);
    } else {
        for (int64_t i = 0; i < nbatch; i++)
            mm_one(&q, i, k->nthreads);
    }
    return DLT_OK;
}

static dlt_t fold2d(dlt_graph *g, dlt_t x)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    int64_t d[2] = {dlt_shape_numel(s) / s->dim[s->ndim - 1], s->dim[s->ndim - 1]};
    return dlt_reshape(g, x, 2, d);
}

static dlt_status mm_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const mm_attr *at = DLT_CATTR(n, mm_attr);
    dlt_t a = n->in[0], b = n->in[1], d = dy[0];
    /* copies: the builders below may grow (reallocate) the graph's values */
    dlt_shape sac = *dlt_shape_of(g, a), sbc = *dlt_shape_of(g, b);
    const dlt_shape *sa = &sac, *sb = &sbc;
    int ta = at->ta, tb = at->tb;
    /* y = A B with A = op(a), B = op(b): dA = dy B^T, dB = A^T dy */
    dlt_t da = ta ? dlt_matmul(g, b, d, tb, 1) : dlt_matmul(g, d, b, 0, !tb);
    dlt_t db;
    if (sb->ndim == 2 && sa->ndim > 2 && !ta) {
        dlt_t a2 = fold2d(g, a), d2 = fold2d(g, d);
        db = tb ? dlt_matmul(g, d2, a2, 1, 0) : dlt_matmul(g, a2, d2, 1, 0);
    } else {
        db = tb ? dlt_matmul(g, d, a, 1, ta) : dlt_matmul(g, a, d, !ta, 0);
    }
    dx[0] = dlt_sum_to(g, da, sa);
    dx[1] = dlt_sum_to(g, db, sb);
    return DLT_OK;
}

static double mm_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    const mm_attr *at = DLT_CATTR(n, mm_attr);
    int64_t m, k;
    mat_dims(in[0], at->ta, &m, &k);
    return 2.0 * (double)dlt_shape_numel(out[0]) * (double)k;
}

const dlt_op_def dlt_op_def_matmul = {
    .id = DLT_OP_MATMUL,
    .name = "matmul",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = mm_shape,
    .grad = mm_grad,
    .cpu = mm_cpu,
    .workspace = mm_ws,
    .flops = mm_flops,
};

dlt_t dlt_matmul(dlt_graph *g, dlt_t a, dlt_t b, int ta, int tb)
{
    mm_attr at = {ta != 0, tb != 0};
    dlt_t in[2] = {a, b};
    return dlt_node_add(g, &dlt_op_def_matmul, 2, in, &at, sizeof at);
}

dlt_t dlt_linear(dlt_graph *g, dlt_t x, dlt_t weight, dlt_t bias)
{
    dlt_t y = dlt_matmul(g, x, weight, 0, 1);
    return bias >= 0 ? dlt_add(g, y, bias) : y;
}
