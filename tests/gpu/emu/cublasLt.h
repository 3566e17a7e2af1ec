/* Stand-in for <cublasLt.h> in the CPU emulation of the CUDA kernels. */
#include "cuda_emu.h"
