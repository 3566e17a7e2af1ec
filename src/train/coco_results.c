/* COCO results JSON (dlt_coco.h): the reader (cJSON) that gives detections
 * what pycocotools' loadRes gives them (area, box, mask), and the writer of
 * detections with compressed RLE masks, one result per line, numbers printed
 * so that they read back exactly. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco_gt.h"

/* Loaded results live in one block: n detections, then n RLEs that the
 * detections' rle pointers point into. */
void dlt_coco_dets_free(dlt_coco_det *dets, int64_t n)
{
    if (!dets)
        return;
    dlt_coco_rle *rles = (dlt_coco_rle *)(dets + n);
    for (int64_t i = 0; i < n; i++)
        dlt_coco_rle_free(&rles[i]);
    free(dets);
}

static dlt_status read_box(const char *path, const char *ctx, const cJSON *bb, double box[4])
{
    int ok = cJSON_IsArray(bb) && cJSON_GetArraySize(bb) == 4;
    for (int k = 0; k < 4 && ok; k++) {
        const cJSON *v = cJSON_GetArrayItem(bb, k);
        ok = cJSON_IsNumber(v) && isfinite(v->valuedouble);
        if (ok)
            box[k] = v->valuedouble;
    }
    return ok ? DLT_OK
              : coco_json_fail(path, ctx, "bbox", "%sexpected an array of 4 numbers [x, y, w, h]",
                               bb ? "" : "missing; ");
}

static dlt_status read_result(const char *path, const dlt_coco_gt *gt, const cJSON *r, int64_t i,
                              int box_mode, dlt_coco_det *d, dlt_coco_rle *rle)
{
    char ctx[48];
    snprintf(ctx, sizeof ctx, "[%lld]", (long long)i);
    dlt_status st;
    if (!cJSON_IsObject(r))
        return coco_json_fail(path, ctx, NULL, "expected a result object");
    if ((st = coco_json_id(path, ctx, r, "image_id", &d->image_id)) != DLT_OK ||
        (st = coco_json_id(path, ctx, r, "category_id", &d->category_id)) != DLT_OK ||
        (st = coco_json_number(path, ctx, r, "score", &d->score)) != DLT_OK)
        return st;
    int64_t im = coco_gt_image_index(gt, d->image_id);
    if (im < 0) /* loadRes: "Results do not correspond to current coco set" */
        return coco_json_fail(path, ctx, "image_id", "image %lld is not in the ground truth %s",
                              (long long)d->image_id, gt->path);
    int h = gt->img_h[im], w = gt->img_w[im];
    const cJSON *bb = cJSON_GetObjectItemCaseSensitive(r, "bbox");
    const cJSON *seg = cJSON_GetObjectItemCaseSensitive(r, "segmentation");
    if (box_mode || bb)
        if ((st = read_box(path, ctx, bb, d->bbox)) != DLT_OK)
            return st;
    if (seg) {
        if ((st = coco_json_segm(path, ctx, seg, h, w, rle)) != DLT_OK)
            return st;
        if (rle->h != h || rle->w != w)
            return coco_json_fail(path, ctx, "segmentation.size",
                                  "[%d, %d], but image %lld is %dx%d (height x width)", rle->h,
                                  rle->w, (long long)d->image_id, h, w);
    } else if (box_mode) { /* loadRes: the box as the polygon x1 y1 x1 y2 x2 y2 x2 y1 */
        double x1 = d->bbox[0], x2 = x1 + d->bbox[2], y1 = d->bbox[1], y2 = y1 + d->bbox[3];
        double xy[8] = {x1, y1, x1, y2, x2, y2, x2, y1};
        if ((st = dlt_coco_rle_from_poly(xy, 4, h, w, rle)) != DLT_OK)
            return dlt_adderr(st, "%s: %s.bbox", path, ctx);
    } else {
        return coco_json_fail(path, ctx, "segmentation",
                              "missing (the first result has no bbox, so every result needs "
                              "a mask)");
    }
    d->rle = rle;
    if (box_mode) {
        d->area = d->bbox[2] * d->bbox[3];
    } else {
        d->area = (double)dlt_coco_rle_area(rle), d->has_area = 1;
        if (!bb)
            dlt_coco_rle_bbox(rle, d->bbox);
    }
    return DLT_OK;
}

dlt_status dlt_coco_results_load(const char *path, const dlt_coco_gt *gt, dlt_coco_det **dets,
                                 int64_t *n)
{
    *dets = NULL, *n = 0;
    cJSON *root;
    dlt_status st = coco_json_read(path, &root);
    if (st != DLT_OK)
        return st;
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return coco_json_fail(path, NULL, NULL, "expected a JSON list of results");
    }
    int64_t cnt = cJSON_GetArraySize(root);
    size_t bytes = (size_t)cnt * (sizeof(dlt_coco_det) + sizeof(dlt_coco_rle));
    dlt_coco_det *d = calloc(1, bytes ? bytes : 1);
    if (!d) {
        cJSON_Delete(root);
        return dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory for %lld results", path,
                          (long long)cnt);
    }
    dlt_coco_rle *rles = (dlt_coco_rle *)(d + cnt);
    /* loadRes looks at the first result: with a non-empty bbox every area is
     * the box's, otherwise the mask's */
    const cJSON *b0 =
        cnt ? cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(root, 0), "bbox") : NULL;
    int box_mode = cJSON_IsArray(b0) && cJSON_GetArraySize(b0) > 0;
    int64_t i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, root)
    {
        if ((st = read_result(path, gt, r, i, box_mode, &d[i], &rles[i])) != DLT_OK)
            break;
        i++;
    }
    cJSON_Delete(root);
    if (st != DLT_OK) {
        dlt_coco_dets_free(d, cnt);
        return st;
    }
    *dets = d, *n = cnt;
    return DLT_OK;
}

/* The shortest of %.15g, %.16g and %.17g that reads back as v (cJSON's
 * printer only checks to within a relative DBL_EPSILON). */
static void put_number(FILE *f, double v)
{
    char buf[32];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

/* One result object as a line of JSON; the counts string's characters are
 * '0'..'o', of which only the backslash needs escaping. */
static dlt_status put_result(FILE *f, const dlt_coco_gt *gt, const dlt_coco_det *d, int64_t i)
{
    for (int k = 0; k < 4; k++)
        if (!isfinite(d->bbox[k]))
            return dlt_seterr(DLT_ERR_NONFINITE, "detection %lld: bbox[%d] is %g", (long long)i, k,
                              d->bbox[k]);
    if (!isfinite(d->score))
        return dlt_seterr(DLT_ERR_NONFINITE, "detection %lld: score is %g", (long long)i, d->score);
    fprintf(f, "{\"image_id\":%lld,\"category_id\":%lld,\"bbox\":[", (long long)d->image_id,
            (long long)d->category_id);
    for (int k = 0; k < 4; k++) {
        put_number(f, d->bbox[k]);
        fputs(k < 3 ? "," : "],\"score\":", f);
    }
    put_number(f, d->score);
    if (d->rle || d->mask) {
        dlt_coco_rle enc = {0};
        const dlt_coco_rle *rle = d->rle;
        dlt_status st;
        if (!rle) {
            int h, w;
            if ((st = dlt_coco_gt_image_size(gt, d->image_id, &h, &w)) != DLT_OK ||
                (st = dlt_coco_rle_encode(d->mask, h, w, &enc)) != DLT_OK)
                return dlt_adderr(st, "detection %lld", (long long)i);
            rle = &enc;
        }
        char *counts = NULL;
        st = dlt_coco_rle_to_string(rle, &counts);
        if (st == DLT_OK) {
            fprintf(f, ",\"segmentation\":{\"size\":[%d,%d],\"counts\":\"", rle->h, rle->w);
            for (const char *c = counts; *c; c++) {
                if (*c == '\\')
                    fputc('\\', f);
                fputc(*c, f);
            }
            fputs("\"}", f);
        }
        free(counts);
        dlt_coco_rle_free(&enc);
        if (st != DLT_OK)
            return st;
    }
    fputc('}', f);
    return DLT_OK;
}

dlt_status dlt_coco_results_write(const char *path, const dlt_coco_gt *gt, const dlt_coco_det *dets,
                                  int64_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    dlt_status st = DLT_OK;
    fputc('[', f);
    for (int64_t i = 0; i < n && st == DLT_OK; i++) {
        fputs(i ? ",\n" : "\n", f);
        st = put_result(f, gt, &dets[i], i);
    }
    fputs("\n]\n", f);
    int bad = ferror(f);
    bad = fclose(f) != 0 || bad;
    if (st != DLT_OK)
        return dlt_adderr(st, "%s", path);
    return bad ? dlt_seterr(DLT_ERR_IO, "%s: write failed", path) : DLT_OK;
}
