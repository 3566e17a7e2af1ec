/* [model.spec] tables to specs and specs back to job files (dlt_spec_toml.h).
 * The reader checks each field where it was written, so a refused spec is
 * one line with the file, the line and the field's path; dlt_spec_check's
 * own rules (the same ranges) stay the authority for specs built in memory. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_models.h"
#include "dlt_spec_toml.h"

typedef struct {
    const char *file;
    int lines; /* 0: the tree's lines mean nothing (a --set value is parsed alone) */
} reader;

/* "FILE:LINE: " + message; without a line "FILE: ", without a file nothing. */
static dlt_status fail(const reader *r, int line, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->file && r->file[0] && line > 0 && r->lines)
        return dlt_seterr(DLT_ERR_INVALID, "%s:%d: %s", r->file, line, msg);
    if (r->file && r->file[0])
        return dlt_seterr(DLT_ERR_INVALID, "%s: %s", r->file, msg);
    return dlt_seterr(DLT_ERR_INVALID, "%s", msg);
}

static const char *type_article(const dlt_toml_value *v)
{
    switch (v->type) {
    case DLT_TOML_TABLE:
        return "a table";
    case DLT_TOML_ARRAY:
        return "an array";
    case DLT_TOML_STRING:
        return "a string";
    case DLT_TOML_FLOAT:
        return "a float";
    case DLT_TOML_BOOL:
        return "a boolean";
    case DLT_TOML_INT:
        return "an integer";
    default:
        return "a date or time";
    }
}

/* An integer field in [lo, hi]; odd_only for kernels. `path` names it. */
static dlt_status int_field(const reader *r, const dlt_toml_value *v, int line, const char *path,
                            int lo, int hi, int odd_only, int *out)
{
    if (v->type != DLT_TOML_INT)
        return fail(r, line, "%s must be an integer (got %s)", path, type_article(v));
    if (v->i < lo || v->i > hi || (odd_only && v->i % 2 == 0)) {
        if (odd_only)
            return fail(r, line, "%s = %lld: must be odd, %d..%d (\"same\" padding)", path,
                        (long long)v->i, lo, hi);
        return fail(r, line, "%s = %lld: must be %d..%d", path, (long long)v->i, lo, hi);
    }
    *out = (int)v->i;
    return DLT_OK;
}

/* skip = [j, ...]: earlier layers 0..i-2, each once. */
static dlt_status skips(const reader *r, const dlt_toml_value *v, int i, const char *lpath,
                        uint64_t *mask)
{
    if (v->type != DLT_TOML_ARRAY)
        return fail(r, v->line, "%s.skip must be an array of layer indices (got %s)", lpath,
                    type_article(v));
    for (size_t k = 0; k < v->arr.len; k++) {
        const dlt_toml_value *x = v->arr.items[k];
        int line = x->line > 0 ? x->line : v->line;
        if (x->type != DLT_TOML_INT)
            return fail(r, line, "%s.skip[%zu] must be an integer (got %s)", lpath, k,
                        type_article(x));
        if (x->i < 0 || x->i > i - 2) {
            if (i < 2)
                return fail(r, line,
                            "%s.skip[%zu] = %lld: layer %d can skip from no layer (the previous "
                            "layer is always "
                            "the input)",
                            lpath, k, (long long)x->i, i);
            return fail(r, line,
                        "%s.skip[%zu] = %lld: a skip must name an earlier layer (0..%d; the "
                        "previous layer is "
                        "always the input)",
                        lpath, k, (long long)x->i, i - 2);
        }
        if (*mask >> x->i & 1)
            return fail(r, line, "%s.skip[%zu] = %lld: layer %lld is named twice", lpath, k,
                        (long long)x->i, (long long)x->i);
        *mask |= 1ULL << x->i;
    }
    return DLT_OK;
}

static dlt_status layer(const reader *r, const dlt_toml_value *t, int i, dlt_spec_layer *l)
{
    char lpath[64], path[96];
    snprintf(lpath, sizeof lpath, "model.spec.layers[%d]", i);
    if (t->type != DLT_TOML_TABLE)
        return fail(r, t->line, "%s must be a table such as { kernel = 3, filters = 36 } (got %s)",
                    lpath, type_article(t));
    memset(l, 0, sizeof *l);
    l->stride = 1;
    int kernel = 0, have_h = 0, have_w = 0;
    dlt_status st = DLT_OK;
    for (size_t k = 0; k < t->tab.len && st == DLT_OK; k++) {
        const dlt_toml_entry *e = &t->tab.items[k];
        const dlt_toml_value *v = e->value;
        snprintf(path, sizeof path, "%s.%s", lpath, e->key);
        if (!strcmp(e->key, "op")) {
            int op = v->type == DLT_TOML_STRING ? dlt_spec_op_find(v->str.ptr) : -1;
            if (op < 0)
                st = fail(r, e->line,
                          "%s must be one of conv, sepconv, maxpool, avgpool (got %s%s%s)", path,
                          v->type == DLT_TOML_STRING ? "\"" : "",
                          v->type == DLT_TOML_STRING ? v->str.ptr : type_article(v),
                          v->type == DLT_TOML_STRING ? "\"" : "");
            else
                l->op = (dlt_spec_op)op;
        } else if (!strcmp(e->key, "kernel")) {
            st = int_field(r, v, e->line, path, 1, DLT_SPEC_MAX_KERNEL, 1, &kernel);
        } else if (!strcmp(e->key, "kernel_h")) {
            st = int_field(r, v, e->line, path, 1, DLT_SPEC_MAX_KERNEL, 1, &l->kernel_h);
            have_h = 1;
        } else if (!strcmp(e->key, "kernel_w")) {
            st = int_field(r, v, e->line, path, 1, DLT_SPEC_MAX_KERNEL, 1, &l->kernel_w);
            have_w = 1;
        } else if (!strcmp(e->key, "filters")) {
            st = int_field(r, v, e->line, path, 1, DLT_SPEC_MAX_FILTERS, 0, &l->filters);
        } else if (!strcmp(e->key, "stride")) {
            st = int_field(r, v, e->line, path, 1, DLT_SPEC_MAX_STRIDE, 0, &l->stride);
        } else if (!strcmp(e->key, "skip")) {
            st = skips(r, v, i, lpath, &l->skip);
        } else {
            st = fail(r, e->line,
                      "%s: unknown key (a layer has op, kernel, kernel_h, kernel_w, filters, "
                      "stride, skip)",
                      path);
        }
    }
    if (st != DLT_OK)
        return st;
    if (kernel && (have_h || have_w))
        return fail(r, t->line, "%s: give kernel, or kernel_h and kernel_w, not both", lpath);
    if (!kernel && !(have_h && have_w))
        return fail(r, t->line, "%s: missing kernel (or kernel_h and kernel_w)", lpath);
    if (kernel)
        l->kernel_h = l->kernel_w = kernel;
    if (!l->filters)
        return fail(r, t->line, "%s: missing filters", lpath);
    return DLT_OK;
}

static dlt_status from_toml(const dlt_toml_value *table, const char *file, int lines, dlt_spec *out)
{
    reader r = {file, lines};
    memset(out, 0, sizeof *out);
    if (!table || table->type != DLT_TOML_TABLE)
        return fail(&r, table ? table->line : 0, "model.spec must be a table (got %s)",
                    table ? type_article(table) : "nothing");
    const dlt_toml_value *layers = NULL;
    int layers_line = table->line;
    for (size_t k = 0; k < table->tab.len; k++) {
        const dlt_toml_entry *e = &table->tab.items[k];
        if (!strcmp(e->key, "stem_filters")) {
            dlt_status st = int_field(&r, e->value, e->line, "model.spec.stem_filters", 0,
                                      DLT_SPEC_MAX_FILTERS, 0, &out->stem_filters);
            if (st != DLT_OK)
                return st;
        } else if (!strcmp(e->key, "layers")) {
            layers = e->value;
            layers_line = e->line;
        } else {
            return fail(&r, e->line, "model.spec.%s: unknown key (a spec has stem_filters, layers)",
                        e->key);
        }
    }
    if (!layers)
        return fail(
            &r, table->line,
            "model.spec.layers: missing (a list of layers, e.g. [{ kernel = 3, filters = 36 }])");
    if (layers->type != DLT_TOML_ARRAY)
        return fail(&r, layers_line, "model.spec.layers must be an array of tables (got %s)",
                    type_article(layers));
    if (layers->arr.len < 1 || layers->arr.len > DLT_SPEC_MAX_LAYERS)
        return fail(&r, layers_line, "model.spec.layers: %zu layers; a spec has 1..%d",
                    layers->arr.len, DLT_SPEC_MAX_LAYERS);
    out->nlayers = (int)layers->arr.len;
    for (int i = 0; i < out->nlayers; i++) {
        const dlt_toml_value *t = layers->arr.items[i];
        dlt_status st = layer(&r, t, i, &out->layer[i]);
        if (st != DLT_OK)
            return st;
    }
    if (dlt_spec_check(out) != DLT_OK) { /* the same rules: cannot fail after the checks above */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dlt_errmsg());
        return fail(&r, layers_line, "%s", msg);
    }
    return DLT_OK;
}

dlt_status dlt_spec_from_toml(const dlt_toml_value *table, const char *file, dlt_spec *out)
{
    return from_toml(table, file, 1, out);
}

dlt_status dlt_spec_from_job(const dlt_job *job, dlt_spec *out)
{
    char where[300];
    dlt_job_where(job, "model.spec", where, sizeof where);
    /* "file:line" -> "file" (element lines come from the tree); "--set"
     * values have no lines; "default" is the empty table */
    char *colon = strrchr(where, ':');
    if (colon && colon[1] >= '0' && colon[1] <= '9')
        *colon = '\0';
    if (!strcmp(where, "default"))
        return dlt_seterr(DLT_ERR_INVALID,
                          "model.arch = \"spec\" needs a [model.spec] table with layers "
                          "(docs/models.md, \"spec\")");
    return from_toml(dlt_job_get(job, "model.spec"), where, strcmp(where, "--set") != 0, out);
}

dlt_status dlt_spec_write_job(FILE *f, const dlt_job *base, const dlt_spec *s)
{
    if (!base)
        return dlt_spec_write_toml(f, s);
    /* the base job resolved to text, loaded into a new job, then the two
     * model keys set: the base itself is left as it was */
    char *text = NULL, *value = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    dlt_status st = dlt_job_write(m, base);
    fclose(m);
    dlt_job *job = NULL;
    if (st == DLT_OK)
        st = dlt_job_new(&job);
    if (st == DLT_OK)
        st = dlt_job_load(job, "base job", text, len);
    /* "model.spec=" and the inline table: a --set assignment */
    static const char key[] = "model.spec=";
    size_t n = (size_t)dlt_spec_snprint(NULL, 0, s);
    if (st == DLT_OK) {
        value = malloc(sizeof key + n);
        if (value) {
            memcpy(value, key, sizeof key - 1);
            dlt_spec_snprint(value + sizeof key - 1, n + 1, s);
            st = dlt_job_set(job, value);
        } else {
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        }
    }
    if (st == DLT_OK)
        st = dlt_job_set(job, "model.arch=spec");
    if (st == DLT_OK) { /* only the keys that apply to a spec network (no nas.*, model.hidden, ...) */
        dlt_job_set_families(job, dlt_arch_families("spec"));
        st = dlt_job_write(f, job);
    }
    dlt_job_free(job);
    free(value);
    free(text);
    return st;
}
