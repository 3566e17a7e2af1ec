/* Stand-in for <cuda_runtime.h> in the CPU emulation of the CUDA kernels. */
#include "cuda_emu.h"
