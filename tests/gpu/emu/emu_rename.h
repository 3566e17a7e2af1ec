/* Force-included into every source of the CUDA emulation (tests/gpu/local.mk):
 * the emulated kernel tables and the backend helpers get names of their own,
 * so they never meet the real ones a CUDA build of libdltrain exports (the
 * emulation's other symbols are hidden: -fvisibility=hidden). */
#define dlt_gpu_kernels_accum emu_gpu_kernels_accum
#define dlt_gpu_kernels_unary emu_gpu_kernels_unary
#define dlt_gpu_kernels_activation emu_gpu_kernels_activation
#define dlt_gpu_kernels_binary emu_gpu_kernels_binary
#define dlt_gpu_kernels_dropout emu_gpu_kernels_dropout
#define dlt_gpu_kernels_random emu_gpu_kernels_random
#define dlt_gpu_kernels_matmul emu_gpu_kernels_matmul
#define dlt_gpu_kernels_reduce emu_gpu_kernels_reduce
#define dlt_gpu_kernels_reduce_ext emu_gpu_kernels_reduce_ext
#define dlt_gpu_kernels_softmax emu_gpu_kernels_softmax
#define dlt_gpu_kernels_metric emu_gpu_kernels_metric
#define dlt_gpu_kernels_loss emu_gpu_kernels_loss
#define dlt_gpu_kernels_loss_pw emu_gpu_kernels_loss_pw
#define dlt_gpu_kernels_conv emu_gpu_kernels_conv
#define dlt_gpu_kernels_pool emu_gpu_kernels_pool
#define dlt_gpu_kernels_upsample emu_gpu_kernels_upsample
#define dlt_gpu_kernels_norm emu_gpu_kernels_norm
#define dlt_gpu_kernels_shape_ops emu_gpu_kernels_shape_ops
#define dlt_gpu_kernels_shape_slice emu_gpu_kernels_shape_slice
#define dlt_gpu_kernels_shape_gather emu_gpu_kernels_shape_gather
#define dlt_gpu_kernels_attention emu_gpu_kernels_attention
#define dlt_gpu_kernels_rnn emu_gpu_kernels_rnn
#define dlt_gpu_kernels_box emu_gpu_kernels_box
#define dlt_gpu_kernels_roi emu_gpu_kernels_roi
#define dlt_gpu_kernels_cast emu_gpu_kernels_cast
#define dlt_gpu_check emu_gpu_check
#define dlt_gpu_check_cublas emu_gpu_check_cublas
#define dlt_gpu_check_cudnn emu_gpu_check_cudnn
#define dlt_gpu_launched emu_gpu_launched
