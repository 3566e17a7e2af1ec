/* dlt_export_safetensors on a hand-made checkpoint: the whole file is
 * compared with bytes written out here by hand from the safetensors spec
 * (u64 LE header length, JSON padded with spaces to 8 bytes, tensors by name,
 * raw little-endian f32), with and without buffers; errors. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlt_ckpt.h"
#include "dlt_export.h"
#include "dlt_test.h"

static char dir[64], ckpt[128], out[128];

static void setup_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/dlt-export-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* params (flat, in layout order, deliberately not sorted by name):
 * "z.w" [2,3] at 0, "a\"b" scalar at 16 (a name that needs JSON escaping),
 * "m.bias" [2] at 20; buffer "bn.running_var" [3]. */
static float pdata[24], bdata[4];
static dlt_param_info params[3], buffers[1];

static void make_ckpt(int64_t step, const dlt_kvlist *model)
{
    for (int i = 0; i < 24; i++)
        pdata[i] = (float)i * 0.25f - 1.5f;
    pdata[1] = -0.0f; /* bytes, not values: the sign of zero must survive */
    for (int i = 0; i < 4; i++)
        bdata[i] = 1.0f + (float)i;
    params[0] = (dlt_param_info){.name = "z.w",
                                 .offset = 0,
                                 .numel = 6,
                                 .shape = {.dtype = DLT_F32, .ndim = 2, .dim = {2, 3}}};
    params[1] = (dlt_param_info){
        .name = "a\"b", .offset = 16, .numel = 1, .shape = {.dtype = DLT_F32, .ndim = 0}};
    params[2] = (dlt_param_info){.name = "m.bias",
                                 .offset = 20,
                                 .numel = 2,
                                 .shape = {.dtype = DLT_F32, .ndim = 1, .dim = {2}}};
    buffers[0] = (dlt_param_info){.name = "bn.running_var",
                                  .offset = 0,
                                  .numel = 3,
                                  .shape = {.dtype = DLT_F32, .ndim = 1, .dim = {3}}};
    dlt_ckpt_tensors t = {.nparams = 3,
                          .params = params,
                          .param_data = pdata,
                          .nbuffers = 1,
                          .buffers = buffers,
                          .buffer_data = bdata,
                          .optim_name = "sgd"};
    int64_t cursors[2] = {0, 5};
    dlt_ckpt_state st = {.step = step,
                         .world_size = 1,
                         .cursor_len = 2,
                         .cursors = cursors,
                         .job_text = "[model]\n",
                         .model = model};
    ck_assert_int_eq(dlt_ckpt_save(dir, &t, &st, ckpt, sizeof ckpt), DLT_OK);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void put_f32le(unsigned char *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(u >> (8 * i));
}

/* The expected file: header text (unpadded) and tensors in name order. */
static unsigned char *expected(const char *json, const float *const *data, const size_t *numel,
                               int n, size_t *len)
{
    size_t h = strlen(json), padded = (h + 7) / 8 * 8, body = 0;
    for (int i = 0; i < n; i++)
        body += 4 * numel[i];
    *len = 8 + padded + body;
    unsigned char *b = malloc(*len);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(b + 8, json, h);
    memset(b + 8 + h, ' ', padded - h);
    unsigned char *p = b + 8 + padded;
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < numel[i]; j++, p += 4)
            put_f32le(p, data[i][j]);
    return b;
}

static void check_file(const unsigned char *want, size_t wn)
{
    size_t n;
    unsigned char *got = slurp(out, &n);
    ck_assert_uint_eq(n, wn);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            ck_abort_msg("byte %zu: got 0x%02x, want 0x%02x ('%.40s')", i, got[i], want[i],
                         (const char *)got + (i > 20 ? i - 20 : 0));
    free(got);
}

START_TEST(test_whole_file)
{
    char json[1024];
    setup_dir();
    /* the model's key/values follow step in the writer's order, as strings */
    dlt_kvlist model = {0};
    dlt_kv_str(&model, "arch", "t\"iny");
    dlt_kv_int(&model, "layers", 2);
    dlt_kv_float(&model, "layer_norm_eps", 1e-12f);
    dlt_kv_bool(&model, "tied_lm_head", 1);
    make_ckpt(7, &model);
    snprintf(out, sizeof out, "%s/model.safetensors", dir);
    dlt_export_info info;
    ck_assert_int_eq(dlt_export_safetensors(ckpt, out, NULL, &info), DLT_OK);
    /* strcmp order: "a\"b" < "bn.running_var" < "m.bias" < "z.w" */
    snprintf(json, sizeof json,
             "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"dltrain %s\",\"step\":\"7\","
             "\"arch\":\"t\\\"iny\",\"layers\":\"2\",\"layer_norm_eps\":\"1e-12\",\"tied_lm_head\":\"true\"},"
             "\"a\\\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
             "\"bn.running_var\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,16]},"
             "\"m.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
             "\"z.w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[24,48]}}",
             dlt_version());
    const float *data[4] = {pdata + 16, bdata, pdata + 20, pdata};
    size_t numel[4] = {1, 3, 2, 6}, wn;
    unsigned char *want = expected(json, data, numel, 4, &wn);
    check_file(want, wn);
    ck_assert_int_eq(info.ntensors, 4);
    ck_assert_int_eq(info.step, 7);
    ck_assert_int_eq(info.file_bytes, (int64_t)wn);
    ck_assert_int_eq(info.header_len % 8, 0);
    free(want);
    rm_dir();
}
END_TEST

START_TEST(test_no_buffers)
{
    char json[1024];
    setup_dir();
    make_ckpt(12345678, NULL);
    snprintf(out, sizeof out, "%s/p.st", dir);
    dlt_export_opts o;
    dlt_export_opts_default(&o);
    ck_assert_int_eq(o.buffers, 1);
    o.buffers = 0;
    ck_assert_int_eq(dlt_export_safetensors(ckpt, out, &o, NULL), DLT_OK);
    snprintf(
        json, sizeof json,
        "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"dltrain %s\",\"step\":\"12345678\"},"
        "\"a\\\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
        "\"m.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
        "\"z.w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[12,36]}}",
        dlt_version());
    const float *data[3] = {pdata + 16, pdata + 20, pdata};
    size_t numel[3] = {1, 2, 6}, wn;
    unsigned char *want = expected(json, data, numel, 3, &wn);
    check_file(want, wn);
    free(want);
    rm_dir();
}
END_TEST

START_TEST(test_errors)
{
    setup_dir();
    snprintf(out, sizeof out, "%s/x.safetensors", dir);
    ck_assert_int_eq(dlt_export_safetensors("/nonexistent/ckpt.h5", out, NULL, NULL),
                     DLT_ERR_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "/nonexistent/ckpt.h5"));
    /* a file that is not HDF5 */
    snprintf(ckpt, sizeof ckpt, "%s/junk.h5", dir);
    FILE *f = fopen(ckpt, "w");
    fputs("not hdf5\n", f);
    fclose(f);
    ck_assert_int_eq(dlt_export_safetensors(ckpt, out, NULL, NULL), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "junk.h5: not an HDF5 file"));
    /* an HDF5 file that is not a checkpoint */
    char plain[128];
    snprintf(plain, sizeof plain, "%s/plain.h5", dir);
    hid_t h = H5Fcreate(plain, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(h, 0);
    H5Fclose(h);
    ck_assert_int_eq(dlt_export_safetensors(plain, out, NULL, NULL), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "plain.h5: not a dltrain checkpoint"));
    make_ckpt(1, NULL);
    /* an unwritable output leaves nothing behind */
    ck_assert_int_ne(dlt_export_safetensors(ckpt, "/nonexistent/dir/x.safetensors", NULL, NULL),
                     DLT_OK);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "/nonexistent/dir/x.safetensors"));
    ck_assert_int_ne(access(out, F_OK), 0);
    rm_dir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("safetensors");
    tcase_add_test(tc, test_whole_file);
    tcase_add_test(tc, test_no_buffers);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
