/* The avx512 path of vmath.h: vmath_kernels.h compiled with avx512's flags
 * (src/ops/vmath.mk). */
#define VM_TABLE dlt_vmath_avx512
#define VM_ISA_NAME "avx512"
#include "vmath_kernels.h"
