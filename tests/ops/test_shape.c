/* permute/transpose, concat, split and the reshape helpers against naive
 * index arithmetic, finite differences (first and second order), and their
 * build errors. */
#include "shape_test_util.h"

/* ---------------------------------------------------------------- permute */
static void permute_ref(const float *x, int nd, const int64_t *d, const int *perm, float *y)
{
    int64_t od[8], oi[8], ii[8];
    for (int i = 0; i < nd; i++)
        od[i] = d[perm[i]];
    for (int64_t f = 0; f < st_numel(nd, d); f++) {
        st_unravel(f, nd, od, oi);
        for (int i = 0; i < nd; i++)
            ii[perm[i]] = oi[i];
        y[f] = x[st_ravel(nd, d, ii)];
    }
}

static const struct {
    int nd;
    int64_t d[6];
    int perm[6];
} perm_cases[] = {
    {3, {2, 3, 4}, {2, 0, 1}},
    {4, {1, 5, 1, 3}, {3, 1, 0, 2}},
    {2, {7, 1}, {1, 0}},
    {5, {2, 3, 1, 4, 3}, {4, 2, 0, 3, 1}},
    {3, {64, 33, 17}, {1, 2, 0}}, /* above the threading threshold */
    {4, {3, 5, 7, 2}, {0, 1, 3, 2}},
    {6, {2, 1, 3, 2, 3, 2}, {5, 4, 3, 2, 1, -6}}, /* negative axis */
};

START_TEST(permute_forward_matches_naive)
{
    int nd = perm_cases[_i].nd, perm[6];
    const int64_t *d = perm_cases[_i].d;
    for (int i = 0; i < nd; i++)
        perm[i] = perm_cases[_i].perm[i] < 0 ? perm_cases[_i].perm[i] + nd : perm_cases[_i].perm[i];
    int64_t n = st_numel(nd, d);
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, nd, d);
    dlt_t y = dlt_permute(g, x, nd, perm_cases[_i].perm);
    st_assert_ok(g);
    for (int i = 0; i < nd; i++)
        ck_assert_int_eq(dlt_shape_of(g, y)->dim[i], d[perm[i]]);
    float *xd = st_rand(n, 3), *yd = malloc(sizeof(float) * n), *ref = malloc(sizeof(float) * n);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_test_eval(g, y, &f, yd);
    permute_ref(xd, nd, d, perm, ref);
    ck_assert_double_eq(dlt_test_max_abserr(yd, ref, (size_t)n), 0); /* pure copy: exact */
    free(xd), free(yd), free(ref);
    dlt_graph_free(g);
}
END_TEST

START_TEST(permute_gradients)
{
    int nd = perm_cases[_i].nd;
    const int64_t *d = perm_cases[_i].d;
    if (st_numel(nd, d) > 4096)
        return; /* the forward test covers the threaded path */
    float *xd = st_rand(st_numel(nd, d), 4);
    const void *data[1] = {xd};
    for (int order = 1; order <= 2; order++) {
        dlt_graph *g = dlt_graph_create(1);
        dlt_t x = dlt_input(g, "x", DLT_F32, nd, d);
        dlt_t y = dlt_permute(g, x, nd, perm_cases[_i].perm);
        dlt_gc_feed f = {1, &x, data, 0};
        if (order == 1)
            st_gradcheck(g, y, 1, &x, &f, "permute");
        else
            st_second_order(g, x, y, &f, "permute 2nd order");
        dlt_graph_free(g);
    }
    free(xd);
}
END_TEST

START_TEST(permute_integer_and_byte_tensors)
{
    int64_t d[3] = {3, 4, 5};
    int perm[3] = {2, 0, 1};
    int32_t xi[60], yi[60];
    uint8_t xb[60], yb[60];
    for (int i = 0; i < 60; i++)
        xi[i] = i * 1000003, xb[i] = (uint8_t)(i * 7);
    dlt_graph *g = dlt_graph_create(1);
    dlt_t a = dlt_input(g, "a", DLT_I32, 3, d), b = dlt_input(g, "b", DLT_U8, 3, d);
    dlt_t ya = dlt_permute(g, a, 3, perm), yb_ = dlt_permute(g, b, 3, perm);
    st_assert_ok(g);
    ck_assert_int_eq(dlt_shape_of(g, ya)->dtype, DLT_I32);
    dlt_plan *p;
    dlt_t outs[2] = {ya, yb_};
    ck_assert_int_eq(dlt_plan_create(g, 2, outs, NULL, &p), DLT_OK);
    memcpy(dlt_plan_data(p, a), xi, sizeof xi);
    memcpy(dlt_plan_data(p, b), xb, sizeof xb);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
    memcpy(yi, dlt_plan_data(p, ya), sizeof yi);
    memcpy(yb, dlt_plan_data(p, yb_), sizeof yb);
    /* y[k, i, j] = x[i, j, k] */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 5; k++) {
                ck_assert_int_eq(yi[(k * 3 + i) * 4 + j], xi[(i * 4 + j) * 5 + k]);
                ck_assert_uint_eq(yb[(k * 3 + i) * 4 + j], xb[(i * 4 + j) * 5 + k]);
            }
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

START_TEST(transpose_swaps_two_axes)
{
    int64_t d[3] = {4, 1, 3};
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, d);
    dlt_t y = dlt_transpose(g, x, 0, -1);
    ck_assert_int_eq(dlt_transpose(g, x, 1, 1), x); /* identity adds no node */
    st_assert_ok(g);
    float xd[12], yd[12];
    dlt_test_fill_uniform(xd, 12, -1, 1, 5);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_test_eval(g, y, &f, yd);
    const dlt_shape *s = dlt_shape_of(g, y);
    ck_assert_int_eq(s->dim[0], 3);
    ck_assert_int_eq(s->dim[2], 4);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            ck_assert_float_eq(yd[k * 4 + i], xd[i * 3 + k]);
    st_gradcheck(g, y, 1, &x, &f, "transpose");
    dlt_graph_free(g);
}
END_TEST

START_TEST(permute_errors)
{
    int64_t d[3] = {2, 3, 4};
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, d);
    ck_assert_int_eq(dlt_permute(g, x, 3, (const int[]){0, 0, 1}), -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_SHAPE);
    ck_assert_str_eq(dlt_graph_errmsg(g), "permute 'permute': axes (0,0,1) are not a permutation of 0..2 "
                                          "(inputs: 'x' f32[2,3,4])");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 3, d);
    dlt_scope_push(g, "attn");
    ck_assert_int_eq(dlt_permute(g, x, 2, (const int[]){1, 0}), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "permute 'attn.permute': axes (1,0) are not a permutation of "
                                          "0..2 (inputs: 'x' f32[2,3,4])");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 3, d);
    ck_assert_int_eq(dlt_transpose(g, x, 0, 3), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "transpose: axes 0, 3 out of range for 'x' of rank 3");
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- concat */
/* n inputs of dims d with d[axis] = sizes[i]; reference joins them naively */
static void concat_case(int n, int nd, const int64_t *d, int axis, const int64_t *sizes, int grads)
{
    dlt_graph *g = dlt_graph_create(1);
    dlt_t *xs = malloc(sizeof(dlt_t) * n);
    float **xd = malloc(sizeof(float *) * n);
    const void **data = malloc(sizeof(void *) * n);
    int64_t od[8], total = 0;
    memcpy(od, d, sizeof(int64_t) * nd);
    for (int i = 0; i < n; i++) {
        int64_t di[8];
        char name[16];
        memcpy(di, d, sizeof(int64_t) * nd);
        di[axis] = sizes[i];
        total += sizes[i];
        snprintf(name, sizeof name, "x%d", i);
        xs[i] = dlt_input(g, name, DLT_F32, nd, di);
        xd[i] = st_rand(st_numel(nd, di), 100 + i);
        data[i] = xd[i];
    }
    od[axis] = total;
    dlt_t y = dlt_concat(g, n, xs, axis - nd); /* negative axis */
    st_assert_ok(g);
    for (int i = 0; i < nd; i++)
        ck_assert_int_eq(dlt_shape_of(g, y)->dim[i], od[i]);
    int64_t ny = st_numel(nd, od), idx[8];
    float *yd = malloc(sizeof(float) * ny);
    dlt_gc_feed f = {n, xs, data, 0};
    dlt_test_eval(g, y, &f, yd);
    for (int64_t e = 0; e < ny; e++) {
        st_unravel(e, nd, od, idx);
        int part = 0;
        while (idx[axis] >= sizes[part])
            idx[axis] -= sizes[part++];
        int64_t di[8];
        memcpy(di, d, sizeof(int64_t) * nd);
        di[axis] = sizes[part];
        ck_assert_float_eq(yd[e], xd[part][st_ravel(nd, di, idx)]);
    }
    if (grads) {
        st_gradcheck(g, y, n, xs, &f, "concat");
        dlt_graph_free(g);
        g = dlt_graph_create(1);
        for (int i = 0; i < n; i++) {
            int64_t di[8];
            char name[16];
            memcpy(di, d, sizeof(int64_t) * nd);
            di[axis] = sizes[i];
            snprintf(name, sizeof name, "x%d", i);
            xs[i] = dlt_input(g, name, DLT_F32, nd, di);
        }
        /* second order through the split that concat's gradient builds, wrt one input */
        y = dlt_concat(g, n, xs, axis);
        dlt_gc_feed f2 = {n, xs, data, 0};
        st_second_order(g, xs[n / 2], y, &f2, "concat 2nd order");
    }
    for (int i = 0; i < n; i++)
        free(xd[i]);
    free(xd), free(data), free(xs), free(yd);
    dlt_graph_free(g);
}

START_TEST(concat_forward_and_gradients)
{
    concat_case(3, 3, (const int64_t[]){2, 0, 5}, 1, (const int64_t[]){1, 4, 3}, 1);
    concat_case(2, 2, (const int64_t[]){0, 7}, 0, (const int64_t[]){1, 1}, 1); /* batch-1 rows */
    concat_case(4, 1, (const int64_t[]){0}, 0, (const int64_t[]){5, 1, 2, 9}, 1);
    concat_case(3, 4, (const int64_t[]){2, 3, 5, 0}, 3, (const int64_t[]){1, 2, 3}, 1);
    /* more inputs than a node takes: a chain of concat nodes (8 + 7 + 4) */
    static const int64_t sz[19] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 4};
    concat_case(19, 2, (const int64_t[]){3, 0}, 1, sz, 1);
    concat_case(11, 3, (const int64_t[]){0, 3, 2}, 0, sz, 1);
    /* threaded path */
    concat_case(3, 2, (const int64_t[]){300, 0}, 1, (const int64_t[]){100, 57, 64}, 0);
}
END_TEST

START_TEST(concat_errors_name_the_input)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t a[2] = {2, 3}, b[2] = {2, 5}, c[2] = {3, 5};
    dlt_t xs[10];
    for (int i = 0; i < 10; i++) {
        char name[8];
        snprintf(name, sizeof name, "h%d", i);
        xs[i] = dlt_input(g, name, DLT_F32, 2, i == 9 ? c : i % 2 ? b : a);
    }
    ck_assert_int_eq(dlt_concat(g, 10, xs, 1), -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_SHAPE);
    ck_assert_str_eq(dlt_graph_errmsg(g),
                     "concat: input 9 'h9' f32[3,5] does not match input 0 'h0' f32[2,3] outside axis 1");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, a), l = dlt_input(g, "labels", DLT_I32, 2, a);
    dlt_t xl[2] = {x, l};
    ck_assert_int_eq(dlt_concat(g, 2, xl, 0), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g),
                     "concat: input 1 'labels' i32[2,3] does not match input 0 'x' f32[2,3] outside axis 0");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, a);
    ck_assert_int_eq(dlt_concat(g, 1, &x, 0), x); /* one input: itself */
    ck_assert_int_eq(dlt_concat(g, 1, &x, 2), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "concat: axis 2 out of range for 'x' of rank 2");
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- split */
static void split_case(int nd, const int64_t *d, int axis_arg, int nparts, const int64_t *sizes,
                       int use_mask)
{
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, nd, d), out[16];
    int axis = axis_arg < 0 ? axis_arg + nd : axis_arg;
    dlt_split(g, x, axis_arg, nparts, sizes, out);
    st_assert_ok(g);
    int64_t n = st_numel(nd, d), idx[8], off = 0;
    float *xd = st_rand(n, 7);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    for (int p = 0; p < nparts; p++) {
        const dlt_shape *s = dlt_shape_of(g, out[p]);
        int64_t sz = sizes ? sizes[p] : d[axis] / nparts, m = dlt_shape_numel(s);
        ck_assert_int_eq(s->dim[axis], sz);
        float *yd = malloc(sizeof(float) * m);
        dlt_test_eval(g, out[p], &f, yd);
        for (int64_t e = 0; e < m; e++) {
            st_unravel(e, nd, s->dim, idx);
            idx[axis] += off;
            ck_assert_float_eq(yd[e], xd[st_ravel(nd, d, idx)]);
        }
        off += sz;
        free(yd);
    }
    /* gradient through a sum of a subset of the parts (unused parts get zeros) */
    dlt_t acc = -1;
    for (int p = 0; p < nparts; p++) {
        if (use_mask && !(use_mask >> p & 1))
            continue;
        dlt_t s = dlt_sum(g, dlt_mul(g, out[p], out[p]), 0, NULL, 0);
        acc = acc < 0 ? s : dlt_add(g, acc, s);
    }
    double an, nu;
    st_assert_ok(g);
    /* quadratic in x: central differences exact up to f32 rounding, as above */
    dlt_test_gradcheck(g, acc, 1, &x, &f, ST_EPS, 5, &an, &nu);
    dlt_test_assert_close("split", an, nu, 1e-4, 1e-5);
    dlt_graph_free(g);
    if (use_mask) {
        free(xd);
        return;
    }
    /* second order: gradient of the gradient through split's concat */
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, nd, d);
    dlt_split(g, x, axis, nparts, sizes, out);
    dlt_t y = dlt_concat(g, nparts > 2 ? 2 : nparts, (const dlt_t[]){out[nparts - 1], out[0]}, axis);
    st_second_order(g, x, y, &f, "split 2nd order");
    dlt_graph_free(g);
    free(xd);
}

START_TEST(split_forward_and_gradients)
{
    split_case(3, (const int64_t[]){2, 9, 3}, 1, 3, (const int64_t[]){2, 3, 4}, 0);
    split_case(2, (const int64_t[]){1, 12}, -1, 4, NULL, 0);
    split_case(1, (const int64_t[]){7}, 0, 2, (const int64_t[]){6, 1}, 0);
    /* more parts than a node has outputs: chained splits */
    split_case(2, (const int64_t[]){28, 3}, 0, 7, (const int64_t[]){1, 2, 3, 4, 5, 6, 7}, 0);
    split_case(3, (const int64_t[]){3, 2, 10}, 2, 10, NULL, 0);
    /* unused parts */
    split_case(2, (const int64_t[]){5, 9}, 1, 3, (const int64_t[]){4, 1, 4}, 0x5);
    split_case(2, (const int64_t[]){5, 9}, 1, 6, (const int64_t[]){1, 1, 2, 1, 2, 2}, 0x22);
    /* threaded path */
    split_case(2, (const int64_t[]){200, 500}, 1, 2, (const int64_t[]){123, 377}, 0x1);
}
END_TEST

START_TEST(split_errors)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {4, 9};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, d), out[3] = {5, 5, 5};
    ck_assert_int_eq(dlt_split(g, x, 1, 3, (const int64_t[]){2, 3, 5}, out), -1);
    ck_assert_int_eq(out[1], -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "split: part sizes add up to 10, axis 1 of 'x' has 9");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_split(g, x, 1, 2, NULL, out), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "split: axis 1 of 'x' (size 9) is not divisible by 2");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_split(g, x, 0, 2, (const int64_t[]){4, 0}, out), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "split: part 1 has size 0 (must be > 0)");
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- reshape helpers */
static void assert_dims(dlt_graph *g, dlt_t v, int nd, const int64_t *d)
{
    const dlt_shape *s = dlt_shape_of(g, v);
    ck_assert_msg(s != NULL, "%s", dlt_graph_errmsg(g));
    ck_assert_int_eq(s->ndim, nd);
    for (int i = 0; i < nd; i++)
        ck_assert_int_eq(s->dim[i], d[i]);
}

START_TEST(squeeze_unsqueeze_flatten)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[5] = {1, 3, 1, 4, 2};
    dlt_t x = dlt_input(g, "x", DLT_F32, 5, d);
    assert_dims(g, dlt_squeeze(g, x, 0, NULL), 3, (const int64_t[]){3, 4, 2});
    assert_dims(g, dlt_squeeze(g, x, 1, (const int[]){-3}), 4, (const int64_t[]){1, 3, 4, 2});
    assert_dims(g, dlt_unsqueeze(g, x, 5), 6, (const int64_t[]){1, 3, 1, 4, 2, 1});
    assert_dims(g, dlt_unsqueeze(g, x, -1), 6, (const int64_t[]){1, 3, 1, 4, 2, 1});
    assert_dims(g, dlt_unsqueeze(g, x, 0), 6, (const int64_t[]){1, 1, 3, 1, 4, 2});
    assert_dims(g, dlt_flatten(g, x, 1, -1), 2, (const int64_t[]){1, 24});
    assert_dims(g, dlt_flatten(g, x, 0, 2), 3, (const int64_t[]){3, 4, 2});
    assert_dims(g, dlt_flatten(g, x, 3, 3), 5, d);
    /* views: the data is x's, in order, and gradients flow */
    dlt_t y = dlt_unsqueeze(g, dlt_flatten(g, dlt_squeeze(g, x, 0, NULL), 0, 1), 1);
    assert_dims(g, y, 3, (const int64_t[]){12, 1, 2});
    float xd[24], yd[24];
    dlt_test_fill_uniform(xd, 24, -1, 1, 2);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_test_eval(g, y, &f, yd);
    ck_assert_double_eq(dlt_test_max_abserr(xd, yd, 24), 0);
    st_gradcheck(g, y, 1, &x, &f, "squeeze/flatten/unsqueeze");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 5, d);
    ck_assert_int_eq(dlt_squeeze(g, x, 1, (const int[]){1}), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "squeeze: axis 1 of 'x' has size 3, not 1");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 5, d);
    ck_assert_int_eq(dlt_unsqueeze(g, x, 7), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "unsqueeze: axis 7 out of range for 'x' of rank 5");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 5, d);
    ck_assert_int_eq(dlt_flatten(g, x, 3, 1), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "flatten: axes 3..1 out of range for 'x' of rank 5");
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    dlt_set_num_threads(2);
    Suite *s = suite_create("shape");
    TCase *tc = tcase_create("shape");
    tcase_set_timeout(tc, 60);
    int np = (int)(sizeof perm_cases / sizeof perm_cases[0]);
    tcase_add_loop_test(tc, permute_forward_matches_naive, 0, np);
    tcase_add_loop_test(tc, permute_gradients, 0, np);
    tcase_add_test(tc, permute_integer_and_byte_tensors);
    tcase_add_test(tc, transpose_swaps_two_axes);
    tcase_add_test(tc, permute_errors);
    tcase_add_test(tc, concat_forward_and_gradients);
    tcase_add_test(tc, concat_errors_name_the_input);
    tcase_add_test(tc, split_forward_and_gradients);
    tcase_add_test(tc, split_errors);
    tcase_add_test(tc, squeeze_unsqueeze_flatten);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
