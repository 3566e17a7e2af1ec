/* The cast family: dtype conversion between i32 and f32 with an affine map
 * and a clamp on the way, y = clamp(x * scale + offset, lo, hi) (floored for
 * an i32 output). Index arithmetic of detection (a matcher's -2/-1/index
 * codes shifted into a sampler's labels or clamped into gather indices, i32
 * labels turned into f32 masks and back) needs it, and nothing else in the
 * op set converts. No gradient: its uses are indices and masks. */
#include <math.h>

#include "cast_impl.h"
#include "dlt_ops.h"

static dlt_status cast_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    if (in[0].dtype != DLT_F32 && in[0].dtype != DLT_I32)
        return dlt_seterr(DLT_ERR_DTYPE, "cast takes f32 or i32, got %s",
                          dlt_dtype_name(in[0].dtype));
    out[0] = in[0];
    out[0].dtype = DLT_CATTR(n, cast_attr)->to_i32 ? DLT_I32 : DLT_F32;
    return DLT_OK;
}

static dlt_status cast_no_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    (void)g, (void)n, (void)dy, (void)dx;
    return DLT_OK;
}

static dlt_status cast_cpu(const dlt_kctx *k)
{
    const cast_attr *a = DLT_CATTR(k->node, cast_attr);
    int64_t n = dlt_shape_numel(k->in_shape[0]);
    int in_i32 = k->in_shape[0]->dtype == DLT_I32;
    const float *xf = k->in[0];
    const int32_t *xi = k->in[0];
    for (int64_t i = 0; i < n; i++) {
        double x = in_i32 ? (double)xi[i] : (double)xf[i];
        if (a->to_i32)
            ((int32_t *)k->out[0])[i] = dlt_cast1_i32(a, x);
        else
            ((float *)k->out[0])[i] = (float)dlt_cast1(a, x);
    }
    return DLT_OK;
}

const dlt_op_def dlt_op_def_cast = {
    .id = DLT_OP_CAST,
    .name = "cast",
    .nin_min = 1,
    .nin_max = 1,
    .nout = 1,
    .shape = cast_shape,
    .grad = cast_no_grad,
    .cpu = cast_cpu,
};

dlt_t dlt_cast(dlt_graph *g, dlt_t x, dlt_dtype to, double scale, double offset, double lo,
               double hi)
{
    if (dlt_graph_status(g) != DLT_OK)
        return -1;
    if (to != DLT_F32 && to != DLT_I32)
        return dlt_graph_fail(g, DLT_ERR_DTYPE, "cast: the target dtype must be f32 or i32, got %s",
                              dlt_dtype_name(to));
    if (!(lo <= hi))
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "cast: the clamp's low end %g must be <= its high end %g", lo, hi);
    cast_attr a = {.scale = scale, .offset = offset, .lo = lo, .hi = hi, .to_i32 = to == DLT_I32};
    return dlt_node_add(g, &dlt_op_def_cast, 1, &x, &a, sizeof a);
}
