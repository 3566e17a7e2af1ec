/* The vmath path (vmath.h) of the ISA level chosen once per process
 * (dlt_cpu_isa_chosen, src/core/cpu_isa.c: the best this CPU supports, or
 * the one DLT_CPU_ISA names); dlt_vmath_describe() says which and why. */
#include "config.h"

#include <stdio.h>

#include "vmath.h"

/* the table of a level known to be compiled in and supported */
static const dlt_vmath_ops *table_of(dlt_cpu_isa isa)
{
    if (isa == DLT_ISA_LIBM)
        return NULL;
#ifdef DLT_HAVE_X86_ISA
    if (isa == DLT_ISA_AVX2)
        return &dlt_vmath_avx2;
    if (isa == DLT_ISA_AVX512)
        return &dlt_vmath_avx512;
#endif
    return &dlt_vmath_base;
}

const dlt_vmath_ops *dlt_vmath_isa(dlt_cpu_isa isa)
{
    return dlt_cpu_isa_supported(isa) ? table_of(isa) : NULL;
}

const dlt_vmath_ops *dlt_vmath(void)
{
    return table_of(dlt_cpu_isa_chosen());
}

const dlt_vmath_ops *dlt_vmath_vec(void)
{
    const dlt_vmath_ops *v = dlt_vmath();
    return v ? v : &dlt_vmath_base;
}

const char *dlt_vmath_describe(void)
{
    static char line[224];
    snprintf(line, sizeof line, "CPU elementwise math: %s", dlt_cpu_isa_why());
    return line;
}
