/* NumPy-style broadcasting shared by elementwise ops. */
#include "ops_util.h"

dlt_status dlt_broadcast_shape(const dlt_shape *a, const dlt_shape *b, dlt_shape *out)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    *out = *a;
    out->ndim = nd;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return dlt_seterr(DLT_ERR_SHAPE, "shapes do not broadcast (axis %d: %lld vs %lld)", i,
                              (long long)da, (long long)db);
        out->dim[i] = da == 1 ? db : da;
    }
    return DLT_OK;
}

void dlt_broadcast_strides(const dlt_shape *in, const dlt_shape *out, int64_t *strides)
{
    int64_t s = 1;
    for (int i = out->ndim - 1; i >= 0; i--) {
        int j = i - (out->ndim - in->ndim);
        if (j < 0 || in->dim[j] == 1) {
            strides[i] = 0;
        } else {
            strides[i] = s;
        }
        if (j >= 0)
            s *= in->dim[j];
    }
}

void dlt_bcast_init(dlt_bcast_iter *it, const dlt_shape *a, const dlt_shape *b, const dlt_shape *out)
{
    int64_t sa[DLT_MAX_DIMS], sb[DLT_MAX_DIMS];
    dlt_broadcast_strides(a, out, sa);
    dlt_broadcast_strides(b, out, sb);
    int nd = 0;
    for (int i = 0; i < out->ndim; i++) {
        int64_t d = out->dim[i];
        if (d == 1)
            continue; /* strides of a size-1 axis never matter */
        /* merge into the previous axis when stepping it equals stepping this
         * axis d times, for both a and b (0 == 0 * d for broadcast axes) */
        if (nd > 0 && it->sa[nd - 1] == sa[i] * d && it->sb[nd - 1] == sb[i] * d) {
            it->dim[nd - 1] *= d;
            it->sa[nd - 1] = sa[i];
            it->sb[nd - 1] = sb[i];
            continue;
        }
        it->dim[nd] = d, it->sa[nd] = sa[i], it->sb[nd] = sb[i];
        nd++;
    }
    it->ndim = nd;
    it->cols = nd ? it->dim[nd - 1] : 1;
    it->rows = it->cols ? dlt_shape_numel(out) / it->cols : 0;
}

void dlt_bcast_row(const dlt_bcast_iter *it, int64_t r, int64_t *oa, int64_t *ob)
{
    int64_t a = 0, b = 0;
    for (int i = it->ndim - 2; i >= 0 && r; i--) {
        int64_t idx = r % it->dim[i];
        r /= it->dim[i];
        a += idx * it->sa[i];
        b += idx * it->sb[i];
    }
    *oa = a;
    *ob = b;
}

dlt_ew_split dlt_ew_split_make(int64_t rows, int64_t cols, int nthreads)
{
    dlt_ew_split s;
    s.rows = rows, s.cols = cols, s.chunk = cols, s.per_row = 1;
    /* fewer rows than ~4 per thread: cut rows into pieces of >= 4096 */
    if (nthreads > 1 && rows < 4 * (int64_t)nthreads && cols > 8192) {
        int64_t want = (4 * (int64_t)nthreads + rows - 1) / rows;
        int64_t chunk = (cols + want - 1) / want;
        chunk = chunk < 4096 ? 4096 : (chunk + 15) / 16 * 16;
        s.chunk = chunk;
        s.per_row = (cols + chunk - 1) / chunk;
    }
    s.ntasks = cols ? rows * s.per_row : 0;
    return s;
}
