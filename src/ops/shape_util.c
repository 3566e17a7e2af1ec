/* Strided block copies: the one loop behind permute, slice, pad, concat, split. */
#include <string.h>

#include "shape_util.h"

void dlt_dense_strides(const dlt_shape *s, int64_t *str)
{
    int64_t st = 1;
    for (int i = s->ndim - 1; i >= 0; i--) {
        str[i] = st;
        st *= s->dim[i];
    }
}

int64_t dlt_dims_prod(const dlt_shape *s, int lo, int hi)
{
    int64_t p = 1;
    for (int i = lo; i < hi; i++)
        p *= s->dim[i];
    return p;
}

int dlt_shape_is_float(dlt_dtype t) { return t == DLT_F32 || t == DLT_F16 || t == DLT_BF16; }

#define COPY_ROW(T)                                                                                \
    do {                                                                                           \
        const T *s_ = (const T *)src + so;                                                         \
        T *d_ = (T *)dst + doff;                                                                   \
        for (int64_t c = 0; c < cols; c++)                                                         \
            d_[c * ds] = s_[c * ss];                                                               \
    } while (0)

#define TILE 32
#define COPY_TILE(T)                                                                               \
    do {                                                                                           \
        const T *s_ = (const T *)src + so;                                                         \
        T *d_ = (T *)dst + doff;                                                                   \
        for (int64_t i = i0; i < i1; i++)                                                          \
            for (int64_t c = c0; c < c1; c++)                                                      \
                d_[i * dq + c * ds] = s_[i * sq + c * ss];                                         \
    } while (0)

/* Tiles of TILE x TILE over axes q and nd - 1, parallel over tiles and the other axes. */
static void tiled_copy(size_t esz, int nd, const int64_t *d, const void *src, const int64_t *sa, void *dst,
                       const int64_t *da, int q, int nthreads)
{
    int64_t cols = d[nd - 1], ss = sa[nd - 1], ds = da[nd - 1], sq = sa[q], dq = da[q];
    int64_t nti = (d[q] + TILE - 1) / TILE, ntc = (cols + TILE - 1) / TILE, rest = 1;
    for (int i = 0; i < nd - 1; i++)
        if (i != q)
            rest *= d[i];
    int64_t ntasks = rest * nti * ntc;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (ntasks > 1 && rest * d[q] * cols > 32768)
    for (int64_t t = 0; t < ntasks; t++) {
        int64_t r = t / (nti * ntc), ti = t / ntc % nti, tc = t % ntc, so = 0, doff = 0, rem = r;
        for (int i = nd - 2; i >= 0; i--) {
            if (i == q)
                continue;
            int64_t k = rem % d[i];
            rem /= d[i];
            so += k * sa[i];
            doff += k * da[i];
        }
        int64_t i0 = ti * TILE, i1 = i0 + TILE < d[q] ? i0 + TILE : d[q];
        int64_t c0 = tc * TILE, c1 = c0 + TILE < cols ? c0 + TILE : cols;
        switch (esz) {
        case 1:
            COPY_TILE(uint8_t);
            break;
        case 2:
            COPY_TILE(uint16_t);
            break;
        case 8:
            COPY_TILE(uint64_t);
            break;
        default:
            COPY_TILE(uint32_t);
            break;
        }
    }
}

void dlt_strided_copy(size_t esz, int ndim, const int64_t *dims, const void *src, const int64_t *sstr,
                      void *dst, const int64_t *dstr, int nthreads)
{
    int64_t d[DLT_MAX_DIMS + 1], sa[DLT_MAX_DIMS + 1], da[DLT_MAX_DIMS + 1];
    int nd = 0;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] == 1)
            continue; /* size-1 axes move nothing */
        if (nd > 0 && sa[nd - 1] == sstr[i] * dims[i] && da[nd - 1] == dstr[i] * dims[i]) {
            d[nd - 1] *= dims[i]; /* contiguous with the previous axis on both sides */
            sa[nd - 1] = sstr[i];
            da[nd - 1] = dstr[i];
            continue;
        }
        d[nd] = dims[i], sa[nd] = sstr[i], da[nd] = dstr[i];
        nd++;
    }
    if (nd == 0) {
        d[0] = 1, sa[0] = 1, da[0] = 1;
        nd = 1;
    }
    int64_t cols = d[nd - 1], ss = sa[nd - 1], ds = da[nd - 1], rows = 1;
    for (int i = 0; i < nd - 1; i++)
        rows *= d[i];
    int contiguous = ss == 1 && ds == 1;
    /* a transpose: the side read (or written) with a stride in the inner loop is
     * contiguous along another axis q; copy in square tiles so both sides stay
     * in cache */
    for (int q = 0; !contiguous && q < nd - 1; q++)
        if ((ds == 1 && sa[q] == 1) || (ss == 1 && da[q] == 1)) {
            tiled_copy(esz, nd, d, src, sa, dst, da, q, nthreads);
            return;
        }
#pragma omp parallel for schedule(static) num_threads(nthreads) if (rows > 1 && rows * cols > 32768)
    for (int64_t r = 0; r < rows; r++) {
        int64_t so = 0, doff = 0, rem = r;
        for (int i = nd - 2; i >= 0; i--) {
            int64_t q = rem % d[i];
            rem /= d[i];
            so += q * sa[i];
            doff += q * da[i];
        }
        if (contiguous) {
            memcpy((char *)dst + (size_t)doff * esz, (const char *)src + (size_t)so * esz,
                   (size_t)cols * esz);
            continue;
        }
        switch (esz) {
        case 1:
            COPY_ROW(uint8_t);
            break;
        case 2:
            COPY_ROW(uint16_t);
            break;
        case 8:
            COPY_ROW(uint64_t);
            break;
        default:
            COPY_ROW(uint32_t);
            break;
        }
    }
}
