/* The AVX2 table of optim_loops.h (-mavx2 -mfma, no contraction: the same
 * bits as the baseline table). */
#define OL_TABLE dlt_optim_loops_avx2
#include "optim_loops.h"
