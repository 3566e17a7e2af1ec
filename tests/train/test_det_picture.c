/* Pictures of detections (src/train/det_picture.c): the box outline, the
 * label strip with its text, the blended mask at the pixels worked out by
 * hand from the documented rules; detections below the score or invalid
 * leave the image alone; a grid of a normalised batch places each image and
 * its detections in its cell. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlt_det_picture.h"
#include "dlt_test.h"

static const uint8_t *px(const dlt_image8 *im, int x, int y)
{
    return im->px + ((size_t)y * im->w + x) * 3;
}

static int same(const uint8_t *p, const uint8_t rgb[3])
{
    return p[0] == rgb[0] && p[1] == rgb[1] && p[2] == rgb[2];
}

START_TEST(draw_boxes_labels_masks)
{
    enum { H = 40, W = 60 };
    const uint8_t gray[3] = {100, 100, 100}, white[3] = {255, 255, 255};
    dlt_image8 im;
    ck_assert_int_eq(dlt_draw_canvas(&im, W, H, gray), DLT_OK);
    const float boxes[3 * 4] = {10.2f, 20.f, 30.f, 35.6f, 40.f, 2.f, 55.f, 8.f, 0.f, 0.f, 8.f, 6.f};
    const float scores[3] = {0.9f, 0.3f, 0.95f}, valid[3] = {1, 1, 0};
    const int32_t labels[3] = {2, 1, 3};
    uint8_t *masks = calloc(3 * H * W, 1);
    for (int y = 25; y <= 27; y++)
        for (int x = 15; x <= 18; x++)
            masks[y * W + x] = 1;
    for (int i = 0; i < H * W; i++) /* the low-scoring and the invalid one: everywhere */
        masks[H * W + i] = masks[2 * H * W + i] = 1;
    dlt_det_draw_opts o;
    dlt_det_draw_opts_default(&o);
    dlt_det_draw(&im, 3, boxes, scores, labels, valid, masks, NULL, &o);
    uint8_t c2[3];
    dlt_draw_palette(2, c2);
    /* outline: pixels floor(x1)..ceil(x2) - 1 = 10..29, rows 20..35 */
    ck_assert(same(px(&im, 10, 28), c2) && same(px(&im, 29, 28), c2));
    ck_assert(same(px(&im, 20, 20), c2) && same(px(&im, 20, 35), c2));
    ck_assert(same(px(&im, 9, 28), gray) && same(px(&im, 30, 28), gray) &&
              same(px(&im, 20, 36), gray));
    ck_assert(same(px(&im, 20, 30), gray)); /* inside, off the mask */
    /* the mask blended at alpha 0.45 */
    for (int c = 0; c < 3; c++) {
        double want = round(0.55 * 100 + 0.45 * c2[c]);
        ck_assert_msg(fabs(px(&im, 16, 26)[c] - want) <= 1, "channel %d: %d vs %.0f", c,
                      px(&im, 16, 26)[c], want);
    }
    /* the label "2 0.90": a strip 9 rows high above the box, rows 11..19, from x = 10
     * for 6 * 6 - 1 + 2 = 37 pixels; the '2' starts at (11, 12), top row .###. */
    ck_assert(same(px(&im, 10, 11), c2) && same(px(&im, 46, 19), c2));
    ck_assert(same(px(&im, 47, 15), gray) && same(px(&im, 10, 10), gray));
    ck_assert(same(px(&im, 12, 12), white) && same(px(&im, 11, 12), c2));
    int whites = 0;
    for (int y = 11; y <= 19; y++)
        for (int x = 10; x <= 46; x++)
            whites += same(px(&im, x, y), white);
    printf("label strip: %d white pixels\n", whites);
    ck_assert_int_gt(whites, 30);
    /* the other two detections left nothing */
    ck_assert(same(px(&im, 45, 5), gray) && same(px(&im, 2, 2), gray) &&
              same(px(&im, 50, 38), gray));

    /* a box at the top edge gets its label inside, a name from the table */
    const char *names[4] = {"bg", "shirt", NULL, "bag"};
    const float top[4] = {30.f, 0.f, 58.f, 12.f}, one = 1.f, s = 0.7f;
    const int32_t l3 = 3;
    dlt_det_draw(&im, 1, top, &s, &l3, &one, NULL, names, &o);
    uint8_t c3[3];
    dlt_draw_palette(3, c3);
    ck_assert(same(px(&im, 30, 0), c3) && same(px(&im, 30, 8), c3)); /* strip rows 0..8 */
    ck_assert(same(px(&im, 32, 1), white));                          /* 'B' top row ####. */
    free(masks);
    dlt_image8_free(&im);
}
END_TEST

START_TEST(grid_of_a_batch)
{
    enum { B = 2, H = 16, W = 24, D = 2, M = 28 };
    float *images = calloc(B * 3 * H * W, sizeof(float)); /* 0 = the mean: 0.5 -> 128 */
    float boxes[B * D * 4] = {0}, scores[B * D] = {0}, valid[B * D] = {0};
    int32_t labels[B * D] = {0}, isz[B * 2] = {16, 24, 12, 20}, osz[B * 2] = {16, 24, 12, 20};
    int64_t ids[B] = {1, 2};
    float *mprob = malloc(sizeof(float) * B * D * M * M);
    for (int i = 0; i < B * D * M * M; i++)
        mprob[i] = 1.f;
    const float b1[4] = {2.f, 9.f, 10.f, 12.f}; /* rows 9..11, the label above: 0..8 */
    memcpy(boxes + (1 * D + 0) * 4, b1, sizeof b1);
    scores[D] = 0.8f, valid[D] = 1.f, labels[D] = 1;
    dlt_mrcnn_dets d = {.batch = B,
                        .nimages = B,
                        .per_image = D,
                        .mask_size = M,
                        .boxes = boxes,
                        .scores = scores,
                        .labels = labels,
                        .valid = valid,
                        .masks = mprob,
                        .image_sizes = isz,
                        .orig_sizes = osz,
                        .image_ids = ids};
    const float mean[3] = {0.5f, 0.5f, 0.5f}, stdv[3] = {0.25f, 0.25f, 0.25f};
    dlt_det_draw_opts o;
    dlt_det_draw_opts_default(&o);
    dlt_image8 g;
    ck_assert_int_eq(dlt_det_grid(images, B, H, W, mean, stdv, &d, NULL, &o, 2, &g), DLT_OK);
    ck_assert_int_eq(g.w, 2 * (W + 2) + 2);
    ck_assert_int_eq(g.h, H + 4);
    const uint8_t mid[3] = {128, 128, 128}, black[3] = {0, 0, 0};
    uint8_t c1[3];
    dlt_draw_palette(1, c1);
    ck_assert(same(px(&g, 0, 0), black) && same(px(&g, 2 + 3, 2 + 3), mid)); /* image 0 */
    int ox = 2 + W + 2, oy = 2;
    ck_assert(same(px(&g, ox + 2, oy + 10), c1));   /* image 1's box, left edge */
    ck_assert(same(px(&g, ox + 15, oy + 10), mid)); /* beside it */
    ck_assert(same(px(&g, ox + 5, oy + 14), black));
    ck_assert(same(px(&g, ox + 2, oy + 0), c1));
        /* the label strip */ /* below its 12 rows: padding */
    /* inside the box the pasted mask (probability 1 covers it) blends the colour */
    const uint8_t *p = px(&g, ox + 6, oy + 10);
    for (int c = 0; c < 3; c++)
        ck_assert(fabs(p[c] - round(0.55 * 128 + 0.45 * c1[c])) <= 1);
    char path[] = "/tmp/dlt_det_gridXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dlt_png_write(path, &g), DLT_OK);
    remove(path);
    dlt_image8_free(&g);
    ck_assert_int_eq(dlt_det_grid(images, 3, H, W, mean, stdv, &d, NULL, &o, 2, &g),
                     DLT_ERR_INVALID);
    free(images), free(mprob);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("det_picture");
    TCase *tc = tcase_create("det_picture");
    tcase_add_test(tc, draw_boxes_labels_masks);
    tcase_add_test(tc, grid_of_a_batch);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
