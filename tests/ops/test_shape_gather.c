/* index_select, embedding and gather with i32 indices against naive loops;
 * their scatter-add gradients against finite differences (first and second
 * order) and a naive scatter; determinism across thread counts; errors. */
#include "shape_test_util.h"

static int32_t *rand_idx(int64_t m, int32_t n, uint64_t seed)
{
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)m);
    float *u = st_rand(m, seed);
    for (int64_t i = 0; i < m; i++)
        idx[i] = (int32_t)((u[i] + 1) * 0.5f * (float)n) % n;
    free(u);
    return idx;
}

/* ---------------------------------------------------------------- index_select */
static const struct {
    int nd, axis, nidx;
    int64_t d[4], id[2];
} sel_cases[] = {
    {2, 0, 1, {5, 3}, {7}},          /* repeated rows */
    {3, 1, 2, {2, 6, 3}, {2, 4}},    /* 2-D indices in the middle */
    {3, 2, 1, {1, 4, 9}, {9}},       /* last axis, batch 1 */
    {1, 0, 2, {11}, {3, 5}},
    {4, -2, 1, {2, 3, 5, 2}, {3}},   /* negative axis */
    {2, 0, 2, {50, 70}, {40, 30}},   /* threaded path */
};

START_TEST(index_select_matches_naive)
{
    int nd = sel_cases[_i].nd, ni = sel_cases[_i].nidx, ax = sel_cases[_i].axis;
    const int64_t *d = sel_cases[_i].d, *idd = sel_cases[_i].id;
    if (ax < 0)
        ax += nd;
    int64_t n = st_numel(nd, d), m = st_numel(ni, idd), outer = 1, inner = 1;
    for (int i = 0; i < ax; i++)
        outer *= d[i];
    for (int i = ax + 1; i < nd; i++)
        inner *= d[i];
    int32_t *idx = rand_idx(m, (int32_t)d[ax], 3 + _i);
    float *xd = st_rand(n, 4), *yd = malloc(sizeof(float) * outer * m * inner);
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, nd, d), iv = dlt_input(g, "idx", DLT_I32, ni, idd);
    dlt_t y = dlt_index_select(g, x, sel_cases[_i].axis, iv);
    st_assert_ok(g);
    ck_assert_int_eq(dlt_shape_of(g, y)->ndim, nd - 1 + ni);
    dlt_t ins[2] = {x, iv};
    const void *data[2] = {xd, idx};
    dlt_gc_feed f = {2, ins, data, 0};
    dlt_test_eval(g, y, &f, yd);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < m; j++)
            for (int64_t c = 0; c < inner; c++)
                ck_assert_float_eq(yd[(o * m + j) * inner + c], xd[(o * d[ax] + idx[j]) * inner + c]);
    st_gradcheck(g, y, 1, &x, &f, "index_select");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, nd, d), iv = dlt_input(g, "idx", DLT_I32, ni, idd);
    ins[0] = x, ins[1] = iv;
    y = dlt_index_select(g, x, sel_cases[_i].axis, iv);
    st_second_order(g, x, y, &f, "index_select 2nd order");
    dlt_graph_free(g);
    free(idx), free(xd), free(yd);
}
END_TEST

/* ---------------------------------------------------------------- embedding */
/* The table gradient, naively: rows summed over ids in order (f32, as the kernel). */
static void embedding_grad_ref(const float *dy, const int32_t *ids, int64_t m, int64_t v, int64_t dd,
                               float *gt)
{
    memset(gt, 0, sizeof(float) * v * dd);
    for (int64_t j = 0; j < m; j++)
        for (int64_t c = 0; c < dd; c++)
            gt[ids[j] * dd + c] += dy[j * dd + c];
}

/* gradient of sum(emb * r) w.r.t. the table, with `threads` threads */
static void embedding_grad(int threads, int64_t v, int64_t dd, int64_t b, int64_t l, const int32_t *ids,
                           const float *r, float *gt, float *emb)
{
    dlt_set_num_threads(threads);
    dlt_graph *g = dlt_graph_create(1);
    int64_t ts[2] = {v, dd}, is[2] = {b, l}, es[3] = {b, l, dd};
    dlt_t table = dlt_param(g, "wte", 2, ts, dlt_init_normal(0, 1));
    dlt_t iv = dlt_input(g, "ids", DLT_I32, 2, is);
    dlt_t e = dlt_embedding(g, table, iv);
    st_assert_ok(g);
    ck_assert_int_eq(dlt_shape_of(g, e)->ndim, 3);
    ck_assert_int_eq(dlt_shape_of(g, e)->dim[2], dd);
    dlt_t rc = dlt_constant(g, DLT_F32, 3, es, r);
    dlt_t loss = dlt_sum(g, dlt_mul(g, e, rc), 0, NULL, 0), gtab;
    ck_assert_int_eq(dlt_grad(g, loss, 1, &table, &gtab), DLT_OK);
    dlt_plan *p;
    dlt_t outs[2] = {e, gtab};
    ck_assert_int_eq(dlt_plan_create(g, 2, outs, NULL, &p), DLT_OK);
    memcpy(dlt_plan_data(p, iv), ids, sizeof(int32_t) * b * l);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
    memcpy(gt, dlt_plan_data(p, gtab), sizeof(float) * v * dd);
    const float *tab = dlt_param_data(g, table), *ed = dlt_plan_data(p, e);
    for (int64_t j = 0; j < b * l; j++)
        for (int64_t c = 0; c < dd; c++)
            ck_assert_float_eq(ed[j * dd + c], tab[ids[j] * dd + c]);
    if (emb)
        memcpy(emb, ed, sizeof(float) * b * l * dd);
    dlt_plan_free(p);
    dlt_graph_free(g);
}

START_TEST(embedding_forward_and_deterministic_gradient)
{
    /* GPT-like lookup, small: 4 x 129 ids into a 53 x 200 table; heavy repeats */
    int64_t v = 53, dd = 200, b = 4, l = 129, m = b * l;
    int32_t *ids = rand_idx(m, (int32_t)v, 11);
    for (int64_t j = 0; j < m; j += 5)
        ids[j] = 0; /* a padding id used 104 times */
    float *r = st_rand(m * dd, 12), *g1 = malloc(sizeof(float) * v * dd), *g2 = malloc(sizeof(float) * v * dd),
          *g3 = malloc(sizeof(float) * v * dd), *ref = malloc(sizeof(float) * v * dd);
    embedding_grad(1, v, dd, b, l, ids, r, g1, NULL);
    embedding_grad(2, v, dd, b, l, ids, r, g2, NULL);
    embedding_grad(3, v, dd, b, l, ids, r, g3, NULL);
    dlt_set_num_threads(2);
    embedding_grad_ref(r, ids, m, v, dd, ref);
    /* same summation order as the reference and for every thread count: bitwise */
    ck_assert(memcmp(g1, ref, sizeof(float) * v * dd) == 0);
    ck_assert(memcmp(g2, g1, sizeof(float) * v * dd) == 0);
    ck_assert(memcmp(g3, g1, sizeof(float) * v * dd) == 0);
    free(ids), free(r), free(g1), free(g2), free(g3), free(ref);
}
END_TEST

START_TEST(embedding_gradcheck_and_second_order)
{
    int64_t ts[2] = {6, 5}, is[2] = {3, 4};
    int32_t ids[12] = {5, 0, 0, 2, 5, 5, 1, 0, 3, 3, 5, 2};
    const void *data[1] = {ids};
    for (int order = 1; order <= 2; order++) {
        dlt_graph *g = dlt_graph_create(1);
        dlt_t table = dlt_param(g, "wte", 2, ts, dlt_init_uniform(-1, 1));
        dlt_t iv = dlt_input(g, "ids", DLT_I32, 2, is);
        dlt_t e = dlt_embedding(g, table, iv);
        dlt_gc_feed f = {1, &iv, data, 0};
        if (order == 1)
            st_gradcheck(g, e, 1, &table, &f, "embedding");
        else
            st_second_order(g, table, e, &f, "embedding 2nd order");
        dlt_graph_free(g);
    }
}
END_TEST

/* ---------------------------------------------------------------- gather */
static const struct {
    int nd, axis;
    int64_t d[3], m; /* indices: d with d[axis] = m */
} gat_cases[] = {
    {2, 1, {4, 10}, 1},   /* pick one logit per row (cross entropy) */
    {2, 0, {5, 3}, 7},
    {3, 1, {2, 4, 3}, 6}, /* repeats */
    {1, 0, {9}, 4},
    {3, 2, {1, 3, 5}, 2}, /* batch 1 */
    {2, 1, {300, 200}, 150}, /* threaded path */
};

START_TEST(gather_matches_naive)
{
    int nd = gat_cases[_i].nd, ax = gat_cases[_i].axis;
    const int64_t *d = gat_cases[_i].d;
    int64_t id[3], outer = 1, inner = 1, m = gat_cases[_i].m;
    memcpy(id, d, sizeof id);
    id[ax] = m;
    for (int i = 0; i < ax; i++)
        outer *= d[i];
    for (int i = ax + 1; i < nd; i++)
        inner *= d[i];
    int64_t n = st_numel(nd, d), k = st_numel(nd, id);
    int32_t *idx = rand_idx(k, (int32_t)d[ax], 20 + _i);
    float *xd = st_rand(n, 21), *yd = malloc(sizeof(float) * k);
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, nd, d), iv = dlt_input(g, "idx", DLT_I32, nd, id);
    dlt_t y = dlt_gather(g, x, ax, iv);
    st_assert_ok(g);
    dlt_t ins[2] = {x, iv};
    const void *data[2] = {xd, idx};
    dlt_gc_feed f = {2, ins, data, 0};
    dlt_test_eval(g, y, &f, yd);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < m; j++)
            for (int64_t c = 0; c < inner; c++) {
                int64_t e = (o * m + j) * inner + c;
                ck_assert_float_eq(yd[e], xd[(o * d[ax] + idx[e]) * inner + c]);
            }
    if (k < 10000) {
        st_gradcheck(g, y, 1, &x, &f, "gather");
        dlt_graph_free(g);
        g = dlt_graph_create(1);
        x = dlt_input(g, "x", DLT_F32, nd, d), iv = dlt_input(g, "idx", DLT_I32, nd, id);
        ins[0] = x, ins[1] = iv;
        y = dlt_gather(g, x, ax, iv);
        st_second_order(g, x, y, &f, "gather 2nd order");
    } else {
        /* threaded scatter against a naive one, bitwise (same order per element) */
        float *r = st_rand(k, 22), *gx = malloc(sizeof(float) * n), *ref = calloc((size_t)n, sizeof(float));
        dlt_t rc = dlt_constant(g, DLT_F32, nd, id, r);
        dlt_t l = dlt_sum(g, dlt_mul(g, y, rc), 0, NULL, 0), gxv;
        ck_assert_int_eq(dlt_grad(g, l, 1, &x, &gxv), DLT_OK);
        dlt_test_eval(g, gxv, &f, gx);
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < m; j++)
                for (int64_t c = 0; c < inner; c++) {
                    int64_t e = (o * m + j) * inner + c;
                    ref[(o * d[ax] + idx[e]) * inner + c] += r[e];
                }
        ck_assert(memcmp(gx, ref, sizeof(float) * n) == 0);
        free(r), free(gx), free(ref);
    }
    dlt_graph_free(g);
    free(idx), free(xd), free(yd);
}
END_TEST

/* ---------------------------------------------------------------- errors */
START_TEST(index_errors)
{
    int64_t d[2] = {5, 3}, k[1] = {4};
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, d), fi = dlt_input(g, "idx", DLT_F32, 1, k);
    ck_assert_int_eq(dlt_index_select(g, x, 0, fi), -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_DTYPE);
    ck_assert_str_eq(dlt_graph_errmsg(g), "take 'take': indices must be i32, got f32 (inputs: 'x' f32[5,3], "
                                          "'idx' f32[4])");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, d);
    dlt_t li = dlt_input(g, "labels", DLT_I64, 2, (const int64_t[]){5, 1});
    ck_assert_int_eq(dlt_gather(g, x, 1, li), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "gather 'gather': indices must be i32, got i64 (inputs: 'x' f32[5,3], "
                                          "'labels' i64[5,1])");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, d);
    li = dlt_input(g, "labels", DLT_I32, 2, (const int64_t[]){4, 1});
    ck_assert_int_eq(dlt_gather(g, x, 1, li), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "gather 'gather': indices must match the input outside axis 1 "
                                          "(inputs: 'x' f32[5,3], 'labels' i32[4,1])");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 3, (const int64_t[]){2, 5, 3});
    ck_assert_int_eq(dlt_embedding(g, x, dlt_input(g, "ids", DLT_I32, 1, k)), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "embedding: table 'x' must have rank 2 [V, D], got rank 3");
    dlt_graph_free(g);

    /* out-of-range indices fail the step, naming the op, node and position */
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, d);
    dlt_t iv = dlt_input(g, "ids", DLT_I32, 1, k);
    dlt_scope_push(g, "wte");
    dlt_t y = dlt_embedding(g, x, iv);
    dlt_scope_pop(g);
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 1, &y, NULL, &p), DLT_OK);
    const int32_t bad[4] = {0, 4, 5, 1};
    memcpy(dlt_plan_data(p, iv), bad, sizeof bad);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "embedding 'wte.embedding': index 5 at position 2 is out of range [0, 5)");
    const int32_t neg[4] = {0, -1, 2, 1};
    memcpy(dlt_plan_data(p, iv), neg, sizeof neg);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "embedding 'wte.embedding': index -1 at position 1 is out of range [0, 5)");
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    dlt_set_num_threads(2);
    Suite *s = suite_create("shape_gather");
    TCase *tc = tcase_create("gather");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, index_select_matches_naive, 0, (int)(sizeof sel_cases / sizeof sel_cases[0]));
    tcase_add_test(tc, embedding_forward_and_deterministic_gradient);
    tcase_add_test(tc, embedding_gradcheck_and_second_order);
    tcase_add_loop_test(tc, gather_matches_naive, 0, (int)(sizeof gat_cases / sizeof gat_cases[0]));
    tcase_add_test(tc, index_errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
