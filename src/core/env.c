/* The DLT_* environment variables that choose CPU kernels and memory, checked in one
 * place. Each module reads its own variable when it first needs it (gemm.c,
 * conv_provider.c, conv_dnnl.c, vmath.c, hostmem.c) and falls back to its automatic
 * choice on a value it does not know, saying so in `--version`; the tools
 * call dlt_env_check() at start-up so that a mistyped value is one error
 * line instead of a silent fallback. */
#include <stdlib.h>
#include <string.h>

#include "dlt_base.h"

static const struct {
    const char *name;
    const char *values[5]; /* the accepted values, NULL-terminated */
} vars[] = {
    {"DLT_GEMM", {"openblas", "dnnl", "auto", NULL}},
    {"DLT_CONV", {"im2col", "dnnl", "direct", "auto", NULL}},
    {"DLT_CONV_LAYOUT", {"plain", "blocked", "auto", NULL}},
    {"DLT_CONV_WSPLIT", {"off", "auto", NULL}},
    {"DLT_CPU_ISA", {"libm", "baseline", "avx2", "avx512", NULL}},
    {"DLT_HUGEPAGES", {"on", "off", NULL}},
};

dlt_status dlt_env_check(void)
{
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i].name);
        if (!v || !*v)
            continue;
        int ok = 0;
        for (int k = 0; vars[i].values[k]; k++)
            ok |= strcmp(v, vars[i].values[k]) == 0;
        if (ok)
            continue;
        char allowed[96] = "";
        for (int k = 0; vars[i].values[k]; k++) {
            if (k)
                strcat(allowed, vars[i].values[k + 1] ? ", " : " or ");
            strcat(allowed, vars[i].values[k]);
        }
        return dlt_seterr(DLT_ERR_INVALID, "environment: %s=%.40s is not %s (or unset)", vars[i].name, v,
                          allowed);
    }
    return DLT_OK;
}
