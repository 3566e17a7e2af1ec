/* The avx2 path of vmath.h: vmath_kernels.h compiled with avx2's flags
 * (src/ops/vmath.mk). */
#define VM_TABLE dlt_vmath_avx2
#define VM_ISA_NAME "avx2"
#include "vmath_kernels.h"
