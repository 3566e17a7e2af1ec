/* GPU-against-CPU checks for op kernels. A case is a builder that adds the op
 * under test to a graph (its inputs made with gc_input*, its parameters with
 * dlt_param); gc_check builds it twice, on a CPU graph and on a graph placed on
 * the GPU, feeds both the same random inputs, runs forward and backward of
 *     loss = sum_k sum(out_k * R_k)   (R_k fixed random tensors)
 * in training mode, and compares every output and the gradient of every f32
 * input and parameter: max |gpu - cpu| / max(max |cpu|, 1) <= tol.
 * Integer outputs must match exactly. */
#ifndef DLT_GPU_CHECK_H
#define DLT_GPU_CHECK_H

#include "dlt_core.h"
#include "dlt_ops.h"

/* Before gc_init: run the "GPU" side on backend b (named `what`) instead of
 * opening a CUDA device (the CPU emulation of the kernels, tests/gpu/emu). */
struct dlt_backend;
void gc_use_backend(struct dlt_backend *b, const char *what);
/* Returns 1 when a GPU is usable (opens it once), else 0: the test exits 77. */
int gc_init(void);
/* A builder: make inputs and the op(s); write up to 4 outputs to outs and
 * return how many (0: the builder failed; the graph's error is reported). */
typedef int (*gc_build_fn)(dlt_graph *g, dlt_t *outs, void *user);
/* f32 input filled uniformly in [lo, hi). */
dlt_t gc_input(dlt_graph *g, const char *name, int ndim, const int64_t *dims, float lo, float hi);
/* i32 input filled uniformly with integers in [lo, hi] (labels, indices). */
dlt_t gc_input_int(dlt_graph *g, const char *name, int ndim, const int64_t *dims, int lo, int hi);
/* Run one case; prints "ok"/"FAIL" with the worst error per tensor. Returns 1 if it passed. */
int gc_check(const char *name, gc_build_fn build, void *user, double tol);
/* Same, with training off (eval mode: batch norm uses running statistics). */
int gc_check_eval(const char *name, gc_build_fn build, void *user, double tol);
/* Same, for a reduced-precision mode (gc_gpu + dlt_gpu_set_precision): also
 * fails unless some tensor's error reaches min_err, i.e. the mode really
 * rounded something. */
int gc_check_lossy(const char *name, gc_build_fn build, void *user, double tol, double min_err);
/* The device the "GPU" side runs on (to set its precision); with
 * gc_use_backend, the backend's context, which must be a dlt_gpu (the
 * emulator's is). */
typedef struct dlt_gpu dlt_gpu;
dlt_gpu *gc_gpu(void);
/* Exit status for main: 0 when every case passed, 1 otherwise. Frees the GPU. */
int gc_finish(void);

#endif
