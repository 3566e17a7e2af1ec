/* Private to the shape family (src/ops/shape_*.c and src/gpu/k_shape*.cu): the
 * ops' attribute structs and the index rules both kernels must share. C and
 * C++ (nvcc) alike. */
#ifndef DLT_SHAPE_IMPL_H
#define DLT_SHAPE_IMPL_H

#include "dlt_opdef.h"
#include "shape_util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* take, embedding, take_grad, gather, scatter_add */
typedef struct {
    int axis;
    int64_t n; /* size of `axis` in the indexed tensor (for the adjoints' output) */
} idx_attr;

/* permute */
typedef struct {
    int nperm;
    int perm[DLT_MAX_DIMS];
} permute_attr;

/* concat, split2..4: both view tensors as [outer, n, inner] around `axis`. */
typedef struct {
    int axis;
    int nparts;
    int64_t sizes[DLT_MAX_IN]; /* split: part sizes along axis */
} cat_attr;

/* slice: as the caller gave them, for every axis of the input (192 bytes, the limit). */
typedef struct {
    int64_t start[DLT_MAX_DIMS], stop[DLT_MAX_DIMS], step[DLT_MAX_DIMS];
} slice_attr;

/* pad (strided constant pad): out = value everywhere, out[start + i * step] = x[i]. */
typedef struct {
    int64_t start[DLT_MAX_DIMS], out[DLT_MAX_DIMS];
    int32_t step[DLT_MAX_DIMS];
    float value;
} spad_attr;

/* pad_reflect, pad_reflect_grad */
typedef struct {
    int64_t before[DLT_MAX_DIMS], after[DLT_MAX_DIMS];
} rpad_attr;

/* Python-style negative indices; DLT_SLICE_END stops at the end. Fills the
 * normalised start and the output length per axis of s, or returns an error
 * (shape_slice.c). */
dlt_status dlt_slice_norm(const slice_attr *a, const dlt_shape *s, int64_t *start, int64_t *len);

/* Permute, slice and pad are each one strided block copy (dlt_strided_copy on
 * the CPU, gpu_strided_copy in src/gpu/k_shape.cu). Their geometry, shared by
 * both backends: host code, the kernels only get the strides. */

/* permute: output element (i...) reads the input at strides sstr (the input
 * stride of axis perm[d] for output axis d); ostr: the output's dense strides. */
static inline void dlt_permute_geom(const permute_attr *a, const dlt_shape *si, const dlt_shape *so,
                                    int64_t *sstr, int64_t *ostr)
{
    int64_t istr[DLT_MAX_DIMS];
    dlt_dense_strides(si, istr);
    dlt_dense_strides(so, ostr);
    for (int i = 0; i < so->ndim; i++)
        sstr[i] = istr[a->perm[i]];
}

/* slice: the output (dense strides ostr) reads the input from element *off
 * on, at strides sstr (the input's times the step). Errors as dlt_slice_norm
 * (which the shape rule has already checked). */
static inline dlt_status dlt_slice_geom(const slice_attr *a, const dlt_shape *si, const dlt_shape *so,
                                        int64_t *off, int64_t *sstr, int64_t *ostr)
{
    int64_t start[DLT_MAX_DIMS], len[DLT_MAX_DIMS], istr[DLT_MAX_DIMS];
    dlt_status st = dlt_slice_norm(a, si, start, len);
    *off = 0;
    if (st != DLT_OK)
        return st;
    dlt_dense_strides(si, istr);
    dlt_dense_strides(so, ostr);
    for (int i = 0; i < si->ndim; i++) {
        *off += start[i] * istr[i];
        sstr[i] = istr[i] * a->step[i];
    }
    return DLT_OK;
}

/* pad (strided): the input (dense strides istr) is written into the output
 * from element *off on, at strides dstr (the output's times the step). */
static inline void dlt_pad_geom(const spad_attr *a, const dlt_shape *si, const dlt_shape *so, int64_t *off,
                                int64_t *istr, int64_t *dstr)
{
    int64_t ostr[DLT_MAX_DIMS];
    dlt_dense_strides(si, istr);
    dlt_dense_strides(so, ostr);
    *off = 0;
    for (int i = 0; i < si->ndim; i++) {
        *off += a->start[i] * ostr[i];
        dstr[i] = ostr[i] * a->step[i];
    }
}

/* Reflect padding: the input position (of n) that output position o reads,
 * with b elements padded before. */
static inline DLT_HD int64_t dlt_reflect_index(int64_t o, int64_t b, int64_t n)
{
    int64_t s = o - b;
    if (s < 0)
        s = -s;
    if (s > n - 1)
        s = 2 * (n - 1) - s;
    return s;
}

/* Output positions whose reflection is input position j (at most 3, in
 * ascending order), padding b before and a after an axis of size n. */
static inline DLT_HD int dlt_reflect_preimages(int64_t j, int64_t n, int64_t b, int64_t a,
                                               int64_t *o)
{
    int c = 0;
    if (j >= 1 && j <= b)
        o[c++] = b - j;
    o[c++] = j + b;
    if (j >= n - 1 - a && j <= n - 2)
        o[c++] = b + 2 * (n - 1) - j;
    return c;
}

#ifdef __cplusplus
}
#endif
#endif
