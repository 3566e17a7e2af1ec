/* Shared by the step benchmarks: the time per op kind of a profiled plan. */
#ifndef DLT_BENCH_OPS_H
#define DLT_BENCH_OPS_H

#include "dltrain.h"

/* Rows "op, ms/step, nodes, share", largest first, at most max_rows: the
 * plan's profiled times summed per op kind, divided by `steps`; share is of
 * `total` seconds. */
void bench_print_ops(const dlt_plan *p, int steps, double total, int max_rows);

#endif
