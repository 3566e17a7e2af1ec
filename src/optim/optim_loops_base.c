/* The baseline (x86-64 SSE2, or any other architecture's) table of
 * optim_loops.h. */
#define OL_TABLE dlt_optim_loops_base
#include "optim_loops.h"
