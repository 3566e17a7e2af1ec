/* Bad input a GPU kernel can only record (gpu_flag.h): an index out of range
 * (embedding forward, its scatter-add backward, gather), a class label out of
 * range, a key length outside [0, Tk]. The CPU refuses each before the step
 * writes anything; the device run must fail with a one-line error naming the
 * op, the value and its position, and the next run with good input must pass
 * (the flag is cleared) with the CPU's results. Exits 77 without a CUDA
 * device; tests/gpu/emu_errors runs it on the emulated kernels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_gpu.h"
#include "gpu_check.h"

typedef struct {
    const char *what;
    /* builds the graph; *bad is the i32 input whose element `at` is set to
     * `bad_value` (else `good_value`) */
    dlt_t (*build)(dlt_graph *g, dlt_t *bad);
    int at, bad_value, good_value;
    const char *expect; /* in the device's message */
} err_case;

static dlt_t b_embedding(dlt_graph *g, dlt_t *bad)
{
    int64_t td[2] = {7, 5}, id[1] = {6};
    dlt_t table = dlt_param(g, "table", 2, td, dlt_init_uniform(-1, 1));
    *bad = dlt_input(g, "ids", DLT_I32, 1, id);
    return dlt_sum(g, dlt_square(g, dlt_embedding(g, table, *bad)), 0, NULL, 0);
}

static dlt_t b_gather(dlt_graph *g, dlt_t *bad)
{
    int64_t xd[2] = {3, 8}, id[2] = {3, 4};
    dlt_t x = dlt_param(g, "x", 2, xd, dlt_init_uniform(-1, 1));
    *bad = dlt_input(g, "idx", DLT_I32, 2, id);
    return dlt_sum(g, dlt_square(g, dlt_gather(g, x, 1, *bad)), 0, NULL, 0);
}

static dlt_t b_label(dlt_graph *g, dlt_t *bad)
{
    int64_t zd[2] = {6, 10}, ld[1] = {6};
    dlt_t z = dlt_param(g, "z", 2, zd, dlt_init_uniform(-1, 1));
    *bad = dlt_input(g, "labels", DLT_I32, 1, ld);
    return dlt_cross_entropy(g, z, *bad, -100, 0.f, DLT_REDUCE_MEAN);
}

static dlt_t b_lengths(dlt_graph *g, dlt_t *bad)
{
    int64_t qd[4] = {2, 2, 5, 8}, ld[1] = {2};
    dlt_t q = dlt_param(g, "q", 4, qd, dlt_init_uniform(-1, 1));
    dlt_t k = dlt_param(g, "k", 4, qd, dlt_init_uniform(-1, 1));
    dlt_t v = dlt_param(g, "v", 4, qd, dlt_init_uniform(-1, 1));
    *bad = dlt_input(g, "lengths", DLT_I32, 1, ld);
    return dlt_sum(g, dlt_square(g, dlt_attention(g, q, k, v, *bad, NULL, NULL)), 0, NULL, 0);
}

/* One graph on `be` (NULL: the CPU): a run with the bad value, then one with
 * the good value. Returns 1 when the first failed with a message containing
 * `expect` (CPU: any error) and the second passed; *loss: the good run's. */
static int run_side(const err_case *c, struct dlt_backend *be, float *loss, char *msg, size_t len)
{
    dlt_graph *g = dlt_graph_create(3);
    dlt_plan *p = NULL;
    dlt_t *ps = NULL, *gs = NULL, bad = -1;
    int np, ok = 0;
    if (be)
        dlt_graph_set_backend(g, be);
    dlt_t l = c->build(g, &bad);
    if (dlt_graph_status(g) != DLT_OK || dlt_grad_params(g, l, &np, &ps, &gs) != DLT_OK) {
        snprintf(msg, len, "building: %s", dlt_errmsg());
        goto out;
    }
    dlt_plan_opts po = {.ngrads = np, .grad_params = ps, .grad_values = gs};
    if (dlt_plan_create(g, 1, &l, &po, &p) != DLT_OK) {
        snprintf(msg, len, "planning: %s", dlt_errmsg());
        goto out;
    }
    int32_t *v = dlt_plan_data(p, bad);
    int64_t n = (int64_t)dlt_shape_numel(dlt_shape_of(g, bad));
    for (int64_t i = 0; i < n; i++)
        v[i] = (int32_t)(i % 5);
    v[c->at] = c->bad_value;
    dlt_exec_opts eo = {.training = 1};
    dlt_status st = dlt_plan_run(p, &eo);
    snprintf(msg, len, "%s", st == DLT_OK ? "(no error)" : dlt_errmsg());
    if (st == DLT_OK || (be && !strstr(msg, c->expect)))
        goto out;
    for (int64_t i = 0; i < n; i++)
        v[i] = (int32_t)(i % 5);
    v[c->at] = c->good_value;
    if (dlt_plan_run(p, &eo) != DLT_OK) {
        snprintf(msg, len, "the good run after the bad one failed: %s", dlt_errmsg());
        goto out;
    }
    *loss = *(float *)dlt_plan_data(p, l);
    ok = 1;
out:
    free(ps), free(gs);
    dlt_plan_free(p);
    dlt_graph_free(g);
    return ok;
}

int main(void)
{
    static const err_case cs[] = {
        {"embedding id 9 of 7 rows", b_embedding, 3, 9, 6, "take: index 9 at position 3 is out of range"},
        {"embedding id -2", b_embedding, 5, -2, 0, "take: index -2 at position 5 is out of range"},
        {"gather index 8 of 8", b_gather, 6, 8, 7, "gather: index 8 at position 6 is out of range"},
        {"cross_entropy label 10 of 10 classes", b_label, 4, 10, 9, "cross_entropy: label 10 at position 4"},
        {"attention key length 6 of 5", b_lengths, 1, 6, 5, "attention: key length 6 of batch row 1"},
        {"attention key length -1", b_lengths, 0, -1, 0, "attention: key length -1 of batch row 0"},
    };
    if (!gc_init())
        return 77;
    dlt_gpu *gpu = gc_gpu();
    struct dlt_backend *be = gpu ? dlt_gpu_backend(gpu) : NULL;
    int failed = !be;
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char cpu_msg[512], dev_msg[512];
        float lc = NAN, ld = NAN;
        int okc = run_side(&cs[i], NULL, &lc, cpu_msg, sizeof cpu_msg);
        int okd = be && run_side(&cs[i], be, &ld, dev_msg, sizeof dev_msg);
        int pass = okc && okd && fabsf(lc - ld) <= 1e-5f * fmaxf(1.f, fabsf(lc));
        printf("%s %s: device: \"%s\"; CPU: \"%s\"; good run after it: loss %.6f (CPU %.6f)\n",
               pass ? "ok  " : "FAIL", cs[i].what, be ? dev_msg : "no device", cpu_msg, ld, lc);
        failed += !pass;
    }
    return gc_finish() || failed;
}
