/* dlprep fashion-mnist-pair on Debian's dataset-fashion-mnist: sneakers (7) as
 * domain A and ankle boots (9) as domain B, 6000 + 6000 train and 1000 + 1000
 * test images, each equal to the IDX file's image of that class in file order
 * (the IDX files are read here with zlib alone). SKIP (77) without the data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data_util.h"
#include "dlt_data.h"
#include "dlt_test.h"

#define OK(x) ck_assert_msg((x) == DLT_OK, "%s", dlt_errmsg())

static const char *src = "/usr/share/datasets/fashion-mnist";

/* Every image of the split with label `cls`, in file order: [n, 784]. */
static uint8_t *idx_class(const char *stem, int cls, int64_t *n)
{
    char p[4200];
    uint8_t hdr[16];
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte.gz", src, stem);
    gzFile f = gzopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzread(f, hdr, 8), 8);
    int total = hdr[4] << 24 | hdr[5] << 16 | hdr[6] << 8 | hdr[7];
    uint8_t *lab = malloc((size_t)total);
    ck_assert_int_eq(gzread(f, lab, (unsigned)total), total);
    gzclose(f);
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte.gz", src, stem);
    f = gzopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzread(f, hdr, 16), 16);
    uint8_t *out = malloc((size_t)total * 784), img[784];
    *n = 0;
    for (int i = 0; i < total; i++) {
        ck_assert_int_eq(gzread(f, img, 784), 784);
        if (lab[i] == cls)
            memcpy(out + (size_t)(*n)++ * 784, img, 784);
    }
    gzclose(f);
    free(lab);
    return out;
}

START_TEST(fmnist_pair_counts)
{
    char *dir = dt_tmpdir();
    dlt_convert_opts o;
    dlt_convert_opts_default(&o);
    o.out_dir = dir;
    OK(dlt_convert_fashion_mnist_pair(src, NULL, NULL, &o));
    static const struct {
        const char *split, *stem;
        int64_t n;
    } sp[2] = {{"train", "train", 6000}, {"test", "t10k", 1000}};
    for (int i = 0; i < 2; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s-00000-of-00001.h5", dir, sp[i].split);
        dlt_shard *s;
        OK(dlt_shard_open(p, NULL, &s));
        const dlt_shard_info *in = dlt_shard_get_info(s);
        ck_assert_int_eq(in->kind, DLT_KIND_IMAGE_PAIRS);
        ck_assert_int_eq(in->num_a, sp[i].n);
        ck_assert_int_eq(in->num_b, sp[i].n);
        ck_assert(in->h == 28 && in->w == 28 && in->c == 1);
        ck_assert_msg(dt_contains(in->source, "A = Sneaker (7)", "B = Ankle boot (9)", NULL), "%s",
                      in->source);
        for (int d = 0; d < 2; d++) {
            int64_t n;
            uint8_t *want = idx_class(sp[i].stem, d ? 9 : 7, &n), img[784];
            ck_assert_int_eq(n, sp[i].n);
            for (int64_t k = 0; k < n; k++) {
                OK(dlt_shard_read_pair_image(s, d, k, img));
                ck_assert_msg(!memcmp(img, want + k * 784, 784), "%s domain %d image %lld",
                              sp[i].split, d, (long long)k);
            }
            free(want);
        }
        dlt_shard_close(s);
    }
    /* a missing source names the file */
    ck_assert_int_eq(dlt_convert_fashion_mnist_pair("/nonexistent", "bag", "coat", &o),
                     DLT_ERR_NOTFOUND);
    ck_assert_msg(dt_contains(dlt_errmsg(), "/nonexistent/train-labels-idx1-ubyte.gz", NULL), "%s",
                  dlt_errmsg());
    dt_rmrf(dir);
    free(dir);
}
END_TEST

int main(void)
{
    struct stat sb;
    char p[4200];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", src);
    if (stat(p, &sb) != 0) {
        printf("SKIP: %s is missing (apt-get install dataset-fashion-mnist)\n", p);
        return DLT_TEST_SKIP;
    }
    Suite *s = suite_create("fmnist_pair");
    TCase *tc = tcase_create("fmnist_pair");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fmnist_pair_counts);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
