// GPU kernels: elementwise family (see gpu_impl.h). Placeholder table until the kernels land.
#include "gpu_impl.h"

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_elementwise[] = {{NULL, NULL, NULL}};
