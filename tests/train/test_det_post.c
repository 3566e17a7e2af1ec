/* Detection post-processing (src/train/det_post.c) against torchvision:
 * masks pasted into the image (tests/fixtures/det_post.h5, made by
 * det_post_make_fixtures.py), boxes inside and across the image's edges;
 * one wholly outside pastes nothing (torchvision fails on it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dlt_det_post.h"
#include "dlt_test.h"

enum { N = 8, M = 28, H = 48, W = 64 };

START_TEST(paste_masks_vs_torchvision)
{
    hid_t f = dlt_test_fixture_open("det_post.h5");
    float *masks = malloc(sizeof(float) * N * M * M), *boxes = malloc(sizeof(float) * N * 4),
          *want = malloc(sizeof(float) * N * H * W), *got = malloc(sizeof(float) * H * W);
    dlt_test_h5_read(f, "masks", H5T_NATIVE_FLOAT, masks, (size_t)N * M * M);
    dlt_test_h5_read(f, "boxes", H5T_NATIVE_FLOAT, boxes, (size_t)N * 4);
    dlt_test_h5_read(f, "pasted", H5T_NATIVE_FLOAT, want, (size_t)N * H * W);
    for (int k = 0; k < N; k++) {
        dlt_det_paste_mask(masks + (size_t)k * M * M, M, boxes + 4 * k, H, W, got);
        double worst = 0;
        int inside = 0, flips = 0;
        for (int i = 0; i < H * W; i++) {
            float w = want[(size_t)k * H * W + i];
            worst = fmax(worst, fabs(got[i] - w));
            inside += w != 0.f;
            flips += (got[i] > 0.5f) != (w > 0.5f) && fabs(w - 0.5f) > 1e-5;
        }
        /* both interpolate in f32 (PyTorch may order the sums differently): rounding only */
        ck_assert_msg(worst < 2e-6, "box %d: worst difference %.3g", k, worst);
        ck_assert_int_eq(flips, 0); /* the same pixels above COCO's threshold */
        printf("box %d (%.1f, %.1f, %.1f, %.1f): %4d pixels set, max difference %.2g\n", k,
               boxes[4 * k], boxes[4 * k + 1], boxes[4 * k + 2], boxes[4 * k + 3], inside, worst);
    }
    const float outside[4] = {-20.f, -20.f, -5.f, -2.f};
    got[0] = got[H * W - 1] = 7.f;
    dlt_det_paste_mask(masks, M, outside, H, W, got);
    for (int i = 0; i < H * W; i++)
        ck_assert_float_eq(got[i], 0.f);
    free(masks), free(boxes), free(want), free(got);
    H5Fclose(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("det_post");
    TCase *tc = tcase_create("det_post");
    tcase_add_test(tc, paste_masks_vs_torchvision);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
