/* TensorBoard event files: CRC-32C against published vectors, the TFRecord
 * mask, and whole records against bytes derived independently from the specs
 * (tests/fixtures/tfevents_make_vectors.py: struct + a hand protobuf encoding
 * + CRC-32C by long division), then a written file read back record by record. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlt_logio.h"
#include "dlt_test.h"

/* wall_time 1700000000.0, no step, file_version "brain.Event:2" */
static const uint8_t version_record[40] = {
    0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa3, 0x7f, 0x4b, 0x22, 0x09, 0x00,
    0x00, 0x00, 0x40, 0xfc, 0x54, 0xd9, 0x41, 0x1a, 0x0d, 0x62, 0x72, 0x61, 0x69, 0x6e,
    0x2e, 0x45, 0x76, 0x65, 0x6e, 0x74, 0x3a, 0x32, 0xec, 0xed, 0x8f, 0x9d};
/* wall_time 1700000123.25, step 42, train/loss = 0.25, eval/top1 = 0.75 */
static const uint8_t scalar_record[66] = {
    0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24, 0x19, 0x56, 0xec, 0x09, 0x00,
    0x00, 0xd0, 0x5e, 0xfc, 0x54, 0xd9, 0x41, 0x10, 0x2a, 0x2a, 0x25, 0x0a, 0x11, 0x0a,
    0x0a, 0x74, 0x72, 0x61, 0x69, 0x6e, 0x2f, 0x6c, 0x6f, 0x73, 0x73, 0x15, 0x00, 0x00,
    0x80, 0x3e, 0x0a, 0x10, 0x0a, 0x09, 0x65, 0x76, 0x61, 0x6c, 0x2f, 0x74, 0x6f, 0x70,
    0x31, 0x15, 0x00, 0x00, 0x40, 0x3f, 0x25, 0xe3, 0x12, 0xea};
/* wall_time 0.5, step -3 (ten-byte varint), nothing else */
static const uint8_t negative_step_event[20] = {0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                                0xe0, 0x3f, 0x10, 0xfd, 0xff, 0xff, 0xff,
                                                0xff, 0xff, 0xff, 0xff, 0xff, 0x01};

static const dlt_tb_scalar two[2] = {{"train/loss", 0.25f}, {"eval/top1", 0.75f}};

START_TEST(crc32c_vectors)
{
    uint8_t buf[32];
    ck_assert_uint_eq(dlt_crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(dlt_crc32c(0, "", 0), 0u);
    /* RFC 3720 (iSCSI), appendix B.4 */
    memset(buf, 0, sizeof buf);
    ck_assert_uint_eq(dlt_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    ck_assert_uint_eq(dlt_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    ck_assert_uint_eq(dlt_crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    ck_assert_uint_eq(dlt_crc32c(0, buf, 32), 0x113FDB5Cu);
    /* continuing a CRC over a split buffer gives the same value */
    ck_assert_uint_eq(dlt_crc32c(dlt_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}
END_TEST

START_TEST(mask)
{
    /* by hand: 0xE3069283 >> 15 = 0x0001C60D, << 17 = 0x25060000 (mod 2^32),
     * or = 0x2507C60D, + 0xA282EAD8 = 0xC78AB0E5 */
    ck_assert_uint_eq(dlt_crc32c_mask(0xE3069283u), 0xC78AB0E5u);
    ck_assert_uint_eq(dlt_crc32c_mask(0), 0xA282EAD8u);
    /* the addition wraps */
    ck_assert_uint_eq(dlt_crc32c_mask(0xFFFFFFFFu), (uint32_t)(0xFFFFFFFFu + 0xA282EAD8u));
}
END_TEST

static size_t frame(uint8_t *out, double wt, int64_t step, const char *ver, int n,
                    const dlt_tb_scalar *s)
{
    uint8_t ev[256];
    size_t len = dlt_tb_encode_event(ev, sizeof ev, wt, step, ver, n, s);
    ck_assert_uint_lt(len, sizeof ev);
    dlt_tfrecord_frame(out, ev, len);
    return len + 16;
}

START_TEST(records)
{
    uint8_t out[300];
    size_t n = frame(out, 1700000000.0, 0, "brain.Event:2", 0, NULL);
    ck_assert_uint_eq(n, sizeof version_record);
    ck_assert_mem_eq(out, version_record, n);
    n = frame(out, 1700000123.25, 42, NULL, 2, two);
    ck_assert_uint_eq(n, sizeof scalar_record);
    ck_assert_mem_eq(out, scalar_record, n);
    uint8_t ev[64];
    n = dlt_tb_encode_event(ev, sizeof ev, 0.5, -3, NULL, 0, NULL);
    ck_assert_uint_eq(n, sizeof negative_step_event);
    ck_assert_mem_eq(ev, negative_step_event, n);
}
END_TEST

START_TEST(short_buffer)
{
    uint8_t ev[70];
    memset(ev, 0xcd, sizeof ev);
    /* too small: reports the length it needs and writes within cap only */
    size_t need = dlt_tb_encode_event(ev, 10, 1700000123.25, 42, NULL, 2, two);
    ck_assert_uint_eq(need, sizeof scalar_record - 16);
    for (size_t i = 10; i < sizeof ev; i++)
        ck_assert_uint_eq(ev[i], 0xcd);
    ck_assert_uint_eq(dlt_tb_encode_event(NULL, 0, 1.0, 0, NULL, 0, NULL), 9);
}
END_TEST

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

START_TEST(writer_file)
{
    char dir[64], path[1400], host[256] = "localhost";
    snprintf(dir, sizeof dir, "/tmp/dlt-tb-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    dlt_tb_writer *w = NULL;
    ck_assert_int_eq(dlt_tb_open(dir, 1700000000.0, &w, path, sizeof path), DLT_OK);
    char want[1400];
    snprintf(want, sizeof want, "%s/events.out.tfevents.1700000000.%s", dir, host);
    ck_assert_str_eq(path, want);
    ck_assert_int_eq(dlt_tb_scalars(w, 1700000123.25, 42, 2, two), DLT_OK);
    /* a long tag grows the writer's buffer */
    char tag[600];
    memset(tag, 'x', sizeof tag - 1);
    tag[sizeof tag - 1] = '\0';
    dlt_tb_scalar big = {tag, 1.0f};
    ck_assert_int_eq(dlt_tb_scalars(w, 1.0, 7, 1, &big), DLT_OK);
    ck_assert_int_eq(dlt_tb_close(w), DLT_OK);

    /* a second writer in the same second gets its own file */
    char path2[1400];
    ck_assert_int_eq(dlt_tb_open(dir, 1700000000.0, &w, path2, sizeof path2), DLT_OK);
    ck_assert_str_ne(path, path2);
    ck_assert_int_eq(dlt_tb_close(w), DLT_OK);

    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t data[2048];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    ck_assert_uint_ge(n, sizeof version_record + sizeof scalar_record);
    ck_assert_mem_eq(data, version_record, sizeof version_record);
    ck_assert_mem_eq(data + sizeof version_record, scalar_record, sizeof scalar_record);
    /* walk every record as a reader would: lengths and both CRCs */
    size_t off = 0;
    int nrec = 0;
    while (off < n) {
        ck_assert_uint_ge(n - off, 16);
        uint64_t len = le64(data + off);
        ck_assert_uint_eq(le32(data + off + 8), dlt_crc32c_mask(dlt_crc32c(0, data + off, 8)));
        ck_assert_uint_le(off + 16 + len, n);
        ck_assert_uint_eq(le32(data + off + 12 + len),
                          dlt_crc32c_mask(dlt_crc32c(0, data + off + 12, len)));
        off += 16 + len;
        nrec++;
    }
    ck_assert_int_eq(nrec, 3);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(unlink(path2), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    /* an unwritable directory is an error, not a crash */
    ck_assert_int_eq(dlt_tb_open("/nonexistent-dir/x", 1.0, &w, NULL, 0), DLT_ERR_IO);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(dlt_tb_close(NULL), DLT_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tfevents");
    TCase *tc = tcase_create("tfevents");
    tcase_add_test(tc, crc32c_vectors);
    tcase_add_test(tc, mask);
    tcase_add_test(tc, records);
    tcase_add_test(tc, short_buffer);
    tcase_add_test(tc, writer_file);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
