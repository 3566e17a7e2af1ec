/* fid_check CKPT SHARD PRED MEAN STD CLASSES: the FID feature extractor
 * (src/train/fid_features.c) on a ResNet-20 checkpoint that
 * test_fid_features.sh trained for a few steps on synthetic 28x28x1 shards.
 *  - dlt_fid_net_features equals, bit for bit, the pooled activations of the
 *    checkpoint's classifier built here on its own (fid_ref.c: dlt_model_classifier,
 *    the value of shape [batch, 64] it computes), fed with inputs normalised
 *    here ((v + 1) / 2 clamped, minus MEAN, over STD), over 100 images (a
 *    partial last batch) with values beyond [-1, 1];
 *  - those features through the checkpoint's fc layer give that graph's logits;
 *  - dlt_fid_net_features_u8 of the shard's images through the fc layer give
 *    the logits `dltrain predict` wrote to PRED (the task's own loader and
 *    normalisation);
 *  - FID(features of a set, features of the same set) is 0;
 *  - a missing checkpoint is an error naming it. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_fid.h"
#include "dlt_test.h"
#include "fid_ref.h"

#define B 16
#define N 100
#define HW (28 * 28)

static const char *ckpt, *shard, *pred;
static float mean, stdv;
static int classes;

typedef fid_ref_net ref_net;

static void ref_open(ref_net *r)
{
    ck_assert_int_eq(fid_ref_open(r, ckpt, classes, B), 0);
}

static void ref_close(ref_net *r)
{
    fid_ref_close(r);
}

/* logits [n, classes] = f [n, 64] W^T + b with the fc layer of r, in double */
static void fc(ref_net *r, const float *f, int n, double *out)
{
    const float *w = dlt_param_data(r->g, dlt_param_lookup(r->g, "fc.weight"));
    const float *b = dlt_param_data(r->g, dlt_param_lookup(r->g, "fc.bias"));
    for (int i = 0; i < n; i++)
        for (int k = 0; k < classes; k++) {
            double s = b[k];
            for (int j = 0; j < 64; j++)
                s += (double)f[i * 64 + j] * w[k * 64 + j];
            out[i * classes + k] = s;
        }
}

static void check_close(const char *what, const double *a, const float *ref, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - ref[i]) / fmax(1.0, fabs(ref[i])));
    printf("%s: max error %.3g over %zu values\n", what, worst, n);
    ck_assert_msg(worst < 1e-4, "%s: max relative error %g", what, worst);
}

START_TEST(pooled_features)
{
    dlt_fid_net *net = NULL;
    dlt_fid_net_opts o = {.batch = B, .threads = 1};
    ck_assert_msg(dlt_fid_net_open(ckpt, &o, &net) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_int_eq(dlt_fid_net_dim(net), 64);
    ck_assert_str_eq(dlt_fid_net_arch(net), "resnet20");
    float *x = malloc(N * HW * sizeof *x), *feat = malloc(N * 64 * sizeof *feat);
    dlt_test_fill_uniform(x, N * HW, -1.2f, 1.2f, 42);
    ck_assert_int_eq(dlt_fid_net_features(net, x, N, -1.f, 1.f, feat), DLT_OK);

    ref_net r;
    ref_open(&r);
    float *own = malloc(N * 64 * sizeof *own), *logits = malloc(N * classes * sizeof *logits);
    for (int i0 = 0; i0 < N; i0 += B) {
        int rows = N - i0 < B ? N - i0 : B;
        float *in = dlt_plan_data(r.p, r.x);
        memset(in, 0, B * HW * sizeof *in);
        for (int i = 0; i < rows * HW; i++) {
            float p = (x[(size_t)i0 * HW + i] + 1.f) / 2.f;
            p = p < 0.f ? 0.f : p > 1.f ? 1.f : p;
            in[i] = (p - mean) / stdv;
        }
        dlt_exec_opts eo = {.training = 0};
        ck_assert_int_eq(dlt_plan_run(r.p, &eo), DLT_OK);
        memcpy(own + i0 * 64, dlt_plan_data(r.p, r.pooled), (size_t)rows * 64 * sizeof *own);
        memcpy(logits + i0 * classes, dlt_plan_data(r.p, r.logits),
               (size_t)rows * classes * sizeof *logits);
    }
    ck_assert_mem_eq(feat, own, N * 64 * sizeof *feat);
    double nz = 0;
    for (int i = 0; i < N * 64; i++)
        nz += feat[i] != 0.f;
    printf("features: %d x 64, %.0f nonzero, feat[0][0..3] = %g %g %g %g\n", N, nz, feat[0],
           feat[1], feat[2], feat[3]);
    ck_assert_double_gt(nz, N * 64 / 4); /* ReLU features, not all zero */
    double *l = malloc(N * classes * sizeof *l);
    fc(&r, feat, N, l);
    check_close("fc(features) vs the classifier's logits", l, logits, (size_t)N * classes);

    /* FID of a set against itself */
    double *mu = malloc(64 * sizeof *mu), *s = malloc(64 * 64 * sizeof *s), fid = NAN, tr = 0;
    ck_assert_int_eq(dlt_fid_stats(feat, N, 64, mu, s), DLT_OK);
    for (int k = 0; k < 64; k++)
        tr += s[k * 64 + k];
    ck_assert_int_eq(dlt_fid_distance(mu, s, mu, s, 64, &fid), DLT_OK);
    printf("FID(set, same set) = %.3g (tr sigma %.6g)\n", fid, tr);
    ck_assert_double_le(fabs(fid), 1e-9 * fmax(1.0, tr));

    free(l), free(mu), free(s), free(own), free(logits), free(x), free(feat);
    ref_close(&r);
    dlt_fid_net_free(net);
}
END_TEST

/* n rows of dataset `name` of file `path` (n from its first dimension) */
static void *read_all(const char *path, const char *name, hid_t type, size_t elem, hsize_t *n,
                      size_t *row)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "cannot open %s", path);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = H5Dget_space(d);
    hsize_t dims[8];
    int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
    *n = dims[0];
    *row = 1;
    for (int i = 1; i < nd; i++)
        *row *= (size_t)dims[i];
    void *buf = malloc((size_t)dims[0] * *row * elem);
    ck_assert_int_ge(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return buf;
}

START_TEST(shard_images_u8)
{
    hsize_t n, np;
    size_t row, prow;
    uint8_t *img = read_all(shard, "images", H5T_NATIVE_UINT8, 1, &n, &row);
    float *pl = read_all(pred, "logits", H5T_NATIVE_FLOAT, sizeof(float), &np, &prow);
    ck_assert_uint_eq(row, HW);
    ck_assert_uint_eq(np, n);
    ck_assert_uint_eq(prow, (size_t)classes);
    dlt_fid_net *net = NULL;
    dlt_fid_net_opts o = {.batch = B};
    ck_assert_msg(dlt_fid_net_open(ckpt, &o, &net) == DLT_OK, "%s", dlt_errmsg());
    float *feat = malloc(n * 64 * sizeof *feat);
    ck_assert_int_eq(dlt_fid_net_features_u8(net, img, (int64_t)n, feat), DLT_OK);
    ref_net r;
    ref_open(&r);
    double *l = malloc(n * (size_t)classes * sizeof *l);
    fc(&r, feat, (int)n, l);
    check_close("fc(u8 features) vs dltrain predict's logits", l, pl, (size_t)n * classes);

    /* the same images as floats in [0, 1] give the same features (up to the
     * order of the normalisation's f32 operations) */
    float *x = malloc(n * HW * sizeof *x), *f2 = malloc(n * 64 * sizeof *f2);
    for (size_t i = 0; i < n * HW; i++)
        x[i] = img[i] / 255.f;
    ck_assert_int_eq(dlt_fid_net_features(net, x, (int64_t)n, 0.f, 1.f, f2), DLT_OK);
    double worst = 0;
    for (size_t i = 0; i < n * 64; i++)
        worst = fmax(worst, fabs((double)f2[i] - feat[i]) / fmax(1.0, fabs(feat[i])));
    printf("float [0, 1] vs u8 inputs: max feature difference %.3g\n", worst);
    ck_assert_double_lt(worst, 1e-4);

    free(x), free(f2), free(l), free(feat), free(img), free(pl);
    ref_close(&r);
    dlt_fid_net_free(net);
}
END_TEST

START_TEST(errors)
{
    dlt_fid_net *net = (dlt_fid_net *)1;
    ck_assert_int_eq(dlt_fid_net_open("/nonexistent/ckpt.h5", NULL, &net), DLT_ERR_NOTFOUND);
    ck_assert_ptr_null(net);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "/nonexistent/ckpt.h5"));
    /* a checkpoint of this classifier does not fit 3-channel inputs */
    dlt_fid_net_opts o = {.channels = 3};
    ck_assert_int_ne(dlt_fid_net_open(ckpt, &o, &net), DLT_OK);
    ck_assert_ptr_null(net);
    printf("3 channels: %s\n", dlt_errmsg());
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "conv1.weight"));
    dlt_fid_net_free(NULL);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: fid_check CKPT SHARD PRED MEAN STD CLASSES\n");
        return 2;
    }
    ckpt = argv[1], shard = argv[2], pred = argv[3];
    mean = strtof(argv[4], NULL), stdv = strtof(argv[5], NULL);
    classes = atoi(argv[6]);
    dlt_set_num_threads(1);
    Suite *s = suite_create("fid_features");
    TCase *tc = tcase_create("fid_features");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pooled_features);
    tcase_add_test(tc, shard_images_u8);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
