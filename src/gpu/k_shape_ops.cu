// GPU kernels of the shape_ops family (shape_ops.c): permute, concat and
// split2..4, each one strided block copy (k_shape.cuh) per part.
#include "gpu_impl.h"
#include "k_shape.cuh"
#include "shape_impl.h"
#include "shape_util.h"

using dlt_kshape::gpu_strided_copy;

// ---------------------------------------------------------------- permute
static dlt_status permute_cuda(const dlt_kctx *k)
{
    const permute_attr *a = DLT_CATTR(k->node, permute_attr);
    const dlt_shape *si = k->in_shape[0], *so = k->out_shape[0];
    int64_t sstr[DLT_MAX_DIMS], ostr[DLT_MAX_DIMS];
    dlt_permute_geom(a, si, so, sstr, ostr);
    return gpu_strided_copy(k, dlt_dtype_size(si->dtype), so->ndim, so->dim, k->in[0], sstr,
                            k->out[0], ostr);
}

// ---------------------------------------------------------------- concat / split
// Each part is a [outer, w] block of the joined tensor's [outer, row] rows.
static dlt_status cat_move(const dlt_kctx *k, int joining)
{
    const cat_attr *a = DLT_CATTR(k->node, cat_attr);
    const dlt_shape *whole = joining ? k->out_shape[0] : k->in_shape[0];
    int nparts = joining ? k->node->nin : k->node->nout;
    size_t esz = dlt_dtype_size(whole->dtype);
    int64_t outer = dlt_dims_prod(whole, 0, a->axis),
            inner = dlt_dims_prod(whole, a->axis + 1, whole->ndim);
    int64_t row = whole->dim[a->axis] * inner, off = 0;
    for (int p = 0; p < nparts; p++) {
        const dlt_shape *ps = joining ? k->in_shape[p] : k->out_shape[p];
        int64_t w = ps->dim[a->axis] * inner, dims[2] = {outer, w}, pstr[2] = {w, 1},
                wstr[2] = {row, 1};
        dlt_status st;
        if (joining)
            st = gpu_strided_copy(k, esz, 2, dims, k->in[p], pstr,
                                  (char *)k->out[0] + (size_t)off * esz, wstr);
        else
            st = gpu_strided_copy(k, esz, 2, dims, (const char *)k->in[0] + (size_t)off * esz, wstr,
                                  k->out[p], pstr);
        if (st != DLT_OK)
            return st;
        off += w;
    }
    return DLT_OK;
}

static dlt_status concat_cuda(const dlt_kctx *k)
{
    return cat_move(k, 1);
}
static dlt_status split_cuda(const dlt_kctx *k)
{
    return cat_move(k, 0);
}

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_shape_ops[] = {
    {DLT_OP_PERMUTE, permute_cuda, NULL},
    {DLT_OP_CONCAT, concat_cuda, NULL},
    {DLT_OP_SPLIT2, split_cuda, NULL},
    {DLT_OP_SPLIT3, split_cuda, NULL},
    {DLT_OP_SPLIT4, split_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
