/* The random family (random_normal, random_uniform): against a naive
 * reference that re-implements the counter-based RNG and the documented
 * stream here and does Box-Muller in double with libm; the statistics of
 * 1e6 draws (mean, variance, extremes, Kolmogorov-Smirnov distance to the
 * exact CDF); new numbers every step, the same numbers for the same (seed,
 * step, rank) and in evaluation runs; distinct nodes and steps uncorrelated;
 * the same bits with 1 and 2 threads; no gradient through them (and the
 * right one around them); per-sample [N,1,1,1] broadcasting; argument
 * errors. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"
#include "random_impl.h"

#define NBIG 1000000

/* ---------------------------------------------------------------- naive reference */
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

/* Box-Muller in double: u1 = (high word + 1) / 2^32, u2 = low word / 2^32 */
static double ref_std_normal(uint64_t w)
{
    double u1 = ((double)(w >> 32) + 1.0) / 4294967296.0, u2 = (double)(uint32_t)w / 4294967296.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static float ref_uniform(uint64_t w, float lo, float hi)
{
    float u = (float)(w >> 40) / 16777216.0f, y = fmaf(hi - lo, u, lo);
    return y < hi ? y : nextafterf(hi, -INFINITY);
}

/* ---------------------------------------------------------------- running */
typedef struct {
    dlt_graph *g;
    dlt_plan *p;
    dlt_t v[2];
    int nv;
} rnet;

/* One or two nodes (normal: kinds[k] = 1) of shape dims on a fresh graph. */
static rnet make(uint64_t seed, int nv, const int *kinds, int ndim, const int64_t *dims, float a,
                 float b)
{
    rnet r = {dlt_graph_create(seed), NULL, {-1, -1}, nv};
    for (int k = 0; k < nv; k++)
        r.v[k] = kinds[k] ? dlt_random_normal(r.g, ndim, dims, a, b)
                          : dlt_random_uniform(r.g, ndim, dims, a, b);
    ck_assert_msg(dlt_graph_status(r.g) == DLT_OK, "%s", dlt_graph_errmsg(r.g));
    ck_assert_msg(dlt_plan_create(r.g, nv, r.v, NULL, &r.p) == DLT_OK, "%s", dlt_errmsg());
    return r;
}

static const float *run(rnet *r, int k, int training, int64_t step, uint64_t rank)
{
    dlt_exec_opts eo = {.training = training, .step = step, .rng_stream = rank};
    ck_assert_int_eq(dlt_plan_run(r->p, &eo), DLT_OK);
    return dlt_plan_data(r->p, r->v[k]);
}

static void unmake(rnet *r)
{
    dlt_plan_free(r->p);
    dlt_graph_free(r->g);
}

static float bufa[NBIG], bufb[NBIG];

/* ---------------------------------------------------------------- the formula */
START_TEST(normal_matches_box_muller_in_double)
{
    static const float ms[][2] = {{0.f, 1.f}, {2.5f, 0.25f}, {-1e3f, 40.f}};
    const int n = 100003, normal = 1;
    int64_t d[1] = {n};
    float mean = ms[_i][0], std = ms[_i][1];
    rnet r = make(31 + (uint64_t)_i, 1, &normal, 1, d, mean, std);
    const float *y = run(&r, 0, 1, 9, 0);
    double worst = 0, zmax = 0;
    for (int i = 0; i < n; i++) {
        double z = ref_std_normal(ref_word(31 + (uint64_t)_i, 1, 9, (uint64_t)i));
        double want = (double)mean + (double)std * z;
        /* the fixed-point Box-Muller (within 2e-9 of exact), z rounded to
         * float, then mean + std z rounded once */
        double tol = ldexp(fabs((double)y[i]), -24) + (double)std * (ldexp(fabs(z), -24) + 2e-9);
        double err = fabs((double)y[i] - want);
        ck_assert_msg(isfinite(y[i]) && err <= tol,
                      "[%d] %.9g, reference %.9g (z %.9g): error %g > %g", i, (double)y[i], want, z,
                      err, tol);
        worst = fmax(worst, err / tol);
        zmax = fmax(zmax, fabs(z));
    }
    printf("normal(%g, %g): %d draws within the reference's rounding (worst %.2f of the bound), "
           "max |z| %.3f\n",
           (double)mean, (double)std, n, worst, zmax);
    unmake(&r);
}
END_TEST

/* The fixed-point z before its rounding to float, within the documented
 * 2e-9 of Box-Muller in double: the extremes of u1 (2^-32: the largest
 * radius; 1: radius 0), every octant boundary of theta, then 1e6 words. */
START_TEST(fixed_point_box_muller_error)
{
    static const uint32_t his[] = {0u, 1u, 2u, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
    double worst = 0;
    uint64_t worst_w = 0;
    for (int i = 0; i < 1000000 + 7 * 16; i++) {
        uint64_t w;
        if (i < 7 * 16) { /* hi word, then the octant starts and their neighbours */
            uint32_t b = (uint32_t)(i % 16 / 2) << 29;
            w = (uint64_t)his[i / 16] << 32 | (i % 2 ? b - 1u : b);
        } else {
            w = ref_mix((uint64_t)i * 0x9e3779b97f4a7c15ull);
        }
        double z = (double)dlt_random_std_normal_q60(w) * 0x1p-60,
               err = fabs(z - ref_std_normal(w));
        if (err > worst)
            worst = err, worst_w = w;
    }
    ck_assert_msg(worst <= 2e-9, "word 0x%016llx: error %g", (unsigned long long)worst_w, worst);
    printf("fixed-point Box-Muller: worst |z - double reference| %.2e over %d words (bound 2e-9)\n",
           worst, 1000000 + 7 * 16);
}
END_TEST

/* The portable 128-bit product (32-bit halves) and the one the build uses
 * (the compiler's 128-bit integers here, __umul64hi on a GPU) agree: they are
 * both exact. Checked on the extremes and 1e5 random pairs against
 * schoolbook long multiplication in 16-bit digits. */
static void mul_digits(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint32_t r[8] = {0};
    for (int i = 0; i < 4; i++) {
        uint32_t carry = 0;
        for (int j = 0; j < 4; j++) {
            uint32_t t = (uint32_t)((a >> 16 * i) & 0xffff) * (uint32_t)((b >> 16 * j) & 0xffff);
            uint64_t sum = (uint64_t)r[i + j] + (t & 0xffff) + carry;
            r[i + j] = (uint32_t)(sum & 0xffff);
            carry = (uint32_t)(sum >> 16) + (t >> 16);
        }
        for (int k = i + 4; carry && k < 8; k++) {
            uint32_t sum = r[k] + carry;
            r[k] = sum & 0xffff;
            carry = sum >> 16;
        }
    }
    *lo = (uint64_t)r[0] | (uint64_t)r[1] << 16 | (uint64_t)r[2] << 32 | (uint64_t)r[3] << 48;
    *hi = (uint64_t)r[4] | (uint64_t)r[5] << 16 | (uint64_t)r[6] << 32 | (uint64_t)r[7] << 48;
}

START_TEST(products_agree)
{
    static const uint64_t edge[] = {0,
                                    1,
                                    0xffffffffull,
                                    0x100000000ull,
                                    0xffffffffffffffffull,
                                    1ull << 63,
                                    0x7fffffffffffffffull};
    const int ne = (int)(sizeof edge / sizeof edge[0]);
    for (int i = 0; i < ne * ne + 100000; i++) {
        uint64_t a = i < ne * ne ? edge[i / ne] : ref_mix(2 * (uint64_t)i);
        uint64_t b = i < ne * ne ? edge[i % ne] : ref_mix(2 * (uint64_t)i + 1);
        uint64_t hi, lo, h1, l1, h2, l2;
        mul_digits(a, b, &hi, &lo);
        h1 = dlt_random_mul128(a, b, &l1);
        h2 = dlt_random_mul128_halves(a, b, &l2);
        ck_assert_msg(h1 == hi && l1 == lo && h2 == hi && l2 == lo, "0x%llx * 0x%llx",
                      (unsigned long long)a, (unsigned long long)b);
    }
}
END_TEST

START_TEST(uniform_matches_reference_bitwise)
{
    /* the last range is narrow enough that lo + (hi - lo) u rounds up to hi
     * for u near 1 (one draw in 16): those must give the float below hi */
    static const float rs[][2] = {
        {0.f, 1.f}, {-2.f, 3.f}, {1.f, 1.00000095367431640625f}, {-1e30f, 1e30f}};
    const int n = 200003, uniform = 0;
    int64_t d[2] = {7, n / 7};
    float lo = rs[_i][0], hi = rs[_i][1];
    rnet r = make(5, 1, &uniform, 2, d, lo, hi);
    const float *y = run(&r, 0, 1, 1234, 0);
    int64_t m = d[0] * d[1], guarded = 0;
    for (int64_t i = 0; i < m; i++) {
        uint64_t w = ref_word(5, 1, 1234, (uint64_t)i);
        float want = ref_uniform(w, lo, hi);
        ck_assert_msg(memcmp(&y[i], &want, sizeof want) == 0, "[%lld] %.9g, reference %.9g",
                      (long long)i, (double)y[i], (double)want);
        ck_assert(y[i] >= lo && y[i] < hi);
        guarded += fmaf(hi - lo, (float)(w >> 40) / 16777216.0f, lo) >= hi;
    }
    if (_i == 2) /* the guard ran: 1/16 of the draws, binomial sd ~ 0.1 % */
        ck_assert_msg(guarded > m / 20 && guarded < m / 12, "%lld of %lld rounded up to hi",
                      (long long)guarded, (long long)m);
    printf("uniform[%.9g, %.9g): %lld draws equal to the reference, %lld rounded up to hi and kept "
           "below\n",
           (double)lo, (double)hi, (long long)m, (long long)guarded);
    unmake(&r);
}
END_TEST

/* ---------------------------------------------------------------- statistics */
static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* sup |F_n - F| over the sorted sample */
static double ks_distance(float *x, int n, double (*cdf)(double, const double *), const double *par)
{
    qsort(x, (size_t)n, sizeof *x, cmp_float);
    double d = 0;
    for (int i = 0; i < n; i++) {
        double f = cdf(x[i], par);
        d = fmax(d, fmax(fabs((double)(i + 1) / n - f), fabs(f - (double)i / n)));
    }
    return d;
}

static double normal_cdf(double x, const double *p)
{
    return 0.5 * erfc(-(x - p[0]) / (p[1] * M_SQRT2));
}
static double uniform_cdf(double x, const double *p)
{
    return x <= p[0] ? 0 : x >= p[1] ? 1 : (x - p[0]) / (p[1] - p[0]);
}

/* Kolmogorov-Smirnov bound at significance 1e-3: sqrt(-ln(0.0005) / 2) / sqrt(n) */
#define KS_BOUND(n) (1.9495 / sqrt((double)(n)))

static void moments(const float *x, int n, double *mean, double *var, double *lo, double *hi)
{
    double s = 0, ss = 0;
    *lo = INFINITY, *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        ck_assert(isfinite(x[i]));
        s += x[i];
        *lo = fmin(*lo, x[i]), *hi = fmax(*hi, x[i]);
    }
    *mean = s / n;
    for (int i = 0; i < n; i++)
        ss += (x[i] - *mean) * (x[i] - *mean);
    *var = ss / (n - 1);
}

START_TEST(normal_statistics)
{
    const int normal = 1;
    int64_t d[2] = {1000, NBIG / 1000};
    rnet r = make(11, 1, &normal, 2, d, 0.f, 1.f);
    memcpy(bufa, run(&r, 0, 1, 7, 0), sizeof bufa);
    double mean, var, lo, hi, n = NBIG;
    moments(bufa, NBIG, &mean, &var, &lo, &hi);
    /* 5 sigma: the mean's sd is 1/sqrt(n), the variance's sqrt(2/n) */
    ck_assert_msg(fabs(mean) < 5 / sqrt(n), "mean %g", mean);
    ck_assert_msg(fabs(var - 1) < 5 * sqrt(2 / n), "variance %g", var);
    /* |z| <= sqrt(64 ln 2); 1e6 draws exceed 4 somewhere (P(not) ~ e^-63) */
    ck_assert_msg(hi <= 6.67 && lo >= -6.67 && hi > 4 && lo < -4, "range [%g, %g]", lo, hi);
    double par[2] = {0, 1}, ks = ks_distance(bufa, NBIG, normal_cdf, par);
    ck_assert_msg(ks < KS_BOUND(NBIG), "KS distance %g >= %g", ks, KS_BOUND(NBIG));
    printf("normal(0, 1), 1e6 draws: mean %.2e (5 sd %.1e), variance %.5f (5 sd %.1e), range "
           "[%.3f, %.3f], "
           "KS %.2e (bound %.2e)\n",
           mean, 5 / sqrt(n), var, 5 * sqrt(2 / n), lo, hi, ks, KS_BOUND(NBIG));
    unmake(&r);
}
END_TEST

START_TEST(uniform_statistics)
{
    const int uniform = 0;
    const float a = -2.f, b = 3.f;
    int64_t d[1] = {NBIG};
    rnet r = make(12, 1, &uniform, 1, d, a, b);
    memcpy(bufa, run(&r, 0, 1, 7, 0), sizeof bufa);
    double mean, var, lo, hi, n = NBIG, w = b - a;
    moments(bufa, NBIG, &mean, &var, &lo, &hi);
    /* mean (a + b) / 2 with sd w / sqrt(12 n); variance w^2 / 12 with sd
     * w^2 sqrt(1/180 / n) (fourth central moment w^4 / 80) */
    ck_assert_msg(fabs(mean - 0.5) < 5 * w / sqrt(12 * n), "mean %g", mean);
    ck_assert_msg(fabs(var - w * w / 12) < 5 * w * w * sqrt(1 / 180. / n), "variance %g", var);
    /* inside [a, b) and close to both ends (a gap of 1e-4 w has P ~ e^-100) */
    ck_assert_msg(lo >= a && hi < b && lo < a + 1e-4 * w && hi > b - 1e-4 * w, "range [%.9g, %.9g]",
                  lo, hi);
    double par[2] = {a, b}, ks = ks_distance(bufa, NBIG, uniform_cdf, par);
    ck_assert_msg(ks < KS_BOUND(NBIG), "KS distance %g >= %g", ks, KS_BOUND(NBIG));
    printf("uniform[-2, 3), 1e6 draws: mean %.5f, variance %.5f (want %.5f), range [%.6f, %.6f], "
           "KS %.2e (bound "
           "%.2e)\n",
           mean, var, w * w / 12, lo, hi, ks, KS_BOUND(NBIG));
    unmake(&r);
}
END_TEST

/* ---------------------------------------------------------------- reproducibility */
static double corr(const float *x, const float *y, int n)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++)
        mx += x[i], my += y[i];
    mx /= n, my /= n;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / sqrt(sxx * syy);
}

static int64_t count_equal(const float *x, const float *y, int n)
{
    int64_t e = 0;
    for (int i = 0; i < n; i++)
        e += x[i] == y[i];
    return e;
}

START_TEST(steps_seeds_ranks_and_modes)
{
    const int n = 100003, kind = _i; /* 0 uniform, 1 normal */
    int64_t d[1] = {n};
    rnet a = make(77, 1, &kind, 1, d, 0.f, 1.f), b = make(77, 1, &kind, 1, d, 0.f, 1.f);
    memcpy(bufa, run(&a, 0, 1, 5, 0), (size_t)n * sizeof(float));
    /* another graph, same seed and step: the same bits (a resumed run), and
     * an evaluation run draws them too */
    ck_assert(memcmp(bufa, run(&b, 0, 1, 5, 0), (size_t)n * sizeof(float)) == 0);
    ck_assert(memcmp(bufa, run(&b, 0, 0, 5, 0), (size_t)n * sizeof(float)) == 0);
    /* the next step, another rank, another graph seed: new numbers */
    static const char *what[] = {"step 6", "rank 1", "seed 78"};
    rnet c = make(78, 1, &kind, 1, d, 0.f, 1.f);
    const float *other[3] = {run(&b, 0, 1, 6, 0), NULL, NULL};
    memcpy(bufb, other[0], (size_t)n * sizeof(float));
    other[0] = bufb;
    other[1] = run(&a, 0, 1, 5, 1);
    other[2] = run(&c, 0, 1, 5, 0);
    for (int k = 0; k < 3; k++) {
        /* uniform: 2^24 values, so ~n/2^24 chance ties */
        int64_t same = count_equal(bufa, other[k], n);
        double r = corr(bufa, other[k], n);
        ck_assert_msg(same < 20 && fabs(r) < 5 / sqrt(n), "%s: %lld equal draws, correlation %g",
                      what[k], (long long)same, r);
    }
    /* and back to step 5: the first numbers again */
    ck_assert(memcmp(bufa, run(&b, 0, 1, 5, 0), (size_t)n * sizeof(float)) == 0);
    unmake(&a), unmake(&b), unmake(&c);
}
END_TEST

START_TEST(nodes_are_uncorrelated)
{
    static const int kinds[3][2] = {{1, 1}, {0, 0}, {1, 0}};
    enum { N = 250000 };
    int64_t d[2] = {500, N / 500};
    rnet r = make(3, 2, kinds[_i], 2, d, 0.f, 1.f);
    const float *x = run(&r, 0, 1, 0, 0), *y = dlt_plan_data(r.p, r.v[1]);
    double c = corr(x, y, N), bound = 5 / sqrt((double)N); /* 5 sd of the sample correlation */
    ck_assert_msg(fabs(c) < bound, "correlation %g", c);
    /* lag-1 within one node: neighbouring counters are independent too */
    double l = corr(x, x + 1, N - 1);
    ck_assert_msg(fabs(l) < bound, "lag-1 correlation %g", l);
    printf("nodes %s/%s: correlation %.2e, lag-1 %.2e (5 sd %.1e)\n",
           kinds[_i][0] ? "normal" : "uniform", kinds[_i][1] ? "normal" : "uniform", c, l, bound);
    unmake(&r);
}
END_TEST

START_TEST(thread_count_changes_no_bit)
{
    static const int kinds[2] = {1, 0};
    int64_t d[3] = {3, 101, 997};
    int n = 3 * 101 * 997, saved = dlt_get_num_threads();
    rnet r = make(21, 2, kinds, 3, d, -0.5f, 2.f);
    dlt_set_num_threads(1);
    run(&r, 0, 1, 4, 0);
    memcpy(bufa, dlt_plan_data(r.p, r.v[0]), (size_t)n * sizeof(float));
    memcpy(bufb, dlt_plan_data(r.p, r.v[1]), (size_t)n * sizeof(float));
    dlt_set_num_threads(2);
    run(&r, 0, 1, 4, 0);
    dlt_set_num_threads(saved);
    ck_assert(memcmp(bufa, dlt_plan_data(r.p, r.v[0]), (size_t)n * sizeof(float)) == 0);
    ck_assert(memcmp(bufb, dlt_plan_data(r.p, r.v[1]), (size_t)n * sizeof(float)) == 0);
    unmake(&r);
}
END_TEST

/* ---------------------------------------------------------------- graphs */
/* L = sum(x * noise): dL/dx is the noise itself (no gradient into the
 * random node, which has no input); finite differences agree. */
START_TEST(gradient_flows_around_not_through)
{
    int64_t d[2] = {9, 13};
    dlt_graph *g = dlt_graph_create(8);
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, d);
    dlt_t noise = dlt_random_normal(g, 2, d, 0.f, 1.f);
    dlt_t y = dlt_mul(g, x, dlt_add(g, noise, dlt_random_uniform(g, 2, d, 0.f, 1.f)));
    dlt_t loss = dlt_sum(g, dlt_mul(g, x, noise), 0, NULL, 0), gx;
    ck_assert_int_eq(dlt_grad(g, loss, 1, &x, &gx), DLT_OK);
    dlt_t outs[3] = {noise, gx, loss}; /* the loss reads x */
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 3, outs, NULL, &p), DLT_OK);
    dlt_test_fill_uniform(dlt_plan_data(p, x), 9 * 13, -1, 1, 2);
    dlt_exec_opts eo = {.training = 1, .step = 3};
    ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    ck_assert(memcmp(dlt_plan_data(p, noise), dlt_plan_data(p, gx), 9 * 13 * sizeof(float)) == 0);
    dlt_plan_free(p);
    /* d sum(y r)/dx against central differences (the noise is the same in
     * every run of one step) */
    float xs[9 * 13];
    dlt_test_fill_uniform(xs, 9 * 13, -1, 1, 3);
    const void *in_data[1] = {xs};
    dlt_gc_feed f = {1, &x, in_data, 1};
    double an, nu;
    dlt_test_gradcheck(g, y, 1, &x, &f, 1e-2, 6, &an, &nu);
    dlt_test_assert_close("x * (normal + uniform)", an, nu, 1e-3, 1e-4);
    dlt_graph_free(g);
}
END_TEST

/* WGAN-GP's epsilon: dims [N,1,1,1] broadcast over [N,C,H,W], one value per sample. */
START_TEST(per_sample_broadcast)
{
    int64_t e[4] = {5, 1, 1, 1}, d[4] = {5, 2, 3, 4};
    dlt_graph *g = dlt_graph_create(4);
    dlt_t ones = dlt_input(g, "ones", DLT_F32, 4, d);
    dlt_t eps = dlt_random_uniform(g, 4, e, 0.f, 1.f);
    dlt_t y = dlt_mul(g, eps, ones);
    dlt_t outs[2] = {eps, y};
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 2, outs, NULL, &p), DLT_OK);
    for (int i = 0; i < 120; i++)
        ((float *)dlt_plan_data(p, ones))[i] = 1.f;
    dlt_exec_opts eo = {.training = 1, .step = 1};
    ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    const float *ev = dlt_plan_data(p, eps), *yv = dlt_plan_data(p, y);
    for (int i = 0; i < 120; i++)
        ck_assert_float_eq(yv[i], ev[i / 24]);
    ck_assert(ev[0] != ev[1] && ev[1] != ev[2]);
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

/* Data-parallel noise (dlt_random_*_samples): rank r of R with batch b draws
 * what one rank with batch R b draws for samples [r b, (r + 1) b): counter
 * first x (elements per sample) + i from the graph seed, whatever the run's
 * rank stream. Against the reference word for uniform (bitwise) and the other
 * half of a doubled batch for normal. */
START_TEST(global_sample_keying)
{
    int64_t big[2] = {8, 3}, half[2] = {4, 3};
    for (int normal = 0; normal < 2; normal++) {
        dlt_graph *g1 = dlt_graph_create(9), *g2 = dlt_graph_create(9);
        dlt_t a = normal ? dlt_random_normal_samples(g1, 2, big, 0.f, 1.f, 0)
                         : dlt_random_uniform_samples(g1, 2, big, -1.f, 1.f, 0);
        dlt_t b = normal ? dlt_random_normal_samples(g2, 2, half, 0.f, 1.f, 4)
                         : dlt_random_uniform_samples(g2, 2, half, -1.f, 1.f, 4);
        dlt_plan *p1, *p2;
        ck_assert_int_eq(dlt_plan_create(g1, 1, &a, NULL, &p1), DLT_OK);
        ck_assert_int_eq(dlt_plan_create(g2, 1, &b, NULL, &p2), DLT_OK);
        dlt_exec_opts e1 = {.training = 1, .step = 6, .rng_stream = 0}, e2 = {.training = 1, .step = 6, .rng_stream = 1};
        ck_assert_int_eq(dlt_plan_run(p1, &e1), DLT_OK);
        ck_assert_int_eq(dlt_plan_run(p2, &e2), DLT_OK);
        const float *x = dlt_plan_data(p1, a), *y = dlt_plan_data(p2, b);
        for (int i = 0; i < 12; i++) {
            ck_assert_msg(memcmp(&x[12 + i], &y[i], sizeof(float)) == 0, "element %d: %g vs %g", i, x[12 + i], y[i]);
            if (!normal) /* node id 1: the graph's first node */
                ck_assert_float_eq(x[i], ref_uniform(ref_word(9, 1, 6, (uint64_t)i), -1.f, 1.f));
        }
        ck_assert(memcmp(x, y, 12 * sizeof(float)) != 0); /* the first half is not the second */
        dlt_plan_free(p1), dlt_plan_free(p2);
        dlt_graph_free(g1), dlt_graph_free(g2);
    }
    dlt_graph *g = dlt_graph_create(1);
    ck_assert_int_lt(dlt_random_normal_samples(g, 2, big, 0.f, 1.f, -1), 0);
    ck_assert_msg(strstr(dlt_graph_errmsg(g), "first sample -1"), "%s", dlt_graph_errmsg(g));
    dlt_graph_free(g);
}
END_TEST

START_TEST(bad_arguments_are_reported)
{
    int64_t d[2] = {3, 4}, z[2] = {3, 0};
    static const char *msg[] = {
        "random_normal: mean 0 and std -1 must be finite, std >= 0 and |mean| + 7 std within the "
        "f32 range",
        "random_normal: mean nan and std 1 must be finite, std >= 0 and |mean| + 7 std within the "
        "f32 range",
        "random_normal: mean 0 and std 1e+38 must be finite, std >= 0 and |mean| + 7 std within "
        "the f32 range",
        "random_uniform: [lo, hi) = [1, 1) must be finite and non-empty, with hi - lo within the "
        "f32 range",
        "random_uniform: [lo, hi) = [0, inf) must be finite and non-empty, with hi - lo within the "
        "f32 range",
        "random_uniform: [lo, hi) = [-3e+38, 3e+38) must be finite and non-empty, with hi - lo "
        "within the f32 "
        "range",
        "random_normal: dimension 1 is 0 (must be > 0)",
        "random_uniform: rank 9 is outside 0..8",
        "random_normal: rank 2 but no dims given",
    };
    dlt_graph *g = dlt_graph_create(1);
    dlt_t v = 0;
    switch (_i) {
    case 0:
        v = dlt_random_normal(g, 2, d, 0.f, -1.f);
        break;
    case 1:
        v = dlt_random_normal(g, 2, d, NAN, 1.f);
        break;
    case 2:
        v = dlt_random_normal(g, 2, d, 0.f, 1e38f);
        break;
    case 3:
        v = dlt_random_uniform(g, 2, d, 1.f, 1.f);
        break;
    case 4:
        v = dlt_random_uniform(g, 2, d, 0.f, INFINITY);
        break;
    case 5:
        v = dlt_random_uniform(g, 2, d, -3e38f, 3e38f);
        break;
    case 6:
        v = dlt_random_normal(g, 2, z, 0.f, 1.f);
        break;
    case 7:
        v = dlt_random_uniform(g, 9, d, 0.f, 1.f);
        break;
    default:
        v = dlt_random_normal(g, 2, NULL, 0.f, 1.f);
        break;
    }
    ck_assert_int_eq(v, -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_graph_errmsg(g), msg[_i]);
    dlt_graph_free(g);
}
END_TEST

/* A rank-0 draw and std 0 (every element the mean) are fine. */
START_TEST(scalar_and_zero_std)
{
    dlt_graph *g = dlt_graph_create(2);
    int64_t d[1] = {10};
    dlt_t outs[2] = {dlt_random_uniform(g, 0, NULL, 4.f, 5.f),
                     dlt_random_normal(g, 1, d, -3.f, 0.f)};
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 2, outs, NULL, &p), DLT_OK);
    dlt_exec_opts eo = {.step = 2};
    ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    float s = *(const float *)dlt_plan_data(p, outs[0]);
    ck_assert(s >= 4.f && s < 5.f);
    ck_assert_float_eq(s, ref_uniform(ref_word(2, 1, 2, 0), 4.f, 5.f));
    for (int i = 0; i < 10; i++)
        ck_assert_float_eq(((const float *)dlt_plan_data(p, outs[1]))[i], -3.f);
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("random");
    TCase *t = tcase_create("random");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, normal_matches_box_muller_in_double, 0, 3);
    tcase_add_test(t, products_agree);
    tcase_add_test(t, fixed_point_box_muller_error);
    tcase_add_loop_test(t, uniform_matches_reference_bitwise, 0, 4);
    tcase_add_test(t, normal_statistics);
    tcase_add_test(t, uniform_statistics);
    tcase_add_loop_test(t, steps_seeds_ranks_and_modes, 0, 2);
    tcase_add_loop_test(t, nodes_are_uncorrelated, 0, 3);
    tcase_add_test(t, thread_count_changes_no_bit);
    tcase_add_test(t, gradient_flows_around_not_through);
    tcase_add_test(t, per_sample_broadcast);
    tcase_add_test(t, global_sample_keying);
    tcase_add_loop_test(t, bad_arguments_are_reported, 0, 9);
    tcase_add_test(t, scalar_and_zero_std);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return dlt_test_run(suite());
}
