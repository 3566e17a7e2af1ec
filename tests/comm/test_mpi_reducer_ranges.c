/* The graph-free reducer of src/comm over a caller-given subset of the
 * ranges of one flat gradient buffer (what one phase of a GAN reduces):
 * the reduced ranges hold the closed-form average, the elements between
 * them are never touched, buckets never span a gap, the readiness signal
 * starts buckets strictly in index order whatever order the ranges become
 * ready in, and ZeRO-1 leaves each rank its shard and all-gathers shards of
 * another buffer. Run under 2 and 3 ranks. */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_comm.h"
#include "dlt_test.h"

static dlt_world world;
static dlt_comm *comm;

enum { N = 1000, NR = 5 };
/* reduced: [0,100) [100,250) [400,520) [520,700) [900,1000); the gaps
 * [250,400) and [700,900) belong to another phase */
static const dlt_comm_range ranges[NR] = {{0, 100}, {100, 250}, {400, 520}, {520, 700}, {900, 1000}};
/* the order in which backward "finishes" the ranges */
static const int ready_order[NR] = {3, 0, 4, 2, 1};

static int in_ranges(size_t i)
{
    for (int k = 0; k < NR; k++)
        if (i >= ranges[k].lo && i < ranges[k].hi)
            return 1;
    return 0;
}

/* Outside the ranges: a value only this rank has, which must survive. */
static float sentinel(size_t i, int rank)
{
    return -1000.0f - (float)rank - (float)(i % 13);
}

/* Buckets whose every range is marked, counted from bucket 0 up to the
 * first that is not complete: what must have started. */
static int complete_prefix(const dlt_reducer *red, const int *marked)
{
    int nb = dlt_reducer_num_buckets(red), k = 0;
    for (; k < nb; k++) {
        size_t lo, hi;
        dlt_reducer_bucket(red, k, &lo, &hi, NULL);
        for (int i = 0; i < NR; i++)
            if (ranges[i].lo >= lo && ranges[i].hi <= hi && !marked[i])
                return k;
    }
    return k;
}

typedef struct {
    dlt_grad_contract contract;
    int zero;
    double unscale;
} case_cfg;

static void run_case(const case_cfg *cc)
{
    int p = world.size, me = world.rank;
    double S = p * (p + 1) / 2.0; /* sum over ranks of the sample counts r + 1 */
    float *g = malloc(N * sizeof *g);
    for (size_t i = 0; i < N; i++)
        /* SUM: rank r's summed gradient (r + 1)(i + 1); MEAN: the mean i + 1 */
        g[i] = in_ranges(i) ? (float)((cc->contract == DLT_GRAD_SUM ? me + 1 : 1) * (double)(i + 1))
                            : sentinel(i, me);
    /* 52-float first bucket, then 104 floats */
    dlt_reducer_config rc = {.bucket_mb = 0.0004, .first_bucket_mb = 0.0002, .contract = cc->contract,
                             .zero = cc->zero};
    dlt_reducer *red;
    ck_assert_msg(dlt_reducer_create(comm, g, NR, ranges, &rc, NULL, &red) == DLT_OK, "%s", dlt_errmsg());
    int nb = dlt_reducer_num_buckets(red);
    /* each range (100 to 180 floats) exceeds the 52/104-float limits, so
     * every bucket is exactly one range */
    ck_assert_int_eq(nb, NR);
    for (int b = 0; b < nb; b++) {
        size_t lo, hi;
        int nr;
        dlt_reducer_bucket(red, b, &lo, &hi, &nr);
        ck_assert_uint_eq(lo, ranges[b].lo);
        ck_assert_uint_eq(hi, ranges[b].hi);
        ck_assert_int_eq(nr, 1);
    }
    dlt_reducer_set_unscale(red, cc->unscale);
    /* a non-final micro-step only counts samples: split r + 1 into 1 + r */
    ck_assert_int_eq(dlt_reducer_begin(red, 1, 0), DLT_OK);
    ck_assert_int_eq(dlt_reducer_finish(red), DLT_OK);
    ck_assert_int_eq(dlt_reducer_begin(red, me, 1), DLT_OK);
    int marked[NR] = {0};
    for (int k = 0; k < NR; k++) {
        dlt_reducer_ready(red, ready_order[k]);
        dlt_reducer_ready(red, ready_order[k]); /* twice: no effect */
        marked[ready_order[k]] = 1;
        dlt_reducer_poll(red);
        ck_assert_int_eq(dlt_reducer_num_started(red), complete_prefix(red, marked));
    }
    ck_assert_int_eq(dlt_reducer_num_started(red), nb);
    ck_assert_msg(dlt_reducer_finish(red) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_double_eq(dlt_reducer_global_samples(red), S);
    /* closed form: sum_r (r + 1)(i + 1) / S = i + 1, times unscale (exact in f32) */
    for (int b = 0; b < nb; b++) {
        size_t lo, hi;
        dlt_reducer_shard(red, b, &lo, &hi);
        for (size_t i = lo; i < hi; i++)
            ck_assert_msg(g[i] == (float)((double)(i + 1) * cc->unscale), "element %zu: %g, want %g", i,
                          (double)g[i], (double)(i + 1) * cc->unscale);
    }
    for (size_t i = 0; i < N; i++)
        if (!in_ranges(i))
            ck_assert_msg(g[i] == sentinel(i, me), "element %zu outside the ranges was written", i);
    if (cc->zero) {
        /* the shards of a parameter-like buffer, from their owners to all */
        float *w = malloc(N * sizeof *w);
        for (size_t i = 0; i < N; i++)
            w[i] = in_ranges(i) ? 0.0f : sentinel(i, me);
        for (int b = 0; b < nb; b++) {
            size_t lo, hi;
            dlt_reducer_shard(red, b, &lo, &hi);
            ck_assert(lo >= ranges[b].lo && hi <= ranges[b].hi);
            for (size_t i = lo; i < hi; i++)
                w[i] = (float)(2 * i + 1);
        }
        ck_assert_int_eq(dlt_reducer_allgather_shards(red, w), DLT_OK);
        for (size_t i = 0; i < N; i++)
            ck_assert_msg(w[i] == (in_ranges(i) ? (float)(2 * i + 1) : sentinel(i, me)), "element %zu: %g", i,
                          (double)w[i]);
        free(w);
    } else {
        ck_assert_int_eq(dlt_reducer_allgather_shards(red, g), DLT_ERR_INVALID);
    }
    dlt_reducer_free(red);
    free(g);
}

START_TEST(subset_of_ranges_sum)
{
    case_cfg cc = {.contract = DLT_GRAD_SUM, .unscale = 1};
    run_case(&cc);
}
END_TEST

START_TEST(subset_of_ranges_mean_unscaled)
{
    case_cfg cc = {.contract = DLT_GRAD_MEAN, .unscale = 0.25};
    run_case(&cc);
}
END_TEST

START_TEST(subset_of_ranges_zero1)
{
    case_cfg cc = {.contract = DLT_GRAD_SUM, .zero = 1, .unscale = 1};
    run_case(&cc);
}
END_TEST

START_TEST(touching_ranges_share_buckets_gaps_split_them)
{
    float g[64] = {0};
    dlt_comm_range two[2] = {{0, 30}, {30, 64}}, gap[2] = {{0, 30}, {40, 64}}, overlap[2] = {{0, 30}, {20, 64}};
    dlt_reducer_config rc = {.first_bucket_mb = 1, .bucket_mb = 1};
    dlt_reducer *red;
    size_t lo, hi;
    int nr;
    ck_assert_int_eq(dlt_reducer_create(comm, g, 2, two, &rc, NULL, &red), DLT_OK);
    ck_assert_int_eq(dlt_reducer_num_buckets(red), 1);
    dlt_reducer_bucket(red, 0, &lo, &hi, &nr);
    ck_assert(lo == 0 && hi == 64 && nr == 2);
    dlt_reducer_free(red);
    /* room for both, but a gap: each bucket is one contiguous block */
    ck_assert_int_eq(dlt_reducer_create(comm, g, 2, gap, &rc, NULL, &red), DLT_OK);
    ck_assert_int_eq(dlt_reducer_num_buckets(red), 2);
    dlt_reducer_bucket(red, 1, &lo, &hi, &nr);
    ck_assert(lo == 40 && hi == 64 && nr == 1);
    dlt_reducer_free(red);
    ck_assert_int_eq(dlt_reducer_create(comm, g, 2, overlap, &rc, NULL, &red), DLT_ERR_INVALID);
    ck_assert_ptr_null(red);
}
END_TEST

int main(int argc, char **argv)
{
    if (dlt_world_init(&argc, &argv, &world) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        return 1;
    }
    dlt_comm_config cfg = {.timeout_s = 60, .debug_collectives = getenv("DLT_DEBUG_COLL") != NULL};
    if (dlt_comm_create(&world, &cfg, &comm) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        return 1;
    }
    Suite *s = suite_create("reducer_ranges");
    TCase *tc = tcase_create("ranges");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, subset_of_ranges_sum);
    tcase_add_test(tc, subset_of_ranges_mean_unscaled);
    tcase_add_test(tc, subset_of_ranges_zero1);
    tcase_add_test(tc, touching_ranges_share_buckets_gaps_split_them);
    suite_add_tcase(s, tc);
    int rc = dlt_test_run(s);
    MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    dlt_comm_free(comm);
    dlt_world_finalize(&world);
    return rc;
}
