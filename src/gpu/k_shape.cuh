// Shared by the shape family's kernel files (k_shape_ops.cu, k_shape_slice.cu):
// the strided block copy of k_shape.cu. C++ only.
#ifndef DLT_K_SHAPE_CUH
#define DLT_K_SHAPE_CUH

#include "gpu_impl.h"

namespace dlt_kshape
{

// Copies the block of dims[0..ndim) whose element (i0..) is at src + sum(i *
// sstr) into dst + sum(i * dstr) (strides in elements of esz bytes), on the
// compute stream, as dlt_strided_copy does on the CPU.
dlt_status gpu_strided_copy(const dlt_kctx *k, size_t esz, int ndim, const int64_t *dims,
                            const void *src, const int64_t *sstr, void *dst, const int64_t *dstr);

} // namespace dlt_kshape

#endif
