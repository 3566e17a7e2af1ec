/* The run-time choice of the CPU's ISA level (dlt_cpu_isa.h), made once per
 * process. */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_cpu_isa.h"

static const char *const isa_names[DLT_ISA_N] = {"libm", "baseline", "avx2", "avx512"};

const char *dlt_cpu_isa_name(dlt_cpu_isa isa)
{
    return (int)isa >= 0 && isa < DLT_ISA_N ? isa_names[isa] : "?";
}

int dlt_cpu_isa_compiled(dlt_cpu_isa isa)
{
#ifdef DLT_HAVE_X86_ISA
    return (int)isa >= 0 && isa < DLT_ISA_N;
#else
    return isa == DLT_ISA_LIBM || isa == DLT_ISA_BASELINE;
#endif
}

/* __builtin_cpu_supports checks XCR0 too: the OS saves the registers */
int dlt_cpu_isa_supported(dlt_cpu_isa isa)
{
    if (!dlt_cpu_isa_compiled(isa))
        return 0;
#ifdef DLT_HAVE_X86_ISA
    __builtin_cpu_init();
    if (isa == DLT_ISA_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == DLT_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#endif
    return 1;
}

/* the choice: -1 until made; every thread that races computes the same value */
static atomic_int chosen = -1;
static char why[160];
static atomic_int why_ready;

static dlt_cpu_isa choose(void)
{
    dlt_cpu_isa best = DLT_ISA_BASELINE;
    for (int i = DLT_ISA_N - 1; i > DLT_ISA_BASELINE; i--)
        if (dlt_cpu_isa_supported((dlt_cpu_isa)i)) {
            best = (dlt_cpu_isa)i;
            break;
        }
    const char *env = getenv("DLT_CPU_ISA");
    char buf[sizeof why];
    dlt_cpu_isa pick = best;
    if (!env || !*env) {
        snprintf(buf, sizeof buf, "%s (best this CPU runs; DLT_CPU_ISA unset)", isa_names[best]);
    } else {
        int want = -1;
        for (int i = 0; i < DLT_ISA_N; i++)
            if (strcmp(env, isa_names[i]) == 0)
                want = i;
        if (want < 0)
            snprintf(buf, sizeof buf,
                     "%s (DLT_CPU_ISA=%.32s is not libm, baseline, avx2 or avx512)",
                     isa_names[best], env);
        else if (want != DLT_ISA_LIBM && !dlt_cpu_isa_supported((dlt_cpu_isa)want))
            snprintf(buf, sizeof buf, "%s (DLT_CPU_ISA=%s: %s)", isa_names[best], env,
                     dlt_cpu_isa_compiled((dlt_cpu_isa)want) ? "this CPU lacks it"
                                                             : "not in this build");
        else {
            pick = (dlt_cpu_isa)want;
            snprintf(buf, sizeof buf, "%s (DLT_CPU_ISA=%s)", isa_names[pick], env);
        }
    }
    int expect = 0;
    if (atomic_compare_exchange_strong(&why_ready, &expect, 1))
        memcpy(why, buf, sizeof why);
    return pick;
}

dlt_cpu_isa dlt_cpu_isa_chosen(void)
{
    int c = atomic_load_explicit(&chosen, memory_order_acquire);
    if (c < 0) {
        c = (int)choose();
        atomic_store_explicit(&chosen, c, memory_order_release);
    }
    return (dlt_cpu_isa)c;
}

const char *dlt_cpu_isa_why(void)
{
    dlt_cpu_isa_chosen();
    return why;
}
