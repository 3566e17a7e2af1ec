/* Op builders: each adds a node to a graph and returns its output value (-1 on
 * error, sticky; see dlt_core.h). One file per op family in src/ops/. */
#ifndef DLT_OPS_H
#define DLT_OPS_H

#include "dlt_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- elementwise binary with NumPy broadcasting (binary.c) */
dlt_t dlt_add(dlt_graph *g, dlt_t a, dlt_t b);
dlt_t dlt_sub(dlt_graph *g, dlt_t a, dlt_t b);
dlt_t dlt_mul(dlt_graph *g, dlt_t a, dlt_t b);
dlt_t dlt_div(dlt_graph *g, dlt_t a, dlt_t b);
/* a * s + t for scalars s, t (no broadcasting input needed) */
dlt_t dlt_affine(dlt_graph *g, dlt_t a, float s, float t);

/* ---- reductions (reduce.c). axes: list of axes (negative counts from the end);
 * naxes = 0 reduces all. keepdim keeps reduced axes as size 1. */
dlt_t dlt_sum(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim);
dlt_t dlt_mean(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim);
/* Sum x down to `shape` (the inverse of broadcasting; used by gradient rules). */
dlt_t dlt_sum_to(dlt_graph *g, dlt_t x, const dlt_shape *shape);
/* Broadcast x to `shape` (NumPy rules). */
dlt_t dlt_broadcast_to(dlt_graph *g, dlt_t x, const dlt_shape *shape);

/* ---- linear algebra (matmul.c). a: [..., M, K] (or [..., K, M] with ta),
 * b: [..., K, N] (or [..., N, K] with tb); batch dims broadcast. */
dlt_t dlt_matmul(dlt_graph *g, dlt_t a, dlt_t b, int ta, int tb);
/* x [..., in] times weight [out, in] transposed plus bias [out] (bias may be -1). */
dlt_t dlt_linear(dlt_graph *g, dlt_t x, dlt_t weight, dlt_t bias);

/* ---- activations (activation.c) */
dlt_t dlt_relu(dlt_graph *g, dlt_t x);

/* ---- shape (shape.c) */
dlt_t dlt_reshape(dlt_graph *g, dlt_t x, int ndim, const int64_t *dims); /* one dim may be -1 */
dlt_t dlt_stop_gradient(dlt_graph *g, dlt_t x);

/* ==== unary math, activations, softmax, more reductions (unary family) ==== */
/* (unary family: add declarations here) */

/* ==== convolution, pooling, upsampling (conv family) ==== */
/* (conv family: add declarations here) */

/* ==== normalisation, dropout, losses, metrics (norm family) ==== */
/* (norm family: add declarations here) */

/* ==== shape ops: permute, transpose, concat, split, slice, pad, gather (shape family) ==== */
/* (shape family: add declarations here) */

#ifdef __cplusplus
}
#endif
#endif
