/* Mask R-CNN's networks (src/models/maskrcnn.c) against torchvision
 * (tests/fixtures/maskrcnn_golden.h5, made by maskrcnn_make_fixtures.py,
 * which documents the layout): every state_dict name and shape of
 * maskrcnn_resnet50_fpn for 91 classes, which of them train, and the
 * parameter counts, with frozen batch norm and 3 trainable stages and from
 * scratch; then a small model's pyramid, RPN, box and mask head outputs and
 * gradients against PyTorch in float64 with the same weights. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_maskrcnn.h"
#include "dlt_ops.h"
#include "dlt_test.h"

static char *read_text(hid_t grp, const char *name)
{
    hid_t ds = H5Dopen2(grp, name, H5P_DEFAULT);
    ck_assert_msg(ds >= 0, "no dataset %s", name);
    hid_t sp = H5Dget_space(ds);
    size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp), H5Dclose(ds);
    char *t = calloc(n + 1, 1);
    dlt_test_h5_read(grp, name, H5T_NATIVE_UCHAR, t, n);
    return t;
}

/* Elements of the graph's values of one kind, and how many values. */
static int64_t count_kind(const dlt_graph *g, dlt_value_kind kind, int *nvalues)
{
    int64_t n = 0;
    *nvalues = 0;
    for (dlt_t v = 0; v < dlt_graph_num_values(g); v++)
        if (dlt_kind_of(g, v) == kind) {
            n += dlt_shape_numel(dlt_shape_of(g, v));
            ++*nvalues;
        }
    return n;
}

/* The whole network on one image and one RoI: backbone, RPN head on the five
 * levels, box head and mask head. */
static void build(dlt_graph *g, const dlt_maskrcnn_spec *s, int batch, int hw, int rois, dlt_t *x, dlt_t *pb,
                  dlt_t *pm, dlt_t out[18])
{
    int64_t xs[4] = {batch, 3, hw, hw}, bs[4] = {rois, s->fpn_channels, s->box_pool, s->box_pool},
            ms[4] = {rois, s->fpn_channels, 14, 14};
    *x = dlt_input(g, "x", DLT_F32, 4, xs);
    *pb = dlt_input(g, "pb", DLT_F32, 4, bs);
    *pm = dlt_input(g, "pm", DLT_F32, 4, ms);
    ck_assert_msg(dlt_maskrcnn_backbone(g, s, *x, out) >= 0, "%s", dlt_graph_errmsg(g));
    ck_assert_msg(dlt_maskrcnn_rpn_head(g, s, out, 5, out + 5, out + 10) >= 0, "%s", dlt_graph_errmsg(g));
    out[15] = dlt_maskrcnn_box_head(g, s, *pb, &out[16]);
    out[17] = dlt_maskrcnn_mask_head(g, s, *pm);
    ck_assert_msg(out[15] >= 0 && out[16] >= 0 && out[17] >= 0, "%s", dlt_graph_errmsg(g));
}

/* Every torchvision name is in the graph with its shape, as a trainable
 * parameter exactly when PyTorch trains it, and nothing else is. */
static void check_layout(const dlt_maskrcnn_spec *s, hid_t grp, const char *prefix)
{
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x, pb, pm, out[18];
    build(g, s, 1, 64, 1, &x, &pb, &pm, out);
    char path[64];
    snprintf(path, sizeof path, "%snames", prefix);
    char *names = read_text(grp, path);
    int n = 0;
    for (char *p = names; (p = strchr(p, '\n')); p++)
        n++;
    int64_t *shapes = malloc((size_t)n * 4 * sizeof *shapes);
    unsigned char *trainable = malloc((size_t)n);
    snprintf(path, sizeof path, "%sshapes", prefix);
    dlt_test_h5_read(grp, path, H5T_NATIVE_INT64, shapes, (size_t)n * 4);
    snprintf(path, sizeof path, "%strainable", prefix);
    dlt_test_h5_read(grp, path, H5T_NATIVE_UCHAR, trainable, (size_t)n);
    int row = 0;
    for (char *p = names, *nl; (nl = strchr(p, '\n')); p = nl + 1, row++) {
        *nl = '\0';
        dlt_t v = dlt_param_lookup(g, p);
        ck_assert_msg(v >= 0, "torchvision's %s is not in the graph: %s", p, dlt_errmsg());
        const dlt_shape *vs = dlt_shape_of(g, v);
        for (int d = 0; d < 4; d++)
            ck_assert_msg(shapes[row * 4 + d] == (d < vs->ndim ? vs->dim[d] : 0), "%s: dim %d is %lld, torch %lld",
                          p, d, (long long)(d < vs->ndim ? vs->dim[d] : 0), (long long)shapes[row * 4 + d]);
        ck_assert_msg((dlt_kind_of(g, v) == DLT_VAL_PARAM) == trainable[row], "%s: trainable %d, torch %d", p,
                      dlt_kind_of(g, v) == DLT_VAL_PARAM, trainable[row]);
    }
    int np, nb;
    char a1[64], a2[64], a3[64];
    snprintf(a1, sizeof a1, "%sntrainable", prefix);
    snprintf(a2, sizeof a2, "%snparams", prefix);
    snprintf(a3, sizeof a3, "%snbuffers", prefix);
    int64_t ours_p = count_kind(g, DLT_VAL_PARAM, &np), ours_b = count_kind(g, DLT_VAL_BUFFER, &nb);
    int64_t t_train = dlt_test_h5_attr_int(grp, a1), t_all = dlt_test_h5_attr_int(grp, a2),
            t_buf = dlt_test_h5_attr_int(grp, a3);
    ck_assert_int_eq(np + nb, n); /* nothing that torchvision lacks */
    ck_assert_msg(ours_p == t_train, "%lld trainable, torchvision %lld", (long long)ours_p, (long long)t_train);
    ck_assert_msg(ours_p + ours_b == t_all + t_buf, "%lld in all, torchvision %lld", (long long)(ours_p + ours_b),
                  (long long)(t_all + t_buf));
    printf("maskrcnn_resnet50_fpn (%s): %d tensors, %lld parameters (torchvision's count), %lld trainable\n",
           *prefix ? "from scratch" : "frozen BN, 3 trainable stages", n, (long long)t_all, (long long)ours_p);
    free(names), free(shapes), free(trainable);
    dlt_graph_free(g);
}

START_TEST(torchvision_layout)
{
    hid_t f = dlt_test_fixture_open("maskrcnn_golden.h5"), grp = H5Gopen2(f, "full", H5P_DEFAULT);
    dlt_maskrcnn_spec s;
    dlt_maskrcnn_spec_default(&s);
    check_layout(&s, grp, "");
    s.norm = 'b', s.trainable_layers = 5; /* torchvision without pretrained weights */
    check_layout(&s, grp, "scratch_");
    H5Gclose(grp), H5Fclose(f);
}
END_TEST

static const char *const out_names[18] = {"p0",      "p1",      "p2",      "p3",      "p4",  "obj0",
                                          "obj1",    "obj2",    "obj3",    "obj4",    "deltas0", "deltas1",
                                          "deltas2", "deltas3", "deltas4", "cls",     "box", "mask"};

static double scaled_err(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(b[i]));
    return dlt_test_max_relerr(a, b, n, m > 0 ? m : 1);
}

/* f32 sums in another order than PyTorch's float64 (convolutions of up to
 * 4608 terms through 18 layers, frozen batch norm) land within ~1e-6 of a
 * tensor's scale; 1e-4 leaves margin while a wrong layer, name, init rule or
 * level order is off by O(1). Parameter gradients are compared on their RMS
 * (sampled elements may all be small). */
#define TOL 1e-4

START_TEST(small_vs_pytorch)
{
    hid_t f = dlt_test_fixture_open("maskrcnn_golden.h5"), grp = H5Gopen2(f, "small", H5P_DEFAULT);
    dlt_maskrcnn_spec s;
    dlt_maskrcnn_spec_default(&s);
    s.depth = 18, s.num_classes = 5, s.fpn_channels = 32, s.representation = 64, s.mask_channels = 32;
    dlt_graph *g = dlt_graph_create(1);
    dlt_t x, pb, pm, out[18], r[18];
    build(g, &s, 2, 64, 3, &x, &pb, &pm, out);
    dlt_t loss = -1;
    for (int k = 0; k < 18; k++) {
        const dlt_shape *os = dlt_shape_of(g, out[k]);
        char name[32];
        snprintf(name, sizeof name, "r_%s", out_names[k]);
        r[k] = dlt_input(g, name, DLT_F32, os->ndim, os->dim);
        dlt_t term = dlt_sum(g, dlt_mul(g, out[k], r[k]), 0, NULL, 0);
        loss = k ? dlt_add(g, loss, term) : term;
    }
    int np;
    dlt_t *params, *grads, wrt[3] = {x, pb, pm}, gin[3];
    ck_assert_msg(dlt_grad_params(g, loss, &np, &params, &grads) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_msg(dlt_grad(g, loss, 3, wrt, gin) == DLT_OK, "%s", dlt_errmsg());
    dlt_t outs[22];
    memcpy(outs, out, sizeof out);
    outs[18] = loss, outs[19] = gin[0], outs[20] = gin[1], outs[21] = gin[2];
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 22, outs, &po, &p) == DLT_OK, "%s", dlt_errmsg());

    /* weights and frozen buffers from the hash by name, inputs by "small/<name>" */
    int64_t ntrain = 0;
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        dlt_test_hash_param(pi->name, &pi->shape, dlt_param_data(g, pi->value));
        ntrain += (int64_t)pi->numel;
    }
    for (int i = 0; i < dlt_num_buffers(g); i++) {
        const dlt_param_info *bi = dlt_buffer_at(g, i);
        dlt_test_hash_param(bi->name, &bi->shape, dlt_param_data(g, bi->value));
    }
    ck_assert_int_eq(ntrain, dlt_test_h5_attr_int(grp, "ntrainable"));
    const char *in_names[3] = {"x", "pb", "pm"};
    for (int k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "small/%s", in_names[k]);
        dlt_test_hash_uniform(name, dlt_plan_data(p, wrt[k]), (size_t)dlt_shape_numel(dlt_shape_of(g, wrt[k])));
    }
    for (int k = 0; k < 18; k++) {
        char name[32];
        snprintf(name, sizeof name, "small/r_%s", out_names[k]);
        dlt_test_hash_uniform(name, dlt_plan_data(p, r[k]), (size_t)dlt_shape_numel(dlt_shape_of(g, r[k])));
    }
    dlt_exec_opts eo = {.training = 1};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());

    double e_out = 0, e_in = 0, e_grad = 0;
    for (int k = 0; k < 21; k++) {
        if (k == 18)
            continue;
        char name[32];
        if (k < 18)
            snprintf(name, sizeof name, "%s", out_names[k]);
        else
            snprintf(name, sizeof name, "grad_%s", in_names[k - 19]);
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(g, outs[k]));
        float *ref = malloc(n * sizeof *ref);
        dlt_test_h5_read(grp, name, H5T_NATIVE_FLOAT, ref, n);
        double e = scaled_err(dlt_plan_data(p, outs[k]), ref, n);
        ck_assert_msg(e < TOL, "%s: error %.3g", name, e);
        if (k < 18)
            e_out = fmax(e_out, e);
        else
            e_in = fmax(e_in, e);
        free(ref);
    }
    double loss_ref;
    hid_t a = H5Aopen(grp, "loss", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_DOUBLE, &loss_ref);
    H5Aclose(a);
    dlt_test_assert_close("loss", *(float *)dlt_plan_data(p, loss), loss_ref, 1e-4, 1e-4);

    char *names = read_text(grp, "grad_names");
    int rows = 0;
    for (char *q = names; (q = strchr(q, '\n')); q++)
        rows++;
    ck_assert_int_eq(rows, dlt_num_params(g));
    float *want = malloc((size_t)rows * 64 * sizeof *want);
    double *sumsq = malloc((size_t)rows * sizeof *sumsq);
    dlt_test_h5_read(grp, "grad_samples", H5T_NATIVE_FLOAT, want, (size_t)rows * 64);
    dlt_test_h5_read(grp, "grad_sumsq", H5T_NATIVE_DOUBLE, sumsq, (size_t)rows);
    int row = 0;
    for (char *q = names, *nl; (nl = strchr(q, '\n')); q = nl + 1, row++) {
        *nl = '\0';
        dlt_t v = dlt_param_lookup(g, q);
        ck_assert_msg(v >= 0 && dlt_kind_of(g, v) == DLT_VAL_PARAM, "%s is not a trainable parameter", q);
        const float *d = dlt_param_grad(g, v);
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(g, v));
        double s2 = 0;
        for (size_t i = 0; i < n; i++)
            s2 += (double)d[i] * d[i];
        ck_assert_msg(fabs(s2 - sumsq[row]) <= TOL * sumsq[row], "%s: sum of squared gradients %.9g, torch %.9g", q,
                      s2, sumsq[row]);
        double rms = sqrt(sumsq[row] / (double)n), e = 0;
        for (int k = 0; k < 64; k++)
            e = fmax(e, fabs(d[(size_t)k * n / 64] - want[row * 64 + k]) / (rms > 0 ? rms : 1));
        ck_assert_msg(e < TOL, "%s: gradient error %.3g of its RMS", q, e);
        e_grad = fmax(e_grad, e);
    }
    printf("small Mask R-CNN (ResNet-18-FPN): max error outputs %.2g, input gradients %.2g, parameter "
           "gradients %.2g (%d tensors)\n",
           e_out, e_in, e_grad, rows);
    free(names), free(want), free(sumsq);
    free(params), free(grads);
    dlt_plan_free(p);
    dlt_graph_free(g);
    H5Gclose(grp), H5Fclose(f);
}
END_TEST

/* An image whose sides are not multiples of 32 cannot form the pyramid: one
 * error naming the levels. */
START_TEST(bad_image_size)
{
    dlt_maskrcnn_spec s;
    dlt_maskrcnn_spec_default(&s);
    s.depth = 18, s.fpn_channels = 8;
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {1, 3, 80, 64};
    dlt_t p[5];
    ck_assert_int_lt(dlt_maskrcnn_backbone(g, &s, dlt_input(g, "x", DLT_F32, 4, xs), p), 0);
    ck_assert_msg(strstr(dlt_graph_errmsg(g), "multiples of 32") != NULL, "%s", dlt_graph_errmsg(g));
    dlt_graph_free(g);
    g = dlt_graph_create(1);
    s.trainable_layers = 6;
    int64_t ok[4] = {1, 3, 64, 64};
    ck_assert_int_lt(dlt_maskrcnn_backbone(g, &s, dlt_input(g, "x", DLT_F32, 4, ok), p), 0);
    ck_assert_msg(strstr(dlt_graph_errmsg(g), "0..5") != NULL, "%s", dlt_graph_errmsg(g));
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("maskrcnn");
    TCase *tc = tcase_create("networks");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, torchvision_layout);
    tcase_add_test(tc, small_vs_pytorch);
    tcase_add_test(tc, bad_image_size);
    suite_add_tcase(su, tc);
    return dlt_test_run(su);
}
