/* Force-included into every source of the CUDA emulation (tests/gpu/local.mk):
 * the emulated kernel tables and the backend helpers get names of their own,
 * so they never meet the real ones a CUDA build of libdltrain exports (the
 * emulation's other symbols are hidden: -fvisibility=hidden). */
#define dlt_gpu_kernels_core emu_gpu_kernels_core
#define dlt_gpu_kernels_elementwise emu_gpu_kernels_elementwise
#define dlt_gpu_kernels_reduce emu_gpu_kernels_reduce
#define dlt_gpu_kernels_conv emu_gpu_kernels_conv
#define dlt_gpu_kernels_norm emu_gpu_kernels_norm
#define dlt_gpu_kernels_shape emu_gpu_kernels_shape
#define dlt_gpu_kernels_attention emu_gpu_kernels_attention
#define dlt_gpu_check emu_gpu_check
#define dlt_gpu_check_cublas emu_gpu_check_cublas
#define dlt_gpu_check_cudnn emu_gpu_check_cudnn
#define dlt_gpu_launched emu_gpu_launched
