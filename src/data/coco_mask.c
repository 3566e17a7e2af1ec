/* COCO's mask encodings decoded to bitmaps, with the semantics of pycocotools
 * (maskApi.c), rewritten here from its documented behaviour:
 *
 * RLE: counts are run lengths over the h×w mask in column-major (Fortran)
 * order, alternating 0s and 1s and starting with 0s (so counts[0] may be 0).
 * The compressed form packs each count into 6-bit characters (value + 48):
 * 5 payload bits per character, least significant group first, bit 0x20 set
 * on every character but the last, bit 0x10 of the last one the sign; counts
 * after the first three are stored as the difference to the count two before.
 *
 * Polygons (frPoly): vertices are scaled by 5 and rounded; each edge is
 * walked one step per unit of its longer axis on that grid (rounding the
 * other coordinate), both ends included, the walk always running from the
 * smaller to the larger coordinate of the longer axis and then put back in
 * the edge's direction. Wherever consecutive points change x, the column
 * between them is the pixel column whose centre lies there (skipped unless
 * that is a whole pixel inside 0..w-1), and the row where the boundary
 * crosses it is the lower of the two y, mapped back to pixels and rounded up
 * (clamped to 0..h). Each crossing toggles the mask from that row down in
 * that column; crossings at the same place cancel in pairs. */
#include "dlt_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dlt_status dlt_coco_rle_fill(const uint32_t *counts, int64_t n, int h, int w, uint8_t *out)
{
    int64_t total = (int64_t)h * w, pos = 0;
    for (int64_t i = 0; i < n; i++) {
        if ((int64_t)counts[i] > total - pos)
            return dlt_seterr(DLT_ERR_INVALID,
                              "RLE counts add up to more than %dx%d = %lld "
                              "pixels",
                              h, w, (long long)total);
        if (i & 1)
            for (int64_t p = pos; p < pos + counts[i]; p++)
                out[(p % h) * w + p / h] = 1; /* column-major position p */
        pos += counts[i];
    }
    if (pos != total)
        return dlt_seterr(DLT_ERR_INVALID,
                          "RLE counts add up to %lld pixels, the mask %dx%d "
                          "has %lld",
                          (long long)pos, h, w, (long long)total);
    return DLT_OK;
}

dlt_status dlt_coco_rle_decode_string(const char *s, uint32_t **counts, int64_t *n)
{
    size_t len = strlen(s), cap = len + 1;
    int64_t *v = malloc(cap * sizeof *v);
    *counts = NULL, *n = 0;
    if (!v)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int64_t m = 0;
    size_t p = 0;
    while (p < len) {
        int64_t x = 0;
        int k = 0, more = 1;
        while (more) {
            if (p >= len || k > 12) {
                free(v);
                return dlt_seterr(DLT_ERR_INVALID, "compressed RLE string ends inside a count");
            }
            int c = (unsigned char)s[p++] - 48;
            if (c < 0 || c > 63) {
                free(v);
                return dlt_seterr(DLT_ERR_INVALID,
                                  "compressed RLE string has the character "
                                  "'%c' (expected '0'..'o')",
                                  s[p - 1]);
            }
            x |= (int64_t)(c & 0x1f) << (5 * k);
            more = c & 0x20;
            k++;
            if (!more && (c & 0x10)) /* negative: sign-extend */
                x -= (int64_t)1 << (5 * k);
        }
        if (m > 2)
            x += v[m - 2];
        if (x < 0 || x > UINT32_MAX) {
            free(v);
            return dlt_seterr(DLT_ERR_INVALID, "compressed RLE string decodes to the count %lld",
                              (long long)x);
        }
        v[m++] = x;
    }
    uint32_t *c = malloc((size_t)(m ? m : 1) * sizeof *c);
    if (!c) {
        free(v);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < m; i++)
        c[i] = (uint32_t)v[i];
    free(v);
    *counts = c, *n = m;
    return DLT_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Appends the grid points of the edge (xs, ys) -> (xe, ye) to px, py. */
static int64_t walk_edge(int xs, int ys, int xe, int ye, int *px, int *py, int64_t m)
{
    int dx = abs(xe - xs), dy = abs(ye - ys);
    int along_x = dx >= dy, len = along_x ? dx : dy;
    int rev = along_x ? xs > xe : ys > ye;
    if (rev) { /* walk from the smaller end, emit in the edge's direction */
        int t = xs;
        xs = xe, xe = t, t = ys, ys = ye, ye = t;
    }
    double slope = along_x ? (dx ? (double)(ye - ys) / dx : 0) : (double)(xe - xs) / dy;
    for (int d = 0; d <= len; d++) {
        int t = rev ? len - d : d;
        if (along_x)
            px[m] = xs + t, py[m] = (int)(ys + slope * t + .5);
        else
            py[m] = ys + t, px[m] = (int)(xs + slope * t + .5);
        m++;
    }
    return m;
}

dlt_status dlt_coco_poly_fill(const double *xy, int k, int h, int w, uint8_t *out)
{
    const double scale = 5;
    if (k < 1 || h < 1 || w < 1)
        return DLT_OK;
    int *gx = malloc(((size_t)k + 1) * sizeof *gx), *gy = malloc(((size_t)k + 1) * sizeof *gy);
    if (!gx || !gy) {
        free(gx), free(gy);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory rasterising a polygon");
    }
    for (int j = 0; j < k; j++)
        gx[j] = (int)(scale * xy[2 * j] + .5), gy[j] = (int)(scale * xy[2 * j + 1] + .5);
    gx[k] = gx[0], gy[k] = gy[0];
    int64_t npts = 0;
    for (int j = 0; j < k; j++) {
        int dx = abs(gx[j + 1] - gx[j]), dy = abs(gy[j + 1] - gy[j]);
        npts += (dx > dy ? dx : dy) + 1;
    }
    int *px = malloc((size_t)npts * sizeof *px), *py = malloc((size_t)npts * sizeof *py);
    int64_t *tog = malloc(((size_t)npts + 1) * sizeof *tog);
    if (!px || !py || !tog) {
        free(gx), free(gy), free(px), free(py), free(tog);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory rasterising a polygon");
    }
    int64_t m = 0;
    for (int j = 0; j < k; j++)
        m = walk_edge(gx[j], gy[j], gx[j + 1], gy[j + 1], px, py, m);
    int64_t nt = 0;
    for (int64_t j = 1; j < m; j++) {
        if (px[j] == px[j - 1])
            continue;
        double xd = px[j] < px[j - 1] ? px[j] : px[j] - 1;
        xd = (xd + .5) / scale - .5;
        if (floor(xd) != xd || xd < 0 || xd > w - 1)
            continue;
        double yd = py[j] < py[j - 1] ? py[j] : py[j - 1];
        yd = (yd + .5) / scale - .5;
        yd = ceil(yd < 0 ? 0 : yd > h ? h : yd);
        tog[nt++] = (int64_t)xd * h + (int64_t)yd; /* column-major position */
    }
    qsort(tog, (size_t)nt, sizeof *tog, cmp_i64);
    /* toggles in column-major order; an even number at one place cancels */
    int64_t total = (int64_t)h * w, pos = 0;
    int on = 0;
    for (int64_t j = 0; j < nt;) {
        int64_t at = tog[j], c = 0;
        while (j < nt && tog[j] == at)
            j++, c++;
        if (!(c & 1))
            continue;
        if (on)
            for (int64_t p = pos; p < at && p < total; p++)
                out[(p % h) * w + p / h] = 1;
        on = !on, pos = at;
    }
    if (on)
        for (int64_t p = pos; p < total; p++)
            out[(p % h) * w + p / h] = 1;
    free(gx), free(gy), free(px), free(py), free(tog);
    return DLT_OK;
}
