/* dlprep's converters: IDX (.gz written here with zlib), CIFAR binary, image
 * folders (PNGs written here with libpng), synthetic data, and the split and
 * shard options. Every test reads the shards back and compares bytes. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data_util.h"
#include "dlt_data.h"
#include "dlt_test.h"

#define OK(x) ck_assert_msg((x) == DLT_OK, "%s", dlt_errmsg())

static char *dir;
static char out[4200];
static dlt_convert_opts opts;

static void setup(void)
{
    dir = dt_tmpdir();
    snprintf(out, sizeof out, "%s/out", dir);
    dlt_convert_opts_default(&opts);
    opts.out_dir = out;
}

static void teardown(void)
{
    dt_rmrf(dir);
    free(dir);
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

/* An IDX pair of n images h×w with labels i % 10, gzip-compressed. */
static void write_idx(const char *im, const char *lb, int n, int h, int w, uint8_t *pixels,
                      uint8_t *labels)
{
    uint8_t hdr[16];
    gzFile f = gzopen(im, "wb");
    be32(hdr, 0x803), be32(hdr + 4, (uint32_t)n), be32(hdr + 8, (uint32_t)h),
        be32(hdr + 12, (uint32_t)w);
    gzwrite(f, hdr, 16);
    for (int i = 0; i < n * h * w; i++)
        pixels[i] = (uint8_t)(i * 7 + i / 13);
    gzwrite(f, pixels, (unsigned)(n * h * w));
    gzclose(f);
    f = gzopen(lb, "wb");
    be32(hdr, 0x801), be32(hdr + 4, (uint32_t)n);
    gzwrite(f, hdr, 8);
    for (int i = 0; i < n; i++)
        labels[i] = (uint8_t)((i * 3) % 10);
    gzwrite(f, labels, (unsigned)n);
    gzclose(f);
}

static dlt_shard *open_shard(const char *name)
{
    char p[4400];
    dlt_shard *s;
    snprintf(p, sizeof p, "%s/%s", out, name);
    OK(dlt_shard_open(p, NULL, &s));
    return s;
}

static int exists(const char *name)
{
    char p[4400];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", out, name);
    return stat(p, &sb) == 0;
}

START_TEST(fashion_mnist_layout)
{
    enum { NTR = 23, NTE = 5, H = 4, W = 3 };
    uint8_t px[NTR * H * W], lab[NTR], tpx[NTE * H * W], tlab[NTE];
    char a[4400], b[4400];
    snprintf(a, sizeof a, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(b, sizeof b, "%s/train-labels-idx1-ubyte.gz", dir);
    write_idx(a, b, NTR, H, W, px, lab);
    snprintf(a, sizeof a, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(b, sizeof b, "%s/t10k-labels-idx1-ubyte.gz", dir);
    write_idx(a, b, NTE, H, W, tpx, tlab);
    opts.num_shards = 3;
    OK(dlt_convert_fashion_mnist(dir, &opts));
    /* balanced shards 7, 8, 8 in source order */
    int64_t first = 0;
    for (int k = 0; k < 3; k++) {
        char name[64];
        snprintf(name, sizeof name, "train-%05d-of-00003.h5", k);
        dlt_shard *s = open_shard(name);
        const dlt_shard_info *in = dlt_shard_get_info(s);
        ck_assert_int_eq(in->num_samples, (k + 1) * NTR / 3 - k * NTR / 3);
        ck_assert_int_eq(in->c, 1);
        ck_assert_int_eq(in->num_classes, 10);
        ck_assert_str_eq(in->class_names[9], "Ankle boot");
        for (int64_t i = 0; i < in->num_samples; i++) {
            uint8_t img[H * W];
            int32_t l;
            OK(dlt_shard_read_image(s, i, img, &l));
            ck_assert_mem_eq(img, px + (first + i) * H * W, H * W);
            ck_assert_int_eq(l, lab[first + i]);
        }
        first += in->num_samples;
        dlt_shard_close(s);
    }
    ck_assert_int_eq(first, NTR);
    /* --shards applies to each split: test has 5 samples in 1, 2, 2 */
    dlt_shard *s = open_shard("test-00002-of-00003.h5");
    ck_assert_int_eq(dlt_shard_get_info(s)->num_samples, 2);
    dlt_shard_close(s);
    (void)tpx, (void)tlab;
}
END_TEST

START_TEST(idx_val_split)
{
    enum { N = 40, H = 2, W = 2 };
    uint8_t px[N * H * W], lab[N];
    char a[4400], b[4400];
    snprintf(a, sizeof a, "%s/im.idx.gz", dir);
    snprintf(b, sizeof b, "%s/lb.idx.gz", dir);
    write_idx(a, b, N, H, W, px, lab);
    opts.val_fraction = 0.25;
    opts.seed = 3;
    opts.shard_size = 16;
    OK(dlt_convert_idx(a, b, NULL, NULL, 0, &opts));
    /* train: 30 in 2 shards, val: 10 in 1; together every source image once */
    int seen[N] = {0};
    const char *names[3] = {"train-00000-of-00002.h5", "train-00001-of-00002.h5",
                            "val-00000-of-00001.h5"};
    int counts[3] = {15, 15, 10};
    for (int k = 0; k < 3; k++) {
        dlt_shard *s = open_shard(names[k]);
        const dlt_shard_info *in = dlt_shard_get_info(s);
        ck_assert_int_eq(in->num_samples, counts[k]);
        ck_assert_int_eq(in->num_classes, 10); /* max label + 1 */
        for (int64_t i = 0; i < in->num_samples; i++) {
            uint8_t img[H * W];
            int32_t l;
            OK(dlt_shard_read_image(s, i, img, &l));
            int found = -1;
            for (int j = 0; j < N && found < 0; j++)
                if (!memcmp(img, px + j * H * W, H * W) && lab[j] == l)
                    found = j;
            ck_assert_int_ge(found, 0);
            seen[found]++;
        }
        dlt_shard_close(s);
    }
    for (int j = 0; j < N; j++)
        ck_assert_int_eq(seen[j], 1);
}
END_TEST

START_TEST(idx_errors)
{
    char a[4400], b[4400];
    uint8_t px[5 * 4], lab[5];
    snprintf(a, sizeof a, "%s/im.gz", dir);
    snprintf(b, sizeof b, "%s/lb.gz", dir);
    write_idx(a, b, 5, 2, 2, px, lab);
    ck_assert_int_ne(dlt_convert_idx(b, a, NULL, NULL, 0, &opts), DLT_OK); /* swapped */
    ck_assert_msg(strstr(dlt_errmsg(), "dimensions"), "%s", dlt_errmsg());
    /* truncate the image data */
    gzFile f = gzopen(a, "wb");
    uint8_t hdr[16];
    be32(hdr, 0x803), be32(hdr + 4, 5), be32(hdr + 8, 2), be32(hdr + 12, 2);
    gzwrite(f, hdr, 16);
    gzwrite(f, px, 7);
    gzclose(f);
    ck_assert_int_eq(dlt_convert_idx(a, b, NULL, NULL, 0, &opts), DLT_ERR_IO);
    ck_assert_msg(dt_contains(dlt_errmsg(), a, "truncated", NULL), "%s", dlt_errmsg());
    ck_assert(!exists("train-00000-of-00001.h5"));
    ck_assert(!exists("train-00000-of-00001.h5.tmp"));
}
END_TEST

START_TEST(cifar10_binary)
{
    enum { N1 = 3, NT = 2 };
    uint8_t rec[N1 + NT][3073];
    char p[4400];
    for (int i = 0; i < N1 + NT; i++) {
        rec[i][0] = (uint8_t)(i * 3 % 10);
        for (int j = 1; j < 3073; j++)
            rec[i][j] = (uint8_t)(j * 5 + i * 11 + j / 1024);
    }
    snprintf(p, sizeof p, "%s/data_batch_1.bin", dir);
    FILE *f = fopen(p, "wb");
    fwrite(rec, 3073, N1, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/test_batch.bin", dir);
    f = fopen(p, "wb");
    fwrite(rec[N1], 3073, NT, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/batches.meta.txt", dir);
    f = fopen(p, "w");
    fputs("a0\na1\na2\na3\na4\na5\na6\na7\na8\na9\n\n", f);
    fclose(f);
    OK(dlt_convert_cifar(dir, &opts));
    const char *names[2] = {"train-00000-of-00001.h5", "test-00000-of-00001.h5"};
    for (int k = 0; k < 2; k++) {
        dlt_shard *s = open_shard(names[k]);
        const dlt_shard_info *in = dlt_shard_get_info(s);
        ck_assert_int_eq(in->num_samples, k ? NT : N1);
        ck_assert_int_eq(in->h, 32);
        ck_assert_int_eq(in->c, 3);
        ck_assert_str_eq(in->class_names[7], "a7");
        for (int i = 0; i < in->num_samples; i++) {
            const uint8_t *r = rec[i + (k ? N1 : 0)];
            uint8_t img[3072];
            int32_t l;
            OK(dlt_shard_read_image(s, i, img, &l));
            ck_assert_int_eq(l, r[0]);
            for (int y = 0; y < 32; y++) /* planes R, G, B → HWC */
                for (int x = 0; x < 32; x++)
                    for (int c = 0; c < 3; c++)
                        ck_assert_int_eq(img[(y * 32 + x) * 3 + c], r[1 + c * 1024 + y * 32 + x]);
        }
        dlt_shard_close(s);
    }
    /* a record cut short is reported with the file name */
    snprintf(p, sizeof p, "%s/data_batch_2.bin", dir);
    f = fopen(p, "wb");
    fwrite(rec, 1, 3000, f);
    fclose(f);
    ck_assert_int_eq(dlt_convert_cifar(dir, &opts), DLT_ERR_SHAPE);
    ck_assert_msg(dt_contains(dlt_errmsg(), "data_batch_2.bin", "truncated", NULL), "%s",
                  dlt_errmsg());
}
END_TEST

static void write_png(const char *p, int w, int h, int color, const uint8_t *px)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)w, pi.height = (png_uint_32)h;
    pi.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    ck_assert_int_ne(png_image_write_to_file(&pi, p, 0, px, 0, NULL), 0);
}

START_TEST(image_folder_png)
{
    enum { H = 5, W = 4 };
    const char *cls[2] = {"bird", "ant"}; /* sorted: ant = 0, bird = 1 */
    uint8_t px[2][3][H * W * 3];
    char p[4400];
    snprintf(p, sizeof p, "%s/src", dir);
    mkdir(p, 0777);
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/src/%s", dir, cls[k]);
        mkdir(p, 0777);
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < H * W * 3; j++)
                px[k][i][j] = (uint8_t)(j * 9 + i * 40 + k * 100);
            snprintf(p, sizeof p, "%s/src/%s/img%d.png", dir, cls[k], i);
            write_png(p, W, H, 1, px[k][i]);
        }
    }
    snprintf(p, sizeof p, "%s/src/ant/notes.txt", dir); /* ignored */
    fclose(fopen(p, "w"));
    snprintf(p, sizeof p, "%s/src", dir);
    OK(dlt_convert_image_folder(p, 0, 0, 3, &opts));
    dlt_shard *s = open_shard("train-00000-of-00001.h5");
    const dlt_shard_info *in = dlt_shard_get_info(s);
    ck_assert_int_eq(in->num_samples, 6);
    ck_assert_int_eq(in->h, H);
    ck_assert_int_eq(in->w, W);
    ck_assert_str_eq(in->class_names[0], "ant");
    for (int i = 0; i < 6; i++) {
        uint8_t img[H * W * 3];
        int32_t l;
        OK(dlt_shard_read_image(s, i, img, &l));
        ck_assert_int_eq(l, i / 3);
        ck_assert_mem_eq(img, px[i < 3 ? 1 : 0][i % 3], sizeof img); /* ant is cls[1] */
    }
    dlt_shard_close(s);

    /* a differently sized image needs --resize */
    uint8_t big[6 * 6 * 3] = {0};
    snprintf(p, sizeof p, "%s/src/ant/zz.png", dir);
    write_png(p, 6, 6, 1, big);
    snprintf(p, sizeof p, "%s/src", dir);
    ck_assert_int_eq(dlt_convert_image_folder(p, 0, 0, 3, &opts), DLT_ERR_SHAPE);
    ck_assert_msg(dt_contains(dlt_errmsg(), "zz.png", "--resize", NULL), "%s", dlt_errmsg());
}
END_TEST

START_TEST(image_folder_resize)
{
    /* 2x2 gray [[0,100],[200,255]] → 4x4, bilinear with half-pixel centres
     * (values from PyTorch interpolate(mode="bilinear", align_corners=False)) */
    const uint8_t src[4] = {0, 100, 200, 255};
    const uint8_t want[16] = {0,   25,  75,  100, 50,  72,  117, 139,
                              150, 167, 200, 216, 200, 214, 241, 255}; /* rounded */
    char p[4400];
    snprintf(p, sizeof p, "%s/src", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/src/only", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/src/only/a.png", dir);
    write_png(p, 2, 2, 0, src);
    snprintf(p, sizeof p, "%s/src", dir);
    OK(dlt_convert_image_folder(p, 4, 4, 1, &opts));
    dlt_shard *s = open_shard("train-00000-of-00001.h5");
    uint8_t img[16];
    int32_t l;
    OK(dlt_shard_read_image(s, 0, img, &l));
    for (int i = 0; i < 16; i++)
        ck_assert_msg(abs(img[i] - want[i]) <= 1, "pixel %d: %d, want %d", i, img[i], want[i]);
    dlt_shard_close(s);
}
END_TEST

START_TEST(synthetic_learnable)
{
    enum { N = 300, K = 4 };
    opts.seed = 11;
    OK(dlt_convert_synthetic(N, 6, 6, 3, K, &opts));
    dlt_shard *s = open_shard("train-00000-of-00001.h5");
    ck_assert_int_eq(dlt_shard_get_info(s)->num_samples, N);
    /* nearest class mean (from the first half) classifies the second half */
    double mean[K][108] = {{0}};
    int cnt[K] = {0}, correct = 0;
    uint8_t img[108];
    int32_t l;
    for (int i = 0; i < N / 2; i++) {
        OK(dlt_shard_read_image(s, i, img, &l));
        cnt[l]++;
        for (int j = 0; j < 108; j++)
            mean[l][j] += img[j];
    }
    for (int k = 0; k < K; k++) {
        ck_assert_int_gt(cnt[k], 0);
        for (int j = 0; j < 108; j++)
            mean[k][j] /= cnt[k];
    }
    for (int i = N / 2; i < N; i++) {
        OK(dlt_shard_read_image(s, i, img, &l));
        int best = 0;
        double bd = 1e300;
        for (int k = 0; k < K; k++) {
            double d = 0;
            for (int j = 0; j < 108; j++)
                d += (img[j] - mean[k][j]) * (img[j] - mean[k][j]);
            if (d < bd)
                bd = d, best = k;
        }
        correct += best == l;
    }
    ck_assert_int_ge(correct, N / 2 - 2);
    dlt_shard_close(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("convert");
    TCase *tc = tcase_create("convert");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fashion_mnist_layout);
    tcase_add_test(tc, idx_val_split);
    tcase_add_test(tc, idx_errors);
    tcase_add_test(tc, cifar10_binary);
    tcase_add_test(tc, image_folder_png);
    tcase_add_test(tc, image_folder_resize);
    tcase_add_test(tc, synthetic_learnable);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
