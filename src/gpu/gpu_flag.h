/* Errors in its input that a GPU kernel can only record. The CPU kernel
 * refuses such input (an index or label out of range, a key length outside
 * [0, keys]) before writing anything; the GPU kernel cannot stop the run, so
 * it writes a defined result (zeros, NaN, a clamped length), notes the first
 * bad element in its device's flag and goes on. The backend's check() reads
 * the flag after each run (one small copy) and reports the CPU's kind of
 * one-line error. C and C++ (nvcc, the emulated kernels). */
#ifndef DLT_GPU_FLAG_H
#define DLT_GPU_FLAG_H

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    unsigned long long pos; /* position + 1 of the first bad element; 0: none */
    int val;                /* its value */
    int what;               /* DLT_BAD_*: the kernel that met it */
} dlt_gpu_flag;

enum { DLT_BAD_TAKE = 1, DLT_BAD_TAKE_GRAD, DLT_BAD_GATHER, DLT_BAD_SCATTER, DLT_BAD_LABEL, DLT_BAD_KEY_LENGTH };

/* The error a raised flag stands for (DLT_ERR_INVALID with its message). */
dlt_status dlt_gpu_flag_error(const dlt_gpu_flag *f);

#ifdef __cplusplus
}

/* In a kernel: the first caller's element wins (later ones change nothing). */
static __device__ inline void dlt_gpu_note(dlt_gpu_flag *f, long long pos, int val, int what)
{
    if (atomicCAS(&f->pos, 0ull, (unsigned long long)pos + 1) == 0ull) {
        f->val = val;
        f->what = what;
    }
}
#endif
#endif
