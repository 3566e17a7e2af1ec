/* fid_sets_check: FID-FMNIST between two shard files computed without
 * src/train (for tests/train/test_fid_cli.sh, which compares it with what
 * `dltrain fid` printed):
 *   fid_sets_check CKPT MEAN STD CLASSES EXPECTED SHARD1 N1 SHARD2 N2
 *  - images: the first Ni rows of each shard's `images` dataset, read with
 *    HDF5 directly, normalised as docs/metrics.md step 2 says
 *    (u * (1 / (255 std)) - mean / std in f32);
 *  - features: the tests' own ResNet-20 (fid_ref.c), its pooled [B, 64] value;
 *  - statistics: two-pass mean and unbiased covariance in double;
 *  - distance: ||mu1 - mu2||^2 + tr s1 + tr s2 - 2 tr sqrtm(s1 s2), where
 *    tr sqrtm(s1 s2) = sum sqrt(eig(R s2 R)) with R = sqrtm(s1), both
 *    symmetric eigenproblems solved here by cyclic Jacobi rotations (not
 *    LAPACK's dsyev, which src/train/fid.c uses).
 * Prints the value; exit 1 unless it is within 1e-6 relative of EXPECTED. */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "fid_ref.h"

#define B 16
#define D 64
#define HW (28 * 28)

/* The first n images [n, 28, 28, 1] of the shard, or NULL. */
static uint8_t *read_images(const char *path, hsize_t n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return NULL;
    hid_t d = H5Dopen2(f, "images", H5P_DEFAULT), sp = H5Dget_space(d);
    hsize_t dims[4] = {0, 0, 0, 0}, start[4] = {0, 0, 0, 0};
    uint8_t *img = NULL;
    if (H5Sget_simple_extent_ndims(sp) == 4 && H5Sget_simple_extent_dims(sp, dims, NULL) == 4 &&
        dims[0] >= n && dims[1] * dims[2] * dims[3] == HW && (img = malloc(n * HW))) {
        hsize_t count[4] = {n, dims[1], dims[2], dims[3]};
        hid_t mem = H5Screate_simple(4, count, NULL);
        H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
        if (H5Dread(d, H5T_NATIVE_UINT8, mem, sp, H5P_DEFAULT, img) < 0)
            free(img), img = NULL;
        H5Sclose(mem);
    }
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return img;
}

/* Pooled features [n, D] of n images through the reference net. */
static int features(fid_ref_net *r, const uint8_t *img, int n, float mean, float stdv, float *out)
{
    const float scale = 1.0f / (255.0f * stdv), bias = -mean / stdv;
    for (int i0 = 0; i0 < n; i0 += B) {
        int rows = n - i0 < B ? n - i0 : B;
        float *in = dlt_plan_data(r->p, r->x);
        memset(in, 0, (size_t)B * HW * sizeof *in);
        for (int i = 0; i < rows * HW; i++)
            in[i] = (float)img[(size_t)i0 * HW + i] * scale + bias;
        dlt_exec_opts eo = {.training = 0};
        if (dlt_plan_run(r->p, &eo) != DLT_OK)
            return -1;
        memcpy(out + (size_t)i0 * D, dlt_plan_data(r->p, r->pooled),
               (size_t)rows * D * sizeof *out);
    }
    return 0;
}

/* Two-pass mean and unbiased covariance of x [n, D]. */
static void stats(const float *x, int n, double *mu, double *s)
{
    for (int a = 0; a < D; a++) {
        double t = 0;
        for (int i = 0; i < n; i++)
            t += x[i * D + a];
        mu[a] = t / n;
    }
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double t = 0;
            for (int i = 0; i < n; i++)
                t += (x[i * D + a] - mu[a]) * (x[i * D + b] - mu[b]);
            s[a * D + b] = t / (n - 1);
        }
}

/* Cyclic Jacobi: a [D, D] symmetric is overwritten (its diagonal ends as
 * the eigenvalues l), v receives the eigenvectors as columns. */
static void jacobi(double *a, double *l, double *v)
{
    for (int i = 0; i < D * D; i++)
        v[i] = i % (D + 1) == 0;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, all = 0;
        for (int p = 0; p < D; p++)
            for (int q = 0; q < D; q++) {
                all += a[p * D + q] * a[p * D + q];
                off += p != q ? a[p * D + q] * a[p * D + q] : 0;
            }
        if (off <= 1e-30 * all)
            break;
        for (int p = 0; p < D - 1; p++)
            for (int q = p + 1; q < D; q++) {
                double apq = a[p * D + q];
                if (apq == 0)
                    continue;
                /* the rotation that zeroes a[p][q]: t = tan(angle) */
                double th = (a[q * D + q] - a[p * D + p]) / (2 * apq);
                double t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1));
                double c = 1 / sqrt(t * t + 1), sn = t * c;
                for (int k = 0; k < D; k++) { /* columns p, q */
                    double akp = a[k * D + p], akq = a[k * D + q];
                    a[k * D + p] = c * akp - sn * akq;
                    a[k * D + q] = sn * akp + c * akq;
                }
                for (int k = 0; k < D; k++) { /* rows p, q */
                    double apk = a[p * D + k], aqk = a[q * D + k];
                    a[p * D + k] = c * apk - sn * aqk;
                    a[q * D + k] = sn * apk + c * aqk;
                }
                for (int k = 0; k < D; k++) {
                    double vkp = v[k * D + p], vkq = v[k * D + q];
                    v[k * D + p] = c * vkp - sn * vkq;
                    v[k * D + q] = sn * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < D; i++)
        l[i] = a[i * D + i];
}

static double fid(const double *mu1, const double *s1, const double *mu2, const double *s2)
{
    static double a[D * D], v[D * D], r[D * D], t[D * D], l[D];
    double dist = 0, tr = 0;
    for (int i = 0; i < D; i++)
        dist += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + s1[i * D + i] + s2[i * D + i];
    memcpy(a, s1, sizeof a);
    jacobi(a, l, v);
    for (int i = 0; i < D; i++) /* r = V diag(sqrt(max(l, 0))) V^T */
        for (int j = 0; j < D; j++) {
            double x = 0;
            for (int k = 0; k < D; k++)
                x += v[i * D + k] * sqrt(fmax(l[k], 0)) * v[j * D + k];
            r[i * D + j] = x;
        }
    for (int i = 0; i < D; i++) /* t = r s2 */
        for (int j = 0; j < D; j++) {
            double x = 0;
            for (int k = 0; k < D; k++)
                x += r[i * D + k] * s2[k * D + j];
            t[i * D + j] = x;
        }
    for (int i = 0; i < D; i++) /* a = t r, symmetrised */
        for (int j = 0; j < D; j++) {
            double x = 0;
            for (int k = 0; k < D; k++)
                x += t[i * D + k] * r[k * D + j];
            a[i * D + j] = x;
        }
    for (int i = 0; i < D; i++)
        for (int j = 0; j < i; j++)
            a[i * D + j] = a[j * D + i] = (a[i * D + j] + a[j * D + i]) / 2;
    jacobi(a, l, v);
    for (int i = 0; i < D; i++)
        tr += sqrt(fmax(l[i], 0));
    return dist - 2 * tr;
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr,
                "usage: fid_sets_check CKPT MEAN STD CLASSES EXPECTED SHARD1 N1 SHARD2 N2\n");
        return 2;
    }
    float mean = strtof(argv[2], NULL), stdv = strtof(argv[3], NULL);
    double expected = atof(argv[5]);
    dlt_set_num_threads(1);
    fid_ref_net r;
    if (fid_ref_open(&r, argv[1], atoi(argv[4]), B) != 0)
        return 2;
    static double mu[2][D], s[2][D * D];
    for (int k = 0; k < 2; k++) {
        int n = atoi(argv[7 + 2 * k]);
        uint8_t *img = n >= 2 ? read_images(argv[6 + 2 * k], (hsize_t)n) : NULL;
        float *f = malloc((size_t)n * D * sizeof *f);
        if (!img || !f || features(&r, img, n, mean, stdv, f) != 0) {
            fprintf(stderr, "fid_sets_check: %s: cannot read %d images or their features\n",
                    argv[6 + 2 * k], n);
            return 2;
        }
        stats(f, n, mu[k], s[k]);
        free(img), free(f);
    }
    fid_ref_close(&r);
    double v = fid(mu[0], s[0], mu[1], s[1]);
    int ok = fabs(v - expected) <= 1e-6 * fabs(expected);
    printf("FID %.9g (dltrain fid printed %.9g)\n", v, expected);
    return ok ? 0 : 1;
}
