/* Stand-in for <cublas_v2.h> in the CPU emulation of the CUDA kernels. */
#include "cuda_emu.h"
