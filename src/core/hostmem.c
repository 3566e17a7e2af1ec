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
#include <stdint.h>
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

/* Asks for huge pages over [p, p + n), whole 2 MiB blocks (advice: refused,
 * it changes nothing). */
static void advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

/* A zeroed buffer from HUGE_MIN bytes on is its own anonymous mapping of
 * whole 2 MiB blocks, 2 MiB aligned: zero until touched, so one that is never
 * written (a device run's host gradients) costs no memory, as calloc's did.
 * Over-allocated by a block, then the unaligned head and the tail unmapped. */
static void *map_zeroed(size_t n)
{
    size_t len = n + HUGE_PAGE;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    size_t head = a - (uintptr_t)m;
    if (head)
        munmap(m, head);
    if (len - head > n)
        munmap((char *)a + n, len - head - n);
    return (void *)a;
}

static size_t whole_blocks(size_t bytes)
{
    return (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
}

void *dlt_host_alloc(size_t bytes, int zero)
{
    int huge = bytes >= HUGE_MIN && dlt_hugepages_on();
    if (zero && bytes >= HUGE_MIN) {
        void *p = map_zeroed(whole_blocks(bytes));
        if (p && huge)
            advise_huge(p, whole_blocks(bytes));
        return p;
    }
    size_t al = huge ? HUGE_PAGE : SMALL_ALIGN;
    size_t n = (bytes ? bytes + al - 1 : al) / al * al;
    void *p = aligned_alloc(al, n);
    if (p && huge)
        advise_huge(p, n);
    if (p && zero)
        memset(p, 0, n);
    return p;
}

void dlt_host_free(void *p, size_t bytes, int zero)
{
    if (p && zero && bytes >= HUGE_MIN)
        munmap(p, whole_blocks(bytes));
    else
        free(p);
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
