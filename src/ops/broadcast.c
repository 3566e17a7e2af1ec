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
    it->ndim = out->ndim;
    for (int i = 0; i < out->ndim; i++)
        it->dim[i] = out->dim[i];
    dlt_broadcast_strides(a, out, it->sa);
    dlt_broadcast_strides(b, out, it->sb);
    it->cols = out->ndim ? out->dim[out->ndim - 1] : 1;
    it->rows = it->cols ? dlt_shape_numel(out) / it->cols : 0;
}

void dlt_bcast_row(const dlt_bcast_iter *it, int64_t r, int64_t *oa, int64_t *ob)
{
    int64_t a = 0, b = 0;
    for (int i = it->ndim - 2; i >= 0; i--) {
        int64_t idx = r % it->dim[i];
        r /= it->dim[i];
        a += idx * it->sa[i];
        b += idx * it->sb[i];
    }
    *oa = a;
    *ob = b;
}
