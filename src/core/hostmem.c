/* Large host buffers on transparent huge pages. The plan's arena, the flat
 * parameter and gradient buffers and the optimizer's state are each swept
 * several times per step (elementwise kernels, GEMM operands, the reducer,
 * clipping, the update); on 4 KiB pages every sweep of a 200 MiB arena walks
 * 51,200 page-table entries and misses the TLB throughout. Debian's kernels
 * default to THP "madvise": a buffer gets 2 MiB pages only when it asks, so a
 * buffer of HUGE_MIN bytes or more is aligned to 2 MiB and asks before its
 * first touch. Measured on 2 threads (transformer_bench gpt-mini 16 128 2 8
 * 4096, interleaved runs): 279-283 ms per step on 4 KiB pages, 265-268 ms on
 * huge pages; ResNet-20's step_bench 146-149 -> 139-143 ms.
 * DLT_HUGEPAGES=off keeps every buffer on small pages (and the old alignment);
 * a kernel without THP, or set to "never", ignores the advice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dlt_base.h"

#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_MIN ((size_t)4 << 20)
#define SMALL_ALIGN 64

int dlt_hugepages_on(void)
{
    const char *e = getenv("DLT_HUGEPAGES");
    return !(e && strcmp(e, "off") == 0);
}

void *dlt_host_alloc(size_t bytes, int zero)
{
    size_t al = bytes >= HUGE_MIN && dlt_hugepages_on() ? HUGE_PAGE : SMALL_ALIGN;
    size_t n = (bytes ? bytes + al - 1 : al) / al * al;
    void *p = aligned_alloc(al, n);
    if (!p)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (al == HUGE_PAGE)
        (void)madvise(p, n, MADV_HUGEPAGE); /* advice: refused, it changes nothing */
#endif
    if (zero)
        memset(p, 0, n);
    return p;
}

/* The bracketed word of the kernel's THP mode ("always", "madvise" or
 * "never"), or "not available". */
static void thp_mode(char *buf, size_t len)
{
    char line[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    int ok = f && fgets(line, sizeof line, f);
    if (f)
        fclose(f);
    char *a = ok ? strchr(line, '[') : NULL, *b = a ? strchr(a, ']') : NULL;
    if (!b) {
        snprintf(buf, len, "not available");
        return;
    }
    snprintf(buf, len, "%.*s", (int)(b - a - 1), a + 1);
}

void dlt_hugepages_info(char *buf, size_t len)
{
    char mode[32];
    thp_mode(mode, sizeof mode);
    if (!dlt_hugepages_on())
        snprintf(buf, len, "small pages (DLT_HUGEPAGES=off; kernel THP %s)", mode);
    else
        snprintf(buf, len, "2 MiB huge pages asked for host buffers >= 4 MiB (kernel THP %s%s)",
                 mode,
                 strcmp(mode, "never") == 0 || strcmp(mode, "not available") == 0 ? ": small pages"
                                                                                  : "");
}
