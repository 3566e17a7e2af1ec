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
#include <time.h>

#include "dlt_gpu.h"
#include "bench_ops.h"
#include "dltrain.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
    dlt_model_spec s;
    if (dlt_model_spec_default(arch, &s) != DLT_OK)
        return fail(arch);
    s.in_channels = c, s.in_h = h, s.in_w = w;
    dlt_graph *g = dlt_graph_create(1);
    dlt_graph_set_backend(g, dlt_gpu_backend(gpu));
    int64_t xs[4] = {batch, c, h, w}, ls[1] = {batch};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), y = dlt_input(g, "y", DLT_I32, 1, ls);
    dlt_t logits = dlt_model_classifier(g, &s, x);
    dlt_t loss = dlt_cross_entropy(g, logits, y, -100, 0.f, DLT_REDUCE_MEAN);
    int np;
    dlt_t *params, *grads;
    dlt_plan *p;
    if (dlt_graph_status(g) || dlt_grad_params(g, loss, &np, &params, &grads) != DLT_OK)
        return fail(dlt_graph_errmsg(g));
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    if (dlt_plan_create(g, 1, &loss, &po, &p) != DLT_OK)
        return fail("plan");
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
    float *xd = dlt_plan_data(p, x);
    int32_t *yd = dlt_plan_data(p, y);
    for (int64_t i = 0; i < (int64_t)batch * c * h * w; i++)
        xd[i] = (float)((i * 7919) % 255) / 255.f - 0.5f;
    for (int i = 0; i < batch; i++)
        yd[i] = i % s.num_classes;
    int graph = argc > 8 && strcmp(argv[8], "graph") == 0;
    dlt_exec_opts eo = {.training = 1, .async = 1, .graph = graph};
    for (int i = 0; i < 3; i++) /* warm-up: cuDNN algorithm choice, caches */
        if (dlt_plan_run(p, &eo) != DLT_OK || dlt_optim_step(o, dlt_params_dev(g), dlt_grads_dev(g), 0.01))
            return fail("warm-up step");
    double t0 = now();
    for (int i = 0; i < steps; i++) {
        eo.step = i;
        if (dlt_plan_run(p, &eo) != DLT_OK || dlt_optim_step(o, dlt_params_dev(g), dlt_grads_dev(g), 0.01))
            return fail("step");
    }
    if (dlt_graph_download(g, DLT_SYNC_PARAMS) != DLT_OK) /* waits for the last optimizer step */
        return fail("sync");
    double t = now() - t0;
    if (dlt_plan_wait(p) != DLT_OK)
        return fail("last step");
    printf("dltrain %s on %s, batch %d, %dx%dx%d, %s%s: %.2f ms/step, %.1f images/s (%d steps, loss %.4f)\n", arch,
           name, batch, c, h, w, prec, graph ? ", CUDA graphs" : "", 1e3 * t / steps, batch * steps / t, steps,
           *(float *)dlt_plan_data(p, loss));
    eo.profile = 1, eo.async = 0, eo.graph = 0;
    if (dlt_plan_run(p, &eo) != DLT_OK)
        return fail("profiled step");
    double total = 0;
    for (int i = 0; i < dlt_plan_num_steps(p); i++)
        total += dlt_plan_step_time(p, i);
    printf("device time per op kind (one profiled step):\n");
    bench_print_ops(p, 1, total, 20);
    free(views);
    free(params), free(grads);
    dlt_optim_free(o);
    dlt_plan_free(p);
    dlt_graph_free(g);
    dlt_gpu_close(gpu);
    return 0;
}
