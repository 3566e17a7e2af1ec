/* PNG encoding through libpng's simplified write API (to memory, so the same
 * bytes go to a file or into a TensorBoard image summary), and sample grids
 * with torchvision's make_grid/save_image layout and byte mapping (dlt_png.h). */
#include "dlt_png.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dlt_image8_free(dlt_image8 *im)
{
    if (!im)
        return;
    free(im->px);
    im->px = NULL;
}

static dlt_status check_image(const dlt_image8 *im)
{
    if (!im || !im->px || (im->c != 1 && im->c != 3) || im->h < 1 || im->w < 1)
        return dlt_seterr(DLT_ERR_INVALID,
                          "PNG: expected an 8-bit image of 1 or 3 channels and at least 1x1 "
                          "pixels (got %dx%d, %d channels%s)",
                          im ? im->h : 0, im ? im->w : 0, im ? im->c : 0,
                          im && !im->px ? ", no pixels" : "");
    /* libpng's limit on rows and columns (PNG_USER_*_MAX), and the row stride
     * the simplified API takes as an int */
    if (im->h > 1000000 || im->w > 1000000 || (int64_t)im->w * im->c > 0x7fffffff)
        return dlt_seterr(DLT_ERR_INVALID, "PNG: %dx%d pixels is beyond what libpng writes", im->h,
                          im->w);
    return DLT_OK;
}

dlt_status dlt_png_encode(const dlt_image8 *im, uint8_t **png, size_t *len)
{
    *png = NULL;
    *len = 0;
    dlt_status st = check_image(im);
    if (st != DLT_OK)
        return st;
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)im->w;
    pi.height = (png_uint_32)im->h;
    pi.format = im->c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    /* the first call measures (memory NULL), the second writes */
    png_alloc_size_t need = 0;
    if (!png_image_write_to_memory(&pi, NULL, &need, 0, im->px, 0, NULL))
        return dlt_seterr(DLT_ERR_INTERNAL, "PNG: cannot encode %dx%d pixels: %s", im->h, im->w,
                          pi.message);
    uint8_t *buf = malloc(need ? need : 1);
    if (!buf) {
        png_image_free(&pi);
        return dlt_seterr(DLT_ERR_NOMEM, "PNG: out of memory for %zu bytes", (size_t)need);
    }
    png_alloc_size_t got = need;
    if (!png_image_write_to_memory(&pi, buf, &got, 0, im->px, 0, NULL)) {
        free(buf);
        return dlt_seterr(DLT_ERR_INTERNAL, "PNG: cannot encode %dx%d pixels: %s", im->h, im->w,
                          pi.message);
    }
    *png = buf;
    *len = (size_t)got;
    return DLT_OK;
}

dlt_status dlt_png_write(const char *path, const dlt_image8 *im)
{
    uint8_t *png;
    size_t len;
    dlt_status st = dlt_png_encode(im, &png, &len);
    if (st != DLT_OK)
        return dlt_adderr(st, "%s", path);
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 5);
    if (!tmp) {
        free(png);
        return dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        st = dlt_seterr(DLT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    else {
        int ok = fwrite(png, 1, len, f) == len;
        ok = fclose(f) == 0 && ok;
        if (!ok)
            st = dlt_seterr(DLT_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        else if (rename(tmp, path) != 0)
            st = dlt_seterr(DLT_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        if (st != DLT_OK)
            remove(tmp);
    }
    free(tmp);
    free(png);
    return st;
}

/* save_image's byte of a make_grid-normalised value, in f32 as torch does:
 * clamp to [lo, hi], (v - lo) / (hi - lo), * 255 + 0.5, clamp, truncate. */
static uint8_t to_byte(float v, float lo, float hi)
{
    if (isnan(v))
        return 0;
    v = v < lo ? lo : v > hi ? hi : v;
    v = (v - lo) / (hi - lo);
    v = v * 255.0f + 0.5f;
    v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
    return (uint8_t)v;
}

dlt_status dlt_image_grid(const float *x, int n, int c, int h, int w, const dlt_grid_opts *o,
                          dlt_image8 *out)
{
    memset(out, 0, sizeof *out);
    int cols = o && o->cols > 0 ? o->cols : 8;
    int pad = !o || o->pad == 0 ? 2 : o->pad < 0 ? 0 : o->pad;
    float lo = o ? o->lo : 0.f, hi = o ? o->hi : 0.f;
    if (lo == hi)
        lo = -1.f, hi = 1.f;
    if (!x || n < 1 || (c != 1 && c != 3) || h < 1 || w < 1)
        return dlt_seterr(DLT_ERR_INVALID,
                          "image grid: expected at least one image [N, C, H, W] with C = 1 or 3 "
                          "(got [%d, %d, %d, %d]%s)",
                          n, c, h, w, x ? "" : ", no data");
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi))
        return dlt_seterr(DLT_ERR_INVALID, "image grid: value range [%g, %g] is empty", (double)lo,
                          (double)hi);
    int xmaps = cols < n ? cols : n, ymaps = (n + xmaps - 1) / xmaps;
    int64_t gh = (int64_t)ymaps * (h + pad) + pad, gw = (int64_t)xmaps * (w + pad) + pad;
    if (gh > 1000000 || gw > 1000000)
        return dlt_seterr(DLT_ERR_INVALID, "image grid: %lldx%lld pixels is too large for a PNG",
                          (long long)gh, (long long)gw);
    out->px = calloc((size_t)(gh * gw * c), 1); /* the padding is 0: black */
    if (!out->px)
        return dlt_seterr(DLT_ERR_NOMEM, "image grid: out of memory");
    out->h = (int)gh, out->w = (int)gw, out->c = c;
    size_t plane = (size_t)h * (size_t)w;
    for (int k = 0; k < n; k++) {
        const float *img = x + (size_t)k * (size_t)c * plane;
        int64_t y0 = pad + (int64_t)(k / xmaps) * (h + pad),
                x0 = pad + (int64_t)(k % xmaps) * (w + pad);
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < w; xx++) {
                uint8_t *dst =
                    out->px + ((size_t)(y0 + y) * (size_t)gw + (size_t)(x0 + xx)) * (size_t)c;
                for (int ch = 0; ch < c; ch++)
                    dst[ch] = to_byte(img[(size_t)ch * plane + (size_t)y * (size_t)w + (size_t)xx],
                                      lo, hi);
            }
    }
    return DLT_OK;
}
