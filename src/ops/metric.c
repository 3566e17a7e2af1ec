/* Classification metrics from logits and integer labels (not differentiable).
 * A position counts as top-k correct when fewer than k classes have a logit
 * strictly greater than the labelled class's (ties count in the label's
 * favour). Labels outside [0, C) count as wrong. */
#include "dlt_ops.h"
#include "ops_util.h"
#include "reduce_impl.h"

static dlt_status topk_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    if (in[0].dtype != DLT_F32 || in[0].ndim < 2)
        return dlt_seterr(DLT_ERR_DTYPE, "logits must be f32 [N, C, d...]");
    if (in[1].dtype != DLT_I32)
        return dlt_seterr(DLT_ERR_DTYPE, "labels must be i32");
    int ok = in[1].ndim == in[0].ndim - 1 && in[1].dim[0] == in[0].dim[0];
    for (int i = 1; ok && i < in[1].ndim; i++)
        ok = in[1].dim[i] == in[0].dim[i + 1];
    if (!ok)
        return dlt_seterr(DLT_ERR_SHAPE, "labels must be [N, d...] for logits [N, C, d...]");
    out[0] = dlt_shape_make(DLT_F32, 0, NULL);
    return DLT_OK;
}

static dlt_status topk_cpu(const dlt_kctx *k)
{
    const topk_attr *a = DLT_CATTR(k->node, topk_attr);
    const float *z = k->in[0];
    const int32_t *lab = k->in[1];
    const dlt_shape *s = k->in_shape[0];
    int64_t N = s->dim[0], C = s->dim[1], P = dlt_shape_numel(s) / (N * C), npos = N * P, hits = 0;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) reduction(+ : hits) if (npos * C > 32768)
    for (int64_t i = 0; i < npos; i++) {
        const float *zi = z + (i / P) * C * P + i % P;
        int32_t y = lab[i];
        if (y < 0 || y >= C)
            continue;
        int64_t above = 0;
        for (int64_t c = 0; c < C; c++)
            above += zi[c * P] > zi[y * P];
        hits += above < a->k;
    }
    *(float *)k->out[0] = a->fraction ? (float)((double)hits / (double)npos) : (float)hits;
    return DLT_OK;
}

const dlt_op_def dlt_op_def_topk_correct = {
    .id = DLT_OP_TOPK_CORRECT,
    .name = "topk_correct",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = topk_shape,
    .cpu = topk_cpu,
};

static dlt_t topk(dlt_graph *g, dlt_t logits, dlt_t labels, int k, int fraction)
{
    const dlt_shape *ls = dlt_shape_of(g, labels), *zs = dlt_shape_of(g, logits);
    if (!ls || !zs)
        return -1;
    if (ls->dtype != DLT_I32) {
        char b[128];
        return dlt_graph_fail(g, DLT_ERR_DTYPE, "topk_correct: labels '%s' must be i32, got %s",
                              dlt_name_of(g, labels), dlt_shape_str(ls, b, sizeof b));
    }
    if (k < 1 || (zs->ndim >= 2 && k > zs->dim[1]))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "topk_correct: k = %d is outside [1, classes]", k);
    topk_attr a = {k, fraction};
    dlt_t in[2] = {logits, labels};
    return dlt_node_add(g, &dlt_op_def_topk_correct, 2, in, &a, sizeof a);
}

dlt_t dlt_topk_correct(dlt_graph *g, dlt_t logits, dlt_t labels, int k) { return topk(g, logits, labels, k, 0); }
dlt_t dlt_topk_accuracy(dlt_graph *g, dlt_t logits, dlt_t labels, int k) { return topk(g, logits, labels, k, 1); }
dlt_t dlt_accuracy(dlt_graph *g, dlt_t logits, dlt_t labels) { return topk(g, logits, labels, 1, 1); }
