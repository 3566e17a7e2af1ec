/* Sum reductions over axes, their inverse broadcast, and the pair that gradient
 * rules use to undo broadcasting (sum_to / broadcast_to). */
#include <string.h>

#include "dlt_ops.h"
#include "ops_util.h"
#include "reduce_impl.h"
#include "vmath.h"

static dlt_status reduce_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const reduce_attr *a = DLT_CATTR(n, reduce_attr);
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "input must be f32");
    *out = in[0];
    out->ndim = 0;
    for (int i = 0; i < in[0].ndim; i++) {
        if (!a->reduce[i])
            out->dim[out->ndim++] = in[0].dim[i];
        else if (a->keepdim)
            out->dim[out->ndim++] = 1;
    }
    return DLT_OK;
}

/* offset of index i of a mixed-radix nest of n axes */
static inline int64_t nest_off(int n, const int64_t *dim, const int64_t *str, int64_t i)
{
    int64_t off = 0;
    for (int j = n - 1; j >= 0 && i; j--) {
        off += (i % dim[j]) * str[j];
        i /= dim[j];
    }
    return off;
}

/* sum of x[0..n) in double: the baseline vector path's (vmath.h), the same
 * code and bits on every machine */
static double sum_run(const float *x, int64_t n)
{
    return dlt_vmath_base.norm.sum(x, n);
}

#define RED_BLOCKS 1024 /* partial sums of a full reduction */
#define RED_COLS 512    /* output columns accumulated together */
#define RED_ROWS 256    /* reduced rows per partial sum of a narrow column sum */

/* Row blocks of a reduction whose innermost axis is kept ("column sums",
 * e.g. a bias gradient: [2048, 1024] summed over its rows): when it has few
 * column tasks (at most 8 of RED_COLS outputs), its reduced rows are cut in
 * blocks of RED_ROWS, summed apart into the workspace and combined in order,
 * so that it runs on every thread (a [2048, 256] bias gradient had one task).
 * 1 otherwise. Depends on the shape only: so does the summation order. */
static int64_t col_row_blocks(const dlt_red_nest *q)
{
    if (q->inner_reduced || q->nk == 0 || q->nred < 2 * RED_ROWS)
        return 1;
    int64_t K = q->kdim[q->nk - 1], tasks = q->nout / K * ((K + RED_COLS - 1) / RED_COLS);
    return tasks <= 8 ? (q->nred + RED_ROWS - 1) / RED_ROWS : 1;
}

static size_t reduce_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    (void)out;
    dlt_red_nest q;
    dlt_red_nest_init(&q, in[0], DLT_CATTR(n, reduce_attr)->reduce);
    int64_t nb = col_row_blocks(&q);
    return nb > 1 ? (size_t)(nb * q.nout) * sizeof(double) : 0;
}

/* Column sums of reduced rows [r0, r1) of outputs [c0, c0 + n) of kept row
 * `row` (K outputs per kept row) into acc[0..n) */
static void col_sum(const dlt_red_nest *q, const float *x, int64_t row, int64_t c0, int64_t n,
                    int64_t r0, int64_t r1, double *acc)
{
    const float *base = x + nest_off(q->nk - 1, q->kdim, q->kstr, row) + c0;
    const dlt_vmath_ops *v = dlt_vmath_vec(); /* per column: any path's bits */
    for (int64_t j = 0; j < n; j++)
        acc[j] = 0;
    for (int64_t r = r0; r < r1; r++)
        v->col_add(base + nest_off(q->nr, q->rdim, q->rstr, r), acc, n);
}

/* Sums in double. Every output's summation order depends only on the shape
 * (fixed blocks, combined in order), not on the thread count. */
static dlt_status reduce_cpu(const dlt_kctx *k)
{
    const reduce_attr *a = DLT_CATTR(k->node, reduce_attr);
    const float *x = k->in[0];
    float *y = k->out[0];
    double scale = a->scale;
    dlt_red_nest q;
    dlt_red_nest_init(&q, k->in_shape[0], a->reduce);
    int64_t total = q.nout * q.nred;
    int par = total > DLT_EW_PAR_MIN;
    if (q.nred == 0 || q.nout == 0) {
        for (int64_t o = 0; o < q.nout; o++)
            y[o] = 0.f;
        return DLT_OK;
    }
    if (q.nout == 1 && q.nr <= 1) { /* everything: fixed blocks, then their sum in order */
        double part[RED_BLOCKS];
        int64_t bs = (q.nred + RED_BLOCKS - 1) / RED_BLOCKS;
        bs = bs < 4096 ? 4096 : bs;
        int64_t nb = (q.nred + bs - 1) / bs;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (par)
        for (int64_t b = 0; b < nb; b++) {
            int64_t lo = b * bs, n = q.nred - lo < bs ? q.nred - lo : bs;
            part[b] = sum_run(x + lo, n);
        }
        double s = 0;
        for (int64_t b = 0; b < nb; b++)
            s += part[b];
        y[0] = (float)(s * scale);
        return DLT_OK;
    }
    if (q.inner_reduced) { /* each output: runs of L contiguous values */
        int64_t L = q.rdim[q.nr - 1], outer = q.nred / L;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (par)
        for (int64_t o = 0; o < q.nout; o++) {
            const float *base = x + nest_off(q.nk, q.kdim, q.kstr, o);
            double acc = 0;
            for (int64_t r = 0; r < outer; r++)
                acc += sum_run(base + nest_off(q.nr - 1, q.rdim, q.rstr, r), L);
            y[o] = (float)(acc * scale);
        }
        return DLT_OK;
    }
    /* innermost axis kept: rows of K outputs accumulate contiguous vectors */
    int64_t K = q.kdim[q.nk - 1], nrow = q.nout / K, per = (K + RED_COLS - 1) / RED_COLS;
    int64_t nb = col_row_blocks(&q);
    if (nb > 1) { /* partial sums of row blocks, then their sum in block order */
        double *part = k->work;
#pragma omp parallel for schedule(static) num_threads(k->nthreads)
        for (int64_t t = 0; t < nb * nrow * per; t++) {
            int64_t b = t / (nrow * per), u = t % (nrow * per);
            int64_t row = u / per, c0 = (u % per) * RED_COLS,
                    n = K - c0 < RED_COLS ? K - c0 : RED_COLS;
            int64_t r1 = (b + 1) * RED_ROWS < q.nred ? (b + 1) * RED_ROWS : q.nred;
            col_sum(&q, x, row, c0, n, b * RED_ROWS, r1, part + b * q.nout + row * K + c0);
        }
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (par)
        for (int64_t o = 0; o < q.nout; o++) {
            double s = 0;
            for (int64_t b = 0; b < nb; b++)
                s += part[b * q.nout + o];
            y[o] = (float)(s * scale);
        }
        return DLT_OK;
    }
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (par)
    for (int64_t t = 0; t < nrow * per; t++) {
        double acc[RED_COLS];
        int64_t row = t / per, c0 = (t % per) * RED_COLS, n = K - c0 < RED_COLS ? K - c0 : RED_COLS;
        col_sum(&q, x, row, c0, n, 0, q.nred, acc);
        float *py = y + row * K + c0;
        for (int64_t j = 0; j < n; j++)
            py[j] = (float)(acc[j] * scale);
    }
    return DLT_OK;
}

static dlt_status reduce_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const reduce_attr *a = DLT_CATTR(n, reduce_attr);
    const dlt_shape *s = dlt_shape_of(g, n->in[0]);
    int64_t kd[DLT_MAX_DIMS];
    for (int i = 0; i < s->ndim; i++)
        kd[i] = a->reduce[i] ? 1 : s->dim[i];
    dlt_t d = dlt_reshape(g, dy[0], s->ndim, kd);
    if (a->scale != 1.f)
        d = dlt_affine(g, d, a->scale, 0.f);
    dx[0] = dlt_broadcast_to(g, d, s);
    return DLT_OK;
}

static double reduce_flops(const dlt_node *n, const dlt_shape *const *in,
                           const dlt_shape *const *out)
{
    return (double)dlt_shape_numel(in[0]);
}

const dlt_op_def dlt_op_def_sum = {
    .id = DLT_OP_SUM,
    .name = "sum",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = reduce_shape,
    .grad = reduce_grad,
    .cpu = reduce_cpu,
    .flops = reduce_flops,
    .workspace = reduce_ws,
};

static dlt_t reduce(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim, int mean)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    reduce_attr a;
    if (!s)
        return -1;
    memset(&a, 0, sizeof a);
    a.keepdim = keepdim;
    int64_t count = 1;
    for (int i = 0; i < naxes; i++) {
        int ax = dlt_axis(axes[i], s->ndim);
        if (ax < 0)
            return dlt_graph_fail(g, DLT_ERR_SHAPE, "sum: axis %d out of range for '%s' of rank %d",
                                  axes[i], dlt_name_of(g, x), s->ndim);
        a.reduce[ax] = 1;
    }
    for (int i = 0; i < s->ndim; i++) {
        if (naxes == 0)
            a.reduce[i] = 1;
        if (a.reduce[i])
            count *= s->dim[i];
    }
    a.scale = mean ? 1.0f / (float)count : 1.0f;
    return dlt_node_add(g, &dlt_op_def_sum, 1, &x, &a, sizeof a);
}

dlt_t dlt_sum(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim)
{
    return reduce(g, x, naxes, axes, keepdim, 0);
}

dlt_t dlt_mean(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim)
{
    return reduce(g, x, naxes, axes, keepdim, 1);
}

dlt_t dlt_sum_to(dlt_graph *g, dlt_t x, const dlt_shape *shape)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    if (dlt_shape_equal(s, shape))
        return x;
    int axes[DLT_MAX_DIMS], na = 0, lead = s->ndim - shape->ndim;
    if (lead < 0)
        return dlt_graph_fail(g, DLT_ERR_SHAPE, "sum_to: '%s' has lower rank than the target",
                              dlt_name_of(g, x));
    for (int i = 0; i < s->ndim; i++)
        if (i < lead || (shape->dim[i - lead] == 1 && s->dim[i] != 1))
            axes[na++] = i;
    dlt_t r = na ? dlt_sum(g, x, na, axes, 1) : x;
    return dlt_reshape(g, r, shape->ndim, shape->dim);
}

/* ---------------------------------------------------------------- broadcast_to */
static dlt_status bto_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    const dlt_shape *t = DLT_CATTR(n, dlt_shape);
    dlt_shape b;
    dlt_status st = dlt_broadcast_shape(&in[0], t, &b);
    if (st != DLT_OK || !dlt_shape_equal(&b, t) || in[0].ndim > t->ndim)
        return dlt_seterr(DLT_ERR_SHAPE, "input cannot be broadcast to the target shape");
    out[0] = *t;
    return DLT_OK;
}

static dlt_status bto_cpu(const dlt_kctx *k)
{
    const float *x = k->in[0];
    float *y = k->out[0];
    dlt_bcast_iter it;
    dlt_bcast_init(&it, k->in_shape[0], k->in_shape[0], k->out_shape[0]);
    int64_t sa = dlt_bcast_sa(&it);
    dlt_ew_split sp = dlt_ew_split_make(it.rows, it.cols, k->nthreads);
#pragma omp parallel for schedule(static)                                                          \
    num_threads(k->nthreads) if (it.rows * it.cols > DLT_EW_PAR_MIN)
    for (int64_t t = 0; t < sp.ntasks; t++) {
        int64_t r, c0, n, oa, ob;
        dlt_ew_task(&sp, t, &r, &c0, &n);
        dlt_bcast_row(&it, r, &oa, &ob);
        const float *px = x + oa + c0 * sa;
        float *py = y + r * it.cols + c0;
        if (sa) {
#pragma omp simd
            for (int64_t c = 0; c < n; c++)
                py[c] = px[c];
        } else {
            float v = px[0];
#pragma omp simd
            for (int64_t c = 0; c < n; c++)
                py[c] = v;
        }
    }
    return DLT_OK;
}

static dlt_status bto_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dx[0] = dlt_sum_to(g, dy[0], dlt_shape_of(g, n->in[0]));
    return DLT_OK;
}

const dlt_op_def dlt_op_def_broadcast_to = {
    .id = DLT_OP_BROADCAST_TO,
    .name = "broadcast_to",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = bto_shape,
    .grad = bto_grad,
    .cpu = bto_cpu,
};

dlt_t dlt_broadcast_to(dlt_graph *g, dlt_t x, const dlt_shape *shape)
{
    const dlt_shape *s = dlt_shape_of(g, x);
    if (!s)
        return -1;
    if (dlt_shape_equal(s, shape))
        return x;
    dlt_shape t = *shape;
    t.dtype = s->dtype;
    return dlt_node_add(g, &dlt_op_def_broadcast_to, 1, &x, &t, sizeof t);
}
