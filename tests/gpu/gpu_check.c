/* GPU-against-CPU op checks (see gpu_check.h). */
#include "gpu_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_gpu.h"
#include "dlt_opdef.h"

#define GC_MAX_SPECS 128
#define GC_MAX_OUT 4

typedef struct {
    char name[64];
    int is_int;
    float lo, hi;
    int ilo, ihi;
} gc_spec;

static dlt_gpu *gpu;
static struct dlt_backend *alt; /* gc_use_backend */
static const char *alt_name;
static int ncases, nfailed, open_failed;
static gc_spec specs[GC_MAX_SPECS];
static int nspecs;

void gc_use_backend(struct dlt_backend *b, const char *what)
{
    alt = b;
    alt_name = what;
}

int gc_init(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (alt) {
        printf("device: %s\n", alt_name);
        return 1;
    }
    if (dlt_gpu_device_count() == 0) {
        printf("SKIP: no CUDA device (%s)\n", dlt_gpu_built() ? "built with CUDA" : "built without CUDA");
        return 0;
    }
    if (dlt_gpu_open(0, &gpu) != DLT_OK) {
        printf("FAIL: cannot open the GPU: %s\n", dlt_errmsg());
        open_failed = 1;
    } else {
        char name[256];
        dlt_gpu_device_name(0, name, sizeof name);
        printf("GPU 0: %s\n", name);
    }
    return 1;
}

static void add_spec(const char *name, int is_int, float lo, float hi, int ilo, int ihi)
{
    gc_spec *s = NULL;
    /* The latest builder's range wins: cases reuse names ("idx") with other ranges. */
    for (int i = 0; i < nspecs && !s; i++)
        if (strcmp(specs[i].name, name) == 0)
            s = &specs[i];
    if (!s && nspecs == GC_MAX_SPECS)
        return;
    if (!s)
        s = &specs[nspecs++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->is_int = is_int;
    s->lo = lo, s->hi = hi, s->ilo = ilo, s->ihi = ihi;
}

dlt_t gc_input(dlt_graph *g, const char *name, int ndim, const int64_t *dims, float lo, float hi)
{
    add_spec(name, 0, lo, hi, 0, 0);
    return dlt_input(g, name, DLT_F32, ndim, dims);
}

dlt_t gc_input_int(dlt_graph *g, const char *name, int ndim, const int64_t *dims, int lo, int hi)
{
    add_spec(name, 1, 0, 0, lo, hi);
    return dlt_input(g, name, DLT_I32, ndim, dims);
}

static void fill(const char *name, const dlt_shape *s, void *data)
{
    const gc_spec *sp = NULL;
    int64_t n = dlt_shape_numel(s);
    uint64_t seed = dlt_hash_str(name);
    for (int i = 0; i < nspecs; i++)
        if (strcmp(specs[i].name, name) == 0)
            sp = &specs[i];
    for (int64_t i = 0; i < n; i++) {
        float u = dlt_rng_uniform(seed, 1, (uint64_t)i);
        if (s->dtype == DLT_F32)
            ((float *)data)[i] = sp && !sp->is_int ? sp->lo + (sp->hi - sp->lo) * u : 2 * u - 1;
        else if (s->dtype == DLT_I32) {
            int lo = sp ? sp->ilo : 0, hi = sp ? sp->ihi : 1;
            ((int32_t *)data)[i] = lo + (int32_t)(u * (float)(hi - lo + 1)) % (hi - lo + 1);
        } else if (s->dtype == DLT_U8)
            ((uint8_t *)data)[i] = (uint8_t)(u * 2);
    }
}

/* One side of a case: build, differentiate, plan, fill, run, copy the results. */
typedef struct {
    int n;                 /* results: outputs then gradients */
    char label[2 * GC_MAX_OUT + 64][80];
    dlt_shape shape[2 * GC_MAX_OUT + 64];
    void *data[2 * GC_MAX_OUT + 64];
} gc_result;

static int run_side(int on_gpu, gc_build_fn build, void *user, int training, gc_result *res)
{
    dlt_graph *g = dlt_graph_create(1234);
    dlt_plan *plan = NULL;
    dlt_t outs[GC_MAX_OUT], wrt[64], grads[64], all[GC_MAX_OUT + 64];
    int nwrt = 0, ok = 0;
    memset(res, 0, sizeof *res);
    if (on_gpu && dlt_graph_set_backend(g, alt ? alt : dlt_gpu_backend(gpu)) != DLT_OK)
        goto out;
    int nout = build(g, outs, user);
    if (nout <= 0 || nout > GC_MAX_OUT || dlt_graph_status(g) != DLT_OK) {
        printf("  %s build failed: %s\n", on_gpu ? "GPU" : "CPU", dlt_graph_errmsg(g));
        goto out;
    }
    dlt_t loss = -1;
    for (int k = 0; k < nout; k++) {
        const dlt_shape *s = dlt_shape_of(g, outs[k]);
        if (s->dtype != DLT_F32)
            continue;
        int64_t n = dlt_shape_numel(s);
        float *r = malloc((size_t)(n ? n : 1) * sizeof *r);
        for (int64_t i = 0; i < n; i++)
            r[i] = 2 * dlt_rng_uniform(0x5eed, (uint64_t)k, (uint64_t)i) - 1;
        dlt_t c = dlt_constant(g, DLT_F32, s->ndim, s->dim, r);
        free(r);
        dlt_t term = dlt_sum(g, dlt_mul(g, outs[k], c), 0, NULL, 0);
        loss = loss < 0 ? term : dlt_add(g, loss, term);
    }
    int nv = dlt_graph_num_values(g);
    for (dlt_t v = 0; v < nv && nwrt < 64 && loss >= 0; v++) {
        dlt_value_kind kd = dlt_kind_of(g, v);
        if ((kd == DLT_VAL_INPUT && dlt_shape_of(g, v)->dtype == DLT_F32) || kd == DLT_VAL_PARAM)
            wrt[nwrt++] = v;
    }
    if (nwrt && dlt_grad(g, loss, nwrt, wrt, grads) != DLT_OK) {
        printf("  %s gradient failed: %s\n", on_gpu ? "GPU" : "CPU", dlt_errmsg());
        goto out;
    }
    for (int k = 0; k < nout; k++)
        all[k] = outs[k];
    for (int i = 0; i < nwrt; i++)
        all[nout + i] = grads[i];
    if (dlt_plan_create(g, nout + nwrt, all, NULL, &plan) != DLT_OK) {
        printf("  %s plan failed: %s\n", on_gpu ? "GPU" : "CPU", dlt_errmsg());
        goto out;
    }
    for (dlt_t v = 0; v < nv; v++)
        if (dlt_kind_of(g, v) == DLT_VAL_INPUT) {
            void *d = dlt_plan_data(plan, v);
            if (d)
                fill(dlt_name_of(g, v), dlt_shape_of(g, v), d);
        }
    dlt_exec_opts eo = {.training = training, .step = 3};
    if (dlt_plan_run(plan, &eo) != DLT_OK) {
        printf("  %s run failed: %s\n", on_gpu ? "GPU" : "CPU", dlt_errmsg());
        goto out;
    }
    for (int i = 0; i < nout + nwrt; i++) {
        const dlt_shape *s = dlt_shape_of(g, all[i]);
        size_t bytes = dlt_shape_bytes(s);
        const void *src = dlt_plan_data(plan, all[i]);
        res->shape[i] = *s;
        res->data[i] = calloc(bytes ? bytes : 1, 1);
        if (src)
            memcpy(res->data[i], src, bytes);
        if (i < nout)
            snprintf(res->label[i], sizeof res->label[i], "out%d", i);
        else
            snprintf(res->label[i], sizeof res->label[i], "d/d %s", dlt_name_of(g, wrt[i - nout]));
    }
    res->n = nout + nwrt;
    ok = 1;
out:
    dlt_plan_free(plan);
    dlt_graph_free(g);
    return ok;
}

static void free_result(gc_result *r)
{
    for (int i = 0; i < 2 * GC_MAX_OUT + 64; i++)
        free(r->data[i]);
}

static int run_case(const char *name, gc_build_fn build, void *user, double tol, double min_err, int training)
{
    gc_result cpu, dev;
    int pass = 0;
    char line[2048] = "";
    ncases++;
    if (open_failed || (!gpu && !alt)) {
        printf("FAIL %s: no GPU context\n", name);
        nfailed++;
        return 0;
    }
    int ok_c = run_side(0, build, user, training, &cpu);
    int ok_g = ok_c && run_side(1, build, user, training, &dev);
    double worst = 0;
    if (ok_c && ok_g && cpu.n == dev.n) {
        pass = 1;
        for (int i = 0; i < cpu.n; i++) {
            const dlt_shape *s = &cpu.shape[i];
            int64_t n = dlt_shape_numel(s);
            double err = 0, scale = 1;
            if (s->dtype == DLT_F32) {
                const float *a = cpu.data[i], *b = dev.data[i];
                for (int64_t j = 0; j < n; j++)
                    if (isfinite(a[j]) && fabs(a[j]) > scale)
                        scale = fabs(a[j]);
                for (int64_t j = 0; j < n; j++) {
                    if (a[j] == b[j]) /* also equal infinities (lse of an empty row) */
                        continue;
                    double e = fabs((double)a[j] - (double)b[j]);
                    if (!(e <= err) && !(isnan(a[j]) && isnan(b[j])))
                        err = isnan(e) ? INFINITY : e;
                }
                err /= scale;
            } else if (memcmp(cpu.data[i], dev.data[i], dlt_shape_bytes(s)) != 0) {
                err = INFINITY;
            }
            int ok = err <= tol;
            pass &= ok;
            worst = fmax(worst, err);
            size_t len = strlen(line);
            snprintf(line + len, sizeof line - len, "%s %s %.2e%s", len ? "," : "", cpu.label[i], err,
                     ok ? "" : " (!)");
        }
    }
    if (min_err > 0) {
        int lossy = worst >= min_err;
        size_t len = strlen(line);
        snprintf(line + len, sizeof line - len, "; worst %.2e, must be >= %.0e (reduced precision in effect)%s", worst,
                 min_err, lossy ? "" : " (!)");
        pass &= lossy;
    }
    printf("%s %s [tol %.0e]:%s\n", pass ? "ok  " : "FAIL", name, tol, line);
    if (!pass)
        nfailed++;
    if (ok_c)
        free_result(&cpu);
    if (ok_g)
        free_result(&dev);
    return pass;
}

int gc_check(const char *name, gc_build_fn build, void *user, double tol)
{
    return run_case(name, build, user, tol, 0, 1);
}

int gc_check_lossy(const char *name, gc_build_fn build, void *user, double tol, double min_err)
{
    return run_case(name, build, user, tol, min_err, 1);
}

dlt_gpu *gc_gpu(void)
{
    return alt ? (dlt_gpu *)alt->ctx : gpu;
}

int gc_check_eval(const char *name, gc_build_fn build, void *user, double tol)
{
    return run_case(name, build, user, tol, 0, 0);
}

int gc_finish(void)
{
    printf("%d of %d GPU cases passed\n", ncases - nfailed, ncases);
    dlt_gpu_close(gpu);
    gpu = NULL;
    return nfailed || open_failed ? 1 : 0;
}
