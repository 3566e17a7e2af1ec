/* Training-step throughput of a model zoo classifier on random data, with the
 * time per op kind. Prints figures; asserts nothing.
 *   bench/step_bench [ARCH] [BATCH] [STEPS] [C H W] [THREADS]
 * e.g. env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bench/step_bench resnet20 64 10 1 28 28 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_ops.h"
#include "dltrain.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *arch = argc > 1 ? argv[1] : "resnet20";
    int batch = argc > 2 ? atoi(argv[2]) : 64, steps = argc > 3 ? atoi(argv[3]) : 10;
    int c = argc > 6 ? atoi(argv[4]) : 3, h = argc > 6 ? atoi(argv[5]) : 32, w = argc > 6 ? atoi(argv[6]) : 32;
    int threads = argc > 7 ? atoi(argv[7]) : 0;
    dlt_set_num_threads(threads);
    dlt_model_spec s;
    if (dlt_model_spec_default(arch, &s) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        return 2;
    }
    s.in_channels = c, s.in_h = h, s.in_w = w;
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {batch, c, h, w}, ls[1] = {batch};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), y = dlt_input(g, "y", DLT_I32, 1, ls);
    dlt_t logits = dlt_model_classifier(g, &s, x);
    dlt_t loss = dlt_cross_entropy(g, logits, y, -100, 0.f, DLT_REDUCE_MEAN);
    int np;
    dlt_t *params, *grads;
    dlt_plan *p;
    if (dlt_graph_status(g) || dlt_grad_params(g, loss, &np, &params, &grads) != DLT_OK) {
        fprintf(stderr, "%s %s\n", dlt_graph_errmsg(g), dlt_errmsg());
        return 1;
    }
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    if (dlt_plan_create(g, 1, &loss, &po, &p) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        return 1;
    }
    float *xd = dlt_plan_data(p, x);
    int32_t *yd = dlt_plan_data(p, y);
    for (int64_t i = 0; i < (int64_t)batch * c * h * w; i++)
        xd[i] = (float)((i * 7919) % 255) / 255.f - 0.5f;
    for (int i = 0; i < batch; i++)
        yd[i] = i % s.num_classes;
    dlt_exec_opts eo = {.training = 1};
    dlt_plan_run(p, &eo); /* warm-up */
    eo.profile = 1;
    double t0 = now();
    for (int i = 0; i < steps; i++) {
        eo.step = i;
        dlt_plan_run(p, &eo);
    }
    double t = now() - t0;
    double flops = dlt_graph_flops(g, 1, &logits);
    printf("%s batch %d, %dx%dx%d, %d threads: %.3f s/step, %.1f samples/s, forward %.3g GFLOP/step "
           "(%.1f GFLOP/s counting backward as 2x forward)\n",
           arch, batch, c, h, w, dlt_get_num_threads(), t / steps, batch * steps / t, flops / 1e9,
           3 * flops * steps / t / 1e9);
    bench_print_ops(p, steps, t, 15);
    free(params), free(grads);
    dlt_plan_free(p);
    dlt_graph_free(g);
    return 0;
}
