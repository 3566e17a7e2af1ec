/* Attributes of the elementwise binary ops (binary.c), shared with the CUDA
 * kernels (src/gpu/k_binary.cu,
 * k_bcast.cuh). Internal to libdltrain. */
#ifndef DLT_BINARY_IMPL_H
#define DLT_BINARY_IMPL_H

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

/* add, sub, mul, div */
typedef struct {
    int kind; /* BIN_* */
} bin_attr;

/* affine: y = x * s + t */
typedef struct {
    float s, t;
} affine_attr;

#endif
