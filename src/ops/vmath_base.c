/* The baseline path of vmath.h: vmath_kernels.h compiled with baseline's flags
 * (src/ops/vmath.mk). */
#define VM_TABLE dlt_vmath_base
#define VM_ISA_NAME "baseline"
#include "vmath_kernels.h"
