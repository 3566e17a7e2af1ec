/* The cast op against hand-computed values: the detection uses (a matcher's
 * codes -2/-1/g shifted into sampler labels and clamped into gather
 * indices), f32 -> i32 flooring with negatives and NaN, i32 -> f32, and the
 * errors (bad dtype, an empty clamp). */
#include <math.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

START_TEST(matcher_codes_to_labels_and_indices)
{
    dlt_graph *g = dlt_graph_create(1);
    const int32_t m[6] = {-2, -1, 0, 3, 7, -1};
    dlt_t x = dlt_input(g, "m", DLT_I32, 2, (const int64_t[]){2, 3});
    /* the sampler's labels: m + 1 clamped below at -1 (ignored, negative, positive) */
    dlt_t lab = dlt_cast(g, x, DLT_I32, 1, 1, -1, INFINITY);
    /* a gather index into 5 ground-truth boxes: clamp(m, 0, 4) */
    dlt_t idx = dlt_cast(g, x, DLT_I32, 1, 0, 0, 4);
    /* a positive mask in f32: clamp(m + 1, 0, 1) */
    dlt_t pos = dlt_cast(g, x, DLT_F32, 1, 1, 0, 1);
    dlt_t outs[3] = {lab, idx, pos};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 3, outs, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    memcpy(dlt_plan_data(p, x), m, sizeof m);
    ck_assert_msg(dlt_plan_run(p, NULL) == DLT_OK, "%s", dlt_errmsg());
    const int32_t want_lab[6] = {-1, 0, 1, 4, 8, 0}, want_idx[6] = {0, 0, 0, 3, 4, 0};
    const float want_pos[6] = {0, 0, 1, 1, 1, 0};
    const int32_t *l = dlt_plan_data(p, lab), *ix = dlt_plan_data(p, idx);
    const float *ps = dlt_plan_data(p, pos);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(l[i], want_lab[i]);
        ck_assert_int_eq(ix[i], want_idx[i]);
        ck_assert_float_eq(ps[i], want_pos[i]);
    }
    ck_assert_int_eq(dlt_shape_of(g, lab)->dtype, DLT_I32);
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

START_TEST(floats_floor_scale_and_clamp)
{
    dlt_graph *g = dlt_graph_create(1);
    const float v[5] = {-1.5f, -0.25f, 0.75f, 2.5f, NAN};
    dlt_t x = dlt_input(g, "v", DLT_F32, 1, (const int64_t[]){5});
    dlt_t a = dlt_cast(g, x, DLT_I32, 2, 0, -100, 100); /* floor(2 v), NaN -> -100 */
    dlt_t b = dlt_cast(g, x, DLT_F32, -1, 0.5, -1, 1);  /* clamp(0.5 - v, -1, 1) */
    /* i32 -> f32: floor(v) clamped to [-3, 3], plus 0.5 */
    dlt_t c = dlt_cast(g, dlt_cast(g, x, DLT_I32, 1, 0, -3, 3), DLT_F32, 1, 0.5, -10, 10);
    dlt_t outs[3] = {a, b, c};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 3, outs, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    memcpy(dlt_plan_data(p, x), v, sizeof v);
    ck_assert_msg(dlt_plan_run(p, NULL) == DLT_OK, "%s", dlt_errmsg());
    const int32_t want_a[5] = {-3, -1, 1, 5, -100};
    const float want_b[5] = {1, 0.75f, -0.25f, -1, -1},
                want_c[5] = {-1.5f, -0.5f, 0.5f, 2.5f, -2.5f};
    const int32_t *av = dlt_plan_data(p, a);
    const float *bv = dlt_plan_data(p, b), *cv = dlt_plan_data(p, c);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(av[i], want_a[i]);
        ck_assert_float_eq(bv[i], want_b[i]);
        ck_assert_float_eq(cv[i], want_c[i]);
    }
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

START_TEST(bad_arguments_give_one_clear_line)
{
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "v", DLT_F32, 1, (const int64_t[]){5});
    ck_assert_int_lt(dlt_cast(g, x, DLT_I32, 1, 0, 2, 1), 0);
    ck_assert_msg(strstr(dlt_graph_errmsg(g), "low end 2 must be <= its high end 1"), "%s",
                  dlt_graph_errmsg(g));
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cast");
    TCase *tc = tcase_create("cast");
    tcase_add_test(tc, matcher_codes_to_labels_and_indices);
    tcase_add_test(tc, floats_floor_scale_and_clamp);
    tcase_add_test(tc, bad_arguments_give_one_clear_line);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
