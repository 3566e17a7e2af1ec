/* JSON helpers of the COCO reader (coco_gt.h): reading a file with cJSON,
 * numbers and ids with one-line errors naming the file and the field, and the
 * three forms of a COCO segmentation turned into an RLE. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco_gt.h"

dlt_status coco_json_fail(const char *path, const char *ctx, const char *field, const char *fmt,
                          ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!ctx && !field)
        return dlt_seterr(DLT_ERR_INVALID, "%s: %s", path, msg);
    return dlt_seterr(DLT_ERR_INVALID, "%s: %s%s%s: %s", path, ctx ? ctx : "",
                      ctx && field ? "." : "", field ? field : "", msg);
}

dlt_status coco_json_read(const char *path, cJSON **root)
{
    *root = NULL;
    dlt_status st = dlt_check_regular_file(path);
    if (st != DLT_OK)
        return dlt_adderr(st, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return dlt_seterr(errno == ENOENT ? DLT_ERR_NOTFOUND : DLT_ERR_IO, "%s: cannot open: %s",
                          path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (len < cap - 1)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb)
            free(buf);
        buf = nb, cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf)
        return dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory reading the file", path);
    if (err) {
        free(buf);
        return dlt_seterr(DLT_ERR_IO, "%s: read error", path);
    }
    buf[len] = 0;
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(buf, &end, 1);
    if (!*root) {
        size_t at = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : len;
        int line = 1;
        for (size_t i = 0; i < at; i++)
            line += buf[i] == '\n';
        st = dlt_seterr(DLT_ERR_INVALID, "%s: not valid JSON (line %d, byte %zu%s)", path, line, at,
                        at >= len ? ", at the end" : "");
    }
    free(buf);
    return st;
}

dlt_status coco_json_number(const char *path, const char *ctx, const cJSON *obj, const char *name,
                            double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!it)
        return coco_json_fail(path, ctx, name, "missing (want a number)");
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return coco_json_fail(path, ctx, name, "expected a finite number");
    *out = it->valuedouble;
    return DLT_OK;
}

dlt_status coco_json_id(const char *path, const char *ctx, const cJSON *obj, const char *name,
                        int64_t *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!it)
        return coco_json_fail(path, ctx, name, "missing (want an integer id)");
    double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    if (!(fabs(v) < 9007199254740992.0) || v != floor(v))
        return coco_json_fail(path, ctx, name, "expected an integer id");
    *out = (int64_t)v;
    return DLT_OK;
}

/* An array of numbers into a malloc'ed double array; -1 when it is none. */
static int number_array(const cJSON *a, double **out)
{
    *out = NULL;
    if (!cJSON_IsArray(a))
        return -1;
    int n = cJSON_GetArraySize(a), i = 0;
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v)
        return -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
            free(v);
            return -1;
        }
        v[i++] = e->valuedouble;
    }
    *out = v;
    return n;
}

static dlt_status segm_polygons(const char *path, const char *ctx, const cJSON *seg, int h, int w,
                                dlt_coco_rle *out)
{
    int n = cJSON_GetArraySize(seg);
    if (n == 0)
        return coco_json_fail(path, ctx, "segmentation", "an empty list of polygons");
    if (h <= 0 || w <= 0)
        return coco_json_fail(path, ctx, "segmentation",
                              "polygons need the image's height and width (got %dx%d)", h, w);
    dlt_coco_rle *parts = calloc((size_t)n, sizeof *parts);
    if (!parts)
        return dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", path);
    dlt_status st = DLT_OK;
    for (int i = 0; i < n && st == DLT_OK; i++) {
        double *v;
        int k = number_array(cJSON_GetArrayItem(seg, i), &v);
        /* pycocotools' frPyObjects takes a first list of 4 numbers for boxes
         * and then fails (frBbox wants an array), one of fewer for no
         * polygon at all; it drops the odd last number of a polygon: all refused */
        if (k < 0 || k % 2 != 0 || k < (i == 0 ? 6 : 2)) {
            st = coco_json_fail(path, ctx, "segmentation",
                                "polygon %d: expected an even number of numbers x0, y0, x1, "
                                "y1, ... (at least 6 in the first polygon)",
                                i);
            free(v);
            break;
        }
        st = dlt_coco_rle_from_poly(v, k / 2, h, w, &parts[i]);
        if (st != DLT_OK)
            st = dlt_adderr(st, "%s: %s.segmentation: polygon %d", path, ctx, i);
        free(v);
    }
    if (st == DLT_OK)
        st = dlt_coco_rle_merge(parts, n, 0, out);
    for (int i = 0; i < n; i++)
        dlt_coco_rle_free(&parts[i]);
    free(parts);
    return st;
}

dlt_status coco_json_segm(const char *path, const char *ctx, const cJSON *seg, int h, int w,
                          dlt_coco_rle *out)
{
    memset(out, 0, sizeof *out);
    if (cJSON_IsArray(seg))
        return segm_polygons(path, ctx, seg, h, w, out);
    if (!cJSON_IsObject(seg))
        return coco_json_fail(path, ctx, "segmentation",
                              "expected a list of polygons or an RLE object");
    double *size;
    int ns = number_array(cJSON_GetObjectItemCaseSensitive(seg, "size"), &size);
    if (ns != 2 || size[0] < 0 || size[1] < 0 || size[0] != floor(size[0]) ||
        size[1] != floor(size[1]) || size[0] * size[1] >= 4294967295.0) {
        free(size);
        return coco_json_fail(path, ctx, "segmentation.size",
                              "expected [height, width] (whole numbers, under 2^32 pixels)");
    }
    int rh = (int)size[0], rw = (int)size[1];
    free(size);
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(seg, "counts");
    dlt_status st;
    if (cJSON_IsString(counts)) {
        st = dlt_coco_rle_from_string(counts->valuestring, rh, rw, out);
        if (st != DLT_OK)
            return dlt_adderr(st, "%s: %s.segmentation.counts", path, ctx);
    } else {
        double *c;
        int m = number_array(counts, &c);
        int ok = m >= 0;
        for (int i = 0; i < m && ok; i++)
            ok = c[i] >= 0 && c[i] <= 4294967295.0 && c[i] == floor(c[i]);
        if (!ok) {
            free(c);
            return coco_json_fail(path, ctx, "segmentation.counts",
                                  "expected a compressed string or a list of run lengths");
        }
        out->h = rh, out->w = rw, out->m = m;
        out->cnts = malloc((size_t)(m > 0 ? m : 1) * sizeof *out->cnts);
        if (!out->cnts) {
            free(c);
            memset(out, 0, sizeof *out);
            return dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", path);
        }
        for (int i = 0; i < m; i++)
            out->cnts[i] = (uint32_t)c[i];
        free(c);
    }
    if ((st = dlt_coco_rle_check(out)) != DLT_OK) {
        dlt_coco_rle_free(out);
        return dlt_adderr(st, "%s: %s.segmentation.counts", path, ctx);
    }
    return DLT_OK;
}
