/* Collectives against hand-computed values (sum, average, max/min, broadcast,
 * all-gather, reduce-scatter with padded uneven blocks, barrier, blocking and
 * non-blocking), metrics, replica broadcast/check, and the world helpers
 * (singleton trap, device, threads, rank table), the ring all-reduce, and
 * groups split from the world.
 * Run under 2 and 3 ranks. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlt_bf16.h"
#include "dlt_comm.h"
#include "dlt_dist.h"
#include "dlt_gpu.h"
#include "dlt_test.h"

static dlt_world world;
static dlt_comm *comm;

START_TEST(allreduce_sum_avg_max_min)
{
    int p = world.size, r = world.rank;
    enum { N = 1001 };
    float *x = malloc(N * sizeof *x);
    double y[7], mx[3], mn[3];
    for (int i = 0; i < N; i++)
        x[i] = (float)((r + 1) * (i % 7 + 1));
    ck_assert_int_eq(dlt_comm_allreduce(comm, x, N, DLT_COMM_F32, DLT_COMM_SUM, NULL), DLT_OK);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(x[i], (float)((i % 7 + 1) * p * (p + 1) / 2));
    for (int i = 0; i < 7; i++)
        y[i] = r + 0.25 * i;
    ck_assert_int_eq(dlt_comm_allreduce(comm, y, 7, DLT_COMM_F64, DLT_COMM_AVG, NULL), DLT_OK);
    for (int i = 0; i < 7; i++)
        ck_assert_double_eq_tol(y[i], (p - 1) / 2.0 + 0.25 * i, 1e-15);
    for (int i = 0; i < 3; i++)
        mx[i] = mn[i] = (r * 7 + i * 3) % 5 - 2.0 * r;
    dlt_comm_allreduce(comm, mx, 3, DLT_COMM_F64, DLT_COMM_MAX, NULL);
    dlt_comm_allreduce(comm, mn, 3, DLT_COMM_F64, DLT_COMM_MIN, NULL);
    for (int i = 0; i < 3; i++) {
        double want_mx = -1e300, want_mn = 1e300;
        for (int k = 0; k < p; k++) {
            double v = (k * 7 + i * 3) % 5 - 2.0 * k;
            want_mx = v > want_mx ? v : want_mx;
            want_mn = v < want_mn ? v : want_mn;
        }
        ck_assert_double_eq(mx[i], want_mx);
        ck_assert_double_eq(mn[i], want_mn);
    }
    free(x);
}
END_TEST

START_TEST(nonblocking_out_of_order_waits)
{
    int p = world.size, r = world.rank;
    float a[5], b[300];
    double c[2] = {r, 1};
    dlt_comm_req ra = {0}, rb = {0}, rc = {0};
    for (int i = 0; i < 5; i++)
        a[i] = (float)(r * i);
    for (int i = 0; i < 300; i++)
        b[i] = r == 0 ? (float)i * 0.5f : -1.0f;
    ck_assert_int_eq(dlt_comm_allreduce(comm, a, 5, DLT_COMM_F32, DLT_COMM_AVG, &ra), DLT_OK);
    ck_assert_int_eq(dlt_comm_bcast(comm, b, 300, DLT_COMM_F32, 0, &rb), DLT_OK);
    ck_assert_int_eq(dlt_comm_allreduce(comm, c, 2, DLT_COMM_F64, DLT_COMM_SUM, &rc), DLT_OK);
    ck_assert_int_ne(ra.id, 0);
    dlt_comm_progress(comm);
    ck_assert_int_eq(dlt_comm_wait(comm, &rc), DLT_OK);
    ck_assert_int_eq(dlt_comm_wait(comm, &rb), DLT_OK);
    while (!dlt_comm_test(comm, &ra))
        ;
    ck_assert_int_eq(ra.id, 0);
    ck_assert_int_eq(dlt_comm_wait(comm, &ra), DLT_OK); /* released: no-op */
    for (int i = 0; i < 5; i++)
        ck_assert_float_eq_tol(a[i], (float)((p - 1) / 2.0 * i), 1e-6);
    for (int i = 0; i < 300; i++)
        ck_assert_float_eq(b[i], (float)i * 0.5f);
    ck_assert_double_eq(c[0], p * (p - 1) / 2.0);
    ck_assert_double_eq(c[1], p);
    dlt_comm_req rq = {0};
    ck_assert_int_eq(dlt_comm_barrier(comm, &rq), DLT_OK);
    ck_assert_int_eq(dlt_comm_wait(comm, &rq), DLT_OK);
    ck_assert_int_eq(dlt_comm_barrier(comm, NULL), DLT_OK);
}
END_TEST

START_TEST(broadcast_from_last_rank)
{
    int p = world.size, r = world.rank;
    double v[33];
    for (int i = 0; i < 33; i++)
        v[i] = r == p - 1 ? 1.0 / (i + 1) : 99;
    ck_assert_int_eq(dlt_comm_bcast(comm, v, 33, DLT_COMM_F64, p - 1, NULL), DLT_OK);
    for (int i = 0; i < 33; i++)
        ck_assert_double_eq(v[i], 1.0 / (i + 1));
    ck_assert_int_eq(dlt_comm_bcast(comm, v, 1, DLT_COMM_F64, p, NULL), DLT_ERR_INVALID);
}
END_TEST

START_TEST(allgather_copy_and_in_place)
{
    int p = world.size, r = world.rank;
    float mine[5], *all = malloc((size_t)p * 5 * sizeof *all);
    for (int i = 0; i < 5; i++)
        mine[i] = (float)(r * 100 + i);
    ck_assert_int_eq(dlt_comm_allgather(comm, mine, all, 5, DLT_COMM_F32, NULL), DLT_OK);
    for (int k = 0; k < p; k++)
        for (int i = 0; i < 5; i++)
            ck_assert_float_eq(all[k * 5 + i], (float)(k * 100 + i));
    for (int i = 0; i < p * 5; i++)
        all[i] = i / 5 == r ? (float)(-r - i) : 0.0f;
    ck_assert_int_eq(dlt_comm_allgather(comm, NULL, all, 5, DLT_COMM_F32, NULL), DLT_OK);
    for (int i = 0; i < p * 5; i++)
        ck_assert_float_eq(all[i], (float)(-(i / 5) - i));
    free(all);
}
END_TEST

START_TEST(shard_ranges)
{
    size_t lo, hi;
    ck_assert_uint_eq(dlt_comm_shard(10, 3, 0, 4, &lo, &hi), 4);
    ck_assert(lo == 0 && hi == 4);
    dlt_comm_shard(10, 3, 2, 4, &lo, &hi);
    ck_assert(lo == 8 && hi == 10);
    dlt_comm_shard(1, 3, 1, 1, &lo, &hi);
    ck_assert(lo == 1 && hi == 1); /* empty shard */
    ck_assert_uint_eq(dlt_comm_shard(7, 2, 1, 0, &lo, &hi), 4);
    ck_assert(lo == 4 && hi == 7);
}
END_TEST

/* total not divisible by the ranks: blocks padded with zeros (dlt_comm_shard) */
START_TEST(reduce_scatter_padded)
{
    static const size_t totals[] = {10, 1, 37};
    int p = world.size, r = world.rank;
    for (int t = 0; t < 3; t++) {
        size_t total = totals[t], lo, hi;
        size_t per = dlt_comm_shard(total, p, r, 4, &lo, &hi);
        float *send = calloc(per * (size_t)p, sizeof *send), *recv = malloc(per * sizeof *recv);
        for (size_t j = 0; j < total; j++)
            send[j] = (float)((r + 1) * (j + 1));
        ck_assert_int_eq(
            dlt_comm_reduce_scatter(comm, send, recv, per, DLT_COMM_F32, DLT_COMM_SUM, NULL),
            DLT_OK);
        for (size_t i = 0; i < per; i++) {
            size_t j = (size_t)r * per + i;
            float want = j < total ? (float)((j + 1) * p * (p + 1) / 2) : 0.0f;
            ck_assert_float_eq(recv[i], want);
        }
        ck_assert_uint_eq(hi - lo, lo + per <= total ? per : total > lo ? total - lo : 0);
        /* average, non-blocking */
        dlt_comm_req q = {0};
        ck_assert_int_eq(
            dlt_comm_reduce_scatter(comm, send, recv, per, DLT_COMM_F32, DLT_COMM_AVG, &q), DLT_OK);
        dlt_comm_wait(comm, &q);
        for (size_t i = 0; i < per; i++) {
            size_t j = (size_t)r * per + i;
            float want = j < total ? (float)((j + 1) * (p + 1) / 2.0) : 0.0f;
            ck_assert_float_eq_tol(recv[i], want, 1e-5);
        }
        free(send);
        free(recv);
    }
}
END_TEST

START_TEST(metrics_sum)
{
    int p = world.size, r = world.rank;
    double m[3] = {0.5 * (r + 1), (double)(r % 2), 10};
    ck_assert_int_eq(dlt_comm_reduce_metrics(comm, m, 3), DLT_OK);
    ck_assert_double_eq(m[0], 0.25 * p * (p + 1));
    ck_assert_double_eq(m[1], (double)(p / 2));
    ck_assert_double_eq(m[2], 10.0 * p);
}
END_TEST

START_TEST(replica_broadcast_and_check)
{
    int r = world.rank;
    dlt_graph *g = dlt_graph_create(3);
    int64_t ws[2] = {7, 5}, bs[1] = {4};
    dlt_param(g, "w", 2, ws, dlt_init_uniform(-1, 1));
    dlt_buffer(g, "running_mean", 1, bs, dlt_init_const(0));
    ck_assert_int_eq(dlt_graph_finalize(g, NULL, 0), DLT_OK);
    float *pd = dlt_params_data(g), *bd = dlt_buffers_data(g);
    float w0 = pd[0];
    pd[3] += (float)r; /* replicas differ before the broadcast */
    bd[1] = (float)r;
    ck_assert_int_eq(dlt_dist_replica_broadcast(comm, g), DLT_OK);
    ck_assert_float_eq(pd[0], w0);
    ck_assert_float_eq(bd[1], 0.0f);
    double s;
    uint64_t h0, h1;
    dlt_replica_checksum(pd, dlt_params_numel(g), &s, &h0);
    pd[5] = -pd[5] + 0.0f;
    dlt_replica_checksum(pd, dlt_params_numel(g), &s, &h1);
    ck_assert(h0 != h1);
    pd[5] = -pd[5];
    ck_assert_int_eq(dlt_dist_replica_check(comm, g), DLT_OK);
    if (r == 1)
        bd[2] = 1e-30f; /* one bit-level difference in a buffer */
    dlt_status st = dlt_dist_replica_check(comm, g);
    if (world.size > 1) {
        ck_assert_int_eq(st, DLT_ERR_COMM);
        ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "rank 1"));
    }
    dlt_graph_free(g);
}
END_TEST

static char table[4096];
static void sink(dlt_log_level lvl, const char *line, void *user)
{
    (void)lvl, (void)user;
    strncat(table, line, sizeof table - strlen(table) - 2);
    strcat(table, "\n");
}

/* Rank r's element i: a value with a full mantissa (sums round). */
static float ring_val(int r, size_t i)
{
    uint32_t h = (uint32_t)(i * 2654435761u) ^ (uint32_t)(r * 40503u + 7u);
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    return ((float)(h & 0xffffff) / 16777216.0f - 0.5f) * (float)(1 + r);
}

/* The ring all-reduce (ring_min_bytes = 1: every SUM/AVG all-reduce takes
 * it) against MPI_Allreduce: small integers exactly for any rank count; with
 * 2 ranks arbitrary values bit for bit (a + b is MPI's sum too); every rank
 * holds the same bits; several requests in flight, waited out of order and
 * growing the scratch buffer while one is pending. */
START_TEST(ring_allreduce)
{
    int p = world.size, r = world.rank;
    dlt_comm_config cfg = {.ring_min_bytes = 1};
    dlt_comm *rc;
    ck_assert_int_eq(dlt_comm_create(&world, &cfg, &rc), DLT_OK);
    static const size_t sizes[] = {1, 2, 5, 17, 1000, 70001};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *want = malloc(n * sizeof *want);
        double *d = malloc(n * sizeof *d);
        dlt_bf16 *h = malloc(n * sizeof *h);
        for (size_t i = 0; i < n; i++) {
            a[i] = (float)((r + 1) * (int)(i % 11)) - 3.0f;
            b[i] = want[i] = ring_val(r, i);
            d[i] = (double)ring_val(r, i) * 1e-3;
            h[i] = dlt_f32_to_bf16((float)(r + 1) * (float)(i % 5));
        }
        dlt_comm_req qa = {0}, qb = {0}, qd = {0}, qh = {0};
        ck_assert_int_eq(dlt_comm_allreduce(rc, a, n, DLT_COMM_F32, DLT_COMM_SUM, &qa), DLT_OK);
        ck_assert_int_eq(dlt_comm_allreduce(rc, b, n, DLT_COMM_F32, DLT_COMM_AVG, &qb), DLT_OK);
        ck_assert_int_eq(dlt_comm_allreduce(rc, d, n, DLT_COMM_F64, DLT_COMM_SUM, &qd), DLT_OK);
        ck_assert_int_eq(dlt_comm_allreduce(rc, h, n, DLT_COMM_BF16, DLT_COMM_SUM, &qh), DLT_OK);
        ck_assert_int_eq(dlt_comm_wait(rc, &qh), DLT_OK);
        ck_assert_int_eq(dlt_comm_wait(rc, &qd), DLT_OK);
        ck_assert_int_eq(dlt_comm_wait(rc, &qa), DLT_OK);
        while (!dlt_comm_test(rc, &qb))
            dlt_comm_progress(rc);
        MPI_Allreduce(MPI_IN_PLACE, want, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        for (size_t i = 0; i < n; i++) {
            ck_assert_float_eq(a[i], (float)((int)(i % 11) * p * (p + 1) / 2 - 3 * p));
            ck_assert_float_eq(dlt_bf16_to_f32(h[i]), (float)((int)(i % 5) * p * (p + 1) / 2));
            double sd = 0;
            for (int k = 0; k < p; k++)
                sd += (double)ring_val(k, i) * 1e-3;
            ck_assert_double_eq_tol(d[i], sd, 1e-15);
            if (p == 2) /* the AVG's division as the separate pass did it */
                ck_assert_float_eq(b[i], (float)(want[i] * (1.0 / p)));
            else
                ck_assert_float_eq_tol(b[i], want[i] / (float)p, 1e-6f * (float)p);
        }
        /* every rank the same bits */
        uint64_t hs[2] = {0, 0}, *all = malloc((size_t)p * sizeof hs);
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &b[i], sizeof u);
            hs[0] = hs[0] * 1099511628211u + u;
            hs[1] = hs[1] * 1099511628211u + (uint64_t)(d[i] * 1e15);
        }
        MPI_Allgather(hs, 2, MPI_UINT64_T, all, 2, MPI_UINT64_T, MPI_COMM_WORLD);
        for (int k = 0; k < p; k++)
            ck_assert(all[2 * k] == hs[0] && all[2 * k + 1] == hs[1]);
        free(all), free(a), free(b), free(want), free(d), free(h);
    }
    dlt_comm_free(rc);
}
END_TEST

/* Groups by color, ranked by key (here the reverse of the world order), each
 * with its own collectives: sums over a group's world ranks, a ring-sized
 * all-reduce inside it, and a bad color failing on every rank alike. */
START_TEST(split_groups)
{
    int p = world.size, r = world.rank, color = r % 2;
    dlt_comm *grp = NULL;
    ck_assert_msg(dlt_comm_split(comm, color, -r, &grp) == DLT_OK, "%s", dlt_errmsg());
    int want_size = 0, want_rank = 0;
    double want_sum = 0;
    for (int q = 0; q < p; q++)
        if (q % 2 == color) {
            want_size++, want_sum += q;
            want_rank += q > r; /* larger world ranks come first */
        }
    ck_assert_int_eq(dlt_comm_size(grp), want_size);
    ck_assert_int_eq(dlt_comm_rank(grp), want_rank);
    double v = r;
    ck_assert_int_eq(dlt_comm_allreduce(grp, &v, 1, DLT_COMM_F64, DLT_COMM_SUM, NULL), DLT_OK);
    ck_assert_double_eq(v, want_sum);
    enum { N = 40000 }; /* 160 KB: the ring all-reduce when the group has 2+ ranks */
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++)
        x[i] = (float)(r + i % 3);
    ck_assert_int_eq(dlt_comm_allreduce(grp, x, N, DLT_COMM_F32, DLT_COMM_SUM, NULL), DLT_OK);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(x[i], (float)(want_sum + want_size * (i % 3)));
    free(x);
    dlt_comm_free(grp);
    /* the last rank asks for group -1: every rank fails, naming it */
    dlt_status st = dlt_comm_split(comm, r == p - 1 ? -1 : 0, r, &grp);
    ck_assert_int_eq(st, DLT_ERR_INVALID);
    ck_assert_ptr_null(grp);
    char want[64];
    snprintf(want, sizeof want, "rank %d's group -1", p - 1);
    ck_assert_msg(strstr(dlt_errmsg(), want) != NULL, "%s", dlt_errmsg());
}
END_TEST

START_TEST(world_helpers)
{
    int p = world.size;
    ck_assert_int_eq(dlt_world_check_launch(p), DLT_OK);
    setenv("SLURM_NTASKS", "4", 1);
    ck_assert_int_eq(dlt_world_check_launch(1), DLT_ERR_COMM);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "--mpi=pmix"));
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "4 tasks"));
    ck_assert_int_eq(dlt_world_check_launch(4), DLT_OK);
    setenv("DLT_ALLOW_SINGLETON", "1", 1);
    ck_assert_int_eq(dlt_world_check_launch(1), DLT_OK);
    unsetenv("DLT_ALLOW_SINGLETON");
    unsetenv("SLURM_NTASKS");
    int ndev = dlt_gpu_device_count();
    ck_assert_int_eq(dlt_world_device(&world, ndev), ndev > 0 ? world.local_rank % ndev : -1);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int want = (int)(cores / world.local_size);
    ck_assert_int_eq(dlt_world_default_threads(&world), want > 0 ? want : 1);
    table[0] = '\0';
    dlt_log_set_sink(sink, NULL);
    ck_assert_int_eq(dlt_world_log_table(&world, -1, 2), DLT_OK);
    dlt_log_set_sink(NULL, NULL);
    if (world.rank == 0) {
        char want_line[300];
        snprintf(want_line, sizeof want_line, "rank %d -> %.60s -> cpu, 2 threads", p - 1,
                 world.host);
        ck_assert_msg(strstr(table, want_line), "table:\n%s", table);
    } else {
        ck_assert_str_eq(table, "");
    }
}
END_TEST

int main(int argc, char **argv)
{
    if (dlt_world_init(&argc, &argv, &world) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        return 1;
    }
    dlt_comm_config cfg = {.timeout_s = 60};
    if (dlt_comm_create(&world, &cfg, &comm) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        return 1;
    }
    Suite *s = suite_create("comm");
    TCase *tc = tcase_create("collectives");
    tcase_add_test(tc, allreduce_sum_avg_max_min);
    tcase_add_test(tc, nonblocking_out_of_order_waits);
    tcase_add_test(tc, broadcast_from_last_rank);
    tcase_add_test(tc, allgather_copy_and_in_place);
    tcase_add_test(tc, shard_ranges);
    tcase_add_test(tc, reduce_scatter_padded);
    tcase_add_test(tc, metrics_sum);
    tcase_add_test(tc, replica_broadcast_and_check);
    tcase_add_test(tc, ring_allreduce);
    tcase_add_test(tc, split_groups);
    tcase_add_test(tc, world_helpers);
    suite_add_tcase(s, tc);
    int rc = dlt_test_run(s);
    MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    dlt_comm_free(comm);
    dlt_world_finalize(&world);
    return rc;
}
