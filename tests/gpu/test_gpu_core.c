/* The device plumbing itself: a graph on the GPU keeps its parameters,
 * gradients, buffers, plans, inputs and outputs straight (accum, gradient
 * copies and accumulation into the flat gradient buffer), checked against
 * the same graph on the CPU. Exits 77 without a CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_gpu.h"
#include "gpu_check.h"

/* fan-out: x used three times, so autodiff adds the contributions (accum) */
static int build_fanout(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    int64_t d[2] = {37, 129};
    dlt_t x = gc_input(g, "x", 2, d, -1, 1);
    dlt_t w = dlt_param(g, "w", 2, d, dlt_init_uniform(-1, 1));
    outs[0] = dlt_add(g, dlt_mul(g, x, w), dlt_mul(g, x, x));
    return 1;
}

/* Training through the flat gradient buffer: the plan binds gradients into
 * the device buffer (direct and by copy, and accumulated over two runs); the
 * host mirror after dlt_graph_download must equal the CPU's. */
static int flat_buffers(void)
{
    float *res[2] = {NULL, NULL};
    size_t n = 0;
    int ok = 1;
    dlt_gpu *gpu = NULL;
    if (dlt_gpu_open(0, &gpu) != DLT_OK) {
        printf("FAIL flat buffers: %s\n", dlt_errmsg());
        return 0;
    }
    for (int side = 0; side < 2 && ok; side++) {
        dlt_graph *g = dlt_graph_create(7);
        if (side)
            dlt_graph_set_backend(g, dlt_gpu_backend(gpu));
        int64_t d[2] = {5, 300};
        dlt_t x = dlt_input(g, "x", DLT_F32, 2, d);
        dlt_t w = dlt_param(g, "w", 2, d, dlt_init_uniform(-1, 1));
        dlt_t u = dlt_param(g, "unused", 1, d, dlt_init_const(2)); /* zeros gradient by copy */
        dlt_t loss = dlt_sum(g, dlt_mul(g, dlt_mul(g, x, w), w), 0, NULL, 0);
        dlt_t ps[2] = {w, u}, gs[2];
        dlt_plan *p = NULL;
        if (dlt_grad(g, loss, 2, ps, gs) != DLT_OK) {
            ok = 0;
            break;
        }
        dlt_plan_opts po = {.ngrads = 2, .grad_params = ps, .grad_values = gs, .accumulate = 1};
        if (dlt_plan_create(g, 1, &loss, &po, &p) != DLT_OK) {
            printf("FAIL flat buffers: %s\n", dlt_errmsg());
            ok = 0;
            dlt_graph_free(g);
            break;
        }
        float *xd = dlt_plan_data(p, x);
        for (int i = 0; i < 5 * 300; i++)
            xd[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
        dlt_exec_opts eo = {.training = 1};
        ok = dlt_plan_run(p, &eo) == DLT_OK && dlt_plan_run(p, &eo) == DLT_OK &&
             dlt_graph_download(g, DLT_SYNC_ALL) == DLT_OK;
        n = dlt_params_numel(g);
        res[side] = malloc(2 * n * sizeof(float) + sizeof(float));
        memcpy(res[side], dlt_grads_data(g), n * sizeof(float));
        memcpy(res[side] + n, dlt_params_data(g), n * sizeof(float));
        res[side][2 * n] = *(float *)dlt_plan_data(p, loss);
        dlt_plan_free(p);
        dlt_graph_free(g);
    }
    double err = 0;
    for (size_t i = 0; ok && i < 2 * n + 1; i++) {
        double e = fabs(res[0][i] - res[1][i]) / fmax(1, fabs(res[0][i]));
        err = e > err ? e : err;
    }
    ok = ok && err < 1e-5;
    printf("%s flat buffers (accumulated gradients, parameters, loss): rel err %.2e\n", ok ? "ok  " : "FAIL", err);
    free(res[0]);
    free(res[1]);
    dlt_gpu_close(gpu);
    return ok;
}

int main(void)
{
    if (!gc_init())
        return 77;
    int ok = flat_buffers();
    gc_check("fan-out accum", build_fanout, NULL, 1e-5);
    return gc_finish() || !ok;
}
