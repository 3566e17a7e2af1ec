/* Attributes of the reduction-like ops (matmul.c, reduce.c, reduce_ext.c,
 * softmax.c, metric.c), shared by their CPU kernels and the CUDA kernels in
 * src/gpu/k_reduce*.cu: plain C that also compiles as C++ (nvcc). */
#ifndef DLT_REDUCE_IMPL_H
#define DLT_REDUCE_IMPL_H

#include "dlt_opdef.h"

/* A reduction over the axes marked in `reduce` of a contiguous tensor s as a
 * loop nest, for the CPU (reduce.c) and CUDA (k_reduce*.cu) kernels alike:
 * size-1 axes dropped, adjacent axes that are both reduced or both kept and
 * continue each other in memory merged. Host code: the kernels get the nest. */
typedef struct {
    int nk, nr;                                      /* kept / reduced axes */
    int64_t kdim[DLT_MAX_DIMS], kstr[DLT_MAX_DIMS]; /* kept, outer to inner */
    int64_t rdim[DLT_MAX_DIMS], rstr[DLT_MAX_DIMS]; /* reduced, outer to inner */
    int64_t nout, nred;
    int inner_reduced; /* the innermost axis is reduced (else kept) */
} dlt_red_nest;

static inline void dlt_red_nest_init(dlt_red_nest *q, const dlt_shape *s, const unsigned char *reduce)
{
    int64_t dim[DLT_MAX_DIMS], str[DLT_MAX_DIMS], stride = 1;
    int red[DLT_MAX_DIMS], nd = 0;
    for (int i = s->ndim - 1; i >= 0; i--) { /* inner to outer */
        int64_t d = s->dim[i];
        if (d == 1)
            continue;
        if (nd > 0 && red[nd - 1] == !!reduce[i] && str[nd - 1] * dim[nd - 1] == stride)
            dim[nd - 1] *= d;
        else
            dim[nd] = d, str[nd] = stride, red[nd] = !!reduce[i], nd++;
        stride *= d;
    }
    q->nk = q->nr = 0;
    q->nout = q->nred = 1;
    for (int i = 0; i < DLT_MAX_DIMS; i++)
        q->kdim[i] = q->kstr[i] = q->rdim[i] = q->rstr[i] = 0;
    for (int i = nd - 1; i >= 0; i--) { /* outer to inner */
        if (red[i])
            q->rdim[q->nr] = dim[i], q->rstr[q->nr++] = str[i], q->nred *= dim[i];
        else
            q->kdim[q->nk] = dim[i], q->kstr[q->nk++] = str[i], q->nout *= dim[i];
    }
    q->inner_reduced = nd > 0 && red[0];
}

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
