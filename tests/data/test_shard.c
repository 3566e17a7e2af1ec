/* Shard format v1: round trips of every kind, the checksum against an
 * independent computation, and clear errors for broken files. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data_util.h"
#include "dlt_data.h"
#include "dlt_test.h"

static char *dir;
static char path[4200];

static void setup(void)
{
    dir = dt_tmpdir();
    snprintf(path, sizeof path, "%s/s.h5", dir);
}

static void teardown(void)
{
    dt_rmrf(dir);
    free(dir);
}

#define OK(x) ck_assert_msg((x) == DLT_OK, "%s", dlt_errmsg())

START_TEST(classification_roundtrip)
{
    const char *names[3] = {"cat", "dog", "emu"};
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_IMAGE_CLASSIFICATION;
    spec.h = 3, spec.w = 5, spec.c = 2, spec.num_classes = 3, spec.class_names = names;
    spec.source = "unit test";
    spec.chunk_samples = 3;
    dlt_shard_writer *w;
    uint8_t img[7][30];
    int32_t lab[7];
    OK(dlt_shard_writer_open(path, &spec, &w));
    ck_assert_int_ne(access(path, F_OK), 0); /* only the .tmp exists until close */
    for (int i = 0; i < 7; i++) {
        dt_sample_image(img[i], 30, i);
        lab[i] = (i * 2) % 3;
        OK(dlt_shard_write_image(w, img[i], lab[i]));
    }
    ck_assert_int_eq(dlt_shard_write_image(w, img[0], 3), DLT_ERR_INVALID);
    OK(dlt_shard_writer_close(w));

    /* independent CRC-32: images, labels (int32 LE), names + NUL */
    uLong crc = crc32(0, Z_NULL, 0);
    crc = crc32(crc, &img[0][0], sizeof img);
    crc = crc32(crc, (const Bytef *)lab, sizeof lab);
    for (int i = 0; i < 3; i++)
        crc = crc32(crc, (const Bytef *)names[i], (uInt)strlen(names[i]) + 1);

    for (int mode = 0; mode < 2; mode++) { /* in memory, then by hyperslab */
        dlt_shard_open_opts o = {mode ? 0 : 1 << 20, 2};
        dlt_shard *s;
        OK(dlt_shard_open(path, &o, &s));
        const dlt_shard_info *in = dlt_shard_get_info(s);
        ck_assert_int_eq(in->kind, DLT_KIND_IMAGE_CLASSIFICATION);
        ck_assert_int_eq(in->num_samples, 7);
        ck_assert_int_eq(in->h, 3);
        ck_assert_int_eq(in->w, 5);
        ck_assert_int_eq(in->c, 2);
        ck_assert_int_eq(in->in_memory, !mode);
        ck_assert_int_eq(in->verified, 1);
        ck_assert_uint_eq(in->checksum, (uint32_t)crc);
        ck_assert_str_eq(in->class_names[2], "emu");
        ck_assert_str_eq(in->source, "unit test");
        for (int i = 6; i >= 0; i--) {
            uint8_t back[30];
            int32_t l;
            OK(dlt_shard_read_image(s, i, back, &l));
            ck_assert_mem_eq(back, img[i], 30);
            ck_assert_int_eq(l, lab[i]);
        }
        ck_assert_int_eq(dlt_shard_read_image(s, 7, NULL, NULL), DLT_ERR_INVALID);
        dlt_shard_close(s);
    }
}
END_TEST

START_TEST(text_roundtrip)
{
    const char *vocab[5] = {"<eos>", "a", "b", "c", "d"};
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_TEXT_TOKENS;
    spec.vocab_size = 5, spec.vocab = vocab;
    dlt_shard_writer *w;
    int32_t d0[3] = {1, 2, 0}, d2[4] = {4, 3, 2, 0};
    OK(dlt_shard_writer_open(path, &spec, &w));
    OK(dlt_shard_write_document(w, d0, 3));
    OK(dlt_shard_write_document(w, NULL, 0));
    OK(dlt_shard_write_document(w, d2, 4));
    int32_t bad = 5;
    ck_assert_int_eq(dlt_shard_write_document(w, &bad, 1), DLT_ERR_INVALID);
    OK(dlt_shard_writer_close(w));
    dlt_shard *s;
    OK(dlt_shard_open(path, NULL, &s));
    const dlt_shard_info *in = dlt_shard_get_info(s);
    ck_assert_int_eq(in->num_samples, 3);
    ck_assert_int_eq(in->num_tokens, 7);
    ck_assert_int_eq(in->vocab_size, 5);
    ck_assert_str_eq(in->vocab[0], "<eos>");
    int32_t buf[8];
    int64_t n;
    OK(dlt_shard_read_document(s, 2, buf, 8, &n));
    ck_assert_int_eq(n, 4);
    ck_assert_mem_eq(buf, d2, sizeof d2);
    OK(dlt_shard_read_document(s, 1, buf, 8, &n));
    ck_assert_int_eq(n, 0);
    OK(dlt_shard_read_document(s, 0, buf, 2, &n)); /* truncated copy, full length */
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(buf[1], 2);
    dlt_shard_close(s);
}
END_TEST

START_TEST(detection_roundtrip)
{
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_DETECTION;
    spec.h = 4, spec.w = 4, spec.c = 3, spec.num_classes = 2;
    spec.max_boxes = 3, spec.mask_h = 2, spec.mask_w = 2;
    dlt_shard_writer *w;
    uint8_t img[48], masks[2 * 4];
    float boxes[2 * 4] = {0, 0, 1, 1, 0.5f, 0.25f, 2, 3.5f};
    int32_t cls[2] = {1, 0};
    dt_sample_image(img, 48, 9);
    for (int i = 0; i < 8; i++)
        masks[i] = (uint8_t)(i & 1);
    OK(dlt_shard_writer_open(path, &spec, &w));
    OK(dlt_shard_write_detection(w, img, 2, boxes, cls, masks));
    OK(dlt_shard_write_detection(w, img, 0, NULL, NULL, NULL));
    ck_assert_int_eq(dlt_shard_write_detection(w, img, 4, boxes, cls, masks), DLT_ERR_INVALID);
    OK(dlt_shard_writer_close(w));
    dlt_shard *s;
    OK(dlt_shard_open(path, NULL, &s));
    const dlt_shard_info *in = dlt_shard_get_info(s);
    ck_assert_int_eq(in->num_samples, 2);
    ck_assert_int_eq(in->max_boxes, 3);
    ck_assert_int_eq(in->mask_h, 2);
    uint8_t bimg[48], bm[12];
    float bb[12];
    int32_t bc[3];
    int nb;
    OK(dlt_shard_read_detection(s, 0, bimg, bb, bc, bm, &nb));
    ck_assert_int_eq(nb, 2);
    ck_assert_mem_eq(bimg, img, 48);
    ck_assert_mem_eq(bb, boxes, sizeof boxes);
    ck_assert_float_eq(bb[8], 0.0f); /* padding slot */
    ck_assert_mem_eq(bc, cls, sizeof cls);
    ck_assert_int_eq(bc[2], 0);
    ck_assert_mem_eq(bm, masks, 8);
    ck_assert_int_eq(bm[9], 0);
    OK(dlt_shard_read_detection(s, 1, NULL, NULL, NULL, NULL, &nb));
    ck_assert_int_eq(nb, 0);
    dlt_shard_close(s);
}
END_TEST

START_TEST(pairs_roundtrip)
{
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_IMAGE_PAIRS;
    spec.h = 2, spec.w = 3, spec.c = 3;
    dlt_shard_writer *w;
    uint8_t a[3][18], b[18], back[18];
    OK(dlt_shard_writer_open(path, &spec, &w));
    for (int i = 0; i < 3; i++) {
        dt_sample_image(a[i], 18, 100 + i);
        OK(dlt_shard_write_pair_image(w, 0, a[i]));
    }
    dt_sample_image(b, 18, 7);
    OK(dlt_shard_write_pair_image(w, 1, b));
    OK(dlt_shard_writer_close(w));
    dlt_shard *s;
    OK(dlt_shard_open(path, NULL, &s));
    const dlt_shard_info *in = dlt_shard_get_info(s);
    ck_assert_int_eq(in->num_a, 3);
    ck_assert_int_eq(in->num_b, 1);
    ck_assert_int_eq(in->num_samples, 4);
    OK(dlt_shard_read_pair_image(s, 0, 2, back));
    ck_assert_mem_eq(back, a[2], 18);
    OK(dlt_shard_read_pair_image(s, 1, 0, back));
    ck_assert_mem_eq(back, b, 18);
    ck_assert_int_eq(dlt_shard_read_pair_image(s, 1, 1, back), DLT_ERR_INVALID);
    dlt_shard_close(s);
}
END_TEST

/* Opens path and expects status st with a message naming the file and `what`. */
static void expect_error(dlt_status st, const char *what, const char *what2)
{
    dlt_shard *s = NULL;
    dlt_clearerr();
    dlt_status got = dlt_shard_open(path, NULL, &s);
    ck_assert_msg(got == st, "status %d, expected %d: %s", got, st, dlt_errmsg());
    ck_assert_ptr_null(s);
    ck_assert_msg(dt_contains(dlt_errmsg(), path, what, what2, NULL), "message: %s",
                  dlt_errmsg());
}

static hid_t reopen_rw(void)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    return f;
}

START_TEST(wrong_dtype)
{
    dt_write_cls_shard(path, 0, 5, 2, 2, 1, 3);
    hid_t f = reopen_rw();
    H5Ldelete(f, "labels", H5P_DEFAULT);
    hsize_t n = 5;
    double v[5] = {0, 1, 2, 0, 1};
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t ds = H5Dcreate2(f, "labels", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds), H5Sclose(sp), H5Fclose(f);
    expect_error(DLT_ERR_DTYPE, "'labels'", "float64, expected int32");
}
END_TEST

START_TEST(missing_dataset)
{
    dt_write_cls_shard(path, 0, 5, 2, 2, 1, 3);
    hid_t f = reopen_rw();
    H5Ldelete(f, "images", H5P_DEFAULT);
    H5Fclose(f);
    expect_error(DLT_ERR_NOTFOUND, "missing dataset 'images'", "image-classification");
}
END_TEST

START_TEST(bad_attributes)
{
    dt_write_cls_shard(path, 0, 5, 2, 2, 1, 3);
    hid_t f = reopen_rw();
    H5Adelete(f, "version");
    hid_t sp = H5Screate(H5S_SCALAR);
    int v = 2;
    hid_t a = H5Acreate2(f, "version", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a), H5Sclose(sp), H5Fclose(f);
    expect_error(DLT_ERR_UNSUPPORTED, "unsupported shard version 2", "expected 1");

    dt_write_cls_shard(path, 0, 5, 2, 2, 1, 3);
    f = reopen_rw();
    H5Adelete(f, "num_samples");
    sp = H5Screate(H5S_SCALAR);
    int64_t n = 6;
    a = H5Acreate2(f, "num_samples", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &n);
    H5Aclose(a), H5Sclose(sp), H5Fclose(f);
    expect_error(DLT_ERR_SHAPE, "'images' has 5 rows", "expected 6");

    dt_write_cls_shard(path, 0, 5, 2, 2, 1, 3);
    f = reopen_rw();
    H5Adelete(f, "format");
    H5Fclose(f);
    expect_error(DLT_ERR_NOTFOUND, "'format'", "not a dltrain shard");
}
END_TEST

START_TEST(bad_label_value)
{
    dt_write_cls_shard(path, 0, 5, 2, 2, 1, 3);
    hid_t f = reopen_rw();
    hid_t ds = H5Dopen2(f, "labels", H5P_DEFAULT);
    int32_t v[5] = {0, 1, 7, 0, 1};
    H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds), H5Fclose(f);
    /* the checksum catches it first; without verification the range check does */
    expect_error(DLT_ERR_IO, "checksum mismatch", "corrupt");
    dlt_shard_open_opts o = {1 << 20, 0};
    dlt_shard *s;
    ck_assert_int_eq(dlt_shard_open(path, &o, &s), DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), path, "label 7 of sample 2", NULL), "%s",
                  dlt_errmsg());
}
END_TEST

static long file_size(void)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

START_TEST(corrupt_and_truncated)
{
    dt_write_cls_shard(path, 0, 200, 8, 8, 3, 3);
    /* find the compressed image bytes through HDF5 itself, then damage them */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "images", H5P_DEFAULT);
    haddr_t off = 0;
    hsize_t csize = 0;
    hsize_t start[4] = {100, 0, 0, 0};
    /* H5Dget_chunk_info arrived in 1.10.5; fall back to the file's middle */
    if (H5Dget_chunk_info_by_coord(ds, start, NULL, &off, &csize) < 0 || csize == 0)
        off = (haddr_t)(file_size() / 2), csize = 64;
    H5Dclose(ds), H5Fclose(f);
    FILE *fp = fopen(path, "r+b");
    fseek(fp, (long)(off + csize / 2), SEEK_SET);
    for (int i = 0; i < 16; i++)
        fputc(0x5a ^ i, fp);
    fclose(fp);
    dlt_shard *s = NULL;
    ck_assert_int_ne(dlt_shard_open(path, NULL, &s), DLT_OK);
    ck_assert_msg(dt_contains(dlt_errmsg(), path, "corrupt", NULL), "%s", dlt_errmsg());

    dt_write_cls_shard(path, 0, 200, 8, 8, 3, 3);
    ck_assert_int_eq(truncate(path, file_size() / 2), 0);
    ck_assert_int_ne(dlt_shard_open(path, NULL, &s), DLT_OK);
    ck_assert_msg(dt_contains(dlt_errmsg(), path, NULL), "%s", dlt_errmsg());
    ck_assert_msg(strstr(dlt_errmsg(), "truncated") || strstr(dlt_errmsg(), "corrupt"), "%s",
                  dlt_errmsg());

    unlink(path);
    expect_error(DLT_ERR_NOTFOUND, "cannot open", "No such file");
}
END_TEST

START_TEST(describe)
{
    dt_write_cls_shard(path, 0, 5, 2, 3, 1, 3);
    char *buf = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&buf, &n);
    OK(dlt_shard_describe(out, path, 1));
    fclose(out);
    ck_assert_msg(dt_contains(buf, "image-classification", "samples      5",
                              "uint8 [5, 2, 3, 1]", "int32 [5]", "classes      3", ": ok",
                              NULL), "%s", buf);
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shard");
    TCase *tc = tcase_create("shard");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, classification_roundtrip);
    tcase_add_test(tc, text_roundtrip);
    tcase_add_test(tc, detection_roundtrip);
    tcase_add_test(tc, pairs_roundtrip);
    tcase_add_test(tc, wrong_dtype);
    tcase_add_test(tc, missing_dataset);
    tcase_add_test(tc, bad_attributes);
    tcase_add_test(tc, bad_label_value);
    tcase_add_test(tc, corrupt_and_truncated);
    tcase_add_test(tc, describe);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
