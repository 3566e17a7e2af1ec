/* The oneDNN convolution provider: forward, backward-data (conv_transpose2d)
 * and backward-weights (conv2d_weight_grad) as oneDNN 2.x primitives through
 * its C API, created once per plan node (the op's `prepare`, conv.c).
 *
 * Our tensors are plain NCHW / OIHW. Two ways to hand them to oneDNN, chosen
 * per shape (blocked_layout; DLT_CONV_LAYOUT=plain|blocked forces one; measured
 * in bench/conv_bench, see docs/architecture.md):
 *   plain    the primitive is made for plain memory descriptors and reads and
 *            writes the tensors where they are (1x1 convolutions with at least
 *            14 x 14 output pixels);
 *   blocked  the primitive picks its layout (format_tag any, in practice
 *            nChw16c / OIhw16i16o on AVX-512) and reorders run around it, into
 *            and out of buffers in the op's workspace (every other shape).
 * A weight gradient on several threads may instead run as one one-thread
 * primitive per slice of images (split_of, below).
 * The scratchpad is in the workspace too (user scratchpad mode): the plan's
 * arena holds both for the step only, and nothing is allocated per call. oneDNN is built with OpenMP (Debian): it uses the
 * caller's OpenMP thread count, set to the kernel's for the call. */
#include "config.h"
#include "conv_impl.h"
#include "dlt_ops.h"

#ifndef DLT_HAVE_DNNL

int conv_dnnl_built(void) { return 0; }
int dlt_conv_dnnl_live(void) { return 0; }
long long dlt_conv_dnnl_split_images(void) { return 0; }
int conv_dnnl_supports(const conv_geom *q)
{
    (void)q;
    return 0;
}
int conv_dnnl_pads_image(const conv_geom *q, int kind)
{
    (void)q, (void)kind;
    return 0;
}
dlt_status conv_dnnl_create(const conv_geom *q, int kind, int has_bias, int nthreads, conv_dnnl **out)
{
    (void)q, (void)kind, (void)has_bias, (void)nthreads;
    *out = NULL;
    return dlt_seterr(DLT_ERR_UNSUPPORTED, "oneDNN convolutions: not built (configure found no libdnnl-dev)");
}
size_t conv_dnnl_ws(const conv_geom *q, int kind, int has_bias, int nthreads)
{
    (void)q, (void)kind, (void)has_bias, (void)nthreads;
    return 0;
}
dlt_status conv_dnnl_run(conv_dnnl *d, const float *a, const float *b, const float *bias, float *out,
                         void *work, size_t work_bytes, int nthreads)
{
    (void)d, (void)a, (void)b, (void)bias, (void)out, (void)work, (void)work_bytes, (void)nthreads;
    return dlt_seterr(DLT_ERR_UNSUPPORTED, "oneDNN convolutions: not built");
}
void conv_dnnl_free(conv_dnnl *d) { (void)d; }

#else

#include <dnnl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { PORTS = 4 };

/* One argument of the primitive: the caller's plain memory (its handle set per
 * call) and, when the primitive wants another layout, its own memory and the
 * reorder between them (into it for inputs, out of it for the output). */
typedef struct {
    int arg, is_out;
    dnnl_memory_t user, prim; /* prim == user: no reorder */
    dnnl_primitive_t reorder;
} port;

struct conv_dnnl {
    conv_geom q;
    int kind, has_bias, nports;
    /* a weight gradient split by images (split > 1): parts[t] is a one-thread
     * primitive for images [t n / split, (t + 1) n / split); the other members
     * but q, kind and work_need are unused (split_filter) */
    int split;
    conv_dnnl **parts;
    size_t part_ws, wbytes;
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    dnnl_primitive_t prim;
    dnnl_memory_t scratch;
    port p[PORTS];
    /* workspace layout: the blocked copies (off[i], ports with a reorder) and
     * the scratchpad, each 64-byte aligned */
    size_t off[PORTS], scratch_off, work_need;
};

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

static void free_state(conv_dnnl *d);
static dlt_status create_one(const conv_geom *q, int kind, int has_bias, int nthreads, conv_dnnl **out);

static _Atomic int live; /* states made and not yet freed (dlt_conv_dnnl_live) */
static _Atomic long long split_images; /* images run through split weight gradients */

int dlt_conv_dnnl_live(void) { return live; }
long long dlt_conv_dnnl_split_images(void) { return split_images; }

int conv_dnnl_built(void) { return 1; }

static dlt_status dnnl_err(dnnl_status_t s, const char *what)
{
    return dlt_seterr(DLT_ERR_UNSUPPORTED, "oneDNN convolution: %s failed (dnnl status %d)", what, (int)s);
}

/* The plain descriptors of x, y and w (groups: goihw), and the bias. */
static void plain_mds(const conv_geom *q, dnnl_format_tag_t act, dnnl_format_tag_t wt, dnnl_memory_desc_t *x,
                      dnnl_memory_desc_t *y, dnnl_memory_desc_t *w, dnnl_memory_desc_t *b, int kind)
{
    dnnl_dims_t xd = {q->n, q->c, q->h, q->w}, yd = {q->n, q->oc, q->oh, q->ow};
    dnnl_dims_t wd = {q->groups, q->oc / q->groups, q->c / q->groups, q->kh, q->kw};
    dnnl_dims_t w4 = {q->oc, q->c / q->groups, q->kh, q->kw};
    dnnl_dims_t bd = {kind == CONV_DATA ? q->c : q->oc};
    dnnl_memory_desc_init_by_tag(x, 4, xd, dnnl_f32, act);
    dnnl_memory_desc_init_by_tag(y, 4, yd, dnnl_f32, act);
    if (q->groups > 1)
        dnnl_memory_desc_init_by_tag(w, 5, wd, dnnl_f32, wt == dnnl_format_tag_any ? wt : dnnl_goihw);
    else
        dnnl_memory_desc_init_by_tag(w, 4, w4, dnnl_f32, wt == dnnl_format_tag_any ? wt : dnnl_oihw);
    dnnl_memory_desc_init_by_tag(b, 1, bd, dnnl_f32, dnnl_a);
}

/* Strides, dilations (oneDNN counts d - 1) and left/right padding; the right
 * padding is what makes oneDNN's output size ours (negative when the last
 * stride steps over input pixels, as PyTorch's floor mode allows). */
static void geom_dims(const conv_geom *q, dnnl_dims_t st, dnnl_dims_t dl, dnnl_dims_t pl, dnnl_dims_t pr)
{
    st[0] = q->sh, st[1] = q->sw;
    dl[0] = q->dh - 1, dl[1] = q->dw - 1;
    pl[0] = q->ph, pl[1] = q->pw;
    pr[0] = (q->oh - 1) * q->sh + (int64_t)(q->kh - 1) * q->dh + 1 - q->h - q->ph;
    pr[1] = (q->ow - 1) * q->sw + (int64_t)(q->kw - 1) * q->dw + 1 - q->w - q->pw;
}

/* The layout of a shape (DLT_CONV_LAYOUT unset or auto): plain for 1x1
 * convolutions whose output has at least 14 x 14 pixels, blocked for every
 * other. bench/conv_bench on an idle AVX-512 VM, 2 threads
 * (bench/results/conv-2026-12-07-idle.txt), forward and both gradients
 * together: plain ran ResNet-50's 1x1 layers at 56 to 14 pixels at 1.1-1.5x
 * blocked's speed (64->64 at 56: 248 against 162 GFLOP/s); blocked won the 1x1
 * layer at 7 pixels (222 against 175), every 3x3 layer of ResNet-20 and
 * ResNet-50 (1.2-9x), and the 7x7 stem's forward and weight gradient, the two
 * passes a stem runs (226 and 174 against 89 and 113). */
static int blocked_layout(const conv_geom *q)
{
    const char *e = getenv("DLT_CONV_LAYOUT");
    if (e && strcmp(e, "plain") == 0)
        return 0;
    if (e && strcmp(e, "blocked") == 0)
        return 1;
    return !(q->kh == 1 && q->kw == 1 && q->oh * q->ow >= 14 * 14);
}

/* The primitive descriptor of one kind (with its forward hint for the
 * backward kinds), plain or `any` layouts, user scratchpad. */
static dnnl_status_t make_pd(dnnl_engine_t eng, const conv_geom *q, int kind, int has_bias, int blocked,
                             dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t x, y, w, b;
    dnnl_dims_t st, dl, pl, pr;
    dnnl_convolution_desc_t fd, bd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t hint = NULL;
    dnnl_format_tag_t act = blocked ? dnnl_format_tag_any : dnnl_nchw;
    dnnl_status_t s;
    *pd = NULL;
    plain_mds(q, act, act, &x, &y, &w, &b, kind);
    geom_dims(q, st, dl, pl, pr);
    int fbias = kind == CONV_FWD && has_bias;
    if ((s = dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &x,
                                                        &w, fbias ? &b : NULL, &y, st, dl, pl, pr)) ||
        (s = dnnl_primitive_attr_create(&attr)) ||
        (s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)))
        goto out;
    if (kind == CONV_FWD) {
        s = dnnl_primitive_desc_create(pd, &fd, attr, eng, NULL);
        goto out;
    }
    if ((s = dnnl_primitive_desc_create(&hint, &fd, NULL, eng, NULL)))
        goto out;
    if (kind == CONV_DATA)
        s = dnnl_dilated_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &x, &w, &y, st, dl,
                                                             pl, pr);
    else
        s = dnnl_dilated_convolution_backward_weights_desc_init(&bd, dnnl_convolution_direct, &x, &w, NULL, &y,
                                                                st, dl, pl, pr);
    if (!s)
        s = dnnl_primitive_desc_create(pd, &bd, attr, eng, hint);
out:
    if (hint)
        dnnl_primitive_desc_destroy(hint);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return s;
}

int conv_dnnl_supports(const conv_geom *q)
{
    dnnl_engine_t eng;
    dnnl_primitive_desc_t pd = NULL;
    if (q->n < 1 || q->oh < 1 || q->ow < 1 || dnnl_engine_create(&eng, dnnl_cpu, 0))
        return 0;
    int ok = 1;
    for (int kind = CONV_FWD; ok && kind <= CONV_FILTER; kind++) {
        ok = make_pd(eng, q, kind, 0, blocked_layout(q), &pd) == dnnl_success;
        if (pd)
            dnnl_primitive_desc_destroy(pd);
    }
    dnnl_engine_destroy(eng);
    return ok;
}

static const dnnl_memory_desc_t *query_md(dnnl_primitive_desc_t pd, int arg)
{
    dnnl_query_t what = arg == DNNL_ARG_SRC            ? dnnl_query_src_md
                        : arg == DNNL_ARG_DST          ? dnnl_query_dst_md
                        : arg == DNNL_ARG_WEIGHTS      ? dnnl_query_weights_md
                        : arg == DNNL_ARG_BIAS         ? dnnl_query_weights_md
                        : arg == DNNL_ARG_DIFF_SRC     ? dnnl_query_diff_src_md
                        : arg == DNNL_ARG_DIFF_DST     ? dnnl_query_diff_dst_md
                                                       : dnnl_query_diff_weights_md;
    return dnnl_primitive_desc_query_md(pd, what, arg == DNNL_ARG_BIAS ? 1 : 0);
}

/* 1 when oneDNN's primitive of this kind keeps the image (x: src, or
 * diff_src for the data gradient) with its channels padded to more than twice
 * their count. With AVX2 code the weight gradient of a one-channel image
 * does: it pads the channel to a block of 8 (aBcd8b) and ran at 20-21
 * GFLOP/s on ResNet-20's 1->16 and DCGAN's 1->64 layers, against 63-80 for
 * im2col (bench/conv_bench); AVX-512 code reads that image plain (abcd) at
 * 98-133. The provider rule sends such a kind to im2col. */
int conv_dnnl_pads_image(const conv_geom *q, int kind)
{
    dnnl_engine_t eng;
    dnnl_primitive_desc_t pd = NULL;
    if (q->n < 1 || q->oh < 1 || q->ow < 1 || dnnl_engine_create(&eng, dnnl_cpu, 0))
        return 0;
    int pads = 0;
    if (make_pd(eng, q, kind, 0, blocked_layout(q), &pd) == dnnl_success) {
        const dnnl_memory_desc_t *m = query_md(pd, kind == CONV_DATA ? DNNL_ARG_DIFF_SRC : DNNL_ARG_SRC);
        pads = m && m->ndims == 4 && m->padded_dims[1] > 2 * m->dims[1];
    }
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    dnnl_engine_destroy(eng);
    return pads;
}

/* A port for `arg` whose plain layout is `user`: the primitive's memory and
 * the reorder when the primitive's layout differs. */
static dnnl_status_t add_port(conv_dnnl *d, dnnl_primitive_desc_t pd, int arg, int is_out,
                              const dnnl_memory_desc_t *user)
{
    port *pt = &d->p[d->nports++];
    const dnnl_memory_desc_t *pm = query_md(pd, arg);
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_status_t s;
    pt->arg = arg;
    pt->is_out = is_out;
    if ((s = dnnl_memory_create(&pt->user, user, d->eng, DNNL_MEMORY_NONE)))
        return s;
    if (!pm || dnnl_memory_desc_equal(pm, user)) {
        pt->prim = pt->user;
        return dnnl_success;
    }
    if ((s = dnnl_memory_create(&pt->prim, pm, d->eng, DNNL_MEMORY_NONE)))
        return s;
    d->off[d->nports - 1] = d->work_need;
    d->work_need += align64(dnnl_memory_desc_get_size(pm));
    s = is_out ? dnnl_reorder_primitive_desc_create(&rpd, pm, d->eng, user, d->eng, NULL)
               : dnnl_reorder_primitive_desc_create(&rpd, user, d->eng, pm, d->eng, NULL);
    if (!s)
        s = dnnl_primitive_create(&pt->reorder, rpd);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    return s;
}

static dnnl_status_t build(conv_dnnl *d, dnnl_primitive_desc_t pd)
{
    dnnl_memory_desc_t x, y, w, b;
    dnnl_status_t s;
    plain_mds(&d->q, dnnl_nchw, dnnl_oihw, &x, &y, &w, &b, d->kind);
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if ((s = dnnl_primitive_create(&d->prim, pd)) ||
        (sp && dnnl_memory_desc_get_size(sp) &&
         (s = dnnl_memory_create(&d->scratch, sp, d->eng, DNNL_MEMORY_NONE))))
        return s;
    if (d->scratch) {
        d->scratch_off = d->work_need;
        d->work_need += align64(dnnl_memory_desc_get_size(sp));
    }
    if (d->kind == CONV_FWD) {
        if ((s = add_port(d, pd, DNNL_ARG_SRC, 0, &x)) || (s = add_port(d, pd, DNNL_ARG_WEIGHTS, 0, &w)) ||
            (d->has_bias && (s = add_port(d, pd, DNNL_ARG_BIAS, 0, &b))))
            return s;
        return add_port(d, pd, DNNL_ARG_DST, 1, &y);
    }
    if (d->kind == CONV_DATA) {
        if ((s = add_port(d, pd, DNNL_ARG_DIFF_DST, 0, &y)) || (s = add_port(d, pd, DNNL_ARG_WEIGHTS, 0, &w)))
            return s;
        return add_port(d, pd, DNNL_ARG_DIFF_SRC, 1, &x);
    }
    if ((s = add_port(d, pd, DNNL_ARG_SRC, 0, &x)) || (s = add_port(d, pd, DNNL_ARG_DIFF_DST, 0, &y)))
        return s;
    return add_port(d, pd, DNNL_ARG_DIFF_WEIGHTS, 1, &w);
}

/* The weight gradient on T > 1 threads, when T divides the batch, runs as T
 * one-thread primitives, one per slice of images, each into its own partial
 * sum (thread 0's into the output), added in slice order. oneDNN's own
 * threaded backward-weights scaled 1.57-1.77x from 1 to 2 threads on
 * ResNet-20's shapes with AVX2 code (the forward and the data gradient 2.0x):
 * split, ResNet-20's weight gradients ran 1.04-1.6x faster there
 * (bench/conv_bench, DLT_CONV_WSPLIT=off against unset) and its 2-thread step
 * spent 53-54 ms in them instead of 62 (bench/step_bench). With AVX-512 code
 * the same shapes were within noise either way. Where the weights are not
 * small beside a slice's input the partial sums cost more than the split
 * gains: ResNet-50's 3x3 512->512 at 7x7 (weights 5.9x a slice's input) ran
 * at 0.70x split, its 1x1 2048->512 at 0.85x (0.65x), 3x3 256->256 at 0.95x
 * (0.73x); every shape at <= 0.09x was within noise or faster. So: split
 * when the weights are at most 1/8 of a slice's input. The sum depends on
 * T, fixed by the plan. */
static int split_of(const conv_geom *q, int kind, int nthreads)
{
    const char *e = getenv("DLT_CONV_WSPLIT"); /* off: oneDNN's own threading (benchmarks) */
    if (e && strcmp(e, "off") == 0)
        return 1;
    if (kind != CONV_FILTER || nthreads < 2 || q->n % nthreads != 0)
        return 1;
    double wn = (double)q->oc * (double)(q->c / q->groups) * (double)(q->kh * q->kw);
    double slice = (double)(q->n / nthreads) * (double)q->c * (double)(q->h * q->w);
    return 8 * wn <= slice ? nthreads : 1;
}

static dlt_status create_split(const conv_geom *q, int kind, int has_bias, int split, conv_dnnl **out)
{
    conv_dnnl *d = calloc(1, sizeof *d);
    if (!d || !(d->parts = calloc((size_t)split, sizeof *d->parts))) {
        free(d);
        return dlt_seterr(DLT_ERR_NOMEM, "oneDNN convolution: out of memory");
    }
    d->q = *q;
    d->kind = kind;
    d->split = split;
    conv_geom qs = *q;
    qs.n = q->n / split;
    for (int t = 0; t < split; t++) {
        dlt_status st = create_one(&qs, kind, has_bias, 1, &d->parts[t]);
        if (st != DLT_OK) {
            free_state(d);
            return st;
        }
    }
    d->part_ws = align64(d->parts[0]->work_need);
    d->wbytes = align64((size_t)(q->oc * (q->c / q->groups) * q->kh * q->kw) * sizeof(float));
    d->work_need = (size_t)split * d->part_ws + (size_t)(split - 1) * d->wbytes;
    *out = d;
    return DLT_OK;
}

static dlt_status split_filter(conv_dnnl *d, const float *x, const float *dy, float *dw, char *work)
{
    const conv_geom *q = &d->q;
    int T = d->split;
    int64_t xs = q->n / T * q->c * q->h * q->w, ys = q->n / T * q->oc * q->oh * q->ow;
    size_t wn = (size_t)(q->oc * (q->c / q->groups) * q->kh * q->kw);
    char *partial = work + (size_t)T * d->part_ws;
    int failed = 0;
#pragma omp parallel for schedule(static, 1) num_threads(T) reduction(| : failed)
    for (int t = 0; t < T; t++) {
        float *o = t == 0 ? dw : (float *)(partial + (size_t)(t - 1) * d->wbytes);
        failed |= conv_dnnl_run(d->parts[t], x + t * xs, dy + t * ys, NULL, o, work + (size_t)t * d->part_ws,
                                d->part_ws, 1) != DLT_OK;
    }
    split_images += q->n;
    if (failed) /* the parts' messages stayed on their threads */
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "oneDNN convolution: the weight gradient of an image slice failed");
#pragma omp parallel for schedule(static) num_threads(T) if (wn > 32768)
    for (size_t i = 0; i < wn; i++) {
        float v = dw[i];
        for (int t = 1; t < T; t++)
            v += ((const float *)(partial + (size_t)(t - 1) * d->wbytes))[i];
        dw[i] = v;
    }
    return DLT_OK;
}

static dlt_status create_one(const conv_geom *q, int kind, int has_bias, int nthreads, conv_dnnl **out)
{
    conv_dnnl *d = calloc(1, sizeof *d);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s;
    *out = NULL;
    if (!d)
        return dlt_seterr(DLT_ERR_NOMEM, "oneDNN convolution: out of memory");
    d->q = *q;
    d->kind = kind;
    d->has_bias = has_bias;
    /* oneDNN fixes its thread split when the primitive is made */
    int saved = omp_get_max_threads();
    omp_set_num_threads(nthreads > 0 ? nthreads : 1);
    if ((s = dnnl_engine_create(&d->eng, dnnl_cpu, 0)) || (s = dnnl_stream_create(&d->strm, d->eng, dnnl_stream_default_flags)) ||
        (s = make_pd(d->eng, q, kind, has_bias, blocked_layout(q), &pd)) || (s = build(d, pd))) {
        omp_set_num_threads(saved);
        if (pd)
            dnnl_primitive_desc_destroy(pd);
        free_state(d);
        return dnnl_err(s, kind == CONV_FWD ? "forward primitive" : kind == CONV_DATA ? "backward-data primitive"
                                                                                       : "backward-weights primitive");
    }
    omp_set_num_threads(saved);
    dnnl_primitive_desc_destroy(pd);
    *out = d;
    return DLT_OK;
}

dlt_status conv_dnnl_create(const conv_geom *q, int kind, int has_bias, int nthreads, conv_dnnl **out)
{
    int split = split_of(q, kind, nthreads);
    dlt_status st = split > 1 ? create_split(q, kind, has_bias, split, out)
                              : create_one(q, kind, has_bias, nthreads, out);
    if (st == DLT_OK)
        live++;
    return st;
}

static dnnl_status_t exec_reorder(conv_dnnl *d, const port *pt)
{
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, pt->is_out ? pt->prim : pt->user},
                               {DNNL_ARG_TO, pt->is_out ? pt->user : pt->prim}};
    return dnnl_primitive_execute(pt->reorder, d->strm, 2, args);
}

size_t conv_dnnl_ws(const conv_geom *q, int kind, int has_bias, int nthreads)
{
    conv_dnnl *d;
    if (conv_dnnl_create(q, kind, has_bias, nthreads, &d) != DLT_OK)
        return 0; /* prepare reports the error */
    size_t n = d->work_need;
    conv_dnnl_free(d);
    return n;
}

dlt_status conv_dnnl_run(conv_dnnl *d, const float *a, const float *b, const float *bias, float *out,
                         void *work, size_t work_bytes, int nthreads)
{
    if (work_bytes < d->work_need)
        return dlt_seterr(DLT_ERR_INVALID,
                          "oneDNN convolution: workspace of %zu bytes, expected %zu (threads changed since the plan was made?)",
                          work_bytes, d->work_need);
    if (d->split)
        return split_filter(d, a, b, out, work);
    const conv_geom *q = &d->q;
    /* the ports were added in the order: a, b, [bias], out */
    void *h[PORTS] = {(void *)a, (void *)b, d->kind == CONV_FWD && d->has_bias ? (void *)bias : out, out};
    dnnl_exec_arg_t args[PORTS + 1];
    dnnl_status_t s = dnnl_success;
    int saved = omp_get_max_threads(), na = 0;
    omp_set_num_threads(nthreads > 0 ? nthreads : 1);
    for (int i = 0; i < d->nports && !s; i++) {
        port *pt = &d->p[i];
        s = dnnl_memory_set_data_handle(pt->user, h[i]);
        if (!s && pt->prim != pt->user)
            s = dnnl_memory_set_data_handle(pt->prim, (char *)work + d->off[i]);
        if (!s && !pt->is_out && pt->reorder)
            s = exec_reorder(d, pt);
        args[na++] = (dnnl_exec_arg_t){pt->arg, pt->prim};
    }
    if (d->scratch) {
        if (!s)
            s = dnnl_memory_set_data_handle(d->scratch, (char *)work + d->scratch_off);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, d->scratch};
    }
    if (!s)
        s = dnnl_primitive_execute(d->prim, d->strm, na, args);
    for (int i = 0; i < d->nports && !s; i++)
        if (d->p[i].is_out && d->p[i].reorder)
            s = exec_reorder(d, &d->p[i]);
    if (!s)
        s = dnnl_stream_wait(d->strm);
    omp_set_num_threads(saved);
    if (s)
        return dnnl_err(s, "execution");
    if (d->kind == CONV_DATA && bias) {
        int64_t hw = q->h * q->w, nc = q->n * q->c;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && nc * hw > 32768)
        for (int64_t i = 0; i < nc; i++) {
            float v = bias[i % q->c], *xp = out + i * hw;
            for (int64_t j = 0; j < hw; j++)
                xp[j] += v;
        }
    }
    return DLT_OK;
}

static void free_state(conv_dnnl *d)
{
    if (!d)
        return;
    if (d->parts) {
        for (int t = 0; t < d->split; t++)
            free_state(d->parts[t]);
        free(d->parts);
    }
    for (int i = 0; i < d->nports; i++) {
        port *pt = &d->p[i];
        if (pt->reorder)
            dnnl_primitive_destroy(pt->reorder);
        if (pt->prim && pt->prim != pt->user)
            dnnl_memory_destroy(pt->prim);
        if (pt->user)
            dnnl_memory_destroy(pt->user);
    }
    if (d->scratch)
        dnnl_memory_destroy(d->scratch);
    if (d->prim)
        dnnl_primitive_destroy(d->prim);
    if (d->strm)
        dnnl_stream_destroy(d->strm);
    if (d->eng)
        dnnl_engine_destroy(d->eng);
    free(d);
}

void conv_dnnl_free(conv_dnnl *d)
{
    if (!d)
        return;
    live--;
    free_state(d);
}

#endif
