/* Shared by the step benchmarks (step_bench, gpu_bench): a zoo classifier's
 * training plan on fixed data, a clock, and the time per op kind of a
 * profiled plan. */
#ifndef DLT_BENCH_OPS_H
#define DLT_BENCH_OPS_H

#include "dltrain.h"

/* Rows "op, ms/step, nodes, share", largest first, at most max_rows: the
 * plan's profiled times summed per op kind, divided by `steps`; share is of
 * `total` seconds. */
void bench_print_ops(const dlt_plan *p, int steps, double total, int max_rows);

/* Monotonic seconds. */
double bench_now(void);

/* A classifier of the zoo with its loss and parameter gradients, planned on
 * backend `be` (NULL: the CPU), images and labels of a fixed pattern filled in. */
typedef struct {
    dlt_graph *g;
    dlt_plan *p;
    dlt_t x, y, logits, loss;
    int np;
    dlt_t *params, *grads;
} bench_model;
dlt_status bench_model_build(bench_model *m, const char *arch, int batch, int c, int h, int w,
                             struct dlt_backend *be);
void bench_model_free(bench_model *m);

#endif
