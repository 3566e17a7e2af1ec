/* The gradient reducer: N ranks with uneven per-rank batches train the same
 * parameters as one process with the whole batch (an MLP with two hidden
 * layers, an MLP with a shared weight, a small CNN with a cross-entropy loss,
 * gradient accumulation), bucket layout
 * and overlap with backward, and ZeRO-1 against plain data parallelism. The
 * one-process reference runs on rank 0 inside the test. */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_comm.h"
#include "dlt_dist.h"
#include "dlt_ops.h"
#include "dlt_test.h"

static dlt_world world;
static dlt_comm *comm;

enum { DIN = 6, DOUT = 3, STEPS = 4 };
/* the CNN (kind 2): [n, CC, CH, CH] images, NCLS classes */
enum { CNN = 2, CC = 2, CH = 8, NCLS = 3 };

/* floats of input, and 4-byte elements of target (f32 or i32 labels), per sample */
static int x_per(int kind)
{
    return kind == CNN ? CC * CH * CH : DIN;
}
static int t_per(int kind)
{
    return kind == CNN ? 1 : DOUT;
}

typedef struct {
    dlt_graph *g;
    dlt_t x, t, loss;
    int np;
    dlt_t *params, *grads;
} model;

static dlt_t fc(dlt_graph *g, const char *name, dlt_t h, int din, int dout)
{
    int64_t ws[2] = {dout, din}, bs[1] = {dout};
    dlt_scope_push(g, name);
    dlt_t w =
        dlt_param(g, "weight", 2, ws, dlt_init_kaiming(DLT_INIT_KAIMING_UNIFORM, DLT_FAN_IN, 1));
    dlt_t b = dlt_param(g, "bias", 1, bs, dlt_init_uniform(-0.3, 0.3));
    dlt_scope_pop(g);
    return dlt_linear(g, h, w, b);
}

static dlt_t conv(dlt_graph *g, const char *name, dlt_t h, int cin, int cout, int stride)
{
    int64_t ws[4] = {cout, cin, 3, 3}, bs[1] = {cout};
    dlt_scope_push(g, name);
    dlt_t w =
        dlt_param(g, "weight", 4, ws, dlt_init_kaiming(DLT_INIT_KAIMING_UNIFORM, DLT_FAN_IN, 1));
    dlt_t b = dlt_param(g, "bias", 1, bs, dlt_init_uniform(-0.3, 0.3));
    dlt_scope_pop(g);
    dlt_conv2d_opts o = {.stride = {stride, stride}, .padding = {1, 1}};
    return dlt_conv2d(g, h, w, b, &o);
}

/* [n, 2, 8, 8] -> conv 3x3 (2->4) -> relu -> conv 3x3 stride 2 (4->8) -> relu
 * -> avg pool 2x2 -> flatten [n, 32] -> linear -> 3 logits; loss = SUM over
 * samples of the cross-entropy. No batch norm: its batch statistics would
 * differ between a per-rank batch and the whole batch. */
static model build_cnn(int n)
{
    model m;
    m.g = dlt_graph_create(11);
    int64_t xs[4] = {n, CC, CH, CH}, ts[1] = {n};
    m.x = dlt_input(m.g, "x", DLT_F32, 4, xs);
    m.t = dlt_input(m.g, "t", DLT_I32, 1, ts);
    dlt_t h = dlt_relu(m.g, conv(m.g, "conv1", m.x, CC, 4, 1));
    h = dlt_relu(m.g, conv(m.g, "conv2", h, 4, 8, 2));
    dlt_pool2d_opts po = {.kernel = {2, 2}};
    h = dlt_flatten(m.g, dlt_avgpool2d(m.g, h, &po), 1, -1);
    dlt_t y = fc(m.g, "fc", h, 8 * (CH / 4) * (CH / 4), NCLS);
    m.loss = dlt_cross_entropy(m.g, y, m.t, -100, 0.f, DLT_REDUCE_SUM);
    ck_assert_msg(dlt_graph_status(m.g) == DLT_OK, "%s", dlt_graph_errmsg(m.g));
    ck_assert_int_eq(dlt_grad_params(m.g, m.loss, &m.np, &m.params, &m.grads), DLT_OK);
    return m;
}

/* kind 0: 6-16-12-3 MLP; kind 1: 6-8, then the same 8x8 weight twice, 8-3;
 * kind 2: build_cnn. MLP loss = SUM over samples of squared errors (the
 * reducer's SUM contract). */
static model build(int kind, int n)
{
    if (kind == CNN)
        return build_cnn(n);
    model m;
    m.g = dlt_graph_create(11);
    int64_t xs[2] = {n, DIN}, ts[2] = {n, DOUT};
    m.x = dlt_input(m.g, "x", DLT_F32, 2, xs);
    m.t = dlt_input(m.g, "t", DLT_F32, 2, ts);
    dlt_t h, y;
    if (kind == 0) {
        h = dlt_relu(m.g, fc(m.g, "fc1", m.x, DIN, 16));
        h = dlt_relu(m.g, fc(m.g, "fc2", h, 16, 12));
        y = fc(m.g, "fc3", h, 12, DOUT);
    } else {
        int64_t ws[2] = {8, 8};
        h = dlt_relu(m.g, fc(m.g, "in", m.x, DIN, 8));
        dlt_t w = dlt_param(m.g, "shared", 2, ws, dlt_init_uniform(-0.4, 0.4));
        h = dlt_relu(m.g, dlt_linear(m.g, h, w, -1));
        h = dlt_relu(m.g, dlt_linear(m.g, h, w, -1));
        y = fc(m.g, "out", h, 8, DOUT);
    }
    dlt_t d = dlt_sub(m.g, y, m.t);
    m.loss = dlt_sum(m.g, dlt_mul(m.g, d, d), 0, NULL, 0);
    ck_assert_msg(dlt_graph_status(m.g) == DLT_OK, "%s", dlt_graph_errmsg(m.g));
    ck_assert_int_eq(dlt_grad_params(m.g, m.loss, &m.np, &m.params, &m.grads), DLT_OK);
    return m;
}

static void free_model(model *m)
{
    free(m->params);
    free(m->grads);
    dlt_graph_free(m->g);
}

static dlt_optim *make_optim(dlt_graph *g, const char *kind)
{
    int np = dlt_num_params(g);
    dlt_param_view *v = malloc((size_t)np * sizeof *v);
    for (int i = 0; i < np; i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        v[i] = (dlt_param_view){pi->name, pi->offset, pi->numel};
    }
    dlt_optim_config cfg;
    ck_assert_int_eq(dlt_optim_config_default(kind, &cfg), DLT_OK);
    cfg.momentum = strcmp(kind, "sgd") == 0 ? 0.9 : cfg.momentum;
    dlt_optim *o;
    ck_assert_int_eq(dlt_optim_create(&cfg, v, np, dlt_params_numel(g), NULL, 0, &o), DLT_OK);
    free(v);
    return o;
}

/* Rank r's samples: n_r = b + r % 2 (uneven), contiguous slices of the step's global batch. */
static int rank_count(int r, int b)
{
    return b + r % 2;
}
static int rank_offset(int r, int b)
{
    int off = 0;
    for (int k = 0; k < r; k++)
        off += rank_count(k, b);
    return off;
}
static int total_count(int p, int b)
{
    return rank_offset(p, b);
}

/* The step's global batch: x (n x_per floats) and t (n t_per floats, or n
 * i32 labels for the CNN). */
static void global_batch(int kind, int step, int n, float *x, void *t)
{
    dlt_test_fill_uniform(x, (size_t)n * (size_t)x_per(kind), -1, 1, 1000 + (uint64_t)step);
    float *u = malloc((size_t)n * (size_t)t_per(kind) * sizeof *u);
    float hi = kind == CNN ? NCLS : 1;
    dlt_test_fill_uniform(u, (size_t)n * (size_t)t_per(kind), kind == CNN ? 0 : -1, hi,
                          2000 + (uint64_t)step);
    if (kind == CNN)
        for (int i = 0; i < n; i++)
            ((int32_t *)t)[i] = u[i] < NCLS - 1 ? (int32_t)u[i] : NCLS - 1;
    else
        memcpy(t, u, (size_t)n * DOUT * sizeof *u);
    free(u);
}

/* Samples [off, off + n) of a global batch into the plan's inputs. */
static void feed(dlt_plan *p, const model *m, int kind, const float *x, const void *t, int off,
                 int n)
{
    size_t xb = (size_t)x_per(kind) * sizeof(float), tb = (size_t)t_per(kind) * 4;
    memcpy(dlt_plan_data(p, m->x), (const char *)x + (size_t)off * xb, (size_t)n * xb);
    memcpy(dlt_plan_data(p, m->t), (const char *)t + (size_t)off * tb, (size_t)n * tb);
}

/* One process, whole batch: gradient of the mean loss, then the optimizer. */
static model reference(int kind, int ntot, int steps, const char *opt, double lr)
{
    model m = build(kind, ntot);
    dlt_plan *p;
    dlt_plan_opts po = {.ngrads = m.np, .grad_params = m.params, .grad_values = m.grads};
    ck_assert_int_eq(dlt_plan_create(m.g, 1, &m.loss, &po, &p), DLT_OK);
    dlt_optim *o = make_optim(m.g, opt);
    float *x = malloc((size_t)ntot * (size_t)x_per(kind) * sizeof *x);
    void *t = malloc((size_t)ntot * (size_t)t_per(kind) * 4);
    for (int s = 0; s < steps; s++) {
        global_batch(kind, s, ntot, x, t);
        feed(p, &m, kind, x, t, 0, ntot);
        ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
        float *gr = dlt_grads_data(m.g);
        for (size_t i = 0; i < dlt_params_numel(m.g); i++)
            gr[i] /= (float)ntot;
        ck_assert_int_eq(dlt_optim_step(o, dlt_params_data(m.g), gr, lr), DLT_OK);
    }
    free(x), free(t);
    dlt_optim_free(o);
    dlt_plan_free(p);
    return m;
}

typedef struct {
    int kind, b, micro, zero;
    const char *opt;
    double lr, bucket_mb;
} dp_cfg;

/* Data-parallel training. micro == 1: rank r feeds rank_count(r, b) samples
 * (uneven). micro > 1: gradient accumulation over micro micro-batches of b
 * samples each (accumulate plan, reduction on the final one only). */
static model data_parallel(const dp_cfg *cfg, dlt_dist **rout)
{
    int p = world.size, r = world.rank;
    int nloc = cfg->micro > 1 ? cfg->b : rank_count(r, cfg->b);
    model m = build(cfg->kind, nloc);
    dlt_reducer_config rc = {
        .bucket_mb = cfg->bucket_mb, .first_bucket_mb = cfg->bucket_mb / 3, .zero = cfg->zero};
    dlt_dist *dist;
    ck_assert_int_eq(dlt_dist_create(comm, m.g, m.np, m.params, m.grads, &rc, &dist), DLT_OK);
    dlt_plan *plan;
    dlt_plan_opts po = {.accumulate = cfg->micro > 1};
    dlt_dist_plan_opts(dist, &po);
    ck_assert_int_eq(dlt_plan_create(m.g, 1, &m.loss, &po, &plan), DLT_OK);
    ck_assert_int_eq(dlt_dist_replica_broadcast(comm, m.g), DLT_OK);
    dlt_optim *o = make_optim(m.g, cfg->opt);
    int ntot = cfg->micro > 1 ? p * cfg->micro * cfg->b : total_count(p, cfg->b);
    float *x = malloc((size_t)ntot * (size_t)x_per(cfg->kind) * sizeof *x);
    void *t = malloc((size_t)ntot * (size_t)t_per(cfg->kind) * 4);
    for (int s = 0; s < STEPS; s++) {
        global_batch(cfg->kind, s, ntot, x, t);
        dlt_comm_set_step(comm, s);
        if (cfg->micro > 1)
            memset(dlt_grads_data(m.g), 0, dlt_params_numel(m.g) * sizeof(float));
        for (int k = 0; k < cfg->micro; k++) {
            int off = cfg->micro > 1 ? (r * cfg->micro + k) * cfg->b : rank_offset(r, cfg->b);
            feed(plan, &m, cfg->kind, x, t, off, nloc);
            dlt_exec_opts eo = {.training = 1, .step = s};
            dlt_dist_exec_opts(dist, &eo);
            ck_assert_int_eq(dlt_dist_begin(dist, plan, nloc, k == cfg->micro - 1), DLT_OK);
            ck_assert_int_eq(dlt_plan_run(plan, &eo), DLT_OK);
            ck_assert_int_eq(dlt_dist_finish(dist), DLT_OK);
        }
        ck_assert_double_eq(dlt_reducer_global_samples(dlt_dist_reducer(dist)), ntot);
        ck_assert_int_eq(dlt_dist_optim_step(dist, o, cfg->lr), DLT_OK);
    }
    ck_assert_int_eq(dlt_dist_replica_check(comm, m.g), DLT_OK);
    free(x), free(t);
    dlt_optim_free(o);
    dlt_plan_free(plan);
    if (rout)
        *rout = dist;
    else
        dlt_dist_free(dist);
    return m;
}

static double compare(model *a, model *b)
{
    double worst = 0;
    for (int i = 0; i < a->np; i++) {
        const char *name = dlt_name_of(a->g, a->params[i]);
        dlt_t v = dlt_param_lookup(b->g, name);
        ck_assert_int_ge(v, 0);
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(a->g, a->params[i]));
        double e = dlt_test_max_relerr(dlt_param_data(a->g, a->params[i]), dlt_param_data(b->g, v),
                                       n, 1e-2);
        worst = e > worst ? e : worst;
    }
    return worst;
}

static void equivalence(int kind, int micro)
{
    dp_cfg cfg = {
        .kind = kind, .b = 3, .micro = micro, .opt = "sgd", .lr = 0.05, .bucket_mb = 0.002};
    model dp = data_parallel(&cfg, NULL);
    if (world.rank == 0) {
        int ntot = micro > 1 ? world.size * micro * cfg.b : total_count(world.size, cfg.b);
        model ref = reference(kind, ntot, STEPS, "sgd", cfg.lr);
        double e = compare(&dp, &ref);
        printf(
            "equivalence: model %d, %d micro-step(s), %d ranks vs 1 process: max rel diff %.3g\n",
            kind, micro, world.size, e);
        ck_assert_msg(e <= 1e-5, "kind %d micro %d: max relative difference %g", kind, micro, e);
        /* the run moved the parameters: the comparison is not vacuous */
        model init = build(kind, 1);
        ck_assert_int_eq(dlt_graph_finalize(init.g, NULL, 0), DLT_OK);
        ck_assert_double_gt(compare(&init, &ref), 1e-3);
        free_model(&init);
        free_model(&ref);
    }
    free_model(&dp);
}

START_TEST(mlp_equals_one_process_full_batch)
{
    equivalence(0, 1);
}
END_TEST
START_TEST(shared_weight_mlp_equals_one_process)
{
    equivalence(1, 1);
}
END_TEST
START_TEST(accumulation_equals_one_process)
{
    equivalence(0, 2);
}
END_TEST
START_TEST(cnn_equals_one_process_full_batch)
{
    equivalence(CNN, 1);
    equivalence(CNN, 2);
}
END_TEST

START_TEST(layout_buckets_and_overlap)
{
    /* 131-float buckets (the first 43) over 400 floats of parameters and padding */
    dp_cfg cfg = {.kind = 0, .b = 3, .micro = 1, .opt = "sgd", .lr = 0.01, .bucket_mb = 0.0005};
    dlt_dist *dist;
    model m = data_parallel(&cfg, &dist);
    /* gradients laid out in production order: the last layer first */
    ck_assert_int_eq(strncmp(dlt_param_at(m.g, 0)->name, "fc3.", 4), 0);
    ck_assert_int_eq(strncmp(dlt_param_at(m.g, dlt_num_params(m.g) - 1)->name, "fc1.", 4), 0);
    int nl;
    ck_assert_ptr_nonnull(dlt_dist_layout(dist, &nl));
    ck_assert_int_eq(nl, 6);
    int nb = dlt_reducer_num_buckets(dlt_dist_reducer(dist));
    ck_assert_int_ge(nb, 3);
    /* buckets tile the flat buffer; each within its size limit unless one parameter */
    size_t prev = 0;
    for (int b = 0; b < nb; b++) {
        size_t lo, hi;
        int np;
        dlt_reducer_bucket(dlt_dist_reducer(dist), b, &lo, &hi, &np);
        ck_assert_uint_eq(lo, prev);
        double limit = (b == 0 ? cfg.bucket_mb / 3 : cfg.bucket_mb) * 1048576 / 4;
        ck_assert(np == 1 || (double)(hi - lo) <= limit);
        prev = hi;
        /* started in order, during the run for all but possibly the last */
        if (b > 0)
            ck_assert_int_ge(dlt_dist_bucket_start_step(dist, b),
                             dlt_dist_bucket_start_step(dist, b - 1));
    }
    ck_assert_uint_eq(prev, dlt_params_numel(m.g));
    /* the first bucket started before backward ended (its last gradient) */
    dlt_plan *p;
    dlt_plan_opts po = {0};
    dlt_dist_plan_opts(dist, &po);
    ck_assert_int_eq(dlt_plan_create(m.g, 1, &m.loss, &po, &p), DLT_OK);
    int last = -1;
    for (int i = 0; i < m.np; i++) {
        int s = dlt_plan_grad_ready_step(p, m.params[i]);
        last = s > last ? s : last;
    }
    int s0 = dlt_dist_bucket_start_step(dist, 0);
    ck_assert_msg(s0 >= 0 && s0 < last, "first bucket started after step %d, backward ends at %d",
                  s0, last);
    ck_assert_int_lt(dlt_dist_bucket_start_step(dist, 1), last);
    dlt_plan_free(p);
    dlt_dist_free(dist);
    free_model(&m);
}
END_TEST

START_TEST(zero1_equals_plain_data_parallel)
{
    for (int kind = 0; kind < 2; kind++) {
        dp_cfg cfg = {
            .kind = kind, .b = 3, .micro = 1, .opt = "adam", .lr = 0.01, .bucket_mb = 0.001};
        model plain = data_parallel(&cfg, NULL);
        cfg.zero = 1;
        dlt_dist *dist;
        model z = data_parallel(&cfg, &dist);
        double e = compare(&z, &plain);
        if (world.rank == 0)
            printf("zero-1 vs plain (adam), model %d, %d ranks: max rel diff %.3g\n", kind,
                   world.size, e);
        ck_assert_msg(e <= 1e-5, "zero-1 vs plain: %g", e);
        double s;
        ck_assert_int_eq(dlt_dist_grad_sumsq(dist, &s), DLT_OK);
        ck_assert(isfinite(s) && s > 0);
        dlt_dist_free(dist);
        free_model(&plain);
        free_model(&z);
    }
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
    Suite *s = suite_create("reducer");
    TCase *tc = tcase_create("reducer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, mlp_equals_one_process_full_batch);
    tcase_add_test(tc, shared_weight_mlp_equals_one_process);
    tcase_add_test(tc, accumulation_equals_one_process);
    tcase_add_test(tc, cnn_equals_one_process_full_batch);
    tcase_add_test(tc, layout_buckets_and_overlap);
    tcase_add_test(tc, zero1_equals_plain_data_parallel);
    suite_add_tcase(s, tc);
    int rc = dlt_test_run(s);
    MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    dlt_comm_free(comm);
    dlt_world_finalize(&world);
    return rc;
}
