/* Training-step throughput of a model zoo classifier on random data, with the
 * time per op kind. Prints figures; asserts nothing.
 *   bench/step_bench [ARCH] [BATCH] [STEPS] [C H W] [THREADS]
 * e.g. env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bench/step_bench resnet20 64 10 1 28 28 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_ops.h"
#include "dltrain.h"

int main(int argc, char **argv)
{
    const char *arch = argc > 1 ? argv[1] : "resnet20";
    int batch = argc > 2 ? atoi(argv[2]) : 64, steps = argc > 3 ? atoi(argv[3]) : 10;
    int c = argc > 6 ? atoi(argv[4]) : 3, h = argc > 6 ? atoi(argv[5]) : 32, w = argc > 6 ? atoi(argv[6]) : 32;
    int threads = argc > 7 ? atoi(argv[7]) : 0;
    dlt_set_num_threads(threads);
    bench_model m;
    if (bench_model_build(&m, arch, batch, c, h, w, NULL) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        bench_model_free(&m);
        return 1;
    }
    dlt_plan *p = m.p;
    dlt_exec_opts eo = {.training = 1};
    dlt_plan_run(p, &eo); /* warm-up */
    eo.profile = 1;
    double t0 = bench_now();
    for (int i = 0; i < steps; i++) {
        eo.step = i;
        dlt_plan_run(p, &eo);
    }
    double t = bench_now() - t0;
    double flops = dlt_graph_flops(m.g, 1, &m.logits);
    printf("%s batch %d, %dx%dx%d, %d threads: %.3f s/step, %.1f samples/s, forward %.3g GFLOP/step "
           "(%.1f GFLOP/s counting backward as 2x forward)\n",
           arch, batch, c, h, w, dlt_get_num_threads(), t / steps, batch * steps / t, flops / 1e9,
           3 * flops * steps / t / 1e9);
    bench_print_ops(p, steps, t, 15);
    bench_model_free(&m);
    return 0;
}
