/* CPU kernels of the box family (box.c): the per-element math is box_impl.h's,
 * the same helpers the CUDA kernels (src/gpu/k_box.cu) call. The selection
 * ops define one order and keep to it on both backends: topk and nms order
 * by score descending, ties by the lower index (torchvision's stable sort),
 * and the sampler takes the elements of smallest random key, so the CPU and
 * the GPU select the same elements whatever their threads do. Images (rows)
 * run in parallel; nothing depends on the thread count. */
#include <stdlib.h>

#include "box_impl.h"
#include "dlt_ops.h"

dlt_status dlt_box_iou_cpu(const dlt_kctx *k);
dlt_status dlt_box_encode_cpu(const dlt_kctx *k);
dlt_status dlt_box_decode_cpu(const dlt_kctx *k);
dlt_status dlt_box_decode_grad_cpu(const dlt_kctx *k);
dlt_status dlt_box_topk_cpu(const dlt_kctx *k);
dlt_status dlt_box_nms_cpu(const dlt_kctx *k);
dlt_status dlt_box_match_cpu(const dlt_kctx *k);
dlt_status dlt_box_sample_cpu(const dlt_kctx *k);
size_t dlt_box_topk_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out);
size_t dlt_box_nms_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out);
size_t dlt_box_match_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out);
size_t dlt_box_sample_ws(const dlt_node *n, const dlt_shape *const *in,
                         const dlt_shape *const *out);

static int64_t last_dim(const dlt_shape *s)
{
    return s->dim[s->ndim - 1];
}

/* ---------------------------------------------------------------- iou, coder */
dlt_status dlt_box_iou_cpu(const dlt_kctx *k)
{
    const dlt_shape *sa = k->in_shape[0], *sb = k->in_shape[1];
    int64_t n = sa->dim[sa->ndim - 2], m = sb->dim[sb->ndim - 2];
    int64_t lead = n ? dlt_shape_numel(sa) / (4 * n) : 0;
    const float *a = k->in[0], *b = k->in[1];
    float *y = k->out[0];
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (lead * n * m > 16384)
    for (int64_t r = 0; r < lead * n; r++) {
        int64_t l = r / n;
        for (int64_t j = 0; j < m; j++)
            y[r * m + j] = dlt_box_iou1(a + 4 * r, b + 4 * (l * m + j));
    }
    return DLT_OK;
}

dlt_status dlt_box_encode_cpu(const dlt_kctx *k)
{
    const box_coder_attr *c = DLT_CATTR(k->node, box_coder_attr);
    int64_t n = dlt_shape_numel(k->in_shape[0]) / 4;
    const float *r = k->in[0], *p = k->in[1];
    float *t = k->out[0];
    for (int64_t i = 0; i < n; i++)
        dlt_box_encode1(c, r + 4 * i, p + 4 * i, t + 4 * i);
    return DLT_OK;
}

/* deltas [R, 4K] against boxes [R, 4]: the k-th group of row r uses box r */
dlt_status dlt_box_decode_cpu(const dlt_kctx *k)
{
    const box_coder_attr *c = DLT_CATTR(k->node, box_coder_attr);
    int64_t kk = last_dim(k->in_shape[0]) / 4, n = dlt_shape_numel(k->in_shape[0]) / 4;
    const float *d = k->in[0], *b = k->in[1];
    float *y = k->out[0];
    for (int64_t i = 0; i < n; i++)
        dlt_box_decode1(c, d + 4 * i, b + 4 * (i / kk), y + 4 * i);
    return DLT_OK;
}

dlt_status dlt_box_decode_grad_cpu(const dlt_kctx *k)
{
    const box_coder_attr *c = DLT_CATTR(k->node, box_coder_attr);
    int64_t kk = last_dim(k->in_shape[0]) / 4, n = dlt_shape_numel(k->in_shape[0]) / 4;
    const float *d = k->in[0], *b = k->in[1], *g = k->in[2];
    float *gd = k->out[0];
    for (int64_t i = 0; i < n; i++)
        dlt_box_decode_grad1(c, d + 4 * i, b + 4 * (i / kk), g + 4 * i, gd + 4 * i);
    return DLT_OK;
}

/* ---------------------------------------------------------------- ordering */
typedef struct {
    uint32_t key;
    int32_t idx;
} keyed;

/* descending key, then ascending index: a total order (indices are distinct) */
static int keyed_cmp(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    return dlt_box_before(a->key, a->idx, b->key, b->idx) ? -1 : 1;
}

size_t dlt_box_topk_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    (void)n, (void)out;
    return (size_t)dlt_shape_numel(in[0]) * sizeof(keyed);
}

/* Each row sorted whole (n log n): the k first are the answer. */
dlt_status dlt_box_topk_cpu(const dlt_kctx *k)
{
    int64_t n = last_dim(k->in_shape[0]), kk = last_dim(k->out_shape[0]);
    int64_t rows = dlt_shape_numel(k->in_shape[0]) / n;
    const float *x = k->in[0];
    int32_t *idx = k->out[0];
    keyed *w = k->work;
#pragma omp parallel for schedule(dynamic) num_threads(k->nthreads) if (rows > 1)
    for (int64_t r = 0; r < rows; r++) {
        keyed *e = w + r * n;
        for (int64_t i = 0; i < n; i++)
            e[i] = (keyed){dlt_box_fkey(x[r * n + i]), (int32_t)i};
        qsort(e, (size_t)n, sizeof *e, keyed_cmp);
        for (int64_t j = 0; j < kk; j++)
            idx[r * kk + j] = e[j].idx;
    }
    return DLT_OK;
}

/* ---------------------------------------------------------------- nms */
size_t dlt_box_nms_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    (void)n, (void)out;
    return (size_t)dlt_shape_numel(in[1]) * (sizeof(keyed) + 1);
}

/* Per image: the valid boxes in score order, then torchvision's greedy loop
 * (a box suppresses the later ones of its class whose IoU with it is above
 * the threshold), stopped once K are kept; the rest of the K slots hold index
 * 0 with mask 0. */
dlt_status dlt_box_nms_cpu(const dlt_kctx *k)
{
    const box_nms_attr *a = DLT_CATTR(k->node, box_nms_attr);
    int64_t nb = k->in_shape[1]->dim[0], n = k->in_shape[1]->dim[1], kk = a->k;
    const float *boxes = k->in[0], *scores = k->in[1];
    const int32_t *cls = a->has_classes ? k->in[2] : NULL;
    const float *valid = a->has_valid ? k->in[2 + a->has_classes] : NULL;
    int32_t *keep = k->out[0];
    float *mask = k->out[1];
    keyed *order_all = k->work;
    unsigned char *supp_all = (unsigned char *)(order_all + nb * n);
#pragma omp parallel for schedule(dynamic) num_threads(k->nthreads) if (nb > 1)
    for (int64_t b = 0; b < nb; b++) {
        keyed *order = order_all + b * n;
        unsigned char *supp = supp_all + b * n;
        const float *bx = boxes + 4 * b * n;
        int64_t nv = 0, kept = 0;
        for (int64_t i = 0; i < n; i++)
            if (!valid || valid[b * n + i] != 0.f)
                order[nv++] = (keyed){dlt_box_fkey(scores[b * n + i]), (int32_t)i};
        qsort(order, (size_t)nv, sizeof *order, keyed_cmp);
        for (int64_t r = 0; r < nv; r++)
            supp[r] = 0;
        for (int64_t r = 0; r < nv && kept < kk; r++) {
            if (supp[r])
                continue;
            int32_t i = order[r].idx;
            keep[b * kk + kept++] = i;
            for (int64_t s = r + 1; s < nv; s++) {
                int32_t j = order[s].idx;
                if (supp[s] || (cls && cls[b * n + i] != cls[b * n + j]))
                    continue;
                if ((double)dlt_box_iou1(bx + 4 * i, bx + 4 * j) > a->thr)
                    supp[s] = 1;
            }
        }
        for (int64_t j = 0; j < kk; j++) {
            mask[b * kk + j] = j < kept ? 1.f : 0.f;
            if (j >= kept)
                keep[b * kk + j] = 0;
        }
    }
    return DLT_OK;
}

/* ---------------------------------------------------------------- matcher */
size_t dlt_box_match_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    (void)n, (void)out;
    return (size_t)(in[0]->dim[0] * in[0]->dim[1]) * sizeof(float);
}

/* The valid ground truths of image b: the first count[b], clamped to [0, G]. */
static int64_t gt_valid(const dlt_kctx *k, int64_t b, int64_t g)
{
    if (!DLT_CATTR(k->node, box_match_attr)->has_count)
        return g;
    int64_t c = ((const int32_t *)k->in[1])[b];
    return c < 0 ? 0 : c > g ? g : c;
}

/* torchvision's Matcher per image: each anchor's best ground truth, then
 * thresholds; with low-quality matches every anchor that attains some
 * ground truth's highest quality (ties included) gets its best match back. */
dlt_status dlt_box_match_cpu(const dlt_kctx *k)
{
    const box_match_attr *m = DLT_CATTR(k->node, box_match_attr);
    const dlt_shape *s = k->in_shape[0];
    int64_t nb = s->dim[0], ng = s->dim[1], na = s->dim[2];
    const float *q = k->in[0];
    int32_t *y = k->out[0];
    float *gmax = k->work;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (nb > 1)
    for (int64_t b = 0; b < nb; b++) {
        int64_t nv = gt_valid(k, b, ng);
        const float *qb = q + b * ng * na;
        for (int64_t g = 0; g < nv && m->allow_low_quality; g++) {
            float v = qb[g * na];
            for (int64_t a = 1; a < na; a++) {
                float x = qb[g * na + a];
                if (x > v || (x != x && v == v))
                    v = x;
            }
            gmax[b * ng + g] = v;
        }
        for (int64_t a = 0; a < na; a++) {
            int32_t best, r = dlt_box_match1(m, qb + a, na, nv, &best);
            for (int64_t g = 0; g < nv && m->allow_low_quality && r < 0; g++)
                if (qb[g * na + a] == gmax[b * ng + g])
                    r = best;
            y[b * na + a] = r;
        }
    }
    return DLT_OK;
}

/* ---------------------------------------------------------------- sampler */
/* The m-th smallest key of the eligible elements (m >= 1, at least m
 * eligible), sorted in w. The keys are distinct (their low bits are the
 * element's index), so this is also the smallest t with m eligible keys
 * <= t, which the GPU finds by binary search. */
static int u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

static uint64_t kth_key(const int32_t *lab, int64_t na, int positive, int64_t m, uint64_t seed,
                        uint64_t stream, uint64_t sample, uint64_t *w)
{
    int64_t n = 0;
    for (int64_t a = 0; a < na; a++)
        if (positive ? lab[a] >= 1 : lab[a] == 0)
            w[n++] = dlt_box_sample_key(seed, stream, sample, na, a);
    qsort(w, (size_t)n, sizeof *w, u64_cmp);
    return w[m - 1];
}

size_t dlt_box_sample_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    (void)n, (void)out;
    return (size_t)dlt_shape_numel(in[0]) * sizeof(uint64_t);
}

/* torchvision's counts: num_pos = min(#positive, int(batch fraction)),
 * num_neg = min(#negative, batch - num_pos); labels >= 1 are positive, 0
 * negative, < 0 ignored. The chosen ones are those of smallest key. */
dlt_status dlt_box_sample_cpu(const dlt_kctx *k)
{
    const box_sample_attr *s = DLT_CATTR(k->node, box_sample_attr);
    int64_t nb = k->in_shape[0]->dim[0], na = k->in_shape[0]->dim[1];
    const int32_t *lab = k->in[0];
    float *pos = k->out[0], *neg = k->out[1];
    uint64_t stream = dlt_box_sample_stream(s->id, k->step);
#pragma omp parallel for schedule(dynamic) num_threads(k->nthreads) if (nb > 1)
    for (int64_t b = 0; b < nb; b++) {
        const int32_t *l = lab + b * na;
        uint64_t sample = (uint64_t)(s->first_sample + b);
        int64_t np = 0, nn = 0;
        for (int64_t a = 0; a < na; a++)
            np += l[a] >= 1, nn += l[a] == 0;
        np = np < s->num_pos ? np : s->num_pos;
        nn = nn < s->batch_per_image - np ? nn : s->batch_per_image - np;
        uint64_t *w = (uint64_t *)k->work + b * na;
        uint64_t tp = np ? kth_key(l, na, 1, np, s->gseed, stream, sample, w) : 0;
        uint64_t tn = nn ? kth_key(l, na, 0, nn, s->gseed, stream, sample, w) : 0;
        for (int64_t a = 0; a < na; a++) {
            uint64_t key = dlt_box_sample_key(s->gseed, stream, sample, na, a);
            pos[b * na + a] = np && l[a] >= 1 && key <= tp ? 1.f : 0.f;
            neg[b * na + a] = nn && l[a] == 0 && key <= tn ? 1.f : 0.f;
        }
    }
    return DLT_OK;
}
