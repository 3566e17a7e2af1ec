/* The x86-64 ISA level that the CPU's own vector code runs (vmath's elementwise
 * math in src/ops, the optimizer's update loops in src/optim): the best level
 * this CPU supports (__builtin_cpu_supports), or the one the environment
 * variable DLT_CPU_ISA = libm | baseline | avx2 | avx512 names, decided once
 * per process. "libm" is vmath's per-element double evaluation; modules
 * without such a path run their baseline code under it. A level the CPU
 * lacks, or an unknown name, falls back to the best supported one and
 * dlt_cpu_isa_why() says so. Non-x86 builds have libm and baseline only.
 * Internal to libdltrain (exported for tests and benches). */
#ifndef DLT_CPU_ISA_H
#define DLT_CPU_ISA_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DLT_ISA_LIBM = 0,
    DLT_ISA_BASELINE,
    DLT_ISA_AVX2,
    DLT_ISA_AVX512,
    DLT_ISA_N
} dlt_cpu_isa;

/* "libm", "baseline", "avx2", "avx512" ("?" outside the range) */
const char *dlt_cpu_isa_name(dlt_cpu_isa isa);
/* whether this build has code for the level at all */
int dlt_cpu_isa_compiled(dlt_cpu_isa isa);
/* whether it is compiled in and this CPU (and OS) runs it */
int dlt_cpu_isa_supported(dlt_cpu_isa isa);
/* the level in use: chosen on the first call (thread-safe) */
dlt_cpu_isa dlt_cpu_isa_chosen(void);
/* why: e.g. "avx512 (best this CPU runs; DLT_CPU_ISA unset)" */
const char *dlt_cpu_isa_why(void);

#ifdef __cplusplus
}
#endif

#endif
