/* dlprep coco: COCO instances JSON (parsed with cJSON) and its image folder
 * into detection shards.
 *
 * Categories keep COCO's ids as class ids (torchvision's convention: 91
 * classes for COCO 2017, 0 = background, ids without a category are named
 * "N/A"). Each image's annotations are taken in file order: boxes (COCO's
 * [x, y, w, h] -> x1, y1, x1 + w, y1 + h) are clamped to the image and
 * annotations with an empty box are left out (as torchvision's
 * ConvertCocoPolysToMask does); past max_boxes the rest are left out too and
 * counted in a note on the progress stream. Masks come from the
 * segmentation: polygons (OR-ed, rasterised as pycocotools), uncompressed or
 * compressed RLE (coco_mask.c); an annotation without one gets its box as its
 * mask. iscrowd is kept per box.
 *
 * Images larger than max_size on their longer side are downscaled to it
 * (bilinear for the image, nearest for the masks, boxes scaled per axis); the
 * canvas of the shards is the largest resulting image, each image at its
 * top-left, with its own size and its source size recorded. */
#include "convert_internal.h"
#include "det_internal.h"
#include "image_io.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const cJSON *json;
    int64_t id;
    int h, w;   /* COCO's height, width */
    int nh, nw; /* stored (after the max_size cap) */
    int nann;
    int *ann; /* indices into the annotations array, file order */
} image_rec;

typedef struct {
    const char *file;
    cJSON *root;
    const cJSON *anns;
    image_rec *im;
    int nim;
    int64_t *order; /* image indices sorted by id (for lookups) */
    char **names;
    int ncls;
} coco;

static dlt_status bad(const coco *c, const char *where, int i, const char *what)
{
    if (i >= 0)
        return dlt_seterr(DLT_ERR_INVALID, "%s: %s[%d]: %s", c->file, where, i, what);
    return dlt_seterr(DLT_ERR_INVALID, "%s: %s: %s", c->file, where, what);
}

/* A required integer field of element i of array `where`. */
static dlt_status get_int(const coco *c, const cJSON *o, const char *where, int i,
                          const char *field, int64_t lo, int64_t *out)
{
    char msg[160];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
    if (!v) {
        snprintf(msg, sizeof msg, "field '%s' is missing", field);
        return bad(c, where, i, msg);
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > 9.0e15) {
        snprintf(msg, sizeof msg, "field '%s' is not an integer >= %lld", field, (long long)lo);
        return bad(c, where, i, msg);
    }
    *out = (int64_t)v->valuedouble;
    return DLT_OK;
}

static dlt_status get_array(const coco *c, const cJSON *root, const char *field, const cJSON **out)
{
    *out = cJSON_GetObjectItemCaseSensitive(root, field);
    if (!*out)
        return bad(c, "top level", -1,
                   field[0] == 'i'   ? "field 'images' is missing"
                   : field[0] == 'a' ? "field 'annotations' is missing"
                                     : "field 'categories' is missing");
    if (!cJSON_IsArray(*out))
        return dlt_seterr(DLT_ERR_INVALID, "%s: top level: field '%s' is not an array", c->file,
                          field);
    return DLT_OK;
}

static dlt_status load_json(coco *c)
{
    FILE *f = fopen(c->file, "rb");
    if (!f)
        return dlt_seterr(DLT_ERR_NOTFOUND, "%s: cannot open", c->file);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 > cap) {
            char *b = realloc(buf, cap = 2 * cap + 65536);
            if (!b) {
                free(buf);
                fclose(f);
                return dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", c->file);
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return dlt_seterr(DLT_ERR_IO, "%s: read error", c->file);
    }
    const char *end = NULL;
    c->root = cJSON_ParseWithLengthOpts(buf, n, &end, 0);
    if (!c->root) {
        size_t at = end && end >= buf && end <= buf + n ? (size_t)(end - buf) : n;
        int line = 1;
        for (size_t i = 0; i < at; i++)
            line += buf[i] == '\n';
        free(buf);
        return dlt_seterr(DLT_ERR_INVALID, "%s: not valid JSON (line %d, byte %zu)", c->file, line,
                          at);
    }
    free(buf);
    if (!cJSON_IsObject(c->root))
        return dlt_seterr(DLT_ERR_INVALID, "%s: top level is not a JSON object", c->file);
    return DLT_OK;
}

static dlt_status read_categories(coco *c)
{
    const cJSON *cats, *e;
    dlt_status st = get_array(c, c->root, "categories", &cats);
    if (st)
        return st;
    int64_t maxid = 0, id;
    int i = 0;
    cJSON_ArrayForEach(e, cats)
    {
        if ((st = get_int(c, e, "categories", i++, "id", 1, &id)))
            return st;
        maxid = id > maxid ? id : maxid;
    }
    if (maxid == 0)
        return bad(c, "categories", -1, "no categories");
    if (maxid > 100000)
        return bad(c, "categories", -1, "category ids above 100000");
    c->ncls = (int)maxid + 1;
    if (!(c->names = calloc((size_t)c->ncls, sizeof *c->names)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    i = 0;
    cJSON_ArrayForEach(e, cats)
    {
        get_int(c, e, "categories", i, "id", 1, &id);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (!cJSON_IsString(nm))
            return bad(c, "categories", i, "field 'name' is missing or not a string");
        if (c->names[id])
            return bad(c, "categories", i, "duplicate category id");
        if (!(c->names[id] = strdup(nm->valuestring)))
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        i++;
    }
    for (int k = 0; k < c->ncls; k++)
        if (!c->names[k] && !(c->names[k] = strdup(k ? "N/A" : "background")))
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    return DLT_OK;
}

static int cmp_id(const void *a, const void *b, void *ctx)
{
    const coco *c = ctx;
    int64_t x = c->im[*(const int64_t *)a].id, y = c->im[*(const int64_t *)b].id;
    return (x > y) - (x < y);
}

static int find_image(const coco *c, int64_t id)
{
    int64_t lo = 0, hi = c->nim - 1;
    while (lo <= hi) {
        int64_t mid = (lo + hi) / 2, v = c->im[c->order[mid]].id;
        if (v == id)
            return (int)c->order[mid];
        if (v < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static dlt_status read_images(coco *c, int max_size)
{
    const cJSON *ims, *e;
    dlt_status st = get_array(c, c->root, "images", &ims);
    if (st)
        return st;
    c->nim = cJSON_GetArraySize(ims);
    if (c->nim == 0)
        return bad(c, "images", -1, "no images");
    c->im = calloc((size_t)c->nim, sizeof *c->im);
    c->order = malloc((size_t)c->nim * sizeof *c->order);
    if (!c->im || !c->order)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int i = 0;
    cJSON_ArrayForEach(e, ims)
    {
        image_rec *r = &c->im[i];
        int64_t h, w;
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(e, "file_name");
        if ((st = get_int(c, e, "images", i, "id", INT64_MIN / 2, &r->id)) ||
            (st = get_int(c, e, "images", i, "height", 1, &h)) ||
            (st = get_int(c, e, "images", i, "width", 1, &w)))
            return st;
        if (!cJSON_IsString(fn))
            return bad(c, "images", i, "field 'file_name' is missing or not a string");
        if (h > 65536 || w > 65536)
            return bad(c, "images", i, "height/width above 65536");
        r->json = e, r->h = (int)h, r->w = (int)w, r->nh = r->h, r->nw = r->w;
        int big = r->h > r->w ? r->h : r->w;
        if (big > max_size) {
            double s = (double)max_size / big;
            r->nh = (int)fmax(1, floor(r->h * s + 0.5));
            r->nw = (int)fmax(1, floor(r->w * s + 0.5));
        }
        c->order[i] = i;
        i++;
    }
    qsort_r(c->order, (size_t)c->nim, sizeof *c->order, cmp_id, c);
    for (i = 1; i < c->nim; i++)
        if (c->im[c->order[i]].id == c->im[c->order[i - 1]].id)
            return bad(c, "images", (int)c->order[i], "duplicate image id");
    return DLT_OK;
}

static dlt_status group_annotations(coco *c)
{
    const cJSON *e;
    dlt_status st = get_array(c, c->root, "annotations", &c->anns);
    if (st)
        return st;
    int n = cJSON_GetArraySize(c->anns), i = 0;
    int *which = malloc((size_t)(n ? n : 1) * sizeof *which);
    if (!which)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    cJSON_ArrayForEach(e, c->anns)
    {
        int64_t id, cat;
        if ((st = get_int(c, e, "annotations", i, "image_id", INT64_MIN / 2, &id)) ||
            (st = get_int(c, e, "annotations", i, "category_id", 1, &cat)))
            break;
        if ((which[i] = find_image(c, id)) < 0) {
            st = bad(c, "annotations", i, "field 'image_id' names no image of 'images'");
            break;
        }
        if (cat >= c->ncls || !strcmp(c->names[cat], "N/A")) {
            st = bad(c, "annotations", i,
                     "field 'category_id' names no category of "
                     "'categories'");
            break;
        }
        c->im[which[i]].nann++;
        i++;
    }
    for (int k = 0; !st && k < c->nim; k++)
        if (c->im[k].nann && !(c->im[k].ann = malloc((size_t)c->im[k].nann * sizeof(int))))
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int k = 0; !st && k < c->nim; k++)
        c->im[k].nann = 0;
    for (int a = 0; !st && a < n; a++)
        c->im[which[a]].ann[c->im[which[a]].nann++] = a;
    free(which);
    return st;
}

/* The annotation's mask at the source size h×w into m (zeroed here). */
static dlt_status decode_segmentation(const coco *c, const cJSON *a, int ai, int h, int w,
                                      const float *box, uint8_t *m)
{
    memset(m, 0, (size_t)h * w);
    const cJSON *seg = cJSON_GetObjectItemCaseSensitive(a, "segmentation"), *p;
    if (!seg || cJSON_IsNull(seg)) { /* no mask given: the box */
        for (int y = (int)floorf(box[1]); y < (int)ceilf(box[3]); y++)
            for (int x = (int)floorf(box[0]); x < (int)ceilf(box[2]); x++)
                m[(size_t)y * w + x] = 1;
        return DLT_OK;
    }
    if (cJSON_IsArray(seg)) {
        cJSON_ArrayForEach(p, seg)
        {
            int k = cJSON_GetArraySize(p), j = 0;
            if (!cJSON_IsArray(p) || k < 6 || k % 2)
                return bad(c, "annotations", ai,
                           "field 'segmentation' has a polygon that is "
                           "not a list of at least 3 x, y pairs");
            double *xy = malloc((size_t)k * sizeof *xy);
            if (!xy)
                return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
            const cJSON *v;
            cJSON_ArrayForEach(v, p)
            {
                if (!cJSON_IsNumber(v)) {
                    free(xy);
                    return bad(c, "annotations", ai,
                               "field 'segmentation' has a polygon "
                               "coordinate that is not a number");
                }
                xy[j++] = v->valuedouble;
            }
            dlt_status st = dlt_coco_poly_fill(xy, k / 2, h, w, m);
            free(xy);
            if (st)
                return st;
        }
        return DLT_OK;
    }
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(seg, "size");
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(seg, "counts");
    if (!cJSON_IsObject(seg) || !cJSON_IsArray(size) || cJSON_GetArraySize(size) != 2 || !counts)
        return bad(c, "annotations", ai,
                   "field 'segmentation' is neither a list of polygons "
                   "nor an RLE object {\"size\": [h, w], \"counts\": ...}");
    const cJSON *sh = cJSON_GetArrayItem(size, 0), *sw = cJSON_GetArrayItem(size, 1);
    if (!cJSON_IsNumber(sh) || !cJSON_IsNumber(sw) || sh->valuedouble != h ||
        sw->valuedouble != w) {
        char msg[160];
        snprintf(msg, sizeof msg, "field 'segmentation.size' is not the image's [%d, %d]", h, w);
        return bad(c, "annotations", ai, msg);
    }
    uint32_t *cnt = NULL;
    int64_t n = 0;
    dlt_status st;
    if (cJSON_IsString(counts)) {
        if ((st = dlt_coco_rle_decode_string(counts->valuestring, &cnt, &n)))
            return dlt_adderr(st, "%s: annotations[%d]: field 'segmentation.counts'", c->file, ai);
    } else if (cJSON_IsArray(counts)) {
        n = cJSON_GetArraySize(counts);
        if (!(cnt = malloc((size_t)(n ? n : 1) * sizeof *cnt)))
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        int j = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, counts)
        {
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 4.0e9 ||
                v->valuedouble != floor(v->valuedouble)) {
                free(cnt);
                return bad(c, "annotations", ai,
                           "field 'segmentation.counts' has an entry "
                           "that is not a count >= 0");
            }
            cnt[j++] = (uint32_t)v->valuedouble;
        }
    } else {
        return bad(c, "annotations", ai,
                   "field 'segmentation.counts' is neither a list nor "
                   "a string");
    }
    st = dlt_coco_rle_fill(cnt, n, h, w, m);
    free(cnt);
    return st ? dlt_adderr(st, "%s: annotations[%d]: field 'segmentation'", c->file, ai) : DLT_OK;
}

typedef struct {
    int H, W, M;
    uint8_t *canvas, *masks, *src_mask;
    float *boxes;
    int32_t *cls;
    uint8_t *crowd;
    int64_t truncated, dropped;
} work;

/* The box of annotation a, clamped to the image; 0 if empty. */
static dlt_status read_box(const coco *c, const cJSON *a, int ai, int h, int w, float b[4], int *ok)
{
    const cJSON *bb = cJSON_GetObjectItemCaseSensitive(a, "bbox");
    double v[4];
    *ok = 0;
    if (!cJSON_IsArray(bb) || cJSON_GetArraySize(bb) != 4)
        return bad(c, "annotations", ai, "field 'bbox' is missing or not [x, y, w, h]");
    for (int k = 0; k < 4; k++) {
        const cJSON *x = cJSON_GetArrayItem(bb, k);
        if (!cJSON_IsNumber(x))
            return bad(c, "annotations", ai, "field 'bbox' has an entry that is not a number");
        v[k] = x->valuedouble;
    }
    b[0] = (float)fmin(fmax(v[0], 0), w), b[1] = (float)fmin(fmax(v[1], 0), h);
    b[2] = (float)fmin(fmax(v[0] + v[2], 0), w), b[3] = (float)fmin(fmax(v[1] + v[3], 0), h);
    *ok = b[2] > b[0] && b[3] > b[1];
    return DLT_OK;
}

static dlt_status convert_image(const coco *c, const char *dir, int i, work *wk, dlt_det_sink *sink)
{
    const image_rec *r = &c->im[i];
    const char *fn = cJSON_GetObjectItemCaseSensitive(r->json, "file_name")->valuestring;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, fn);
    dlt_image im;
    dlt_status st = dlt_image_load(path, 3, &im);
    if (st)
        return dlt_adderr(st, "%s: images[%d]", c->file, i);
    if (im.h != r->h || im.w != r->w) {
        st = dlt_seterr(DLT_ERR_SHAPE,
                        "%s: is %dx%d, but %s: images[%d] says height %d, width "
                        "%d",
                        path, im.h, im.w, c->file, i, r->h, r->w);
        dlt_image_free(&im);
        return st;
    }
    int H = wk->H, W = wk->W, nh = r->nh, nw = r->nw, scaled = nh != r->h || nw != r->w;
    memset(wk->canvas, 0, (size_t)H * W * 3);
    if (!scaled) {
        for (int y = 0; y < nh; y++)
            memcpy(wk->canvas + (size_t)y * W * 3, im.px + (size_t)y * nw * 3, (size_t)nw * 3);
    } else {
        uint8_t *tmp = malloc((size_t)nh * nw * 3);
        if (!tmp) {
            dlt_image_free(&im);
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        }
        dlt_image_resize_bilinear(im.px, r->h, r->w, 3, tmp, nh, nw);
        for (int y = 0; y < nh; y++)
            memcpy(wk->canvas + (size_t)y * W * 3, tmp + (size_t)y * nw * 3, (size_t)nw * 3);
        free(tmp);
    }
    dlt_image_free(&im);
    float sy = (float)nh / (float)r->h, sx = (float)nw / (float)r->w;
    int n = 0;
    for (int k = 0; k < r->nann && !st; k++) {
        int ai = r->ann[k], ok = 0;
        const cJSON *a = cJSON_GetArrayItem(c->anns, ai);
        float b[4] = {0, 0, 0, 0};
        int64_t cat, crowd = 0;
        if ((st = read_box(c, a, ai, r->h, r->w, b, &ok)))
            break;
        get_int(c, a, "annotations", ai, "category_id", 1, &cat);
        if (cJSON_GetObjectItemCaseSensitive(a, "iscrowd") &&
            (st = get_int(c, a, "annotations", ai, "iscrowd", 0, &crowd)))
            break;
        if (crowd > 1) {
            st = bad(c, "annotations", ai, "field 'iscrowd' is not 0 or 1");
            break;
        }
        if (!ok) {
            wk->dropped++;
            continue;
        }
        if (n == wk->M) {
            wk->truncated++;
            break;
        }
        if ((st = decode_segmentation(c, a, ai, r->h, r->w, b, wk->src_mask)))
            break;
        uint8_t *m = wk->masks + (size_t)n * H * W;
        memset(m, 0, (size_t)H * W);
        for (int y = 0; y < nh; y++) { /* nearest, as the loader resizes masks */
            int ys = scaled ? (int)fminf(floorf((float)y / sy), (float)(r->h - 1)) : y;
            for (int x = 0; x < nw; x++) {
                int xs = scaled ? (int)fminf(floorf((float)x / sx), (float)(r->w - 1)) : x;
                m[(size_t)y * W + x] = wk->src_mask[(size_t)ys * r->w + xs];
            }
        }
        wk->boxes[4 * n] = b[0] * sx, wk->boxes[4 * n + 1] = b[1] * sy;
        wk->boxes[4 * n + 2] = b[2] * sx, wk->boxes[4 * n + 3] = b[3] * sy;
        wk->cls[n] = (int32_t)cat;
        wk->crowd[n] = (uint8_t)crowd;
        n++;
    }
    if (st)
        return st;
    dlt_det_sample x = {wk->canvas, nh,        nw,      r->h,      r->w,     r->id,
                        n,          wk->boxes, wk->cls, wk->crowd, wk->masks};
    return dlt_det_sink_add(sink, &x);
}

static void coco_free(coco *c)
{
    for (int i = 0; c->im && i < c->nim; i++)
        free(c->im[i].ann);
    free(c->im);
    free(c->order);
    for (int k = 0; c->names && k < c->ncls; k++)
        free(c->names[k]);
    free(c->names);
    cJSON_Delete(c->root);
}

dlt_status dlt_convert_coco(const char *images_dir, const char *annotations, int max_size,
                            int max_boxes, const dlt_convert_opts *o)
{
    if (o->val_fraction > 0)
        return dlt_seterr(DLT_ERR_INVALID,
                          "coco: --val-fraction is not supported (COCO files "
                          "are split already: convert each with its own --prefix)");
    coco c;
    memset(&c, 0, sizeof c);
    c.file = annotations;
    max_size = max_size > 0 ? max_size : 1333;
    work wk;
    memset(&wk, 0, sizeof wk);
    wk.M = max_boxes > 0 ? max_boxes : 100;
    dlt_status st = load_json(&c);
    if (!st)
        st = read_categories(&c);
    if (!st)
        st = read_images(&c, max_size);
    if (!st)
        st = group_annotations(&c);
    int srcmax = 0;
    for (int i = 0; !st && i < c.nim; i++) {
        wk.H = c.im[i].nh > wk.H ? c.im[i].nh : wk.H;
        wk.W = c.im[i].nw > wk.W ? c.im[i].nw : wk.W;
        srcmax = c.im[i].h * c.im[i].w > srcmax ? c.im[i].h * c.im[i].w : srcmax;
    }
    size_t px = (size_t)wk.H * wk.W;
    if (!st &&
        (!(wk.canvas = malloc(px * 3)) || !(wk.masks = malloc(px * (size_t)wk.M)) ||
         !(wk.src_mask = malloc((size_t)srcmax)) ||
         !(wk.boxes = malloc((size_t)wk.M * 4 * sizeof(float))) ||
         !(wk.cls = malloc((size_t)wk.M * sizeof(int32_t))) || !(wk.crowd = malloc((size_t)wk.M))))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory for a %dx%d canvas with %d masks", wk.H, wk.W,
                        wk.M);
    dlt_det_sink sink;
    int open = 0;
    if (!st) {
        char source[4200];
        snprintf(source, sizeof source, "coco %s (images %s, max_size %d)", annotations, images_dir,
                 max_size);
        dlt_shard_spec spec = {0};
        spec.kind = DLT_KIND_DETECTION;
        spec.h = spec.mask_h = wk.H, spec.w = spec.mask_w = wk.W, spec.c = 3;
        spec.num_classes = c.ncls, spec.class_names = (const char *const *)c.names;
        spec.max_boxes = wk.M, spec.source = source, spec.deflate = o->deflate;
        spec.chunk_samples = 1;
        st = dlt_det_sink_open(&sink, o, o->prefix ? o->prefix : "train", &spec, c.nim);
        open = !st;
    }
    if (!st) {
        dlt_progress pr;
        dlt_progress_start(&pr, o->progress, "coco", c.nim);
        for (int i = 0; !st && i < c.nim; i++) {
            st = convert_image(&c, images_dir, i, &wk, &sink);
            dlt_progress_add(&pr, 1);
        }
        dlt_progress_end(&pr);
    }
    if (open && !st)
        st = dlt_det_sink_close(&sink);
    else if (open)
        dlt_det_sink_abort(&sink);
    if (!st && o->progress && wk.truncated)
        fprintf(o->progress, "coco: %lld images had more than %d objects: the first %d kept\n",
                (long long)wk.truncated, wk.M, wk.M);
    if (!st && o->progress && wk.dropped)
        fprintf(o->progress, "coco: %lld annotations with an empty box left out\n",
                (long long)wk.dropped);
    free(wk.canvas), free(wk.masks), free(wk.src_mask), free(wk.boxes), free(wk.cls);
    free(wk.crowd);
    coco_free(&c);
    return st;
}
