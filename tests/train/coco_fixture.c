/* Reading the COCO evaluation fixtures (coco_fixture.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "coco_fixture.h"

const char *coco_fixture_path(const char *name, char *buf, size_t len)
{
    const char *top = getenv("top_srcdir");
    snprintf(buf, len, "%s/tests/fixtures/%s", top ? top : DLT_TEST_SRCDIR, name);
    return buf;
}

cJSON *coco_fixture_expected(void)
{
    char path[4096];
    FILE *f = fopen(coco_fixture_path("coco_eval_expected.json", path, sizeof path), "rb");
    ck_assert_msg(f != NULL, "cannot open fixture %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
    buf[n] = 0;
    fclose(f);
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    ck_assert_msg(root != NULL, "fixture %s is not JSON", path);
    return root;
}

void coco_fixture_doubles(const cJSON *a, double *out, int n)
{
    ck_assert_msg(cJSON_IsArray(a) && cJSON_GetArraySize(a) == n, "fixture: want %d numbers", n);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) out[i++] = e->valuedouble;
}
