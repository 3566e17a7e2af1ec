/* Elementwise unary functions: the shared derivative machinery (see
 * unary_impl.h), the math builders (exp, log, sqrt, rsqrt, pow, abs, clamp, neg,
 * square) and tensor ** tensor. Activation builders live in activation.c. */
#include <limits.h>
#include <math.h>

#include "dlt_ops.h"
#include "ops_util.h"
#include "unary_math.h"
#include "vmath.h"

typedef dlt_ew_attr ew_attr;

/* Transcendental kernels cost ~10-50 ns per element: parallelise earlier than
 * the cheap arithmetic ops do. */
#define EW_PAR_MIN 8192

/* First order whose derivative is identically zero (almost everywhere): no
 * gradient node is built from there on. */
static int ew_zero_from(int kind, float a)
{
    switch (kind) {
    case DLT_EW_ABS:
    case DLT_EW_CLAMP:
    case DLT_EW_LEAKY_RELU:
        return 2;
    case DLT_EW_SQUARE:
        return 3;
    case DLT_EW_POW:
        return a >= 0 && a < 64 && a == floorf(a) ? (int)a + 1 : INT_MAX;
    default:
        return INT_MAX;
    }
}

/* Highest derivative order with a closed form above. */
static int ew_max_order(int kind)
{
    switch (kind) {
    case DLT_EW_GELU:
    case DLT_EW_GELU_TANH:
    case DLT_EW_SIGMOID:
    case DLT_EW_TANH:
    case DLT_EW_SOFTPLUS:
        return 3;
    default:
        return INT_MAX;
    }
}

static dlt_status ew_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    for (int i = 0; i < n->nin; i++)
        if (in[i].dtype != DLT_F32)
            return dlt_seterr(DLT_ERR_DTYPE, n->nin == 1 ? "input must be f32" : "inputs must be f32");
    if (n->nin == 2 && !dlt_shape_equal(&in[0], &in[1]))
        return dlt_seterr(DLT_ERR_SHAPE, "inputs must have the same shape");
    out[0] = in[n->nin - 1];
    if (n->op->nout == 2)
        out[1] = out[0]; /* f'(x) of a forward that keeps it */
    return DLT_OK;
}

/* Elementwise, so correct in place (out may alias dy). The kinds and orders
 * the vmath path (vmath.h) has run in f32 vector code there; the rest, and
 * everything under DLT_CPU_ISA=libm, per element in double. */
static dlt_status ew_cpu(const dlt_kctx *k)
{
    const ew_attr *at = DLT_CATTR(k->node, ew_attr);
    int nin = k->node->nin, kind = at->kind, ord = at->order;
    const float *x = k->in[nin - 1], *dy = nin == 2 ? k->in[0] : NULL;
    float *y = k->out[0];
    double a = at->a, b = at->b;
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    const dlt_vmath_ops *vm = dlt_vmath();
    float *d = k->node->op->nout == 2 ? k->out[1] : NULL; /* f'(x), when the plan reads it */
    if (d) {
        if (vm && vm->ew2(kind, at->a, at->b, x, y, d, 0)) {
            DLT_VM_BLOCKS(n, k->nthreads, vm->ew2(kind, at->a, at->b, x + o, y + o, d + o, len));
            return DLT_OK;
        }
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > EW_PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            double xv = x[i]; /* y may be x */
            y[i] = (float)dlt_ew_eval(kind, 0, a, b, xv);
            d[i] = (float)dlt_ew_eval(kind, 1, a, b, xv);
        }
        return DLT_OK;
    }
    /* a zero-length call says whether the path has this kind and order */
    if (vm && vm->ew(kind, ord, at->a, at->b, NULL, x, y, 0)) {
        DLT_VM_BLOCKS(n, k->nthreads, vm->ew(kind, ord, at->a, at->b, dy ? dy + o : NULL, x + o, y + o, len));
        return DLT_OK;
    }
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > EW_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        double f = dlt_ew_eval(kind, ord, a, b, x[i]);
        y[i] = (float)(dy ? dy[i] * f : f);
    }
    return DLT_OK;
}

static double ew_flops(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return (double)dlt_shape_numel(out[0]);
}

static dlt_status ew_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

#define EW_DEF(ID, nm, nmin, nouts)                                                                       \
    const dlt_op_def dlt_op_def_##nm = {                                                                  \
        .id = DLT_OP_##ID,                                                                                \
        .name = #nm,                                                                                      \
        .nin_min = nmin,                                                                                  \
        .nin_max = nmin,                                                                                  \
        .nout = nouts,                                                                                    \
        .shape = ew_shape,                                                                                \
        .grad = ew_grad,                                                                                  \
        .cpu = ew_cpu,                                                                                    \
        .flops = ew_flops,                                                                                \
        .flags = DLT_OP_INPLACE | (nouts > 1 ? DLT_OP_OPT_OUTPUTS : 0u),                                  \
    };
/* the forward op "<name>" (x) and its derivative op "<name>_grad" (dy, x) */
#define EW_DEFS(ID, nm) EW_DEF(ID, nm, 1, 1) EW_DEF(ID##_GRAD, nm##_grad, 2, 1)
/* EW_DEFS_D1: kinds whose forward op also has output 1, d = f'(x), written when the plan
 * has a reader for it (DLT_OP_OPT_OUTPUTS; the first-order gradient is dy d):
 * those whose derivative costs several passes over memory. A vectorised GELU
 * derivative runs at ~0.7 Gelem/s per AVX-512 thread, ~0.45 on AVX2; written
 * with the value in one pass (vmath's ew2: the parts are shared) it adds ~20%
 * to the forward, and the backward becomes a multiply, bounded by memory.
 * GPT-mini on 2 threads: 18 -> ~10 ms per step for GELU forward + backward. */
#define EW_DEFS_D1(ID, nm) EW_DEF(ID, nm, 1, 2) EW_DEF(ID##_GRAD, nm##_grad, 2, 1)
EW_DEFS(EXP, exp)
EW_DEFS(LOG, log)
EW_DEFS(SQRT, sqrt)
EW_DEFS(RSQRT, rsqrt)
EW_DEFS(POW, pow)
EW_DEFS(ABS, abs)
EW_DEFS(CLAMP, clamp)
EW_DEFS(SQUARE, square)
EW_DEFS(LEAKY_RELU, leaky_relu)
EW_DEFS(ELU, elu)
EW_DEFS(SELU, selu)
EW_DEFS_D1(GELU, gelu)
EW_DEFS_D1(GELU_TANH, gelu_tanh)
EW_DEFS(SIGMOID, sigmoid)
EW_DEFS(TANH, tanh)
EW_DEFS(SOFTPLUS, softplus)

#define EW_PAIR(kind, nm) [kind] = {&dlt_op_def_##nm, &dlt_op_def_##nm##_grad}

/* [kind][0]: forward op, [kind][1]: derivative op (any order >= 1) */
static const dlt_op_def *const ew_ops[DLT_EW_NKINDS][2] = {
    EW_PAIR(DLT_EW_EXP, exp),
    EW_PAIR(DLT_EW_LOG, log),
    EW_PAIR(DLT_EW_SQRT, sqrt),
    EW_PAIR(DLT_EW_RSQRT, rsqrt),
    EW_PAIR(DLT_EW_POW, pow),
    EW_PAIR(DLT_EW_ABS, abs),
    EW_PAIR(DLT_EW_CLAMP, clamp),
    EW_PAIR(DLT_EW_SQUARE, square),
    EW_PAIR(DLT_EW_LEAKY_RELU, leaky_relu),
    EW_PAIR(DLT_EW_ELU, elu),
    EW_PAIR(DLT_EW_SELU, selu),
    EW_PAIR(DLT_EW_GELU, gelu),
    EW_PAIR(DLT_EW_GELU_TANH, gelu_tanh),
    EW_PAIR(DLT_EW_SIGMOID, sigmoid),
    EW_PAIR(DLT_EW_TANH, tanh),
    EW_PAIR(DLT_EW_SOFTPLUS, softplus),
};

dlt_t dlt_ew_apply(dlt_graph *g, dlt_t x, dlt_ew_kind kind, float a, float b)
{
    ew_attr at = {(int)kind, 0, a, b};
    if ((int)kind < 0 || kind >= DLT_EW_NKINDS)
        return dlt_graph_fail(g, DLT_ERR_INTERNAL, "elementwise kind %d out of range", (int)kind);
    return dlt_node_add(g, ew_ops[kind][0], 1, &x, &at, sizeof at);
}

dlt_t dlt_ew_deriv(dlt_graph *g, dlt_t dy, dlt_t x, dlt_ew_kind kind, int order, float a, float b)
{
    ew_attr at = {(int)kind, order, a, b};
    dlt_t in[2] = {dy, x};
    if ((int)kind < 0 || kind >= DLT_EW_NKINDS || order < 1)
        return dlt_graph_fail(g, DLT_ERR_INTERNAL, "elementwise kind %d order %d out of range",
                              (int)kind, order);
    return dlt_node_add(g, ew_ops[kind][1], 2, in, &at, sizeof at);
}

/* y = f(x): dx = dy f'(x). y = d f^(k)(x): linear in d (same op on dy), and
 * d/dx gives d f^(k+1)(x), so the x gradient is (dy * d) f^(k+1)(x). */
static dlt_status ew_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const ew_attr *at = DLT_CATTR(n, ew_attr);
    dlt_ew_kind kind = (dlt_ew_kind)at->kind;
    int k = at->order, xi = n->nin - 1;
    if (n->nout == 2) {
        /* y = f(x) and d = f'(x): dx = dy d + dd f''(x) */
        dlt_t r = dy[0] >= 0 ? dlt_mul(g, dy[0], n->out[1]) : -1;
        if (dy[1] >= 0) {
            dlt_t t = dlt_ew_deriv(g, dy[1], n->in[0], kind, 2, at->a, at->b);
            r = r >= 0 ? dlt_add(g, r, t) : t;
        }
        dx[0] = r;
        return DLT_OK;
    }
    if (k >= 1)
        dx[0] = dlt_ew_deriv(g, dy[0], n->in[1], kind, k, at->a, at->b);
    if (k + 1 >= ew_zero_from(at->kind, at->a))
        return DLT_OK; /* piecewise linear (or a polynomial) past this order */
    if (k + 1 > ew_max_order(at->kind))
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "%s: derivatives of order %d are not implemented (at most %d)",
                          ew_ops[kind][0]->name, k + 1, ew_max_order(at->kind));
    dlt_t d = k >= 1 ? dlt_mul(g, dy[0], n->in[0]) : dy[0];
    dx[xi] = dlt_ew_deriv(g, d, n->in[xi], kind, k + 1, at->a, at->b);
    return DLT_OK;
}

/* ---------------------------------------------------------------- builders */
dlt_t dlt_exp(dlt_graph *g, dlt_t x) { return dlt_ew_apply(g, x, DLT_EW_EXP, 0, 0); }
dlt_t dlt_ln(dlt_graph *g, dlt_t x) { return dlt_ew_apply(g, x, DLT_EW_LOG, 0, 0); }
dlt_t dlt_sqrt(dlt_graph *g, dlt_t x) { return dlt_ew_apply(g, x, DLT_EW_SQRT, 0, 0); }
dlt_t dlt_rsqrt(dlt_graph *g, dlt_t x) { return dlt_ew_apply(g, x, DLT_EW_RSQRT, 0, 0); }
dlt_t dlt_abs(dlt_graph *g, dlt_t x) { return dlt_ew_apply(g, x, DLT_EW_ABS, 0, 0); }
dlt_t dlt_square(dlt_graph *g, dlt_t x) { return dlt_ew_apply(g, x, DLT_EW_SQUARE, 0, 0); }
dlt_t dlt_neg(dlt_graph *g, dlt_t x) { return dlt_affine(g, x, -1.f, 0.f); }

dlt_t dlt_pow(dlt_graph *g, dlt_t x, float p)
{
    if (!isfinite(p))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "pow: exponent must be finite, got %g", (double)p);
    return dlt_ew_apply(g, x, DLT_EW_POW, p, 0);
}

dlt_t dlt_clamp(dlt_graph *g, dlt_t x, float min, float max)
{
    if (isnan(min) || isnan(max))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "clamp: min and max must not be NaN");
    return dlt_ew_apply(g, x, DLT_EW_CLAMP, min, max);
}

/* ---------------------------------------------------------------- tensor ** tensor */
static dlt_status powt_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    if (in[0].dtype != DLT_F32 || in[1].dtype != DLT_F32)
        return dlt_seterr(DLT_ERR_DTYPE, "inputs must be f32");
    return dlt_broadcast_shape(&in[0], &in[1], &out[0]);
}

static dlt_status powt_cpu(const dlt_kctx *k)
{
    const float *a = k->in[0], *b = k->in[1];
    float *y = k->out[0];
    dlt_bcast_iter it;
    dlt_bcast_init(&it, k->in_shape[0], k->in_shape[1], k->out_shape[0]);
    int64_t cols = it.cols, sa = it.ndim ? it.sa[it.ndim - 1] : 0, sb = it.ndim ? it.sb[it.ndim - 1] : 0;
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (it.rows * cols > EW_PAR_MIN)
    for (int64_t r = 0; r < it.rows; r++) {
        int64_t oa, ob;
        dlt_bcast_row(&it, r, &oa, &ob);
        for (int64_t c = 0; c < cols; c++)
            y[r * cols + c] = (float)pow(a[oa + c * sa], b[ob + c * sb]);
    }
    return DLT_OK;
}

/* y = a^b: da = dy b a^(b-1), db = dy y log(a). Built from differentiable ops,
 * so every order works. At a == 0 db is NaN (0 * -inf) where torch gives 0. */
static dlt_status powt_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    dlt_t a = n->in[0], b = n->in[1], y = n->out[0];
    dlt_t am1 = dlt_pow_tensor(g, a, dlt_affine(g, b, 1.f, -1.f));
    dx[0] = dlt_sum_to(g, dlt_mul(g, dy[0], dlt_mul(g, b, am1)), dlt_shape_of(g, a));
    dx[1] = dlt_sum_to(g, dlt_mul(g, dy[0], dlt_mul(g, y, dlt_ln(g, a))), dlt_shape_of(g, b));
    return DLT_OK;
}

const dlt_op_def dlt_op_def_pow_tensor = {
    .id = DLT_OP_POW_TENSOR,
    .name = "pow_tensor",
    .nin_min = 2,
    .nin_max = 2,
    .nout = 1,
    .shape = powt_shape,
    .grad = powt_grad,
    .cpu = powt_cpu,
    .flops = ew_flops,
    .flags = DLT_OP_INPLACE,
};

dlt_t dlt_pow_tensor(dlt_graph *g, dlt_t a, dlt_t b)
{
    dlt_t in[2] = {a, b};
    return dlt_node_add(g, &dlt_op_def_pow_tensor, 2, in, NULL, 0);
}
