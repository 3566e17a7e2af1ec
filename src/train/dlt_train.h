/* Training tasks and the pieces the dltrain command drives. */
#ifndef DLT_TRAIN_H
#define DLT_TRAIN_H

#include <stdio.h>

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Print "<prog> <version>" and every enabled part of the build with its version
 * (BLAS and its threads, MPI, HDF5, CUDA runtime and driver, cuBLAS, cuDNN, NCCL). */
void dlt_print_build_info(FILE *out, const char *prog);

#ifdef __cplusplus
}
#endif
#endif
