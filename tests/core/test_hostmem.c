/* dlt_host_alloc (src/core/hostmem.c): small buffers 64-byte aligned, buffers
 * from 4 MiB 2 MiB aligned (zeroed ones: a mapping of their own, with
 * nothing resident until touched) and, where the kernel's THP mode is "always" or
 * "madvise", backed by huge pages once touched (the mapping's AnonHugePages
 * in /proc/self/smaps); zeroed when asked; DLT_HUGEPAGES=off reported. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_base.h"
#include "dlt_test.h"

/* field `what` (e.g. "AnonHugePages:") in KiB of the mapping that holds p,
 * or -1 when unreadable */
static long smaps_kib(const void *p, const char *what)
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
        if (inside && strncmp(line, what, strlen(what)) == 0 &&
            sscanf(line + strlen(what), "%ld kB", &kib) == 1)
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
    dlt_host_free(p, 1000, 1);
    p = dlt_host_alloc(0, 0); /* a zero-byte buffer is still a buffer */
    ck_assert_ptr_nonnull(p);
    free(p);
}
END_TEST

/* 6 MiB (+ a tail) buffers, zeroed or not: touched, the mapping holding each
 * has huge pages where the kernel's THP mode allows them */
START_TEST(large_buffer_on_huge_pages)
{
    unsetenv("DLT_HUGEPAGES");
    char mode[32];
    thp_mode(mode, sizeof mode);
    int thp = strcmp(mode, "always") == 0 || strcmp(mode, "madvise") == 0;
    size_t n = (size_t)6 << 20;
    for (int zero = 0; zero <= 1; zero++) {
        unsigned char *p = dlt_host_alloc(n + 123, zero);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % ((size_t)2 << 20), 0);
        if (zero) { /* its own mapping, no memory until touched */
            long rss = smaps_kib(p, "Rss:");
            ck_assert_msg(rss == 0, "a fresh zeroed 6 MiB buffer has %ld KiB resident", rss);
            for (size_t i = 0; i < n + 123; i += 4096)
                ck_assert_uint_eq(p[i], 0);
        }
        memset(p, 1, n); /* touched: its pages exist */
        long kib = smaps_kib(p, "AnonHugePages:");
        printf("kernel THP mode %s: the %s 6 MiB buffer has %ld KiB of huge pages\n", mode,
               zero ? "zeroed" : "plain", kib);
        if (thp)
            ck_assert_msg(kib >= 4096,
                          "THP %s, but a touched 6 MiB buffer has %ld KiB of huge pages", mode,
                          kib);
        else
            ck_assert_msg(kib <= 0, "THP %s, but the buffer has %ld KiB of huge pages", mode, kib);
        dlt_host_free(p, n + 123, zero);
    }
}
END_TEST

START_TEST(off_is_reported)
{
    char info[160];
    setenv("DLT_HUGEPAGES", "off", 1);
    ck_assert_int_eq(dlt_hugepages_on(), 0);
    dlt_hugepages_info(info, sizeof info);
    ck_assert_msg(strncmp(info, "small pages (DLT_HUGEPAGES=off", 30) == 0, "%s", info);
    unsigned char *p = dlt_host_alloc((size_t)5 << 20, 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    memset(p, 1, (size_t)5 << 20);
    long kib = smaps_kib(p, "AnonHugePages:");
    ck_assert_msg(kib <= 0 || strcmp(thp_mode(info, sizeof info), "always") == 0,
                  "DLT_HUGEPAGES=off, THP madvise, but the buffer has %ld KiB of huge pages", kib);
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
