/* Scaled dot-product attention as one op with a fused backward op (attention
 * family). The forward's second output is the log-sum-exp of every score
 * row, which is all the backward needs to rebuild the probabilities, so no
 * Tq x Tk tensor outlives a kernel. The dropout mask is a pure function of
 * (seed, node id, step, element), shared by the forward and backward nodes.
 * attention_grad has no gradient rule of its own: attention is
 * differentiable once (enough for training; WGAN-GP style second order
 * through attention is not supported and dlt_grad says so). */
#include <math.h>

#include "attention_impl.h"
#include "dlt_ops.h"

attn_geom dlt_attn_geometry(const attn_attr *a, const dlt_shape *q, const dlt_shape *k,
                            const dlt_shape *v)
{
    attn_geom gm;
    gm.bthd = a->layout != DLT_ATTN_BHTD;
    int th = gm.bthd ? 1 : 2, hh = gm.bthd ? 2 : 1;
    gm.B = q->dim[0];
    gm.H = q->dim[hh];
    gm.Tq = q->dim[th];
    gm.Tk = k->dim[th];
    gm.D = q->dim[3];
    gm.Dv = v->dim[3];
    gm.Hin = gm.H;
    gm.hk = gm.hv = 0;
    gm.packed = a->layout == DLT_ATTN_PACKED;
    if (gm.packed) {
        gm.H = gm.Hin / 3;
        gm.hk = gm.H;
        gm.hv = 2 * gm.H;
    }
    return gm;
}

int dlt_attn_mask_kind(const dlt_shape *m)
{
    if (m->dtype == DLT_F32)
        return ATTN_MASK_ADD;
    return m->ndim == 1 ? ATTN_MASK_LENGTHS : ATTN_MASK_KEEP;
}

size_t attn_slot_bytes(const attn_geom *gm, int backward)
{
    /* score blocks, then the head's K^T and V (the backward's K^T and V^T) */
    int64_t blk = attn_block_floats(gm);
    int64_t n = backward ? 2 * blk + (gm->D + gm->Dv) * gm->Tk : blk + (gm->D + gm->Dv) * gm->Tk;
    /* 64-byte multiples keep every thread's scores on their own cache lines */
    size_t b = (size_t)n * sizeof(float);
    return (b + 63) & ~(size_t)63;
}

static const char *layout_name(int layout)
{
    return layout == DLT_ATTN_PACKED ? "[B, T, 3H, D] (packed)"
                                     : layout == DLT_ATTN_BTHD ? "[B, T, H, D]" : "[B, H, T, D]";
}

/* q, k, v and the optional mask; outputs o (q's layout, last dim Dv) and lse [B, H, Tq]. */
static dlt_status check_qkv(const attn_attr *a, const dlt_shape *q, const dlt_shape *k,
                            const dlt_shape *v, const dlt_shape *m)
{
    if (q->dtype != DLT_F32 || k->dtype != DLT_F32 || v->dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "q, k and v must be f32");
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4)
        return dlt_seterr(DLT_ERR_SHAPE, "q, k and v must have rank 4 (%s)",
                          layout_name(a->layout));
    if (a->layout == DLT_ATTN_PACKED && (q->dim[2] % 3 != 0 || q->dim[2] == 0))
        return dlt_seterr(DLT_ERR_SHAPE, "packed q, k, v must be [B, T, 3H, D]: %lld heads is not 3H",
                          (long long)q->dim[2]);
    int th = a->layout == DLT_ATTN_BHTD ? 2 : 1, hh = 3 - th;
    if (k->dim[0] != q->dim[0] || v->dim[0] != q->dim[0])
        return dlt_seterr(DLT_ERR_SHAPE, "q, k and v must have the same batch size");
    if (k->dim[hh] != q->dim[hh] || v->dim[hh] != q->dim[hh])
        return dlt_seterr(DLT_ERR_SHAPE, "q, k and v must have the same number of heads");
    if (k->dim[3] != q->dim[3])
        return dlt_seterr(DLT_ERR_SHAPE, "q and k must have the same head size");
    if (v->dim[th] != k->dim[th])
        return dlt_seterr(DLT_ERR_SHAPE, "k and v must have the same sequence length");
    if (!m)
        return DLT_OK;
    if (m->dtype != DLT_I32 && m->dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE,
                          "mask must be i32 (lengths or keep flags) or f32 (additive)");
    int lengths = m->dtype == DLT_I32 && m->ndim == 1;
    if (lengths ? m->dim[0] != q->dim[0]
                : (m->ndim != 2 || m->dim[0] != q->dim[0] || m->dim[1] != k->dim[th]))
        return dlt_seterr(DLT_ERR_SHAPE,
                          "mask must be i32 [B] lengths or [B, Tk] (B %lld, Tk %lld)",
                          (long long)q->dim[0], (long long)k->dim[th]);
    return DLT_OK;
}

static dlt_status attn_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const attn_attr *a = DLT_CATTR(n, attn_attr);
    dlt_status st = check_qkv(a, &in[0], &in[1], &in[2], n->nin > 3 ? &in[3] : NULL);
    if (st != DLT_OK)
        return st;
    attn_geom gm = dlt_attn_geometry(a, &in[0], &in[1], &in[2]);
    out[0] = in[0];
    out[0].dim[3] = gm.Dv;
    out[0].dim[a->layout == DLT_ATTN_BHTD ? 1 : 2] = gm.H;
    int64_t ld[3] = {gm.B, gm.H, gm.Tq};
    out[1] = dlt_shape_make(DLT_F32, 3, ld);
    out[1].device = in[0].device;
    return DLT_OK;
}

static dlt_status attn_bwd_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const attn_attr *a = DLT_CATTR(n, attn_attr);
    int at = 5;
    const dlt_shape *dO = a->has_do ? &in[at++] : NULL;
    const dlt_shape *m = a->has_mask ? &in[at++] : NULL;
    const dlt_shape *dl = a->has_dlse ? &in[at++] : NULL;
    dlt_status st = check_qkv(a, &in[0], &in[1], &in[2], m);
    if (st != DLT_OK)
        return st;
    attn_geom gm = dlt_attn_geometry(a, &in[0], &in[1], &in[2]);
    int64_t ld[3] = {gm.B, gm.H, gm.Tq};
    dlt_shape os[2] = {in[0], dlt_shape_make(DLT_F32, 3, ld)};
    os[0].dim[3] = gm.Dv;
    os[0].dim[a->layout == DLT_ATTN_BHTD ? 1 : 2] = gm.H;
    if (!dlt_shape_equal(&in[3], &os[0]) || (dO && !dlt_shape_equal(dO, &os[0])))
        return dlt_seterr(DLT_ERR_SHAPE, "o and its gradient must have the output's shape");
    if (!dlt_shape_equal(&in[4], &os[1]) || (dl && !dlt_shape_equal(dl, &os[1])))
        return dlt_seterr(DLT_ERR_SHAPE, "lse and its gradient must be [B, H, Tq]");
    out[0] = in[0]; /* packed: the whole packed gradient (outputs 1, 2 unused) */
    out[1] = in[1];
    out[2] = in[2];
    return DLT_OK;
}

static double attn_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    attn_geom gm = dlt_attn_geometry(DLT_CATTR(n, attn_attr), in[0], in[1], in[2]);
    double f = 2.0 * (double)(gm.B * gm.H * gm.Tq * gm.Tk) * (double)(gm.D + gm.Dv);
    return DLT_CATTR(n, attn_attr)->causal ? f / 2 : f;
}

static double attn_bwd_flops(const dlt_node *n, const dlt_shape *const *in,
                             const dlt_shape *const *out)
{
    attn_geom gm = dlt_attn_geometry(DLT_CATTR(n, attn_attr), in[0], in[1], in[2]);
    double f = 2.0 * (double)(gm.B * gm.H * gm.Tq * gm.Tk) * (double)(3 * gm.D + 2 * gm.Dv);
    return DLT_CATTR(n, attn_attr)->causal ? f / 2 : f;
}

/* One slot of scratch per thread the plan may run with, no more than items. */
static size_t ws_for(const attn_geom *gm, int64_t items, int backward)
{
    int64_t t = dlt_get_num_threads();
    if (t > items)
        t = items;
    if (t < 1)
        t = 1;
    return (size_t)t * attn_slot_bytes(gm, backward);
}

static size_t attn_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    const attn_attr *a = DLT_CATTR(n, attn_attr);
    attn_geom gm = dlt_attn_geometry(a, in[0], in[1], in[2]);
    int64_t bq = attn_block_rows(a);
    return ws_for(&gm, gm.B * gm.H * ((gm.Tq + bq - 1) / bq), 0);
}

static size_t attn_bwd_ws(const dlt_node *n, const dlt_shape *const *in,
                          const dlt_shape *const *out)
{
    attn_geom gm = dlt_attn_geometry(DLT_CATTR(n, attn_attr), in[0], in[1], in[2]);
    return ws_for(&gm, gm.B * gm.H, 1);
}

static dlt_status attn_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

const dlt_op_def dlt_op_def_attention = {
    .id = DLT_OP_ATTENTION,
    .name = "attention",
    .nin_min = 3,
    .nin_max = 4,
    .nout = 2,
    .shape = attn_shape,
    .grad = attn_grad,
    .cpu = attn_fwd_cpu,
    .workspace = attn_ws,
    .flops = attn_flops,
};
const dlt_op_def dlt_op_def_attention_grad = {
    .id = DLT_OP_ATTENTION_GRAD,
    .name = "attention_grad",
    .nin_min = 5,
    .nin_max = 8,
    .nout = 3,
    .shape = attn_bwd_shape,
    .cpu = attn_bwd_cpu,
    .workspace = attn_bwd_ws,
    .flops = attn_bwd_flops,
    .flags = DLT_OP_OPT_OUTPUTS, /* packed: dk and dv are in output 0 */
};

static dlt_status attn_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    attn_attr a = *DLT_CATTR(n, attn_attr);
    dlt_t in[DLT_MAX_IN] = {n->in[0], n->in[1], n->in[2], n->out[0], n->out[1]};
    int nin = 5;
    a.has_do = dy[0] >= 0;
    a.has_mask = n->nin > 3;
    a.has_dlse = dy[1] >= 0;
    if (a.has_do)
        in[nin++] = dy[0];
    if (a.has_mask)
        in[nin++] = n->in[3];
    if (a.has_dlse)
        in[nin++] = dy[1];
    dlt_t dq = dlt_node_add(g, &dlt_op_def_attention_grad, nin, in, &a, sizeof a);
    if (dq < 0)
        return dlt_graph_status(g);
    for (int i = 0; i < (a.layout == DLT_ATTN_PACKED ? 1 : 3); i++)
        dx[i] = dlt_node_output(g, dq, i);
    return DLT_OK;
}

dlt_t dlt_attention(dlt_graph *g, dlt_t q, dlt_t k, dlt_t v, dlt_t mask,
                    const dlt_attention_opts *o, dlt_t *lse)
{
    dlt_attention_opts def = {0};
    if (!o)
        o = &def;
    if (lse)
        *lse = -1;
    if (!(o->dropout >= 0.f && o->dropout < 1.f))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "attention: dropout must be in [0, 1), got %g",
                              (double)o->dropout);
    if (!(o->scale >= 0.f) || isinf(o->scale))
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "attention: scale must be finite and >= 0 (0: 1/sqrt(D)), got %g",
                              (double)o->scale);
    if (o->layout != DLT_ATTN_BHTD && o->layout != DLT_ATTN_BTHD && o->layout != DLT_ATTN_PACKED)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "attention: unknown layout %d", (int)o->layout);
    if (o->layout == DLT_ATTN_PACKED) {
        if (k >= 0 || v >= 0)
            return dlt_graph_fail(g, DLT_ERR_INVALID, "attention: packed q, k, v come as q alone (k = v = -1)");
        k = v = q;
    }
    const dlt_shape *qs = dlt_shape_of(g, q);
    if (!qs || !dlt_shape_of(g, k) || !dlt_shape_of(g, v) || (mask >= 0 && !dlt_shape_of(g, mask)))
        return -1;
    attn_attr a = {0};
    a.scale =
        o->scale > 0.f ? o->scale : (qs->ndim == 4 ? (float)(1.0 / sqrt((double)qs->dim[3])) : 1.f);
    a.p = o->dropout;
    a.causal = o->causal != 0;
    a.layout = o->layout;
    a.id = (uint64_t)dlt_graph_num_nodes(g) + 1;
    dlt_t in[4] = {q, k, v, mask};
    dlt_t y = dlt_node_add(g, &dlt_op_def_attention, mask >= 0 ? 4 : 3, in, &a, sizeof a);
    if (y >= 0 && lse)
        *lse = dlt_node_output(g, y, 1);
    return y;
}
