/* A child network built from a spec (src/models/spec.c) against PyTorch:
 * tests/fixtures/nas_spec.h5, made by tests/fixtures/nas_spec_make_fixtures.py
 * (which documents the layout and writes the module from dlt_spec.h's
 * semantics), holds a spec with every op, a rectangular kernel, strides on an
 * odd-sized image and skips across strides, PyTorch's initial weights, the
 * logits in training mode and the gradients of L = sum(logits * r) with
 * respect to every parameter and the input. The spec is read from the
 * fixture's inline TOML with dlt_spec_from_toml, built, loaded by name (every
 * name and shape must match PyTorch's, none missing or extra) and compared. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_spec_toml.h"
#include "dlt_test.h"

/* float64 reference rounded once; we compute in f32 (short sums): a wrong
 * layer, skip or padding is off by O(1) */
#define TOL 1e-4

static size_t numel(const dlt_graph *g, dlt_t v)
{
    return (size_t)dlt_shape_numel(dlt_shape_of(g, v));
}

/* Worst error on the scale of the reference's largest magnitude. */
static double scaled_err(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(b[i]));
    return dlt_test_max_relerr(a, b, n, m > 0 ? m : 1);
}

static void read_spec(hid_t f, dlt_spec *s)
{
    char text[2048], doc[2100];
    dlt_test_h5_attr_str(f, "spec", text, sizeof text);
    snprintf(doc, sizeof doc, "spec = %s\n", text);
    dlt_toml_value *t = NULL;
    ck_assert_msg(dlt_toml_parse(doc, strlen(doc), &t) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_msg(dlt_spec_from_toml(dlt_toml_get(t, "spec"), "nas_spec.h5", s) == DLT_OK, "%s",
                  dlt_errmsg());
    dlt_toml_free(t);
}

START_TEST(test_spec_vs_torch)
{
    hid_t f = dlt_test_fixture_open("nas_spec.h5");
    dlt_spec s;
    read_spec(f, &s);
    ck_assert_int_eq(s.nlayers, 6);
    int batch = dlt_test_h5_attr_int(f, "batch"), c = dlt_test_h5_attr_int(f, "in_c");
    int h = dlt_test_h5_attr_int(f, "in_h"), w = dlt_test_h5_attr_int(f, "in_w");
    int classes = dlt_test_h5_attr_int(f, "classes");

    dlt_graph *g = dlt_graph_create(3);
    int64_t xs[4] = {batch, c, h, w}, rs[2] = {batch, classes};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), r = dlt_input(g, "r", DLT_F32, 2, rs);
    dlt_t logits = dlt_spec_build(g, &s, x, classes, 0.1f, 1e-5f, NULL);
    dlt_t loss = dlt_sum(g, dlt_mul(g, logits, r), 0, NULL, 0);
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
    int np;
    dlt_t *params, *grads, gx;
    ck_assert_msg(dlt_grad_params(g, loss, &np, &params, &grads) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_msg(dlt_grad(g, loss, 1, &x, &gx) == DLT_OK, "%s", dlt_errmsg());
    dlt_t outs[2] = {logits, gx};
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 2, outs, &po, &p) == DLT_OK, "%s", dlt_errmsg());

    /* the weights, by PyTorch's names */
    hid_t ds = H5Dopen2(f, "param_names", H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds);
    size_t len = (size_t)H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    H5Dclose(ds);
    char *names = calloc(len + 1, 1);
    dlt_test_h5_read(f, "param_names", H5T_NATIVE_UCHAR, names, len);
    dlt_t v[64];
    size_t off[65] = {0};
    int n = 0;
    for (char *line = strtok(names, "\n"); line; line = strtok(NULL, "\n")) {
        ck_assert_int_lt(n, 64);
        v[n] = dlt_param_lookup(g, line);
        ck_assert_msg(v[n] >= 0, "PyTorch's %s is not in the graph: %s", line, dlt_errmsg());
        off[n + 1] = off[n] + numel(g, v[n]);
        n++;
    }
    free(names);
    ck_assert_int_eq(n, np); /* none missing, none extra */
    float *ref = malloc(off[n] * sizeof *ref);
    dlt_test_h5_read(f, "params", H5T_NATIVE_FLOAT, ref, off[n]);
    for (int i = 0; i < n; i++)
        memcpy(dlt_param_data(g, v[i]), ref + off[i], (off[i + 1] - off[i]) * sizeof *ref);
    dlt_test_h5_read(f, "x", H5T_NATIVE_FLOAT, dlt_plan_data(p, x), numel(g, x));
    dlt_test_h5_read(f, "r", H5T_NATIVE_FLOAT, dlt_plan_data(p, r), numel(g, r));
    dlt_exec_opts eo = {.training = 1};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());

    float *want = malloc((numel(g, x) + numel(g, logits)) * sizeof *want);
    dlt_test_h5_read(f, "logits", H5T_NATIVE_FLOAT, want, numel(g, logits));
    double e_logits = scaled_err(dlt_plan_data(p, logits), want, numel(g, logits));
    ck_assert_msg(e_logits < TOL, "logits: error %.3g", e_logits);
    dlt_test_h5_read(f, "grad_x", H5T_NATIVE_FLOAT, want, numel(g, x));
    double e_x = scaled_err(dlt_plan_data(p, gx), want, numel(g, x));
    ck_assert_msg(e_x < TOL, "dL/dx: error %.3g", e_x);
    dlt_test_h5_read(f, "grads", H5T_NATIVE_FLOAT, ref, off[n]);
    double gmax = 0, e_grad = 0;
    for (size_t k = 0; k < off[n]; k++)
        gmax = fmax(gmax, fabs(ref[k]));
    for (int i = 0; i < n; i++) {
        /* on the tensor's own scale; one that is ~0 in exact arithmetic
         * (none here, but a bias before batch norm would be) on the largest */
        double m = 0;
        for (size_t k = off[i]; k < off[i + 1]; k++)
            m = fmax(m, fabs(ref[k]));
        double e = dlt_test_max_relerr(dlt_param_grad(g, v[i]), ref + off[i], off[i + 1] - off[i],
                                       m < 1e-6 * gmax ? gmax : m);
        ck_assert_msg(e < TOL, "dL/d%s: error %.3g", dlt_name_of(g, v[i]), e);
        e_grad = fmax(e_grad, e);
    }
    printf("spec vs PyTorch: %d tensors, %zu parameters; logits error %.2g, dL/dparams %.2g, dL/dx "
           "%.2g\n",
           n, off[n], e_logits, e_grad, e_x);
    free(want);
    free(ref);
    free(params);
    free(grads);
    dlt_plan_free(p);
    dlt_graph_free(g);
    H5Fclose(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spec_torch");
    TCase *tc = tcase_create("torch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_spec_vs_torch);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
