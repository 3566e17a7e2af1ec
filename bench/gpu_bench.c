/* GPU training-step throughput of a model zoo classifier on random data:
 * forward, backward and the fused SGD step on the device, images/s, and the
 * device time per op kind of one profiled step. Prints figures; asserts
 * nothing. Exits 77 without a CUDA device.
 *   bench/gpu_bench [ARCH] [BATCH] [STEPS] [C H W] [PRECISION: fp32|tf32|bf16|fp16] [graph]
 * Runs are asynchronous as in the trainer (the optimizer step is queued behind
 * the backward); "graph" replays each step from a CUDA graph (train.cuda_graphs).
 * e.g. bench/gpu_bench resnet50 256 30 3 224 224 tf32
 *      bench/gpu_bench resnet20 128 100 1 28 28 fp32 graph */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_gpu.h"
#include "bench_ops.h"
#include "dltrain.h"

static int fail(const char *what)
{
    fprintf(stderr, "gpu_bench: %s: %s\n", what, dlt_errmsg());
    return 1;
}

int main(int argc, char **argv)
{
    const char *arch = argc > 1 ? argv[1] : "resnet20";
    int batch = argc > 2 ? atoi(argv[2]) : 128, steps = argc > 3 ? atoi(argv[3]) : 50;
    int c = argc > 6 ? atoi(argv[4]) : 1, h = argc > 6 ? atoi(argv[5]) : 28, w = argc > 6 ? atoi(argv[6]) : 28;
    const char *prec = argc > 7 ? argv[7] : "fp32";
    dlt_gpu *gpu;
    char name[256];
    if (dlt_gpu_device_count() == 0) {
        printf("gpu_bench: no CUDA device: nothing to measure\n");
        return 77;
    }
    if (dlt_gpu_open(0, &gpu) != DLT_OK)
        return fail("opening the GPU");
    /* bf16: bf16 GEMMs, TF32 convolutions; fp16: f16 GEMMs and convolutions (dlt_gpu.h) */
    dlt_gpu_set_precision(gpu, !strcmp(prec, "fp16")   ? DLT_PREC_FP16
                               : !strcmp(prec, "bf16") ? DLT_PREC_BF16
                               : !strcmp(prec, "tf32") ? DLT_PREC_TF32
                                                       : DLT_PREC_FP32);
    dlt_gpu_device_name(0, name, sizeof name);
    bench_model m;
    if (bench_model_build(&m, arch, batch, c, h, w, dlt_gpu_backend(gpu)) != DLT_OK)
        return fail(arch);
    dlt_graph *g = m.g;
    dlt_plan *p = m.p;
    dlt_optim_config oc;
    dlt_optim_config_default("sgd", &oc);
    oc.momentum = 0.9;
    dlt_param_view *views = calloc((size_t)dlt_num_params(g) + 1, sizeof *views);
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        views[i] = (dlt_param_view){pi->name, pi->offset, pi->numel};
    }
    dlt_optim *o;
    if (dlt_optim_create(&oc, views, dlt_num_params(g), dlt_params_numel(g), NULL, 0, &o) != DLT_OK ||
        dlt_optim_to_device(o, dlt_gpu_backend(gpu)) != DLT_OK)
        return fail("optimizer");
    int graph = argc > 8 && strcmp(argv[8], "graph") == 0;
    dlt_exec_opts eo = {.training = 1, .async = 1, .graph = graph};
    for (int i = 0; i < 3; i++) /* warm-up: cuDNN algorithm choice, caches */
        if (dlt_plan_run(p, &eo) != DLT_OK || dlt_optim_step(o, dlt_params_dev(g), dlt_grads_dev(g), 0.01))
            return fail("warm-up step");
    double t0 = bench_now();
    for (int i = 0; i < steps; i++) {
        eo.step = i;
        if (dlt_plan_run(p, &eo) != DLT_OK || dlt_optim_step(o, dlt_params_dev(g), dlt_grads_dev(g), 0.01))
            return fail("step");
    }
    if (dlt_graph_download(g, DLT_SYNC_PARAMS) != DLT_OK) /* waits for the last optimizer step */
        return fail("sync");
    double t = bench_now() - t0;
    if (dlt_plan_wait(p) != DLT_OK)
        return fail("last step");
    printf("dltrain %s on %s, batch %d, %dx%dx%d, %s%s: %.2f ms/step, %.1f images/s (%d steps, loss %.4f)\n", arch,
           name, batch, c, h, w, prec, graph ? ", CUDA graphs" : "", 1e3 * t / steps, batch * steps / t, steps,
           *(float *)dlt_plan_data(p, m.loss));
    eo.profile = 1, eo.async = 0, eo.graph = 0;
    if (dlt_plan_run(p, &eo) != DLT_OK)
        return fail("profiled step");
    double total = 0;
    for (int i = 0; i < dlt_plan_num_steps(p); i++)
        total += dlt_plan_step_time(p, i);
    printf("device time per op kind (one profiled step):\n");
    bench_print_ops(p, 1, total, 20);
    free(views);
    dlt_optim_free(o);
    bench_model_free(&m);
    dlt_gpu_close(gpu);
    return 0;
}
