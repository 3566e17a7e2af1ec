/* COCO instances JSON -> dlt_coco_gt (dlt_coco.h, coco_gt.h): the images
 * with their sizes, the category ids and the annotations as COCOeval reads
 * them (bbox, area, iscrowd, and the segmentation as an RLE, annToRLE). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco_gt.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t find_id(const int64_t *ids, int64_t n, int64_t id)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ids[lo] == id ? lo : -1;
}

int64_t coco_gt_image_index(const dlt_coco_gt *gt, int64_t id)
{
    return find_id(gt->img_ids, gt->nimg, id);
}

int64_t coco_gt_category_index(const dlt_coco_gt *gt, int64_t id)
{
    return find_id(gt->cat_ids, gt->ncat, id);
}

void dlt_coco_gt_free(dlt_coco_gt *gt)
{
    if (!gt)
        return;
    for (int64_t i = 0; i < gt->nann; i++)
        dlt_coco_rle_free(&gt->anns[i].rle);
    free(gt->anns), free(gt->img_ids), free(gt->img_h), free(gt->img_w), free(gt->cat_ids);
    free(gt->path);
    free(gt);
}

int64_t dlt_coco_gt_num_images(const dlt_coco_gt *gt)
{
    return gt->nimg;
}

int64_t dlt_coco_gt_num_annotations(const dlt_coco_gt *gt)
{
    return gt->nann;
}

dlt_status dlt_coco_gt_keep_images(dlt_coco_gt *gt, const int64_t *ids, int64_t n)
{
    uint8_t *keep = calloc((size_t)(gt->nimg ? gt->nimg : 1), 1);
    if (!keep)
        return dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", gt->path);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = coco_gt_image_index(gt, ids[i]);
        if (k < 0) {
            free(keep);
            return dlt_seterr(DLT_ERR_NOTFOUND, "%s: no image with id %lld", gt->path,
                              (long long)ids[i]);
        }
        keep[k] = 1;
    }
    /* the annotations of the other images go (in file order, as they were) */
    int64_t m = 0;
    for (int64_t j = 0; j < gt->nann; j++) {
        if (keep[coco_gt_image_index(gt, gt->anns[j].image_id)])
            gt->anns[m++] = gt->anns[j];
        else
            dlt_coco_rle_free(&gt->anns[j].rle);
    }
    gt->nann = m;
    free(keep);
    return DLT_OK;
}

dlt_status dlt_coco_gt_image_size(const dlt_coco_gt *gt, int64_t image_id, int *h, int *w)
{
    int64_t i = coco_gt_image_index(gt, image_id);
    if (i < 0)
        return dlt_seterr(DLT_ERR_NOTFOUND, "%s: no image with id %lld", gt->path,
                          (long long)image_id);
    *h = gt->img_h[i], *w = gt->img_w[i];
    return DLT_OK;
}

static const cJSON *list_member(const char *path, const cJSON *root, const char *name,
                                dlt_status *st)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!cJSON_IsArray(a))
        *st = coco_json_fail(path, NULL, name, "%s (want a list)", a ? "not a list" : "missing");
    return a;
}

/* images: ids sorted (one entry per id), sizes in the same order */
static dlt_status read_images(dlt_coco_gt *gt, const cJSON *images)
{
    const char *path = gt->path;
    int64_t n = cJSON_GetArraySize(images), i = 0;
    gt->img_ids = malloc((size_t)(n ? n : 1) * sizeof *gt->img_ids);
    int64_t *hw = malloc((size_t)(n ? n : 1) * 3 * sizeof *hw); /* id, h, w rows to sort */
    gt->img_h = malloc((size_t)(n ? n : 1) * sizeof(int));
    gt->img_w = malloc((size_t)(n ? n : 1) * sizeof(int));
    if (!gt->img_ids || !hw || !gt->img_h || !gt->img_w) {
        free(hw);
        return dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", path);
    }
    const cJSON *im;
    dlt_status st = DLT_OK;
    cJSON_ArrayForEach(im, images)
    {
        char ctx[48];
        snprintf(ctx, sizeof ctx, "images[%lld]", (long long)i);
        double h, w;
        if ((st = coco_json_id(path, ctx, im, "id", &hw[3 * i])) != DLT_OK ||
            (st = coco_json_number(path, ctx, im, "height", &h)) != DLT_OK ||
            (st = coco_json_number(path, ctx, im, "width", &w)) != DLT_OK)
            break;
        if (h < 0 || w < 0 || h > 1 << 30 || w > 1 << 30 || h != (int)h || w != (int)w) {
            st = coco_json_fail(path, ctx, h < 0 || h > 1 << 30 || h != (int)h ? "height" : "width",
                                "expected a whole number of pixels");
            break;
        }
        hw[3 * i + 1] = (int64_t)h, hw[3 * i + 2] = (int64_t)w;
        i++;
    }
    if (st == DLT_OK) {
        qsort(hw, (size_t)n, 3 * sizeof *hw, cmp_i64); /* by id (each row's first value) */
        for (i = 0; i < n; i++) {
            if (i > 0 && hw[3 * i] == hw[3 * (i - 1)]) {
                st = coco_json_fail(path, NULL, "images", "image id %lld appears twice",
                                    (long long)hw[3 * i]);
                break;
            }
            gt->img_ids[i] = hw[3 * i];
            gt->img_h[i] = (int)hw[3 * i + 1], gt->img_w[i] = (int)hw[3 * i + 2];
        }
        gt->nimg = n;
    }
    free(hw);
    return st;
}

static dlt_status read_categories(dlt_coco_gt *gt, const cJSON *cats)
{
    int64_t n = cJSON_GetArraySize(cats), i = 0;
    gt->cat_ids = malloc((size_t)(n ? n : 1) * sizeof *gt->cat_ids);
    if (!gt->cat_ids)
        return dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", gt->path);
    const cJSON *c;
    cJSON_ArrayForEach(c, cats)
    {
        char ctx[48];
        snprintf(ctx, sizeof ctx, "categories[%lld]", (long long)i);
        dlt_status st = coco_json_id(gt->path, ctx, c, "id", &gt->cat_ids[i]);
        if (st != DLT_OK)
            return st;
        i++;
    }
    qsort(gt->cat_ids, (size_t)n, sizeof *gt->cat_ids, cmp_i64);
    for (i = 1; i < n; i++)
        if (gt->cat_ids[i] == gt->cat_ids[i - 1])
            return coco_json_fail(gt->path, NULL, "categories", "category id %lld appears twice",
                                  (long long)gt->cat_ids[i]);
    gt->ncat = n;
    return DLT_OK;
}

static dlt_status read_annotation(dlt_coco_gt *gt, const cJSON *a, int64_t i, coco_ann *out)
{
    const char *path = gt->path;
    char ctx[48];
    snprintf(ctx, sizeof ctx, "annotations[%lld]", (long long)i);
    dlt_status st;
    if ((st = coco_json_id(path, ctx, a, "id", &out->id)) != DLT_OK ||
        (st = coco_json_id(path, ctx, a, "image_id", &out->image_id)) != DLT_OK ||
        (st = coco_json_id(path, ctx, a, "category_id", &out->category_id)) != DLT_OK ||
        (st = coco_json_number(path, ctx, a, "area", &out->area)) != DLT_OK)
        return st;
    const cJSON *bb = cJSON_GetObjectItemCaseSensitive(a, "bbox");
    int nb = cJSON_IsArray(bb) ? cJSON_GetArraySize(bb) : -1;
    for (int k = 0; k < 4 && nb == 4; k++) {
        const cJSON *v = cJSON_GetArrayItem(bb, k);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            nb = -1;
        else
            out->bbox[k] = v->valuedouble;
    }
    if (nb != 4)
        return coco_json_fail(path, ctx, "bbox", "%sexpected an array of 4 numbers [x, y, w, h]",
                              bb ? "" : "missing; ");
    const cJSON *crowd = cJSON_GetObjectItemCaseSensitive(a, "iscrowd");
    if (cJSON_IsBool(crowd))
        out->iscrowd = cJSON_IsTrue(crowd);
    else if (cJSON_IsNumber(crowd) && (crowd->valuedouble == 0 || crowd->valuedouble == 1))
        out->iscrowd = crowd->valuedouble != 0;
    else
        return coco_json_fail(path, ctx, "iscrowd", "%sexpected 0 or 1", crowd ? "" : "missing; ");
    const cJSON *seg = cJSON_GetObjectItemCaseSensitive(a, "segmentation");
    if (seg) {
        int64_t im = coco_gt_image_index(gt, out->image_id);
        int h = im >= 0 ? gt->img_h[im] : 0, w = im >= 0 ? gt->img_w[im] : 0;
        /* annotations of images the file does not list are never evaluated */
        if (im >= 0) {
            if ((st = coco_json_segm(path, ctx, seg, h, w, &out->rle)) != DLT_OK)
                return st;
            out->has_segm = 1;
        }
    }
    return DLT_OK;
}

dlt_status dlt_coco_gt_load(const char *path, dlt_coco_gt **out)
{
    *out = NULL;
    cJSON *root;
    dlt_status st = coco_json_read(path, &root);
    if (st != DLT_OK)
        return st;
    dlt_coco_gt *gt = calloc(1, sizeof *gt);
    if (!gt || !(gt->path = strdup(path))) {
        free(gt), cJSON_Delete(root);
        return dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!cJSON_IsObject(root))
        st = coco_json_fail(path, NULL, NULL,
                            "expected a JSON object with images, annotations "
                            "and categories");
    const cJSON *images = st ? NULL : list_member(path, root, "images", &st);
    const cJSON *anns = st ? NULL : list_member(path, root, "annotations", &st);
    const cJSON *cats = st ? NULL : list_member(path, root, "categories", &st);
    if (st == DLT_OK)
        st = read_images(gt, images);
    if (st == DLT_OK)
        st = read_categories(gt, cats);
    if (st == DLT_OK) {
        int64_t n = cJSON_GetArraySize(anns);
        gt->anns = calloc((size_t)(n ? n : 1), sizeof *gt->anns);
        if (!gt->anns)
            st = dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", path);
        const cJSON *a;
        cJSON_ArrayForEach(a, anns)
        {
            if (st != DLT_OK)
                break;
            st = read_annotation(gt, a, gt->nann, &gt->anns[gt->nann]);
            gt->nann++; /* counted also when it failed: its RLE is freed with the rest */
        }
    }
    if (st == DLT_OK) { /* COCOeval finds annotations by id: ids must be unique */
        int64_t *ids = malloc((size_t)(gt->nann ? gt->nann : 1) * sizeof *ids);
        if (!ids)
            st = dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", path);
        for (int64_t i = 0; ids && i < gt->nann; i++)
            ids[i] = gt->anns[i].id;
        if (ids)
            qsort(ids, (size_t)gt->nann, sizeof *ids, cmp_i64);
        for (int64_t i = 1; ids && i < gt->nann && st == DLT_OK; i++)
            if (ids[i] == ids[i - 1])
                st = coco_json_fail(path, NULL, "annotations", "annotation id %lld appears twice",
                                    (long long)ids[i]);
        free(ids);
    }
    cJSON_Delete(root);
    if (st != DLT_OK) {
        dlt_coco_gt_free(gt);
        return st;
    }
    *out = gt;
    return DLT_OK;
}
