/* Shape ops that move data between layouts: permute/transpose, concat, split.
 * Each is linear, so each gradient is another op of this file (permute by the
 * inverse permutation, concat <-> split) and second order comes for free. */
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "ops_util.h"
#include "shape_impl.h"
#include "shape_util.h"

/* ---------------------------------------------------------------- permute */
static dlt_status permute_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const permute_attr *a = DLT_CATTR(n, permute_attr);
    int seen[DLT_MAX_DIMS] = {0}, ok = a->nperm == in[0].ndim;
    for (int i = 0; ok && i < a->nperm; i++) {
        int p = a->perm[i];
        ok = p >= 0 && p < in[0].ndim && !seen[p];
        if (ok)
            seen[p] = 1;
    }
    if (!ok) {
        char buf[64];
        size_t k = 0;
        buf[0] = '\0';
        for (int i = 0; i < a->nperm && k < sizeof buf; i++)
            k += (size_t)snprintf(buf + k, sizeof buf - k, i ? ",%d" : "%d", a->perm[i]);
        return dlt_seterr(DLT_ERR_SHAPE, "axes (%s) are not a permutation of 0..%d", buf,
                          in[0].ndim - 1);
    }
    out[0] = in[0];
    for (int i = 0; i < a->nperm; i++)
        out[0].dim[i] = in[0].dim[a->perm[i]];
    return DLT_OK;
}

static dlt_status permute_cpu(const dlt_kctx *k)
{
    const permute_attr *a = DLT_CATTR(k->node, permute_attr);
    const dlt_shape *si = k->in_shape[0], *so = k->out_shape[0];
    int64_t sstr[DLT_MAX_DIMS], ostr[DLT_MAX_DIMS];
    dlt_permute_geom(a, si, so, sstr, ostr);
    dlt_strided_copy(dlt_dtype_size(si->dtype), so->ndim, so->dim, k->in[0], sstr, k->out[0], ostr,
                     k->nthreads);
    return DLT_OK;
}

static dlt_status permute_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const permute_attr *a = DLT_CATTR(n, permute_attr);
    int inv[DLT_MAX_DIMS];
    for (int i = 0; i < a->nperm; i++)
        inv[a->perm[i]] = i;
    dx[0] = dlt_permute(g, dy[0], a->nperm, inv);
    return DLT_OK;
}

const dlt_op_def dlt_op_def_permute = {
    .id = DLT_OP_PERMUTE,
    .name = "permute",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = permute_shape,
    .grad = permute_grad,
    .cpu = permute_cpu,
};

dlt_t dlt_permute(dlt_graph *g, dlt_t x, int naxes, const int *axes)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    permute_attr a;
    if (!s)
        return -1;
    if (naxes < 0 || naxes > DLT_MAX_DIMS || (naxes > 0 && !axes))
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "permute: %d axes for '%s' of rank %d", naxes,
                              dlt_name_of(g, x), s->ndim);
    memset(&a, 0, sizeof a);
    a.nperm = naxes;
    int identity = naxes == s->ndim;
    for (int i = 0; i < naxes; i++) {
        a.perm[i] = axes[i] < 0 && axes[i] >= -s->ndim ? axes[i] + s->ndim : axes[i];
        identity &= a.perm[i] == i;
    }
    if (identity)
        return x;
    return dlt_node_add(g, &dlt_op_def_permute, 1, &x, &a, sizeof a);
}

dlt_t dlt_transpose(dlt_graph *g, dlt_t x, int axis0, int axis1)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    int a0 = dlt_axis(axis0, s->ndim), a1 = dlt_axis(axis1, s->ndim), perm[DLT_MAX_DIMS];
    if (a0 < 0 || a1 < 0)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "transpose: axes %d, %d out of range for '%s' of rank %d",
                              axis0, axis1, dlt_name_of(g, x), s->ndim);
    for (int i = 0; i < s->ndim; i++)
        perm[i] = i;
    perm[a0] = a1;
    perm[a1] = a0;
    return dlt_permute(g, x, s->ndim, perm);
}

/* ---------------------------------------------------------------- concat / split */
static dlt_status concat_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    int ax = DLT_CATTR(n, cat_attr)->axis;
    out[0] = in[0];
    if (ax < 0 || ax >= in[0].ndim)
        return dlt_seterr(DLT_ERR_SHAPE, "axis %d out of range", ax);
    for (int i = 1; i < n->nin; i++) {
        int ok = in[i].ndim == in[0].ndim && in[i].dtype == in[0].dtype;
        for (int d = 0; ok && d < in[0].ndim; d++)
            ok = d == ax || in[i].dim[d] == in[0].dim[d];
        if (!ok)
            return dlt_seterr(DLT_ERR_SHAPE, "input %d does not match input 0 outside axis %d", i, ax);
        out[0].dim[ax] += in[i].dim[ax];
    }
    return DLT_OK;
}

/* Copies each part between its own tensor and its column block of the joined one. */
static void cat_move(const dlt_kctx *k, int joining)
{
    const cat_attr *a = DLT_CATTR(k->node, cat_attr);
    const dlt_shape *whole = joining ? k->out_shape[0] : k->in_shape[0];
    int nparts = joining ? k->node->nin : k->node->nout;
    size_t esz = dlt_dtype_size(whole->dtype);
    int64_t outer = dlt_dims_prod(whole, 0, a->axis), inner = dlt_dims_prod(whole, a->axis + 1, whole->ndim);
    int64_t row = whole->dim[a->axis] * inner, off = 0;
    for (int p = 0; p < nparts; p++) {
        const dlt_shape *ps = joining ? k->in_shape[p] : k->out_shape[p];
        int64_t w = ps->dim[a->axis] * inner, dims[2] = {outer, w}, pstr[2] = {w, 1}, wstr[2] = {row, 1};
        if (joining)
            dlt_strided_copy(esz, 2, dims, k->in[p], pstr, (char *)k->out[0] + (size_t)off * esz, wstr,
                             k->nthreads);
        else
            dlt_strided_copy(esz, 2, dims, (const char *)k->in[0] + (size_t)off * esz, wstr, k->out[p],
                             pstr, k->nthreads);
        off += w;
    }
}

static dlt_status concat_cpu(const dlt_kctx *k)
{
    cat_move(k, 1);
    return DLT_OK;
}

static dlt_status split_cpu(const dlt_kctx *k)
{
    cat_move(k, 0);
    return DLT_OK;
}

static dlt_status concat_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    int ax = DLT_CATTR(n, cat_attr)->axis;
    int64_t sizes[DLT_MAX_IN];
    for (int i = 0; i < n->nin; i++)
        sizes[i] = dlt_shape_of(g, n->in[i])->dim[ax];
    dlt_split(g, dy[0], ax, n->nin, sizes, dx);
    return DLT_OK;
}

static dlt_status split_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const cat_attr *a = DLT_CATTR(n, cat_attr);
    int64_t total = 0;
    if (a->axis < 0 || a->axis >= in[0].ndim)
        return dlt_seterr(DLT_ERR_SHAPE, "axis %d out of range", a->axis);
    for (int p = 0; p < n->nout; p++) {
        out[p] = in[0];
        out[p].dim[a->axis] = a->sizes[p];
        total += a->sizes[p];
    }
    if (total != in[0].dim[a->axis])
        return dlt_seterr(DLT_ERR_SHAPE, "part sizes add up to %lld, axis %d has %lld", (long long)total,
                          a->axis, (long long)in[0].dim[a->axis]);
    return DLT_OK;
}

/* Missing output gradients are zeros, so the concat keeps every part's place. */
static dlt_status split_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t parts[DLT_MAX_OUT];
    for (int p = 0; p < n->nout; p++) {
        parts[p] = dy[p];
        if (parts[p] >= 0)
            continue;
        const dlt_shape *s = dlt_shape_of(g, n->out[p]);
        float *z = calloc((size_t)dlt_shape_numel(s), sizeof *z);
        if (!z)
            return dlt_seterr(DLT_ERR_NOMEM, "split: out of memory");
        parts[p] = dlt_constant(g, DLT_F32, s->ndim, s->dim, z);
        free(z);
    }
    dx[0] = dlt_concat(g, n->nout, parts, DLT_CATTR(n, cat_attr)->axis);
    return DLT_OK;
}

const dlt_op_def dlt_op_def_concat = {
    .id = DLT_OP_CONCAT,
    .name = "concat",
    .nin_min = 2,
    .nin_max = DLT_MAX_IN,
    .nout = 1,
    .shape = concat_shape,
    .grad = concat_grad,
    .cpu = concat_cpu,
};
/* One op per output count, since an op's output count is fixed. */
const dlt_op_def dlt_op_def_split2 = {
    .id = DLT_OP_SPLIT2,
    .name = "split2",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 2,
    .shape = split_shape,
    .grad = split_grad,
    .cpu = split_cpu,
};
const dlt_op_def dlt_op_def_split3 = {
    .id = DLT_OP_SPLIT3,
    .name = "split3",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 3,
    .shape = split_shape,
    .grad = split_grad,
    .cpu = split_cpu,
};
const dlt_op_def dlt_op_def_split4 = {
    .id = DLT_OP_SPLIT4,
    .name = "split4",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 4,
    .shape = split_shape,
    .grad = split_grad,
    .cpu = split_cpu,
};

static int same_outside(const dlt_shape *a, const dlt_shape *b, int ax)
{
    if (a->ndim != b->ndim || a->dtype != b->dtype)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (d != ax && a->dim[d] != b->dim[d])
            return 0;
    return 1;
}

dlt_t dlt_concat(dlt_graph *g, int n, const dlt_t *xs, int axis)
{
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (n < 1 || !xs)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "concat: needs at least one input, got %d", n);
    for (int i = 0; i < n; i++)
        if (!dlt_shape_of(g, xs[i]))
            return dlt_graph_fail(g, DLT_ERR_INVALID, "concat: input %d is not a value of this graph", i);
    const dlt_shape *s0 = dlt_shape_of(g, xs[0]);
    int ax = dlt_axis(axis, s0->ndim);
    if (ax < 0)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "concat: axis %d out of range for '%s' of rank %d", axis,
                              dlt_name_of(g, xs[0]), s0->ndim);
    /* checked here, not in the shape rule, so the message names the caller's input
     * even when the inputs are spread over a chain of nodes */
    for (int i = 1; i < n; i++) {
        const dlt_shape *si = dlt_shape_of(g, xs[i]);
        if (!same_outside(s0, si, ax)) {
            char a[128], b[128];
            return dlt_graph_fail(g, DLT_ERR_SHAPE,
                                  "concat: input %d '%s' %s does not match input 0 '%s' %s outside axis %d",
                                  i, dlt_name_of(g, xs[i]), dlt_shape_str(si, a, sizeof a),
                                  dlt_name_of(g, xs[0]), dlt_shape_str(s0, b, sizeof b), ax);
        }
    }
    if (n == 1)
        return xs[0];
    cat_attr a;
    memset(&a, 0, sizeof a);
    a.axis = ax;
    int m = n < DLT_MAX_IN ? n : DLT_MAX_IN;
    dlt_t acc = dlt_node_add(g, &dlt_op_def_concat, m, xs, &a, sizeof a);
    /* more than DLT_MAX_IN inputs: chain, each node taking the previous result first */
    for (int i = m; i < n && acc >= 0;) {
        dlt_t chunk[DLT_MAX_IN];
        int c = 0;
        chunk[c++] = acc;
        while (i < n && c < DLT_MAX_IN)
            chunk[c++] = xs[i++];
        acc = dlt_node_add(g, &dlt_op_def_concat, c, chunk, &a, sizeof a);
    }
    return acc;
}

dlt_t dlt_split(dlt_graph *g, dlt_t x, int axis, int nparts, const int64_t *sizes, dlt_t *out)
{
    for (int p = 0; out && p < nparts; p++)
        out[p] = -1;
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s || dlt_graph_status(g) != DLT_OK)
        return -1;
    if (!out || nparts < 1)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "split: needs at least one part, got %d", nparts);
    int ax = dlt_axis(axis, s->ndim);
    if (ax < 0)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "split: axis %d out of range for '%s' of rank %d", axis,
                              dlt_name_of(g, x), s->ndim);
    int64_t n = s->dim[ax], total = 0;
    if (!sizes && n % nparts)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "split: axis %d of '%s' (size %lld) is not divisible by %d",
                              ax, dlt_name_of(g, x), (long long)n, nparts);
    for (int p = 0; p < nparts; p++) {
        int64_t sz = sizes ? sizes[p] : n / nparts;
        if (sz <= 0)
            return dlt_graph_fail(g, DLT_ERR_SHAPE, "split: part %d has size %lld (must be > 0)", p,
                                  (long long)sz);
        total += sz;
    }
    if (total != n)
        return dlt_graph_fail(g, DLT_ERR_SHAPE,
                              "split: part sizes add up to %lld, axis %d of '%s' has %lld", (long long)total,
                              ax, dlt_name_of(g, x), (long long)n);
    if (nparts == 1) {
        out[0] = x;
        return x;
    }
    /* at most DLT_MAX_OUT outputs per node: the last output of a full node is the
     * remainder, split again */
    static const dlt_op_def *const ops[] = {NULL, NULL, &dlt_op_def_split2, &dlt_op_def_split3, &dlt_op_def_split4};
    dlt_t rest = x;
    for (int p = 0; p < nparts;) {
        int left = nparts - p, k = left <= DLT_MAX_OUT ? left : DLT_MAX_OUT;
        cat_attr a;
        memset(&a, 0, sizeof a);
        a.axis = ax;
        a.nparts = k;
        int64_t rem = 0;
        for (int j = 0; j < k; j++)
            a.sizes[j] = sizes ? sizes[p + j] : n / nparts;
        if (k < left) {
            for (int j = p + k - 1; j < nparts; j++)
                rem += sizes ? sizes[j] : n / nparts;
            a.sizes[k - 1] = rem;
        }
        dlt_t first = dlt_node_add(g, ops[k], 1, &rest, &a, sizeof a);
        if (first < 0)
            return -1;
        int keep = k < left ? k - 1 : k;
        for (int j = 0; j < keep; j++)
            out[p + j] = dlt_node_output(g, first, j);
        p += keep;
        if (k < left)
            rest = dlt_node_output(g, first, k - 1);
    }
    return out[0];
}
