/* Test helper for tests/train/test_predict.sh, independent of libdltrain
 * (HDF5 only):
 *   pred_check linear PRED.h5 CKPT.h5 SHARD.h5 MEAN STD
 *       the logits of a one-layer "mlp" (layers = 0) computed here from the
 *       checkpoint's /params/head.weight [C, D] and head.bias [C] and the
 *       shard's images (x = (pixel / 255 - MEAN) / STD, one channel) must
 *       equal PRED's logits to 1e-5; pred must be their argmax, label the
 *       shard's labels, one row per sample of the shard. Prints top-1.
 *   pred_check mean PRED.h5 DATASET     the mean of a dataset (%.9g)
 *   pred_check top1 PRED.h5 PRED LABEL  the share of rows where PRED == LABEL,
 *                                       over labels other than -100 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *m, const char *x)
{
    printf("pred_check: %s%s\n", m, x ? x : "");
    exit(1);
}

/* Whole dataset as doubles; dims[] and its rank. */
static double *read_all(const char *file, const char *name, hsize_t *dims, int *rank)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        die("cannot open ", file);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        die("no dataset ", name);
    hid_t sp = H5Dget_space(d);
    *rank = H5Sget_simple_extent_dims(sp, dims, NULL);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0)
        die("cannot read ", name);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return x;
}

static int linear(char **a)
{
    hsize_t wd[4], bd[4], id[4], ld[4], pd[4], qd[4], yd[4];
    int r;
    double *w = read_all(a[1], "/params/head.weight", wd, &r);
    double *b = read_all(a[1], "/params/head.bias", bd, &r);
    double *img = read_all(a[2], "images", id, &r);
    double *lab = read_all(a[2], "labels", ld, &r);
    double *lg = read_all(a[0], "logits", pd, &r);
    double *pred = read_all(a[0], "pred", qd, &r);
    double *y = read_all(a[0], "label", yd, &r);
    double mean = atof(a[3]), std = atof(a[4]), worst = 0;
    int rc = 1;
    hsize_t N = id[0], C = wd[0], D = wd[1], hits = 0;
    if (id[1] * id[2] * id[3] != D || bd[0] != C)
        die("the checkpoint's head does not fit the images", NULL);
    if (pd[0] != N || qd[0] != N || yd[0] != N || pd[1] != C) {
        printf("pred_check: %llu rows of logits [*, %llu], %llu preds, %llu labels; the shard "
               "holds %llu "
               "samples of %llu classes\n",
               (unsigned long long)pd[0], (unsigned long long)pd[1], (unsigned long long)qd[0],
               (unsigned long long)yd[0], (unsigned long long)N, (unsigned long long)C);
        goto done;
    }
    for (hsize_t i = 0; i < N; i++) {
        hsize_t best = 0;
        for (hsize_t c = 0; c < C; c++) {
            double z = b[c];
            for (hsize_t k = 0; k < D; k++)
                z += w[c * D + k] * ((img[i * D + k] / 255.0 - mean) / std);
            double e = fabs(z - lg[i * C + c]);
            worst = e > worst ? e : worst;
            if (lg[i * C + c] > lg[i * C + best])
                best = c;
        }
        if (pred[i] != (double)best || y[i] != lab[i]) {
            printf("pred_check: sample %llu: pred %g (argmax %llu), label %g (shard %g)\n",
                   (unsigned long long)i, pred[i], (unsigned long long)best, y[i], lab[i]);
            goto done;
        }
        hits += pred[i] == y[i];
    }
    printf("%llu samples, logits within %.2g of x W^T + b, top1 %.9g\n", (unsigned long long)N,
           worst, (double)hits / (double)N);
    rc = worst < 1e-5 ? 0 : 1;
done:
    free(w), free(b), free(img), free(lab), free(lg), free(pred), free(y);
    return rc;
}

int main(int argc, char **argv)
{
    hsize_t d[4], e[4];
    int r, r2;
    if (argc == 7 && strcmp(argv[1], "linear") == 0)
        return linear(argv + 2);
    if (argc == 4 && strcmp(argv[1], "mean") == 0) {
        double *x = read_all(argv[2], argv[3], d, &r), s = 0;
        for (hsize_t i = 0; i < d[0]; i++)
            s += x[i];
        printf("%.9g\n", s / (double)d[0]);
        free(x);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "top1") == 0) {
        double *p = read_all(argv[2], argv[3], d, &r), *y = read_all(argv[2], argv[4], e, &r2),
               n = 0, h = 0;
        hsize_t m = 1;
        for (int i = 0; i < r; i++)
            m *= d[i];
        for (hsize_t i = 0; i < m; i++)
            if (y[i] != -100)
                n++, h += p[i] == y[i];
        printf("%.9g\n", h / n);
        free(p), free(y);
        return 0;
    }
    die("usage: pred_check linear|mean|top1 ...", NULL);
    return 2;
}
