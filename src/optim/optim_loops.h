/* The element-wise update loops of every algorithm except LAMB, one table per
 * ISA level: this file is compiled once per level (optim_loops_base.c,
 * optim_loops_avx2.c; src/optim/local.mk gives each its flags) with OL_TABLE
 * naming the table it defines. The bodies are optim_elem.h's rules, so every
 * level computes the same expressions in the same order: no FP contraction
 * (-ffp-contract=off), IEEE double arithmetic and a correctly rounded sqrt,
 * hence the same bits on every level (tests/optim/test_optim_isa checks).
 * What the levels change is the vector width: `omp simd` vectorises the
 * double arithmetic once sqrt may not set errno (-fno-math-errno), selects
 * may be computed on both sides (-fno-trapping-math), and no loop has a
 * branch: the options of Adam and RMSprop are made constants by one loop per
 * option set (GCC did not unswitch the parallel loops: Adam ran scalar code,
 * 4.5 ns a parameter on one thread), the rest hoisted (-funswitch-loops);
 * -fopt-info-vec says every loop is vectorised.
 * AdamW over 4.47 M elements on 2 threads of an AVX-512 machine: 11 ms per
 * element in scalar code, 6.8 ms on baseline SSE2 vectors, 5.1 ms with AVX2;
 * AVX-512 vectors were slower (5.3-5.4 ms: 512-bit double sqrt and division),
 * so the avx512 level runs the avx2 table (kernels.c). */
#include "dlt_backend.h"
#include "optim_impl.h"

/* `for i < n: stmt` over vectors, on the team when n is large */
#define OL_FOR(stmt) DLT_SIMD_FOR(n, DLT_OPTIM_PAR_MIN, stmt)

static void ol_sgd(const dlt_optim_coef *k, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    float *p = c->p, *buf = c->s[DLT_SLOT_MOMENTUM_BUFFER];
    const float *g = c->g;
    if (buf) {
        OL_FOR(dlt_sgd_elem(k, &p[i], g[i], &buf[i]));
    } else {
        OL_FOR(dlt_sgd_elem(k, &p[i], g[i], NULL));
    }
}

static void ol_adam(const dlt_optim_config *cfg, const dlt_optim_coef *k, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    float *p = c->p, *m = c->s[DLT_SLOT_EXP_AVG], *v = c->s[DLT_SLOT_EXP_AVG_SQ];
    float *vmax = cfg->amsgrad ? c->s[DLT_SLOT_MAX_EXP_AVG_SQ] : NULL;
    const float *g = c->g;
    /* one loop per option set, each without a branch (GCC left the
     * parallel loops' branches in place: scalar code, 4.5 ns a parameter) */
#define OL_ADAM(dec, l2)                                                                           \
    do {                                                                                           \
        if (vmax)                                                                                  \
            OL_FOR(dlt_adam_elem_as(k, dec, l2, &p[i], g[i], &m[i], &v[i], &vmax[i]));             \
        else                                                                                       \
            OL_FOR(dlt_adam_elem_as(k, dec, l2, &p[i], g[i], &m[i], &v[i], NULL));                 \
    } while (0)
    if (k->decoupled)
        OL_ADAM(1, 0);
    else if (k->wd != 0)
        OL_ADAM(0, 1);
    else
        OL_ADAM(0, 0);
#undef OL_ADAM
}

static void ol_rmsprop(const dlt_optim_config *cfg, const dlt_optim_coef *k,
                       const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    float *p = c->p, *sq = c->s[DLT_SLOT_SQUARE_AVG];
    float *ga = cfg->centered ? c->s[DLT_SLOT_GRAD_AVG] : NULL;
    float *buf = cfg->momentum > 0 ? c->s[DLT_SLOT_MOMENTUM_BUFFER] : NULL;
    const float *g = c->g;
    /* one loop per option set, as Adam's */
#define OL_RMSPROP(GA, BUF) OL_FOR(dlt_rmsprop_elem(k, &p[i], g[i], &sq[i], GA, BUF))
    if (ga && buf)
        OL_RMSPROP(&ga[i], &buf[i]);
    else if (ga)
        OL_RMSPROP(&ga[i], NULL);
    else if (buf)
        OL_RMSPROP(NULL, &buf[i]);
    else
        OL_RMSPROP(NULL, NULL);
#undef OL_RMSPROP
}

static void ol_adadelta(const dlt_optim_coef *k, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    float *p = c->p, *sq = c->s[DLT_SLOT_SQUARE_AVG], *acc = c->s[DLT_SLOT_ACC_DELTA];
    const float *g = c->g;
    OL_FOR(dlt_adadelta_elem(k, &p[i], g[i], &sq[i], &acc[i]));
}

static void ol_adagrad(const dlt_optim_coef *k, const dlt_optim_chunk *c)
{
    const size_t n = c->n;
    float *p = c->p, *sum = c->s[DLT_SLOT_SUM];
    const float *g = c->g;
    OL_FOR(dlt_adagrad_elem(k, &p[i], g[i], &sum[i]));
}

const dlt_optim_loops OL_TABLE = {
    .sgd = ol_sgd,
    .adam = ol_adam,
    .rmsprop = ol_rmsprop,
    .adadelta = ol_adadelta,
    .adagrad = ol_adagrad,
};
