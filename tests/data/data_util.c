/* Helpers for the data tests. */
#include "data_util.h"

#include <check.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_data.h"

char *dt_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    char *p = malloc(4096);
    ck_assert_ptr_nonnull(p);
    snprintf(p, 4096, "%s/dlt-data-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(p));
    return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(path);
}

void dt_rmrf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

void dt_sample_image(uint8_t *hwc, size_t sz, int64_t idx)
{
    for (size_t p = 0; p < sz; p++)
        hwc[p] = (uint8_t)((uint64_t)idx * 131u + p * 17u + (p * p) % 7u);
    hwc[0] = (uint8_t)(idx & 255);
    if (sz > 1)
        hwc[1] = (uint8_t)((idx >> 8) & 255);
}

void dt_write_cls_shard(const char *path, int64_t first, int64_t n, int h, int w, int c,
                        int classes)
{
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_IMAGE_CLASSIFICATION;
    spec.h = h, spec.w = w, spec.c = c, spec.num_classes = classes;
    spec.source = "test";
    spec.chunk_samples = 4;
    dlt_shard_writer *wr;
    ck_assert_msg(dlt_shard_writer_open(path, &spec, &wr) == DLT_OK, "%s", dlt_errmsg());
    size_t sz = (size_t)h * (size_t)w * (size_t)c;
    uint8_t *img = malloc(sz);
    for (int64_t i = 0; i < n; i++) {
        dt_sample_image(img, sz, first + i);
        ck_assert_msg(dlt_shard_write_image(wr, img, (int32_t)((first + i) % classes)) == DLT_OK,
                      "%s", dlt_errmsg());
    }
    free(img);
    ck_assert_msg(dlt_shard_writer_close(wr) == DLT_OK, "%s", dlt_errmsg());
}

int dt_contains(const char *msg, ...)
{
    va_list ap;
    int ok = 1;
    va_start(ap, msg);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        if (!strstr(msg, s))
            ok = 0;
    va_end(ap);
    return ok;
}

void dt_join_piece(const char *p, size_t n, void *user)
{
    char *out = user;
    size_t k = strlen(out);
    if (k)
        out[k++] = '|';
    memcpy(out + k, p, n);
    out[k + n] = '\0';
}
