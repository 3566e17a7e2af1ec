/* HDF5 write/read round trip: a dataset, an attribute, and a chunked, compressed dataset. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dlt_test.h"

START_TEST(roundtrip)
{
    char path[] = "/tmp/dlt-h5-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    float w[6] = {1.5f, -2, 3.25f, 0, 1e-8f, -7}, back[6] = {0};
    int32_t big[1000], big_back[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = i * 7 - 3;
    hsize_t dims[2] = {2, 3}, n = 1000, chunk = 100;
    int version = 1, vback = 0;

    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t ds = H5Dcreate2(f, "w", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w), 0);
    hid_t asp = H5Screate(H5S_SCALAR);
    hid_t at = H5Acreate2(f, "version", H5T_STD_I32LE, asp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Awrite(at, H5T_NATIVE_INT, &version), 0);
    H5Aclose(at), H5Sclose(asp), H5Dclose(ds), H5Sclose(sp);
    hid_t sp2 = H5Screate_simple(1, &n, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    H5Pset_deflate(dcpl, 4);
    hid_t ds2 = H5Dcreate2(f, "big", H5T_STD_I32LE, sp2, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert_int_ge(H5Dwrite(ds2, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, big), 0);
    H5Dclose(ds2), H5Pclose(dcpl), H5Sclose(sp2), H5Fclose(f);

    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    ds = H5Dopen2(f, "w", H5P_DEFAULT);
    sp = H5Dget_space(ds);
    hsize_t got[2];
    ck_assert_int_eq(H5Sget_simple_extent_dims(sp, got, NULL), 2);
    ck_assert(got[0] == 2 && got[1] == 3);
    ck_assert_int_ge(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, back), 0);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(back[i], w[i]);
    at = H5Aopen(f, "version", H5P_DEFAULT);
    ck_assert_int_ge(H5Aread(at, H5T_NATIVE_INT, &vback), 0);
    ck_assert_int_eq(vback, 1);
    ds2 = H5Dopen2(f, "big", H5P_DEFAULT);
    ck_assert_int_ge(H5Dread(ds2, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, big_back), 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(big_back[i], big[i]);
    H5Dclose(ds2), H5Aclose(at), H5Sclose(sp), H5Dclose(ds), H5Fclose(f);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hdf5");
    TCase *tc = tcase_create("roundtrip");
    tcase_add_test(tc, roundtrip);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
