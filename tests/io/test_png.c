/* Sample grids, PNG files and TensorBoard image summaries (src/io/png_write.c,
 * tfevents.c). Grid pixels are checked against bytes chosen first: each value
 * is made as lo + (hi - lo) * (b + f) / 255 with f = 0.3 (rounds down to b) or
 * 0.7 (rounds up to b + 1), away from the ties where f32 and exact arithmetic
 * could differ, plus hand-computed values (-1 -> 0, 0 -> 128, 0.5 -> 191,
 * out-of-range and NaN). The layout is checked by a naive walk over grid
 * pixels (which image, if any, covers each), and whole grids against
 * torchvision's make_grid + save_image (tests/fixtures/grid_make_fixtures.py). PNGs are read back
 * through the image-folder converter's decoder (src/data/image_io.c); event records are walked and
 * decoded by the small protobuf reader below. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlt_logio.h"
#include "dlt_png.h"
#include "dlt_test.h"
#include "image_io.h"

/* n images [n, c, h, w] whose expected bytes are want[n, c, h, w]. */
static void make_images(int n, int c, int h, int w, float lo, float hi, uint64_t seed, float *x,
                        uint8_t *want)
{
    size_t total = (size_t)n * c * h * w;
    float *u = malloc(total * 2 * sizeof *u);
    dlt_test_fill_uniform(u, total * 2, 0.f, 1.f, seed);
    for (size_t i = 0; i < total; i++) {
        int b = (int)(u[i] * 255.f); /* 0..254 */
        int up = u[total + i] < 0.5f;
        double f = up ? 0.7 : 0.3;
        x[i] = (float)(lo + (hi - lo) * ((double)b + f) / 255.0);
        want[i] = (uint8_t)(b + up);
    }
    free(u);
}

/* The byte expected at grid pixel (gy, gx), channel ch: a naive search for
 * the image covering it; padding is 0. */
static uint8_t expected_at(const uint8_t *want, int n, int c, int h, int w, int cols, int pad,
                           int gy, int gx, int ch)
{
    for (int k = 0; k < n; k++) {
        int r = k / cols, col = k % cols;
        int top = pad + r * (h + pad), left = pad + col * (w + pad);
        if (gy >= top && gy < top + h && gx >= left && gx < left + w)
            return want[(((size_t)k * c + ch) * h + (gy - top)) * w + (gx - left)];
    }
    return 0;
}

static void check_grid(const dlt_image8 *g, const uint8_t *want, int n, int c, int h, int w,
                       int cols, int pad)
{
    int xm = cols < n ? cols : n, ym = (n + xm - 1) / xm;
    ck_assert_int_eq(g->h, ym * (h + pad) + pad);
    ck_assert_int_eq(g->w, xm * (w + pad) + pad);
    ck_assert_int_eq(g->c, c);
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w; x++)
            for (int ch = 0; ch < c; ch++)
                ck_assert_msg(g->px[((size_t)y * g->w + x) * c + ch] ==
                                  expected_at(want, n, c, h, w, xm, pad, y, x, ch),
                              "pixel (%d, %d, %d): %d, expected %d", y, x, ch,
                              g->px[((size_t)y * g->w + x) * c + ch],
                              expected_at(want, n, c, h, w, xm, pad, y, x, ch));
}

START_TEST(grid_values)
{
    /* one 1x9 gray image in the default range [-1, 1], no padding */
    const float v[9] = {-1.f, 0.f, 1.f, 0.5f, -0.5f, 2.f, -7.f, NAN, INFINITY};
    const uint8_t want[9] = {0, 128, 255, 191, 64, 255, 0, 0, 255};
    dlt_grid_opts o = {.cols = 4, .pad = DLT_GRID_NO_PAD};
    dlt_image8 g;
    ck_assert_int_eq(dlt_image_grid(v, 1, 1, 1, 9, &o, &g), DLT_OK);
    ck_assert_int_eq(g.h, 1);
    ck_assert_int_eq(g.w, 9);
    ck_assert_mem_eq(g.px, want, 9);
    dlt_image8_free(&g);
    /* the same in [0, 1]: 0.5 -> 127.5 + 0.5 = 128, 0.25 -> 64.25 -> 64 */
    const float v01[3] = {0.5f, 0.25f, 1.f / 255.f};
    const uint8_t want01[3] = {128, 64, 1};
    o.lo = 0.f, o.hi = 1.f;
    ck_assert_int_eq(dlt_image_grid(v01, 1, 1, 1, 3, &o, &g), DLT_OK);
    ck_assert_mem_eq(g.px, want01, 3);
    dlt_image8_free(&g);
}
END_TEST

START_TEST(grid_layout)
{
    enum { N = 5, H = 3, W = 4 };
    float x[N * 3 * H * W];
    uint8_t want[N * 3 * H * W];
    dlt_image8 g;
    /* gray, 2 columns, 3 rows (the last one holds one image), default padding 2 */
    make_images(N, 1, H, W, -1.f, 1.f, 7, x, want);
    dlt_grid_opts o = {.cols = 2}; /* pad 0: the default */
    ck_assert_int_eq(dlt_image_grid(x, N, 1, H, W, &o, &g), DLT_OK);
    ck_assert_int_eq(g.h, 3 * (H + 2) + 2); /* 17 */
    ck_assert_int_eq(g.w, 2 * (W + 2) + 2); /* 14 */
    check_grid(&g, want, N, 1, H, W, 2, 2);
    /* image 1's first pixel sits at (2, 2 + W + 2) */
    ck_assert_uint_eq(g.px[2 * g.w + 8], want[H * W]);
    dlt_image8_free(&g);
    /* RGB in [0, 1], more columns than images (one row), padding 1 */
    make_images(N, 3, H, W, 0.f, 1.f, 8, x, want);
    o = (dlt_grid_opts){.cols = 8, .pad = 1, .lo = 0.f, .hi = 1.f};
    ck_assert_int_eq(dlt_image_grid(x, N, 3, H, W, &o, &g), DLT_OK);
    check_grid(&g, want, N, 3, H, W, 8, 1);
    dlt_image8_free(&g);
    /* defaults: 8 columns, padding 2, [-1, 1] */
    make_images(N, 1, H, W, -1.f, 1.f, 9, x, want);
    ck_assert_int_eq(dlt_image_grid(x, N, 1, H, W, NULL, &g), DLT_OK);
    check_grid(&g, want, N, 1, H, W, 8, 2);
    dlt_image8_free(&g);
    /* bad shapes and ranges are errors naming what was expected */
    ck_assert_int_eq(dlt_image_grid(x, N, 2, H, W, NULL, &g), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "C = 1 or 3"));
    ck_assert_ptr_null(g.px);
    ck_assert_int_eq(dlt_image_grid(x, 0, 1, H, W, NULL, &g), DLT_ERR_INVALID);
    o = (dlt_grid_opts){.lo = 1.f, .hi = 0.f};
    ck_assert_int_eq(dlt_image_grid(x, N, 1, H, W, &o, &g), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "range"));
}
END_TEST

/* torchvision's make_grid + save_image bytes (tests/fixtures/grid_make_fixtures.py) */
static void torchvision_case(const char *name)
{
    hid_t f = dlt_test_fixture_open("grid.h5");
    hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
    ck_assert_int_ge(g, 0);
    hid_t d = H5Dopen2(g, "x", H5P_DEFAULT), sp = H5Dget_space(d);
    hsize_t xd[4], gd[3];
    ck_assert_int_eq(H5Sget_simple_extent_dims(sp, xd, NULL), 4);
    H5Sclose(sp);
    H5Dclose(d);
    d = H5Dopen2(g, "grid", H5P_DEFAULT), sp = H5Dget_space(d);
    ck_assert_int_eq(H5Sget_simple_extent_dims(sp, gd, NULL), 3);
    H5Sclose(sp);
    H5Dclose(d);
    int cols, pad;
    double lo, hi;
    hid_t a = H5Aopen(g, "cols", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT, &cols), H5Aclose(a);
    a = H5Aopen(g, "pad", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT, &pad), H5Aclose(a);
    a = H5Aopen(g, "lo", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_DOUBLE, &lo), H5Aclose(a);
    a = H5Aopen(g, "hi", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_DOUBLE, &hi), H5Aclose(a);
    size_t nx = xd[0] * xd[1] * xd[2] * xd[3], ng = gd[0] * gd[1] * gd[2];
    float *x = malloc(nx * sizeof *x);
    uint8_t *want = malloc(ng);
    dlt_test_h5_read(g, "x", H5T_NATIVE_FLOAT, x, nx);
    dlt_test_h5_read(g, "grid", H5T_NATIVE_UINT8, want, ng);
    H5Gclose(g);
    H5Fclose(f);
    dlt_grid_opts o = {.cols = cols, .pad = pad, .lo = (float)lo, .hi = (float)hi};
    dlt_image8 im;
    ck_assert_int_eq(dlt_image_grid(x, (int)xd[0], (int)xd[1], (int)xd[2], (int)xd[3], &o, &im),
                     DLT_OK);
    ck_assert_int_eq(im.h, (int)gd[0]);
    ck_assert_int_eq(im.w, (int)gd[1]);
    ck_assert_int_eq(im.c, (int)gd[2]);
    int diff = 0;
    for (size_t i = 0; i < ng; i++)
        diff += im.px[i] != want[i];
    printf("%s: %dx%dx%d grid, %d of %zu bytes differ from torchvision's\n", name, im.h, im.w, im.c,
           diff, ng);
    ck_assert_int_eq(diff, 0);
    dlt_image8_free(&im);
    free(x);
    free(want);
}

START_TEST(grid_torchvision)
{
    torchvision_case("gray_tanh");
    torchvision_case("rgb_unit");
    torchvision_case("gray_wide");
    torchvision_case("rgb_range");
}
END_TEST

/* Writes the grid, reads it back through image_io.c and compares. */
static void roundtrip(const dlt_image8 *g, const char *path)
{
    ck_assert_int_eq(dlt_png_write(path, g), DLT_OK);
    ck_assert_int_ne(access(path, F_OK), -1);
    dlt_image im;
    ck_assert_int_eq(dlt_image_load(path, g->c, &im), DLT_OK);
    ck_assert_int_eq(im.h, g->h);
    ck_assert_int_eq(im.w, g->w);
    ck_assert_int_eq(im.c, g->c);
    ck_assert_mem_eq(im.px, g->px, (size_t)g->h * g->w * g->c);
    dlt_image_free(&im);
}

START_TEST(png_files)
{
    enum { N = 7, H = 5, W = 6 };
    float x[N * 3 * H * W];
    uint8_t want[N * 3 * H * W];
    char dir[64], path[128], tmp[140];
    snprintf(dir, sizeof dir, "/tmp/dlt-png-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/samples.png", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    dlt_image8 g;
    for (int c = 1; c <= 3; c += 2) {
        make_images(N, c, H, W, -1.f, 1.f, 20 + (uint64_t)c, x, want);
        dlt_grid_opts o = {.cols = 3};
        ck_assert_int_eq(dlt_image_grid(x, N, c, H, W, &o, &g), DLT_OK);
        check_grid(&g, want, N, c, H, W, 3, 2);
        roundtrip(&g, path); /* the second pass replaces the first file */
        ck_assert_int_eq(access(tmp, F_OK), -1);
        dlt_image8_free(&g);
    }
    /* a 1x1 image, and a wide one */
    uint8_t one = 200;
    dlt_image8 tiny = {1, 1, 1, &one};
    roundtrip(&tiny, path);
    dlt_image8 wide = {2, 3000, 3, malloc(2 * 3000 * 3)};
    for (int i = 0; i < 2 * 3000 * 3; i++)
        wide.px[i] = (uint8_t)(i * 7 + i / 3);
    roundtrip(&wide, path);
    dlt_image8_free(&wide);
    ck_assert_int_eq(unlink(path), 0);
    /* errors: a missing directory, a bad channel count */
    ck_assert_int_eq(dlt_png_write("/nonexistent-dir/x.png", &tiny), DLT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "/nonexistent-dir/x.png.tmp"));
    dlt_image8 two = {1, 1, 2, &one};
    uint8_t *png = NULL;
    size_t len = 0;
    ck_assert_int_eq(dlt_png_encode(&two, &png, &len), DLT_ERR_INVALID);
    ck_assert_ptr_null(png);
    ck_assert_int_eq(dlt_png_write(path, &two), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), path));
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---------------------------------------------------------------- protobuf reading */
typedef struct {
    const uint8_t *p, *end;
} reader;

static uint64_t varint(reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        ck_assert_msg(r->p < r->end, "truncated varint");
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    ck_abort_msg("varint longer than 10 bytes");
    return 0;
}

/* The next field: its number and wire type; length-delimited fields come as a
 * sub-reader, varints in *v, fixed64 in *v too. */
static int next_field(reader *r, int *wire, uint64_t *v, reader *sub)
{
    if (r->p == r->end)
        return 0;
    uint64_t key = varint(r);
    *wire = (int)(key & 7);
    switch (*wire) {
    case 0:
        *v = varint(r);
        break;
    case 1:
        ck_assert_int_ge(r->end - r->p, 8);
        *v = 0;
        for (int i = 7; i >= 0; i--)
            *v = *v << 8 | r->p[i];
        r->p += 8;
        break;
    case 2: {
        uint64_t len = varint(r);
        ck_assert_uint_le(len, (uint64_t)(r->end - r->p));
        sub->p = r->p, sub->end = r->p + len;
        r->p += len;
        break;
    }
    default:
        ck_abort_msg("unexpected wire type %d", *wire);
    }
    return (int)(key >> 3);
}

typedef struct {
    double wall_time;
    int64_t step;
    char tag[64];
    int64_t height, width, colorspace;
    const uint8_t *png;
    size_t png_len;
    int nvalues;
} image_event;

static void parse_image(reader r, image_event *e)
{
    int f, wire;
    uint64_t v;
    reader sub;
    while ((f = next_field(&r, &wire, &v, &sub))) {
        if (f == 1 && wire == 0)
            e->height = (int64_t)v;
        else if (f == 2 && wire == 0)
            e->width = (int64_t)v;
        else if (f == 3 && wire == 0)
            e->colorspace = (int64_t)v;
        else if (f == 4 && wire == 2)
            e->png = sub.p, e->png_len = (size_t)(sub.end - sub.p);
        else
            ck_abort_msg("Summary.Image: unexpected field %d (wire %d)", f, wire);
    }
}

static void parse_event(reader r, image_event *e)
{
    int f, wire;
    uint64_t v;
    reader sub, val, x;
    memset(e, 0, sizeof *e);
    while ((f = next_field(&r, &wire, &v, &sub))) {
        if (f == 1 && wire == 1)
            memcpy(&e->wall_time, &v, sizeof v);
        else if (f == 2 && wire == 0)
            e->step = (int64_t)v;
        else if (f == 5 && wire == 2) { /* Summary */
            while ((f = next_field(&sub, &wire, &v, &val))) {
                ck_assert_int_eq(f, 1); /* Summary.value */
                ck_assert_int_eq(wire, 2);
                e->nvalues++;
                while ((f = next_field(&val, &wire, &v, &x))) {
                    if (f == 1 && wire == 2) {
                        ck_assert_int_lt(x.end - x.p, (long)sizeof e->tag);
                        memcpy(e->tag, x.p, (size_t)(x.end - x.p));
                    } else if (f == 4 && wire == 2)
                        parse_image(x, e);
                    else
                        ck_abort_msg("Summary.Value: unexpected field %d (wire %d)", f, wire);
                }
            }
        } else
            ck_abort_msg("Event: unexpected field %d (wire %d)", f, wire);
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

START_TEST(tb_image_event)
{
    /* by hand: wall_time 2.0, step 5, tag "s", a 3x2 gray image, PNG bytes
     * "ab": value = 0a 01 73 | 22 0a (08 03 10 02 18 01 22 02 61 62) */
    const uint8_t want[] = {0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x10,
                            0x05, 0x2a, 0x11, 0x0a, 0x0f, 0x0a, 0x01, 0x73, 0x22, 0x0a,
                            0x08, 0x03, 0x10, 0x02, 0x18, 0x01, 0x22, 0x02, 0x61, 0x62};
    dlt_tb_png im = {"s", 3, 2, 1, (const uint8_t *)"ab", 2};
    uint8_t buf[64];
    memset(buf, 0xcd, sizeof buf);
    ck_assert_uint_eq(dlt_tb_encode_image_event(buf, 5, 2.0, 5, &im), sizeof want);
    for (size_t i = 5; i < sizeof buf; i++) /* a short buffer: nothing past cap */
        ck_assert_uint_eq(buf[i], 0xcd);
    ck_assert_uint_eq(dlt_tb_encode_image_event(buf, sizeof buf, 2.0, 5, &im), sizeof want);
    ck_assert_mem_eq(buf, want, sizeof want);
}
END_TEST

START_TEST(tb_image_file)
{
    enum { N = 10, H = 28, W = 28 };
    float *x = malloc(N * H * W * sizeof *x);
    uint8_t *want = malloc(N * H * W);
    make_images(N, 1, H, W, -1.f, 1.f, 31, x, want);
    dlt_image8 g;
    dlt_grid_opts o = {.cols = 5};
    ck_assert_int_eq(dlt_image_grid(x, N, 1, H, W, &o, &g), DLT_OK);
    uint8_t *png;
    size_t png_len;
    ck_assert_int_eq(dlt_png_encode(&g, &png, &png_len), DLT_OK);

    char dir[64], path[1400], pngpath[128];
    snprintf(dir, sizeof dir, "/tmp/dlt-tbimg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    dlt_tb_writer *w = NULL;
    ck_assert_int_eq(dlt_tb_open(dir, 1700000000.0, &w, path, sizeof path), DLT_OK);
    dlt_tb_scalar sc = {"train/loss", 0.5f};
    ck_assert_int_eq(dlt_tb_scalars(w, 1700000001.0, 100, 1, &sc), DLT_OK);
    ck_assert_int_eq(dlt_tb_image(w, 1700000002.5, 100, "samples", &g), DLT_OK);
    /* a bad image is an error naming the tag, and writes nothing */
    dlt_image8 bad = {0, 0, 1, NULL};
    ck_assert_int_eq(dlt_tb_image(w, 1.0, 1, "broken", &bad), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "'broken'"));
    ck_assert_int_eq(dlt_tb_close(w), DLT_OK);
    ck_assert_int_eq(dlt_tb_image(NULL, 1.0, 1, "x", &g), DLT_OK);

    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t *data = malloc(1 << 20);
    size_t n = fread(data, 1, 1 << 20, f);
    fclose(f);
    size_t off = 0;
    int nrec = 0;
    image_event e;
    while (off < n) {
        ck_assert_uint_ge(n - off, 16);
        uint64_t len = 0;
        for (int i = 7; i >= 0; i--)
            len = len << 8 | data[off + i];
        ck_assert_uint_eq(le32(data + off + 8), dlt_crc32c_mask(dlt_crc32c(0, data + off, 8)));
        ck_assert_uint_le(off + 16 + len, n);
        ck_assert_uint_eq(le32(data + off + 12 + len),
                          dlt_crc32c_mask(dlt_crc32c(0, data + off + 12, len)));
        if (nrec == 2) /* version, scalars, then the image */
            parse_event((reader){data + off + 12, data + off + 12 + len}, &e);
        off += 16 + len;
        nrec++;
    }
    ck_assert_int_eq(nrec, 3);
    ck_assert_double_eq(e.wall_time, 1700000002.5);
    ck_assert_int_eq(e.step, 100);
    ck_assert_int_eq(e.nvalues, 1);
    ck_assert_str_eq(e.tag, "samples");
    ck_assert_int_eq(e.height, 2 * (H + 2) + 2);
    ck_assert_int_eq(e.width, 5 * (W + 2) + 2);
    ck_assert_int_eq(e.colorspace, 1);
    ck_assert_uint_eq(e.png_len, png_len);
    ck_assert_mem_eq(e.png, png, png_len);
    /* the bytes are a PNG of the grid */
    snprintf(pngpath, sizeof pngpath, "%s/from-event.png", dir);
    f = fopen(pngpath, "wb");
    ck_assert_uint_eq(fwrite(e.png, 1, e.png_len, f), e.png_len);
    fclose(f);
    dlt_image im;
    ck_assert_int_eq(dlt_image_load(pngpath, 1, &im), DLT_OK);
    ck_assert_int_eq(im.h, (int)e.height);
    ck_assert_int_eq(im.w, (int)e.width);
    check_grid(&(dlt_image8){im.h, im.w, 1, im.px}, want, N, 1, H, W, 5, 2);
    dlt_image_free(&im);

    ck_assert_int_eq(unlink(pngpath), 0);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    free(data);
    free(png);
    dlt_image8_free(&g);
    free(want);
    free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("png");
    TCase *tc = tcase_create("png");
    tcase_add_test(tc, grid_values);
    tcase_add_test(tc, grid_layout);
    tcase_add_test(tc, grid_torchvision);
    tcase_add_test(tc, png_files);
    tcase_add_test(tc, tb_image_event);
    tcase_add_test(tc, tb_image_file);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
