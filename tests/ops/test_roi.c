/* The roi family (src/ops/roi.c) and the FPN pooler (src/models/fpn_pool.c)
 * against torchvision 0.14 (tests/fixtures/roi.h5, made by
 * tests/fixtures/roi_make_fixtures.py): roi_align forward and input gradient
 * with aligned True/False, sampling 2, 1 and adaptive (0 and -1), rois partly
 * and wholly outside the map and tiny ones; MultiScaleRoIAlign (box 7x7 and
 * mask 14x14) on a 4-level pyramid with its LevelMapper. Then central finite
 * differences of roi_align (one and four maps) and of roi_align_backward (the
 * second-order path), padding rois (batch index -1), the CPU backward's
 * independence of the thread count, and the one-line errors of bad shapes. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_fpn_pool.h"
#include "dlt_ops.h"
#include "dlt_test.h"

/* roi_align is torchvision's float32 arithmetic in its order, so against
 * torchvision's own float32 run only the last bits may differ (the backward
 * sums in torchvision's order too); the float64 reference bounds both. Errors
 * are relative to each tensor's largest magnitude. */
#define TOL_F32 1e-6
#define TOL_F64 1e-5

static size_t numel(dlt_graph *g, dlt_t v)
{
    return (size_t)dlt_shape_numel(dlt_shape_of(g, v));
}

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs((double)a[i]) > m ? fabs((double)a[i]) : m;
    return m;
}

/* |ours - ref| / max|ref| against fixture dataset `name`. */
static double err_vs(hid_t grp, const char *name, const float *ours, size_t n)
{
    float *ref = malloc(n * sizeof *ref);
    dlt_test_h5_read(grp, name, H5T_NATIVE_FLOAT, ref, n);
    double s = max_abs(ref, n);
    double e = dlt_test_max_relerr(ours, ref, n, s > 0 ? s : 1);
    free(ref);
    return e;
}

static int attr_int(hid_t g, const char *name)
{
    return dlt_test_h5_attr_int(g, name);
}

static float attr_float(hid_t g, const char *name)
{
    double v = 0;
    hid_t a = H5Aopen(g, name, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "no attribute %s", name);
    ck_assert(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
    H5Aclose(a);
    return (float)v;
}

/* ---------------------------------------------------------------- roi_align vs torchvision */
static const char *align_cases[] = {"s2_legacy", "s2_aligned", "adaptive_legacy",
                                    "adaptive_aligned", "s1_aligned_scale1"};
#define NROI 17

/* One case, with rois [R, 5] (split = 0) or boxes [R, 4] and an i32 batch
 * index (split = 1); both forms must give the same bits. */
static void run_align_case(const char *name, int split, float *y_out, float *dx_out)
{
    hid_t f = dlt_test_fixture_open("roi.h5");
    char path[64];
    snprintf(path, sizeof path, "align/%s", name);
    hid_t grp = H5Gopen2(f, path, H5P_DEFAULT);
    ck_assert_msg(grp >= 0, "no group %s", path);
    dlt_roi_align_opts o = {.out_h = attr_int(grp, "out_h"),
                            .out_w = attr_int(grp, "out_w"),
                            .spatial_scale = attr_float(grp, "spatial_scale"),
                            .sampling_ratio = attr_int(grp, "sampling_ratio"),
                            .aligned = attr_int(grp, "aligned")};
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, (const int64_t[]){2, 3, 10, 12});
    float rois[NROI * 5];
    dlt_test_h5_read(grp, "rois", H5T_NATIVE_FLOAT, rois, NROI * 5);
    dlt_t r, bidx = -1;
    if (split) {
        float boxes[NROI * 4];
        int32_t bi[NROI];
        for (int i = 0; i < NROI; i++) {
            bi[i] = (int32_t)rois[5 * i];
            memcpy(boxes + 4 * i, rois + 5 * i + 1, 4 * sizeof(float));
        }
        r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){NROI, 4}, boxes);
        bidx = dlt_constant(g, DLT_I32, 1, (const int64_t[]){NROI}, bi);
    } else {
        r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){NROI, 5}, rois);
    }
    dlt_t y = dlt_roi_align(g, x, r, bidx, &o);
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    dlt_t dy = dlt_input(g, "dy", DLT_F32, 4, dlt_shape_of(g, y)->dim), dx;
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, dy), 0, NULL, 0);
    ck_assert_msg(dlt_grad(g, loss, 1, &x, &dx) == DLT_OK, "%s", dlt_errmsg());
    dlt_plan *p = NULL;
    dlt_t outs[2] = {y, dx};
    ck_assert_msg(dlt_plan_create(g, 2, outs, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    dlt_test_h5_read(grp, "x", H5T_NATIVE_FLOAT, dlt_plan_data(p, x), numel(g, x));
    dlt_test_h5_read(grp, "dy", H5T_NATIVE_FLOAT, dlt_plan_data(p, dy), numel(g, dy));
    ck_assert_msg(dlt_plan_run(p, NULL) == DLT_OK, "%s", dlt_errmsg());
    size_t ny = numel(g, y), nx = numel(g, x);
    const float *yv = dlt_plan_data(p, y), *dxv = dlt_plan_data(p, dx);
    double ey = err_vs(grp, "y", yv, ny), edx = err_vs(grp, "dx", dxv, nx);
    double ey64 = err_vs(grp, "y64", yv, ny), edx64 = err_vs(grp, "dx64", dxv, nx);
    printf("align/%-18s %s: y err vs torch f32 %.2e, f64 %.2e; dx %.2e, f64 %.2e\n", name,
           split ? "[R,4]+idx" : "[R,5]    ", ey, ey64, edx, edx64);
    ck_assert_msg(ey <= TOL_F32 && edx <= TOL_F32, "%s: vs torch f32 y %g dx %g", name, ey, edx);
    ck_assert_msg(ey64 <= TOL_F64 && edx64 <= TOL_F64, "%s: vs f64 y %g dx %g", name, ey64, edx64);
    /* the case really exercises something: nonzero outputs and gradients */
    ck_assert(max_abs(yv, ny) > 0.1 && max_abs(dxv, nx) > 0.1);
    memcpy(y_out, yv, ny * sizeof *y_out);
    memcpy(dx_out, dxv, nx * sizeof *dx_out);
    dlt_plan_free(p);
    dlt_graph_free(g);
    H5Gclose(grp);
    H5Fclose(f);
}

START_TEST(roi_align_matches_torchvision)
{
    enum { NY = NROI * 3 * 25, NX = 2 * 3 * 10 * 12 };
    static float y0[NY], dx0[NX], y1[NY], dx1[NX];
    run_align_case(align_cases[_i], 0, y0, dx0);
    run_align_case(align_cases[_i], 1, y1, dx1);
    ck_assert(memcmp(y0, y1, sizeof y0) == 0 && memcmp(dx0, dx1, sizeof dx0) == 0);
}
END_TEST

/* ---------------------------------------------------------------- the FPN pooler vs torchvision */
#define NPOOL 16

static void run_pool_case(const char *name)
{
    hid_t f = dlt_test_fixture_open("roi.h5");
    hid_t pool = H5Gopen2(f, "pool", H5P_DEFAULT), grp = H5Gopen2(pool, name, H5P_DEFAULT);
    ck_assert(pool >= 0 && grp >= 0);
    int size = attr_int(grp, "out_size"), img = attr_int(grp, "image_size");
    dlt_graph *g = dlt_graph_create(1);
    dlt_t feats[4];
    for (int l = 0; l < 4; l++) {
        char nm[8];
        snprintf(nm, sizeof nm, "f%d", l);
        feats[l] = dlt_input(g, nm, DLT_F32, 4, (const int64_t[]){2, 2, 128 >> l, 128 >> l});
    }
    dlt_t rois = dlt_input(g, "rois", DLT_F32, 2, (const int64_t[]){NPOOL, 5}), level;
    dlt_fpn_pool_opts o = size == 7 ? dlt_fpn_pool_box(img, img) : dlt_fpn_pool_mask(img, img);
    dlt_t y = dlt_fpn_pool(g, 4, feats, rois, -1, &o, &level);
    ck_assert_msg(y >= 0 && level >= 0, "%s", dlt_graph_errmsg(g));
    dlt_t dy = dlt_input(g, "dy", DLT_F32, 4, dlt_shape_of(g, y)->dim), df[4];
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, dy), 0, NULL, 0);
    ck_assert_msg(dlt_grad(g, loss, 4, feats, df) == DLT_OK, "%s", dlt_errmsg());
    dlt_t outs[6] = {y, level, df[0], df[1], df[2], df[3]};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 6, outs, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    char nm[16];
    for (int l = 0; l < 4; l++) {
        snprintf(nm, sizeof nm, "f%d", l);
        dlt_test_h5_read(pool, nm, H5T_NATIVE_FLOAT, dlt_plan_data(p, feats[l]),
                         numel(g, feats[l]));
    }
    dlt_test_h5_read(pool, "rois", H5T_NATIVE_FLOAT, dlt_plan_data(p, rois), NPOOL * 5);
    dlt_test_h5_read(grp, "dy", H5T_NATIVE_FLOAT, dlt_plan_data(p, dy), numel(g, dy));
    ck_assert_msg(dlt_plan_run(p, NULL) == DLT_OK, "%s", dlt_errmsg());

    int64_t ref_lv[NPOOL];
    int counts[4] = {0};
    dlt_test_h5_read(pool, "level", H5T_NATIVE_INT64, ref_lv, NPOOL);
    const int32_t *lv = dlt_plan_data(p, level);
    for (int r = 0; r < NPOOL; r++) {
        ck_assert_msg(lv[r] == ref_lv[r], "roi %d: level %d, torchvision %lld", r, lv[r],
                      (long long)ref_lv[r]);
        counts[lv[r]]++;
    }
    for (int l = 0; l < 4; l++)
        ck_assert_msg(counts[l] > 0, "no roi at level %d: the fixture tests too little", l);
    double ey = err_vs(grp, "y", dlt_plan_data(p, y), numel(g, y)), worst = ey;
    printf("pool/%-4s levels %d %d %d %d: y err %.2e, df", name, counts[0], counts[1], counts[2],
           counts[3], ey);
    for (int l = 0; l < 4; l++) {
        snprintf(nm, sizeof nm, "df%d", l);
        double e = err_vs(grp, nm, dlt_plan_data(p, df[l]), numel(g, df[l]));
        printf(" %.2e", e);
        worst = e > worst ? e : worst;
    }
    printf("\n");
    ck_assert_msg(worst <= TOL_F32, "%s: error %g", name, worst);
    dlt_plan_free(p);
    dlt_graph_free(g);
    H5Gclose(grp);
    H5Gclose(pool);
    H5Fclose(f);
}

START_TEST(fpn_pool_box_matches_torchvision)
{
    run_pool_case("box");
}
END_TEST

START_TEST(fpn_pool_mask_matches_torchvision)
{
    run_pool_case("mask");
}
END_TEST

/* ---------------------------------------------------------------- finite differences */
/* Rois on a 7 x 9 map (and its 4 x 5, 2 x 3, 1 x 2 coarser levels), some
 * partly outside, one tiny. */
static const float small_rois[5 * 6] = {
    0, 1.2f, 0.7f, 6.3f, 5.1f, 1, -1.5f, 2.2f, 4.4f, 8.9f, 0, 5.5f, 3.3f,  11.0f, 6.8f,
    1, 2.1f, 1.9f, 2.4f, 2.2f, 1, 0.0f,  0.0f, 8.0f, 6.0f, 0, 3.6f, -0.8f, 7.7f,  1.9f,
};

static float *rand_buf(size_t n, uint64_t seed)
{
    float *b = malloc(n * sizeof *b);
    dlt_test_fill_uniform(b, n, -1.f, 1.f, seed);
    return b;
}

/* roi_align is linear in x: the central difference is exact up to the f32
 * rounding of the loss. */
START_TEST(roi_align_gradient_matches_finite_differences)
{
    dlt_graph *g = dlt_graph_create(3);
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, (const int64_t[]){2, 2, 7, 9});
    dlt_t r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){6, 5}, small_rois);
    dlt_roi_align_opts o = {.out_h = 2,
                            .out_w = 3,
                            .spatial_scale = 1.f,
                            .sampling_ratio = _i == 0 ? 2 : 0,
                            .aligned = _i};
    dlt_t y = dlt_roi_align(g, x, r, -1, &o);
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    float *xd = rand_buf(numel(g, x), 5);
    const void *data[1] = {xd};
    dlt_gc_feed f = {1, &x, data, 0};
    double an, nu;
    dlt_test_gradcheck(g, y, 1, &x, &f, 0.05, 11 + (uint64_t)_i, &an, &nu);
    printf("roi_align (aligned %d): analytic %.6f numeric %.6f\n", _i, an, nu);
    dlt_test_assert_close("roi_align", an, nu, 1e-4, 1e-5);
    free(xd);
    dlt_graph_free(g);
}
END_TEST

/* The fused four-level form, with levels from roi_level (a 32 x 32 image:
 * k_min 2 .. k_max 5 on maps 8, 4, 2, 1), and the backward op against
 * finite differences of its own input dy (the path a second derivative
 * takes, e.g. a gradient penalty through the pooler). */
START_TEST(fused_levels_and_backward_match_finite_differences)
{
    static const float rois[5 * 5] = {0,  1,  1, 7, 6, 1,  2,     3, 30, 29, 0,  0, 0,
                                      16, 16, 1, 5, 5, 29, 13.5f, 0, -4, 3,  64, 60};
    dlt_graph *g = dlt_graph_create(3);
    dlt_t feats[4];
    for (int l = 0; l < 4; l++) {
        char nm[8];
        snprintf(nm, sizeof nm, "p%d", l + 2);
        feats[l] = dlt_input(g, nm, DLT_F32, 4, (const int64_t[]){2, 3, 8 >> l, 8 >> l});
    }
    dlt_t r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){5, 5}, rois), level;
    dlt_fpn_pool_opts o = dlt_fpn_pool_box(32, 32);
    o.canonical_scale = 16.f; /* spread these small boxes over the levels */
    o.out_size = 3;
    dlt_t y = dlt_fpn_pool(g, 4, feats, r, -1, &o, &level);
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    float *fd[4];
    const void *data[5];
    for (int l = 0; l < 4; l++)
        data[l] = fd[l] = rand_buf(numel(g, feats[l]), 20 + (uint64_t)l);
    dlt_gc_feed f = {4, feats, data, 0};
    int32_t lv[5];
    dlt_test_eval(g, level, &f, (float *)(void *)lv);
    int seen = 0;
    for (int i = 0; i < 5; i++)
        seen |= 1 << lv[i];
    ck_assert_msg(seen == 15, "levels %d %d %d %d %d should cover 0..3", lv[0], lv[1], lv[2], lv[3],
                  lv[4]);
    double an, nu;
    dlt_test_gradcheck(g, y, 4, feats, &f, 0.05, 13, &an, &nu);
    printf("fused roi_align, 4 levels: analytic %.6f numeric %.6f\n", an, nu);
    dlt_test_assert_close("fused roi_align", an, nu, 1e-4, 1e-5);

    /* d sum(y * dy) / d p3 = roi_align_backward(dy), differentiated in dy */
    dlt_t dy = dlt_input(g, "dy", DLT_F32, 4, dlt_shape_of(g, y)->dim), dp3;
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, dy), 0, NULL, 0);
    ck_assert_msg(dlt_grad(g, loss, 1, &feats[1], &dp3) == DLT_OK, "%s", dlt_errmsg());
    float *dyd = rand_buf(numel(g, dy), 31);
    dlt_t ins[5] = {feats[0], feats[1], feats[2], feats[3], dy};
    data[4] = dyd;
    dlt_gc_feed f2 = {5, ins, data, 0};
    dlt_test_gradcheck(g, dp3, 1, &dy, &f2, 0.05, 17, &an, &nu);
    printf("roi_align_backward (level 1) in dy: analytic %.6f numeric %.6f\n", an, nu);
    dlt_test_assert_close("roi_align_backward", an, nu, 1e-4, 1e-5);
    for (int l = 0; l < 4; l++)
        free(fd[l]);
    free(dyd);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- static-shape padding */
/* A roi with batch index -1 (or B) pools to zeros and adds nothing to dx: the
 * padded list gives the same dx as the real rois alone. */
START_TEST(padding_rois_pool_zeros_and_no_gradient)
{
    float padded[5 * 8];
    memcpy(padded, small_rois, sizeof small_rois);
    const float pads[10] = {-1, 1, 1, 5, 5, 2, 0, 0, 4, 4};
    memcpy(padded + 30, pads, sizeof pads);
    float *dx[2], *y[2];
    for (int k = 0; k < 2; k++) {
        int64_t nr = k ? 8 : 6;
        dlt_graph *g = dlt_graph_create(3);
        dlt_t x = dlt_input(g, "x", DLT_F32, 4, (const int64_t[]){2, 2, 7, 9});
        dlt_t r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){nr, 5}, k ? padded : small_rois);
        dlt_roi_align_opts o = {.out_h = 2, .out_w = 2, .spatial_scale = 1.f, .sampling_ratio = 2};
        dlt_t yv = dlt_roi_align(g, x, r, -1, &o), gx;
        dlt_t loss = dlt_sum(g, yv, 0, NULL, 0);
        ck_assert_msg(dlt_grad(g, loss, 1, &x, &gx) == DLT_OK, "%s", dlt_errmsg());
        float *xd = rand_buf(2 * 2 * 7 * 9, 5);
        const void *data[1] = {xd};
        dlt_gc_feed f = {1, &x, data, 0};
        dx[k] = malloc(2 * 2 * 7 * 9 * sizeof(float));
        y[k] = malloc((size_t)nr * 8 * sizeof(float));
        dlt_test_eval(g, gx, &f, dx[k]);
        dlt_test_eval(g, yv, &f, y[k]);
        free(xd);
        dlt_graph_free(g);
    }
    ck_assert(memcmp(dx[0], dx[1], 2 * 2 * 7 * 9 * sizeof(float)) == 0);
    ck_assert(memcmp(y[0], y[1], 6 * 8 * sizeof(float)) == 0);
    for (int i = 6 * 8; i < 8 * 8; i++)
        ck_assert(y[1][i] == 0.f);
    ck_assert(max_abs(dx[0], 2 * 2 * 7 * 9) > 0.1);
    for (int k = 0; k < 2; k++)
        free(dx[k]), free(y[k]);
}
END_TEST

/* u8 maps (Mask R-CNN's 0/1 ground-truth masks): the same bits as the f32
 * map with the same values, fixed and adaptive sampling, aligned or not; no
 * gradient reaches them (the loss still differentiates w.r.t. f32 inputs). */
START_TEST(u8_masks_pool_as_their_f32_values)
{
    enum { B = 2, C = 2, H = 7, W = 9 };
    uint8_t m8[B * C * H * W];
    float m32[B * C * H * W];
    for (int i = 0; i < B * C * H * W; i++)
        m32[i] = m8[i] = (uint8_t)(((i * 7 + i / 5) % 3) == 0);
    for (int v = 0; v < 2; v++) {
        float *y[2];
        for (int k = 0; k < 2; k++) {
            dlt_graph *g = dlt_graph_create(3);
            dlt_t x = k ? dlt_constant(g, DLT_U8, 4, (const int64_t[]){B, C, H, W}, m8)
                        : dlt_constant(g, DLT_F32, 4, (const int64_t[]){B, C, H, W}, m32);
            dlt_t r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){6, 5}, small_rois);
            dlt_roi_align_opts o = {.out_h = 3, .out_w = 4, .spatial_scale = v ? 0.5f : 1.f,
                                    .sampling_ratio = v ? -1 : 2, .aligned = v};
            dlt_t yv = dlt_roi_align(g, x, r, -1, &o);
            ck_assert_msg(yv >= 0, "%s", dlt_errmsg());
            y[k] = malloc(6 * C * 12 * sizeof(float));
            dlt_test_eval(g, yv, NULL, y[k]);
            dlt_graph_free(g);
        }
        ck_assert(memcmp(y[0], y[1], 6 * C * 12 * sizeof(float)) == 0);
        ck_assert(max_abs(y[1], 6 * C * 12) > 0.1);
        free(y[0]), free(y[1]);
    }
    /* a u8 map next to a differentiated f32 input: no gradient node for it */
    dlt_graph *g = dlt_graph_create(3);
    dlt_t m = dlt_constant(g, DLT_U8, 4, (const int64_t[]){B, C, H, W}, m8);
    dlt_t w = dlt_input(g, "w", DLT_F32, 4, (const int64_t[]){6, C, 3, 4}), gw;
    dlt_t r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){6, 5}, small_rois);
    dlt_roi_align_opts o = {.out_h = 3, .out_w = 4, .spatial_scale = 1.f, .sampling_ratio = 2};
    dlt_t loss = dlt_sum(g, dlt_mul(g, dlt_roi_align(g, m, r, -1, &o), w), 0, NULL, 0);
    ck_assert_msg(dlt_grad(g, loss, 1, &w, &gw) == DLT_OK, "%s", dlt_errmsg());
    dlt_graph_free(g);
}
END_TEST

/* The CPU backward splits the channels among threads; every dx element sums
 * its terms in one order whatever the split, so 1, 2 and 3 threads agree in
 * every bit (64 channels and 40 rois: past the kernel's serial threshold). */
START_TEST(backward_is_deterministic_across_thread_counts)
{
    enum { R = 40, C = 64, H = 12, W = 12 };
    float rois[R * 5];
    dlt_test_fill_uniform(rois, R * 5, -2.f, 14.f, 99);
    for (int i = 0; i < R; i++)
        rois[5 * i] = (float)(i % 2);
    float *out[3];
    for (int t = 0; t < 3; t++) {
        dlt_set_num_threads(t + 1);
        dlt_graph *g = dlt_graph_create(3);
        dlt_t x = dlt_input(g, "x", DLT_F32, 4, (const int64_t[]){2, C, H, W});
        dlt_t r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){R, 5}, rois);
        dlt_roi_align_opts o = {.out_h = 3, .out_w = 3, .spatial_scale = 1.f, .aligned = 1};
        dlt_t y = dlt_roi_align(g, x, r, -1, &o);
        dlt_t dy = dlt_input(g, "dy", DLT_F32, 4, dlt_shape_of(g, y)->dim), gx;
        dlt_t loss = dlt_sum(g, dlt_mul(g, y, dy), 0, NULL, 0);
        ck_assert_msg(dlt_grad(g, loss, 1, &x, &gx) == DLT_OK, "%s", dlt_errmsg());
        float *xd = rand_buf(2 * C * H * W, 1), *dyd = rand_buf(R * C * 9, 2);
        dlt_t ins[2] = {x, dy};
        const void *data[2] = {xd, dyd};
        dlt_gc_feed f = {2, ins, data, 0};
        out[t] = malloc(2 * C * H * W * sizeof(float));
        dlt_test_eval(g, gx, &f, out[t]);
        free(xd), free(dyd);
        dlt_graph_free(g);
    }
    dlt_set_num_threads(0);
    ck_assert(memcmp(out[0], out[1], 2 * C * H * W * sizeof(float)) == 0);
    ck_assert(memcmp(out[0], out[2], 2 * C * H * W * sizeof(float)) == 0);
    ck_assert(max_abs(out[0], 2 * C * H * W) > 0.1);
    for (int t = 0; t < 3; t++)
        free(out[t]);
}
END_TEST

/* ---------------------------------------------------------------- errors */
static void expect_error(dlt_graph *g, dlt_t v, const char *want)
{
    const char *msg = dlt_graph_errmsg(g);
    printf("error: %s\n", msg);
    ck_assert_int_lt(v, 0);
    ck_assert_msg(strstr(msg, want) != NULL, "message \"%s\" lacks \"%s\"", msg, want);
    ck_assert_msg(strchr(msg, '\n') == NULL, "message is not one line: %s", msg);
}

START_TEST(bad_shapes_give_one_clear_line)
{
    dlt_roi_align_opts o = {.out_h = 7, .out_w = 7, .spatial_scale = 0.25f, .sampling_ratio = 2};
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, (const int64_t[]){2, 3, 8, 8});
    dlt_t bad = dlt_input(g, "rois", DLT_F32, 2, (const int64_t[]){10, 4});
    expect_error(g, dlt_roi_align(g, x, bad, -1, &o), "rois must be f32 [R, 5]");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 3, (const int64_t[]){3, 8, 8});
    dlt_t rois = dlt_input(g, "rois", DLT_F32, 2, (const int64_t[]){10, 5});
    expect_error(g, dlt_roi_align(g, x, rois, -1, &o), "feature map 0 must be f32 (or u8) [B, C, H, W]");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 4, (const int64_t[]){2, 3, 8, 8});
    dlt_t boxes = dlt_input(g, "boxes", DLT_F32, 2, (const int64_t[]){10, 4});
    dlt_t idx = dlt_input(g, "idx", DLT_I32, 1, (const int64_t[]){9});
    expect_error(g, dlt_roi_align(g, x, boxes, idx, &o), "batch index must be i32 [10]");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    dlt_t f2[2] = {dlt_input(g, "p2", DLT_F32, 4, (const int64_t[]){2, 3, 8, 8}),
                   dlt_input(g, "p3", DLT_F32, 4, (const int64_t[]){2, 4, 4, 4})};
    rois = dlt_input(g, "rois", DLT_F32, 2, (const int64_t[]){10, 5});
    dlt_roi_level_opts lo = {2, 3, 224.f, 4, 1e-6f};
    dlt_t lv = dlt_roi_level(g, rois, &lo);
    expect_error(g,
                 dlt_roi_align_levels(g, 2, f2, (const float[]){0.25f, 0.125f}, rois, -1, lv, &o),
                 "B and C must agree");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    x = dlt_input(g, "x", DLT_F32, 4, (const int64_t[]){2, 3, 8, 8});
    rois = dlt_input(g, "rois", DLT_F32, 2, (const int64_t[]){10, 5});
    o.out_h = 0;
    expect_error(g, dlt_roi_align(g, x, rois, -1, &o), "output size 0 x 7 must be positive");
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("roi");
    TCase *tc = tcase_create("roi");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, roi_align_matches_torchvision, 0,
                        (int)(sizeof align_cases / sizeof align_cases[0]));
    tcase_add_test(tc, fpn_pool_box_matches_torchvision);
    tcase_add_test(tc, fpn_pool_mask_matches_torchvision);
    tcase_add_loop_test(tc, roi_align_gradient_matches_finite_differences, 0, 2);
    tcase_add_test(tc, fused_levels_and_backward_match_finite_differences);
    tcase_add_test(tc, padding_rois_pool_zeros_and_no_gradient);
    tcase_add_test(tc, backward_is_deterministic_across_thread_counts);
    tcase_add_test(tc, u8_masks_pool_as_their_f32_values);
    tcase_add_test(tc, bad_shapes_give_one_clear_line);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
