/* Helpers shared by op files: broadcasting, axis normalisation. */
#ifndef DLT_OPS_UTIL_H
#define DLT_OPS_UTIL_H

#include "dlt_opdef.h"

/* NumPy broadcast of a and b into out (dtype of a). */
dlt_status dlt_broadcast_shape(const dlt_shape *a, const dlt_shape *b, dlt_shape *out);
/* Element strides of `in` aligned to `out`'s rank, 0 on broadcast axes. */
void dlt_broadcast_strides(const dlt_shape *in, const dlt_shape *out, int64_t *strides);
/* Normalise a possibly negative axis against rank; -1 if out of range. */
static inline int dlt_axis(int axis, int ndim)
{
    if (axis < 0)
        axis += ndim;
    return axis >= 0 && axis < ndim ? axis : -1;
}

/* Visit out-of-place broadcast pairs: calls f(out_index_start, len, a_off, a_step,
 * b_off, b_step) for each innermost row. Used by binary kernels. */
typedef struct {
    int ndim;
    int64_t dim[DLT_MAX_DIMS];
    int64_t sa[DLT_MAX_DIMS], sb[DLT_MAX_DIMS];
    int64_t rows, cols; /* rows = numel / cols */
} dlt_bcast_iter;
void dlt_bcast_init(dlt_bcast_iter *it, const dlt_shape *a, const dlt_shape *b, const dlt_shape *out);
/* Offsets of a and b at the start of row r. */
void dlt_bcast_row(const dlt_bcast_iter *it, int64_t r, int64_t *oa, int64_t *ob);

#endif
