/* Drawing (src/io/draw.c) against hand-made pictures: outlines and fills
 * pixel by pixel, clipping, a Bresenham line against the ideal line, mask
 * blending arithmetic, glyphs against their pictures written out here, and
 * the palette's spread. */
#include <stdlib.h>
#include <string.h>

#include "dlt_draw.h"
#include "dlt_test.h"

static const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255}, red[3] = {200, 10, 20};

static const uint8_t *px(const dlt_image8 *im, int x, int y)
{
    return im->px + ((size_t)y * im->w + x) * 3;
}

static int is(const dlt_image8 *im, int x, int y, const uint8_t rgb[3])
{
    return memcmp(px(im, x, y), rgb, 3) == 0;
}

START_TEST(fill_rect_clip)
{
    dlt_image8 im;
    ck_assert_int_eq(dlt_draw_canvas(&im, 10, 8, black), DLT_OK);
    dlt_draw_rect(&im, 7, 6, 2, 1, red, 1); /* corners in any order */
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 10; x++) {
            int edge = (x == 2 || x == 7) && y >= 1 && y <= 6;
            edge |= (y == 1 || y == 6) && x >= 2 && x <= 7;
            ck_assert_msg(is(&im, x, y, edge ? red : black), "pixel (%d, %d)", x, y);
        }
    dlt_draw_rect(&im, 2, 1, 7, 6, white, 2); /* 2 pixels wide: rows 1, 2 and 5, 6 */
    ck_assert(is(&im, 3, 2, white) && is(&im, 6, 5, white) && is(&im, 4, 3, black));
    /* partly outside: only the pixels inside change, nothing is written out of bounds */
    dlt_draw_fill(&im, -5, -5, 1, 0, red, 1.f);
    ck_assert(is(&im, 0, 0, red) && is(&im, 1, 0, red) && is(&im, 2, 0, black) &&
              is(&im, 0, 1, black));
    dlt_draw_fill(&im, 20, 20, 30, 30, red, 1.f);
    dlt_draw_fill(&im, 9, 7, 9, 7, white, 0.5f); /* round(0.5 * 0 + 0.5 * 255) = 128 */
    ck_assert_int_eq(px(&im, 9, 7)[0], 128);
    dlt_image8_free(&im);
    ck_assert_int_ne(dlt_draw_canvas(&im, 0, 5, black), DLT_OK);
}
END_TEST

START_TEST(line_follows_ideal)
{
    const int ends[][4] = {{0, 0, 9, 4}, {9, 0, 0, 6}, {3, 7, 3, 0}, {1, 1, 8, 1}, {0, 7, 7, 0}};
    for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++) {
        dlt_image8 im;
        dlt_draw_canvas(&im, 10, 8, black);
        int x0 = ends[k][0], y0 = ends[k][1], x1 = ends[k][2], y1 = ends[k][3];
        dlt_draw_line(&im, x0, y0, x1, y1, white, 1);
        int n = 0, dx = abs(x1 - x0), dy = abs(y1 - y0);
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 10; x++) {
                if (!is(&im, x, y, white))
                    continue;
                n++;
                /* distance along the minor axis from the ideal line: at most 1/2 */
                double t = dx >= dy ? (double)(x - x0) / (x1 - x0) : (double)(y - y0) / (y1 - y0);
                double off = dx >= dy ? y - (y0 + t * (y1 - y0)) : x - (x0 + t * (x1 - x0));
                ck_assert_msg(t >= 0 && t <= 1 && off <= 0.5 && off >= -0.5,
                              "line %zu: pixel (%d, %d)", k, x, y);
            }
        ck_assert_int_eq(n, (dx > dy ? dx : dy) + 1); /* one pixel per step of the major axis */
        ck_assert(is(&im, x0, y0, white) && is(&im, x1, y1, white));
        dlt_image8_free(&im);
    }
}
END_TEST

START_TEST(mask_blend)
{
    dlt_image8 im;
    dlt_draw_canvas(&im, 6, 5, (const uint8_t[3]){100, 100, 100});
    const uint8_t mask[2 * 3] = {1, 0, 1, 0, 1, 0};
    dlt_draw_mask(&im, mask, 3, 2, 4, 3, red, 0.25f); /* the third column falls off the image */
    /* round(0.75 * 100 + 0.25 * 200) = 125, round(75 + 2.5) = 78, round(75 + 5) = 80 */
    const uint8_t mixed[3] = {125, 78, 80}, grey[3] = {100, 100, 100};
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 6; x++) {
            int in = (y == 3 && x == 4) || (y == 4 && x == 5);
            ck_assert_msg(is(&im, x, y, in ? mixed : grey), "pixel (%d, %d)", x, y);
        }
    dlt_image8 gray = {.h = 1, .w = 2, .c = 1, .px = (uint8_t[]){7, 250}}, rgb;
    ck_assert_int_eq(dlt_draw_to_rgb(&gray, &rgb), DLT_OK);
    ck_assert(is(&rgb, 0, 0, (const uint8_t[3]){7, 7, 7}) &&
              is(&rgb, 1, 0, (const uint8_t[3]){250, 250, 250}));
    dlt_image8_free(&rgb);
    dlt_image8_free(&im);
}
END_TEST

/* The pixels of `text` at scale s, as rows of '#' and '.' (one string per row). */
static void render(const char *text, int s, char rows[][64], int *w)
{
    dlt_image8 im;
    *w = dlt_draw_text_width(text, s);
    dlt_draw_canvas(&im, *w, 7 * s, black);
    ck_assert_int_eq(dlt_draw_text(&im, 0, 0, text, white, s), *w);
    for (int y = 0; y < 7 * s; y++) {
        for (int x = 0; x < *w; x++)
            rows[y][x] = is(&im, x, y, white) ? '#' : '.';
        rows[y][*w] = '\0';
    }
    dlt_image8_free(&im);
}

START_TEST(text_glyphs)
{
    char rows[14][64], again[14][64];
    int w;
    static const char *const want[7] = {"..#....###.", ".##...#...#", "..#...#...#", "..#...#####",
                                        "..#...#...#", "..#...#...#", ".###..#...#"};
    render("1A", 1, rows, &w);
    ck_assert_int_eq(w, 11);
    for (int y = 0; y < 7; y++)
        ck_assert_msg(strcmp(rows[y], want[y]) == 0, "row %d: %s, want %s", y, rows[y], want[y]);
    render("1a", 1, again, &w); /* lower case draws as capitals */
    for (int y = 0; y < 7; y++)
        ck_assert_str_eq(again[y], rows[y]);
    render("~", 1, rows, &w); /* no glyph: '?' */
    render("?", 1, again, &w);
    for (int y = 0; y < 7; y++)
        ck_assert_str_eq(rows[y], again[y]);
    render(".", 2, rows, &w); /* scale 2: every font pixel a 2x2 square */
    ck_assert_int_eq(w, 10);
    ck_assert_str_eq(rows[10], "..####....");
    ck_assert_str_eq(rows[13], "..####....");
    ck_assert_str_eq(rows[9], ".........."); /* font rows 5 and 6 are set: pixel rows 10..13 */
    ck_assert_int_eq(dlt_draw_text_width("", 3), 0);
}
END_TEST

START_TEST(palette_distinct)
{
    uint8_t c[12][3];
    for (int k = 0; k < 12; k++) {
        dlt_draw_palette(k, c[k]);
        int mx = c[k][0] > c[k][1] ? c[k][0] : c[k][1];
        mx = mx > c[k][2] ? mx : c[k][2];
        ck_assert_int_eq(mx, 242); /* V = 0.95 */
        for (int j = 0; j < k; j++) {
            int d = abs(c[k][0] - c[j][0]) + abs(c[k][1] - c[j][1]) + abs(c[k][2] - c[j][2]);
            ck_assert_msg(d > 30, "colours %d and %d are too close", j, k);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("draw");
    TCase *tc = tcase_create("draw");
    tcase_add_test(tc, fill_rect_clip);
    tcase_add_test(tc, line_follows_ideal);
    tcase_add_test(tc, mask_blend);
    tcase_add_test(tc, text_glyphs);
    tcase_add_test(tc, palette_distinct);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
