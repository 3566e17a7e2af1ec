/* dlt_gemm (src/core/gemm.c), the GEMM every CPU kernel calls, on each library
 * it can run: the program runs itself once with DLT_GEMM=openblas and, when
 * dltrain is built with oneDNN, once with DLT_GEMM=dnnl (the choice is made
 * once per process), and, on an x86 CPU with AVX2 and FMA and a build with
 * oneDNN, once automatic with both libraries held to AVX2 code
 * (DNNL_MAX_CPU_ISA=AVX2, OPENBLAS_CORETYPE=Haswell), where the choice is per
 * product: that run also checks which library ran each kind of product (its
 * bits equal that library's own call). Each run checks, against a naive
 * double-precision loop:
 * every transpose combination, padded leading dimensions, alpha and beta
 * (beta = 0 overwrites NaN), k = 0, odd shapes on 1-3 threads; that a call
 * inside a parallel region gives the bits of the single-threaded call, and
 * that a second identical split call gives the same bits; that the OpenMP
 * thread count is left as it was; and that --version's line names the library that ran. */
#include <ctype.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"

#include <cblas.h>

#include "dlt_opdef.h"
#include "dlt_ops.h"
#include "dlt_test.h"

#ifdef DLT_HAVE_DNNL
#include <dnnl.h>
#endif

typedef struct {
    int ta, tb;
    int64_t m, n, k, lda, ldb, ldc;
    float *a, *b, *c;
} gemm_case;

/* Allocates A, B, C of case g (leading dimensions padded by `pad`), filled
 * from `seed`. */
static void make_case(gemm_case *g, int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t pad, uint64_t seed)
{
    g->ta = ta, g->tb = tb, g->m = m, g->n = n, g->k = k;
    g->lda = (ta ? m : k) + pad, g->ldb = (tb ? k : n) + pad, g->ldc = n + pad;
    size_t na = (size_t)(ta ? k : m) * (size_t)g->lda, nb = (size_t)(tb ? n : k) * (size_t)g->ldb,
           nc = (size_t)m * (size_t)g->ldc;
    g->a = malloc((na ? na : 1) * sizeof(float));
    g->b = malloc((nb ? nb : 1) * sizeof(float));
    g->c = malloc(nc * sizeof(float));
    ck_assert(g->a && g->b && g->c);
    dlt_test_fill_uniform(g->a, na, -1, 1, seed);
    dlt_test_fill_uniform(g->b, nb, -1, 1, seed + 1);
    dlt_test_fill_uniform(g->c, nc, -1, 1, seed + 2);
}

static void free_case(gemm_case *g)
{
    free(g->a), free(g->b), free(g->c);
}

static double at(const float *x, int64_t ld, int t, int64_t i, int64_t j)
{
    return t ? x[j * ld + i] : x[i * ld + j];
}

/* Runs dlt_gemm on a copy of C and checks every element against the double
 * loop: |c - ref| <= 1e-5 (|alpha| sum_p |a_ip b_pj| + |beta c0|) + 1e-30. */
static void check_case(gemm_case *g, float alpha, float beta, int nthreads, float *out)
{
    size_t nc = (size_t)g->m * (size_t)g->ldc;
    memcpy(out, g->c, nc * sizeof(float));
    dlt_gemm(g->ta, g->tb, g->m, g->n, g->k, alpha, g->a, g->lda, g->b, g->ldb, beta, out, g->ldc, nthreads);
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->ldc; j++) {
            double c0 = beta == 0 ? 0 : g->c[i * g->ldc + j];
            if (j >= g->n) {
                ck_assert_msg(memcmp(&out[i * g->ldc + j], &g->c[i * g->ldc + j], sizeof(float)) == 0,
                              "padding column %lld of row %lld written", (long long)j, (long long)i);
                continue;
            }
            double s = 0, mag = 0;
            for (int64_t p = 0; p < g->k; p++) {
                double v = at(g->a, g->lda, g->ta, i, p) * at(g->b, g->ldb, g->tb, p, j);
                s += v, mag += fabs(v);
            }
            double ref = alpha * s + beta * c0, bound = 1e-5 * (fabs(alpha) * mag + fabs(beta * c0)) + 1e-30;
            ck_assert_msg(fabs(out[i * g->ldc + j] - ref) <= bound,
                          "ta %d tb %d %lldx%lldx%lld alpha %g beta %g threads %d: c[%lld][%lld] = %.9g, "
                          "reference %.9g",
                          g->ta, g->tb, (long long)g->m, (long long)g->n, (long long)g->k, alpha, beta, nthreads,
                          (long long)i, (long long)j, out[i * g->ldc + j], ref);
        }
}

START_TEST(against_double_loops)
{
    /* the last two: products src/core/gemm.c's rule at AVX2 code gives
     * OpenBLAS (n >= 256, TN k >= 256, NT k >= 512) */
    static const int64_t shapes[][3] = {{1, 1, 1},    {17, 33, 65},  {128, 96, 300},  {3, 1000, 7},
                                        {300, 2, 50}, {64, 64, 1},   {40, 130, 257}, {33, 260, 300},
                                        {20, 300, 530}};
    static const float ab[][2] = {{1, 0}, {0.7f, -0.3f}, {-2, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int t = 0; t < 4; t++)
            for (int pad = 0; pad <= 3; pad += 3) {
                gemm_case g;
                make_case(&g, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], pad, 100 + s * 8 + t);
                float *out = malloc((size_t)g.m * (size_t)g.ldc * sizeof(float));
                for (size_t q = 0; q < sizeof ab / sizeof *ab; q++)
                    for (int nt = 1; nt <= 3; nt++)
                        check_case(&g, ab[q][0], ab[q][1], nt, out);
                free(out);
                free_case(&g);
            }
}
END_TEST

START_TEST(beta_zero_overwrites_nan_and_k_zero_scales)
{
    gemm_case g;
    make_case(&g, 0, 0, 40, 50, 60, 0, 7);
    float *out = malloc(40 * 50 * sizeof(float));
    for (int i = 0; i < 40 * 50; i++)
        g.c[i] = NAN;
    check_case(&g, 1.5f, 0, 2, out);
    free(out);
    free_case(&g);
    /* k = 0: C = beta C */
    make_case(&g, 0, 1, 5, 6, 0, 0, 9);
    out = malloc(5 * 6 * sizeof(float));
    memcpy(out, g.c, 5 * 6 * sizeof(float));
    dlt_gemm(0, 1, 5, 6, 0, 1, g.a, 1, g.b, 1, 0.5f, out, 6, 2);
    for (int i = 0; i < 30; i++)
        ck_assert_float_eq(out[i], 0.5f * g.c[i]);
    free(out);
    free_case(&g);
}
END_TEST

/* The library runs single-threaded per call: a call from inside a parallel
 * region gives the bits of one call on one thread, a split call the same bits
 * twice, and the OpenMP thread count stays what it was. */
START_TEST(bits_do_not_depend_on_where_it_runs)
{
    gemm_case g;
    make_case(&g, 0, 1, 256, 64, 200, 0, 11);
    size_t nc = 256 * 64;
    float *one = malloc(nc * sizeof(float)), *two = malloc(nc * sizeof(float)), *again = malloc(nc * sizeof(float)),
          *inner = malloc(2 * nc * sizeof(float));
    omp_set_num_threads(2);
    memcpy(one, g.c, nc * sizeof(float));
    dlt_gemm(0, 1, 256, 64, 200, 1, g.a, 200, g.b, 200, 0, one, 64, 1);
    ck_assert_int_eq(omp_get_max_threads(), 2);
    dlt_gemm(0, 1, 256, 64, 200, 1, g.a, 200, g.b, 200, 0, two, 64, 2);
    dlt_gemm(0, 1, 256, 64, 200, 1, g.a, 200, g.b, 200, 0, again, 64, 2);
    ck_assert_int_eq(omp_get_max_threads(), 2);
#pragma omp parallel num_threads(2)
    dlt_gemm(0, 1, 256, 64, 200, 1, g.a, 200, g.b, 200, 0, inner + (size_t)omp_get_thread_num() * nc, 64, 2);
    ck_assert(memcmp(two, again, nc * sizeof(float)) == 0);
    /* inside a parallel region each call is one single-threaded GEMM */
    ck_assert(memcmp(one, inner, nc * sizeof(float)) == 0);
    ck_assert(memcmp(one, inner + nc, nc * sizeof(float)) == 0);
    check_case(&g, 1, 0, 2, two);
    free(one), free(two), free(again), free(inner);
    free_case(&g);
}
END_TEST

/* OpenBLAS cores with AVX2 kernels, as openblas_get_corename() names them
 * (the list src/core/gemm.c knows) */
static const char *const avx2_cores[] = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"};
#define NAVX2_CORES (sizeof avx2_cores / sizeof *avx2_cores)

START_TEST(version_line_names_the_library)
{
    char info[256];
    dlt_gemm_provider_info(info, sizeof info);
    const char *want = getenv("DLT_GEMM");
    if (want && strcmp(want, "dnnl") == 0)
        ck_assert_msg(strncmp(info, "oneDNN sgemm (DLT_GEMM=dnnl", 27) == 0, "%s", info);
    else if (want && strcmp(want, "auto") == 0)
        ck_assert_msg(strncmp(info, "oneDNN sgemm (oneDNN at AVX2 code: OpenBLAS for n >= 256", 56) == 0, "%s",
                      info);
    else
        ck_assert_msg(strncmp(info, "OpenBLAS (", 10) == 0, "%s", info);
    /* the start-up warning: exactly when OpenBLAS runs and its core, named in
     * the line, is one without AVX2 kernels on a CPU that has AVX2 and FMA */
    char lower[256], needle[64];
    for (size_t i = 0; i < sizeof lower; i++)
        lower[i] = (char)tolower((unsigned char)info[i]);
    int wide_core = 0;
    for (size_t i = 0; i < NAVX2_CORES; i++) {
        snprintf(needle, sizeof needle, "openblas core %s)", avx2_cores[i]);
        wide_core |= strstr(lower, needle) != NULL;
    }
    int cpu_avx2 = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    cpu_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    int openblas = strncmp(info, "OpenBLAS (", 10) == 0;
    const char *w = dlt_gemm_warning();
    ck_assert_msg((w != NULL) == (openblas && cpu_avx2 && !wide_core), "%s / warning %s", info, w ? w : "none");
}
END_TEST

#ifdef DLT_HAVE_DNNL
/* At AVX2 code (the auto child): each kind of product gives the bits of the
 * library the rule names, called directly, and not the other's (the two
 * differ on every case here, so a wrong pick cannot pass). */
static void expect_library(int ta, int tb, int64_t m, int64_t n, int64_t k, int openblas)
{
    gemm_case g;
    make_case(&g, ta, tb, m, n, k, 0, 31 + (uint64_t)(m + n + k));
    size_t nc = (size_t)(m * n);
    float *got = malloc(nc * sizeof(float)), *ob = malloc(nc * sizeof(float)), *dn = malloc(nc * sizeof(float));
    ck_assert(got && ob && dn);
    dlt_gemm(ta, tb, m, n, k, 1, g.a, g.lda, g.b, g.ldb, 0, got, g.ldc, 1);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                (int)k, 1, g.a, (int)g.lda, g.b, (int)g.ldb, 0, ob, (int)g.ldc);
    omp_set_num_threads(1);
    ck_assert(dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1, g.a, g.lda, g.b, g.ldb, 0, dn, g.ldc) ==
              dnnl_success);
    ck_assert_msg(memcmp(ob, dn, nc * sizeof(float)) != 0, "the libraries agree bit for bit: no check");
    ck_assert_msg(memcmp(got, openblas ? ob : dn, nc * sizeof(float)) == 0,
                  "ta %d tb %d %lldx%lldx%lld: dlt_gemm's bits are not %s's", ta, tb, (long long)m, (long long)n,
                  (long long)k, openblas ? "OpenBLAS" : "oneDNN");
    free(got), free(ob), free(dn);
    free_case(&g);
}

START_TEST(auto_at_avx2_picks_per_product)
{
    expect_library(1, 0, 64, 320, 300, 1);  /* weight gradient, wide: OpenBLAS */
    expect_library(1, 0, 320, 64, 300, 0);  /* narrow (im2col's): oneDNN */
    expect_library(1, 0, 64, 320, 200, 0);  /* short k: oneDNN */
    expect_library(0, 1, 64, 300, 600, 1);  /* long data gradient: OpenBLAS */
    expect_library(0, 1, 64, 300, 300, 0);  /* short k: oneDNN */
    expect_library(0, 0, 64, 300, 600, 0);  /* forwards: oneDNN */
    expect_library(1, 1, 64, 300, 600, 0);
}
END_TEST
#endif

#ifdef DLT_HAVE_DNNL
/* OpenBLAS's core has AVX2 kernels */
static int openblas_core_avx2(void)
{
    const char *core = openblas_get_corename();
    for (size_t i = 0; i < NAVX2_CORES; i++)
        if (core && strcasecmp(core, avx2_cores[i]) == 0)
            return 1;
    return 0;
}
#endif

/* Runs this program again with DLT_GEMM=`provider` (auto: both libraries
 * held to AVX2 code); its exit status. */
static int run_with(const char *self, const char *provider)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (strcmp(provider, "auto") == 0) {
            setenv("DNNL_MAX_CPU_ISA", "AVX2", 1);
            setenv("OPENBLAS_CORETYPE", "Haswell", 1);
        }
        setenv("DLT_GEMM", provider, 1);
        execl(self, self, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *p = getenv("DLT_GEMM");
    /* auto from the parent: held to AVX2 code (the parent's own auto run is the plain check below) */
    int auto_avx2 = p && strcmp(p, "auto") == 0 && getenv("DNNL_MAX_CPU_ISA") &&
                    strcmp(getenv("DNNL_MAX_CPU_ISA"), "AVX2") == 0;
    if (!auto_avx2 && (!p || (strcmp(p, "openblas") != 0 && strcmp(p, "dnnl") != 0))) {
        int rc = 0;
        if (!p || strcmp(p, "auto") == 0) { /* the automatic choice: oneDNN whenever built with it */
            char info[256];
            dlt_gemm_provider_info(info, sizeof info);
            const char *want = dlt_conv_dnnl_built() ? "oneDNN sgemm (oneDNN dispatches" : "OpenBLAS (built without";
#ifdef DLT_HAVE_DNNL
            /* an AVX2-only CPU (or DNNL_MAX_CPU_ISA below AVX-512) with OpenBLAS's core at AVX2: per product */
            unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(), wide = (unsigned)dnnl_cpu_isa_avx512_core;
            if ((isa & wide) != wide && openblas_core_avx2())
                want = "oneDNN sgemm (oneDNN at AVX2 code";
#endif
            if (strncmp(info, want, strlen(want)) != 0) {
                printf("%s: automatic GEMM library: %s, expected \"%s...\"\n", argv[0], info, want);
                rc = 1;
            }
        }
        rc |= run_with("/proc/self/exe", "openblas");
        if (dlt_conv_dnnl_built())
            rc |= run_with("/proc/self/exe", "dnnl");
        else
            printf("%s: built without oneDNN: OpenBLAS only\n", argv[0]);
        int avx2 = 0;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
        if (dlt_conv_dnnl_built() && avx2)
            rc |= run_with("/proc/self/exe", "auto");
        else
            printf("%s: no AVX2+FMA or no oneDNN: the per-product rule at AVX2 code is not checked\n", argv[0]);
        return rc ? 1 : 0;
    }
    printf("== DLT_GEMM=%s\n", p);
    Suite *s = suite_create(p);
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, against_double_loops);
    tcase_add_test(tc, beta_zero_overwrites_nan_and_k_zero_scales);
    tcase_add_test(tc, bits_do_not_depend_on_where_it_runs);
    tcase_add_test(tc, version_line_names_the_library);
#ifdef DLT_HAVE_DNNL
    if (auto_avx2)
        tcase_add_test(tc, auto_at_avx2_picks_per_product);
#endif
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
