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
