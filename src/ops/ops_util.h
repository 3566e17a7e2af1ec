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

/* A broadcast pair a, b -> out as a loop nest over rows of `cols` elements.
 * Axes of size 1 are dropped and adjacent axes with the same broadcast
 * pattern merged ([64,16,28,28] op [1,16,1,1] becomes [64,16,784] with b
 * strides [0,1,0]), so the inner row is as long as the layout allows. After
 * coalescing, the inner stride of a or b is 1 (or both are 0 on a rank-0
 * nest); ndim can be 0 (a single element). */
typedef struct {
    int ndim; /* coalesced rank */
    int64_t dim[DLT_MAX_DIMS];
    int64_t sa[DLT_MAX_DIMS], sb[DLT_MAX_DIMS];
    int64_t rows, cols; /* rows = numel / cols; cols = dim[ndim - 1] (1 when ndim = 0) */
} dlt_bcast_iter;
void dlt_bcast_init(dlt_bcast_iter *it, const dlt_shape *a, const dlt_shape *b, const dlt_shape *out);
/* Offsets of a and b at the start of row r. */
void dlt_bcast_row(const dlt_bcast_iter *it, int64_t r, int64_t *oa, int64_t *ob);
/* Inner stride of a / b (0: broadcast along the row, 1: contiguous). */
static inline int64_t dlt_bcast_sa(const dlt_bcast_iter *it) { return it->ndim ? it->sa[it->ndim - 1] : 0; }
static inline int64_t dlt_bcast_sb(const dlt_bcast_iter *it) { return it->ndim ? it->sb[it->ndim - 1] : 0; }

/* Work split for an elementwise loop nest of `rows` x `cols`: each task is a
 * row, or a piece of a row when there are too few rows to share among
 * threads, so one long contiguous row is still split. */
typedef struct {
    int64_t rows, cols, chunk, per_row, ntasks;
} dlt_ew_split;
dlt_ew_split dlt_ew_split_make(int64_t rows, int64_t cols, int nthreads);
/* Task t: row *r, columns [*c0, *c0 + *len). */
static inline void dlt_ew_task(const dlt_ew_split *s, int64_t t, int64_t *r, int64_t *c0, int64_t *len)
{
    *r = t / s->per_row;
    *c0 = (t % s->per_row) * s->chunk;
    *len = s->cols - *c0 < s->chunk ? s->cols - *c0 : s->chunk;
}
/* Elementwise loops of more elements than this go parallel. */
#define DLT_EW_PAR_MIN 32768

/* A vector-path pass (vmath.h) over n elements in blocks of DLT_VM_BLOCK:
 * `call` sees the block as [o, o + len). The blocks are fixed, so the split,
 * and the result, do not depend on the thread count; more than 8192 elements
 * go to `nthreads` threads. */
#define DLT_VM_BLOCK 4096
#define DLT_VM_BLOCKS(n, nthreads, call)                                                                     \
    do {                                                                                                     \
        int64_t n_ = (n), nb_ = (n_ + DLT_VM_BLOCK - 1) / DLT_VM_BLOCK;                                      \
        int nt_ = (nthreads);                                                                                \
        _Pragma("omp parallel for schedule(static) num_threads(nt_) if (n_ > 8192)")                         \
        for (int64_t bi_ = 0; bi_ < nb_; bi_++) {                                                            \
            int64_t o = bi_ * DLT_VM_BLOCK, len = n_ - o < DLT_VM_BLOCK ? n_ - o : DLT_VM_BLOCK;             \
            call;                                                                                            \
        }                                                                                                    \
    } while (0)

#endif
