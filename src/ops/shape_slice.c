/* Slicing and padding. slice (start/stop/step per axis) and the strided
 * constant pad are each other's adjoints: the gradient of a slice writes dy into
 * zeros at the sliced positions (a pad with step), and the gradient of a pad
 * slices its interior back out. Reflect padding has its own adjoint op, a
 * gather over each input element's (at most 3 per axis) mirror images, so it
 * needs no atomics and sums in a fixed order. */
#include <string.h>

#include "dlt_ops.h"
#include "ops_util.h"
#include "shape_impl.h"
#include "shape_util.h"

/* ---------------------------------------------------------------- slice */
dlt_status dlt_slice_norm(const slice_attr *a, const dlt_shape *s, int64_t *start, int64_t *len)
{
    for (int i = 0; i < s->ndim; i++) {
        int64_t n = s->dim[i], b = a->start[i], e = a->stop[i], st = a->step[i];
        if (st < 1)
            return dlt_seterr(DLT_ERR_SHAPE, "axis %d: step %lld must be >= 1", i, (long long)st);
        if (b < 0)
            b += n;
        if (e == DLT_SLICE_END)
            e = n;
        else if (e < 0)
            e += n;
        if (b < 0 || b >= e || e > n)
            return dlt_seterr(DLT_ERR_SHAPE, "axis %d: slice [%lld:%lld] is out of range for size %lld", i,
                              (long long)a->start[i],
                              (long long)(a->stop[i] == DLT_SLICE_END ? n : a->stop[i]), (long long)n);
        start[i] = b;
        len[i] = (e - b + st - 1) / st;
    }
    return DLT_OK;
}

static dlt_status slice_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    int64_t start[DLT_MAX_DIMS], len[DLT_MAX_DIMS];
    dlt_status st = dlt_slice_norm(DLT_CATTR(n, slice_attr), &in[0], start, len);
    if (st != DLT_OK)
        return st;
    out[0] = in[0];
    for (int i = 0; i < in[0].ndim; i++)
        out[0].dim[i] = len[i];
    return DLT_OK;
}

static dlt_status slice_cpu(const dlt_kctx *k)
{
    const slice_attr *a = DLT_CATTR(k->node, slice_attr);
    const dlt_shape *si = k->in_shape[0], *so = k->out_shape[0];
    int64_t sstr[DLT_MAX_DIMS], ostr[DLT_MAX_DIMS], off;
    dlt_status st = dlt_slice_geom(a, si, so, &off, sstr, ostr);
    if (st != DLT_OK)
        return st;
    size_t esz = dlt_dtype_size(si->dtype);
    dlt_strided_copy(esz, so->ndim, so->dim, (const char *)k->in[0] + (size_t)off * esz, sstr, k->out[0],
                     ostr, k->nthreads);
    return DLT_OK;
}

/* ---------------------------------------------------------------- strided pad */
static dlt_t spad(dlt_graph *g, dlt_t x, const spad_attr *a);

static dlt_status spad_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const spad_attr *a = DLT_CATTR(n, spad_attr);
    out[0] = in[0];
    for (int i = 0; i < in[0].ndim; i++) {
        if (a->start[i] < 0 || a->step[i] < 1 ||
            a->start[i] + (in[0].dim[i] - 1) * a->step[i] >= a->out[i])
            return dlt_seterr(DLT_ERR_SHAPE, "axis %d: padding does not fit", i);
        out[0].dim[i] = a->out[i];
    }
    if (a->value != 0 && (in[0].dtype == DLT_F16 || in[0].dtype == DLT_BF16))
        return dlt_seterr(DLT_ERR_DTYPE, "pad value must be 0 for %s", dlt_dtype_name(in[0].dtype));
    return DLT_OK;
}

static void fill_value(void *dst, dlt_dtype t, int64_t n, float v, int nthreads)
{
    if (v == 0) { /* in one block per thread: one thread's memset leaves half the bandwidth unused */
        size_t bytes = (size_t)n * dlt_dtype_size(t);
        int nb = bytes > ((size_t)1 << 18) && nthreads > 1 ? nthreads : 1;
#pragma omp parallel for schedule(static) num_threads(nb) if (nb > 1)
        for (int b = 0; b < nb; b++) {
            size_t lo = bytes * (size_t)b / (size_t)nb / 64 * 64, hi = bytes * (size_t)(b + 1) / (size_t)nb / 64 * 64;
            memset((char *)dst + lo, 0, (b == nb - 1 ? bytes : hi) - lo);
        }
        return;
    }
    switch (t) {
    case DLT_I32: {
        int32_t *d = dst, x = (int32_t)v;
        for (int64_t i = 0; i < n; i++)
            d[i] = x;
        break;
    }
    case DLT_I64: {
        int64_t *d = dst, x = (int64_t)v;
        for (int64_t i = 0; i < n; i++)
            d[i] = x;
        break;
    }
    case DLT_U8:
        memset(dst, (uint8_t)v, (size_t)n);
        break;
    default: {
        float *d = dst, x = (float)v;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (n > 32768)
        for (int64_t i = 0; i < n; i++)
            d[i] = x;
        break;
    }
    }
}

static dlt_status spad_cpu(const dlt_kctx *k)
{
    const spad_attr *a = DLT_CATTR(k->node, spad_attr);
    const dlt_shape *si = k->in_shape[0], *so = k->out_shape[0];
    int64_t istr[DLT_MAX_DIMS], dstr[DLT_MAX_DIMS], off;
    size_t esz = dlt_dtype_size(si->dtype);
    fill_value(k->out[0], so->dtype, dlt_shape_numel(so), a->value, k->nthreads);
    dlt_pad_geom(a, si, so, &off, istr, dstr);
    dlt_strided_copy(esz, si->ndim, si->dim, k->in[0], istr, (char *)k->out[0] + (size_t)off * esz, dstr,
                     k->nthreads);
    return DLT_OK;
}

static dlt_status spad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const spad_attr *a = DLT_CATTR(n, spad_attr);
    const dlt_shape *s = dlt_shape_of(g, n->in[0]);
    int64_t stop[DLT_MAX_DIMS], step[DLT_MAX_DIMS];
    for (int i = 0; i < s->ndim; i++) {
        step[i] = a->step[i];
        stop[i] = a->start[i] + (s->dim[i] - 1) * step[i] + 1;
    }
    dx[0] = dlt_slice(g, dy[0], a->start, stop, step);
    return DLT_OK;
}

static dlt_status slice_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const slice_attr *sa = DLT_CATTR(n, slice_attr);
    const dlt_shape *s = dlt_shape_of(g, n->in[0]);
    spad_attr a;
    int64_t len[DLT_MAX_DIMS];
    memset(&a, 0, sizeof a);
    dlt_slice_norm(sa, s, a.start, len);
    for (int i = 0; i < s->ndim; i++) {
        a.step[i] = len[i] > 1 ? (int32_t)sa->step[i] : 1; /* step < size when it matters */
        a.out[i] = s->dim[i];
    }
    dx[0] = spad(g, dy[0], &a);
    return DLT_OK;
}

static double zero_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return 0;
}

const dlt_op_def dlt_op_def_slice = {
    .id = DLT_OP_SLICE,
    .name = "slice",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = slice_shape,
    .grad = slice_grad,
    .cpu = slice_cpu,
    .flops = zero_flops,
};
const dlt_op_def dlt_op_def_pad = {
    .id = DLT_OP_PAD,
    .name = "pad",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = spad_shape,
    .grad = spad_grad,
    .cpu = spad_cpu,
    .flops = zero_flops,
};

static dlt_t spad(dlt_graph *g, dlt_t x, const spad_attr *a)
{
    return dlt_node_add(g, &dlt_op_def_pad, 1, &x, a, sizeof *a);
}

dlt_t dlt_slice(dlt_graph *g, dlt_t x, const int64_t *start, const int64_t *stop, const int64_t *step)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    slice_attr a;
    memset(&a, 0, sizeof a);
    int identity = 1;
    for (int i = 0; i < s->ndim; i++) {
        a.start[i] = start ? start[i] : 0;
        a.stop[i] = stop ? stop[i] : DLT_SLICE_END;
        a.step[i] = step ? step[i] : 1;
        identity &= a.start[i] == 0 && (a.stop[i] == DLT_SLICE_END || a.stop[i] == s->dim[i]) &&
                    (a.step[i] == 1 || s->dim[i] == 1);
    }
    if (identity)
        return x;
    return dlt_node_add(g, &dlt_op_def_slice, 1, &x, &a, sizeof a);
}

dlt_t dlt_slice_axis(dlt_graph *g, dlt_t x, int axis, int64_t start, int64_t stop, int64_t step)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    int ax = dlt_axis(axis, s->ndim);
    if (ax < 0)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "slice: axis %d out of range for '%s' of rank %d", axis,
                              dlt_name_of(g, x), s->ndim);
    int64_t b[DLT_MAX_DIMS], e[DLT_MAX_DIMS], st[DLT_MAX_DIMS];
    for (int i = 0; i < s->ndim; i++) {
        b[i] = i == ax ? start : 0;
        e[i] = i == ax ? stop : DLT_SLICE_END;
        st[i] = i == ax ? step : 1;
    }
    return dlt_slice(g, x, b, e, st);
}

/* ---------------------------------------------------------------- reflect pad */
static dlt_status rpad_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const rpad_attr *a = DLT_CATTR(n, rpad_attr);
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "input must be f32");
    out[0] = in[0];
    for (int i = 0; i < in[0].ndim; i++) {
        if (a->before[i] >= in[0].dim[i] || a->after[i] >= in[0].dim[i])
            return dlt_seterr(DLT_ERR_SHAPE, "axis %d: reflect padding (%lld, %lld) must be smaller than the size %lld",
                              i, (long long)a->before[i], (long long)a->after[i], (long long)in[0].dim[i]);
        out[0].dim[i] += a->before[i] + a->after[i];
    }
    return DLT_OK;
}

/* Gradient input shape: out = in minus the padding. */
static dlt_status rpad_grad_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const rpad_attr *a = DLT_CATTR(n, rpad_attr);
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "input must be f32");
    out[0] = in[0];
    for (int i = 0; i < in[0].ndim; i++)
        out[0].dim[i] -= a->before[i] + a->after[i];
    return DLT_OK;
}

static dlt_status rpad_cpu(const dlt_kctx *k)
{
    const rpad_attr *a = DLT_CATTR(k->node, rpad_attr);
    const dlt_shape *si = k->in_shape[0], *so = k->out_shape[0];
    const float *x = k->in[0];
    float *y = k->out[0];
    int nd = so->ndim;
    if (nd == 0) {
        y[0] = x[0];
        return DLT_OK;
    }
    int64_t istr[DLT_MAX_DIMS], cols = so->dim[nd - 1], rows = dlt_shape_numel(so) / cols;
    int64_t n = si->dim[nd - 1], b = a->before[nd - 1];
    dlt_dense_strides(si, istr);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; r++) {
        int64_t off = 0, rem = r;
        for (int i = nd - 2; i >= 0; i--) {
            off += dlt_reflect_index(rem % so->dim[i], a->before[i], si->dim[i]) * istr[i];
            rem /= so->dim[i];
        }
        float *py = y + r * cols;
        for (int64_t c = 0; c < cols; c++)
            py[c] = x[off + dlt_reflect_index(c, b, n)];
    }
    return DLT_OK;
}

/* dx[j] = sum of dy over every output position that reads j, in a fixed order. */
static dlt_status rpad_grad_cpu(const dlt_kctx *k)
{
    const rpad_attr *a = DLT_CATTR(k->node, rpad_attr);
    const dlt_shape *sy = k->in_shape[0], *sx = k->out_shape[0];
    const float *dy = k->in[0];
    float *dx = k->out[0];
    int nd = sx->ndim;
    if (nd == 0) {
        dx[0] = dy[0];
        return DLT_OK;
    }
    int64_t ystr[DLT_MAX_DIMS], cols = sx->dim[nd - 1], rows = dlt_shape_numel(sx) / cols;
    int64_t n = sx->dim[nd - 1], b = a->before[nd - 1], af = a->after[nd - 1];
    dlt_dense_strides(sy, ystr);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (rows * cols > 32768)
    for (int64_t r = 0; r < rows; r++) {
        /* mirror images of this row's outer index on every outer axis */
        int64_t pre[DLT_MAX_DIMS][3], cnt[DLT_MAX_DIMS], ctr[DLT_MAX_DIMS], rem = r;
        for (int i = nd - 2; i >= 0; i--) {
            cnt[i] = dlt_reflect_preimages(rem % sx->dim[i], sx->dim[i], a->before[i], a->after[i], pre[i]);
            ctr[i] = 0;
            rem /= sx->dim[i];
        }
        float *px = dx + r * cols;
        for (int64_t c = 0; c < cols; c++)
            px[c] = 0;
        for (;;) {
            int64_t off = 0;
            for (int i = 0; i < nd - 1; i++)
                off += pre[i][ctr[i]] * ystr[i];
            const float *py = dy + off;
            for (int64_t c = 0; c < cols; c++) {
                int64_t o[3];
                int m = dlt_reflect_preimages(c, n, b, af, o);
                float s = px[c];
                for (int q = 0; q < m; q++)
                    s += py[o[q]];
                px[c] = s;
            }
            int i = nd - 2;
            while (i >= 0 && ++ctr[i] == cnt[i])
                ctr[i--] = 0;
            if (i < 0)
                break;
        }
    }
    return DLT_OK;
}

static dlt_status rpad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static dlt_status rpad_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

const dlt_op_def dlt_op_def_pad_reflect = {
    .id = DLT_OP_PAD_REFLECT,
    .name = "pad_reflect",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = rpad_shape,
    .grad = rpad_grad,
    .cpu = rpad_cpu,
    .flops = zero_flops,
};
const dlt_op_def dlt_op_def_pad_reflect_grad = {
    .id = DLT_OP_PAD_REFLECT_GRAD,
    .name = "pad_reflect_grad",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = rpad_grad_shape,
    .grad = rpad_grad_grad,
    .cpu = rpad_grad_cpu,
};

static dlt_status rpad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = dlt_node_add(g, &dlt_op_def_pad_reflect_grad, 1, &dy[0], n->attr, sizeof(rpad_attr));
    return DLT_OK;
}

static dlt_status rpad_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = dlt_node_add(g, &dlt_op_def_pad_reflect, 1, &dy[0], n->attr, sizeof(rpad_attr));
    return DLT_OK;
}

dlt_t dlt_pad(dlt_graph *g, dlt_t x, const int64_t *before, const int64_t *after, dlt_pad_mode mode,
              float value)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    int any = 0;
    for (int i = 0; i < s->ndim; i++) {
        int64_t b = before ? before[i] : 0, e = after ? after[i] : 0;
        if (b < 0 || e < 0)
            return dlt_graph_fail(g, DLT_ERR_SHAPE, "pad: axis %d of '%s': padding (%lld, %lld) is negative",
                                  i, dlt_name_of(g, x), (long long)b, (long long)e);
        any |= b > 0 || e > 0;
    }
    if (!any)
        return x;
    if (mode == DLT_PAD_REFLECT) {
        rpad_attr a;
        memset(&a, 0, sizeof a);
        for (int i = 0; i < s->ndim; i++) {
            a.before[i] = before ? before[i] : 0;
            a.after[i] = after ? after[i] : 0;
        }
        return dlt_node_add(g, &dlt_op_def_pad_reflect, 1, &x, &a, sizeof a);
    }
    if (mode != DLT_PAD_CONSTANT)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "pad: unknown mode %d", (int)mode);
    spad_attr a;
    memset(&a, 0, sizeof a);
    a.value = value;
    for (int i = 0; i < s->ndim; i++) {
        a.start[i] = before ? before[i] : 0;
        a.step[i] = 1;
        a.out[i] = s->dim[i] + a.start[i] + (after ? after[i] : 0);
    }
    return spad(g, x, &a);
}
