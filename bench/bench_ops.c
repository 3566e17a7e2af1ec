/* What the step benchmarks share (bench_ops.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

dlt_status bench_model_build(bench_model *m, const char *arch, int batch, int c, int h, int w,
                             struct dlt_backend *be)
{
    dlt_model_spec s;
    dlt_status st;
    memset(m, 0, sizeof *m);
    if ((st = dlt_model_spec_default(arch, &s)) != DLT_OK)
        return st;
    s.in_channels = c, s.in_h = h, s.in_w = w;
    if (!(m->g = dlt_graph_create(1)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (be && (st = dlt_graph_set_backend(m->g, be)) != DLT_OK)
        return st;
    int64_t xs[4] = {batch, c, h, w}, ls[1] = {batch};
    m->x = dlt_input(m->g, "x", DLT_F32, 4, xs);
    m->y = dlt_input(m->g, "y", DLT_I32, 1, ls);
    m->logits = dlt_model_classifier(m->g, &s, m->x);
    m->loss = dlt_cross_entropy(m->g, m->logits, m->y, -100, 0.f, DLT_REDUCE_MEAN);
    if (dlt_graph_status(m->g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(m->g), "%s", dlt_graph_errmsg(m->g));
    if ((st = dlt_grad_params(m->g, m->loss, &m->np, &m->params, &m->grads)) != DLT_OK)
        return st;
    dlt_plan_opts po = {.ngrads = m->np, .grad_params = m->params, .grad_values = m->grads};
    if ((st = dlt_plan_create(m->g, 1, &m->loss, &po, &m->p)) != DLT_OK)
        return st;
    float *xd = dlt_plan_data(m->p, m->x);
    int32_t *yd = dlt_plan_data(m->p, m->y);
    for (int64_t i = 0; i < (int64_t)batch * c * h * w; i++)
        xd[i] = (float)((i * 7919) % 255) / 255.f - 0.5f;
    for (int i = 0; i < batch; i++)
        yd[i] = i % s.num_classes;
    return DLT_OK;
}

void bench_model_free(bench_model *m)
{
    free(m->params), free(m->grads);
    dlt_plan_free(m->p);
    dlt_graph_free(m->g);
    memset(m, 0, sizeof *m);
}
