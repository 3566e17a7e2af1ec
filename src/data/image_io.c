/* Decoding PNG (libpng) and JPEG (libjpeg) into 8-bit HWC, and bilinear resize. */
#include "image_io.h"

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Gray → RGB by replication; RGB → gray by ITU-R BT.601 luma; alpha dropped. */
static dlt_status to_channels(dlt_image *im, int want)
{
    if (im->c == want)
        return DLT_OK;
    size_t np = (size_t)im->h * (size_t)im->w;
    uint8_t *o = malloc(np * (size_t)want);
    if (!o)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (size_t p = 0; p < np; p++) {
        const uint8_t *s = im->px + p * (size_t)im->c;
        if (want == 1)
            o[p] = im->c >= 3 ? (uint8_t)((299 * s[0] + 587 * s[1] + 114 * s[2] + 500) / 1000)
                              : s[0];
        else
            for (int k = 0; k < 3; k++)
                o[p * 3 + (size_t)k] = im->c >= 3 ? s[k] : s[0];
    }
    free(im->px);
    im->px = o;
    im->c = want;
    return DLT_OK;
}

static dlt_status load_png(const char *path, dlt_image *im)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&pi, path))
        return dlt_seterr(DLT_ERR_IO, "%s: cannot read PNG: %s", path, pi.message);
    int color = pi.format & PNG_FORMAT_FLAG_COLOR;
    pi.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY; /* 8-bit, alpha composited away */
    im->h = (int)pi.height, im->w = (int)pi.width, im->c = color ? 3 : 1;
    im->px = malloc(PNG_IMAGE_SIZE(pi));
    if (!im->px) {
        png_image_free(&pi);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    if (!png_image_finish_read(&pi, NULL, im->px, 0, NULL)) {
        free(im->px);
        im->px = NULL;
        return dlt_seterr(DLT_ERR_IO, "%s: cannot decode PNG: %s", path, pi.message);
    }
    return DLT_OK;
}

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void jpeg_fail(j_common_ptr ci)
{
    jerr *e = (jerr *)ci->err;
    (*ci->err->format_message)(ci, e->msg);
    longjmp(e->jb, 1);
}

static void jpeg_quiet(j_common_ptr ci, int level) { (void)ci, (void)level; }

static dlt_status load_jpeg(const char *path, dlt_image *im)
{
    struct jpeg_decompress_struct ci;
    jerr e;
    FILE *volatile f = fopen(path, "rb");
    if (!f)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot open", path);
    ci.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jpeg_fail;
    e.mgr.emit_message = jpeg_quiet;
    im->px = NULL;
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&ci);
        fclose(f);
        free(im->px);
        im->px = NULL;
        return dlt_seterr(DLT_ERR_IO, "%s: cannot decode JPEG: %s", path, e.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    ci.out_color_space = ci.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&ci);
    im->w = (int)ci.output_width, im->h = (int)ci.output_height, im->c = ci.output_components;
    size_t stride = (size_t)im->w * (size_t)im->c;
    im->px = malloc(stride * (size_t)im->h);
    if (!im->px)
        longjmp(e.jb, 1);
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = im->px + stride * ci.output_scanline;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    fclose(f);
    return DLT_OK;
}

int dlt_image_is_supported(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") ||
                   !strcasecmp(dot, ".jpeg"));
}

dlt_status dlt_image_load(const char *path, int channels, dlt_image *im)
{
    const char *dot = strrchr(path, '.');
    memset(im, 0, sizeof *im);
    dlt_status st = dot && !strcasecmp(dot, ".png") ? load_png(path, im) : load_jpeg(path, im);
    if (!st)
        st = to_channels(im, channels);
    if (st)
        dlt_image_free(im);
    return st;
}

void dlt_image_free(dlt_image *im)
{
    free(im->px);
    im->px = NULL;
}

void dlt_image_resize_bilinear(const uint8_t *src, int sh, int sw, int c, uint8_t *dst, int dh,
                               int dw)
{
    /* align_corners = false: pixel centres map as (x + 0.5) * scale - 0.5 */
    float sy = (float)sh / (float)dh, sx = (float)sw / (float)dw;
    for (int y = 0; y < dh; y++) {
        float fy = ((float)y + 0.5f) * sy - 0.5f;
        if (fy < 0)
            fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        float wy = fy - (float)y0;
        for (int x = 0; x < dw; x++) {
            float fx = ((float)x + 0.5f) * sx - 0.5f;
            if (fx < 0)
                fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            float wx = fx - (float)x0;
            for (int k = 0; k < c; k++) {
                float a = src[((size_t)y0 * (size_t)sw + (size_t)x0) * (size_t)c + (size_t)k];
                float b = src[((size_t)y0 * (size_t)sw + (size_t)x1) * (size_t)c + (size_t)k];
                float d = src[((size_t)y1 * (size_t)sw + (size_t)x0) * (size_t)c + (size_t)k];
                float e = src[((size_t)y1 * (size_t)sw + (size_t)x1) * (size_t)c + (size_t)k];
                float v = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
                dst[((size_t)y * (size_t)dw + (size_t)x) * (size_t)c + (size_t)k] =
                    (uint8_t)(v + 0.5f);
            }
        }
    }
}
