/* Private to the norm family (norm.c, norm_grad.c, norm_kernels.c and the GPU
 * kernels in src/gpu/k_norm.cu, so it compiles as C and C++): the attributes
 * shared by the normalisation ops and their backward op. */
#ifndef DLT_NORM_IMPL_H
#define DLT_NORM_IMPL_H

#include "dlt_opdef.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DLT_NORM_BATCH = 0, DLT_NORM_GROUP = 1 };

/* x is seen as [A, C, S] (batch norm: N, C, H*W; group norm: N, C, H*W;
 * layer norm: rows, normalized size, 1). Batch statistics are per channel
 * (over A and S); group statistics are per (a, group of C/G channels), so
 * each group is a contiguous block. gamma/beta are per channel. */
/* Epilogue of batch norm (act, resid): y = act(bn(x) + r), act none or relu
 * (DLT_NORM_ACT_*), r an optional input shaped like x. The backward op takes
 * the saved y for ReLU's mask and gives dr = dy * (y > 0) as its output 3. */
typedef struct {
    int kind, affine, running;
    int64_t A, C, S, G;
    float eps, momentum;
    int act, resid;
} dlt_norm_attr;

enum { DLT_NORM_ACT_NONE = 0, DLT_NORM_ACT_RELU = 1 };

/* inputs: x [, gamma, beta] [, running_mean, running_var] [, residual] */
#define DLT_NORM_IN_GAMMA 1
#define DLT_NORM_IN_RMEAN(a) (1 + 2 * (a)->affine)
#define DLT_NORM_IN_RES(a) (1 + 2 * (a)->affine + 2 * (a)->running)
/* norm_backward: input 6 is the forward's y when act is relu (norm_grad has no
 * epilogue: without gamma the rule masks dy with a relu_grad node) */
#define DLT_NORM_BWD_Y 6
/* norm_backward's output 3: dr when the epilogue has a residual and a relu */
#define DLT_NORM_HAS_DR(a) ((a)->resid && (a)->act)

int64_t dlt_norm_nstats(const dlt_norm_attr *a); /* number of (mean, rstd) pairs */
int64_t dlt_norm_count(const dlt_norm_attr *a);  /* elements per statistic */

/* dlt_op_def_norm_backward: norm_backward(dy, x, mean, rstd, alpha, gamma[, y])
 * -> dx, dgamma, dbeta, dr: the affine backward in one node (dgamma and dbeta
 * shaped like gamma). With a relu epilogue dy is masked by y > 0 first; dr is
 * that masked dy when the epilogue has a residual (else a rank-0 zero). */
dlt_status dlt_norm_backward_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

/* dlt_op_def_norm_apply: norm_apply(x, mean, rstd[, gamma, beta]) -> y =
 * act(x * sc + sh) per channel with sc = gamma * rstd, sh = beta - mean * sc:
 * batch norm's affine map and relu from given statistics, with the forward
 * kernel's arithmetic (batch statistics only, no residual). */
dlt_status dlt_norm_apply_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

/* CPU kernels (norm_kernels.c): the forward ops, norm_apply, and norm_grad/norm_backward */
dlt_status dlt_norm_cpu(const dlt_kctx *k);
dlt_status dlt_norm_apply_cpu(const dlt_kctx *k);
dlt_status dlt_norm_grad_cpu(const dlt_kctx *k);
/* Rows per block of the layer norm backward's parameter sums (norm_kernels.c):
 * a constant, so that the sums' order depends on the shape only. */
#define NORM_LN_ROWS 32
/* norm_backward's CPU scratch: the layer norm's per-block parameter sums */
size_t dlt_norm_backward_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out);
dlt_t dlt_norm_grad_node(dlt_graph *g, const dlt_norm_attr *a, dlt_t dy, dlt_t x, dlt_t mean, dlt_t rstd,
                         dlt_t alpha, dlt_t gamma);
dlt_status dlt_norm_fwd_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
dlt_status dlt_norm_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);

#ifdef __cplusplus
}
#endif
#endif
