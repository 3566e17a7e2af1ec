/* Elements per second of the elementwise math: the libm path (per element in
 * double, unary_math.h, what DLT_CPU_ISA=libm runs) beside each vmath ISA path
 * this CPU runs (src/ops/vmath.h), one thread, on 64Ki-element arrays in
 * cache, and the speed-up over libm. Asserts nothing.
 *
 *   bench/vmath_bench [seconds per cell, default 0.2]
 * The load average is printed: on a shared machine compare the ratios of one
 * run, not figures of different runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "unary_math.h"
#include "vmath.h"

enum { N = 1 << 16 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    const char *name;
    int kind, order; /* for the libm path; kind -1: softmax rows of `order` elements; order -1:
                        f and f' in one pass (ew2) */
    dlt_vm_fn_id fn;
    float lo, hi; /* input range */
} bcase;

static const bcase cases[] = {
    {"exp", DLT_EW_EXP, 0, DLT_VM_EXP, -10, 10},
    {"log", DLT_EW_LOG, 0, DLT_VM_LOG, 0.01f, 100},
    {"tanh", DLT_EW_TANH, 0, DLT_VM_TANH, -5, 5},
    {"tanh'", DLT_EW_TANH, 1, DLT_VM_TANH_D1, -5, 5},
    {"sigmoid", DLT_EW_SIGMOID, 0, DLT_VM_SIGMOID, -8, 8},
    {"sigmoid'", DLT_EW_SIGMOID, 1, DLT_VM_SIGMOID_D1, -8, 8},
    {"gelu", DLT_EW_GELU, 0, DLT_VM_GELU, -5, 5},
    {"gelu'", DLT_EW_GELU, 1, DLT_VM_GELU_D1, -5, 5},
    {"gelu_tanh", DLT_EW_GELU_TANH, 0, DLT_VM_GELU_TANH, -5, 5},
    {"gelu_tanh'", DLT_EW_GELU_TANH, 1, DLT_VM_GELU_TANH_D1, -5, 5},
    {"gelu, '", DLT_EW_GELU, -1, 0, -5, 5},
    {"gelu_tanh, '", DLT_EW_GELU_TANH, -1, 0, -5, 5},
    {"softmax/128", -1, 128, 0, -8, 8},
    {"softmax/4096", -1, 4096, 0, -8, 8},
};
#define NC ((int)(sizeof cases / sizeof cases[0]))

static float sink;
static float dbuf[N]; /* f' of the one-pass cases */

/* the libm path: the loop of unary.c's ew_cpu before vmath, and softmax.c's
 * contiguous row loop */
static void libm_run(const bcase *c, const float *x, float *y)
{
    if (c->kind >= 0 && c->order < 0) {
        for (int64_t i = 0; i < N; i++) {
            y[i] = (float)dlt_ew_eval(c->kind, 0, 0, 0, x[i]);
            dbuf[i] = (float)dlt_ew_eval(c->kind, 1, 0, 0, x[i]);
        }
        return;
    }
    if (c->kind >= 0) {
        for (int64_t i = 0; i < N; i++)
            y[i] = (float)dlt_ew_eval(c->kind, c->order, 0, 0, x[i]);
        return;
    }
    for (int64_t r = 0; r < N / c->order; r++) {
        const float *px = x + r * c->order;
        float *py = y + r * c->order, m = -INFINITY;
        for (int j = 0; j < c->order; j++)
            m = px[j] > m ? px[j] : m;
        double sum = 0;
        for (int j = 0; j < c->order; j++)
            sum += exp((double)px[j] - m);
        for (int j = 0; j < c->order; j++)
            py[j] = (float)(exp((double)px[j] - m) / sum);
    }
}

static void vm_run(const dlt_vmath_ops *vm, const bcase *c, const float *x, float *y)
{
    if (c->kind >= 0 && c->order < 0) {
        vm->ew2(c->kind, 0, 0, x, y, dbuf, N);
        return;
    }
    if (c->kind >= 0) {
        vm->fn[c->fn](x, y, N);
        return;
    }
    for (int64_t r = 0; r < N / c->order; r++)
        vm->softmax_row(x + r * c->order, y + r * c->order, c->order, 0);
}

/* elements per second of one path (vm NULL: libm) */
static double rate(const dlt_vmath_ops *vm, const bcase *c, const float *x, float *y, double secs)
{
    long reps = 0;
    double t0 = now(), t;
    do {
        if (vm)
            vm_run(vm, c, x, y);
        else
            libm_run(c, x, y);
        sink += y[reps % N];
        reps++;
    } while ((t = now() - t0) < secs);
    return (double)reps * N / t;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.2;
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    double la[3] = {0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3)
            la[0] = -1;
        fclose(f);
    }
    printf("vmath_bench: Melem/s, 1 thread, %d elements; load average %.2f %.2f %.2f\n", N, la[0],
           la[1], la[2]);
    printf("%-13s %9s", "function", "libm");
    const dlt_vmath_ops *paths[DLT_ISA_N] = {0};
    for (int i = DLT_ISA_BASELINE; i < DLT_ISA_N; i++) {
        paths[i] = dlt_vmath_isa((dlt_cpu_isa)i);
        printf(" %9s %6s", dlt_cpu_isa_name((dlt_cpu_isa)i), "x");
    }
    printf("\n");
    for (int c = 0; c < NC; c++) {
        for (int i = 0; i < N; i++)
            x[i] = cases[c].lo + (cases[c].hi - cases[c].lo) * (float)((i * 7919) % N) / N;
        double base = rate(NULL, &cases[c], x, y, secs);
        printf("%-13s %9.1f", cases[c].name, base / 1e6);
        for (int i = DLT_ISA_BASELINE; i < DLT_ISA_N; i++) {
            if (!paths[i]) {
                printf(" %9s %6s", "-", "-");
                continue;
            }
            double r = rate(paths[i], &cases[c], x, y, secs);
            printf(" %9.1f %5.1fx", r / 1e6, r / base);
        }
        printf("\n");
    }
    for (int i = DLT_ISA_BASELINE; i < DLT_ISA_N; i++)
        if (!paths[i])
            printf("path %s: not measured (%s)\n", dlt_cpu_isa_name((dlt_cpu_isa)i),
                   dlt_cpu_isa_compiled((dlt_cpu_isa)i) ? "this CPU lacks it" : "not in this build");
    printf("%s\n", dlt_vmath_describe());
    free(x), free(y);
    return sink == 12345.f; /* keeps the results live */
}
