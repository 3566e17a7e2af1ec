/* XY plots (src/io/plot.c): nice ticks for hand-worked ranges, points landing
 * on the pixels the frame puts them at, legend and skipped non-finite points,
 * and the errors. */
#include <math.h>
#include <string.h>

#include "dlt_draw.h"
#include "dlt_plot.h"
#include "dlt_test.h"

START_TEST(nice_ticks)
{
    const struct {
        double lo, hi;
        int target;
        double t0, t1, step;
        int n;
    } c[] = {
        {0, 1, 5, 0, 1, 0.2, 6},   /* raw 0.2: a 2 */
        {3, 97, 5, 0, 100, 20, 6}, /* raw 18.8 -> 20 */
        {-0.013, 0.048, 4, -0.02, 0.06, 0.02, 5},
        {5, 5, 5, 4.4, 5.6, 0.2, 7},   /* one value: +-10% around it */
        {0, 0, 5, -1, 1, 0.5, 5},      /* zero: +-1, raw 0.4 -> 0.5 */
        {1, 1000, 6, 0, 1000, 200, 6}, /* raw 166.5 -> 200 */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        double t0, t1, s;
        int n = dlt_plot_ticks(c[i].lo, c[i].hi, c[i].target, &t0, &t1, &s);
        ck_assert_msg(fabs(s - c[i].step) < 1e-12 && fabs(t0 - c[i].t0) < 1e-12 &&
                          fabs(t1 - c[i].t1) < 1e-12 && n == c[i].n,
                      "case %zu: %g..%g step %g (%d ticks)", i, t0, t1, s, n);
    }
}
END_TEST

START_TEST(points_on_their_pixels)
{
    const double x[4] = {0, 10, NAN, 5}, y[4] = {0, 10, 3, INFINITY};
    dlt_plot_series s[2] = {{.label = "reward", .n = 4, .x = x, .y = y, .style = DLT_PLOT_POINTS},
                            {.label = "best", .n = 2, .x = x, .y = y, .style = DLT_PLOT_LINE}};
    dlt_plot_opts o = {.width = 300, .height = 200};
    dlt_image8 im;
    ck_assert_int_eq(dlt_plot_render(&o, s, 1, &im), DLT_OK);
    ck_assert_int_eq(im.w, 300);
    ck_assert_int_eq(im.h, 200);
    uint8_t c0[3];
    dlt_draw_palette(0, c0);
    /* ticks 0..10 on both axes: (0, 0) at the frame's bottom-left corner
     * (64, 200 - 28), (10, 10) at its top-right (300 - 16, 12) */
    ck_assert(memcmp(im.px + ((size_t)172 * 300 + 64) * 3, c0, 3) == 0);
    ck_assert(memcmp(im.px + ((size_t)12 * 300 + 284) * 3, c0, 3) == 0);
    /* no point for (NaN, 3) or (5, inf): the middle of the frame stays white */
    const uint8_t *mid = im.px + ((size_t)((172 + 12) / 2) * 300 + (64 + 284) / 2) * 3;
    ck_assert_msg(mid[0] == 255 && mid[1] == 255 && mid[2] == 255, "%d %d %d", mid[0], mid[1],
                  mid[2]);
    dlt_image8_free(&im);
    /* a line series: the diagonal passes through the middle of the frame */
    ck_assert_int_eq(dlt_plot_render(&o, s + 1, 1, &im), DLT_OK);
    int hit = 0;
    for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++)
            hit |= memcmp(im.px + ((size_t)(92 + dy) * 300 + 174 + dx) * 3, c0, 3) == 0;
    ck_assert(hit);
    dlt_image8_free(&im);
}
END_TEST

START_TEST(errors)
{
    const double x[1] = {NAN}, y[1] = {1};
    dlt_plot_series s = {.n = 1, .x = x, .y = y};
    dlt_plot_opts o = {.title = "search"};
    dlt_image8 im;
    ck_assert_int_eq(dlt_plot_render(&o, &s, 1, &im), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "no series has a finite point"));
    ck_assert_ptr_null(im.px);
    o.width = 100;
    ck_assert_int_eq(dlt_plot_render(&o, &s, 1, &im), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "too small"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_add_test(tc, nice_ticks);
    tcase_add_test(tc, points_on_their_pixels);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
