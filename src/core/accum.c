/* accum: elementwise sum of same-shaped f32 tensors. Autodiff uses it to add the
 * gradient contributions of a value used several times (fan-out). */
#include "graph_impl.h"

static dlt_status accum_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    for (int i = 1; i < n->nin; i++)
        if (!dlt_shape_equal(&in[0], &in[i]))
            return dlt_seterr(DLT_ERR_SHAPE, "all inputs must have the same shape");
    if (in[0].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "inputs must be f32");
    out[0] = in[0];
    return DLT_OK;
}

static dlt_status accum_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    (void)g;
    for (int i = 0; i < n->nin; i++)
        dx[i] = dy[0];
    return DLT_OK;
}

/* Blocks of ACC_BLK elements are summed in a local buffer, input by input,
 * so each pass is a vectorisable stream, and the output is written once at the
 * end: correct even when y shares storage with an input (in place, or one value
 * passed twice). The sum order per element is fixed: in[0] + in[1] + ... */
#define ACC_BLK 1024
static dlt_status accum_cpu(const dlt_kctx *k)
{
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    int nin = k->node->nin;
    float *y = k->out[0];
    const float *const *in = (const float *const *)k->in;
    int64_t nb = (n + ACC_BLK - 1) / ACC_BLK;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > 32768)
    for (int64_t b = 0; b < nb; b++) {
        float t[ACC_BLK];
        int64_t o = b * ACC_BLK, len = n - o < ACC_BLK ? n - o : ACC_BLK;
        const float *p0 = in[0] + o;
#pragma omp simd
        for (int64_t i = 0; i < len; i++)
            t[i] = p0[i];
        for (int j = 1; j < nin; j++) {
            const float *pj = in[j] + o;
#pragma omp simd
            for (int64_t i = 0; i < len; i++)
                t[i] += pj[i];
        }
        float *py = y + o;
#pragma omp simd
        for (int64_t i = 0; i < len; i++)
            py[i] = t[i];
    }
    return DLT_OK;
}

static double accum_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return (double)(n->nin - 1) * (double)dlt_shape_numel(out[0]);
}

const dlt_op_def dlt_op_def_accum = {
    .id = DLT_OP_ACCUM,
    .name = "accum",
    .nin_min = 1,
    .nin_max = DLT_MAX_IN,
    .nout = 1,
    .shape = accum_shape,
    .grad = accum_grad,
    .cpu = accum_cpu,
    .flops = accum_flops,
    .flags = DLT_OP_INPLACE,
};

dlt_t dlt_accum(dlt_graph *g, int n, const dlt_t *v)
{
    if (n == 1)
        return v[0];
    dlt_t acc = dlt_node_add(g, &dlt_op_def_accum, n < DLT_MAX_IN ? n : DLT_MAX_IN, v, NULL, 0);
    for (int i = DLT_MAX_IN; i < n && acc >= 0; i += DLT_MAX_IN - 1) {
        dlt_t chunk[DLT_MAX_IN];
        int m = 1;
        chunk[0] = acc;
        for (int j = i; j < n && m < DLT_MAX_IN; j++)
            chunk[m++] = v[j];
        acc = dlt_node_add(g, &dlt_op_def_accum, m, chunk, NULL, 0);
    }
    return acc;
}
