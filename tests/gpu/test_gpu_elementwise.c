/* GPU elementwise kernels (src/gpu/k_unary.cu, k_activation.cu, k_binary.cu,
 * k_dropout.cu) against the CPU: every unary kind forward and through its
 * derivative ops of order 1 to 3, relu, prelu, dropout (masks bit for bit),
 * affine, and add/sub/mul/div/pow_tensor over every broadcast path of the GPU
 * kernel (same shape, a scalar either side, one axis either side: bias,
 * channel scale, per row; and the general strided kernel up to 8 axes). Sizes
 * are not multiples of 4 so the float4 tails run. Exits 77 without a CUDA
 * device. */
#include <math.h>
#include <stdio.h>

#include "dlt_gpu.h"
#include "gpu_check.h"

/* the GPU evaluates the unary math in float, the CPU in double */
#define TOL_EW 2e-5
#define TOL_EW_HIGH 1e-4 /* higher orders: longer float formulas, and a float sum in the builder */
/* the same float operations on both sides; reductions (the harness's loss,
 * gradients summed to a broadcast or prelu weight shape) may differ in order.
 * A wrong dropout mask or broadcast index is off by O(1). */
#define TOL_F32 1e-5

/* ---------------------------------------------------------------- unary kinds */
enum {
    U_EXP, U_LOG, U_SQRT, U_RSQRT, U_POW25, U_POW3, U_POWM15, U_ABS, U_CLAMP, U_CLAMP_NEGINF, U_SQUARE,
    U_LEAKY, U_ELU, U_SELU, U_GELU, U_GELU_TANH, U_SIGMOID, U_TANH, U_SOFTPLUS, U_SOFTPLUS_B2, U_NEG,
    U_N
};
static const char *const u_names[U_N] = {
    "exp", "log", "sqrt", "rsqrt", "pow 2.5", "pow 3", "pow -1.5", "abs", "clamp [-1, 0.5]",
    "clamp [-inf, 0]", "square", "leaky_relu 0.1", "elu 1.3", "selu", "gelu", "gelu_tanh", "sigmoid",
    "tanh", "softplus", "softplus beta 2 threshold 1", "neg",
};

static int u_positive(int u) { return u == U_LOG || u == U_SQRT || u == U_RSQRT || u == U_POW25 || u == U_POWM15; }

/* smooth enough for a second derivative through the graph (the others are
 * piecewise linear: their second derivative has no node) */
static int u_smooth(int u)
{
    return !(u == U_ABS || u == U_CLAMP || u == U_CLAMP_NEGINF || u == U_LEAKY || u == U_NEG);
}

/* kinds whose third derivative exists (gelu, sigmoid, tanh, softplus stop at 3) */
static int u_third(int u) { return u_smooth(u) && u != U_SQUARE && u != U_POW3; }

static dlt_t u_apply(dlt_graph *g, int u, dlt_t x)
{
    switch (u) {
    case U_EXP: return dlt_exp(g, x);
    case U_LOG: return dlt_ln(g, x);
    case U_SQRT: return dlt_sqrt(g, x);
    case U_RSQRT: return dlt_rsqrt(g, x);
    case U_POW25: return dlt_pow(g, x, 2.5f);
    case U_POW3: return dlt_pow(g, x, 3.f);
    case U_POWM15: return dlt_pow(g, x, -1.5f);
    case U_ABS: return dlt_abs(g, x);
    case U_CLAMP: return dlt_clamp(g, x, -1.f, 0.5f);
    case U_CLAMP_NEGINF: return dlt_clamp(g, x, -INFINITY, 0.f);
    case U_SQUARE: return dlt_square(g, x);
    case U_LEAKY: return dlt_leaky_relu(g, x, 0.1f);
    case U_ELU: return dlt_elu(g, x, 1.3f);
    case U_SELU: return dlt_selu(g, x);
    case U_GELU: return dlt_gelu(g, x, DLT_GELU_EXACT);
    case U_GELU_TANH: return dlt_gelu(g, x, DLT_GELU_TANH);
    case U_SIGMOID: return dlt_sigmoid(g, x);
    case U_TANH: return dlt_tanh(g, x);
    case U_SOFTPLUS: return dlt_softplus(g, x, 1.f, 20.f);
    case U_SOFTPLUS_B2: return dlt_softplus(g, x, 2.f, 1.f);
    default: return dlt_neg(g, x);
    }
}

typedef struct {
    int u;
    int order; /* 0: y = f(x); 1: d/dx sum(w f(x)); 2: d/dx sum(w2 d/dx sum(w f(x))) */
    int ndim;
    int64_t dim[4];
} ucase;

static dlt_t u_input(dlt_graph *g, const ucase *c, const char *name)
{
    return u_positive(c->u) ? gc_input(g, name, c->ndim, c->dim, 0.2f, 3.f)
                            : gc_input(g, name, c->ndim, c->dim, -3.f, 3.f);
}

/* The harness differentiates the outputs once more, so order k here runs the
 * derivative kernels up to order k + 1 (with the dy input of each). */
static int build_unary(dlt_graph *g, dlt_t *outs, void *user)
{
    const ucase *c = user;
    dlt_t x = u_input(g, c, "x"), y = u_apply(g, c->u, x), gx, gxx;
    outs[0] = y;
    if (c->order == 0)
        return 1;
    dlt_t w = gc_input(g, "w", c->ndim, c->dim, -1.f, 1.f);
    if (dlt_grad(g, dlt_sum(g, dlt_mul(g, w, y), 0, NULL, 0), 1, &x, &gx) != DLT_OK)
        return 0;
    outs[1] = gx;
    if (c->order == 1)
        return 2;
    dlt_t w2 = gc_input(g, "w2", c->ndim, c->dim, -1.f, 1.f);
    if (dlt_grad(g, dlt_sum(g, dlt_mul(g, w2, gx), 0, NULL, 0), 1, &x, &gxx) != DLT_OK)
        return 0;
    outs[2] = gxx;
    return 3;
}

static void unary_cases(void)
{
    char name[128];
    for (int u = 0; u < U_N; u++) {
        ucase c = {u, 0, 3, {3, 37, 5}}; /* 555 elements: a float4 tail of 3 */
        snprintf(name, sizeof name, "%s [3,37,5]", u_names[u]);
        gc_check(name, build_unary, &c, TOL_EW);
        if (u_smooth(u)) {
            ucase c1 = {u, 1, 2, {17, 61}};
            snprintf(name, sizeof name, "%s second order [17,61]", u_names[u]);
            gc_check(name, build_unary, &c1, TOL_EW_HIGH);
        }
        if (u_third(u)) {
            ucase c2 = {u, 2, 1, {1001}};
            snprintf(name, sizeof name, "%s third order [1001]", u_names[u]);
            gc_check(name, build_unary, &c2, TOL_EW_HIGH);
        }
    }
    /* a size-1 tensor (only the tail path) and one large enough for several
     * grid-stride rounds */
    ucase one = {U_GELU, 0, 1, {1}};
    gc_check("gelu [1]", build_unary, &one, TOL_EW);
    ucase big = {U_SIGMOID, 0, 2, {1237, 4099}};
    gc_check("sigmoid [1237,4099]", build_unary, &big, TOL_EW);
}

/* ---------------------------------------------------------------- relu, prelu */
typedef struct {
    int ndim;
    int64_t dim[4];
    int64_t wn;  /* prelu weight elements (1 or C); 0: relu */
    int second;  /* return d/dx sum(w y) too (the dy path of relu_grad / prelu_dx) */
} acase;

static int build_act(dlt_graph *g, dlt_t *outs, void *user)
{
    const acase *c = user;
    dlt_t x = gc_input(g, "x", c->ndim, c->dim, -1.f, 1.f), y;
    if (c->wn) {
        dlt_t wt = dlt_param(g, "weight", 1, &c->wn, dlt_init_uniform(0.05, 0.5));
        y = dlt_prelu(g, x, wt);
    } else {
        y = dlt_relu(g, x);
    }
    outs[0] = y;
    if (!c->second)
        return 1;
    dlt_t w = gc_input(g, "w", c->ndim, c->dim, -1.f, 1.f), gx;
    if (dlt_grad(g, dlt_sum(g, dlt_mul(g, w, y), 0, NULL, 0), 1, &x, &gx) != DLT_OK)
        return 0;
    outs[1] = gx;
    return 2;
}

static void act_cases(void)
{
    acase cs[] = {
        {3, {3, 37, 5}, 0, 0},   {2, {17, 61}, 0, 1},     {4, {4, 6, 5, 3}, 6, 0}, {4, {4, 6, 5, 3}, 1, 0},
        {4, {2, 7, 3, 5}, 7, 1}, {2, {9, 6}, 6, 1},       {1, {37}, 1, 1},         {3, {5, 1, 9}, 1, 0},
        {3, {5, 3, 1}, 3, 0},
    };
    char name[128];
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        const acase *c = &cs[i];
        int len = snprintf(name, sizeof name, "%s%s [", c->wn ? "prelu" : "relu", c->second ? " second order" : "");
        for (int d = 0; d < c->ndim; d++)
            len += snprintf(name + len, sizeof name - (size_t)len, d ? ",%lld" : "%lld", (long long)c->dim[d]);
        if (c->wn)
            snprintf(name + len, sizeof name - (size_t)len, "] w [%lld]", (long long)c->wn);
        else
            snprintf(name + len, sizeof name - (size_t)len, "]");
        gc_check(name, build_act, &cs[i], TOL_F32);
    }
}

/* ---------------------------------------------------------------- dropout, affine */
typedef struct {
    float p;
    int twice; /* two dropout nodes on one input: different masks */
} dcase;

static int build_dropout(dlt_graph *g, dlt_t *outs, void *user)
{
    const dcase *c = user;
    int64_t d[2] = {13, 333};
    dlt_t x = gc_input(g, "x", 2, d, -1.f, 1.f);
    outs[0] = dlt_dropout(g, x, c->p);
    if (!c->twice)
        return 1;
    outs[1] = dlt_dropout(g, x, c->p);
    return 2;
}

static int build_affine(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    int64_t d[3] = {7, 3, 45};
    dlt_t x = gc_input(g, "x", 3, d, -2.f, 2.f);
    outs[0] = dlt_affine(g, x, 2.5f, -0.75f);
    outs[1] = dlt_affine(g, x, -1.f / 3.f, 0.1f);
    return 2;
}

static void misc_cases(void)
{
    dcase d1 = {0.3f, 1}, d0 = {0.f, 0}, d9 = {0.9f, 0};
    gc_check("dropout p 0.3, two masks [13,333]", build_dropout, &d1, TOL_F32);
    gc_check("dropout p 0.9 [13,333]", build_dropout, &d9, TOL_F32);
    gc_check("dropout p 0 [13,333]", build_dropout, &d0, TOL_F32);
    gc_check_eval("dropout eval p 0.3 [13,333]", build_dropout, &d1, TOL_F32);
    gc_check("affine [7,3,45]", build_affine, NULL, TOL_F32);
}

/* ---------------------------------------------------------------- binary */
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_N };
static const char *const b_names[B_N] = {"add", "sub", "mul", "div", "pow_tensor"};

typedef struct {
    int op;
    int na, nb;
    int64_t da[8], db[8];
    const char *what;
} bcase;

static int build_binary(dlt_graph *g, dlt_t *outs, void *user)
{
    const bcase *c = user;
    /* div and pow: a base / divisor away from 0 (sign mixed for div) */
    dlt_t a = c->op == B_POW ? gc_input(g, "a", c->na, c->da, 0.5f, 2.f) : gc_input(g, "a", c->na, c->da, -2.f, 2.f);
    dlt_t b = c->op == B_POW ? gc_input(g, "b", c->nb, c->db, -2.f, 2.f) : gc_input(g, "b", c->nb, c->db, 0.5f, 2.f);
    switch (c->op) {
    case B_ADD: outs[0] = dlt_add(g, a, b); break;
    case B_SUB: outs[0] = dlt_sub(g, a, b); break;
    case B_MUL: outs[0] = dlt_mul(g, a, b); break;
    case B_DIV: outs[0] = dlt_div(g, a, b); break;
    default: outs[0] = dlt_pow_tensor(g, a, b); break;
    }
    return 1;
}

static void binary_cases(void)
{
    static const bcase shapes[] = {
        {0, 2, 2, {7, 129}, {7, 129}, "same shape"},
        {0, 1, 1, {1}, {1}, "one element"},
        {0, 2, 1, {33, 65}, {1}, "scalar right"},
        {0, 1, 3, {1}, {5, 9, 11}, "scalar left"},
        {0, 2, 0, {33, 65}, {0}, "rank-0 scalar right"},
        {0, 2, 1, {37, 50}, {50}, "bias right"},
        {0, 1, 2, {50}, {37, 50}, "bias left"},
        {0, 4, 4, {4, 6, 5, 7}, {1, 6, 1, 1}, "channel right"},
        {0, 3, 4, {6, 1, 1}, {4, 6, 5, 7}, "channel left"},
        {0, 2, 2, {37, 1}, {37, 50}, "per row left"},
        {0, 3, 3, {3, 37, 50}, {3, 37, 1}, "per row right"},
        {0, 3, 3, {5, 1, 7}, {1, 6, 1}, "outer (general)"},
        {0, 3, 2, {5, 6, 7}, {6, 1}, "middle axis, rank 3 vs rank 2"},
        {0, 3, 3, {2, 3, 4}, {2, 1, 4}, "two axes one side (general)"},
        {0, 8, 8, {2, 1, 3, 1, 2, 1, 3, 2}, {1, 2, 3, 3, 1, 2, 3, 1}, "8 axes (general)"},
        {0, 4, 4, {1, 1, 1, 1}, {2, 1, 3, 1}, "size-1 dims"},
    };
    char name[160];
    for (int op = 0; op < B_N; op++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            bcase c = shapes[i];
            c.op = op;
            snprintf(name, sizeof name, "%s %s", b_names[op], c.what);
            /* pow_tensor: the CPU and GPU double pow may differ by an ulp before rounding */
            gc_check(name, build_binary, &c, op == B_POW ? TOL_EW : TOL_F32);
        }
    /* several grid-stride rounds of the float4 kernels */
    bcase big = {B_ADD, 2, 1, {1237, 4099}, {4099}, "bias"};
    gc_check("add bias [1237,4099] + [4099]", build_binary, &big, TOL_F32);
    bcase bigc = {B_MUL, 4, 4, {8, 64, 97, 101}, {1, 64, 1, 1}, "channel"};
    gc_check("mul channel [8,64,97,101] * [1,64,1,1]", build_binary, &bigc, TOL_F32);
    bcase bigg = {B_SUB, 3, 3, {1237, 1, 1}, {1, 1, 4099}, "general"};
    gc_check("sub outer [1237,1,1] - [1,1,4099]", build_binary, &bigg, TOL_F32);
}

int main(void)
{
    if (!gc_init())
        return 77;
    unary_cases();
    act_cases();
    misc_cases();
    binary_cases();
    return gc_finish();
}
