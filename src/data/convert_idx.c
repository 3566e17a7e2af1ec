/* IDX (MNIST-style) files, gzip-compressed or plain, and Debian's Fashion-MNIST. */
#include "convert_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct {
    gzFile f;
    int ndims;
    int64_t dims[4];
} idx_file;

static dlt_status idx_open(idx_file *x, const char *path, int min_dims, int max_dims)
{
    unsigned char h[4], d[4];
    memset(x, 0, sizeof *x);
    if (!(x->f = gzopen(path, "rb")))
        return dlt_seterr(DLT_ERR_NOTFOUND, "%s: cannot open", path);
    gzbuffer(x->f, 1 << 18);
    if (gzread(x->f, h, 4) != 4)
        return dlt_seterr(DLT_ERR_IO, "%s: truncated IDX header", path);
    if (h[0] != 0 || h[1] != 0 || h[2] != 0x08)
        return dlt_seterr(DLT_ERR_INVALID, "%s: not an unsigned-byte IDX file (magic %02x%02x%02x%02x)",
                          path, h[0], h[1], h[2], h[3]);
    x->ndims = h[3];
    if (x->ndims < min_dims || x->ndims > max_dims)
        return dlt_seterr(DLT_ERR_SHAPE, "%s: IDX file has %d dimensions, expected %d..%d", path,
                          x->ndims, min_dims, max_dims);
    for (int i = 0; i < x->ndims; i++) {
        if (gzread(x->f, d, 4) != 4)
            return dlt_seterr(DLT_ERR_IO, "%s: truncated IDX header", path);
        x->dims[i] = (int64_t)d[0] << 24 | (int64_t)d[1] << 16 | (int64_t)d[2] << 8 | d[3];
        if (x->dims[i] <= 0 || (i > 0 && x->dims[i] > 65536))
            return dlt_seterr(DLT_ERR_SHAPE, "%s: bad IDX dimension %lld", path,
                              (long long)x->dims[i]);
    }
    return DLT_OK;
}

static void idx_close(idx_file *x)
{
    if (x->f)
        gzclose(x->f);
    x->f = NULL;
}

static dlt_status read_exact(gzFile f, void *buf, size_t n, const char *path)
{
    int got = gzread(f, buf, (unsigned)n);
    if (got < 0 || (size_t)got != n)
        return dlt_seterr(DLT_ERR_IO, "%s: truncated (gzip or IDX data ends early)", path);
    return DLT_OK;
}

static dlt_status idx_convert(const char *images, const char *labels, const char *prefix,
                              const char *source, const char *const *names, int k,
                              const dlt_convert_opts *o)
{
    idx_file xi, xl;
    uint8_t *lab = NULL, *img = NULL;
    dlt_sink *sink = NULL;
    dlt_status st = idx_open(&xl, labels, 1, 1);
    if (!st)
        st = idx_open(&xi, images, 3, 4);
    else
        memset(&xi, 0, sizeof xi);
    int64_t n = xl.dims[0];
    if (!st && xi.dims[0] != n)
        st = dlt_seterr(DLT_ERR_SHAPE, "%s has %lld images but %s has %lld labels", images,
                        (long long)xi.dims[0], labels, (long long)n);
    if (!st && !(lab = malloc((size_t)n)))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (!st)
        st = read_exact(xl.f, lab, (size_t)n, labels);
    int maxl = 0;
    for (int64_t i = 0; !st && i < n; i++)
        maxl = lab[i] > maxl ? lab[i] : maxl;
    if (!st && k > 0 && maxl >= k)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: label %d but only %d classes", labels, maxl, k);
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_IMAGE_CLASSIFICATION;
    spec.h = (int)xi.dims[1], spec.w = (int)xi.dims[2];
    spec.c = xi.ndims == 4 ? (int)xi.dims[3] : 1;
    spec.num_classes = k > 0 ? k : maxl + 1;
    spec.class_names = k > 0 ? names : NULL;
    spec.source = source;
    spec.deflate = o->deflate;
    size_t sz = (size_t)spec.h * (size_t)spec.w * (size_t)spec.c;
    if (!st && !(img = malloc(sz)))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (!st)
        st = dlt_sink_open(&sink, o, prefix, &spec, n);
    for (int64_t i = 0; !st && i < n; i++) {
        st = read_exact(xi.f, img, sz, images);
        if (!st)
            st = dlt_sink_add(sink, img, lab[i]);
    }
    if (st)
        dlt_sink_abort(sink);
    else
        st = dlt_sink_close(sink);
    idx_close(&xi);
    idx_close(&xl);
    free(lab);
    free(img);
    return st;
}

dlt_status dlt_convert_idx(const char *images, const char *labels, const char *source_name,
                           const char *const *class_names, int num_classes,
                           const dlt_convert_opts *o)
{
    char src[4200];
    if (!source_name) {
        snprintf(src, sizeof src, "idx:%s,%s", images, labels);
        source_name = src;
    }
    return idx_convert(images, labels, o->prefix ? o->prefix : "train", source_name,
                       class_names, num_classes, o);
}

dlt_status dlt_idx_scan(const char *images, const char *labels, dlt_idx_fn fn, void *user)
{
    idx_file xi, xl;
    uint8_t *lab = NULL, *img = NULL;
    dlt_status st = idx_open(&xl, labels, 1, 1);
    if (!st)
        st = idx_open(&xi, images, 3, 4);
    else
        memset(&xi, 0, sizeof xi);
    dlt_idx_shape sh = {xl.dims[0], (int)xi.dims[1], (int)xi.dims[2],
                        xi.ndims == 4 ? (int)xi.dims[3] : 1};
    if (!st && xi.dims[0] != sh.n)
        st = dlt_seterr(DLT_ERR_SHAPE, "%s has %lld images but %s has %lld labels", images,
                        (long long)xi.dims[0], labels, (long long)sh.n);
    size_t sz = (size_t)sh.h * (size_t)sh.w * (size_t)sh.c;
    if (!st && (!(lab = malloc((size_t)sh.n)) || !(img = malloc(sz))))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (!st)
        st = read_exact(xl.f, lab, (size_t)sh.n, labels);
    for (int64_t i = 0; !st && i < sh.n; i++) {
        st = read_exact(xi.f, img, sz, images);
        if (!st)
            st = fn(user, &sh, i, img, lab[i]);
    }
    idx_close(&xi);
    idx_close(&xl);
    free(lab);
    free(img);
    return st;
}

const char *const dlt_fmnist_class_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

dlt_status dlt_convert_fashion_mnist(const char *src_dir, const dlt_convert_opts *o)
{
    static const char *const split[2] = {"train", "test"}, *const stem[2] = {"train", "t10k"};
    int any = 0;
    for (int i = 0; i < 2; i++) {
        if (o->split && strcmp(o->split, split[i]) != 0)
            continue;
        char im[4096], lb[4096], source[64];
        snprintf(im, sizeof im, "%s/%s-images-idx3-ubyte.gz", src_dir, stem[i]);
        snprintf(lb, sizeof lb, "%s/%s-labels-idx1-ubyte.gz", src_dir, stem[i]);
        snprintf(source, sizeof source, "fashion-mnist %s (IDX)", split[i]);
        dlt_convert_opts oi = *o;
        if (i == 1)
            oi.val_fraction = 0; /* validation is carved from train only */
        dlt_status st = idx_convert(im, lb, split[i], source, dlt_fmnist_class_names, 10, &oi);
        if (st)
            return st;
        any = 1;
    }
    if (!any)
        return dlt_seterr(DLT_ERR_INVALID, "unknown split '%s' (expected train or test)",
                          o->split);
    return DLT_OK;
}
