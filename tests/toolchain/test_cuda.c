/* A CUDA kernel compiled into libdltrain runs on the GPU; SKIP (77) without one. */
#include <stdio.h>

#include "dlt_gpu.h"
#include "dlt_test.h"

START_TEST(axpy_on_device)
{
    enum { N = 100003 };
    static float x[N], y[N], want[N];
    dlt_test_fill_uniform(x, N, -1, 1, 11);
    dlt_test_fill_uniform(y, N, -1, 1, 12);
    for (int i = 0; i < N; i++)
        want[i] = y[i] + 2.5f * x[i];
    ck_assert_msg(dlt_gpu_selftest_axpy(N, 2.5f, x, y) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_double_le(dlt_test_max_abserr(y, want, N), 1e-6);
}
END_TEST

int main(void)
{
    if (dlt_gpu_device_count() == 0) {
        printf("SKIP: %s\n", dlt_gpu_built() ? "no CUDA device" : "built without CUDA");
        return DLT_TEST_SKIP;
    }
    Suite *s = suite_create("cuda");
    TCase *tc = tcase_create("selftest");
    tcase_add_test(tc, axpy_on_device);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
