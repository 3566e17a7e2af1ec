/* The box family: the detection ops of Mask R-CNN's RPN and RoI heads, as
 * torchvision computes them, with static shapes (fixed maxima plus validity
 * masks, DESIGN.md decision 5). Boxes are (x1, y1, x2, y2) in a last axis of
 * size 4, batched over images in the leading axes.
 *   box_iou          pairwise IoU, [..., N, 4] x [..., M, 4] -> [..., N, M]
 *   box_encode       the BoxCoder's regression targets of matched boxes
 *   box_decode       deltas applied to boxes (clamped exp), with its gradient
 *                    w.r.t. the deltas (box_decode_grad): cheap, so there
 *   box_topk         indices of the k largest along the last axis
 *   box_nms          batched greedy NMS with K outputs and a validity mask
 *   box_match        torchvision's Matcher (low-quality matches included)
 *   box_sample       the balanced positive/negative sampler, seeded
 * plus the anchor grid of one FPN level, a constant built at graph time
 * (anchors depend on static shapes only: no op, no kernel, computed once).
 * Ops that only compare or select (everything but box_decode) give no
 * gradient: their outputs are constants for dlt_grad, like the random ops'
 * (the RPN and box head regress towards encoded targets, which torchvision
 * computes without gradient too). dlt_topk's values are a gather of the
 * input by those indices, so the values' gradient scatters back through
 * gather's rule. Shape rules and builders here, CPU kernels in
 * box_kernels.c, the per-element math shared with the CUDA kernels
 * (src/gpu/k_box.cu) in box_impl.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Constants for differentiation: no input gets a gradient. */
static dlt_status box_no_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    (void)g, (void)n, (void)dy, (void)dx;
    return DLT_OK;
}

static dlt_status want_f32(const dlt_shape *s, const char *what)
{
    if (s->dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "%s must be f32, got %s", what, dlt_dtype_name(s->dtype));
    return DLT_OK;
}

static dlt_status want_boxes(const dlt_shape *s, const char *what, int min_rank)
{
    dlt_status st = want_f32(s, what);
    if (st != DLT_OK)
        return st;
    if (s->ndim < min_rank || s->dim[s->ndim - 1] != 4)
        return dlt_seterr(DLT_ERR_SHAPE, "%s must be [..., 4] boxes (x1, y1, x2, y2) of rank >= %d",
                          what, min_rank);
    return DLT_OK;
}

/* a and b agree on their first n axes */
static int same_lead(const dlt_shape *a, const dlt_shape *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a->dim[i] != b->dim[i])
            return 0;
    return 1;
}

static int same_dims(const dlt_shape *a, const dlt_shape *b)
{
    return a->ndim == b->ndim && same_lead(a, b, a->ndim);
}

/* ---------------------------------------------------------------- box_iou */
static dlt_status iou_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    (void)n;
    dlt_status st = want_boxes(&in[0], "boxes a", 2);
    if (st == DLT_OK)
        st = want_boxes(&in[1], "boxes b", 2);
    if (st != DLT_OK)
        return st;
    int r = in[0].ndim;
    if (in[1].ndim != r || !same_lead(&in[0], &in[1], r - 2))
        return dlt_seterr(DLT_ERR_SHAPE,
                          "boxes a [..., N, 4] and b [..., M, 4] must have the same leading dims");
    out[0] = in[0];
    out[0].dim[r - 1] = in[1].dim[r - 2];
    return DLT_OK;
}

const dlt_op_def dlt_op_def_box_iou = {
    .id = DLT_OP_BOX_IOU,
    .name = "box_iou",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = iou_shape,
    .grad = box_no_grad,
    .cpu = dlt_box_iou_cpu,
};

/* ---------------------------------------------------------------- coder */
static dlt_status encode_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    (void)n;
    dlt_status st = want_boxes(&in[0], "reference boxes", 1);
    if (st == DLT_OK)
        st = want_boxes(&in[1], "proposals", 1);
    if (st != DLT_OK)
        return st;
    if (!dlt_shape_equal(&in[0], &in[1]))
        return dlt_seterr(DLT_ERR_SHAPE, "reference boxes and proposals must have the same shape");
    out[0] = in[0];
    return DLT_OK;
}

const dlt_op_def dlt_op_def_box_encode = {
    .id = DLT_OP_BOX_ENCODE,
    .name = "box_encode",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = encode_shape,
    .grad = box_no_grad,
    .cpu = dlt_box_encode_cpu,
};

/* deltas [..., 4K] and boxes [..., 4] with the same leading dims */
static dlt_status decode_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    (void)n;
    dlt_status st = want_f32(&in[0], "deltas");
    if (st == DLT_OK)
        st = want_boxes(&in[1], "boxes", 1);
    if (st != DLT_OK)
        return st;
    int r = in[0].ndim;
    if (r != in[1].ndim || !same_lead(&in[0], &in[1], r - 1) || in[0].dim[r - 1] % 4 != 0 ||
        in[0].dim[r - 1] == 0)
        return dlt_seterr(
            DLT_ERR_SHAPE,
            "deltas must be [..., 4K] (K >= 1) with the leading dims of boxes [..., 4]");
    out[0] = in[0];
    return DLT_OK;
}

static dlt_status decode_grad_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    dlt_status st = decode_shape(n, in, out);
    if (st == DLT_OK && !dlt_shape_equal(&in[2], &in[0]))
        return dlt_seterr(DLT_ERR_SHAPE, "the incoming gradient must have the deltas' shape");
    return st;
}

static dlt_status decode_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    if (dy[0] < 0)
        return DLT_OK;
    dlt_t in[3] = {n->in[0], n->in[1], dy[0]};
    dx[0] = dlt_node_add(g, &dlt_op_def_box_decode_grad, 3, in, n->attr, sizeof(box_coder_attr));
    return dx[0] < 0 ? dlt_graph_status(g) : DLT_OK; /* the boxes get none */
}

static double decode_flops(const dlt_node *n, const dlt_shape *const *in,
                           const dlt_shape *const *out)
{
    (void)n, (void)in;
    return 6.0 * (double)dlt_shape_numel(out[0]);
}

const dlt_op_def dlt_op_def_box_decode = {
    .id = DLT_OP_BOX_DECODE,
    .name = "box_decode",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = decode_shape,
    .grad = decode_grad,
    .cpu = dlt_box_decode_cpu,
    .flops = decode_flops,
};

/* (deltas, boxes, dy) -> d deltas; no second order */
const dlt_op_def dlt_op_def_box_decode_grad = {
    .id = DLT_OP_BOX_DECODE_GRAD,
    .name = "box_decode_grad",
    .nin_min = 3,
    .nin_max = 3,
    .nout = 1,
    .shape = decode_grad_shape,
    .cpu = dlt_box_decode_grad_cpu,
    .flops = decode_flops,
};

/* ---------------------------------------------------------------- topk */
static dlt_status topk_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    int64_t k = DLT_CATTR(n, box_topk_attr)->k;
    dlt_status st = want_f32(&in[0], "topk input");
    if (st != DLT_OK)
        return st;
    if (in[0].ndim < 1 || k < 1 || k > in[0].dim[in[0].ndim - 1])
        return dlt_seterr(DLT_ERR_SHAPE, "k = %lld must be in [1, size of the last axis]",
                          (long long)k);
    out[0] = in[0];
    out[0].dtype = DLT_I32;
    out[0].dim[in[0].ndim - 1] = k;
    return DLT_OK;
}

const dlt_op_def dlt_op_def_box_topk = {
    .id = DLT_OP_BOX_TOPK,
    .name = "box_topk",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = topk_shape,
    .grad = box_no_grad,
    .cpu = dlt_box_topk_cpu,
    .workspace = dlt_box_topk_ws,
};

/* ---------------------------------------------------------------- nms */
/* boxes [B, N, 4], scores [B, N], then classes i32 [B, N] and valid f32
 * [B, N] where the attributes say so -> keep i32 [B, K], mask f32 [B, K] */
static dlt_status nms_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const box_nms_attr *a = DLT_CATTR(n, box_nms_attr);
    dlt_status st = want_boxes(&in[0], "boxes", 3);
    if (st == DLT_OK)
        st = want_f32(&in[1], "scores");
    if (st != DLT_OK)
        return st;
    if (in[0].ndim != 3 || in[1].ndim != 2 || !same_lead(&in[0], &in[1], 2))
        return dlt_seterr(DLT_ERR_SHAPE, "boxes must be [B, N, 4] and scores [B, N]");
    int i = 2;
    if (a->has_classes) {
        if (in[i].dtype != DLT_I32 || !same_dims(&in[i], &in[1]))
            return dlt_seterr(DLT_ERR_SHAPE, "classes must be i32 [B, N] like the scores");
        i++;
    }
    if (a->has_valid && (in[i].dtype != DLT_F32 || !same_dims(&in[i], &in[1])))
        return dlt_seterr(DLT_ERR_SHAPE, "the validity mask must be f32 [B, N] like the scores");
    int64_t d[2] = {in[1].dim[0], a->k};
    out[0] = dlt_shape_make(DLT_I32, 2, d);
    out[1] = dlt_shape_make(DLT_F32, 2, d);
    return DLT_OK;
}

const dlt_op_def dlt_op_def_box_nms = {
    .id = DLT_OP_BOX_NMS,
    .name = "box_nms",
    .nin_min = 2,
    .nin_max = 4,
    .nout = 2,
    .shape = nms_shape,
    .grad = box_no_grad,
    .cpu = dlt_box_nms_cpu,
    .workspace = dlt_box_nms_ws,
};

/* ---------------------------------------------------------------- matcher */
static dlt_status match_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    dlt_status st = want_f32(&in[0], "match quality");
    if (st != DLT_OK)
        return st;
    if (in[0].ndim != 3 || in[0].dim[1] < 1)
        return dlt_seterr(DLT_ERR_SHAPE, "match quality must be [B, G, A] with G >= 1");
    if (DLT_CATTR(n, box_match_attr)->has_count &&
        (in[1].dtype != DLT_I32 || in[1].ndim != 1 || in[1].dim[0] != in[0].dim[0]))
        return dlt_seterr(DLT_ERR_SHAPE, "the ground-truth counts must be i32 [B]");
    int64_t d[2] = {in[0].dim[0], in[0].dim[2]};
    out[0] = dlt_shape_make(DLT_I32, 2, d);
    return DLT_OK;
}

const dlt_op_def dlt_op_def_box_match = {
    .id = DLT_OP_BOX_MATCH,
    .name = "box_match",
    .nin_min = 1,
    .nin_max = 2,
    .nout = 1,
    .shape = match_shape,
    .grad = box_no_grad,
    .cpu = dlt_box_match_cpu,
    .workspace = dlt_box_match_ws,
};

/* ---------------------------------------------------------------- sampler */
static dlt_status sample_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    (void)n;
    if (in[0].dtype != DLT_I32 || in[0].ndim != 2 || in[0].dim[1] > (INT64_C(1) << 24))
        return dlt_seterr(DLT_ERR_SHAPE, "labels must be i32 [B, A] with A <= 2^24");
    out[0] = dlt_shape_make(DLT_F32, 2, in[0].dim);
    out[1] = out[0];
    return DLT_OK;
}

const dlt_op_def dlt_op_def_box_sample = {
    .id = DLT_OP_BOX_SAMPLE,
    .name = "box_sample",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 2,
    .shape = sample_shape,
    .grad = box_no_grad,
    .cpu = dlt_box_sample_cpu,
    .workspace = dlt_box_sample_ws,
};

/* ---------------------------------------------------------------- builders */
static int coder_attr(dlt_graph *g, const char *op, const float w[4], float clip, box_coder_attr *a)
{
    if (dlt_graph_status(g) != DLT_OK)
        return 0;
    static const float ones[4] = {1.f, 1.f, 1.f, 1.f};
    if (!w)
        w = ones;
    for (int i = 0; i < 4; i++)
        if (!(w[i] > 0.f) || !isfinite(w[i])) {
            dlt_graph_fail(g, DLT_ERR_INVALID, "%s: weight %d is %g (must be finite and > 0)", op,
                           i, (double)w[i]);
            return 0;
        }
    *a = (box_coder_attr){.clip = clip};
    memcpy(a->w, w, sizeof a->w);
    return 1;
}

dlt_t dlt_box_iou(dlt_graph *g, dlt_t a, dlt_t b)
{
    dlt_t in[2] = {a, b};
    return dlt_node_add(g, &dlt_op_def_box_iou, 2, in, NULL, 0);
}

dlt_t dlt_box_encode(dlt_graph *g, dlt_t reference, dlt_t proposals, const float weights[4])
{
    box_coder_attr a;
    if (!coder_attr(g, "box_encode", weights, INFINITY, &a))
        return -1;
    dlt_t in[2] = {reference, proposals};
    return dlt_node_add(g, &dlt_op_def_box_encode, 2, in, &a, sizeof a);
}

dlt_t dlt_box_decode(dlt_graph *g, dlt_t deltas, dlt_t boxes, const float weights[4], float clip)
{
    box_coder_attr a;
    if (!coder_attr(g, "box_decode", weights, clip, &a))
        return -1;
    if (isnan(clip))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "box_decode: the clip of dw, dh is NaN");
    dlt_t in[2] = {deltas, boxes};
    return dlt_node_add(g, &dlt_op_def_box_decode, 2, in, &a, sizeof a);
}

dlt_t dlt_topk(dlt_graph *g, dlt_t x, int64_t k, dlt_t *indices)
{
    box_topk_attr a = {.k = k};
    dlt_t idx = dlt_node_add(g, &dlt_op_def_box_topk, 1, &x, &a, sizeof a);
    if (indices)
        *indices = idx;
    if (idx < 0)
        return -1;
    return dlt_gather(g, x, dlt_shape_of(g, x)->ndim - 1, idx);
}

dlt_t dlt_nms(dlt_graph *g, dlt_t boxes, dlt_t scores, dlt_t classes, dlt_t valid,
              float iou_threshold, int64_t k, dlt_t *keep_valid)
{
    if (keep_valid)
        *keep_valid = -1;
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (k < 1 || isnan(iou_threshold))
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "nms: K = %lld must be >= 1 and the IoU threshold (%g) a number",
                              (long long)k, (double)iou_threshold);
    box_nms_attr a = {
        .k = k, .thr = iou_threshold, .has_classes = classes >= 0, .has_valid = valid >= 0};
    dlt_t in[4] = {boxes, scores};
    int nin = 2;
    if (classes >= 0)
        in[nin++] = classes;
    if (valid >= 0)
        in[nin++] = valid;
    dlt_t keep = dlt_node_add(g, &dlt_op_def_box_nms, nin, in, &a, sizeof a);
    if (keep >= 0 && keep_valid)
        *keep_valid = dlt_node_output(g, keep, 1);
    return keep;
}

dlt_t dlt_box_match(dlt_graph *g, dlt_t quality, dlt_t gt_count, float high, float low,
                    int allow_low_quality)
{
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (!(low <= high))
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "box_match: the low threshold %g must be <= the high one %g",
                              (double)low, (double)high);
    box_match_attr a = {.high = high,
                        .low = low,
                        .allow_low_quality = allow_low_quality != 0,
                        .has_count = gt_count >= 0};
    dlt_t in[2] = {quality, gt_count};
    return dlt_node_add(g, &dlt_op_def_box_match, gt_count >= 0 ? 2 : 1, in, &a, sizeof a);
}

dlt_t dlt_box_sample(dlt_graph *g, dlt_t labels, int64_t batch_per_image, float positive_fraction,
                     int64_t first_sample, dlt_t *negatives)
{
    if (negatives)
        *negatives = -1;
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (batch_per_image < 0 || !(positive_fraction >= 0.f && positive_fraction <= 1.f) ||
        first_sample < 0)
        return dlt_graph_fail(
            g, DLT_ERR_INVALID,
            "box_sample: batch per image %lld, positive fraction %g, first sample "
            "%lld (need >= 0, [0, 1], >= 0)",
            (long long)batch_per_image, (double)positive_fraction, (long long)first_sample);
    box_sample_attr a = {
        .batch_per_image = batch_per_image,
        /* python's int(batch * fraction): the product in double, truncated */
        .num_pos = (int64_t)((double)batch_per_image * (double)positive_fraction),
        .first_sample = first_sample,
        .id = (uint64_t)dlt_graph_num_nodes(g) + 1,
        .gseed = dlt_graph_seed(g),
    };
    dlt_t pos = dlt_node_add(g, &dlt_op_def_box_sample, 1, &labels, &a, sizeof a);
    if (pos >= 0 && negatives)
        *negatives = dlt_node_output(g, pos, 1);
    return pos;
}

/* ---------------------------------------------------------------- anchors */
int64_t dlt_anchor_count(int nsizes, int nratios, int64_t grid_h, int64_t grid_w)
{
    return grid_h * grid_w * nratios * nsizes;
}

/* torchvision's AnchorGenerator for one level, in float32 as it computes
 * them: base anchors round(+-(ratio-scaled size) / 2) (half to even, as
 * torch.round), ratio-major, shifted by (x stride, y stride) for every cell
 * in row-major order; the strides are image size // grid size. */
dlt_status dlt_anchor_grid(int nsizes, const float *sizes, int nratios, const float *ratios,
                           int64_t grid_h, int64_t grid_w, int64_t image_h, int64_t image_w,
                           float *out)
{
    if (nsizes < 1 || nratios < 1 || !sizes || !ratios || grid_h < 1 || grid_w < 1 ||
        image_h < grid_h || image_w < grid_w || !out)
        return dlt_seterr(DLT_ERR_INVALID,
                          "anchors: %d sizes, %d ratios, grid %lldx%lld, image %lldx%lld (need "
                          ">= 1 of each and an image at least as large as the grid)",
                          nsizes, nratios, (long long)grid_h, (long long)grid_w, (long long)image_h,
                          (long long)image_w);
    for (int i = 0; i < nsizes; i++)
        if (!(sizes[i] > 0.f) || !isfinite(sizes[i]))
            return dlt_seterr(DLT_ERR_INVALID, "anchors: size %d is %g (must be > 0)", i,
                              (double)sizes[i]);
    for (int i = 0; i < nratios; i++)
        if (!(ratios[i] > 0.f) || !isfinite(ratios[i]))
            return dlt_seterr(DLT_ERR_INVALID, "anchors: aspect ratio %d is %g (must be > 0)", i,
                              (double)ratios[i]);
    int na = nsizes * nratios;
    float base[4 * 256];
    if (na > 256)
        return dlt_seterr(DLT_ERR_INVALID, "anchors: %d sizes x ratios (at most 256)", na);
    for (int r = 0; r < nratios; r++) {
        float hr = sqrtf(ratios[r]), wr = 1.f / hr;
        for (int s = 0; s < nsizes; s++) {
            float ws = wr * sizes[s], hs = hr * sizes[s], *b = base + 4 * (r * nsizes + s);
            b[0] = rintf(-ws / 2.f), b[1] = rintf(-hs / 2.f);
            b[2] = rintf(ws / 2.f), b[3] = rintf(hs / 2.f);
        }
    }
    int64_t sh = image_h / grid_h, sw = image_w / grid_w;
    for (int64_t y = 0; y < grid_h; y++)
        for (int64_t x = 0; x < grid_w; x++) {
            float fx = (float)(x * sw), fy = (float)(y * sh);
            float *o = out + ((y * grid_w + x) * na) * 4;
            for (int a = 0; a < na; a++) {
                o[4 * a + 0] = fx + base[4 * a + 0];
                o[4 * a + 1] = fy + base[4 * a + 1];
                o[4 * a + 2] = fx + base[4 * a + 2];
                o[4 * a + 3] = fy + base[4 * a + 3];
            }
        }
    return DLT_OK;
}

dlt_t dlt_anchors(dlt_graph *g, int nsizes, const float *sizes, int nratios, const float *ratios,
                  int64_t grid_h, int64_t grid_w, int64_t image_h, int64_t image_w)
{
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (grid_h < 1 || grid_w < 1 || nsizes < 1 || nratios < 1 ||
        grid_h * grid_w > (INT64_C(1) << 40) / ((int64_t)nsizes * nratios))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "anchors: grid %lldx%lld with %d x %d anchors",
                              (long long)grid_h, (long long)grid_w, nsizes, nratios);
    int64_t n = dlt_anchor_count(nsizes, nratios, grid_h, grid_w), d[2] = {n, 4};
    float *buf = malloc((size_t)n * 4 * sizeof *buf);
    if (!buf)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "anchors: no memory for %lld anchors",
                              (long long)n);
    dlt_status st =
        dlt_anchor_grid(nsizes, sizes, nratios, ratios, grid_h, grid_w, image_h, image_w, buf);
    dlt_t v = st == DLT_OK ? dlt_constant(g, DLT_F32, 2, d, buf)
                           : dlt_graph_fail(g, st, "%s", dlt_errmsg());
    free(buf);
    return v;
}
