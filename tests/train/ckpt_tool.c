/* Test helper for the end-to-end checkpoint scripts (tests/train/test_*.sh):
 *   ckpt_tool cmp A.h5 B.h5 GROUP...     every dataset under each GROUP of A and B,
 *                                        byte for byte (exit 1 at the first difference)
 *   ckpt_tool cmp A.h5 B.h5 GROUP... [--only PREFIX] [--tol T]
 *                                        only datasets whose name (in GROUP) starts
 *                                        with PREFIX; f32 data within T (|a - b| <=
 *                                        T (1 + |b|)) instead of byte for byte
 *   ckpt_tool maxabs CKPT.h5 GROUP PREFIX the largest |x| over the f32 datasets of
 *                                        GROUP whose name starts with PREFIX
 *   ckpt_tool get CKPT.h5 DATASET        print a scalar dataset (e.g. /state/step)
 *   ckpt_tool flip CKPT.h5 DATASET INDEX  flip the lowest bit of element INDEX in place
 *                                        (its crc32 attribute is left as it was)
 *   ckpt_tool set CKPT.h5 DATASET VALUE [--fix-crc]
 *                                        overwrite a scalar dataset (an integer, or a
 *                                        number for float datasets); --fix-crc also
 *                                        rewrites its crc32 attribute to match
 *   ckpt_tool setattr CKPT.h5 NAME VALUE overwrite an integer root attribute
 *   ckpt_tool strip-crc CKPT.h5          remove every checksum (a file as written
 *                                        before checkpoints carried them)
 *   ckpt_tool safetensors FILE CKPT.h5 [--no-buffers]
 *                                        parse FILE independently of the exporter and
 *                                        compare every tensor with the checkpoint
 * Independent of libdltrain: HDF5 and a small JSON reader only. */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct {
    const char *other; /* file B */
    hid_t fb;
    int count, bad;
    size_t bytes;
    const char *only; /* name prefix, or NULL */
    double tol;       /* < 0: byte for byte */
    double maxdiff;
} cmp_ctx;

/* f32 arrays of n elements within c->tol of each other (relative to 1 + |b|). */
static int close_f32(cmp_ctx *c, const char *name, const unsigned char *a, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x, y;
        memcpy(&x, a + 4 * i, 4), memcpy(&y, b + 4 * i, 4);
        double d = fabs((double)x - (double)y);
        if (d > c->maxdiff)
            c->maxdiff = d;
        if (!(d <= c->tol * (1 + fabs((double)y)))) {
            printf("%s: element %zu differs beyond %g: %.9g vs %.9g\n", name, i, c->tol, x, y);
            return 0;
        }
    }
    return 1;
}

static unsigned char *read_raw(hid_t d, size_t *n, hid_t *type_out)
{
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    *n = (size_t)np * H5Tget_size(t);
    unsigned char *buf = malloc(*n + 1);
    if (H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) { /* file type: the stored bytes */
        free(buf);
        buf = NULL;
    }
    H5Sclose(sp);
    *type_out = t;
    return buf;
}

static herr_t cmp_one(hid_t loc, const char *name, const H5O_info_t *info, void *data)
{
    cmp_ctx *c = data;
    if (info->type != H5O_TYPE_DATASET || c->bad || (c->only && strncmp(name, c->only, strlen(c->only))))
        return 0;
    c->count++;
    hid_t da = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t db = H5Lexists(c->fb, name, H5P_DEFAULT) > 0 ? H5Dopen2(c->fb, name, H5P_DEFAULT) : -1;
    if (db < 0) {
        printf("%s: missing in %s\n", name, c->other);
        c->bad = 1;
        H5Dclose(da);
        return 0;
    }
    size_t na, nb;
    hid_t ta, tb;
    unsigned char *a = read_raw(da, &na, &ta), *b = read_raw(db, &nb, &tb);
    if (!a || !b || na != nb || H5Tequal(ta, tb) <= 0) {
        printf("%s: different type or size (%zu vs %zu bytes)\n", name, na, nb);
        c->bad = 1;
    } else if (c->tol >= 0 && H5Tget_class(ta) == H5T_FLOAT && H5Tget_size(ta) == 4) {
        c->bad = !close_f32(c, name, a, b, na / 4);
    } else if (memcmp(a, b, na) != 0) {
        size_t i = 0;
        while (a[i] == b[i])
            i++;
        size_t es = H5Tget_size(ta);
        printf("%s: differs first at element %zu", name, i / es);
        if (H5Tget_class(ta) == H5T_FLOAT && es == 4) {
            float x, y;
            memcpy(&x, a + i / 4 * 4, 4), memcpy(&y, b + i / 4 * 4, 4);
            printf(" (%.9g vs %.9g)", x, y);
        }
        printf("\n");
        c->bad = 1;
    }
    c->bytes += na;
    free(a), free(b);
    H5Tclose(ta), H5Tclose(tb);
    H5Dclose(da), H5Dclose(db);
    return 0;
}

static herr_t count_one(hid_t loc, const char *name, const H5O_info_t *info, void *data)
{
    (void)loc, (void)name;
    if (info->type == H5O_TYPE_DATASET)
        ++*(int *)data;
    return 0;
}

static int count_datasets(hid_t f, const char *group)
{
    int n = 0;
    if (H5Lexists(f, group + (group[0] == '/'), H5P_DEFAULT) <= 0)
        return 0;
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    H5Ovisit(g, H5_INDEX_NAME, H5_ITER_INC, count_one, &n);
    H5Gclose(g);
    return n;
}

static herr_t maxabs_one(hid_t loc, const char *name, const H5O_info_t *info, void *data)
{
    cmp_ctx *c = data;
    if (info->type != H5O_TYPE_DATASET || strncmp(name, c->only, strlen(c->only)))
        return 0;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    size_t n;
    hid_t t;
    unsigned char *a = read_raw(d, &n, &t);
    if (a && H5Tget_class(t) == H5T_FLOAT && H5Tget_size(t) == 4) {
        c->count++;
        for (size_t i = 0; i < n / 4; i++) {
            float x;
            memcpy(&x, a + 4 * i, 4);
            if (fabs((double)x) > c->maxdiff || x != x)
                c->maxdiff = x != x ? INFINITY : fabs((double)x);
        }
    }
    free(a);
    H5Tclose(t), H5Dclose(d);
    return 0;
}

static int cmd_maxabs(char **argv)
{
    hid_t f = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = f >= 0 ? H5Gopen2(f, argv[3], H5P_DEFAULT) : -1;
    if (g < 0)
        return printf("cannot open %s:%s\n", argv[2], argv[3]), 1;
    cmp_ctx c = {.only = argv[4]};
    H5Ovisit(g, H5_INDEX_NAME, H5_ITER_INC, maxabs_one, &c);
    H5Gclose(g), H5Fclose(f);
    if (c.count == 0)
        return printf("%s: no f32 dataset under %s starting with %s\n", argv[2], argv[3], argv[4]), 1;
    printf("%.9g\n", c.maxdiff);
    return 0;
}

static int cmd_cmp(int argc, char **argv)
{
    const char *only = NULL;
    double tol = -1;
    while (argc > 5 && (!strcmp(argv[argc - 2], "--only") || !strcmp(argv[argc - 2], "--tol"))) {
        if (!strcmp(argv[argc - 2], "--only"))
            only = argv[argc - 1];
        else
            tol = atof(argv[argc - 1]);
        argc -= 2;
    }
    hid_t fa = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT),
          fb = H5Fopen(argv[3], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fa < 0 || fb < 0)
        return printf("cannot open %s or %s\n", argv[2], argv[3]), 1;
    int rc = 0;
    for (int i = 4; i < argc && !rc; i++) {
        cmp_ctx c = {.other = argv[3], .only = only, .tol = tol};
        hid_t ga = H5Gopen2(fa, argv[i], H5P_DEFAULT);
        c.fb = H5Gopen2(fb, argv[i], H5P_DEFAULT);
        if (ga < 0 || c.fb < 0)
            return printf("%s: no such group in both files\n", argv[i]), 1;
        H5Ovisit(ga, H5_INDEX_NAME, H5_ITER_INC, cmp_one, &c);
        int nb = only ? c.count : count_datasets(fb, argv[i]);
        if (!c.bad && only && c.count == 0) {
            printf("%s: no dataset to compare\n", argv[i]);
            c.bad = 1;
        }
        if (!c.bad && nb != c.count) {
            printf("%s: %d datasets in %s, %d in %s\n", argv[i], c.count, argv[2], nb, argv[3]);
            c.bad = 1;
        }
        if (!c.bad && tol >= 0)
            printf("%s: %d datasets within %g (largest difference %.3g)\n", argv[i], c.count, tol, c.maxdiff);
        else if (!c.bad)
            printf("%s: %d datasets, %zu bytes identical\n", argv[i], c.count, c.bytes);
        rc = c.bad;
        H5Gclose(ga), H5Gclose(c.fb);
    }
    H5Fclose(fa), H5Fclose(fb);
    return rc;
}

static int cmd_get(char **argv)
{
    hid_t f = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, argv[3], H5P_DEFAULT) : -1;
    if (d < 0)
        return printf("%s: no dataset %s\n", argv[2], argv[3]), 1;
    hid_t t = H5Dget_type(d);
    if (H5Tget_class(t) == H5T_FLOAT) {
        double v;
        H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
        printf("%.17g\n", v);
    } else {
        long long v;
        H5Dread(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
        printf("%lld\n", v);
    }
    H5Tclose(t), H5Dclose(d), H5Fclose(f);
    return 0;
}

/* crc32 attribute of d: zlib's CRC-32 of the stored bytes, computed here
 * independently of libdltrain */
static int write_crc(hid_t d)
{
    size_t n;
    hid_t t;
    unsigned char *b = read_raw(d, &n, &t);
    H5Tclose(t);
    if (!b)
        return 0;
    unsigned v = (unsigned)crc32(0, b, (uInt)n);
    free(b);
    if (H5Aexists(d, "crc32") > 0)
        H5Adelete(d, "crc32");
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(d, "crc32", H5T_STD_U32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_UINT, &v) >= 0;
    H5Aclose(a), H5Sclose(sp);
    return ok;
}

static int cmd_flip(char **argv)
{
    hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, argv[3], H5P_DEFAULT) : -1;
    if (d < 0)
        return printf("%s: no dataset %s\n", argv[2], argv[3]), 1;
    size_t n, i = (size_t)atoll(argv[4]);
    hid_t t;
    unsigned char *b = read_raw(d, &n, &t);
    size_t es = H5Tget_size(t);
    if (!b || (i + 1) * es > n)
        return printf("%s: no element %zu\n", argv[3], i), 1;
    b[i * es] ^= 1; /* little-endian: the lowest bit of the value */
    int ok = H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) >= 0;
    free(b);
    H5Tclose(t), H5Dclose(d), H5Fclose(f);
    return ok ? 0 : (printf("%s: write failed\n", argv[3]), 1);
}

static int cmd_set(int argc, char **argv)
{
    hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, argv[3], H5P_DEFAULT) : -1;
    if (d < 0)
        return printf("%s: no dataset %s\n", argv[2], argv[3]), 1;
    hid_t t = H5Dget_type(d);
    int ok;
    if (H5Tget_class(t) == H5T_FLOAT) {
        double v = strtod(argv[4], NULL);
        ok = H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0;
    } else {
        long long v = strtoll(argv[4], NULL, 0);
        ok = H5Dwrite(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0;
    }
    if (ok && argc > 5 && strcmp(argv[5], "--fix-crc") == 0)
        ok = write_crc(d);
    H5Tclose(t), H5Dclose(d), H5Fclose(f);
    return ok ? 0 : (printf("%s: write failed\n", argv[3]), 1);
}

static int cmd_setattr(char **argv)
{
    hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = f >= 0 ? H5Aopen(f, argv[3], H5P_DEFAULT) : -1;
    long long v = strtoll(argv[4], NULL, 0);
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &v) >= 0;
    if (a >= 0)
        H5Aclose(a);
    if (f >= 0)
        H5Fclose(f);
    return ok ? 0 : (printf("%s: cannot set attribute %s\n", argv[2], argv[3]), 1);
}

static herr_t strip_one(hid_t loc, const char *name, const H5O_info_t *info, void *data)
{
    (void)data;
    if (info->type == H5O_TYPE_DATASET && H5Aexists_by_name(loc, name, "crc32", H5P_DEFAULT) > 0)
        H5Adelete_by_name(loc, name, "crc32", H5P_DEFAULT);
    return 0;
}

static int cmd_strip(char **argv)
{
    hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return printf("cannot open %s\n", argv[2]), 1;
    H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, strip_one, NULL);
    if (H5Aexists(f, "checksum_algorithm") > 0)
        H5Adelete(f, "checksum_algorithm");
    if (H5Aexists(f, "job_crc32") > 0)
        H5Adelete(f, "job_crc32");
    H5Fclose(f);
    return 0;
}

/* ---------------------------------------------------------------- JSON, just enough */
typedef struct {
    const char *p, *end;
    int err;
} js;

static void ws(js *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
        j->p++;
}

static int eat(js *j, char c)
{
    ws(j);
    if (j->p < j->end && *j->p == c)
        return j->p++, 1;
    return 0;
}

static void str(js *j, char *out, size_t len)
{
    size_t n = 0;
    if (!eat(j, '"')) {
        j->err = 1;
        return;
    }
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\' && j->p < j->end) {
            c = *j->p++;
            if (c == 'u') { /* \u00XX only */
                unsigned v = 0;
                if (j->end - j->p < 4 || sscanf(j->p, "%4x", &v) != 1)
                    j->err = 1;
                j->p += 4;
                c = (char)v;
            }
        }
        if (n + 1 < len)
            out[n++] = c;
    }
    out[n] = '\0';
    if (!eat(j, '"'))
        j->err = 1;
}

static int ints(js *j, long long *v, int max)
{
    int n = 0;
    if (!eat(j, '['))
        return j->err = 1, 0;
    if (eat(j, ']'))
        return 0;
    do {
        ws(j);
        char *e;
        long long x = strtoll(j->p, &e, 10);
        if (e == j->p || n == max)
            return j->err = 1, n;
        v[n++] = x;
        j->p = e;
    } while (eat(j, ','));
    if (!eat(j, ']'))
        j->err = 1;
    return n;
}

static int fail(const char *what, const char *name)
{
    printf("safetensors: %s%s%s\n", what, name ? ": " : "", name ? name : "");
    return 1;
}

static int cmd_safetensors(int argc, char **argv)
{
    int with_buffers = !(argc > 4 && strcmp(argv[4], "--no-buffers") == 0);
    FILE *fp = fopen(argv[2], "rb");
    if (!fp)
        return fail("cannot open", argv[2]);
    fseek(fp, 0, SEEK_END);
    size_t size = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc(size + 1);
    if (fread(b, 1, size, fp) != size)
        return fail("short read", argv[2]);
    fclose(fp);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | b[i];
    if (hl % 8 || 8 + hl > size)
        return fail("bad header length", NULL);
    const unsigned char *data = b + 8 + hl;
    size_t nbytes = size - 8 - hl, expect_off = 0;
    hid_t f = H5Fopen(argv[3], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return fail("cannot open", argv[3]);
    long long step = -1;
    hid_t ds = H5Dopen2(f, "/state/step", H5P_DEFAULT);
    H5Dread(ds, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &step);
    H5Dclose(ds);
    js j = {(const char *)b + 8, (const char *)b + 8 + hl, 0};
    char key[1024], prev[1024] = "", k2[64], val[256];
    int ntensors = 0, have_meta = 0, rc = 0;
    if (!eat(&j, '{'))
        return fail("header is not a JSON object", NULL);
    do {
        str(&j, key, sizeof key);
        if (j.err || !eat(&j, ':') || !eat(&j, '{'))
            return fail("malformed header near", j.p);
        if (strcmp(key, "__metadata__") == 0) {
            have_meta = 1;
            do {
                str(&j, k2, sizeof k2);
                eat(&j, ':');
                str(&j, val, sizeof val);
                if (strcmp(k2, "format") == 0 && strcmp(val, "pt") != 0)
                    return fail("metadata format is not pt", val);
                if (strcmp(k2, "step") == 0 && atoll(val) != step)
                    return fail("metadata step differs from /state/step", val);
            } while (eat(&j, ','));
        } else {
            char dtype[16] = "";
            long long shape[16], off[2] = {-1, -1};
            int nd = -1;
            do {
                str(&j, k2, sizeof k2);
                eat(&j, ':');
                if (strcmp(k2, "dtype") == 0)
                    str(&j, dtype, sizeof dtype);
                else if (strcmp(k2, "shape") == 0)
                    nd = ints(&j, shape, 16);
                else if (strcmp(k2, "data_offsets") == 0 && ints(&j, off, 2) != 2)
                    j.err = 1;
            } while (!j.err && eat(&j, ','));
            if (j.err || strcmp(dtype, "F32") != 0 || nd < 0)
                return fail("tensor entry without F32 dtype, shape and data_offsets", key);
            if (strcmp(prev, key) >= 0)
                return fail("tensors not sorted by name at", key);
            snprintf(prev, sizeof prev, "%s", key);
            long long numel = 1;
            for (int i = 0; i < nd; i++)
                numel *= shape[i];
            if (off[0] != (long long)expect_off || off[1] - off[0] != 4 * numel ||
                (size_t)off[1] > nbytes)
                return fail("data_offsets not contiguous or not matching the shape", key);
            expect_off = (size_t)off[1];
            /* the same tensor in the checkpoint: shape and bytes */
            char path[1100];
            snprintf(path, sizeof path, "/params/%s", key);
            hid_t pg = H5Gopen2(f, "params", H5P_DEFAULT);
            if (H5Lexists(pg, key, H5P_DEFAULT) <= 0)
                snprintf(path, sizeof path, "/buffers/%s", key);
            H5Gclose(pg);
            hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
            if (d < 0)
                return fail("tensor not in the checkpoint", key);
            hid_t sp = H5Dget_space(d);
            hsize_t dims[16];
            int hnd = H5Sget_simple_extent_dims(sp, dims, NULL);
            int same = hnd == nd;
            for (int i = 0; same && i < nd; i++)
                same = (long long)dims[i] == shape[i];
            float *ref = malloc((size_t)numel * 4 + 4);
            H5Dread(d, H5T_IEEE_F32LE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ref);
            if (!same)
                rc = fail("shape differs from the checkpoint", key);
            else if (memcmp(ref, data + off[0], (size_t)numel * 4) != 0)
                rc = fail("values differ from the checkpoint", key);
            free(ref);
            H5Sclose(sp), H5Dclose(d);
            ntensors++;
        }
        if (!eat(&j, '}'))
            return fail("malformed header near", j.p);
    } while (!rc && eat(&j, ','));
    if (rc)
        return rc;
    if (!eat(&j, '}'))
        return fail("header not closed", NULL);
    ws(&j);
    if (j.p != j.end)
        return fail("junk after the header", NULL);
    if (!have_meta || expect_off != nbytes)
        return fail("no __metadata__ or data not fully covered", NULL);
    int want = count_datasets(f, "/params") + (with_buffers ? count_datasets(f, "/buffers") : 0);
    if (ntensors != want)
        return printf("safetensors: %d tensors, the checkpoint has %d\n", ntensors, want), 1;
    printf("safetensors: %d tensors, %zu data bytes, header %llu bytes: match the checkpoint\n",
           ntensors, nbytes, (unsigned long long)hl);
    H5Fclose(f);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "cmp") == 0)
        return cmd_cmp(argc, argv);
    if (argc == 5 && strcmp(argv[1], "maxabs") == 0)
        return cmd_maxabs(argv);
    if (argc == 4 && strcmp(argv[1], "get") == 0)
        return cmd_get(argv);
    if (argc == 5 && strcmp(argv[1], "flip") == 0)
        return cmd_flip(argv);
    if (argc >= 5 && strcmp(argv[1], "set") == 0)
        return cmd_set(argc, argv);
    if (argc == 5 && strcmp(argv[1], "setattr") == 0)
        return cmd_setattr(argv);
    if (argc == 3 && strcmp(argv[1], "strip-crc") == 0)
        return cmd_strip(argv);
    if (argc >= 4 && strcmp(argv[1], "safetensors") == 0)
        return cmd_safetensors(argc, argv);
    fprintf(stderr, "usage: ckpt_tool cmp A B GROUP... [--only PREFIX] [--tol T] | maxabs CKPT GROUP PREFIX | get CKPT DATASET | flip CKPT DATASET INDEX |\n"
                    "       set CKPT DATASET VALUE [--fix-crc] | setattr CKPT NAME VALUE | strip-crc CKPT |\n"
                    "       safetensors FILE CKPT [--no-buffers]\n");
    return 2;
}
