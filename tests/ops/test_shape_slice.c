/* slice and pad (constant and reflect) against naive loops, a hand-computed
 * PyTorch case, finite differences (first and second order), and errors. */
#include "shape_test_util.h"

/* ---------------------------------------------------------------- slice */
static const struct {
    int nd;
    int64_t d[4], start[4], stop[4], step[4];
} slice_cases[] = {
    {2, {5, 7}, {1, 0}, {4, 7}, {1, 2}},
    {3, {1, 9, 4}, {0, -7, 1}, {1, DLT_SLICE_END, -1}, {1, 3, 1}}, /* batch 1, negatives */
    {1, {11}, {10}, {11}, {1}},                                  /* last element */
    {4, {3, 5, 2, 6}, {2, 1, 0, 5}, {3, 5, 2, 6}, {1, 3, 2, 7}},   /* step beyond the end */
    {2, {301, 257}, {3, 1}, {300, 256}, {1, 1}},                 /* threaded path */
    {3, {4, 6, 9}, {0, 0, 2}, {4, 6, 9}, {2, 5, 3}},
};

static void slice_ref(const float *x, int nd, const int64_t *d, const int64_t *start, const int64_t *step,
                      const int64_t *od, float *y)
{
    int64_t oi[4], ii[4];
    for (int64_t f = 0; f < st_numel(nd, od); f++) {
        st_unravel(f, nd, od, oi);
        for (int i = 0; i < nd; i++)
            ii[i] = start[i] + oi[i] * step[i];
        y[f] = x[st_ravel(nd, d, ii)];
    }
}

START_TEST(slice_forward_matches_naive)
{
    int nd = slice_cases[_i].nd;
    const int64_t *d = slice_cases[_i].d;
    int64_t start[4], od[4];
    for (int i = 0; i < nd; i++) {
        int64_t b = slice_cases[_i].start[i], e = slice_cases[_i].stop[i], s = slice_cases[_i].step[i];
        b = b < 0 ? b + d[i] : b;
        e = e == DLT_SLICE_END ? d[i] : e < 0 ? e + d[i] : e;
        start[i] = b;
        od[i] = (e - b + s - 1) / s;
    }
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, nd, d);
    dlt_t y = dlt_slice(g, x, slice_cases[_i].start, slice_cases[_i].stop, slice_cases[_i].step);
    st_assert_ok(g);
    for (int i = 0; i < nd; i++)
        ck_assert_int_eq(dlt_shape_of(g, y)->dim[i], od[i]);
    int64_t n = st_numel(nd, d), m = st_numel(nd, od);
    float *xd = st_rand(n, 1), *yd = malloc(sizeof(float) * m), *ref = malloc(sizeof(float) * m);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_test_eval(g, y, &f, yd);
    slice_ref(xd, nd, d, start, slice_cases[_i].step, od, ref);
    ck_assert_double_eq(dlt_test_max_abserr(yd, ref, (size_t)m), 0);
    if (n < 10000) {
        st_gradcheck(g, y, 1, &x, &f, "slice");
        dlt_graph_free(g);
        g = dlt_graph_create(1);
        x = dlt_input(g, "x", DLT_F32, nd, d);
        y = dlt_slice(g, x, slice_cases[_i].start, slice_cases[_i].stop, slice_cases[_i].step);
        st_second_order(g, x, y, &f, "slice 2nd order");
    }
    free(xd), free(yd), free(ref);
    dlt_graph_free(g);
}
END_TEST

START_TEST(slice_axis_and_integer_tensors)
{
    int64_t d[2] = {3, 8};
    int32_t tok[24], out[9];
    for (int i = 0; i < 24; i++)
        tok[i] = 100 + i;
    dlt_graph *g = dlt_graph_create(1);
    dlt_t t = dlt_input(g, "tokens", DLT_I32, 2, d);
    /* inputs and targets of a language model: tokens[:, 1::3] */
    dlt_t y = dlt_slice_axis(g, t, -1, 1, DLT_SLICE_END, 3);
    ck_assert_int_eq(dlt_slice_axis(g, t, 0, 0, 3, 1), t); /* the whole tensor: no node */
    st_assert_ok(g);
    ck_assert_int_eq(dlt_shape_of(g, y)->dim[1], 3);
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 1, &y, NULL, &p), DLT_OK);
    memcpy(dlt_plan_data(p, t), tok, sizeof tok);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
    memcpy(out, dlt_plan_data(p, y), sizeof out);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            ck_assert_int_eq(out[r * 3 + c], 100 + r * 8 + 1 + 3 * c);
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

START_TEST(slice_errors)
{
    int64_t d[2] = {3, 5};
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_slice(g, x, (const int64_t[]){0, 2}, (const int64_t[]){3, 9}, NULL), -1);
    ck_assert_int_eq(dlt_graph_status(g), DLT_ERR_SHAPE);
    ck_assert_str_eq(dlt_graph_errmsg(g), "slice 'slice': axis 1: slice [2:9] is out of range for size 5 "
                                          "(inputs: 'x' f32[3,5])");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_slice_axis(g, x, 0, 2, 2, 1), -1); /* empty */
    ck_assert_str_eq(dlt_graph_errmsg(g), "slice 'slice': axis 0: slice [2:2] is out of range for size 3 "
                                          "(inputs: 'x' f32[3,5])");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_slice_axis(g, x, 0, -4, DLT_SLICE_END, 1), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "slice 'slice': axis 0: slice [-4:3] is out of range for size 3 "
                                          "(inputs: 'x' f32[3,5])");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_slice_axis(g, x, 1, 0, 5, 0), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "slice 'slice': axis 1: step 0 must be >= 1 (inputs: 'x' f32[3,5])");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_slice_axis(g, x, 2, 0, 1, 1), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "slice: axis 2 out of range for 'x' of rank 2");
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- pad */
static int64_t reflect_ref(int64_t o, int64_t b, int64_t n)
{
    int64_t s = o - b; /* mirror at 0 and n - 1 without repeating the edge */
    while (s < 0 || s >= n)
        s = s < 0 ? -s : 2 * (n - 1) - s;
    return s;
}

static void pad_ref(const float *x, int nd, const int64_t *d, const int64_t *b, const int64_t *od,
                    dlt_pad_mode mode, float value, float *y)
{
    int64_t oi[4], ii[4];
    for (int64_t f = 0; f < st_numel(nd, od); f++) {
        st_unravel(f, nd, od, oi);
        int inside = 1;
        for (int i = 0; i < nd; i++) {
            ii[i] = mode == DLT_PAD_REFLECT ? reflect_ref(oi[i], b[i], d[i]) : oi[i] - b[i];
            inside &= ii[i] >= 0 && ii[i] < d[i];
        }
        y[f] = inside ? x[st_ravel(nd, d, ii)] : value;
    }
}

static const struct {
    int nd;
    int64_t d[4], before[4], after[4];
} pad_cases[] = {
    {2, {3, 4}, {1, 0}, {2, 3}},
    {4, {1, 2, 5, 7}, {0, 0, 2, 3}, {0, 0, 1, 3}}, /* NCHW image, batch 1 */
    {1, {2}, {1}, {1}},
    {3, {3, 4, 5}, {2, 3, 4}, {2, 3, 4}}, /* reflect: pads of size - 1 */
    {4, {2, 8, 61, 67}, {0, 0, 3, 3}, {0, 0, 3, 3}}, /* threaded path */
};

START_TEST(pad_forward_matches_naive)
{
    int nd = pad_cases[_i].nd;
    const int64_t *d = pad_cases[_i].d, *b = pad_cases[_i].before, *a = pad_cases[_i].after;
    int64_t od[4];
    for (int i = 0; i < nd; i++)
        od[i] = d[i] + b[i] + a[i];
    int64_t n = st_numel(nd, d), m = st_numel(nd, od);
    float *xd = st_rand(n, 2), *yd = malloc(sizeof(float) * m), *ref = malloc(sizeof(float) * m);
    for (int it = 0; it < 3; it++) { /* constant 1.5, reflect, constant 0 (the zero fill's own path) */
        int mode = it == 1 ? DLT_PAD_REFLECT : DLT_PAD_CONSTANT;
        float value = it == 0 ? 1.5f : 0.f;
        if (it == 2 && n < 10000)
            continue;
        int reflect_ok = 1;
        for (int i = 0; i < nd; i++)
            reflect_ok &= b[i] < d[i] && a[i] < d[i];
        if (mode == DLT_PAD_REFLECT && !reflect_ok)
            continue;
        dlt_graph *g = dlt_graph_create(1);
        dlt_t x = dlt_input(g, "x", DLT_F32, nd, d);
        dlt_t y = dlt_pad(g, x, b, a, (dlt_pad_mode)mode, value);
        st_assert_ok(g);
        const void *data[1] = {xd};
        dlt_gc_feed f = {1, &x, data, 0};
        dlt_test_eval(g, y, &f, yd);
        pad_ref(xd, nd, d, b, od, (dlt_pad_mode)mode, value, ref);
        ck_assert_double_eq(dlt_test_max_abserr(yd, ref, (size_t)m), 0);
        if (n < 10000) {
            st_gradcheck(g, y, 1, &x, &f, mode ? "pad reflect" : "pad");
            dlt_graph_free(g);
            g = dlt_graph_create(1);
            x = dlt_input(g, "x", DLT_F32, nd, d);
            y = dlt_pad(g, x, b, a, (dlt_pad_mode)mode, value);
            st_second_order(g, x, y, &f, mode ? "pad reflect 2nd order" : "pad 2nd order");
        } else if (mode == DLT_PAD_REFLECT) {
            /* threaded adjoint: <pad(x), r> == <x, pad^T(r)> for random r */
            float *r = st_rand(m, 8), *gx = malloc(sizeof(float) * n);
            dlt_t rc = dlt_constant(g, DLT_F32, nd, od, r);
            dlt_t l = dlt_sum(g, dlt_mul(g, y, rc), 0, NULL, 0), gxv;
            ck_assert_int_eq(dlt_grad(g, l, 1, &x, &gxv), DLT_OK);
            dlt_test_eval(g, gxv, &f, gx);
            double lhs = 0, rhs = 0;
            for (int64_t e = 0; e < m; e++)
                lhs += (double)ref[e] * r[e];
            for (int64_t e = 0; e < n; e++)
                rhs += (double)xd[e] * gx[e];
            /* gx sums at most 9 f32 terms per element: ~1e-7 relative each */
            dlt_test_assert_close("pad reflect adjoint", rhs, lhs, 1e-5, 1e-4);
            free(r), free(gx);
        }
        dlt_graph_free(g);
    }
    free(xd), free(yd), free(ref);
}
END_TEST

/* torch.nn.functional.pad(torch.arange(1., 5.), (2, 1), mode="reflect")
 * = [3, 2, 1, 2, 3, 4, 3]; and its gradient for dy = 1 counts the reads of
 * each element: [1, 2, 3, 1]. */
START_TEST(pad_reflect_matches_torch_by_hand)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {1, 4};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, d);
    dlt_t y = dlt_pad(g, x, (const int64_t[]){0, 2}, (const int64_t[]){0, 1}, DLT_PAD_REFLECT, 0);
    dlt_t l = dlt_sum(g, y, 0, NULL, 0), gx;
    ck_assert_int_eq(dlt_grad(g, l, 1, &x, &gx), DLT_OK);
    float xd[4] = {1, 2, 3, 4}, yd[7], gd[4];
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    dlt_test_eval(g, y, &f, yd);
    dlt_test_eval(g, gx, &f, gd);
    const float ye[7] = {3, 2, 1, 2, 3, 4, 3}, ge[4] = {1, 2, 3, 1};
    for (int i = 0; i < 7; i++)
        ck_assert_float_eq(yd[i], ye[i]);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(gd[i], ge[i]);
    dlt_graph_free(g);
}
END_TEST

START_TEST(pad_integer_tensor_with_value)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[1] = {3};
    dlt_t t = dlt_input(g, "ids", DLT_I32, 1, d);
    dlt_t y = dlt_pad(g, t, (const int64_t[]){2}, (const int64_t[]){1}, DLT_PAD_CONSTANT, -1);
    st_assert_ok(g);
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 1, &y, NULL, &p), DLT_OK);
    const int32_t in[3] = {7, 8, 9}, want[6] = {-1, -1, 7, 8, 9, -1};
    memcpy(dlt_plan_data(p, t), in, sizeof in);
    ck_assert_int_eq(dlt_plan_run(p, NULL), DLT_OK);
    const int32_t *out = dlt_plan_data(p, y);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(out[i], want[i]);
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

START_TEST(pad_errors)
{
    int64_t d[2] = {3, 5};
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_pad(g, x, (const int64_t[]){0, 1}, (const int64_t[]){3, 0}, DLT_PAD_REFLECT, 0), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "pad_reflect 'pad_reflect': axis 0: reflect padding (0, 3) must be "
                                          "smaller than the size 3 (inputs: 'x' f32[3,5])");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_pad(g, x, (const int64_t[]){0, -1}, NULL, DLT_PAD_CONSTANT, 0), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "pad: axis 1 of 'x': padding (-1, 0) is negative");
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_pad(g, x, NULL, NULL, DLT_PAD_REFLECT, 0), x); /* no padding: no node */
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    dlt_set_num_threads(2);
    Suite *s = suite_create("shape_slice");
    TCase *tc = tcase_create("slice_pad");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, slice_forward_matches_naive, 0, (int)(sizeof slice_cases / sizeof slice_cases[0]));
    tcase_add_test(tc, slice_axis_and_integer_tensors);
    tcase_add_test(tc, slice_errors);
    tcase_add_loop_test(tc, pad_forward_matches_naive, 0, (int)(sizeof pad_cases / sizeof pad_cases[0]));
    tcase_add_test(tc, pad_reflect_matches_torch_by_hand);
    tcase_add_test(tc, pad_integer_tensor_with_value);
    tcase_add_test(tc, pad_errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
