/* The rnn family: lstm_cell and gru_cell against naive loops in double;
 * their backward ops (with dh and dc, dh alone, dc alone) and three
 * unrolled steps of 2-layer LSTM and GRU layers against central finite
 * differences; categorical_sample: the frequencies of many draws against
 * softmax(logits / T) (chi-square, the bound computed here), its index
 * against a naive inverse CDF in double on the documented counter-based
 * word, the same indices for the same (seed, step, rank) and in a new graph
 * (a resumed run), new ones for another step, seed or rank, global keying
 * equal across ranks and batch splits, the same bits with 1 and 4 threads,
 * non-finite rows; its exp against libm; log-prob and entropy builders
 * against naive values; a controller that feeds back its own samples; no
 * second order through the cells; and shape errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_models.h"
#include "dlt_ops.h"
#include "dlt_test.h"
#include "rnn_impl.h"

static double sig(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static float *urand(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = malloc(n * sizeof *x);
    dlt_test_fill_uniform(x, n, lo, hi, seed);
    return x;
}

/* ---------------------------------------------------------------- cells, forward */
START_TEST(lstm_cell_forward)
{
    enum { N = 5, H = 7 };
    dlt_graph *g = dlt_graph_create(1);
    dlt_t gates = dlt_input(g, "gates", DLT_F32, 2, (const int64_t[]){N, 4 * H});
    dlt_t cp = dlt_input(g, "c_prev", DLT_F32, 2, (const int64_t[]){N, H}), c;
    dlt_t h = dlt_lstm_cell(g, gates, cp, &c);
    ck_assert_msg(h >= 0 && c >= 0, "%s", dlt_graph_errmsg(g));
    float *gd = urand(N * 4 * H, -4.f, 4.f, 1), *cd = urand(N * H, -2.f, 2.f, 2);
    dlt_plan *p = NULL;
    dlt_t outs[2] = {h, c};
    ck_assert_int_eq(dlt_plan_create(g, 2, outs, NULL, &p), DLT_OK);
    memcpy(dlt_plan_data(p, gates), gd, sizeof(float) * N * 4 * H);
    memcpy(dlt_plan_data(p, cp), cd, sizeof(float) * N * H);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
    const float *hy = dlt_plan_data(p, h), *cy = dlt_plan_data(p, c);
    double eh = 0, ec = 0;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < H; j++) {
            const float *a = gd + n * 4 * H;
            double i = sig(a[j]), f = sig(a[H + j]), gg = tanh(a[2 * H + j]), o = sig(a[3 * H + j]);
            double cc = f * cd[n * H + j] + i * gg, hh = o * tanh(cc);
            eh = fmax(eh, fabs(hy[n * H + j] - hh));
            ec = fmax(ec, fabs(cy[n * H + j] - cc));
        }
    printf("lstm_cell [%d,%d]: max |h - ref| %.2e, |c - ref| %.2e\n", N, H, eh, ec);
    ck_assert(eh < 1e-6 && ec < 1e-6);
    free(gd), free(cd);
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

START_TEST(gru_cell_forward)
{
    enum { N = 4, H = 9 };
    dlt_graph *g = dlt_graph_create(1);
    dlt_t gi = dlt_input(g, "gi", DLT_F32, 2, (const int64_t[]){N, 3 * H});
    dlt_t gh = dlt_input(g, "gh", DLT_F32, 2, (const int64_t[]){N, 3 * H});
    dlt_t hp = dlt_input(g, "h_prev", DLT_F32, 2, (const int64_t[]){N, H});
    dlt_t h = dlt_gru_cell(g, gi, gh, hp);
    ck_assert_msg(h >= 0, "%s", dlt_graph_errmsg(g));
    float *xi = urand(N * 3 * H, -3.f, 3.f, 3), *xh = urand(N * 3 * H, -3.f, 3.f, 4);
    float *hd = urand(N * H, -1.f, 1.f, 5), y[N * H];
    dlt_gc_feed f = {3, (const dlt_t[]){gi, gh, hp}, (const void *[]){xi, xh, hd}, 1};
    dlt_test_eval(g, h, &f, y);
    double e = 0;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < H; j++) {
            const float *a = xi + n * 3 * H, *b = xh + n * 3 * H;
            double r = sig((double)a[j] + b[j]), z = sig((double)a[H + j] + b[H + j]);
            double nn = tanh(a[2 * H + j] + r * b[2 * H + j]);
            e = fmax(e, fabs(y[n * H + j] - ((1 - z) * nn + z * hd[n * H + j])));
        }
    printf("gru_cell [%d,%d]: max |h - ref| %.2e\n", N, H, e);
    ck_assert(e < 1e-6);
    free(xi), free(xh), free(hd);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- gradients */
#define GC_EPS 1e-3
#define GC_RTOL 2e-3
#define GC_ATOL 1e-4

/* LSTM cell: 0 = y concat(h, c) (dh and dc flow), 1 = h only, 2 = c only. */
START_TEST(lstm_cell_gradcheck)
{
    enum { N = 3, H = 5 };
    dlt_graph *g = dlt_graph_create(1);
    dlt_t gates = dlt_input(g, "gates", DLT_F32, 2, (const int64_t[]){N, 4 * H});
    dlt_t cp = dlt_input(g, "c_prev", DLT_F32, 2, (const int64_t[]){N, H}), c;
    dlt_t h = dlt_lstm_cell(g, gates, cp, &c);
    dlt_t y = _i == 0 ? dlt_concat(g, 2, (const dlt_t[]){h, c}, 1) : _i == 1 ? h : c;
    float *gd = urand(N * 4 * H, -2.f, 2.f, 11), *cd = urand(N * H, -1.5f, 1.5f, 12);
    dlt_gc_feed f = {2, (const dlt_t[]){gates, cp}, (const void *[]){gd, cd}, 1};
    double an, nu;
    dlt_test_gradcheck(g, y, 2, (const dlt_t[]){gates, cp}, &f, GC_EPS, 21 + (uint64_t)_i, &an,
                       &nu);
    printf("lstm_cell gradcheck (%s): analytic %.9g numeric %.9g\n",
           _i == 0   ? "h and c"
           : _i == 1 ? "h only"
                     : "c only",
           an, nu);
    dlt_test_assert_close("lstm_cell", an, nu, GC_RTOL, GC_ATOL);
    free(gd), free(cd);
    dlt_graph_free(g);
}
END_TEST

START_TEST(gru_cell_gradcheck)
{
    enum { N = 3, H = 6 };
    dlt_graph *g = dlt_graph_create(1);
    dlt_t gi = dlt_input(g, "gi", DLT_F32, 2, (const int64_t[]){N, 3 * H});
    dlt_t gh = dlt_input(g, "gh", DLT_F32, 2, (const int64_t[]){N, 3 * H});
    dlt_t hp = dlt_input(g, "h_prev", DLT_F32, 2, (const int64_t[]){N, H});
    dlt_t h = dlt_gru_cell(g, gi, gh, hp);
    float *xi = urand(N * 3 * H, -2.f, 2.f, 13), *xh = urand(N * 3 * H, -2.f, 2.f, 14);
    float *hd = urand(N * H, -1.f, 1.f, 15);
    dlt_t in[3] = {gi, gh, hp};
    dlt_gc_feed f = {3, in, (const void *[]){xi, xh, hd}, 1};
    double an, nu;
    dlt_test_gradcheck(g, h, 3, in, &f, GC_EPS, 23, &an, &nu);
    printf("gru_cell gradcheck: analytic %.9g numeric %.9g\n", an, nu);
    dlt_test_assert_close("gru_cell", an, nu, GC_RTOL, GC_ATOL);
    free(xi), free(xh), free(hd);
    dlt_graph_free(g);
}
END_TEST

/* 2-layer layers over T = 3 steps: the outputs and final states w.r.t. the
 * input sequence, the initial states and every parameter. */
START_TEST(layers_gradcheck)
{
    enum { T = 3, N = 2, I = 3, H = 4, L = 2 };
    int lstm = _i == 0;
    dlt_graph *g = dlt_graph_create(5);
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, (const int64_t[]){T, N, I});
    dlt_t h0 = dlt_input(g, "h0", DLT_F32, 3, (const int64_t[]){L, N, H});
    dlt_t c0 = dlt_input(g, "c0", DLT_F32, 3, (const int64_t[]){L, N, H});
    dlt_t hn, cn = -1;
    dlt_t y = lstm ? dlt_nn_lstm(g, "rnn", x, H, L, h0, c0, &hn, &cn)
                   : dlt_nn_gru(g, "rnn", x, H, L, h0, &hn);
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    int64_t flat[1] = {-1};
    dlt_t parts[3] = {dlt_reshape(g, y, 1, flat), dlt_reshape(g, hn, 1, flat),
                      lstm ? dlt_reshape(g, cn, 1, flat) : -1};
    dlt_t all = dlt_concat(g, lstm ? 3 : 2, parts, 0);
    dlt_t wrt[3 + 4 * L];
    int nw = 0;
    wrt[nw++] = x, wrt[nw++] = h0;
    if (lstm)
        wrt[nw++] = c0;
    for (dlt_t v = 0; v < dlt_graph_num_values(g); v++)
        if (dlt_kind_of(g, v) == DLT_VAL_PARAM)
            wrt[nw++] = v;
    ck_assert_int_eq(nw, (lstm ? 3 : 2) + 4 * L);
    float *xd = urand(T * N * I, -1.f, 1.f, 31), *hd = urand(L * N * H, -1.f, 1.f, 32);
    float *cd = urand(L * N * H, -1.f, 1.f, 33);
    dlt_gc_feed f = {3, (const dlt_t[]){x, h0, c0}, (const void *[]){xd, hd, cd}, 1};
    double an, nu;
    dlt_test_gradcheck(g, all, nw, wrt, &f, GC_EPS, 41, &an, &nu);
    printf(
        "%s 2 layers x 3 steps gradcheck (x, states, %d parameters): analytic %.9g numeric %.9g\n",
        lstm ? "LSTM" : "GRU", 4 * L, an, nu);
    dlt_test_assert_close(lstm ? "lstm layers" : "gru layers", an, nu, GC_RTOL, GC_ATOL);
    free(xd), free(hd), free(cd);
    dlt_graph_free(g);
}
END_TEST

/* Parameter names, shapes and torch's initialisation bound. */
START_TEST(layer_parameters)
{
    dlt_graph *g = dlt_graph_create(3);
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, (const int64_t[]){2, 1, 7});
    dlt_t hn, cn;
    ck_assert(dlt_nn_lstm(g, "enc", x, 16, 2, -1, -1, &hn, &cn) >= 0);
    ck_assert(dlt_nn_gru(g, "dec", x, 9, 1, -1, NULL) >= 0);
    ck_assert_int_eq(dlt_graph_finalize(g, NULL, 0), DLT_OK); /* parameter storage */
    struct {
        const char *name;
        int64_t d0, d1;
        double bound;
    } want[] = {{"enc.weight_ih_l0", 64, 7, 0.25},    {"enc.weight_hh_l0", 64, 16, 0.25},
                {"enc.bias_ih_l0", 64, 0, 0.25},      {"enc.bias_hh_l1", 64, 0, 0.25},
                {"enc.weight_ih_l1", 64, 16, 0.25},   {"dec.weight_ih_l0", 27, 7, 1.0 / 3},
                {"dec.weight_hh_l0", 27, 9, 1.0 / 3}, {"dec.bias_hh_l0", 27, 0, 1.0 / 3}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        dlt_t v = dlt_param_lookup(g, want[k].name);
        ck_assert_msg(v >= 0, "no parameter %s", want[k].name);
        const dlt_shape *s = dlt_shape_of(g, v);
        ck_assert_int_eq(s->ndim, want[k].d1 ? 2 : 1);
        ck_assert_int_eq(s->dim[0], want[k].d0);
        if (want[k].d1)
            ck_assert_int_eq(s->dim[1], want[k].d1);
        const float *d = dlt_param_data(g, v);
        double lo = 0, hi = 0;
        for (int64_t i = 0; i < dlt_shape_numel(s); i++)
            lo = fmin(lo, d[i]), hi = fmax(hi, d[i]);
        /* uniform in +-bound: inside it, and reaching most of it */
        ck_assert_msg(lo >= -want[k].bound && hi <= want[k].bound && hi - lo > want[k].bound,
                      "%s in [%g, %g], bound %g", want[k].name, lo, hi, want[k].bound);
    }
    ck_assert_int_eq(dlt_shape_of(g, hn)->dim[0], 2);
    ck_assert_int_eq(dlt_shape_of(g, cn)->dim[2], 16);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- sampling */
/* exp of the sampler against libm in double. */
START_TEST(sampler_exp)
{
    double worst = 0;
    for (int i = 0; i <= 800000; i++) {
        float x = -80.f * (float)i / 800000.f;
        double ref = exp((double)x), got = dlt_rnn_exp(x);
        worst = fmax(worst, fabs(got - ref) / ref);
    }
    printf("sampler exp on [-80, 0]: max relative error %.2e (2^-23 = %.2e)\n", worst, 0x1p-23);
    ck_assert(worst < 0x1p-22); /* 2 ulp of the result, at most */
    ck_assert(dlt_rnn_exp(-80.5f) == 0.f && dlt_rnn_exp(0.f) == 1.f);
}
END_TEST

typedef struct {
    dlt_graph *g;
    dlt_plan *p;
    dlt_t x, y;
    uint64_t id;
} snet;

static snet smake(uint64_t seed, int64_t N, int64_t K, const dlt_categorical_opts *o)
{
    snet s = {dlt_graph_create(seed), NULL, -1, -1, 0};
    s.x = dlt_input(s.g, "logits", DLT_F32, 2, (const int64_t[]){N, K});
    s.id = (uint64_t)dlt_graph_num_nodes(s.g) + 1;
    s.y = dlt_categorical_sample(s.g, s.x, o);
    ck_assert_msg(s.y >= 0, "%s", dlt_graph_errmsg(s.g));
    ck_assert_int_eq(dlt_shape_of(s.g, s.y)->dtype, DLT_I32);
    ck_assert_int_eq(dlt_plan_create(s.g, 1, &s.y, NULL, &s.p), DLT_OK);
    return s;
}

static const int32_t *srun(snet *s, const float *logits, int64_t step, uint64_t rank, int threads)
{
    memcpy(dlt_plan_data(s->p, s->x), logits, dlt_shape_bytes(dlt_shape_of(s->g, s->x)));
    dlt_exec_opts eo = {.training = 1, .step = step, .rng_stream = rank};
    int saved = dlt_get_num_threads();
    if (threads)
        dlt_set_num_threads(threads);
    ck_assert_msg(dlt_plan_run(s->p, &eo) == DLT_OK, "%s", dlt_errmsg());
    dlt_set_num_threads(saved);
    return dlt_plan_data(s->p, s->y);
}

static void sfree(snet *s)
{
    dlt_plan_free(s->p);
    dlt_graph_free(s->g);
}

/* The chi-square quantile for df degrees of freedom at upper tail 1e-4
 * (Wilson-Hilferty: (X/df)^(1/3) is nearly normal; z = 3.719). */
static double chi2_bound(int df)
{
    double v = 2.0 / (9.0 * df), q = 1.0 - v + 3.719 * sqrt(v);
    return df * q * q * q;
}

/* N rows of the same logits: N independent draws of one distribution. */
START_TEST(sample_frequencies)
{
    enum { N = 60000, K = 7 };
    static const float base[K] = {0.3f, -1.2f, 2.0f, 0.0f, -3.5f, 1.1f, 0.7f};
    static const float temps[] = {1.f, 2.5f, 0.6f};
    float temp = temps[_i];
    float *x = malloc(sizeof(float) * N * K);
    for (int n = 0; n < N; n++)
        memcpy(x + n * K, base, sizeof base);
    dlt_categorical_opts o = {.temperature = temp};
    snet s = smake(99, N, K, &o);
    const int32_t *y = srun(&s, x, 4, 0, 0);
    double p[K], z = 0, mx = -INFINITY, chi2 = 0;
    long cnt[K] = {0};
    for (int k = 0; k < K; k++)
        mx = fmax(mx, base[k] / (double)temp);
    for (int k = 0; k < K; k++)
        z += p[k] = exp(base[k] / (double)temp - mx);
    for (int n = 0; n < N; n++) {
        ck_assert(y[n] >= 0 && y[n] < K);
        cnt[y[n]]++;
    }
    for (int k = 0; k < K; k++) {
        double e = N * p[k] / z;
        chi2 += (cnt[k] - e) * (cnt[k] - e) / e;
    }
    double bound = chi2_bound(K - 1);
    printf("categorical_sample T=%g, %d draws of %d classes: chi-square %.2f (bound %.2f at p = "
           "1e-4)\n",
           (double)temp, N, K, chi2, bound);
    ck_assert(chi2 < bound);
    sfree(&s);
    free(x);
}
END_TEST

/* Each row's index against the inverse CDF in double on the uniform of the
 * documented word (the random family's stream and counters): equal except
 * where u lies within 1e-6 of a CDF boundary (float rounding). */
static uint64_t ref_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t ref_word(uint64_t seed, uint64_t id, int64_t step, uint64_t i)
{
    const uint64_t golden = 0x9e3779b97f4a7c15ull;
    uint64_t stream =
        ref_mix(id * 0xd1342543de82ef95ull ^ ref_mix((uint64_t)step + 0x2545f4914f6cdd1dull));
    return ref_mix(ref_mix(seed ^ ref_mix(stream + golden)) + i * golden);
}

START_TEST(sample_matches_naive_inverse_cdf)
{
    enum { N = 5000, K = 11 };
    float *x = urand(N * K, -5.f, 5.f, 77);
    dlt_categorical_opts o = {.temperature = 1.7f};
    snet s = smake(1234, N, K, &o);
    const int32_t *y = srun(&s, x, 9, 0, 0);
    int same = 0, near = 0;
    for (int n = 0; n < N; n++) {
        double u = (double)(ref_word(1234, s.id, 9, (uint64_t)n) >> 40) / 16777216.0;
        double w[K], z = 0, mx = -INFINITY, cum = 0, gap = 1;
        for (int k = 0; k < K; k++)
            mx = fmax(mx, x[n * K + k] / 1.7);
        for (int k = 0; k < K; k++)
            z += w[k] = exp(x[n * K + k] / 1.7 - mx);
        int ref = K - 1;
        for (int k = 0; k < K; k++) {
            cum += w[k] / z;
            gap = fmin(gap, fabs(cum - u));
            if (cum > u) {
                ref = k;
                break;
            }
        }
        if (y[n] == ref)
            same++;
        else
            ck_assert_msg(gap < 1e-6, "row %d: index %d, naive %d (u %.9f)", n, y[n], ref, u);
        near += gap < 1e-6;
    }
    printf("categorical_sample vs naive inverse CDF: %d of %d rows equal (%d near a boundary)\n",
           same, N, near);
    ck_assert_int_ge(same, N - near);
    sfree(&s);
    free(x);
}
END_TEST

static int differ(const int32_t *a, const int32_t *b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof *a) != 0;
}

START_TEST(sample_keys)
{
    enum { N = 1000, K = 9 }; /* N K > 8192: the CPU kernel runs in parallel */
    float *x = urand(N * K, -2.f, 2.f, 5);
    int32_t a[N], b[N], c[N];
    snet s = smake(77, N, K, NULL);
    memcpy(a, srun(&s, x, 5, 0, 1), sizeof a);
    /* the same step again, with 4 threads; a new graph with the same seed
     * (a resumed run): the same indices */
    ck_assert(!differ(a, srun(&s, x, 5, 0, 4), N));
    snet s2 = smake(77, N, K, NULL);
    ck_assert(!differ(a, srun(&s2, x, 5, 0, 0), N));
    /* another step, another rank, another seed: new indices */
    ck_assert(differ(a, srun(&s2, x, 6, 0, 0), N));
    ck_assert(differ(a, srun(&s2, x, 5, 1, 0), N));
    snet s3 = smake(78, N, K, NULL);
    ck_assert(differ(a, srun(&s3, x, 5, 0, 0), N));
    sfree(&s), sfree(&s2), sfree(&s3);

    /* global keying: every rank draws the same; rows [500, 1000) of one
     * batch of 1000 are what a rank with first_sample 500 draws */
    dlt_categorical_opts o = {.global = 1, .first_sample = 0};
    s = smake(77, N, K, &o);
    memcpy(c, srun(&s, x, 5, 0, 0), sizeof c);
    ck_assert(!differ(c, srun(&s, x, 5, 1, 0), N));
    o.first_sample = N / 2;
    s2 = smake(77, N / 2, K, &o);
    memcpy(b, srun(&s2, x + N / 2 * K, 5, 3, 0), sizeof(int32_t) * (N / 2));
    ck_assert(!differ(c + N / 2, b, N / 2));
    sfree(&s), sfree(&s2);

    /* a row with a non-finite logit gives -1; the others are unaffected */
    x[3 * K + 2] = NAN;
    x[7 * K] = INFINITY;
    s = smake(77, N, K, NULL);
    const int32_t *y = srun(&s, x, 5, 0, 0);
    ck_assert_int_eq(y[3], -1);
    ck_assert_int_eq(y[7], -1);
    for (int n = 0; n < N; n++) /* a: seed 77, step 5, rank 0 */
        if (n != 3 && n != 7)
            ck_assert_int_eq(y[n], a[n]);
    sfree(&s);
    free(x);
}
END_TEST

/* log p(idx) and entropy against naive double values. */
START_TEST(log_prob_and_entropy)
{
    enum { N = 6, K = 5 };
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "logits", DLT_F32, 2, (const int64_t[]){N, K});
    dlt_t idx = dlt_input(g, "idx", DLT_I32, 1, (const int64_t[]){N});
    dlt_t lp = dlt_categorical_log_prob(g, x, idx), ent = dlt_categorical_entropy(g, x);
    ck_assert_msg(lp >= 0 && ent >= 0, "%s", dlt_graph_errmsg(g));
    float *xd = urand(N * K, -3.f, 3.f, 8), lpv[N], ev[N];
    int32_t id[N] = {0, 4, 2, 3, 1, 4};
    dlt_gc_feed f = {2, (const dlt_t[]){x, idx}, (const void *[]){xd, id}, 0};
    dlt_test_eval(g, lp, &f, lpv);
    dlt_test_eval(g, ent, &f, ev);
    for (int n = 0; n < N; n++) {
        double z = 0, h = 0;
        for (int k = 0; k < K; k++)
            z += exp(xd[n * K + k]);
        for (int k = 0; k < K; k++) {
            double q = exp(xd[n * K + k]) / z;
            h -= q * log(q);
        }
        ck_assert_double_eq_tol(lpv[n], xd[n * K + id[n]] - log(z), 1e-6);
        ck_assert_double_eq_tol(ev[n], h, 1e-6);
    }
    /* their gradients w.r.t. the logits */
    dlt_t both = dlt_concat(g, 2, (const dlt_t[]){lp, ent}, 0);
    double an, nu;
    dlt_test_gradcheck(g, both, 1, &x, &f, GC_EPS, 3, &an, &nu);
    dlt_test_assert_close("log_prob and entropy", an, nu, GC_RTOL, GC_ATOL);
    free(xd);
    dlt_graph_free(g);
}
END_TEST

/* A controller that feeds back its own samples: the input of step t is the
 * embedding of the index sampled at step t - 1. The REINFORCE gradients flow
 * through the log-probabilities only; running the same graph with the
 * sampled indices fed as fixed actions gives the same loss and gradients. */
static dlt_t controller(dlt_graph *g, dlt_t acts, dlt_t *sampled, dlt_t *wrt, int *nw)
{
    enum { T = 4, N = 3, I = 4, H = 5, K = 3 };
    dlt_rnn r;
    dlt_nn_rnn_create(g, "lstm", DLT_RNN_LSTM, I, H, 2, &r);
    dlt_t fw = dlt_param(g, "fc.weight", 2, (const int64_t[]){K, H}, dlt_init_uniform(-1, 1));
    dlt_t emb = dlt_param(g, "embed.weight", 2, (const int64_t[]){K, I}, dlt_init_uniform(-1, 1));
    dlt_t x = dlt_param(g, "start", 2, (const int64_t[]){N, I}, dlt_init_uniform(-1, 1));
    dlt_t h[2] = {-1, -1}, c[2] = {-1, -1}, loss = -1, fixed[T];
    if (acts >= 0)
        dlt_split(g, acts, 0, T, NULL, fixed);
    for (int t = 0; t < T; t++) {
        dlt_t logits = dlt_matmul(g, dlt_nn_rnn_step(g, &r, x, h, c), fw, 0, 1);
        dlt_t a = acts >= 0 ? dlt_reshape(g, fixed[t], 1, (const int64_t[]){N})
                            : dlt_categorical_sample(g, logits, NULL);
        sampled[t] = a;
        dlt_t term = dlt_sum(g, dlt_categorical_log_prob(g, logits, a), 0, NULL, 0);
        loss = loss < 0 ? term : dlt_add(g, loss, term);
        x = dlt_embedding(g, emb, a);
    }
    *nw = 0;
    for (dlt_t v = 0; v < dlt_graph_num_values(g); v++)
        if (dlt_kind_of(g, v) == DLT_VAL_PARAM)
            wrt[(*nw)++] = v;
    return loss;
}

START_TEST(controller_feeds_back_samples)
{
    enum { T = 4, N = 3 };
    dlt_graph *g = dlt_graph_create(42), *g2 = dlt_graph_create(42);
    dlt_t sampled[T], wrt[16], grads[16], outs[T + 17];
    int nw, nw2;
    dlt_t loss = controller(g, -1, sampled, wrt, &nw);
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
    ck_assert_int_eq(dlt_grad(g, loss, nw, wrt, grads), DLT_OK);
    outs[0] = loss;
    memcpy(outs + 1, grads, (size_t)nw * sizeof *grads);
    memcpy(outs + 1 + nw, sampled, sizeof sampled);
    dlt_plan *p = NULL, *p2 = NULL;
    ck_assert_int_eq(dlt_plan_create(g, 1 + nw + T, outs, NULL, &p), DLT_OK);
    dlt_exec_opts eo = {.training = 1, .step = 2};
    ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    int32_t acts[T * N];
    for (int t = 0; t < T; t++)
        memcpy(acts + t * N, dlt_plan_data(p, sampled[t]), sizeof(int32_t) * N);

    dlt_t ain = dlt_input(g2, "actions", DLT_I32, 2, (const int64_t[]){T, N}), s2[T], w2[16],
          gr2[16];
    dlt_t loss2 = controller(g2, ain, s2, w2, &nw2);
    ck_assert_int_eq(nw, nw2);
    ck_assert_int_eq(dlt_grad(g2, loss2, nw2, w2, gr2), DLT_OK);
    dlt_t o2[17] = {loss2};
    memcpy(o2 + 1, gr2, (size_t)nw2 * sizeof *gr2);
    ck_assert_int_eq(dlt_plan_create(g2, 1 + nw2, o2, NULL, &p2), DLT_OK);
    memcpy(dlt_plan_data(p2, ain), acts, sizeof acts);
    ck_assert_int_eq(dlt_plan_run(p2, &eo), DLT_OK);
    int spread = 0;
    for (int i = 1; i < T * N; i++)
        spread |= acts[i] != acts[0];
    ck_assert_msg(spread, "all sampled actions equal");
    for (int i = 0; i <= nw; i++) {
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(g, outs[i]));
        ck_assert(memcmp(dlt_plan_data(p, outs[i]), dlt_plan_data(p2, o2[i]), n * sizeof(float)) ==
                  0);
    }
    printf("controller: %d steps of sampled feedback, log-prob sum %.6f, %d parameter gradients "
           "equal to the fixed-action graph's\n",
           T, (double)*(const float *)dlt_plan_data(p, loss), nw);
    dlt_plan_free(p), dlt_plan_free(p2);
    dlt_graph_free(g), dlt_graph_free(g2);
}
END_TEST

/* Second order through the cells is not supported: dlt_grad says so. */
START_TEST(no_second_order)
{
    dlt_graph *g = dlt_graph_create(1);
    dlt_t gates = dlt_input(g, "gates", DLT_F32, 2, (const int64_t[]){2, 8});
    dlt_t cp = dlt_input(g, "c_prev", DLT_F32, 2, (const int64_t[]){2, 2});
    dlt_t h = dlt_lstm_cell(g, gates, cp, NULL), dg, d2;
    ck_assert_int_eq(dlt_grad(g, dlt_sum(g, h, 0, NULL, 0), 1, &gates, &dg), DLT_OK);
    dlt_status st = dlt_grad(g, dlt_sum(g, dlt_square(g, dg), 0, NULL, 0), 1, &gates, &d2);
    printf("second order through lstm_cell: %s\n", dlt_errmsg());
    ck_assert_int_ne(st, DLT_OK);
    ck_assert_msg(strstr(dlt_errmsg(), "lstm_cell_grad") != NULL, "%s", dlt_errmsg());
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- errors */
static void expect_error(dlt_graph *g, dlt_t v, const char *what)
{
    ck_assert_int_lt(v, 0);
    const char *m = dlt_graph_errmsg(g);
    printf("error: %s\n", m);
    ck_assert_msg(strstr(m, what) != NULL, "'%s' does not mention '%s'", m, what);
}

START_TEST(shape_errors)
{
    dlt_graph *g = dlt_graph_create(1);
    dlt_t gates = dlt_input(g, "gates", DLT_F32, 2, (const int64_t[]){3, 17});
    dlt_t cp = dlt_input(g, "c_prev", DLT_F32, 2, (const int64_t[]){3, 4});
    expect_error(g, dlt_lstm_cell(g, gates, cp, NULL), "gates must be [N, 4H]");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    dlt_t gi = dlt_input(g, "gi", DLT_F32, 2, (const int64_t[]){3, 12});
    dlt_t gh = dlt_input(g, "gh", DLT_F32, 2, (const int64_t[]){2, 12});
    dlt_t hp = dlt_input(g, "h", DLT_F32, 2, (const int64_t[]){3, 4});
    expect_error(g, dlt_gru_cell(g, gi, gh, hp), "gh must have gi's shape");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    dlt_t l = dlt_input(g, "logits", DLT_F32, 1, (const int64_t[]){5});
    expect_error(g, dlt_categorical_sample(g, l, NULL), "[N, K]");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "seq", DLT_F32, 2, (const int64_t[]){4, 5});
    expect_error(g, dlt_nn_lstm(g, "enc", x, 8, 1, -1, -1, NULL, NULL), "[T, N, I]");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    x = dlt_input(g, "seq", DLT_F32, 3, (const int64_t[]){4, 2, 5});
    dlt_t h0 = dlt_input(g, "h0", DLT_F32, 3, (const int64_t[]){1, 2, 8});
    expect_error(g, dlt_nn_gru(g, "dec", x, 8, 2, h0, NULL),
                 "h0 'h0' f32[1,2,8] must be [2, 2, 8]");
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rnn");
    TCase *tc = tcase_create("rnn");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lstm_cell_forward);
    tcase_add_test(tc, gru_cell_forward);
    tcase_add_loop_test(tc, lstm_cell_gradcheck, 0, 3);
    tcase_add_test(tc, gru_cell_gradcheck);
    tcase_add_loop_test(tc, layers_gradcheck, 0, 2);
    tcase_add_test(tc, layer_parameters);
    tcase_add_test(tc, sampler_exp);
    tcase_add_loop_test(tc, sample_frequencies, 0, 3);
    tcase_add_test(tc, sample_matches_naive_inverse_cdf);
    tcase_add_test(tc, sample_keys);
    tcase_add_test(tc, log_prob_and_entropy);
    tcase_add_test(tc, controller_feeds_back_samples);
    tcase_add_test(tc, no_second_order);
    tcase_add_test(tc, shape_errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
