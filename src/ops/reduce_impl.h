/* Attributes of the reduction-like ops (matmul.c, reduce.c, reduce_ext.c,
 * softmax.c, metric.c), shared by their CPU kernels and the CUDA kernels in
 * src/gpu/k_reduce*.cu: plain C that also compiles as C++ (nvcc). */
#ifndef DLT_REDUCE_IMPL_H
#define DLT_REDUCE_IMPL_H

#include "dlt_opdef.h"

/* matmul: y = op(a) op(b), op = transpose when set */
typedef struct {
    int ta, tb;
} mm_attr;

/* sum (mean through scale) */
typedef struct {
    unsigned char reduce[DLT_MAX_DIMS]; /* 1 on reduced axes of the input */
    int keepdim;
    float scale; /* 1 for sum, 1/count for mean */
} reduce_attr;

/* max, max_pick, max_grad, var */
typedef struct {
    unsigned char reduce[DLT_MAX_DIMS]; /* 1 on reduced axes of x */
    int keepdim;
    int correction; /* var only */
} rx_attr;

/* softmax, log_softmax and their _grad ops */
typedef struct {
    int axis; /* normalised, 0 <= axis < ndim */
} sm_attr;

/* topk_correct */
typedef struct {
    int k, fraction;
} topk_attr;

#endif
