/* bf16 gradient reduction (dlt_reducer_config.bf16) and bf16 collectives.
 *
 * The model makes each rank's gradients whatever the test wants: loss =
 * sum_k sum(x_k * w_k), so the gradient of w_k is the input x_k exactly, and
 * after the reducer every gradient should be sum_r weight_r x_r / N. Several
 * parameters and tiny buckets give several collectives per step. Runs under
 * mpirun -np 2 and -np 3 (tests/harness.sh). */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_bf16.h"
#include "dlt_comm.h"
#include "dlt_dist.h"
#include "dlt_gpu.h"
#include "standin.h"
#include "dlt_ops.h"
#include "dlt_test.h"

static dlt_world world;
static dlt_comm *comm;

enum { K = 4 };
static const int64_t sizes[K] = {300, 1000, 77, 2051};
static size_t total; /* sum of sizes: the compact result's length */

enum { EXACT = 0, RANDOM = 1 };

/* Rank r's gradient for element i of parameter k. EXACT: m * 2^e with |m| <= 7
 * and e shared by the ranks, so every partial sum (at most 3 ranks, weights
 * at most 3) has at most 6 significant bits: exact in bf16. RANDOM: uniform
 * in [-1, 1) times 2^e, e in [-12, 12], different on every rank. */
static float grad_value(int kind, int r, int k, int64_t i)
{
    uint64_t z = dlt_rng_u64(77, (uint64_t)(r * K + k), (uint64_t)i);
    int e = (int)((i * 7 + k) % 25) - 12;
    if (kind == EXACT)
        return ldexpf((float)((int)(z % 15) - 7), e / 2);
    return ldexpf((float)((double)(z >> 11) * 0x1p-53 * 2 - 1), e);
}

/* Samples (the reducer's weight) of rank r: EXACT gives a global count of 4
 * (a power of two: the mean is exact), RANDOM an uneven split. */
static double rank_samples(int kind, int r, int p)
{
    if (kind == EXACT)
        return r == 0 ? 4 - (p - 1) : 1;
    return 1 + r % 2;
}

typedef struct {
    int kind, bf16, zero;
    dlt_grad_contract contract;
    dlt_backend *be; /* NULL: host graph */
} run_cfg;

/* One reduced step. out[total]: the gradients in parameter order (w0, w1, ...);
 * valid[total] (may be NULL): 1 where this rank holds reduced values (all, or
 * with ZeRO-1 its shard of each bucket). */
static void run(const run_cfg *cfg, float *out, unsigned char *valid)
{
    int p = world.size, me = world.rank;
    dlt_graph *g = dlt_graph_create(5);
    if (cfg->be)
        ck_assert_int_eq(dlt_graph_set_backend(g, cfg->be), DLT_OK);
    dlt_t xs[K], ws[K], loss = -1;
    for (int k = 0; k < K; k++) {
        char name[8];
        snprintf(name, sizeof name, "x%d", k);
        xs[k] = dlt_input(g, name, DLT_F32, 1, &sizes[k]);
        snprintf(name, sizeof name, "w%d", k);
        ws[k] = dlt_param(g, name, 1, &sizes[k], dlt_init_uniform(-1, 1));
        dlt_t term = dlt_sum(g, dlt_mul(g, xs[k], ws[k]), 0, NULL, 0);
        loss = k ? dlt_add(g, loss, term) : term;
    }
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
    int np;
    dlt_t *params, *grads;
    ck_assert_int_eq(dlt_grad_params(g, loss, &np, &params, &grads), DLT_OK);
    /* 262- and 1048-float buckets: 4 or 5 collectives */
    dlt_reducer_config rc = {.bucket_mb = 0.004,
                             .first_bucket_mb = 0.001,
                             .contract = cfg->contract,
                             .zero = cfg->zero,
                             .bf16 = cfg->bf16};
    dlt_dist *dist;
    ck_assert_msg(dlt_dist_create(comm, g, np, params, grads, &rc, &dist) == DLT_OK, "%s",
                  dlt_errmsg());
    ck_assert_int_ge(dlt_reducer_num_buckets(dlt_dist_reducer(dist)), 4);
    dlt_plan *plan;
    dlt_plan_opts po = {0};
    dlt_dist_plan_opts(dist, &po);
    ck_assert_int_eq(dlt_plan_create(g, 1, &loss, &po, &plan), DLT_OK);
    for (int k = 0; k < K; k++) {
        float *x = dlt_plan_data(plan, xs[k]);
        for (int64_t i = 0; i < sizes[k]; i++)
            x[i] = grad_value(cfg->kind, me, k, i);
    }
    dlt_exec_opts eo = {.training = 1};
    dlt_dist_exec_opts(dist, &eo);
    ck_assert_int_eq(dlt_dist_begin(dist, plan, rank_samples(cfg->kind, me, p), 1), DLT_OK);
    ck_assert_int_eq(dlt_plan_run(plan, &eo), DLT_OK);
    ck_assert_msg(dlt_dist_finish(dist) == DLT_OK, "%s", dlt_errmsg());
    if (cfg->be)
        ck_assert_int_eq(dlt_graph_download(g, DLT_SYNC_GRADS), DLT_OK);
    /* this rank's reduced ranges in the flat buffer */
    size_t numel = dlt_params_numel(g);
    unsigned char *mine = calloc(numel, 1);
    for (int b = 0; b < dlt_reducer_num_buckets(dlt_dist_reducer(dist)); b++) {
        size_t lo, hi, slo = 0, shi;
        dlt_reducer_bucket(dlt_dist_reducer(dist), b, &lo, &hi, NULL);
        shi = hi - lo;
        if (cfg->zero)
            dlt_comm_shard(hi - lo, p, me, 16, &slo, &shi);
        memset(mine + lo + slo, 1, shi - slo);
    }
    const float *gr = dlt_grads_data(g);
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        int k = pi->name[1] - '0';
        size_t off = 0;
        for (int j = 0; j < k; j++)
            off += (size_t)sizes[j];
        memcpy(out + off, gr + pi->offset, pi->numel * sizeof *out);
        if (valid)
            memcpy(valid + off, mine + pi->offset, pi->numel);
    }
    free(mine);
    dlt_plan_free(plan);
    dlt_dist_free(dist);
    free(params);
    free(grads);
    dlt_graph_free(g);
}

/* sum_r weight_r x_r / N in double, and sum_r |weight_r x_r| / N (for bounds). */
static void reference(int kind, dlt_grad_contract contract, double *mean, double *absmean)
{
    int p = world.size;
    double n = 0;
    for (int r = 0; r < p; r++)
        n += rank_samples(kind, r, p);
    size_t off = 0;
    for (int k = 0; k < K; k++)
        for (int64_t i = 0; i < sizes[k]; i++, off++) {
            double s = 0, a = 0;
            for (int r = 0; r < p; r++) {
                double w = contract == DLT_GRAD_MEAN ? rank_samples(kind, r, p) : 1;
                double v = w * grad_value(kind, r, k, i);
                s += v;
                a += fabs(v);
            }
            mean[off] = s / n;
            absmean[off] = a / n;
        }
}

/* Every rank holds the same bytes (valid everywhere: no ZeRO). */
static void assert_same_on_every_rank(const float *x, const char *what)
{
    float *all = malloc((size_t)world.size * total * sizeof *all);
    MPI_Allgather(x, (int)total, MPI_FLOAT, all, (int)total, MPI_FLOAT, MPI_COMM_WORLD);
    for (int r = 1; r < world.size; r++)
        ck_assert_msg(memcmp(all, all + (size_t)r * total, total * sizeof *all) == 0,
                      "%s: rank %d's gradients differ from rank 0's", what, r);
    free(all);
}

/* (a) Values whose bf16 sums are exact: the bf16 reduction gives the exact
 * mean bit for bit, as does f32, for both contracts, with and without ZeRO-1. */
START_TEST(exact_values_give_the_exact_mean)
{
    float *got = malloc(total * sizeof *got), *want = malloc(total * sizeof *want);
    double *mean = malloc(total * sizeof *mean), *am = malloc(total * sizeof *am);
    unsigned char *valid = malloc(total);
    for (int contract = 0; contract < 2; contract++) {
        reference(EXACT, contract, mean, am);
        for (size_t i = 0; i < total; i++) {
            want[i] = (float)mean[i];
            ck_assert_double_eq((double)want[i], mean[i]); /* the mean is exact in f32 */
        }
        for (int zero = 0; zero < 2; zero++)
            for (int bf16 = 0; bf16 < 2; bf16++) {
                run_cfg cfg = {.kind = EXACT, .bf16 = bf16, .zero = zero, .contract = contract};
                run(&cfg, got, valid);
                size_t n = 0;
                for (size_t i = 0; i < total; i++) {
                    if (!valid[i])
                        continue;
                    n++;
                    ck_assert_msg(memcmp(&got[i], &want[i], sizeof *got) == 0,
                                  "%s contract, zero %d, %s: element %zu is %a, the exact mean %a",
                                  contract ? "MEAN" : "SUM", zero, bf16 ? "bf16" : "f32", i, got[i],
                                  want[i]);
                }
                ck_assert_uint_gt(n, zero ? total / (size_t)world.size / 2 : total - 1);
                if (!zero)
                    assert_same_on_every_rank(got, "exact values");
                if (world.rank == 0)
                    printf("ok   %s %s contract%s, %d ranks: %zu gradients equal the exact mean "
                           "bit for bit\n",
                           bf16 ? "bf16" : "f32 ", contract ? "MEAN" : "SUM ",
                           zero ? ", ZeRO-1" : "        ", world.size, n);
            }
    }
    free(got), free(want), free(mean), free(am), free(valid);
}
END_TEST

/* (b) Random values. Error bound, with u = 2^-8 (bf16's unit roundoff: 8
 * significant bits, round to nearest) and P ranks, x_r the f32 gradients:
 *   rounding each x_r to bf16:              |b_r - x_r| <= u |x_r|
 *   P - 1 additions, each in f32 (error <= 2^-24 |s|) then rounded to bf16
 *   (<= u |s|), so relative error u' = u + 2^-24 (1 + u) per step; recursive
 *   summation in any order: |S^ - sum b_r| <= g_{P-1} sum |b_r| with
 *   g_n = n u' / (1 - n u'), and sum |b_r| <= (1 + u) sum |x_r|;
 *   bf16 -> f32 is exact; the division by N (f32 product with a double
 *   1/N) adds 2^-24 relative.
 * Altogether |result - sum x_r / N| <= (u + g_{P-1} (1 + u)) (1 + 2^-24)
 * sum |x_r| / N + 2^-24 |result|, less than P u (1 + 2^-6) sum |x_r| / N
 * for P <= 3 (P = 3: 3 u (1 + 0.008)). The result must also differ from the
 * f32 reduction somewhere (the bf16 path ran) and be the same on every rank. */
START_TEST(random_values_within_the_bf16_bound)
{
    float *b = malloc(total * sizeof *b), *f = malloc(total * sizeof *f);
    double *mean = malloc(total * sizeof *mean), *am = malloc(total * sizeof *am);
    unsigned char *valid = malloc(total);
    double P = world.size, unit = 0x1p-8;
    ck_assert_int_le(world.size, 3);
    reference(RANDOM, DLT_GRAD_SUM, mean, am);
    for (int zero = 0; zero < 2; zero++) {
        run_cfg cfg = {.kind = RANDOM, .bf16 = 1, .zero = zero};
        run(&cfg, b, valid);
        cfg.bf16 = 0;
        run(&cfg, f, NULL);
        double worst = 0, worst_f32 = 0;
        size_t differ = 0, n = 0;
        for (size_t i = 0; i < total; i++) {
            if (!valid[i])
                continue;
            n++;
            double bound = P * unit * (1 + 0x1p-6) * am[i];
            double e = fabs((double)b[i] - mean[i]);
            ck_assert_msg(
                e <= bound,
                "zero %d: element %zu: bf16 result %.9g, mean %.9g: error %.3g > bound %.3g", zero,
                i, b[i], mean[i], e, bound);
            worst = fmax(worst, e / bound);
            worst_f32 = fmax(worst_f32, fabs((double)f[i] - mean[i]) / bound);
            differ += b[i] != f[i];
        }
        ck_assert_msg(differ > n / 4, "zero %d: bf16 and f32 reductions differ in only %zu of %zu",
                      zero, differ, n);
        if (!zero)
            assert_same_on_every_rank(b, "random values");
        if (world.rank == 0)
            printf("ok   bf16 random%s, %d ranks: max error %.3f of the bound (f32: %.2g), %zu of "
                   "%zu differ from f32\n",
                   zero ? ", ZeRO-1" : "", world.size, worst, worst_f32, differ, n);
    }
    free(b), free(f), free(mean), free(am), free(valid);
}
END_TEST

/* (d) A graph on the stand-in device (gradients in "device" memory, the
 * backend's conversion symbols) gives bitwise the host path's result. */
START_TEST(standin_device_equals_host)
{
    float *h = malloc(total * sizeof *h), *d = malloc(total * sizeof *d);
    for (int kind = 0; kind < 2; kind++)
        for (int contract = 0; contract < 2; contract++) {
            run_cfg cfg = {.kind = kind, .bf16 = 1, .contract = contract};
            run(&cfg, h, NULL);
            cfg.be = dlt_standin_backend();
            run(&cfg, d, NULL);
            ck_assert_msg(memcmp(h, d, total * sizeof *h) == 0,
                          "kind %d contract %d: stand-in differs from host", kind, contract);
        }
    if (world.rank == 0)
        printf("ok   bf16 on the stand-in device equals the host path bit for bit, %d ranks\n",
               world.size);
    /* a device backend without the conversion kernels is refused at create */
    dlt_backend bare = *dlt_standin_backend();
    bare.symbol = NULL;
    dlt_graph *g = dlt_graph_create(5);
    ck_assert_int_eq(dlt_graph_set_backend(g, &bare), DLT_OK);
    dlt_t w = dlt_param(g, "w", 1, &sizes[0], dlt_init_uniform(-1, 1));
    dlt_t x = dlt_input(g, "x", DLT_F32, 1, &sizes[0]);
    dlt_t loss = dlt_sum(g, dlt_mul(g, x, w), 0, NULL, 0), gw;
    ck_assert_int_eq(dlt_grad(g, loss, 1, &w, &gw), DLT_OK);
    dlt_reducer_config rc = {.bf16 = 1};
    dlt_dist *dist = NULL;
    ck_assert_int_eq(dlt_dist_create(comm, g, 1, &w, &gw, &rc, &dist), DLT_ERR_UNSUPPORTED);
    ck_assert_ptr_null(dist);
    ck_assert_msg(strstr(dlt_errmsg(), "f32_to_bf16") != NULL, "%s", dlt_errmsg());
    dlt_graph_free(g);
    free(h), free(d);
}
END_TEST

/* The collectives themselves on bf16 buffers: all-reduce and reduce-scatter
 * SUM (each addition in f32, rounded to bf16), broadcast; other ops refused
 * before any collective starts. */
START_TEST(bf16_collectives)
{
    int p = world.size, me = world.rank;
    enum { N = 37 };
    dlt_bf16 buf[N], send[3 * N], recv[N];
    for (int i = 0; i < N; i++)
        buf[i] = dlt_f32_to_bf16((float)(me + 1) * ldexpf(1, i % 9 - 4));
    ck_assert_int_eq(dlt_comm_allreduce(comm, buf, N, DLT_COMM_BF16, DLT_COMM_SUM, NULL), DLT_OK);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(dlt_bf16_to_f32(buf[i]),
                           (float)(p * (p + 1) / 2) * ldexpf(1, i % 9 - 4));
    /* every pair's sum is rounded to bf16: with 3 ranks 3 + 3 * 2^-7 is a tie
     * between two bf16 values (rounded to even), so the sum is not exact */
    dlt_bf16 one = dlt_f32_to_bf16(1.0f + 0x1p-7f);
    ck_assert_int_eq(dlt_comm_allreduce(comm, &one, 1, DLT_COMM_BF16, DLT_COMM_SUM, NULL), DLT_OK);
    float s = 0;
    for (int r = 0; r < p; r++)
        s = dlt_bf16_to_f32(dlt_f32_to_bf16(s + (1.0f + 0x1p-7f)));
    ck_assert_float_eq(dlt_bf16_to_f32(one), s);
    for (int i = 0; i < p * N; i++)
        send[i] = dlt_f32_to_bf16((float)(i % 8 + me));
    ck_assert_int_eq(
        dlt_comm_reduce_scatter(comm, send, recv, N, DLT_COMM_BF16, DLT_COMM_SUM, NULL), DLT_OK);
    for (int i = 0; i < N; i++) {
        float v = 0; /* small integers: every partial sum is exact */
        for (int r = 0; r < p; r++)
            v += (float)((me * N + i) % 8 + r);
        ck_assert_float_eq(dlt_bf16_to_f32(recv[i]), v);
    }
    dlt_bf16 pi = me == 1 ? dlt_f32_to_bf16(3.14159f) : 0;
    ck_assert_int_eq(dlt_comm_bcast(comm, &pi, 1, DLT_COMM_BF16, 1, NULL), DLT_OK);
    ck_assert_uint_eq(pi, 0x4049);
    int64_t seq = dlt_comm_seq(comm);
    ck_assert_int_eq(dlt_comm_allreduce(comm, buf, N, DLT_COMM_BF16, DLT_COMM_MAX, NULL),
                     DLT_ERR_UNSUPPORTED);
    ck_assert_str_eq(dlt_errmsg(),
                     "all-reduce of bf16 elements: only SUM is implemented (got MAX)");
    ck_assert_int_eq(
        dlt_comm_reduce_scatter(comm, send, recv, N, DLT_COMM_BF16, DLT_COMM_AVG, NULL),
        DLT_ERR_UNSUPPORTED);
    ck_assert_str_eq(dlt_errmsg(),
                     "reduce-scatter of bf16 elements: only SUM is implemented (got AVG)");
    ck_assert_int_eq(dlt_comm_seq(comm), seq);
    if (me == 0)
        printf("ok   bf16 all-reduce, reduce-scatter, broadcast; MAX and AVG refused, %d ranks\n",
               p);
}
END_TEST

int main(int argc, char **argv)
{
    if (dlt_world_init(&argc, &argv, &world) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        return 1;
    }
    dlt_set_num_threads(1);
    dlt_comm_config cfg = {.timeout_s = 60, .debug_collectives = getenv("DLT_DEBUG_COLL") != NULL};
    if (dlt_comm_create(&world, &cfg, &comm) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        return 1;
    }
    for (int k = 0; k < K; k++)
        total += (size_t)sizes[k];
    Suite *s = suite_create("bf16 reduction");
    TCase *tc = tcase_create("bf16");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bf16_collectives);
    tcase_add_test(tc, exact_values_give_the_exact_mean);
    tcase_add_test(tc, random_values_within_the_bf16_bound);
    tcase_add_test(tc, standin_device_equals_host);
    suite_add_tcase(s, tc);
    int rc = dlt_test_run(s);
    MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    dlt_comm_free(comm);
    dlt_world_finalize(&world);
    return rc;
}
