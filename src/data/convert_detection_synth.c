/* dlprep detection-synth: a deterministic detection and instance-segmentation
 * data set made of Fashion-MNIST items pasted on larger canvases, with exact
 * boxes and masks, written as detection shards and as COCO ground truth JSON.
 *
 * Image j of a split depends only on (seed, split, j): its own random stream
 * (dlt_data_hash) draws a background colour with mild noise, then 1-6 items.
 * Each item is a random Fashion-MNIST image of the split's source set (train
 * for train-*, t10k for val-*), resized bilinearly to a random square size and
 * put at a random position, tinted with a random colour. Its mask is the
 * resized pixels above MASK_THRESHOLD; it is painted over what is there, so
 * later items occlude earlier ones and the earlier masks lose the covered
 * pixels. An item is tried again (up to 50 times, then given up) when it would
 * hide more than 40% of an earlier item's pixels or overlap an earlier box
 * with IoU above 0.5: overlap is allowed but limited. Boxes are the tight
 * boxes of the final (visible) masks, (x1, y1, x2, y2) with x2, y2 one past
 * the last pixel, so COCO's bbox [x1, y1, x2 - x1, y2 - y1] and its area (the
 * mask's pixel count) follow exactly. Classes are the Fashion-MNIST class + 1
 * (0 = background, as torchvision numbers them). */
#include "convert_internal.h"
#include "det_internal.h"
#include "image_io.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_ITEMS = 6, MASK_THRESHOLD = 40, ITEM_TRIES = 50 };

typedef struct {
    uint8_t *img; /* [n, 28, 28] */
    uint8_t *lab;
    int64_t n, cap;
    int h, w;
} pool;

static dlt_status keep(void *user, const dlt_idx_shape *shape, int64_t i, const uint8_t *hwc,
                       int label)
{
    pool *p = user;
    (void)i;
    if (shape->c != 1)
        return dlt_seterr(DLT_ERR_SHAPE, "expected grayscale IDX images, got %d channels",
                          shape->c);
    p->h = shape->h, p->w = shape->w;
    size_t sz = (size_t)p->h * (size_t)p->w;
    if (p->n == p->cap) {
        int64_t cap = p->cap ? 2 * p->cap : 4096;
        uint8_t *m = realloc(p->img, (size_t)cap * sz),
                *l = m ? realloc(p->lab, (size_t)cap) : NULL;
        if (m)
            p->img = m;
        if (!m || !l)
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        p->lab = l, p->cap = cap;
    }
    memcpy(p->img + (size_t)p->n * sz, hwc, sz);
    p->lab[p->n++] = (uint8_t)label;
    return DLT_OK;
}

typedef struct {
    uint64_t s, k;
} rng;

static uint64_t next(rng *r)
{
    return dlt_data_hash(r->s, r->k++);
}
static int below(rng *r, int n)
{
    return (int)(((next(r) >> 11) * (uint64_t)n) >> 53);
}

typedef struct {
    int canvas;
    uint8_t *img;   /* [S, S, 3] */
    uint8_t *masks; /* [MAX_ITEMS, S, S] visible masks */
    uint8_t *item;  /* scratch: the resized item [S*S] */
    int n;
    int32_t cls[MAX_ITEMS];
    float boxes[MAX_ITEMS * 4];
} scene;

static float box_iou(const float *a, const float *b)
{
    float iw = fminf(a[2], b[2]) - fmaxf(a[0], b[0]), ih = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (iw <= 0 || ih <= 0)
        return 0;
    float in = iw * ih;
    return in / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - in);
}

/* Tries to add one item; returns 1 if placed. */
static int place(scene *sc, const pool *p, rng *r)
{
    int S = sc->canvas, lo = S * 5 / 32 > 8 ? S * 5 / 32 : 8, hi = S * 7 / 16;
    if (hi < lo)
        hi = lo;
    if (lo > S)
        lo = hi = S;
    int64_t src = (int64_t)(((next(r) >> 11) * (uint64_t)p->n) >> 53);
    int sz = lo + below(r, hi - lo + 1);
    int y0 = below(r, S - sz + 1), x0 = below(r, S - sz + 1);
    uint8_t col[3];
    for (int k = 0; k < 3; k++)
        col[k] = (uint8_t)(96 + below(r, 160));
    dlt_image_resize_bilinear(p->img + (size_t)src * p->h * p->w, p->h, p->w, 1, sc->item, sz, sz);
    /* the new mask on the canvas, and its box */
    uint8_t *nm = sc->masks + (size_t)sc->n * S * S;
    memset(nm, 0, (size_t)S * S);
    for (int y = 0; y < sz; y++)
        for (int x = 0; x < sz; x++)
            nm[(size_t)(y0 + y) * S + x0 + x] = sc->item[y * sz + x] > MASK_THRESHOLD;
    float nb[4];
    if (dlt_det_mask_area(nm, S, S) < 16 || !dlt_det_mask_box(nm, S, S, nb))
        return 0;
    for (int e = 0; e < sc->n; e++) {
        const uint8_t *em = sc->masks + (size_t)e * S * S;
        int64_t vis = 0, hidden = 0;
        for (size_t i = 0; i < (size_t)S * S; i++)
            vis += em[i], hidden += em[i] & nm[i];
        if (hidden * 10 > vis * 4 || box_iou(nb, sc->boxes + 4 * e) > 0.5f)
            return 0;
    }
    for (int e = 0; e < sc->n; e++) { /* occlusion: earlier masks lose what is covered */
        uint8_t *em = sc->masks + (size_t)e * S * S;
        for (size_t i = 0; i < (size_t)S * S; i++)
            em[i] &= (uint8_t)!nm[i];
        dlt_det_mask_box(em, S, S, sc->boxes + 4 * e);
    }
    for (int y = 0; y < sz; y++)
        for (int x = 0; x < sz; x++) {
            int v = sc->item[y * sz + x];
            if (v <= MASK_THRESHOLD)
                continue;
            uint8_t *px = sc->img + ((size_t)(y0 + y) * S + x0 + x) * 3;
            for (int k = 0; k < 3; k++)
                px[k] = (uint8_t)((col[k] * v + px[k] * (255 - v) + 127) / 255);
        }
    memcpy(sc->boxes + 4 * sc->n, nb, sizeof nb);
    sc->cls[sc->n++] = p->lab[src] + 1;
    return 1;
}

static void make_scene(scene *sc, const pool *p, uint64_t seed, int split, int64_t j)
{
    int S = sc->canvas;
    rng r = {dlt_data_hash(dlt_data_hash(seed, 0x64657473ull + (uint64_t)split), (uint64_t)j), 0};
    int bg[3];
    for (int k = 0; k < 3; k++)
        bg[k] = below(&r, 64);
    for (size_t i = 0; i < (size_t)S * S; i++)
        for (int k = 0; k < 3; k++)
            sc->img[i * 3 + k] = (uint8_t)(bg[k] + below(&r, 16));
    sc->n = 0;
    int want = 1 + below(&r, MAX_ITEMS);
    for (int t = 0; t < ITEM_TRIES && sc->n < want; t++)
        place(sc, p, &r);
}

/* ---------------------------------------------------------- COCO JSON */

static cJSON *rle_json(const uint8_t *m, int S, uint32_t *counts)
{
    int64_t n = dlt_det_mask_rle(m, S, S, counts);
    cJSON *seg = cJSON_CreateObject(), *size = cJSON_CreateArray(), *cnt = cJSON_CreateArray();
    cJSON_AddItemToArray(size, cJSON_CreateNumber(S));
    cJSON_AddItemToArray(size, cJSON_CreateNumber(S));
    for (int64_t i = 0; i < n; i++)
        cJSON_AddItemToArray(cnt, cJSON_CreateNumber(counts[i]));
    cJSON_AddItemToObject(seg, "size", size);
    cJSON_AddItemToObject(seg, "counts", cnt);
    return seg;
}

static void add_annotations(cJSON *anns, const scene *sc, int64_t image_id, int64_t *ann_id,
                            uint32_t *counts)
{
    int S = sc->canvas;
    for (int i = 0; i < sc->n; i++) {
        const float *b = sc->boxes + 4 * i;
        const uint8_t *m = sc->masks + (size_t)i * S * S;
        cJSON *a = cJSON_CreateObject(), *bb = cJSON_CreateArray();
        cJSON_AddNumberToObject(a, "id", (double)++*ann_id);
        cJSON_AddNumberToObject(a, "image_id", (double)image_id);
        cJSON_AddNumberToObject(a, "category_id", sc->cls[i]);
        cJSON_AddItemToArray(bb, cJSON_CreateNumber(b[0]));
        cJSON_AddItemToArray(bb, cJSON_CreateNumber(b[1]));
        cJSON_AddItemToArray(bb, cJSON_CreateNumber(b[2] - b[0]));
        cJSON_AddItemToArray(bb, cJSON_CreateNumber(b[3] - b[1]));
        cJSON_AddItemToObject(a, "bbox", bb);
        cJSON_AddNumberToObject(a, "area", (double)dlt_det_mask_area(m, S, S));
        cJSON_AddNumberToObject(a, "iscrowd", 0);
        cJSON_AddItemToObject(a, "segmentation", rle_json(m, S, counts));
        cJSON_AddItemToArray(anns, a);
    }
}

static cJSON *coco_root(const char *split, cJSON **images, cJSON **anns)
{
    cJSON *root = cJSON_CreateObject(), *info = cJSON_CreateObject(), *cats = cJSON_CreateArray();
    cJSON_AddStringToObject(info, "description", "dltrain detection-synth (Fashion-MNIST items)");
    cJSON_AddStringToObject(info, "split", split);
    cJSON_AddItemToObject(root, "info", info);
    *images = cJSON_AddArrayToObject(root, "images");
    *anns = cJSON_AddArrayToObject(root, "annotations");
    for (int k = 0; k < 10; k++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "id", k + 1);
        cJSON_AddStringToObject(c, "name", dlt_fmnist_class_names[k]);
        cJSON_AddStringToObject(c, "supercategory", "fashion");
        cJSON_AddItemToArray(cats, c);
    }
    cJSON_AddItemToObject(root, "categories", cats);
    return root;
}

static dlt_status write_json(cJSON *root, const char *path)
{
    char *txt = cJSON_PrintUnformatted(root);
    if (!txt)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory printing %s", path);
    FILE *f = fopen(path, "wb");
    size_t n = strlen(txt);
    int ok = f && fwrite(txt, 1, n, f) == n && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0)
        ok = 0;
    cJSON_free(txt);
    return ok ? DLT_OK : dlt_seterr(DLT_ERR_IO, "%s: cannot write", path);
}

/* ------------------------------------------------------------- splits */

static dlt_status gen_split(const pool *p, int split, const char *name, int64_t num, int canvas,
                            const dlt_convert_opts *o, dlt_progress *pr)
{
    const char *names[11] = {"background"};
    for (int k = 0; k < 10; k++)
        names[k + 1] = dlt_fmnist_class_names[k];
    char source[128];
    snprintf(source, sizeof source, "detection-synth %s: Fashion-MNIST items on %dx%d, seed %llu",
             name, canvas, canvas, (unsigned long long)o->seed);
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_DETECTION;
    spec.h = spec.w = spec.mask_h = spec.mask_w = canvas, spec.c = 3;
    spec.num_classes = 11, spec.class_names = names, spec.max_boxes = MAX_ITEMS;
    spec.source = source, spec.deflate = o->deflate;
    size_t px = (size_t)canvas * canvas;
    scene sc = {canvas, malloc(px * 3), malloc(px * MAX_ITEMS), malloc(px), 0, {0}, {0}};
    uint32_t *counts = malloc((px + 1) * sizeof *counts);
    cJSON *images, *anns, *root = coco_root(name, &images, &anns);
    dlt_det_sink sink;
    dlt_status st = !sc.img || !sc.masks || !sc.item || !counts || !root
                        ? dlt_seterr(DLT_ERR_NOMEM, "out of memory")
                        : dlt_det_sink_open(&sink, o, name, &spec, num);
    int64_t ann_id = 0;
    for (int64_t j = 0; j < num && !st; j++) {
        make_scene(&sc, p, o->seed, split, j);
        dlt_det_sample x = {sc.img, 0, 0, 0, 0, j + 1, sc.n, sc.boxes, sc.cls, NULL, sc.masks};
        char file[300], fn[340];
        int64_t row;
        dlt_det_sink_name(&sink, j, file, sizeof file, &row);
        snprintf(fn, sizeof fn, "%s#%lld", file, (long long)row);
        cJSON *im = cJSON_CreateObject();
        cJSON_AddNumberToObject(im, "id", (double)(j + 1));
        cJSON_AddStringToObject(im, "file_name", fn);
        cJSON_AddNumberToObject(im, "width", canvas);
        cJSON_AddNumberToObject(im, "height", canvas);
        cJSON_AddItemToArray(images, im);
        add_annotations(anns, &sc, j + 1, &ann_id, counts);
        st = dlt_det_sink_add(&sink, &x);
        dlt_progress_add(pr, 1);
    }
    if (!st)
        st = dlt_det_sink_close(&sink);
    else if (sc.img && sc.masks && sc.item && counts && root)
        dlt_det_sink_abort(&sink);
    if (!st) {
        char path[4400];
        snprintf(path, sizeof path, "%s/instances_%s.json", o->out_dir ? o->out_dir : ".", name);
        st = write_json(root, path);
    }
    cJSON_Delete(root);
    free(sc.img), free(sc.masks), free(sc.item), free(counts);
    return st;
}

dlt_status dlt_convert_detection_synth(const char *src_dir, int64_t num, int canvas,
                                       const dlt_convert_opts *o)
{
    if (num < 1 || canvas < 32 || canvas > 4096)
        return dlt_seterr(DLT_ERR_INVALID,
                          "detection-synth: --n %lld must be >= 1 and --canvas "
                          "%d in 32..4096",
                          (long long)num, canvas);
    double vf = o->val_fraction > 0 ? o->val_fraction : 0.1;
    if (vf >= 1)
        return dlt_seterr(DLT_ERR_INVALID, "detection-synth: --val-fraction %g must be below 1",
                          vf);
    int64_t nval = (int64_t)llround((double)num * vf), ntrain = num - nval;
    static const char *const split[2] = {"train", "val"}, *const stem[2] = {"train", "t10k"};
    int64_t count[2] = {ntrain, nval};
    dlt_progress pr;
    dlt_progress_start(&pr, o->progress, "detection-synth", num);
    dlt_status st = DLT_OK;
    for (int s = 0; s < 2 && !st; s++) {
        if (count[s] == 0)
            continue;
        char im[4096], lb[4096];
        snprintf(im, sizeof im, "%s/%s-images-idx3-ubyte.gz", src_dir, stem[s]);
        snprintf(lb, sizeof lb, "%s/%s-labels-idx1-ubyte.gz", src_dir, stem[s]);
        pool p;
        memset(&p, 0, sizeof p);
        st = dlt_idx_scan(im, lb, keep, &p);
        for (int64_t i = 0; !st && i < p.n; i++)
            if (p.lab[i] > 9)
                st = dlt_seterr(DLT_ERR_INVALID,
                                "%s: label %d of image %lld is not a "
                                "Fashion-MNIST class 0..9",
                                lb, p.lab[i], (long long)i);
        if (!st && p.n == 0)
            st = dlt_seterr(DLT_ERR_INVALID, "%s: no images", im);
        if (!st)
            st = gen_split(&p, s, split[s], count[s], canvas, o, &pr);
        free(p.img);
        free(p.lab);
    }
    dlt_progress_end(&pr);
    return st;
}
