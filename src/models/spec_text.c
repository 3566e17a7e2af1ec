/* Specs as text and at random (dlt_spec.h): op names, the TOML writers (an
 * inline table for logs and --set, a job file for retraining) and random
 * specs drawn from a search space (random search, benchmarks). The TOML
 * reader is src/train/spec_toml.c (models do not depend on io). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dlt_spec.h"

static const char *const op_names[DLT_SPEC_NOPS] = {"conv", "sepconv", "maxpool", "avgpool"};

const char *dlt_spec_op_name(dlt_spec_op op)
{
    return (int)op >= 0 && op < DLT_SPEC_NOPS ? op_names[op] : NULL;
}

int dlt_spec_op_find(const char *name)
{
    for (int i = 0; i < DLT_SPEC_NOPS; i++)
        if (!strcmp(name, op_names[i]))
            return i;
    return -1;
}

/* ---------------------------------------------------------------- TOML */

/* snprintf into buf at *o, counting what would have been written. */
static void put(char *buf, size_t n, size_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(*o < n ? buf + *o : NULL, *o < n ? n - *o : 0, fmt, ap);
    va_end(ap);
    if (k > 0)
        *o += (size_t)k;
}

/* One layer as an inline table: op only when not conv, kernel when square,
 * skip only when it has any. */
static void layer_text(char *buf, size_t n, size_t *o, const dlt_spec_layer *l)
{
    put(buf, n, o, "{ ");
    if (l->op != DLT_SPEC_CONV)
        put(buf, n, o, "op = \"%s\", ", dlt_spec_op_name(l->op) ? dlt_spec_op_name(l->op) : "?");
    if (l->kernel_h == l->kernel_w)
        put(buf, n, o, "kernel = %d, ", l->kernel_h);
    else
        put(buf, n, o, "kernel_h = %d, kernel_w = %d, ", l->kernel_h, l->kernel_w);
    put(buf, n, o, "filters = %d, stride = %d", l->filters, l->stride);
    if (l->skip) {
        const char *sep = "";
        put(buf, n, o, ", skip = [");
        for (int j = 0; j < 64; j++)
            if (l->skip >> j & 1) {
                put(buf, n, o, "%s%d", sep, j);
                sep = ", ";
            }
        put(buf, n, o, "]");
    }
    put(buf, n, o, " }");
}

int dlt_spec_snprint(char *buf, size_t n, const dlt_spec *s)
{
    size_t o = 0;
    if (n)
        buf[0] = '\0';
    put(buf, n, &o, "{ stem_filters = %d, layers = [", s->stem_filters);
    for (int i = 0; i < s->nlayers && i < DLT_SPEC_MAX_LAYERS; i++) {
        put(buf, n, &o, i ? ", " : "");
        layer_text(buf, n, &o, &s->layer[i]);
    }
    put(buf, n, &o, "] }");
    return (int)o;
}

dlt_status dlt_spec_write_toml(FILE *f, const dlt_spec *s)
{
    char line[512]; /* a layer: at most ~330 bytes (63 skips of up to 2 digits) */
    fprintf(f, "[model]\narch = \"spec\"\n\n[model.spec]\nstem_filters = %d\nlayers = [\n",
            s->stem_filters);
    for (int i = 0; i < s->nlayers && i < DLT_SPEC_MAX_LAYERS; i++) {
        size_t o = 0;
        layer_text(line, sizeof line, &o, &s->layer[i]);
        fprintf(f, "  %s,%s# %d\n", line, o < 40 ? "  " : " ", i);
    }
    fputs("]\n", f);
    return ferror(f) ? dlt_seterr(DLT_ERR_IO, "writing a spec job failed") : DLT_OK;
}

/* ---------------------------------------------------------------- random specs */

void dlt_spec_space_default(dlt_spec_space *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->nlayers = 12;
    sp->nkernels = 4;
    for (int i = 0; i < 4; i++)
        sp->kernels[i] = 2 * i + 1;
    sp->nfilters = 4;
    sp->filters[0] = 24, sp->filters[1] = 36, sp->filters[2] = 48, sp->filters[3] = 64;
    sp->nstrides = 1, sp->strides[0] = 1;
    sp->separate_hw = 1;
    sp->skip_prob = 0.4;
}

/* splitmix64 of (seed, counter): draw k of a spec is a function of both only */
static uint64_t draw(uint64_t seed, uint64_t *k)
{
    uint64_t z = seed + ++*k * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int pick(uint64_t seed, uint64_t *k, const int *list, int n)
{
    return list[draw(seed, k) % (uint64_t)n];
}

dlt_status dlt_spec_random(const dlt_spec_space *sp, uint64_t seed, int in_h, int in_w,
                           dlt_spec *out)
{
    memset(out, 0, sizeof *out);
    if (sp->nlayers < 1 || sp->nlayers > DLT_SPEC_MAX_LAYERS || sp->nkernels < 1 ||
        sp->nkernels > 8 || sp->nfilters < 1 || sp->nfilters > 8 || sp->nstrides < 1 ||
        sp->nstrides > 4)
        return dlt_seterr(DLT_ERR_INVALID,
                          "spec space: %d layers (1..%d), %d kernels (1..8), %d filter counts "
                          "(1..8), %d strides (1..4)",
                          sp->nlayers, DLT_SPEC_MAX_LAYERS, sp->nkernels, sp->nfilters,
                          sp->nstrides);
    uint64_t k = 0;
    int h = in_h, w = in_w;
    out->nlayers = sp->nlayers;
    out->stem_filters = sp->stem_filters;
    for (int i = 0; i < sp->nlayers; i++) {
        dlt_spec_layer *l = &out->layer[i];
        l->op = sp->enas_ops ? (dlt_spec_op)(draw(seed, &k) % DLT_SPEC_NOPS) : DLT_SPEC_CONV;
        l->kernel_h = pick(seed, &k, sp->kernels, sp->nkernels);
        l->kernel_w = sp->separate_hw ? pick(seed, &k, sp->kernels, sp->nkernels) : l->kernel_h;
        l->filters = pick(seed, &k, sp->filters, sp->nfilters);
        l->stride = pick(seed, &k, sp->strides, sp->nstrides);
        if (l->stride > h || l->stride > w)
            l->stride = 1;
        h = (h + l->stride - 1) / l->stride, w = (w + l->stride - 1) / l->stride;
        for (int j = 0; j + 1 < i; j++)
            if ((double)(draw(seed, &k) >> 11) * 0x1.0p-53 < sp->skip_prob)
                l->skip |= 1ULL << j;
    }
    return dlt_spec_check_shape(out, 1, in_h, in_w, NULL, NULL);
}
