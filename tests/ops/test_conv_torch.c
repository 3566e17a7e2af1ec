/* The conv family against PyTorch golden values (tests/fixtures/conv_golden.h5,
 * made by tests/fixtures/conv_make_fixtures.py): outputs and the gradients of
 * sum(y * r) for conv2d (groups, dilation, depthwise, 1x1), conv_transpose2d,
 * max and average pooling and both upsamplings. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

enum { K_CONV, K_CONVT, K_MAX, K_AVG, K_NEAREST, K_BILINEAR };
static const struct {
    const char *name;
    int kind;
} cases[] = {
    {"conv_groups", K_CONV},        {"conv_dilated", K_CONV},
    {"conv_depthwise", K_CONV},     {"conv_pointwise", K_CONV},
    {"convt_stride2", K_CONVT},     {"convt_groups_dilated", K_CONVT},
    {"maxpool_3s2p1", K_MAX},       {"maxpool_dilated", K_MAX},
    {"avgpool_3s2p1", K_AVG},       {"avgpool_exclude_pad", K_AVG},
    {"nearest_2x3", K_NEAREST},     {"bilinear_2x3", K_BILINEAR},
    {"bilinear_4x1", K_BILINEAR},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static int has(hid_t grp, const char *name) { return H5Lexists(grp, name, H5P_DEFAULT) > 0; }

/* A whole f32 dataset; dims (up to 8) and rank through the out-pointers. */
static float *read_f32(hid_t grp, const char *name, int64_t *dims, int *ndim)
{
    hid_t ds = H5Dopen2(grp, name, H5P_DEFAULT);
    ck_assert_msg(ds >= 0, "no dataset %s", name);
    hid_t sp = H5Dget_space(ds);
    hsize_t d[8];
    int nd = H5Sget_simple_extent_ndims(sp);
    ck_assert_int_le(nd, 8);
    H5Sget_simple_extent_dims(sp, d, NULL);
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        n *= d[i];
        if (dims)
            dims[i] = (int64_t)d[i];
    }
    if (ndim)
        *ndim = nd;
    float *buf = malloc(n * sizeof *buf);
    ck_assert_int_ge(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Sclose(sp);
    H5Dclose(ds);
    return buf;
}

static void read_params(hid_t grp, int *p, int n)
{
    hid_t a = H5Aopen(grp, "params", H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    hid_t sp = H5Aget_space(a);
    ck_assert_int_eq(H5Sget_simple_extent_npoints(sp), n);
    ck_assert_int_ge(H5Aread(a, H5T_NATIVE_INT, p), 0);
    H5Sclose(sp);
    H5Aclose(a);
}

static dlt_t build_op(dlt_graph *g, int kind, const int *p, const dlt_t *in, int nin)
{
    dlt_conv2d_opts co = {{p[0], p[1]}, {p[2], p[3]}, {p[4], p[5]}, p[6], {p[7], p[8]}};
    dlt_pool2d_opts po = {{p[0], p[1]}, {p[2], p[3]}, {p[4], p[5]}, {p[6], p[7]}, p[8]};
    dlt_t b = nin == 3 ? in[2] : -1;
    switch (kind) {
    case K_CONV:
        return dlt_conv2d(g, in[0], in[1], b, &co);
    case K_CONVT:
        return dlt_conv_transpose2d(g, in[0], in[1], b, &co);
    case K_MAX:
        return dlt_maxpool2d(g, in[0], &po);
    case K_AVG:
        return dlt_avgpool2d(g, in[0], &po);
    case K_NEAREST:
        return dlt_upsample_nearest2d(g, in[0], p[0], p[1]);
    default:
        return dlt_upsample_bilinear2d(g, in[0], p[0], p[1]);
    }
}

/* The goldens are float64 results rounded once to f32; ours sum in f32 (dot
 * products of <= 72 terms of magnitude <= 1, <= 1e-6 absolute), so 1e-5
 * relative with an absolute floor of 1 (values are O(1)) holds with margin. */
#define TOL 1e-5

START_TEST(matches_pytorch)
{
    static const char *names[3] = {"x", "w", "b"};
    hid_t f = dlt_test_fixture_open("conv_golden.h5");
    hid_t grp = H5Gopen2(f, cases[_i].name, H5P_DEFAULT);
    ck_assert_msg(grp >= 0, "no group %s", cases[_i].name);
    int kind = cases[_i].kind, params[9] = {0};
    read_params(grp, params, kind >= K_NEAREST ? 2 : 9);

    dlt_graph *g = dlt_graph_create(1);
    dlt_t in[3];
    float *data[3] = {NULL, NULL, NULL};
    int nin = 0;
    for (int i = 0; i < 3 && has(grp, names[i]); i++, nin++) {
        int64_t d[8];
        int nd;
        data[i] = read_f32(grp, names[i], d, &nd);
        in[i] = dlt_input(g, names[i], DLT_F32, nd, d);
    }
    dlt_t y = build_op(g, kind, params, in, nin);
    ck_assert_msg(y >= 0, "%s: %s", cases[_i].name, dlt_graph_errmsg(g));
    int64_t rd[8];
    int rn;
    float *r = read_f32(grp, "r", rd, &rn);
    const dlt_shape *ys = dlt_shape_of(g, y);
    ck_assert_int_eq(ys->ndim, rn);
    for (int i = 0; i < rn; i++)
        ck_assert_int_eq(ys->dim[i], rd[i]);
    dlt_t rc = dlt_constant(g, DLT_F32, rn, rd, r);
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, rc), 0, NULL, 0);
    dlt_t outs[4] = {y};
    ck_assert_int_eq(dlt_grad(g, loss, nin, in, outs + 1), DLT_OK);
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 1 + nin, outs, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    for (int i = 0; i < nin; i++)
        memcpy(dlt_plan_data(p, in[i]), data[i], dlt_shape_bytes(dlt_shape_of(g, in[i])));
    ck_assert_msg(dlt_plan_run(p, NULL) == DLT_OK, "%s", dlt_errmsg());

    for (int k = 0; k <= nin; k++) {
        char dname[8];
        snprintf(dname, sizeof dname, k ? "d%s" : "y", k ? names[k - 1] : "");
        float *want = read_f32(grp, dname, NULL, NULL);
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(g, outs[k]));
        double err = dlt_test_max_relerr(dlt_plan_data(p, outs[k]), want, n, 1.0);
        ck_assert_msg(err <= TOL, "%s %s: relative error %g", cases[_i].name, dname, err);
        free(want);
    }
    dlt_plan_free(p);
    for (int i = 0; i < 3; i++)
        free(data[i]);
    free(r);
    dlt_graph_free(g);
    H5Gclose(grp);
    H5Fclose(f);
}
END_TEST

static Suite *torch_suite(void)
{
    Suite *s = suite_create("conv_torch");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, matches_pytorch, 0, NCASES);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dlt_test_run(torch_suite()); }
