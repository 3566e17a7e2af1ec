/* MPI all-reduce of known values across the ranks the harness starts (2, then 3). */
#include <mpi.h>

#include "dlt_comm.h"
#include "dlt_test.h"

static dlt_world world;

START_TEST(allreduce_known_values)
{
    int p = world.size, r = world.rank;
    double v[5], sum_ranks = p * (p - 1) / 2.0;
    for (int i = 0; i < 5; i++)
        v[i] = r * 10.0 + i;
    ck_assert_int_eq(MPI_Allreduce(MPI_IN_PLACE, v, 5, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), MPI_SUCCESS);
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq(v[i], 10.0 * sum_ranks + (double)p * i);
    int mx = r;
    MPI_Allreduce(MPI_IN_PLACE, &mx, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    ck_assert_int_eq(mx, p - 1);
}
END_TEST

START_TEST(world_selftest)
{
    double err = -1;
    ck_assert_int_eq(dlt_world_selftest(&world, 4097, &err), DLT_OK);
    ck_assert_double_eq(err, 0);
    ck_assert_int_ge(world.size, 1);
    ck_assert(world.local_rank >= 0 && world.local_rank < world.local_size);
}
END_TEST

int main(int argc, char **argv)
{
    if (dlt_world_init(&argc, &argv, &world) != DLT_OK)
        return 1;
    Suite *s = suite_create("mpi");
    TCase *tc = tcase_create("allreduce");
    tcase_add_test(tc, allreduce_known_values);
    tcase_add_test(tc, world_selftest);
    suite_add_tcase(s, tc);
    int rc = dlt_test_run(s);
    /* every rank must agree on the verdict */
    MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    dlt_world_finalize(&world);
    return rc;
}
