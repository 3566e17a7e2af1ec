/* Data-parallel benchmarks (run under mpirun; prints figures, asserts nothing),
 * every figure beside its reference in the same run, the rounds interleaved:
 *   1. all-reduce throughput of the gradient reducer (buckets: first 1 MiB, then
 *      25 MiB, non-blocking, polled, divided by the sample count) beside one raw
 *      MPI_Allreduce of the same total size, and the ratio of their bus
 *      bandwidths; algbw = bytes / time, busbw = algbw * 2 (n - 1) / n, as
 *      nccl-tests define them. "ring" is the reducer as it runs (src/comm/ring.c),
 *      "MPI_Iallreduce" the same reducer with ring_min_bytes < 0 (each bucket
 *      through Open MPI's non-blocking all-reduce and a separate division pass);
 *   2. step time of an MLP trained with the reducer beside the same step with
 *      no communication, and the overhead (run with -np 1 for the
 *      single-process figure).
 * Usage: mpirun -np N bench/comm_bench [MiB ...]   (default 25 100)
 * Environment: DLT_BENCH_ITERS (5), DLT_BENCH_BUCKET_MB (MLP buckets; 25/1),
 * DLT_BENCH_BATCH (MLP samples per rank; 64). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_comm.h"
#include "dlt_dist.h"
#include "dlt_ops.h"

static dlt_world world;
static dlt_comm *comm;
static dlt_comm *comm_mpi; /* ring_min_bytes < 0: every all-reduce MPI's */

static void check(dlt_status st, const char *what)
{
    if (st != DLT_OK) {
        fprintf(stderr, "%s: %s\n", what, dlt_errmsg());
        dlt_comm_fail(comm, st);
    }
}

static const char *load_average(void)
{
    static char buf[128] = "unknown\n";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            snprintf(buf, sizeof buf, "unknown\n");
        fclose(f);
    }
    return buf;
}

static double median(double *t, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1], t[j - 1] = x;
        }
    return t[n / 2];
}

static void report(const char *what, double bytes, double t, double t_raw)
{
    int p = world.size;
    double alg = bytes / t / 1e9, bus = alg * 2.0 * (p - 1) / p;
    if (world.rank == 0)
        printf("  %-36s %8.2f ms  algbw %6.2f GB/s  busbw %6.2f GB/s  %5.2fx raw\n", what, t * 1e3, alg,
               bus, t_raw / t);
}

/* The slowest rank's median. */
static double slowest_median(double *t, int n)
{
    double m = median(t, n);
    MPI_Allreduce(MPI_IN_PLACE, &m, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return m;
}

/* A graph whose parameters total `mib` MiB; loss = sum of all parameters, so
 * its plan writes every gradient (the reducer needs a plan to time). */
static void allreduce_bench(double mib, int iters)
{
    int nparams = 40;
    size_t total = (size_t)(mib * 1048576 / sizeof(float)), each = total / (size_t)nparams;
    dlt_graph *g = dlt_graph_create(1);
    dlt_t *ps = malloc((size_t)nparams * sizeof *ps), loss = -1;
    for (int i = 0; i < nparams; i++) {
        int64_t d[1] = {(int64_t)each};
        char name[32];
        snprintf(name, sizeof name, "p%d", i);
        ps[i] = dlt_param(g, name, 1, d, dlt_init_const(0.5));
        dlt_t s = dlt_sum(g, ps[i], 0, NULL, 0);
        loss = loss < 0 ? s : dlt_add(g, loss, s);
    }
    int np;
    dlt_t *params, *grads;
    check(dlt_grad_params(g, loss, &np, &params, &grads), "grad");
    dlt_dist *dist, *dist_mpi;
    check(dlt_dist_create(comm, g, np, params, grads, NULL, &dist), "reducer");
    /* the layout is fixed now: the second reducer keeps it (and says so) */
    dlt_log_level lvl = dlt_log_get_level();
    dlt_log_set_level(DLT_LOG_ERROR);
    check(dlt_dist_create(comm_mpi, g, np, params, grads, NULL, &dist_mpi), "reducer");
    dlt_log_set_level(lvl);
    dlt_plan *plan;
    dlt_plan_opts po = {0};
    dlt_dist_plan_opts(dist, &po);
    check(dlt_plan_create(g, 1, &loss, &po, &plan), "plan");
    check(dlt_plan_run(plan, NULL), "run");
    size_t n = dlt_params_numel(g);
    double bytes = (double)n * sizeof(float);
    float *raw = malloc(n * sizeof *raw);
    memcpy(raw, dlt_grads_data(g), n * sizeof *raw);
    double *tr = malloc((size_t)iters * sizeof *tr), *tb = malloc((size_t)iters * sizeof *tb);
    double *tm = malloc((size_t)iters * sizeof *tm);
    for (int it = -2; it < iters; it++) { /* two warm-up rounds */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, raw, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double t1 = MPI_Wtime();
        MPI_Barrier(MPI_COMM_WORLD);
        double t2 = MPI_Wtime();
        /* every bucket is ready at once: all start in finish, then are waited for */
        check(dlt_dist_begin(dist, plan, 1, 1), "begin");
        check(dlt_dist_finish(dist), "finish");
        double t3 = MPI_Wtime();
        MPI_Barrier(MPI_COMM_WORLD);
        double t4 = MPI_Wtime();
        check(dlt_dist_begin(dist_mpi, plan, 1, 1), "begin");
        check(dlt_dist_finish(dist_mpi), "finish");
        double t5 = MPI_Wtime();
        if (it >= 0)
            tr[it] = t1 - t0, tb[it] = t3 - t2, tm[it] = t5 - t4;
    }
    /* the slowest rank's median defines the time */
    double mr = slowest_median(tr, iters), mb = slowest_median(tb, iters);
    double mm = slowest_median(tm, iters);
    if (world.rank == 0)
        printf("all-reduce of %.1f MiB f32 (%d buckets), %d ranks, median of %d:\n",
               bytes / 1048576, dlt_reducer_num_buckets(dlt_dist_reducer(dist)), world.size, iters);
    report("raw MPI_Allreduce", bytes, mr, mr);
    report("reducer (ring)", bytes, mb, mr);
    report("reducer (MPI_Iallreduce, before)", bytes, mm, mr);
    free(tr), free(tb), free(tm), free(raw), free(params), free(grads), free(ps);
    dlt_plan_free(plan);
    dlt_dist_free(dist);
    dlt_dist_free(dist_mpi);
    dlt_graph_free(g);
}

/* 784-1024-1024-10 MLP, per-rank batch 64 (DLT_BENCH_BATCH), sum-of-squares loss. */
static void mlp_bench(int iters)
{
    enum { DIN = 784, H = 1024, DOUT = 10 };
    /* DLT_BENCH_BATCH: more samples per rank, more backward to hide the reduction behind */
    const int B = getenv("DLT_BENCH_BATCH") && atoi(getenv("DLT_BENCH_BATCH")) > 0 ? atoi(getenv("DLT_BENCH_BATCH")) : 64;
    dlt_graph *g = dlt_graph_create(5);
    int64_t xs[2] = {B, DIN}, ts[2] = {B, DOUT};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, xs), t = dlt_input(g, "t", DLT_F32, 2, ts), h = x;
    int dims[4] = {DIN, H, H, DOUT};
    for (int l = 0; l < 3; l++) {
        int64_t ws[2] = {dims[l + 1], dims[l]}, bs[1] = {dims[l + 1]};
        dlt_scope_pushf(g, "fc%d", l + 1);
        dlt_t w = dlt_param(g, "weight", 2, ws,
                            dlt_init_kaiming(DLT_INIT_KAIMING_UNIFORM, DLT_FAN_IN, 1));
        dlt_t b = dlt_param(g, "bias", 1, bs, dlt_init_const(0));
        dlt_scope_pop(g);
        h = dlt_linear(g, h, w, b);
        if (l < 2)
            h = dlt_relu(g, h);
    }
    dlt_t d = dlt_sub(g, h, t), loss = dlt_sum(g, dlt_mul(g, d, d), 0, NULL, 0);
    int np;
    dlt_t *params, *grads;
    check(dlt_grad_params(g, loss, &np, &params, &grads), "grad");
    dlt_dist *dist, *dist_mpi;
    /* DLT_BENCH_BUCKET_MB: smaller buckets start earlier in backward */
    const char *bmb = getenv("DLT_BENCH_BUCKET_MB");
    dlt_reducer_config rc = {.bucket_mb = bmb ? atof(bmb) : 0,
                             .first_bucket_mb = bmb ? atof(bmb) : 0};
    check(dlt_dist_create(comm, g, np, params, grads, &rc, &dist), "reducer");
    dlt_log_level lvl = dlt_log_get_level();
    dlt_log_set_level(DLT_LOG_ERROR);
    check(dlt_dist_create(comm_mpi, g, np, params, grads, &rc, &dist_mpi), "reducer");
    dlt_log_set_level(lvl);
    dlt_plan *plan;
    dlt_plan_opts po = {0};
    dlt_dist_plan_opts(dist, &po);
    check(dlt_plan_create(g, 1, &loss, &po, &plan), "plan");
    float *xd = dlt_plan_data(plan, x), *td = dlt_plan_data(plan, t);
    for (int i = 0; i < B * DIN; i++)
        xd[i] = (float)((i * 7919 + world.rank) % 1000) / 1000.0f - 0.5f;
    for (int i = 0; i < B * DOUT; i++)
        td[i] = (float)(i % 3);
    double *tl = malloc((size_t)iters * sizeof *tl), *td2 = malloc((size_t)iters * sizeof *td2);
    double *tm = malloc((size_t)iters * sizeof *tm);
    for (int it = -2; it < iters; it++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        check(dlt_plan_run(plan, NULL), "run"); /* local only */
        double t1 = MPI_Wtime();
        MPI_Barrier(MPI_COMM_WORLD);
        double t2 = MPI_Wtime();
        dlt_exec_opts eo = {.training = 1};
        dlt_dist_exec_opts(dist, &eo);
        check(dlt_dist_begin(dist, plan, B, 1), "begin");
        check(dlt_plan_run(plan, &eo), "run");
        check(dlt_dist_finish(dist), "finish");
        double t3 = MPI_Wtime();
        MPI_Barrier(MPI_COMM_WORLD);
        double t4 = MPI_Wtime();
        dlt_exec_opts em = {.training = 1};
        dlt_dist_exec_opts(dist_mpi, &em);
        check(dlt_dist_begin(dist_mpi, plan, B, 1), "begin");
        check(dlt_plan_run(plan, &em), "run");
        check(dlt_dist_finish(dist_mpi), "finish");
        double t5 = MPI_Wtime();
        if (it >= 0)
            tl[it] = t1 - t0, td2[it] = t3 - t2, tm[it] = t5 - t4;
    }
    double ml = slowest_median(tl, iters), md = slowest_median(td2, iters);
    double mm = slowest_median(tm, iters);
    if (world.rank == 0) {
        double mib = (double)dlt_params_numel(g) * 4 / 1048576;
        printf("MLP 784-1024-1024-10, batch %d per rank, %.1f MiB of gradients, %d bucket(s), %d "
               "rank(s), "
               "%d thread(s) each:\n",
               B, mib, dlt_reducer_num_buckets(dlt_dist_reducer(dist)), world.size, dlt_get_num_threads());
        printf("  step without communication             %8.2f ms\n", ml * 1e3);
        printf("  step with the reducer (ring)           %8.2f ms  (overhead %+.1f%%)\n", md * 1e3,
               100.0 * (md - ml) / ml);
        printf("  step with the reducer (MPI_Iallreduce) %8.2f ms  (overhead %+.1f%%)\n", mm * 1e3,
               100.0 * (mm - ml) / ml);
    }
    free(tl), free(td2), free(tm), free(params), free(grads);
    dlt_plan_free(plan);
    dlt_dist_free(dist);
    dlt_dist_free(dist_mpi);
    dlt_graph_free(g);
}

int main(int argc, char **argv)
{
    if (dlt_world_init(&argc, &argv, &world) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        return 1;
    }
    dlt_set_num_threads(dlt_world_default_threads(&world));
    check(dlt_comm_create(&world, NULL, &comm), "comm");
    dlt_comm_config before = {.ring_min_bytes = -1};
    check(dlt_comm_create(&world, &before, &comm_mpi), "comm");
    if (world.rank == 0)
        printf("load average: %s", load_average());
    check(dlt_world_log_table(&world, -1, dlt_get_num_threads()), "rank table");
    int iters = getenv("DLT_BENCH_ITERS") ? atoi(getenv("DLT_BENCH_ITERS")) : 5;
    if (iters < 1)
        iters = 1;
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            allreduce_bench(atof(argv[i]), iters);
    else {
        allreduce_bench(25, iters);
        allreduce_bench(100, iters);
    }
    mlp_bench(iters * 4);
    dlt_comm_free(comm_mpi);
    dlt_comm_free(comm);
    dlt_world_finalize(&world);
    return 0;
}
