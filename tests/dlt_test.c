/* Helpers shared by dltrain's Check tests. */
#include "dlt_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void dlt_test_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        double u = (double)(splitmix64(&seed) >> 11) * (1.0 / 9007199254740992.0);
        x[i] = lo + (hi - lo) * (float)u;
    }
}

double dlt_test_max_relerr(const float *a, const float *b, size_t n, double floor)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double s = fabs((double)b[i]);
        d /= s > floor ? s : floor;
        if (!(d <= m))
            m = d; /* NaN propagates as a failure */
    }
    return m;
}

double dlt_test_max_abserr(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m))
            m = d;
    }
    return m;
}

int dlt_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

hid_t dlt_test_fixture_open(const char *name)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", top ? top : DLT_TEST_SRCDIR, name);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "cannot open fixture %s", path);
    return f;
}

void dlt_test_h5_read(hid_t loc, const char *name, hid_t type, void *out, size_t n)
{
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    ck_assert_msg(ds >= 0, "fixture dataset %s missing", name);
    hid_t sp = H5Dget_space(ds);
    ck_assert_msg((size_t)H5Sget_simple_extent_npoints(sp) == n,
                  "fixture dataset %s: %lld elements, want %zu", name,
                  (long long)H5Sget_simple_extent_npoints(sp), n);
    ck_assert(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Sclose(sp);
    H5Dclose(ds);
}

int dlt_test_h5_write_f32(hid_t loc, const char *name, const dlt_shape *s, const float *data)
{
    hsize_t d[DLT_MAX_DIMS];
    for (int i = 0; i < s->ndim; i++)
        d[i] = (hsize_t)s->dim[i];
    hid_t sp = H5Screate_simple(s->ndim, d, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2(loc, name, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int ok = ds >= 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    if (ds >= 0)
        H5Dclose(ds);
    H5Pclose(lcpl);
    H5Sclose(sp);
    return ok;
}

int dlt_test_h5_attr_int(hid_t loc, const char *name)
{
    long long v = 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "no attribute %s", name);
    ck_assert_int_ge(H5Aread(a, H5T_NATIVE_LLONG, &v), 0);
    H5Aclose(a);
    return (int)v;
}

void dlt_test_h5_attr_str(hid_t loc, const char *name, char *out, size_t len)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "no attribute %s", name);
    hid_t t = H5Aget_type(a), mt = H5Tcopy(H5T_C_S1);
    ck_assert(H5Tis_variable_str(t) > 0);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(t)); /* h5py writes UTF-8 */
    char *s = NULL;
    ck_assert_int_ge(H5Aread(a, mt, &s), 0);
    snprintf(out, len, "%s", s);
    H5free_memory(s);
    H5Tclose(mt), H5Tclose(t), H5Aclose(a);
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ULL;
    return h;
}

void dlt_test_hash_uniform(const char *name, float *out, size_t n)
{
    uint64_t seed = fnv1a64(name);
    for (size_t i = 0; i < n; i++) {
        uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        out[i] = (float)(z >> 40) / 8388608.f - 1.f;
    }
}

void dlt_test_hash_param(const char *name, const dlt_shape *shape, float *out)
{
    size_t numel = (size_t)dlt_shape_numel(shape), len = strlen(name);
    dlt_test_hash_uniform(name, out, numel);
    int bias = len >= 4 && strcmp(name + len - 4, "bias") == 0;
    float scale = bias ? 0.1f : shape->ndim == 1 ? 0.25f : (float)sqrt(6.0 / (double)(numel / shape->dim[0]));
    float offset = !bias && shape->ndim == 1 ? 1.f : 0.f;
    for (size_t i = 0; i < numel; i++)
        out[i] = out[i] * scale + offset;
}
