/* How fast NAS children come and go: builds N random children (Zoph & Le's
 * space with strides and ENAS's ops, dlt_spec_random), takes their
 * gradients, plans them on the CPU, runs one forward and backward on a random
 * batch, and frees them; prints the time per child for each part and the
 * process's resident memory before, after the first 10 children and after
 * all of them (a leak grows the last figure with N).
 * The RSS after all of them is also shown after malloc_trim (glibc): memory
 * the allocator keeps for reuse is not a leak, and trimming tells the two
 * apart (valgrind --leak-check=full on a few children finds no loss).
 *   bench/nas_children [N (1000)] [BATCH (4)] [LAYERS (8)] [SIZE (16: SIZExSIZE, 1 channel)] */
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlt_ops.h"
#include "dlt_spec.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* VmRSS of /proc/self/status in KiB, or -1. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

typedef struct {
    double build, plan, run, free;
    long long params;
    double flops;
} totals;

static int child(uint64_t seed, const dlt_spec_space *sp, int batch, int size, totals *t)
{
    dlt_spec s;
    if (dlt_spec_random(sp, seed, size, size, &s) != DLT_OK)
        return fprintf(stderr, "seed %llu: %s\n", (unsigned long long)seed, dlt_errmsg()), 1;
    double t0 = now();
    dlt_graph *g = dlt_graph_create(seed);
    int64_t xs[4] = {batch, 1, size, size}, ls[1] = {batch};
    dlt_t x = dlt_input(g, "images", DLT_F32, 4, xs), lab = dlt_input(g, "labels", DLT_I32, 1, ls);
    dlt_t logits = dlt_spec_build(g, &s, x, 10, 0.1f, 1e-5f, NULL);
    dlt_t loss = dlt_cross_entropy(g, logits, lab, -100, 0.f, DLT_REDUCE_MEAN);
    int np = 0;
    dlt_t *params = NULL, *grads = NULL;
    dlt_status st = dlt_graph_status(g);
    if (st == DLT_OK)
        st = dlt_grad_params(g, loss, &np, &params, &grads);
    double t1 = now();
    dlt_plan *p = NULL;
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    if (st == DLT_OK)
        st = dlt_plan_create(g, 1, &loss, &po, &p);
    double t2 = now();
    if (st == DLT_OK) {
        float *xd = dlt_plan_data(p, x);
        int32_t *ld = dlt_plan_data(p, lab);
        for (int64_t i = 0; i < (int64_t)batch * size * size; i++)
            xd[i] = (float)((i * 2654435761u) % 1000) / 500.f - 1.f;
        for (int i = 0; i < batch; i++)
            ld[i] = i % 10;
        dlt_exec_opts eo = {.training = 1};
        st = dlt_plan_run(p, &eo);
    }
    double t3 = now();
    if (st != DLT_OK)
        fprintf(stderr, "seed %llu: %s\n", (unsigned long long)seed,
                dlt_graph_status(g) ? dlt_graph_errmsg(g) : dlt_errmsg());
    for (dlt_t v = 0; v < dlt_graph_num_values(g); v++)
        if (dlt_kind_of(g, v) == DLT_VAL_PARAM)
            t->params += dlt_shape_numel(dlt_shape_of(g, v));
    t->flops += dlt_graph_flops(g, 1, &logits) / batch;
    free(params);
    free(grads);
    dlt_plan_free(p);
    dlt_graph_free(g);
    double t4 = now();
    t->build += t1 - t0, t->plan += t2 - t1, t->run += t3 - t2, t->free += t4 - t3;
    return st != DLT_OK;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000, batch = argc > 2 ? atoi(argv[2]) : 4;
    int layers = argc > 3 ? atoi(argv[3]) : 8, size = argc > 4 ? atoi(argv[4]) : 16;
    if (n < 1 || batch < 1 || layers < 1 || layers > DLT_SPEC_MAX_LAYERS || size < 1) {
        fprintf(stderr, "usage: nas_children [N] [BATCH] [LAYERS 1..%d] [SIZE]\n",
                DLT_SPEC_MAX_LAYERS);
        return 2;
    }
    dlt_spec_space sp;
    dlt_spec_space_default(&sp);
    sp.nlayers = layers;
    sp.nstrides = 2, sp.strides[1] = 2;
    sp.enas_ops = 1;
    sp.stem_filters = 16;
    totals t = {0};
    long rss0 = rss_kib(), rss10 = -1;
    double t0 = now();
    int fails = 0;
    for (int i = 0; i < n; i++) {
        fails += child((uint64_t)i, &sp, batch, size, &t);
        if (i == 9 || (n < 10 && i == n - 1))
            rss10 = rss_kib();
    }
    double total = now() - t0;
    long rss1 = rss_kib(), trimmed = rss1;
#ifdef __GLIBC__
    malloc_trim(0);
    trimmed = rss_kib();
#endif
    printf("nas_children: %d children (%d layers, batch %d, 1x%dx%d, Zoph & Le kernels/filters, "
           "strides 1/2, ENAS "
           "ops), %d failed\n",
           n, layers, batch, size, size, fails);
    printf("  mean parameters %.0f, forward FLOPs per sample %.3g\n", (double)t.params / n,
           t.flops / n);
    printf("  per child: %.2f ms total = build+grad %.2f ms, plan %.2f ms, forward+backward %.2f "
           "ms, free %.2f ms\n",
           1e3 * total / n, 1e3 * t.build / n, 1e3 * t.plan / n, 1e3 * t.run / n, 1e3 * t.free / n);
    printf("  RSS: %ld KiB before, %ld KiB after 10 children, %ld KiB after %d (%+ld KiB since the "
           "10th), %ld KiB "
           "after malloc_trim\n",
           rss0, rss10, rss1, n, rss1 - rss10, trimmed);
    return fails != 0;
}
