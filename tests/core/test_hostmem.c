/* dlt_host_alloc (src/core/hostmem.c): small buffers 64-byte aligned, buffers
 * from 4 MiB 2 MiB aligned and, where the kernel's THP mode is "always" or
 * "madvise", backed by huge pages once touched (the mapping's AnonHugePages
 * in /proc/self/smaps); zeroed when asked; DLT_HUGEPAGES=off reported. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_base.h"
#include "dlt_test.h"

/* AnonHugePages (KiB) of the mapping that holds p, or -1 when unreadable */
static long anon_huge_kib(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int inside = 0;
    long kib = -1;
    uintptr_t a = (uintptr_t)p;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = a >= lo && a < hi;
            continue;
        }
        if (inside && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
            break;
    }
    fclose(f);
    return kib;
}

static const char *thp_mode(char *buf, size_t len)
{
    char info[160];
    dlt_hugepages_info(info, sizeof info);
    const char *m = strstr(info, "kernel THP ");
    snprintf(buf, len, "%s", m ? m + strlen("kernel THP ") : "?");
    buf[strcspn(buf, ":)")] = 0;
    return buf;
}

START_TEST(small_buffer_aligned_and_zeroed)
{
    unsetenv("DLT_HUGEPAGES");
    unsigned char *p = dlt_host_alloc(1000, 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_eq(p[i], 0);
    free(p);
    p = dlt_host_alloc(0, 0); /* a zero-byte buffer is still a buffer */
    ck_assert_ptr_nonnull(p);
    free(p);
}
END_TEST

START_TEST(large_buffer_on_huge_pages)
{
    unsetenv("DLT_HUGEPAGES");
    size_t n = (size_t)6 << 20;
    unsigned char *p = dlt_host_alloc(n + 123, 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % ((size_t)2 << 20), 0);
    for (size_t i = 0; i < n + 123; i += 4096)
        ck_assert_uint_eq(p[i], 0);
    memset(p, 1, n); /* touched: its pages exist */
    char mode[32];
    thp_mode(mode, sizeof mode);
    long kib = anon_huge_kib(p);
    printf("kernel THP mode %s: the 6 MiB buffer has %ld KiB of huge pages\n", mode, kib);
    if (strcmp(mode, "always") == 0 || strcmp(mode, "madvise") == 0)
        ck_assert_msg(kib >= 2048, "THP %s, but the touched 6 MiB buffer has %ld KiB of huge pages",
                      mode, kib);
    else
        ck_assert_msg(kib <= 0, "THP %s, but the buffer has %ld KiB of huge pages", mode, kib);
    free(p);
}
END_TEST

START_TEST(off_is_reported)
{
    char info[160];
    setenv("DLT_HUGEPAGES", "off", 1);
    ck_assert_int_eq(dlt_hugepages_on(), 0);
    dlt_hugepages_info(info, sizeof info);
    ck_assert_msg(strncmp(info, "small pages (DLT_HUGEPAGES=off", 30) == 0, "%s", info);
    unsigned char *p = dlt_host_alloc((size_t)5 << 20, 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    ck_assert_uint_eq(p[(5 << 20) - 1], 0);
    free(p);
    setenv("DLT_HUGEPAGES", "on", 1);
    ck_assert_int_eq(dlt_hugepages_on(), 1);
    ck_assert_int_eq(dlt_env_check(), DLT_OK);
    setenv("DLT_HUGEPAGES", "yes", 1);
    ck_assert_int_eq(dlt_env_check(), DLT_ERR_INVALID);
    unsetenv("DLT_HUGEPAGES");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostmem");
    TCase *tc = tcase_create("hostmem");
    tcase_add_test(tc, small_buffer_aligned_and_zeroed);
    tcase_add_test(tc, large_buffer_on_huge_pages);
    tcase_add_test(tc, off_is_reported);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
