/* The late-running test device (lazydev.h). */
#include "lazydev.h"

#include <stdlib.h>
#include <string.h>

enum { OP_COPY, OP_MEMSET, OP_ADD, OP_SCALE, OP_CLAMP, OP_KERNEL, OP_WAIT };

typedef struct {
    int kind;
    void *dst;
    const void *src;
    void *snap; /* owned copy of a pageable source */
    size_t n;
    int byte;
    double a;
    float lo, hi;    /* OP_CLAMP */
    dlt_kctx k;      /* OP_KERNEL: the context as it was at the call */
    int other;       /* OP_WAIT: until queue `other` has run `pos` operations */
    size_t pos;
} op;

/* Positions are absolute (operations queued since the start); ops[] holds
 * those from `base` on and is emptied once everything has run. */
typedef struct {
    op *ops;
    size_t base, n, done, cap;
} queue;

enum { COMPUTE = 0, TRANSFER = 1 };

typedef struct {
    dlt_backend be; /* first: ctx points here */
    dlt_backend *base;
    queue q[2];
    struct {
        int q;
        size_t pos;
    } ev[DLT_EV_COUNT];
    int eager;
    struct {
        const unsigned char *p;
        size_t n;
    } pinned[64];
    int npinned, early;
    dlt_status failed; /* the first error of queued work, reported by the next wait */
} lazydev;

static int is_pinned(const lazydev *d, const void *ptr)
{
    const unsigned char *c = ptr;
    for (int i = 0; i < d->npinned; i++)
        if (c >= d->pinned[i].p && c < d->pinned[i].p + d->pinned[i].n)
            return 1;
    return 0;
}

static op *push(lazydev *d, int qi, op o)
{
    queue *q = &d->q[qi];
    if (q->done == q->n && q->n > q->base) /* all run: start the array over */
        q->base = q->n;
    size_t used = q->n - q->base;
    if (used == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 256;
        op *r = realloc(q->ops, cap * sizeof *r);
        if (!r)
            abort();
        q->ops = r;
        q->cap = cap;
    }
    q->ops[used] = o;
    q->n++;
    return &q->ops[used];
}

static void run_op(lazydev *d, op *o)
{
    dlt_status st = DLT_OK;
    switch (o->kind) {
    case OP_COPY:
        if (o->n)
            memmove(o->dst, o->snap ? o->snap : o->src, o->n);
        free(o->snap);
        o->snap = NULL;
        break;
    case OP_MEMSET:
        memset(o->dst, o->byte, o->n);
        break;
    case OP_ADD:
        for (size_t i = 0; i < o->n; i++)
            ((float *)o->dst)[i] += ((const float *)o->src)[i];
        break;
    case OP_SCALE:
        for (size_t i = 0; i < o->n; i++)
            ((float *)o->dst)[i] = (float)(((float *)o->dst)[i] * o->a);
        break;
    case OP_CLAMP:
        for (size_t i = 0; i < o->n; i++)
            ((float *)o->dst)[i] = dlt_clamp_elem(((float *)o->dst)[i], o->lo, o->hi);
        break;
    case OP_KERNEL:
        st = o->k.node->op->cpu(&o->k);
        break;
    default:
        break;
    }
    if (st != DLT_OK && d->failed == DLT_OK)
        d->failed = st;
}

static void drain(lazydev *d, int qi, size_t target);

/* Eager transfers: run every transfer whose compute mark is passed. */
static void pump(lazydev *d)
{
    queue *t = &d->q[TRANSFER];
    while (d->eager && t->done < t->n) {
        op *o = &t->ops[t->done - t->base];
        if (o->kind == OP_WAIT && d->q[o->other].done < o->pos)
            return;
        if (o->kind != OP_WAIT)
            run_op(d, o);
        t->done++;
    }
}

static void drain(lazydev *d, int qi, size_t target)
{
    queue *q = &d->q[qi];
    while (q->done < target && q->done < q->n) {
        op *o = &q->ops[q->done - q->base];
        if (o->kind == OP_WAIT)
            drain(d, o->other, o->pos); /* marks always precede their waits */
        else
            run_op(d, o);
        q->done++;
        if (qi == COMPUTE)
            pump(d);
    }
}

static void drain_all(lazydev *d)
{
    drain(d, COMPUTE, d->q[COMPUTE].n);
    drain(d, TRANSFER, d->q[TRANSFER].n);
}

static dlt_status take_failure(lazydev *d)
{
    dlt_status st = d->failed;
    d->failed = DLT_OK;
    return st == DLT_OK ? DLT_OK : dlt_seterr(st, "lazy device: queued work failed");
}

/* ---------------------------------------------------------------- backend */
static dlt_status l_alloc(void *ctx, size_t bytes, void **p)
{
    lazydev *d = ctx;
    return d->base->alloc(d->base->ctx, bytes, p);
}

static void l_release(void *ctx, void *p)
{
    lazydev *d = ctx;
    if (p && lazydev_queued(&d->be)) {
        d->early++;
        drain_all(d);
    }
    d->base->release(d->base->ctx, p);
}

static dlt_status l_alloc_host(void *ctx, size_t bytes, void **p)
{
    lazydev *d = ctx;
    dlt_status st = d->base->alloc_host(d->base->ctx, bytes, p);
    if (st == DLT_OK && d->npinned < 64)
        d->pinned[d->npinned].p = *p, d->pinned[d->npinned++].n = bytes ? bytes : 1;
    return st;
}

static void l_release_host(void *ctx, void *p)
{
    lazydev *d = ctx;
    if (p && lazydev_queued(&d->be)) {
        d->early++;
        drain_all(d);
    }
    for (int i = 0; i < d->npinned; i++)
        if (d->pinned[i].p == p)
            d->pinned[i] = d->pinned[--d->npinned];
    d->base->release_host(d->base->ctx, p);
}

/* A copy from host memory: pinned memory is read when the copy runs, other
 * host memory at the call (CUDA stages pageable memory before returning). */
static op upload_op(lazydev *d, void *dst, const void *src, size_t n)
{
    op o = {.kind = OP_COPY, .dst = dst, .src = src, .n = n};
    if (n && !is_pinned(d, src)) {
        o.snap = malloc(n);
        if (!o.snap)
            abort();
        memcpy(o.snap, src, n);
    }
    return o;
}

/* device to device: read and written in stream order */
static dlt_status l_copy(void *ctx, void *dst, const void *src, size_t n)
{
    push(ctx, COMPUTE, (op){.kind = OP_COPY, .dst = dst, .src = src, .n = n});
    return DLT_OK;
}

static dlt_status l_upload(void *ctx, void *dst, const void *src, size_t n)
{
    lazydev *d = ctx;
    push(d, COMPUTE, upload_op(d, dst, src, n));
    return DLT_OK;
}

static dlt_status l_download(void *ctx, void *dst, const void *src, size_t n)
{
    lazydev *d = ctx;
    push(d, COMPUTE, (op){.kind = OP_COPY, .dst = dst, .src = src, .n = n});
    return DLT_OK;
}

static dlt_status l_memset(void *ctx, void *dst, int byte, size_t n)
{
    push(ctx, COMPUTE, (op){.kind = OP_MEMSET, .dst = dst, .byte = byte, .n = n});
    return DLT_OK;
}

static dlt_status l_add(void *ctx, float *dst, const float *src, size_t n)
{
    push(ctx, COMPUTE, (op){.kind = OP_ADD, .dst = dst, .src = src, .n = n});
    return DLT_OK;
}

static dlt_status l_scale(void *ctx, float *x, double a, size_t n)
{
    push(ctx, COMPUTE, (op){.kind = OP_SCALE, .dst = x, .a = a, .n = n});
    return DLT_OK;
}

static dlt_status l_clamp(void *ctx, float *x, float lo, float hi, size_t n)
{
    push(ctx, COMPUTE, (op){.kind = OP_CLAMP, .dst = x, .lo = lo, .hi = hi, .n = n});
    return DLT_OK;
}

static dlt_status l_sync(void *ctx)
{
    lazydev *d = ctx;
    drain(d, COMPUTE, d->q[COMPUTE].n);
    return take_failure(d);
}

static dlt_status l_sumsq(void *ctx, const float *x, size_t n, double *out)
{
    dlt_status st = l_sync(ctx);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    *out = s;
    return st;
}

static dlt_status l_run_kernel(const dlt_kctx *k)
{
    push(k->dev, COMPUTE, (op){.kind = OP_KERNEL, .k = *k});
    return DLT_OK;
}

static int l_kernel(void *ctx, const dlt_op_def *op_, dlt_kernel_fn *fn, dlt_workspace_fn *ws)
{
    (void)ctx;
    *fn = l_run_kernel; /* the op's CPU kernel, queued (run_op) */
    *ws = op_->workspace;
    return op_->cpu != NULL;
}

static double l_elapsed(void *ctx)
{
    (void)l_sync(ctx);
    return 0;
}

static void *l_symbol(void *ctx, const char *name)
{
    (void)ctx, (void)name;
    return NULL;
}

static dlt_status l_record(void *ctx, int ev)
{
    lazydev *d = ctx;
    if (ev < 0 || ev >= DLT_EV_COUNT || ev == DLT_EV_PREFETCHED)
        return dlt_seterr(DLT_ERR_INVALID, "lazy device: event %d is not a compute event", ev);
    d->ev[ev].q = COMPUTE;
    d->ev[ev].pos = d->q[COMPUTE].n;
    return DLT_OK;
}

static dlt_status l_wait_host(void *ctx, int ev)
{
    lazydev *d = ctx;
    if (ev < 0 || ev >= DLT_EV_COUNT)
        return dlt_seterr(DLT_ERR_INVALID, "lazy device: no event %d", ev);
    drain(d, d->ev[ev].q, d->ev[ev].pos);
    return take_failure(d);
}

static dlt_status l_prefetch(void *ctx, void *dst, const void *src, size_t n)
{
    lazydev *d = ctx;
    push(d, TRANSFER, (op){.kind = OP_WAIT, .other = COMPUTE, .pos = d->ev[DLT_EV_CONSUMED].pos});
    push(d, TRANSFER, upload_op(d, dst, src, n));
    d->ev[DLT_EV_PREFETCHED].q = TRANSFER;
    d->ev[DLT_EV_PREFETCHED].pos = d->q[TRANSFER].n;
    pump(d);
    return DLT_OK;
}

static dlt_status l_join_prefetch(void *ctx)
{
    lazydev *d = ctx;
    push(d, COMPUTE, (op){.kind = OP_WAIT, .other = TRANSFER, .pos = d->ev[DLT_EV_PREFETCHED].pos});
    return DLT_OK;
}

/* ---------------------------------------------------------------- public */
dlt_backend *lazydev_create(dlt_backend *base, int flags)
{
    lazydev *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->base = base;
    d->eager = (flags & LAZYDEV_EAGER_TRANSFER) != 0;
    for (int i = 0; i < DLT_EV_COUNT; i++)
        d->ev[i].q = i == DLT_EV_PREFETCHED ? TRANSFER : COMPUTE;
    d->be = (dlt_backend){
        .name = "lazy",
        .ctx = d,
        .alloc = l_alloc,
        .release = l_release,
        .alloc_host = l_alloc_host,
        .release_host = l_release_host,
        .upload = l_upload,
        .download = l_download,
        .copy = l_copy,
        .memset = l_memset,
        .add = l_add,
        .scale = l_scale,
        .clamp = l_clamp,
        .sumsq = l_sumsq,
        .sync = l_sync,
        .kernel = l_kernel,
        .elapsed = l_elapsed,
        .symbol = l_symbol,
    };
    if (!(flags & LAZYDEV_NO_OVERLAP)) {
        d->be.record = l_record;
        d->be.wait_host = l_wait_host;
        d->be.prefetch = l_prefetch;
        d->be.join_prefetch = l_join_prefetch;
    }
    return &d->be;
}

void lazydev_destroy(dlt_backend *b)
{
    lazydev *d = (lazydev *)b;
    if (!d)
        return;
    drain_all(d);
    free(d->q[COMPUTE].ops);
    free(d->q[TRANSFER].ops);
    free(d);
}

size_t lazydev_queued(const dlt_backend *b)
{
    const lazydev *d = (const lazydev *)b;
    return (d->q[COMPUTE].n - d->q[COMPUTE].done) + (d->q[TRANSFER].n - d->q[TRANSFER].done);
}

int lazydev_early_releases(const dlt_backend *b) { return ((const lazydev *)b)->early; }
