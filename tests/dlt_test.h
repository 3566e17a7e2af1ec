/* Helpers shared by dltrain's Check tests (tests/libdlttest.la). */
#ifndef DLT_TEST_H
#define DLT_TEST_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Deterministic uniform floats in [lo, hi) from a 64-bit seed (splitmix64). */
void dlt_test_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed);
/* max_i |a_i - b_i| / max(|b_i|, floor) — relative error with an absolute floor. */
double dlt_test_max_relerr(const float *a, const float *b, size_t n, double floor);
double dlt_test_max_abserr(const float *a, const float *b, size_t n);
/* Runs the suite, prints Check's report, returns the process exit status. */
int dlt_test_run(Suite *s);
/* Exit status that the harness reports as SKIP. */
#define DLT_TEST_SKIP 77

#endif

/* ---- PyTorch fixtures (HDF5 files in tests/fixtures, made by the scripts beside them) */
#include <hdf5.h>
/* Opens tests/fixtures/<name> under $top_srcdir (the harness exports it; else the
 * source tree the tests were built from), failing the test when it is missing. */
hid_t dlt_test_fixture_open(const char *name);
/* Reads dataset `name` (n elements) of loc as `type` into out; fails the test when
 * it is missing or has another element count. */
void dlt_test_h5_read(hid_t loc, const char *name, hid_t type, void *out, size_t n);
/* Integer and variable-length string attributes of a fixture (h5py writes both);
 * fail the test when missing. */
int dlt_test_h5_attr_int(hid_t loc, const char *name);
void dlt_test_h5_attr_str(hid_t loc, const char *name, char *out, size_t len);

/* ---- gradient checking (tests/dlt_gradcheck.c) */
#include "dlt_core.h"
/* Writes data (an f32 tensor of shape s) as dataset `name` of loc, creating the
 * groups on its path; 1 on success (tools writing fixture inputs). */
int dlt_test_h5_write_f32(hid_t loc, const char *name, const dlt_shape *s, const float *data);
/* The fixture scripts' counter hash (models_make_fixtures.py's hash_uniform):
 * u_i = (splitmix64(fnv1a64(name) + (i + 1) * 0x9E3779B97F4A7C15) >> 40) / 2^23
 * - 1 in [-1, 1), exact in f32, so a script and a test fill the same values. */
void dlt_test_hash_uniform(const char *name, float *out, size_t n);
/* Its hash_param: a tensor's values from the hash by its name and shape:
 * biases 0.1 u, other 1-D tensors (normalisation scales, statistics) 1 + 0.25 u,
 * weights u sqrt(6 / fan_in) with fan_in = numel / dim0. */
void dlt_test_hash_param(const char *name, const dlt_shape *shape, float *out);
/* Checks d<r, y>/d wrt against central finite differences along one random
 * direction: builds L = sum(y * r) for a fixed random r, takes dlt_grad, runs
 * the plan, and compares sum_i <grad_i, v_i> with (L(x + eps v) - L(x - eps v)) /
 * (2 eps), evaluated in double from f32 runs. wrt values may be inputs (filled
 * from `inputs` values in `in_data`) or parameters (perturbed in place).
 * Returns the two directional derivatives. */
typedef struct {
    int ninputs;
    const dlt_t *inputs;
    const void *const *in_data;
    int training;
} dlt_gc_feed;
void dlt_test_gradcheck(dlt_graph *g, dlt_t y, int nwrt, const dlt_t *wrt, const dlt_gc_feed *feed,
                        double eps, uint64_t seed, double *analytic, double *numeric);
/* Runs y once (plan without gradients) and copies it to out. */
void dlt_test_eval(dlt_graph *g, dlt_t y, const dlt_gc_feed *feed, float *out);
/* |a - n| <= rtol * max(|a|, |n|) + atol, printing both on failure. */
void dlt_test_assert_close(const char *what, double a, double n, double rtol, double atol);
