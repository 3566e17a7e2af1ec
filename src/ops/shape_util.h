/* Data-movement helpers shared by the shape family's kernels (not installed). */
#ifndef DLT_SHAPE_UTIL_H
#define DLT_SHAPE_UTIL_H

#include "dlt_opdef.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Copy an ndim-dimensional block of `dims` elements of `esz` bytes: element
 * (i0, ..., in) moves from src + sum(i * sstr) to dst + sum(i * dstr) (strides
 * in elements, may be any non-negative values). Adjacent axes that are
 * contiguous on both sides are merged first, so permutes and slices of large
 * blocks become a few memcpy calls. Parallel over rows above ~32k elements. */
void dlt_strided_copy(size_t esz, int ndim, const int64_t *dims, const void *src, const int64_t *sstr,
                      void *dst, const int64_t *dstr, int nthreads);
/* Row-major element strides of s. */
void dlt_dense_strides(const dlt_shape *s, int64_t *str);
/* Product of dims [lo, hi). */
int64_t dlt_dims_prod(const dlt_shape *s, int lo, int hi);
/* dtypes that the CPU moves (every dtype; arithmetic kernels need f32). */
int dlt_shape_is_float(dlt_dtype t);

#ifdef __cplusplus
}
#endif
#endif
