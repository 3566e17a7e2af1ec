/* The stand-in device for tests (tests/standin.c): host blocks as device
 * memory, the ops' CPU kernels, the optimizer's fused-step rules. A graph,
 * optimizer or training run placed on it exercises the whole device path
 * and must match the CPU backend bit for bit at one thread. The tests'
 * dltrain (tests/train/standin_dltrain) runs a "cuda" job on it under
 * DLT_TEST_STANDIN_DEVICE=1. */
#ifndef DLT_STANDIN_H
#define DLT_STANDIN_H

#ifdef __cplusplus
extern "C" {
#endif

struct dlt_backend *dlt_standin_backend(void);

#ifdef __cplusplus
}
#endif
#endif
