/* Pointwise losses l(x, t[, p]) of equally shaped inputs and their derivatives,
 * all one op ("pointwise_loss") selected by a function code, so that each
 * derivative is again a pointwise_loss node and second derivatives come from
 * the same table:
 *   smooth L1 (beta; beta = 0 is L1; Huber is delta * smooth L1 with beta = delta)
 *   BCE with logits (x logits, t targets, p pos_weight broadcast to x's shape)
 *   KL divergence term t * (log t - x) (x log-probabilities, torch's kl_div).
 * BCE and its x-derivative, the ones a training step runs over whole images
 * (a VAE's reconstruction loss: 31 ns an element in double with libm), run
 * on the vector path (vmath.h's bce, f32 to a few ulp); the rest, and every
 * function under DLT_CPU_ISA=libm, in double per element. */
#include <math.h>

#include "dlt_ops.h"
#include "loss_impl.h"
#include "ops_util.h"
#include "vmath.h"

#define NONE (-1)  /* derivative is zero (everywhere or almost everywhere) */
#define UNSUP (-2) /* derivative not implemented (third order) */

/* derivative codes with respect to x, t, p, and the sign to apply */
static const struct {
    int code[3];
    float sign[3];
} deriv[NFN] = {
    [SL1] = {{SL1_D, SL1_D, NONE}, {1, -1, 0}},
    [SL1_D] = {{SL1_DD, SL1_DD, NONE}, {1, -1, 0}},
    [SL1_DD] = {{NONE, NONE, NONE}, {0, 0, 0}},
    [BCE] = {{BCE_DX, BCE_DT, BCE_DP}, {1, 1, 1}},
    [BCE_DX] = {{BCE_DXX, BCE_DXT, BCE_DXP}, {1, 1, 1}},
    [BCE_DT] = {{BCE_DXT, NONE, BCE_DTP}, {1, 0, 1}},
    [BCE_DP] = {{BCE_DXP, BCE_DTP, NONE}, {1, 1, 0}},
    [BCE_DXX] = {{UNSUP, UNSUP, UNSUP}, {0, 0, 0}},
    [BCE_DXT] = {{UNSUP, UNSUP, UNSUP}, {0, 0, 0}},
    [BCE_DXP] = {{UNSUP, UNSUP, UNSUP}, {0, 0, 0}},
    [BCE_DTP] = {{UNSUP, UNSUP, UNSUP}, {0, 0, 0}},
    [KL] = {{NEG_ONE, KL_DT, NONE}, {1, 1, 0}}, /* d/dx = -t: NEG_ONE * t is built below */
    [KL_DT] = {{NEG_ONE, KL_DTT, NONE}, {1, 1, 0}},
    [KL_DTT] = {{UNSUP, UNSUP, UNSUP}, {0, 0, 0}},
    [NEG_ONE] = {{NONE, NONE, NONE}, {0, 0, 0}},
};

static dlt_status pw_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    for (int i = 0; i < n->nin; i++) {
        if (in[i].dtype != DLT_F32)
            return dlt_seterr(DLT_ERR_DTYPE, "inputs must be f32");
        if (!dlt_shape_equal(&in[0], &in[i]))
            return dlt_seterr(DLT_ERR_SHAPE, "inputs must have the same shape");
    }
    out[0] = in[0];
    return DLT_OK;
}

static dlt_status pw_cpu(const dlt_kctx *k)
{
    const pw_attr *a = DLT_CATTR(k->node, pw_attr);
    const float *x = k->in[0], *t = k->in[1], *p = k->node->nin > 2 ? k->in[2] : NULL;
    float *y = k->out[0];
    int fn = a->fn;
    double beta = a->beta;
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    const dlt_vmath_ops *vm = dlt_vmath();
    if (vm && (fn == BCE || fn == BCE_DX)) { /* the vector path, in f32 (vmath.h) */
        DLT_VM_BLOCKS(n, k->nthreads, vm->bce(fn == BCE ? 0 : 1, x + o, t + o, p ? p + o : NULL, y + o, len));
        return DLT_OK;
    }
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > 8192)
    for (int64_t i = 0; i < n; i++)
        y[i] = pw_eval(fn, beta, x[i], t[i], p ? p[i] : 1.0);
    return DLT_OK;
}

static dlt_status pw_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
static double pw_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return 4.0 * (double)dlt_shape_numel(out[0]);
}
const dlt_op_def dlt_op_def_pointwise_loss = {
    .id = DLT_OP_POINTWISE_LOSS,
    .name = "pointwise_loss",
    .nin_min = 2,
    .nin_max = 3,
    .nout = 1,
    .shape = pw_shape,
    .grad = pw_grad,
    .cpu = pw_cpu,
    .flops = pw_flops,
    .flags = DLT_OP_INPLACE,
};

static dlt_t pw_node(dlt_graph *g, int fn, float beta, int nin, const dlt_t *in)
{
    pw_attr a = {fn, beta};
    return dlt_node_add(g, &dlt_op_def_pointwise_loss, nin, in, &a, sizeof a);
}

static dlt_status pw_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const pw_attr *a = DLT_CATTR(n, pw_attr);
    for (int i = 0; i < n->nin; i++) {
        int c = deriv[a->fn].code[i];
        if (c == NONE)
            continue;
        if (c == UNSUP)
            return dlt_seterr(DLT_ERR_UNSUPPORTED, "pointwise_loss: third derivatives are not implemented");
        /* NEG_ONE is a constant: the derivative is -dy (times t for d KL / dx) */
        dlt_t d = c == NEG_ONE ? dlt_affine(g, dy[0], -1.f, 0.f)
                               : dlt_mul(g, dy[0], pw_node(g, c, a->beta, n->nin, n->in));
        if (a->fn == KL && i == 0)
            d = dlt_mul(g, d, n->in[1]);
        dx[i] = deriv[a->fn].sign[i] < 0 ? dlt_affine(g, d, -1.f, 0.f) : d;
    }
    return DLT_OK;
}

dlt_t dlt_loss_smooth_l1_elem(dlt_graph *g, dlt_t x, dlt_t t, float beta)
{
    dlt_t in[2] = {x, t};
    return pw_node(g, SL1, beta, 2, in);
}

dlt_t dlt_loss_bce_elem(dlt_graph *g, dlt_t x, dlt_t t, dlt_t pos_weight)
{
    dlt_t in[3] = {x, t, pos_weight};
    return pw_node(g, BCE, 0.f, pos_weight >= 0 ? 3 : 2, in);
}

dlt_t dlt_loss_kl_elem(dlt_graph *g, dlt_t x, dlt_t t)
{
    dlt_t in[2] = {x, t};
    return pw_node(g, KL, 0.f, 2, in);
}
