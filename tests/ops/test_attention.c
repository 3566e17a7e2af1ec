/* Scaled dot-product attention: forward, log-sum-exp and gradients against a
 * naive reference that materialises the softmax in double; finite
 * differences (eval and training with dropout); the dropout mask itself;
 * thread-count independence; the packed layout against separate q, k, v;
 * argument errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention_impl.h"
#include "dlt_ops.h"
#include "dlt_test.h"

enum { M_NONE, M_LEN, M_KEEP, M_ADD };
typedef struct {
    int64_t B, H, Tq, Tk, D, Dv;
    int causal, mask, layout;
    float scale;
} acase;

static const acase cases[] = {
    {2, 3, 5, 7, 4, 6, 0, M_NONE, DLT_ATTN_BHTD, 0},
    {1, 2, 9, 9, 8, 8, 1, M_NONE, DLT_ATTN_BHTD, 0},
    {2, 2, 6, 11, 5, 3, 0, M_LEN, DLT_ATTN_BHTD, 0},
    {3, 1, 4, 6, 4, 4, 0, M_KEEP, DLT_ATTN_BTHD, 0.7f},
    {2, 2, 7, 5, 3, 5, 1, M_ADD, DLT_ATTN_BTHD, 0},
    {1, 1, 70, 67, 8, 4, 1, M_LEN, DLT_ATTN_BHTD, 0},  /* two query blocks */
    {2, 2, 3, 130, 4, 4, 0, M_KEEP, DLT_ATTN_BTHD, 0}, /* long key rows */
    {2, 1, 5, 6, 3, 3, 0, M_LEN, DLT_ATTN_BHTD, 0},    /* batch 1 has no key at all */
    {1, 1, 1, 1, 1, 1, 0, M_NONE, DLT_ATTN_BHTD, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))
#define EMPTY_CASE 7

static int64_t at(const acase *c, int64_t b, int64_t h, int64_t t, int64_t d, int64_t T, int64_t W)
{
    return c->layout == DLT_ATTN_BTHD ? ((b * T + t) * c->H + h) * W + d
                                      : ((b * c->H + h) * T + t) * W + d;
}

static void dims_of(const acase *c, int64_t T, int64_t W, int64_t *d)
{
    d[0] = c->B;
    d[1] = c->layout == DLT_ATTN_BTHD ? T : c->H;
    d[2] = c->layout == DLT_ATTN_BTHD ? c->H : T;
    d[3] = W;
}

typedef struct {
    dlt_graph *g;
    dlt_t q, k, v, m, y, lse;
    float *qd, *kd, *vd;
    void *md;
    size_t nq, nk, nv, no, nl;
} built;

static built build(const acase *c, float dropout, uint64_t seed)
{
    built b;
    memset(&b, 0, sizeof b);
    b.g = dlt_graph_create(seed);
    int64_t dq[4], dk[4], dv[4];
    dims_of(c, c->Tq, c->D, dq);
    dims_of(c, c->Tk, c->D, dk);
    dims_of(c, c->Tk, c->Dv, dv);
    b.q = dlt_input(b.g, "q", DLT_F32, 4, dq);
    b.k = dlt_input(b.g, "k", DLT_F32, 4, dk);
    b.v = dlt_input(b.g, "v", DLT_F32, 4, dv);
    b.nq = (size_t)(c->B * c->H * c->Tq * c->D);
    b.nk = (size_t)(c->B * c->H * c->Tk * c->D);
    b.nv = (size_t)(c->B * c->H * c->Tk * c->Dv);
    b.no = (size_t)(c->B * c->H * c->Tq * c->Dv);
    b.nl = (size_t)(c->B * c->H * c->Tq);
    b.qd = malloc(b.nq * sizeof(float));
    b.kd = malloc(b.nk * sizeof(float));
    b.vd = malloc(b.nv * sizeof(float));
    /* scores up to ~+-4: the softmax is neither flat nor one-hot */
    dlt_test_fill_uniform(b.qd, b.nq, -1.5f, 1.5f, seed + 1);
    dlt_test_fill_uniform(b.kd, b.nk, -1.5f, 1.5f, seed + 2);
    dlt_test_fill_uniform(b.vd, b.nv, -1, 1, seed + 3);
    b.m = -1;
    if (c->mask == M_LEN) {
        int32_t *len = malloc((size_t)c->B * sizeof *len);
        for (int64_t i = 0; i < c->B; i++)
            len[i] = (int32_t)(c->Tk - (i * 3) % c->Tk);
        if (c == &cases[EMPTY_CASE])
            len[1] = 0;
        b.md = len;
        b.m = dlt_input(b.g, "mask", DLT_I32, 1, &c->B);
    } else if (c->mask == M_KEEP) {
        int32_t *keep = malloc((size_t)(c->B * c->Tk) * sizeof *keep);
        float *u = malloc((size_t)(c->B * c->Tk) * sizeof *u);
        dlt_test_fill_uniform(u, (size_t)(c->B * c->Tk), 0, 1, seed + 4);
        for (int64_t i = 0; i < c->B * c->Tk; i++)
            keep[i] = i % c->Tk == 0 || u[i] > 0.3f;
        free(u);
        b.md = keep;
        int64_t md[2] = {c->B, c->Tk};
        b.m = dlt_input(b.g, "mask", DLT_I32, 2, md);
    } else if (c->mask == M_ADD) {
        float *add = malloc((size_t)(c->B * c->Tk) * sizeof *add);
        dlt_test_fill_uniform(add, (size_t)(c->B * c->Tk), -3, 1, seed + 5);
        add[1] = -INFINITY; /* a hard mask inside an additive one */
        b.md = add;
        int64_t md[2] = {c->B, c->Tk};
        b.m = dlt_input(b.g, "mask", DLT_F32, 2, md);
    }
    dlt_attention_opts o = {c->scale, c->causal, dropout, (dlt_attn_layout)c->layout};
    b.y = dlt_attention(b.g, b.q, b.k, b.v, b.m, &o, &b.lse);
    ck_assert_msg(dlt_graph_status(b.g) == DLT_OK, "%s", dlt_graph_errmsg(b.g));
    return b;
}

static void unbuild(built *b)
{
    free(b->qd), free(b->kd), free(b->vd), free(b->md);
    dlt_graph_free(b->g);
}

static dlt_gc_feed feed_of(const built *b, dlt_t *ins, const void **data, int training)
{
    int n = 0;
    ins[n] = b->q, data[n++] = b->qd;
    ins[n] = b->k, data[n++] = b->kd;
    ins[n] = b->v, data[n++] = b->vd;
    if (b->m >= 0)
        ins[n] = b->m, data[n++] = b->md;
    dlt_gc_feed f = {n, ins, data, training};
    return f;
}

/* The reference: scores, softmax and products in double, one row at a time.
 * dO/dlse (may be NULL) give dq, dk, dv (zeroed here). */
static void naive(const acase *c, const built *b, const float *dO, const float *dlse, double *o,
                  double *lse, double *dq, double *dk, double *dv)
{
    double scale = c->scale > 0 ? c->scale : 1.0 / sqrt((double)c->D);
    double *s = malloc((size_t)c->Tk * sizeof *s), *p = malloc((size_t)c->Tk * sizeof *p);
    if (dq) {
        memset(dq, 0, b->nq * sizeof *dq);
        memset(dk, 0, b->nk * sizeof *dk);
        memset(dv, 0, b->nv * sizeof *dv);
    }
    for (int64_t bb = 0; bb < c->B; bb++)
        for (int64_t h = 0; h < c->H; h++)
            for (int64_t i = 0; i < c->Tq; i++) {
                double m = -INFINITY;
                for (int64_t j = 0; j < c->Tk; j++) {
                    double acc = 0;
                    for (int64_t d = 0; d < c->D; d++)
                        acc += (double)b->qd[at(c, bb, h, i, d, c->Tq, c->D)] *
                               b->kd[at(c, bb, h, j, d, c->Tk, c->D)];
                    s[j] = acc * scale;
                    if (c->causal && j > i)
                        s[j] = -INFINITY;
                    if (c->mask == M_LEN && j >= ((const int32_t *)b->md)[bb])
                        s[j] = -INFINITY;
                    if (c->mask == M_KEEP && !((const int32_t *)b->md)[bb * c->Tk + j])
                        s[j] = -INFINITY;
                    if (c->mask == M_ADD)
                        s[j] += ((const float *)b->md)[bb * c->Tk + j];
                    m = s[j] > m ? s[j] : m;
                }
                int64_t li = (bb * c->H + h) * c->Tq + i;
                double sum = 0;
                for (int64_t j = 0; j < c->Tk; j++)
                    sum += p[j] = m == -INFINITY ? 0 : exp(s[j] - m);
                for (int64_t j = 0; j < c->Tk; j++)
                    p[j] = m == -INFINITY ? 0 : p[j] / sum;
                lse[li] = m == -INFINITY ? -INFINITY : m + log(sum);
                for (int64_t e = 0; e < c->Dv; e++) {
                    double acc = 0;
                    for (int64_t j = 0; j < c->Tk; j++)
                        acc += p[j] * b->vd[at(c, bb, h, j, e, c->Tk, c->Dv)];
                    o[at(c, bb, h, i, e, c->Tq, c->Dv)] = acc;
                }
                if (!dq)
                    continue;
                /* dS = P (dP - sum P dP) + P dlse */
                double D = 0;
                for (int64_t j = 0; j < c->Tk; j++) {
                    double dp = 0;
                    for (int64_t e = 0; e < c->Dv; e++)
                        dp += (dO ? dO[at(c, bb, h, i, e, c->Tq, c->Dv)] : 0.0) *
                              b->vd[at(c, bb, h, j, e, c->Tk, c->Dv)];
                    s[j] = dp;
                    D += p[j] * dp;
                }
                for (int64_t j = 0; j < c->Tk; j++) {
                    double ds = p[j] * (s[j] - D + (dlse ? dlse[li] : 0.0));
                    for (int64_t e = 0; e < c->Dv && dO; e++)
                        dv[at(c, bb, h, j, e, c->Tk, c->Dv)] +=
                            p[j] * dO[at(c, bb, h, i, e, c->Tq, c->Dv)];
                    for (int64_t d = 0; d < c->D; d++) {
                        dq[at(c, bb, h, i, d, c->Tq, c->D)] +=
                            scale * ds * b->kd[at(c, bb, h, j, d, c->Tk, c->D)];
                        dk[at(c, bb, h, j, d, c->Tk, c->D)] +=
                            scale * ds * b->qd[at(c, bb, h, i, d, c->Tq, c->D)];
                    }
                }
            }
    free(s), free(p);
}

static double relerr_d(const float *a, const double *r, size_t n, double floor)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        if (isinf(r[i]) && a[i] == (float)r[i])
            continue;
        double m = fabs(r[i]) > floor ? fabs(r[i]) : floor, d = fabs(a[i] - r[i]) / m;
        e = d > e || isnan(d) ? d : e;
    }
    return e;
}

/* f32 scores, expf and f32 GEMM accumulations over <= 130 terms: ~1e-6
 * relative; the floor covers outputs near zero (sums of +-1 values). */
#define FWD_TOL 2e-5
#define FWD_FLOOR 1e-3

START_TEST(forward_matches_naive)
{
    const acase *c = &cases[_i];
    built b = build(c, 0, 100 + (uint64_t)_i);
    dlt_t ins[4];
    const void *data[4];
    dlt_gc_feed f = feed_of(&b, ins, data, 1); /* training mode: no dropout asked */
    dlt_t outs[2] = {b.y, b.lse};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(b.g, 2, outs, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    for (int i = 0; i < f.ninputs; i++)
        memcpy(dlt_plan_data(p, ins[i]), data[i], dlt_shape_bytes(dlt_shape_of(b.g, ins[i])));
    dlt_exec_opts eo = {.training = 1};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());
    double *o = malloc(b.no * sizeof *o), *lse = malloc(b.nl * sizeof *lse);
    naive(c, &b, NULL, NULL, o, lse, NULL, NULL, NULL);
    double eo_ = relerr_d(dlt_plan_data(p, b.y), o, b.no, FWD_FLOOR);
    double el = relerr_d(dlt_plan_data(p, b.lse), lse, b.nl, FWD_FLOOR);
    ck_assert_msg(eo_ < FWD_TOL && el < FWD_TOL, "case %d: output err %g, lse err %g", _i, eo_, el);
    if (_i == EMPTY_CASE) { /* batch 1 sees no key: zeros and -inf */
        const float *y = dlt_plan_data(p, b.y), *l = dlt_plan_data(p, b.lse);
        for (int64_t i = 0; i < c->Tq; i++) {
            ck_assert(isinf(l[c->Tq + i]) && l[c->Tq + i] < 0);
            for (int64_t e = 0; e < c->Dv; e++)
                ck_assert(y[(c->Tq + i) * c->Dv + e] == 0.f);
        }
    }
    free(o), free(lse);
    dlt_plan_free(p);
    unbuild(&b);
}
END_TEST

/* Gradients of L = sum(R1 o) + sum(R2 lse) (which = 0), of sum(R1 o) only
 * (which = 1: no lse gradient) and of sum(R2 lse) only (which = 2: no output
 * gradient, the backward's dO-free path). */
static void check_grads(int ci, int which)
{
    const acase *c = &cases[ci];
    built b = build(c, 0, 200 + (uint64_t)ci);
    float *r1 = malloc(b.no * sizeof *r1), *r2 = malloc(b.nl * sizeof *r2);
    dlt_test_fill_uniform(r1, b.no, -1, 1, 300 + (uint64_t)ci);
    dlt_test_fill_uniform(r2, b.nl, -1, 1, 400 + (uint64_t)ci);
    int64_t od[4], ld[3] = {c->B, c->H, c->Tq};
    dims_of(c, c->Tq, c->Dv, od);
    dlt_t l1 = dlt_sum(b.g, dlt_mul(b.g, b.y, dlt_constant(b.g, DLT_F32, 4, od, r1)), 0, NULL, 0);
    dlt_t l2 = dlt_sum(b.g, dlt_mul(b.g, b.lse, dlt_constant(b.g, DLT_F32, 3, ld, r2)), 0, NULL, 0);
    dlt_t loss = which == 0 ? dlt_add(b.g, l1, l2) : which == 1 ? l1 : l2;
    dlt_t wrt[3] = {b.q, b.k, b.v}, gr[3];
    ck_assert_msg(dlt_grad(b.g, loss, 3, wrt, gr) == DLT_OK, "%s", dlt_errmsg());
    dlt_t ins[4];
    const void *data[4];
    dlt_gc_feed f = feed_of(&b, ins, data, 1);
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(b.g, 3, gr, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_msg(dlt_plan_verify(p) == DLT_OK, "%s", dlt_errmsg());
    for (int i = 0; i < f.ninputs; i++)
        memcpy(dlt_plan_data(p, ins[i]), data[i], dlt_shape_bytes(dlt_shape_of(b.g, ins[i])));
    dlt_exec_opts eo = {.training = 1};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());
    double *o = malloc(b.no * sizeof *o), *lse = malloc(b.nl * sizeof *lse);
    double *dq = malloc(b.nq * sizeof *dq), *dk = malloc(b.nk * sizeof *dk),
           *dv = malloc(b.nv * sizeof *dv);
    naive(c, &b, which == 2 ? NULL : r1, which == 1 ? NULL : r2, o, lse, dq, dk, dv);
    /* f32 recomputation of P from lse (exp(s - lse) vs exp(s - m) / sum) and
     * f32 GEMMs: a few 1e-6 relative; gradients near zero get the floor */
    double e[3] = {relerr_d(dlt_plan_data(p, gr[0]), dq, b.nq, 1e-2),
                   relerr_d(dlt_plan_data(p, gr[1]), dk, b.nk, 1e-2),
                   relerr_d(dlt_plan_data(p, gr[2]), dv, b.nv, 1e-2)};
    ck_assert_msg(e[0] < 5e-5 && e[1] < 5e-5 && e[2] < 5e-5, "case %d/%d: dq %g dk %g dv %g", ci,
                  which, e[0], e[1], e[2]);
    free(o), free(lse), free(dq), free(dk), free(dv), free(r1), free(r2);
    dlt_plan_free(p);
    unbuild(&b);
}

START_TEST(gradients_match_naive)
{
    /* a fully masked row has lse -inf: sum(R2 lse) is not finite there */
    check_grads(_i, _i == EMPTY_CASE ? 1 : 0);
}
END_TEST

START_TEST(gradients_through_one_output_match_naive)
{
    check_grads(_i % 2 ? 4 : 2, 1 + _i / 2);
    check_grads(_i % 2 ? 5 : 0, 1 + _i / 2);
}
END_TEST

/* Central differences with eps 1e-3 on f32 runs: the loss sum(r o) has
 * magnitude <= ~sqrt(numel) ~ 25 with f32 rounding ~1e-6 of it, so ~1e-3
 * absolute noise after dividing by 2 eps; directional derivatives are O(1..30). */
START_TEST(gradcheck_eval_and_dropout)
{
    int ci = _i % NCASES;
    int training = _i >= NCASES;
    if (training && ci == 8)
        return; /* one key: dropout of a 1x1 softmax is all-or-nothing */
    built b = build(&cases[ci], training ? 0.2f : 0, 500 + (uint64_t)_i);
    dlt_t ins[4];
    const void *data[4];
    dlt_gc_feed f = feed_of(&b, ins, data, training);
    dlt_t wrt[3] = {b.q, b.k, b.v};
    double an, nu;
    dlt_test_gradcheck(b.g, b.y, 3, wrt, &f, 1e-3, 9 + (uint64_t)_i, &an, &nu);
    dlt_test_assert_close(training ? "attention (dropout)" : "attention", an, nu, 2e-3, 3e-3);
    unbuild(&b);
}
END_TEST

/* With v = identity per head (Tk = Dv) the output is the dropped-out
 * probability matrix itself: every entry is 0 or P / (1 - p). */
START_TEST(dropout_drops_probabilities)
{
    const acase c = {2, 2, 16, 32, 8, 32, 0, M_NONE, DLT_ATTN_BHTD, 0};
    const float pdrop = 0.25f;
    built b = build(&c, pdrop, 77);
    for (int64_t h = 0; h < c.B * c.H; h++)
        for (int64_t j = 0; j < c.Tk; j++)
            for (int64_t e = 0; e < c.Dv; e++)
                b.vd[(h * c.Tk + j) * c.Dv + e] = j == e ? 1.f : 0.f;
    double *o = malloc(b.no * sizeof *o), *lse = malloc(b.nl * sizeof *lse);
    naive(&c, &b, NULL, NULL, o, lse, NULL, NULL, NULL);
    dlt_t ins[4];
    const void *data[4];
    float *y = malloc(b.no * sizeof *y), *y2 = malloc(b.no * sizeof *y2);
    feed_of(&b, ins, data, 1);
    dlt_plan *p = NULL;
    ck_assert(dlt_plan_create(b.g, 1, &b.y, NULL, &p) == DLT_OK);
    for (int i = 0; i < 3; i++)
        memcpy(dlt_plan_data(p, ins[i]), data[i], dlt_shape_bytes(dlt_shape_of(b.g, ins[i])));
    dlt_exec_opts eo = {.training = 1, .step = 5};
    ck_assert(dlt_plan_run(p, &eo) == DLT_OK);
    memcpy(y, dlt_plan_data(p, b.y), b.no * sizeof *y);
    /* the documented mask: key j of row (bh, i) is kept when the scalar
     * counter RNG's draw at (bh Tq + i) Tk + j of the node's stream is >= p */
    uint64_t stream = attn_stream(DLT_CATTR(dlt_producer(b.g, b.y), attn_attr)->id, 5);
    size_t dropped = 0;
    for (size_t i = 0; i < b.no; i++) { /* i = (bh Tq + row) Dv + e, and e is the key j */
        int kept = dlt_rng_uniform(77, stream, (uint64_t)i) >= pdrop;
        ck_assert_msg(kept == (y[i] != 0.f), "element %zu: kept %d, output %g", i, kept, (double)y[i]);
        if (y[i] == 0.f) {
            dropped++;
            continue;
        }
        double want = o[i] / (1 - pdrop);
        ck_assert_msg(fabs(y[i] - want) <= 2e-5 * want + 1e-7, "kept %g vs %g", (double)y[i], want);
    }
    /* 2048 Bernoulli(0.25) draws: std 0.0096, the bounds are > 5 sigma away */
    double frac = (double)dropped / (double)b.no;
    ck_assert_msg(frac > 0.2 && frac < 0.3, "dropped fraction %g", frac);
    ck_assert(dlt_plan_run(p, &eo) == DLT_OK); /* same step: same mask */
    ck_assert(memcmp(y, dlt_plan_data(p, b.y), b.no * sizeof *y) == 0);
    eo.step = 6; /* another step: another mask */
    ck_assert(dlt_plan_run(p, &eo) == DLT_OK);
    ck_assert(memcmp(y, dlt_plan_data(p, b.y), b.no * sizeof *y) != 0);
    eo.training = 0; /* evaluation: no dropout */
    ck_assert(dlt_plan_run(p, &eo) == DLT_OK);
    memcpy(y2, dlt_plan_data(p, b.y), b.no * sizeof *y2);
    ck_assert(relerr_d(y2, o, b.no, 1e-3) < FWD_TOL);
    free(o), free(lse), free(y), free(y2);
    dlt_plan_free(p);
    unbuild(&b);
}
END_TEST

/* Enough work for the threaded paths (forward over query blocks, backward
 * over heads, and the serial path with split products when heads < threads),
 * which agree bit for bit. */
START_TEST(thread_counts_agree)
{
    /* case 2: 6 heads are whole-head items on 1 thread, single query blocks on 2 */
    const acase cs[3] = {{4, 2, 100, 100, 16, 16, 1, M_LEN, DLT_ATTN_BTHD, 0},
                         {1, 1, 150, 140, 32, 24, 0, M_KEEP, DLT_ATTN_BHTD, 0},
                         {3, 2, 90, 90, 16, 16, 1, M_NONE, DLT_ATTN_BTHD, 0}};
    for (int ci = 0; ci < 3; ci++) {
        const acase *c = &cs[ci];
        built b = build(c, 0.1f, 900);
        float *r1 = malloc(b.no * sizeof *r1);
        dlt_test_fill_uniform(r1, b.no, -1, 1, 901);
        int64_t od[4];
        dims_of(c, c->Tq, c->Dv, od);
        dlt_t loss =
            dlt_sum(b.g, dlt_mul(b.g, b.y, dlt_constant(b.g, DLT_F32, 4, od, r1)), 0, NULL, 0);
        dlt_t wrt[3] = {b.q, b.k, b.v}, outs[4];
        ck_assert(dlt_grad(b.g, loss, 3, wrt, outs + 1) == DLT_OK);
        outs[0] = b.y;
        size_t sz[4] = {b.no, b.nq, b.nk, b.nv};
        float *res[2][4];
        int saved = dlt_get_num_threads();
        for (int t = 0; t < 2; t++) {
            dlt_set_num_threads(t ? 2 : 1);
            dlt_plan *p = NULL;
            ck_assert(dlt_plan_create(b.g, 4, outs, NULL, &p) == DLT_OK);
            dlt_t ins[4];
            const void *data[4];
            dlt_gc_feed f = feed_of(&b, ins, data, 1);
            for (int i = 0; i < f.ninputs; i++)
                memcpy(dlt_plan_data(p, ins[i]), data[i],
                       dlt_shape_bytes(dlt_shape_of(b.g, ins[i])));
            dlt_exec_opts eo = {.training = 1, .step = 3};
            ck_assert(dlt_plan_run(p, &eo) == DLT_OK);
            for (int i = 0; i < 4; i++) {
                res[t][i] = malloc(sz[i] * sizeof(float));
                memcpy(res[t][i], dlt_plan_data(p, outs[i]), sz[i] * sizeof(float));
            }
            dlt_plan_free(p);
        }
        dlt_set_num_threads(saved);
        /* the same sums in the same order per element, whoever computes
         * them: the products' rows split over threads (case 1's single
         * head) or whole heads per thread (case 0) give the same bits */
        for (int i = 0; i < 4; i++) {
            for (size_t j = 0; j < sz[i]; j++)
                ck_assert_msg(memcmp(&res[1][i][j], &res[0][i][j], sizeof(float)) == 0,
                              "case %d output %d element %zu: %g on 2 threads, %g on 1", ci, i, j,
                              res[1][i][j], res[0][i][j]);
            free(res[0][i]), free(res[1][i]);
        }
        free(r1);
        unbuild(&b);
    }
}
END_TEST

/* The packed layout (q, k, v as one [B, T, 3H, D] tensor) against the same
 * tensor split into q, k, v [B, T, H, D]: output, log-sum-exp and the
 * gradient of the packed tensor (through split's concat on the other side),
 * with a key-length mask and causal, training without dropout (the dropout
 * stream is per node). The same arithmetic on other strides: equal to GEMM
 * rounding. */
START_TEST(packed_matches_separate)
{
    const int64_t B = 3, T = 70, H = 2, D = 16;
    const int causal = _i;
    dlt_graph *g = dlt_graph_create(31);
    int64_t xd[4] = {B, T, 3 * H, D}, bd[1] = {B};
    dlt_t x = dlt_input(g, "qkv", DLT_F32, 4, xd), len = dlt_input(g, "len", DLT_I32, 1, bd);
    dlt_attention_opts po = {0, causal, 0.f, DLT_ATTN_PACKED}, so = {0, causal, 0.f, DLT_ATTN_BTHD};
    dlt_t lp, ls, p[3];
    dlt_t yp = dlt_attention(g, x, -1, -1, len, &po, &lp);
    ck_assert_msg(yp >= 0, "%s", dlt_graph_errmsg(g));
    dlt_split(g, x, 2, 3, NULL, p);
    dlt_t ys = dlt_attention(g, p[0], p[1], p[2], len, &so, &ls);
    ck_assert_msg(ys >= 0, "%s", dlt_graph_errmsg(g));
    int64_t od[4] = {B, T, H, D}, lsd[3] = {B, H, T};
    ck_assert(dlt_shape_equal(dlt_shape_of(g, yp), dlt_shape_of(g, ys)));
    size_t no = (size_t)(B * T * H * D), nl = (size_t)(B * H * T), nx = 3 * no;
    float *r = malloc(no * sizeof *r), *rl = malloc(nl * sizeof *rl), *xv = malloc(nx * sizeof *xv);
    dlt_test_fill_uniform(r, no, -1, 1, 41);
    dlt_test_fill_uniform(rl, nl, -1, 1, 42);
    dlt_test_fill_uniform(xv, nx, -2, 2, 43);
    dlt_t cr = dlt_constant(g, DLT_F32, 4, od, r), crl = dlt_constant(g, DLT_F32, 3, lsd, rl);
    dlt_t gx[2];
    for (int s = 0; s < 2; s++) {
        dlt_t y = s ? ys : yp, l = s ? ls : lp;
        dlt_t loss = dlt_add(g, dlt_sum(g, dlt_mul(g, y, cr), 0, NULL, 0), dlt_sum(g, dlt_mul(g, l, crl), 0, NULL, 0));
        ck_assert_int_eq(dlt_grad(g, loss, 1, &x, &gx[s]), DLT_OK);
    }
    dlt_t outs[6] = {yp, ys, lp, ls, gx[0], gx[1]};
    dlt_plan *pl = NULL;
    ck_assert_msg(dlt_plan_create(g, 6, outs, NULL, &pl) == DLT_OK, "%s", dlt_errmsg());
    int32_t lens[3] = {70, 33, 1};
    memcpy(dlt_plan_data(pl, x), xv, nx * sizeof *xv);
    memcpy(dlt_plan_data(pl, len), lens, sizeof lens);
    dlt_exec_opts eo = {.training = 1, .step = 2};
    ck_assert_int_eq(dlt_plan_run(pl, &eo), DLT_OK);
    size_t sz[3] = {no, nl, nx};
    for (int i = 0; i < 3; i++) {
        const float *a = dlt_plan_data(pl, outs[2 * i]), *b = dlt_plan_data(pl, outs[2 * i + 1]);
        double e = dlt_test_max_relerr(a, b, sz[i], 1e-3);
        ck_assert_msg(e < 1e-5, "causal %d output %d: packed against separate %g", causal, i, e);
    }
    dlt_plan_free(pl);
    free(r), free(rl), free(xv);
    dlt_graph_free(g);
}
END_TEST

static void expect_error(dlt_graph *g, dlt_t y, const char *msg)
{
    ck_assert_int_eq(y, -1);
    ck_assert_msg(strstr(dlt_graph_errmsg(g), msg) != NULL, "got '%s', want '%s'",
                  dlt_graph_errmsg(g), msg);
}

START_TEST(bad_arguments_are_reported)
{
    int64_t dq[4] = {2, 3, 5, 4}, dk[4] = {2, 3, 7, 4}, dkd[4] = {2, 3, 7, 5}, dv[4] = {2, 3, 6, 4};
    int64_t dh[4] = {2, 2, 7, 4}, one[1] = {2}, bad[2] = {2, 6}, d3[3] = {2, 3, 5};
    struct {
        int which;
        const char *msg;
    } t[] = {
        {0, "q and k must have the same head size"},
        {1, "k and v must have the same sequence length"},
        {2, "q, k and v must have the same number of heads"},
        {3, "mask must be i32 [B] lengths or [B, Tk] (B 2, Tk 7)"},
        {4, "q, k and v must have rank 4 ([B, H, T, D])"},
        {5, "attention: dropout must be in [0, 1), got 1"},
        {6, "attention: scale must be finite and >= 0 (0: 1/sqrt(D)), got -1"},
        {7, "mask must be i32 (lengths or keep flags) or f32 (additive)"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        dlt_graph *g = dlt_graph_create(1);
        dlt_t q = dlt_input(g, "q", DLT_F32, 4, dq), k = dlt_input(g, "k", DLT_F32, 4, dk);
        dlt_t v = dlt_input(g, "v", DLT_F32, 4, dk), m = -1;
        dlt_attention_opts o = {0};
        switch (t[i].which) {
        case 0:
            k = dlt_input(g, "k2", DLT_F32, 4, dkd), v = dlt_input(g, "v2", DLT_F32, 4, dkd);
            break;
        case 1:
            v = dlt_input(g, "v2", DLT_F32, 4, dv);
            break;
        case 2:
            v = dlt_input(g, "v2", DLT_F32, 4, dh);
            break;
        case 3:
            m = dlt_input(g, "m", DLT_I32, 2, bad);
            break;
        case 4:
            q = dlt_input(g, "q2", DLT_F32, 3, d3);
            break;
        case 5:
            o.dropout = 1;
            break;
        case 6:
            o.scale = -1;
            break;
        default:
            m = dlt_input(g, "m", DLT_U8, 1, one);
            break;
        }
        expect_error(g, dlt_attention(g, q, k, v, m, &o, NULL), t[i].msg);
        dlt_graph_free(g);
    }
    /* a length outside [0, Tk] is reported when the step runs */
    dlt_graph *g = dlt_graph_create(1);
    dlt_t q = dlt_input(g, "q", DLT_F32, 4, dq), k = dlt_input(g, "k", DLT_F32, 4, dk);
    dlt_t m = dlt_input(g, "len", DLT_I32, 1, one);
    dlt_t y = dlt_attention(g, q, k, k, m, NULL, NULL);
    dlt_plan *p = NULL;
    ck_assert(dlt_plan_create(g, 1, &y, NULL, &p) == DLT_OK);
    int32_t len[2] = {3, 8};
    memcpy(dlt_plan_data(p, m), len, sizeof len);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_ERR_INVALID);
    ck_assert_msg(strstr(dlt_errmsg(), "key length 8 of batch 1 is outside [0, 7]"), "%s",
                  dlt_errmsg());
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

/* attention_grad has no rule: asking for a second derivative says so. */
START_TEST(second_order_is_reported_unsupported)
{
    built b = build(&cases[0], 0, 1);
    dlt_t loss = dlt_sum(b.g, b.y, 0, NULL, 0), gq, gg;
    ck_assert(dlt_grad(b.g, loss, 1, &b.q, &gq) == DLT_OK);
    dlt_t l2 = dlt_sum(b.g, dlt_mul(b.g, gq, gq), 0, NULL, 0);
    ck_assert_int_eq(dlt_grad(b.g, l2, 1, &b.q, &gg), DLT_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(dlt_errmsg(), "op attention_grad"), "%s", dlt_errmsg());
    unbuild(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("attention");
    TCase *t = tcase_create("attention");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, forward_matches_naive, 0, NCASES);
    tcase_add_loop_test(t, gradients_match_naive, 0, NCASES);
    tcase_add_loop_test(t, gradients_through_one_output_match_naive, 0, 4);
    tcase_add_loop_test(t, gradcheck_eval_and_dropout, 0, 2 * NCASES);
    tcase_add_test(t, dropout_drops_probabilities);
    tcase_add_test(t, thread_counts_agree);
    tcase_add_loop_test(t, packed_matches_separate, 0, 2);
    tcase_add_test(t, bad_arguments_are_reported);
    tcase_add_test(t, second_order_is_reported_unsupported);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return dlt_test_run(suite());
}
