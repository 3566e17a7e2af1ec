/* The time per op kind of a profiled plan (bench_ops.h). */
#include <stdio.h>
#include <string.h>

#include "bench_ops.h"

typedef struct {
    const char *op;
    double t;
    int n;
} op_row;

void bench_print_ops(const dlt_plan *p, int steps, double total, int max_rows)
{
    op_row rows[128];
    int nr = 0;
    for (int i = 0; i < dlt_plan_num_steps(p); i++) {
        const char *op = dlt_plan_step_op(p, i);
        int k = 0;
        while (k < nr && strcmp(rows[k].op, op) != 0)
            k++;
        if (k == nr && nr < 128)
            rows[nr].op = op, rows[nr].t = 0, rows[nr++].n = 0;
        if (k < nr)
            rows[k].t += dlt_plan_step_time(p, i), rows[k].n++;
    }
    for (int i = 0; i < nr; i++)
        for (int j = i + 1; j < nr; j++)
            if (rows[j].t > rows[i].t) {
                op_row tmp = rows[i];
                rows[i] = rows[j];
                rows[j] = tmp;
            }
    printf("%-26s %9s %6s %7s\n", "op", "ms/step", "nodes", "share");
    for (int i = 0; i < nr && i < max_rows; i++)
        printf("%-26s %9.3f %6d %6.1f%%\n", rows[i].op, 1e3 * rows[i].t / steps, rows[i].n,
               total > 0 ? 100 * rows[i].t / total : 0);
}
