/* GPU kernels of the roi family (src/gpu/k_roi.cu) against the CPU:
 * roi_align with rois [R, 5] (aligned or not, fixed and adaptive sampling,
 * rois partly and wholly outside, tiny ones, a padding roi with batch index
 * -1) and with boxes [R, 4] plus an i32 batch index (random, including -1 and
 * B: padding), the fused four-level pooler with its roi_level, roi_level
 * alone, u8 maps (masks; forward only), and roi_align_backward as a forward op (its gradient runs through
 * roi_align: second order). The forward is the CPU's arithmetic in the CPU's
 * order (bit for bit: checked with tolerance 0 where no gradient flows); the backward adds with
 * float atomics in no fixed order on a real GPU, so the gradients are compared within 1e-6 of their
 * scale. Last, MultiScaleRoIAlign's fixture (tests/fixtures/roi.h5, as
 * tests/ops/test_roi uses it) on the device: output and level bit for bit,
 * the maps' gradients within 1e-6. Exits 77 without a CUDA device;
 * tests/gpu/emu_roi runs it on the emulated kernels. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_fpn_pool.h"
#include "dlt_gpu.h"
#include "gpu_check.h"

/* Rois on a 10 x 12 map (coordinates at scale 1 / spatial_scale). */
static const float rois5[12 * 5] = {
    0,  2.3f,  3.1f,  14.7f, 12.2f, 1, 0,     0,     23.9f, 19.9f, 1, 5.5f,  4.25f, 9.75f, 8.5f,
    0,  -6.2f, -3.7f, 7.4f,  6.6f,  1, 14.1f, 11.3f, 30.2f, 27.9f, 0, -1.6f, 8,     5,     25.5f,
    1,  40,    2,     52,    9,     0, 7.3f,  6.1f,  7.6f,  6.3f,  1, 11,    9,     11,    9,
    -1, 1,     1,     9,     9,     0, 0.5f,  0.5f,  18,    16,    1, 3,     2,     21,    17,
};

typedef struct {
    int aligned, sampling;
    float scale;
    int ph, pw;
} acase;

static int build_align5(dlt_graph *g, dlt_t *outs, void *user)
{
    const acase *c = user;
    dlt_t x = gc_input(g, "x", 4, (const int64_t[]){2, 3, 10, 12}, -1.f, 1.f);
    dlt_t r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){12, 5}, rois5);
    dlt_roi_align_opts o = {c->ph, c->pw, c->scale, c->sampling, c->aligned};
    outs[0] = dlt_roi_align(g, x, r, -1, &o);
    return 1;
}

/* The forward alone (no gradient flows: stop_gradient), bit for bit. */
static int build_align5_fwd(dlt_graph *g, dlt_t *outs, void *user)
{
    const acase *c = user;
    dlt_t x = gc_input(g, "x", 4, (const int64_t[]){2, 3, 10, 12}, -1.f, 1.f);
    dlt_t r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){12, 5}, rois5);
    dlt_roi_align_opts o = {c->ph, c->pw, c->scale, c->sampling, c->aligned};
    outs[0] = dlt_roi_align(g, dlt_stop_gradient(g, x), r, -1, &o);
    return 1;
}

/* u8 maps (0/1 masks, as Mask R-CNN's ground truth): forward only, bit for bit. */
static int build_align5_u8(dlt_graph *g, dlt_t *outs, void *user)
{
    const acase *c = user;
    uint8_t m[2 * 3 * 10 * 12];
    for (int i = 0; i < (int)sizeof m; i++)
        m[i] = (uint8_t)((i * 5 + i / 7) % 3 == 0);
    dlt_t x = dlt_constant(g, DLT_U8, 4, (const int64_t[]){2, 3, 10, 12}, m);
    dlt_t r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){12, 5}, rois5);
    dlt_roi_align_opts o = {c->ph, c->pw, c->scale, c->sampling, c->aligned};
    outs[0] = dlt_roi_align(g, x, r, -1, &o);
    return 1;
}

/* Random boxes (some inverted, some outside) and batch indices -1..2 of B = 2. */
static int build_align4(dlt_graph *g, dlt_t *outs, void *user)
{
    const acase *c = user;
    dlt_t x = gc_input(g, "x", 4, (const int64_t[]){2, 16, 9, 11}, -1.f, 1.f);
    dlt_t boxes = gc_input(g, "boxes", 2, (const int64_t[]){50, 4}, -3.f, 14.f);
    dlt_t idx = gc_input_int(g, "idx", 1, (const int64_t[]){50}, -1, 2);
    dlt_roi_align_opts o = {c->ph, c->pw, c->scale, c->sampling, c->aligned};
    outs[0] = dlt_roi_align(g, x, boxes, idx, &o);
    return 1;
}

/* P2..P5 of a 64 x 64 image, boxes of 2..90 px spread over the levels. */
static int build_pool(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    dlt_t feats[4];
    for (int l = 0; l < 4; l++) {
        char nm[8];
        snprintf(nm, sizeof nm, "p%d", l + 2);
        feats[l] = gc_input(g, nm, 4, (const int64_t[]){2, 4, 16 >> l, 16 >> l}, -1.f, 1.f);
    }
    float rois[40 * 5];
    for (int i = 0; i < 40; i++) {
        float s = 2.f + 88.f * (float)((i * 37) % 40) / 40.f, x0 = (float)((i * 13) % 50) - 5.f;
        float y0 = (float)((i * 29) % 50) - 5.f;
        float r[5] = {(float)(i % 2), x0, y0, x0 + s, y0 + 0.7f * s};
        memcpy(rois + 5 * i, r, sizeof r);
    }
    dlt_t r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){40, 5}, rois);
    dlt_fpn_pool_opts o = dlt_fpn_pool_box(64, 64);
    o.canonical_scale = 32.f; /* these small boxes reach every level */
    outs[0] = dlt_fpn_pool(g, 4, feats, r, -1, &o, &outs[1]);
    return 2;
}

static int build_level(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    dlt_t boxes = gc_input(g, "boxes", 2, (const int64_t[]){1000, 4}, 0.f, 700.f);
    dlt_roi_level_opts o = {2, 5, 224.f, 4, 1e-6f};
    outs[0] = dlt_roi_level(g, boxes, &o);
    return 1;
}

/* roi_align_backward as the op under test: dx = d sum(y * dy) / dx. */
static int build_backward(dlt_graph *g, dlt_t *outs, void *user)
{
    const acase *c = user;
    dlt_t x = gc_input(g, "x", 4, (const int64_t[]){2, 3, 10, 12}, -1.f, 1.f);
    dlt_t r = dlt_constant(g, DLT_F32, 2, (const int64_t[]){12, 5}, rois5);
    dlt_roi_align_opts o = {c->ph, c->pw, c->scale, c->sampling, c->aligned};
    dlt_t y = dlt_roi_align(g, x, r, -1, &o);
    dlt_t dy = gc_input(g, "dy", 4, dlt_shape_of(g, y)->dim, -1.f, 1.f);
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, dy), 0, NULL, 0);
    if (dlt_grad(g, loss, 1, &x, &outs[0]) != DLT_OK)
        return 0;
    return 1;
}

/* Fixture reading without Check (this is not a Check test): 1 on success. */
static hid_t open_fixture(const char *name)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", top ? top : DLT_TEST_SRCDIR, name);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        printf("cannot open fixture %s\n", path);
    return f;
}

static int h5_read(hid_t loc, const char *name, hid_t type, void *out, size_t n)
{
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return 0;
    hid_t sp = H5Dget_space(ds);
    int ok = (size_t)H5Sget_simple_extent_npoints(sp) == n &&
             H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
    H5Sclose(sp);
    H5Dclose(ds);
    if (!ok)
        printf("fixture dataset %s: missing or not %zu elements\n", name, n);
    return ok;
}

static double rel_err(const float *a, const float *ref, size_t n)
{
    double s = 0, e = 0;
    for (size_t i = 0; i < n; i++)
        s = fmax(s, fabs((double)ref[i]));
    for (size_t i = 0; i < n; i++)
        e = fmax(e, fabs((double)a[i] - (double)ref[i]));
    return e / (s > 0 ? s : 1);
}

/* The pooler against torchvision on the device (16 rois, maps 128..16 of
 * 512 x 512 images, 2 channels). */
static int pool_vs_torchvision(const char *name, int size)
{
    dlt_gpu *gpu = gc_gpu();
    if (!gpu) {
        printf("FAIL %s pooler vs MultiScaleRoIAlign: no device\n", name);
        return 0;
    }
    hid_t f = open_fixture("roi.h5");
    if (f < 0)
        return 0;
    hid_t pool = H5Gopen2(f, "pool", H5P_DEFAULT), grp = H5Gopen2(pool, name, H5P_DEFAULT);
    dlt_graph *g = dlt_graph_create(1);
    dlt_plan *p = NULL;
    int ok = dlt_graph_set_backend(g, dlt_gpu_backend(gpu)) == DLT_OK;
    dlt_t feats[4], df[4], level = -1;
    char nm[8];
    for (int l = 0; l < 4; l++) {
        snprintf(nm, sizeof nm, "f%d", l);
        feats[l] = dlt_input(g, nm, DLT_F32, 4, (const int64_t[]){2, 2, 128 >> l, 128 >> l});
    }
    dlt_t rois = dlt_input(g, "rois", DLT_F32, 2, (const int64_t[]){16, 5});
    dlt_fpn_pool_opts o = size == 7 ? dlt_fpn_pool_box(512, 512) : dlt_fpn_pool_mask(512, 512);
    dlt_t y = dlt_fpn_pool(g, 4, feats, rois, -1, &o, &level);
    ok = ok && y >= 0;
    dlt_t dy = ok ? dlt_input(g, "dy", DLT_F32, 4, dlt_shape_of(g, y)->dim) : -1;
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, dy), 0, NULL, 0);
    ok = ok && dlt_grad(g, loss, 4, feats, df) == DLT_OK;
    dlt_t outs[6] = {y, level, df[0], df[1], df[2], df[3]};
    ok = ok && dlt_plan_create(g, 6, outs, NULL, &p) == DLT_OK;
    double ey = INFINITY, edf = INFINITY;
    int same_levels = 0;
    if (ok) {
        for (int l = 0; l < 4; l++) {
            snprintf(nm, sizeof nm, "f%d", l);
            ok &= h5_read(pool, nm, H5T_NATIVE_FLOAT, dlt_plan_data(p, feats[l]),
                          (size_t)dlt_shape_numel(dlt_shape_of(g, feats[l])));
        }
        ok &= h5_read(pool, "rois", H5T_NATIVE_FLOAT, dlt_plan_data(p, rois), 16 * 5);
        ok &= h5_read(grp, "dy", H5T_NATIVE_FLOAT, dlt_plan_data(p, dy),
                      (size_t)dlt_shape_numel(dlt_shape_of(g, dy)));
        ok = ok && dlt_plan_run(p, NULL) == DLT_OK;
    }
    if (ok) {
        size_t ny = (size_t)dlt_shape_numel(dlt_shape_of(g, y));
        float *ref = malloc(128 * 128 * 4 * sizeof *ref);
        int64_t lv[16] = {0};
        ok &= h5_read(pool, "level", H5T_NATIVE_INT64, lv, 16);
        const int32_t *ours = dlt_plan_data(p, level);
        same_levels = 1;
        for (int r = 0; r < 16; r++)
            same_levels &= ours[r] == lv[r];
        ok &= h5_read(grp, "y", H5T_NATIVE_FLOAT, ref, ny);
        ey = rel_err(dlt_plan_data(p, y), ref, ny);
        edf = 0;
        for (int l = 0; l < 4; l++) {
            size_t n = (size_t)dlt_shape_numel(dlt_shape_of(g, df[l]));
            snprintf(nm, sizeof nm, "df%d", l);
            ok &= h5_read(grp, nm, H5T_NATIVE_FLOAT, ref, n);
            edf = fmax(edf, rel_err(dlt_plan_data(p, df[l]), ref, n));
        }
        free(ref);
    }
    int pass = ok && same_levels && ey == 0 && edf <= 1e-6;
    printf("%s fpn_pool %s (%dx%d) vs MultiScaleRoIAlign on the device: levels %s, y err %.2e, "
           "df err %.2e%s\n",
           pass ? "ok  " : "FAIL", name, size, size, same_levels ? "equal" : "DIFFER", ey, edf,
           ok ? "" : dlt_errmsg());
    dlt_plan_free(p);
    dlt_graph_free(g);
    H5Gclose(grp);
    H5Gclose(pool);
    H5Fclose(f);
    return pass;
}

int main(void)
{
    if (!gc_init())
        return 77;
    static const acase cases[] = {
        {0, 2, 0.5f, 3, 4},   {1, 2, 0.5f, 3, 4}, {0, 0, 0.75f, 2, 3},
        {1, -1, 0.75f, 2, 3}, {0, 2, 1.f, 7, 7},
    };
    char name[160];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const acase *c = &cases[i];
        snprintf(name, sizeof name, "roi_align rois [12,5] aligned %d sampling %d scale %g %dx%d",
                 c->aligned, c->sampling, (double)c->scale, c->ph, c->pw);
        gc_check(name, build_align5, (void *)c, 1e-6);
        snprintf(name, sizeof name, "roi_align forward only, aligned %d sampling %d, bit for bit",
                 c->aligned, c->sampling);
        gc_check(name, build_align5_fwd, (void *)c, 0);
        snprintf(name, sizeof name, "roi_align of u8 masks, aligned %d sampling %d, bit for bit",
                 c->aligned, c->sampling);
        gc_check(name, build_align5_u8, (void *)c, 0);
        snprintf(name, sizeof name,
                 "roi_align boxes [50,4] + idx, x [2,16,9,11], aligned %d sampling %d %dx%d",
                 c->aligned, c->sampling, c->ph, c->pw);
        gc_check(name, build_align4, (void *)c, 1e-6);
    }
    gc_check("fpn_pool: roi_level + fused roi_align on P2..P5, 40 rois", build_pool, NULL, 1e-6);
    gc_check("roi_level of 1000 boxes (k 2..5, 224)", build_level, NULL, 0);
    gc_check("roi_align_backward as a forward op (its gradient: roi_align)", build_backward,
             (void *)&cases[1], 1e-6);
    int ok = pool_vs_torchvision("box", 7);
    ok &= pool_vs_torchvision("mask", 14);
    return gc_finish() || !ok;
}
