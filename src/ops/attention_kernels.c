/* CPU kernels of scaled dot-product attention, flash-attention style: the
 * forward keeps only the log-sum-exp of each score row, and the backward
 * recomputes the probabilities from q, k and it. Work is split in blocks of
 * attn_block_rows() query rows (ATTN_BQ, half that when causal), so a thread
 * never holds more than ATTN_BQ x Tk scores (two such blocks in the
 * backward), never a whole B x H x Tq x Tk tensor.
 * The forward runs the query blocks of one (batch, head) per iteration
 * (one block per iteration when there are few heads); the backward one
 * (batch, head) per iteration, because dk and dv of a head sum over all its
 * query blocks and the sum order must not depend on threads. An iteration
 * first lays out the head's keys and values for its products (attn_mm),
 * which run on the calling thread; when there are fewer items than threads
 * the loop is serial and each product's rows are split instead. Every
 * result has the same bits on any number of threads.
 * The softmax rows' exp runs on the vector path of vmath.h (libm's expf per
 * element under DLT_CPU_ISA=libm). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "attention_impl.h"
#include "dlt_ops.h"
#include "vmath.h"

typedef struct {
    attn_geom gm;
    const attn_attr *a;
    int mask_kind;
    const void *mask;
    int drop; /* dropout active */
    uint64_t seed, stream;
    float keep_scale;
    int gemm_nt;
    const dlt_vmath_ops *vm; /* the vector exp of the softmax rows; NULL: libm */
    const dlt_vmath_ops *vv; /* K^T, V^T and the small products: never NULL */
} attn_run;

static dlt_status attn_run_init(attn_run *r, const dlt_kctx *k, const attn_attr *a,
                                const dlt_shape *q, const dlt_shape *kk, const dlt_shape *v,
                                const dlt_shape *ms, const void *mask)
{
    memset(r, 0, sizeof *r);
    r->gm = dlt_attn_geometry(a, q, kk, v);
    r->a = a;
    r->mask_kind = ms ? dlt_attn_mask_kind(ms) : ATTN_MASK_NONE;
    r->mask = mask;
    r->drop = k->training && a->p > 0.f;
    r->seed = k->seed;
    r->stream = attn_stream(a->id, k->step);
    r->keep_scale = 1.0f / (1.0f - a->p);
    r->vm = dlt_vmath();
    r->vv = dlt_vmath_vec();
    if (r->mask_kind == ATTN_MASK_LENGTHS) {
        const int32_t *len = mask;
        for (int64_t b = 0; b < r->gm.B; b++)
            if (len[b] < 0 || len[b] > r->gm.Tk)
                return dlt_seterr(DLT_ERR_INVALID,
                                  "key length %d of batch %lld is outside [0, %lld]", (int)len[b],
                                  (long long)b, (long long)r->gm.Tk);
    }
    return DLT_OK;
}

/* Threads for `items` independent iterations within the workspace's slots;
 * small problems stay on one thread. */
static int attn_threads(attn_run *r, const dlt_kctx *k, int64_t items, size_t slot_bytes)
{
    const attn_geom *gm = &r->gm;
    int64_t slots = slot_bytes ? (int64_t)(k->work_bytes / slot_bytes) : 1;
    int64_t nt = k->nthreads;
    if (nt > items)
        nt = items;
    if (nt > slots)
        nt = slots;
    double work = (double)gm->B * gm->H * gm->Tq * gm->Tk * (double)(gm->D + gm->Dv);
    if (nt < 1 || work < 65536)
        nt = 1;
    r->gemm_nt = nt > 1 ? 1 : k->nthreads;
    return (int)nt;
}

/* Add the masks to one row of scores s[0..kn) of query i of batch b. */
static void mask_row(const attn_run *r, int64_t b, int64_t i, float *s, int64_t kn)
{
    const attn_geom *gm = &r->gm;
    if (r->a->causal)
        for (int64_t j = i + 1; j < kn; j++)
            s[j] = -INFINITY;
    switch (r->mask_kind) {
    case ATTN_MASK_LENGTHS: {
        int64_t len = ((const int32_t *)r->mask)[b];
        for (int64_t j = len; j < kn; j++)
            s[j] = -INFINITY;
        break;
    }
    case ATTN_MASK_KEEP: {
        const int32_t *m = (const int32_t *)r->mask + b * gm->Tk;
        for (int64_t j = 0; j < kn; j++)
            if (!m[j])
                s[j] = -INFINITY;
        break;
    }
    case ATTN_MASK_ADD: {
        const float *m = (const float *)r->mask + b * gm->Tk;
        for (int64_t j = 0; j < kn; j++)
            s[j] += m[j];
        break;
    }
    default:
        break;
    }
}

/* The dropout draws of score row (b, h, i): key j's counter is the row's
 * base + j, and it is kept when dlt_rng_uniform(seed, stream, counter) >= p.
 * The vector path draws inside its own row loops (vmath.h's dropout and
 * lse_grad_drop_row); libm's gets `u` for keys [j0, j0 + n) (n <= DROP_CHUNK). */
#define DROP_CHUNK 256
static uint64_t drop_counter(const attn_run *r, int64_t b, int64_t h, int64_t i)
{
    const attn_geom *gm = &r->gm;
    return (uint64_t)(((b * gm->H + h) * gm->Tq + i) * gm->Tk);
}

static void drop_draws(const attn_run *r, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t n, float *u)
{
    uint64_t c0 = drop_counter(r, b, h, i) + (uint64_t)j0;
    for (int64_t j = 0; j < n; j++)
        u[j] = dlt_rng_uniform(r->seed, r->stream, c0 + (uint64_t)j);
}

/* m = max of s[0..n); unless it is -inf, s = exp(s - m) and the sum is returned */
static double exp_max_row(const dlt_vmath_ops *vm, float *s, int64_t n, float *m)
{
    if (vm)
        return vm->exp_max_row(s, s, n, m);
    float mx = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        mx = s[j] > mx ? s[j] : mx;
    *m = mx;
    if (mx == -INFINITY)
        return 0;
    double sum = 0;
    for (int64_t j = 0; j < n; j++) {
        float e = expf(s[j] - mx);
        s[j] = e;
        sum += e;
    }
    return sum;
}

/* Keys a block of query rows [i0, i0 + rows) can see: causal rows stop at
 * their own index (top-left aligned, as torch's tril mask). */
static int64_t keys_for(const attn_run *r, int64_t i0, int64_t rows)
{
    int64_t kn = r->gm.Tk;
    if (r->a->causal && i0 + rows < kn)
        kn = i0 + rows;
    return kn;
}

/* C = alpha op(A) B (+ C when beta is 1), B [k, n] row-major: every product
 * of a head, once K and V are laid out transposed where they are used so
 * (K^T for the scores, V^T for dP), by the small products of vmath_gemm.h
 * (a library sgemm packs both operands on every call: at these sizes as
 * much traffic as arithmetic). With fewer items than threads the rows of C
 * are split over gemm_nt threads; each element is the same chain of
 * multiply-adds whoever computes it, so the bits do not depend on the
 * thread count. */
static void attn_mm(const attn_run *r, int ta, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                    int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    int64_t sai = ta ? 1 : lda, sap = ta ? lda : 1;
    int nt = r->gemm_nt;
    if (nt <= 1 || m < 2 * nt) {
        r->vv->gemm_small(m, n, k, alpha, a, sai, sap, b, ldb, beta, c, ldc);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int t = 0; t < nt; t++) {
        int64_t i0 = m * t / nt, i1 = m * (t + 1) / nt;
        r->vv->gemm_small(i1 - i0, n, k, alpha, a + i0 * sai, sai, sap, b, ldb, beta, c + i0 * ldc, ldc);
    }
}

/* The next item's operand rows, requested into L2 a few at a time while
 * this item computes. A head's rows are KB apart (packed q, k, v: 3 KB for
 * heads of 64), each on another page, where the hardware prefetchers do not
 * follow: read cold, laying out K and V cost a head as much as two of its
 * products. All of them at once stalled on the miss queue; spread over the
 * score rows they arrive in time. */
enum { PF_MAX = 5 };
typedef struct {
    const float *base[PF_MAX];
    int64_t ld[PF_MAX], rows[PF_MAX], w[PF_MAX];
    int n, cur;    /* tensors, the one being requested */
    int64_t row;   /* its next row */
    int64_t per;   /* rows per step */
} pf_stream;

static void pf_add(pf_stream *s, const float *p, int64_t rows, int64_t w, int64_t ld)
{
    if (s->n < PF_MAX)
        s->base[s->n] = p, s->rows[s->n] = rows, s->w[s->n] = w, s->ld[s->n++] = ld;
}

/* spread what was added over `steps` calls of pf_step */
static void pf_plan(pf_stream *s, int64_t steps)
{
    int64_t total = 0;
    for (int t = 0; t < s->n; t++)
        total += s->rows[t];
    s->per = steps > 0 ? (total + steps - 1) / steps : total;
}

static void pf_step(pf_stream *s)
{
    for (int64_t k = 0; k < s->per && s->cur < s->n; k++) {
        const float *p = s->base[s->cur] + s->row * s->ld[s->cur];
        for (int64_t c = 0; c < s->w[s->cur]; c += 64 / (int64_t)sizeof(float))
            __builtin_prefetch(p + c, 0, 2);
        if (++s->row == s->rows[s->cur])
            s->cur++, s->row = 0;
    }
}

typedef struct {
    const float *q, *k, *v;
    float *o, *lse;
} fwd_io;

/* The first n keys and values of head (b, h) laid out for the products,
 * in (D + Dv) n floats at `at`: K^T [D, n] (rows n apart) for both passes,
 * then the forward's V [n, Dv] with its rows contiguous or the backward's
 * V^T [Dv, n]. In place, V's rows are Hin Dv floats apart (packed q, k, v:
 * 3 KB for heads of 64), and the rows a product streams through one vector
 * column then share four of L1's 64 sets. */
typedef struct {
    float *kt, *vc, *vt; /* vc forward, vt backward; the other NULL */
    int64_t n;
} head_kv;

static head_kv pack_kv(const attn_run *r, const float *k, const float *v, int64_t b, int64_t h, int64_t n,
                       float *at, int backward)
{
    const attn_geom *gm = &r->gm;
    int64_t ldv = attn_in_ld(gm, gm->Dv);
    k += attn_in_base(gm, b, h, gm->Tk, gm->D);
    v += attn_in_base(gm, b, h, gm->Tk, gm->Dv);
    head_kv p = {.kt = at, .n = n};
    r->vv->transpose(k, n, gm->D, attn_in_ld(gm, gm->D), p.kt, n);
    if (backward) {
        p.vt = at + gm->D * n;
        r->vv->transpose(v, n, gm->Dv, ldv, p.vt, n);
    } else {
        p.vc = at + gm->D * n;
        for (int64_t j = 0; j < n; j++)
            memcpy(p.vc + j * gm->Dv, v + j * ldv, (size_t)gm->Dv * sizeof *v);
    }
    return p;
}

/* Head it's (= b H + h) K, V and Q rows (and O and dO where given) as a
 * prefetch stream spread over Tq score rows; none past the last head. */
static void head_prefetch(const attn_run *r, const float *q, const float *k, const float *v, const float *o,
                          const float *dO, int64_t it, pf_stream *pf)
{
    const attn_geom *gm = &r->gm;
    memset(pf, 0, sizeof *pf);
    if (it < gm->B * gm->H) {
        int64_t b = it / gm->H, h = it % gm->H, ldq = attn_in_ld(gm, gm->D), ldo = attn_ld(gm, gm->Dv);
        pf_add(pf, k + attn_in_base(gm, b, h, gm->Tk, gm->D), gm->Tk, gm->D, ldq);
        pf_add(pf, v + attn_in_base(gm, b, h, gm->Tk, gm->Dv), gm->Tk, gm->Dv, attn_in_ld(gm, gm->Dv));
        pf_add(pf, q + attn_in_base(gm, b, h, gm->Tq, gm->D), gm->Tq, gm->D, ldq);
        if (o && dO) {
            pf_add(pf, o + attn_base(gm, b, h, gm->Tq, gm->Dv), gm->Tq, gm->Dv, ldo);
            pf_add(pf, dO + attn_base(gm, b, h, gm->Tq, gm->Dv), gm->Tq, gm->Dv, ldo);
        }
    }
    pf_plan(pf, gm->Tq);
}

static void fwd_block(const attn_run *r, const fwd_io *io, int64_t b, int64_t h, int64_t i0,
                      int64_t rows, float *S, const head_kv *kv, pf_stream *pf)
{
    const attn_geom *gm = &r->gm;
    int64_t ldq = attn_in_ld(gm, gm->D), ldo = attn_ld(gm, gm->Dv);
    int64_t kn = keys_for(r, i0, rows);
    const float *q = io->q + attn_in_base(gm, b, h, gm->Tq, gm->D) + i0 * ldq;
    float *o = io->o + attn_base(gm, b, h, gm->Tq, gm->Dv) + i0 * ldo;
    float *lse = io->lse + (b * gm->H + h) * gm->Tq + i0;
    attn_mm(r, 0, rows, kn, gm->D, r->a->scale, q, ldq, kv->kt, kv->n, 0.f, S, kn);
    for (int64_t t = 0; t < rows; t++) {
        pf_step(pf);
        int64_t i = i0 + t;
        float *s = S + t * kn;
        mask_row(r, b, i, s, kn);
        float m;
        double sum = exp_max_row(r->vm, s, kn, &m);
        if (m == -INFINITY) { /* every key masked: zero output, lse -inf */
            memset(s, 0, (size_t)kn * sizeof *s);
            lse[t] = -INFINITY;
            continue;
        }
        lse[t] = (float)(m + log(sum));
        float inv = (float)(1.0 / sum);
        if (r->drop && r->vm) { /* draws and select in one vector pass */
            r->vm->dropout(r->seed, r->stream, drop_counter(r, b, h, i), kn, r->a->p, inv * r->keep_scale, s, s);
        } else if (r->drop) {
            float ks = inv * r->keep_scale, p = r->a->p, u[DROP_CHUNK];
            for (int64_t j0 = 0; j0 < kn; j0 += DROP_CHUNK) {
                int64_t len = kn - j0 < DROP_CHUNK ? kn - j0 : DROP_CHUNK;
                drop_draws(r, b, h, i, j0, len, u);
                for (int64_t j = 0; j < len; j++)
                    s[j0 + j] = u[j] >= p ? s[j0 + j] * ks : 0.f;
            }
        } else {
            for (int64_t j = 0; j < kn; j++)
                s[j] *= inv;
        }
    }
    attn_mm(r, 0, rows, gm->Dv, kn, 1.f, S, kn, kv->vc, gm->Dv, 0.f, o, ldo);
}

/* Item it of the forward: query blocks [part nqb / split, (part + 1) nqb /
 * split) of one (batch, head), it = (b H + h) split + part, with the keys
 * and values they see laid out once. work: a score block, then K^T and V.
 * Whole heads (split 1) ask for the next head's rows on the way. */
static void fwd_item(const attn_run *r, const fwd_io *io, int64_t it, int64_t nqb, int64_t split, float *work)
{
    const attn_geom *gm = &r->gm;
    pf_stream pf; /* whole heads only: it + 1 is another head's first block otherwise */
    head_prefetch(r, io->q, io->k, io->v, NULL, NULL, split == 1 ? it + 1 : gm->B * gm->H, &pf);
    int64_t bq = attn_block_rows(r->a), bh = it / split, part = it % split;
    int64_t b = bh / gm->H, h = bh % gm->H;
    int64_t q0 = part * nqb / split, q1 = (part + 1) * nqb / split;
    int64_t last = (q1 - 1) * bq, n = keys_for(r, last, gm->Tq - last < bq ? gm->Tq - last : bq);
    head_kv kv = pack_kv(r, io->k, io->v, b, h, n, work + attn_block_floats(gm), 0);
    for (int64_t qb = q0; qb < q1; qb++) {
        int64_t i0 = qb * bq, rows = gm->Tq - i0 < bq ? gm->Tq - i0 : bq;
        fwd_block(r, io, b, h, i0, rows, work, &kv, &pf);
    }
}

/* inputs q, k, v [, mask]; outputs o, lse */
dlt_status attn_fwd_cpu(const dlt_kctx *k)
{
    const attn_attr *a = DLT_CATTR(k->node, attn_attr);
    int nin = k->node->nin;
    attn_run r;
    dlt_status st = attn_run_init(&r, k, a, k->in_shape[0], k->in_shape[1], k->in_shape[2],
                                  nin > 3 ? k->in_shape[3] : NULL, nin > 3 ? k->in[3] : NULL);
    if (st != DLT_OK)
        return st;
    const attn_geom *gm = &r.gm;
    attn_ptrs pt = attn_pointers(gm, k, 0);
    fwd_io io = {pt.q, pt.k, pt.v, k->out[0], k->out[1]};
    /* a head's blocks in one item, which lays out its keys and values once,
     * where there are heads enough to go round; else one block per item */
    int64_t bq = attn_block_rows(a), nqb = (gm->Tq + bq - 1) / bq;
    int64_t split = gm->B * gm->H >= 4 * (int64_t)k->nthreads ? 1 : nqb, items = gm->B * gm->H * split;
    size_t slot = attn_slot_bytes(gm, 0);
    int nt = attn_threads(&r, k, items, slot);
    float *work = k->work;
    int64_t slot_floats = (int64_t)(slot / sizeof(float));
    /* Whole heads: in runs, so that a thread's next item is it + 1, whose
     * rows it asks for. Single blocks: dynamic, because causal blocks late in
     * a head have more keys than early ones (an interleaved static split gave
     * 2 threads the even and the odd blocks of every head). Each item writes
     * its own rows: the bits do not depend on who runs it. One thread: a
     * plain loop, each product's rows split (not an if (0) parallel region,
     * inside which a split product forks new threads). */
    if (nt > 1 && split == 1) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t it = 0; it < items; it++)
            fwd_item(&r, &io, it, nqb, split, work + omp_get_thread_num() * slot_floats);
    } else if (nt > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (int64_t it = 0; it < items; it++)
            fwd_item(&r, &io, it, nqb, split, work + omp_get_thread_num() * slot_floats);
    } else {
        for (int64_t it = 0; it < items; it++)
            fwd_item(&r, &io, it, nqb, split, work);
    }
    return DLT_OK;
}

typedef struct {
    const float *q, *k, *v, *o, *lse, *dO, *dlse;
    float *dq, *dk, *dv;
} bwd_io;

static void zero_rows(float *x, int64_t rows, int64_t w, int64_t ld)
{
    for (int64_t i = 0; i < rows; i++)
        memset(x + i * ld, 0, (size_t)w * sizeof *x);
}

/* a . b over n values in double, in four interleaved partial sums (one
 * chain of dependent adds waited on the adder's latency: GPT-mini's
 * backward 16.0 -> 15.1 ms per step on 2 threads, AVX-512) */
static double row_dot(const float *a, const float *b, int64_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t c = 0;
    for (; c + 4 <= n; c += 4) {
        s0 += (double)a[c] * b[c];
        s1 += (double)a[c + 1] * b[c + 1];
        s2 += (double)a[c + 2] * b[c + 2];
        s3 += (double)a[c + 3] * b[c + 3];
    }
    double d = (s0 + s1) + (s2 + s3);
    for (; c < n; c++)
        d += (double)a[c] * b[c];
    return d;
}

/* dS = P (dP - D) with D_i = dO_i . O_i - dlse_i (the softmax backward,
 * including lse's own gradient P); under dropout dP is the gradient of the
 * dropped probabilities scaled back, and A becomes the dropped P for dv. */
static void bwd_block(const attn_run *r, const bwd_io *io, int64_t b, int64_t h, int64_t i0,
                      int64_t rows, float *A, float *G, const head_kv *kv, pf_stream *pf)
{
    const attn_geom *gm = &r->gm;
    int64_t ldq = attn_in_ld(gm, gm->D), ldv = attn_in_ld(gm, gm->Dv), ldo = attn_ld(gm, gm->Dv);
    int64_t kn = keys_for(r, i0, rows);
    int64_t hq = attn_in_base(gm, b, h, gm->Tq, gm->D) + i0 * ldq,
            hk = attn_in_base(gm, b, h, gm->Tk, gm->D);
    int64_t ho = attn_base(gm, b, h, gm->Tq, gm->Dv) + i0 * ldo,
            hv = attn_in_base(gm, b, h, gm->Tk, gm->Dv);
    int64_t hl = (b * gm->H + h) * gm->Tq + i0;
    const float *q = io->q + hq;
    const float *dO = io->dO ? io->dO + ho : NULL;
    float scale = r->a->scale;
    attn_mm(r, 0, rows, kn, gm->D, scale, q, ldq, kv->kt, kv->n, 0.f, A, kn);
    if (dO)
        attn_mm(r, 0, rows, kn, gm->Dv, 1.f, dO, ldo, kv->vt, kv->n, 0.f, G, kn);
    else
        memset(G, 0, (size_t)(rows * kn) * sizeof *G);
    for (int64_t t = 0; t < rows; t++) {
        int64_t i = i0 + t;
        float *s = A + t * kn, *gp = G + t * kn;
        pf_step(pf);
        float l = io->lse[hl + t];
        if (l == -INFINITY) {
            memset(s, 0, (size_t)kn * sizeof *s);
            memset(gp, 0, (size_t)kn * sizeof *gp);
            continue;
        }
        mask_row(r, b, i, s, kn);
        double d = dO ? row_dot(io->o + ho + t * ldo, dO + t * ldo, gm->Dv) : 0;
        if (io->dlse)
            d -= io->dlse[hl + t];
        float D = (float)d;
        if (r->drop && r->vm) {
            r->vm->lse_grad_drop_row(s, gp, kn, l, D, r->seed, r->stream, drop_counter(r, b, h, i), r->a->p,
                                     r->keep_scale);
        } else if (r->drop) {
            float ks = r->keep_scale, pd = r->a->p, u[DROP_CHUNK];
            for (int64_t j0 = 0; j0 < kn; j0 += DROP_CHUNK) {
                int64_t len = kn - j0 < DROP_CHUNK ? kn - j0 : DROP_CHUNK;
                drop_draws(r, b, h, i, j0, len, u);
                for (int64_t jj = 0; jj < len; jj++) {
                    int64_t j = j0 + jj;
                    float p = expf(s[j] - l);
                    int keep = u[jj] >= pd;
                    gp[j] = p * ((keep ? gp[j] * ks : 0.f) - D);
                    s[j] = keep ? p * ks : 0.f;
                }
            }
        } else if (r->vm) {
            r->vm->lse_grad_row(s, gp, kn, l, D);
        } else {
            for (int64_t j = 0; j < kn; j++) {
                float p = expf(s[j] - l);
                gp[j] = p * (gp[j] - D);
                s[j] = p;
            }
        }
    }
    if (dO)
        attn_mm(r, 1, kn, gm->Dv, rows, 1.f, A, kn, dO, ldo, 1.f, io->dv + hv, ldv);
    attn_mm(r, 0, rows, gm->D, kn, scale, G, kn, io->k + hk, ldq, 0.f, io->dq + hq, ldq);
    attn_mm(r, 1, kn, gm->D, rows, scale, G, kn, q, ldq, 1.f, io->dk + hk, ldq);
}

/* Item it of the backward: one (batch, head), its query blocks in order.
 * A: two score blocks, then the head's K^T and V^T (pack_kv). */
static void bwd_item(const attn_run *r, const bwd_io *io, int64_t it, float *A)
{
    const attn_geom *gm = &r->gm;
    int64_t b = it / gm->H, h = it % gm->H;
    int64_t blk = attn_block_floats(gm);
    float *B = A + blk;
    head_kv kv = pack_kv(r, io->k, io->v, b, h, gm->Tk, B + blk, 1);
    pf_stream pf;
    head_prefetch(r, io->q, io->k, io->v, io->o, io->dO, it + 1, &pf);
    zero_rows(io->dk + attn_in_base(gm, b, h, gm->Tk, gm->D), gm->Tk, gm->D, attn_in_ld(gm, gm->D));
    zero_rows(io->dv + attn_in_base(gm, b, h, gm->Tk, gm->Dv), gm->Tk, gm->Dv, attn_in_ld(gm, gm->Dv));
    int64_t bq = attn_block_rows(r->a);
    for (int64_t i0 = 0; i0 < gm->Tq; i0 += bq) {
        int64_t rows = gm->Tq - i0 < bq ? gm->Tq - i0 : bq;
        bwd_block(r, io, b, h, i0, rows, A, B, &kv, &pf);
    }
}

/* inputs q, k, v, o, lse [, dO] [, mask] [, dlse]; outputs dq, dk, dv */
dlt_status attn_bwd_cpu(const dlt_kctx *k)
{
    const attn_attr *a = DLT_CATTR(k->node, attn_attr);
    int at = 5;
    const float *dO = a->has_do ? k->in[at++] : NULL;
    int mi = a->has_mask ? at++ : -1;
    const float *dlse = a->has_dlse ? k->in[at++] : NULL;
    attn_run r;
    dlt_status st = attn_run_init(&r, k, a, k->in_shape[0], k->in_shape[1], k->in_shape[2],
                                  mi >= 0 ? k->in_shape[mi] : NULL, mi >= 0 ? k->in[mi] : NULL);
    if (st != DLT_OK)
        return st;
    const attn_geom *gm = &r.gm;
    attn_ptrs pt = attn_pointers(gm, k, 1);
    bwd_io io = {pt.q, pt.k, pt.v, k->in[3], k->in[4], dO, dlse, pt.dq, pt.dk, pt.dv};
    int64_t items = gm->B * gm->H;
    size_t slot = attn_slot_bytes(gm, 1);
    int nt = attn_threads(&r, k, items, slot);
    int64_t slot_floats = (int64_t)(slot / sizeof(float));
    float *work = k->work;
    if (nt > 1) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t it = 0; it < items; it++) {
            bwd_item(&r, &io, it, work + omp_get_thread_num() * slot_floats);
        }
    } else { /* a plain loop, as the forward's */
        for (int64_t it = 0; it < items; it++)
            bwd_item(&r, &io, it, work);
    }
    return DLT_OK;
}
