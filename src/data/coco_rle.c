/* COCO run-length encoded masks (dlt_coco.h): encoding and decoding of
 * bitmaps, COCO's compressed counts strings, area, tight box, union and
 * intersection, polygon rasterisation and IoU, each defined as pycocotools
 * defines it (its maskApi), so that the numbers built on them agree.
 *
 * An RLE's runs alternate 0s and 1s over the pixels in column-major order
 * (pixel (y, x) is number x * h + y), starting with 0s. The encoder writes
 * canonical runs (only the first may be 0); runs read from JSON may hold
 * further zero-length runs, which every walk below steps over. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_coco_mask.h"

void dlt_coco_rle_free(dlt_coco_rle *r)
{
    if (!r)
        return;
    free(r->cnts);
    memset(r, 0, sizeof *r);
}

/* out gets h, w and an uninitialised count array of m entries. */
static dlt_status rle_alloc(int h, int w, int64_t m, dlt_coco_rle *out)
{
    out->h = h, out->w = w, out->m = m;
    out->cnts = malloc((size_t)(m > 0 ? m : 1) * sizeof *out->cnts);
    if (!out->cnts) {
        memset(out, 0, sizeof *out);
        return dlt_seterr(DLT_ERR_NOMEM, "COCO RLE: out of memory for %lld runs", (long long)m);
    }
    return DLT_OK;
}

dlt_status dlt_coco_rle_copy(const dlt_coco_rle *src, dlt_coco_rle *dst)
{
    dlt_status st = rle_alloc(src->h, src->w, src->m, dst);
    if (st == DLT_OK && src->m > 0)
        memcpy(dst->cnts, src->cnts, (size_t)src->m * sizeof *src->cnts);
    return st;
}

dlt_status dlt_coco_rle_encode(const uint8_t *mask, int h, int w, dlt_coco_rle *out)
{
    memset(out, 0, sizeof *out);
    if (h < 0 || w < 0)
        return dlt_seterr(DLT_ERR_INVALID, "COCO RLE: bad mask size %dx%d", h, w);
    /* at most one run per pixel plus the leading run of 0s */
    size_t npix = (size_t)h * (size_t)w;
    if (npix >= UINT32_MAX)
        return dlt_seterr(DLT_ERR_INVALID, "COCO RLE: a %dx%d mask has over 2^32 pixels", h, w);
    dlt_status st = rle_alloc(h, w, (int64_t)npix + 1, out);
    if (st != DLT_OK)
        return st;
    int64_t m = 0;
    uint32_t run = 0;
    int cur = 0;
    for (int x = 0; x < w; x++)
        for (int y = 0; y < h; y++) {
            int v = mask[(size_t)y * (size_t)w + (size_t)x] != 0;
            if (v != cur) {
                out->cnts[m++] = run;
                run = 0, cur = v;
            }
            run++;
        }
    out->cnts[m++] = run;
    out->m = m;
    return DLT_OK;
}

dlt_status dlt_coco_rle_check(const dlt_coco_rle *r)
{
    uint64_t sum = 0;
    for (int64_t i = 0; i < r->m; i++)
        sum += r->cnts[i];
    if (r->h < 0 || r->w < 0 || sum != (uint64_t)r->h * (uint64_t)r->w)
        return dlt_seterr(DLT_ERR_INVALID,
                          "COCO RLE: the runs cover %llu pixels, the %dx%d mask has %llu",
                          (unsigned long long)sum, r->h, r->w,
                          (unsigned long long)((uint64_t)r->h * (uint64_t)r->w));
    return DLT_OK;
}

dlt_status dlt_coco_rle_decode(const dlt_coco_rle *r, uint8_t *mask)
{
    dlt_status st = dlt_coco_rle_check(r);
    if (st != DLT_OK)
        return st;
    uint64_t pos = 0, H = (uint64_t)r->h, W = (uint64_t)r->w;
    for (int64_t i = 0; i < r->m; i++) {
        uint8_t v = (uint8_t)(i & 1);
        for (uint32_t k = 0; k < r->cnts[i]; k++, pos++)
            mask[(pos % H) * W + pos / H] = v; /* column-major position -> row-major */
    }
    return DLT_OK;
}

uint64_t dlt_coco_rle_area(const dlt_coco_rle *r)
{
    uint64_t a = 0;
    for (int64_t i = 1; i < r->m; i += 2)
        a += r->cnts[i];
    return a;
}

/* toBbox takes the runs in (0s, 1s) pairs, a trailing unpaired run of 0s
 * dropped: the first pixel after each run of 0s and the last pixel of each
 * run of 1s are the points the box covers; when a run of 1s ends in a later
 * column than it starts, the box spans every row. */
void dlt_coco_rle_bbox(const dlt_coco_rle *r, double bbox[4])
{
    int64_t m = r->m / 2 * 2;
    bbox[0] = bbox[1] = bbox[2] = bbox[3] = 0;
    if (m == 0 || r->h <= 0)
        return;
    uint64_t h = (uint64_t)r->h, pos = 0, xs = (uint64_t)r->w, ys = h, xe = 0, ye = 0, xstart = 0;
    for (int64_t j = 0; j < m; j++) {
        pos += r->cnts[j];
        uint64_t p = pos - (uint64_t)(j & 1); /* j odd: the run's last pixel */
        uint64_t y = p % h, x = p / h;
        if ((j & 1) == 0)
            xstart = x;
        else if (xstart < x)
            ys = 0, ye = h - 1;
        xs = x < xs ? x : xs, xe = x > xe ? x : xe;
        ys = y < ys ? y : ys, ye = y > ye ? y : ye;
    }
    bbox[0] = (double)xs, bbox[2] = (double)(xe - xs + 1);
    bbox[1] = (double)ys, bbox[3] = (double)(ye - ys + 1);
}

dlt_status dlt_coco_rle_to_string(const dlt_coco_rle *r, char **out)
{
    /* a count or difference needs at most 34 bits with its sign: 7 groups */
    char *s = malloc((size_t)r->m * 7 + 1);
    if (!s)
        return dlt_seterr(DLT_ERR_NOMEM, "COCO RLE: out of memory for a counts string");
    size_t p = 0;
    for (int64_t i = 0; i < r->m; i++) {
        int64_t x = r->cnts[i];
        if (i > 2) /* from the fourth count on, the difference to the count two before */
            x -= r->cnts[i - 2];
        for (;;) {
            int c = (int)(((x % 32) + 32) % 32); /* x's low 5 bits, also for x < 0 */
            x = (x - c) / 32;                    /* floor(x / 32): an arithmetic shift */
            /* done when what is left is the sign extension of bit 4 */
            int more = (c & 0x10) ? x != -1 : x != 0;
            s[p++] = (char)(48 + (more ? c | 0x20 : c));
            if (!more)
                break;
        }
    }
    s[p] = 0;
    *out = s;
    return DLT_OK;
}

dlt_status dlt_coco_rle_from_string(const char *s, int h, int w, dlt_coco_rle *out)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(s);
    dlt_status st = rle_alloc(h, w, (int64_t)len, out);
    if (st != DLT_OK)
        return st;
    int64_t m = 0;
    size_t p = 0;
    while (s[p]) {
        size_t start = p;
        int64_t x = 0;
        int k = 0, more = 1;
        while (more) {
            int c = (unsigned char)s[p] - 48;
            if (!s[p] || c < 0 || c > 63 || k > 7) {
                dlt_coco_rle_free(out);
                return dlt_seterr(DLT_ERR_INVALID, "COCO RLE counts string: %s at offset %zu",
                                  !s[p]   ? "ends inside a count"
                                  : k > 7 ? "a count longer than 8 characters"
                                          : "a character outside '0'..'o'",
                                  !s[p] ? start : p);
            }
            x += (int64_t)(c & 0x1f) << (5 * k);
            more = c & 0x20;
            p++, k++;
            if (!more && (c & 0x10)) /* negative: sign-extend bit 4 of the last group */
                x -= (int64_t)1 << (5 * k);
        }
        if (m > 2)
            x += out->cnts[m - 2];
        if (x < 0 || x > (int64_t)UINT32_MAX) {
            dlt_coco_rle_free(out);
            return dlt_seterr(DLT_ERR_INVALID,
                              "COCO RLE counts string: count %lld (at offset %zu) is outside "
                              "0..2^32-1",
                              (long long)x, start);
        }
        out->cnts[m++] = (uint32_t)x;
    }
    out->m = m;
    return DLT_OK;
}

/* ---------------------------------------------------------------- run walks */
/* A cursor over an RLE's runs: the state (0/1) and pixels left of the current
 * run; next() steps over exhausted (and zero-length) runs. */
typedef struct {
    const dlt_coco_rle *r;
    int64_t i;
    uint32_t left;
    int v;
} run_cursor;

static void cursor_init(run_cursor *c, const dlt_coco_rle *r)
{
    c->r = r, c->i = 0, c->v = 0;
    c->left = r->m > 0 ? r->cnts[0] : 0;
}

/* 0 when the cursor is past the last run */
static int cursor_ready(run_cursor *c)
{
    while (c->left == 0 && c->i + 1 < c->r->m)
        c->left = c->r->cnts[++c->i], c->v = !c->v;
    return c->left > 0;
}

static uint64_t run_sum(const dlt_coco_rle *r)
{
    uint64_t s = 0;
    for (int64_t i = 0; i < r->m; i++)
        s += r->cnts[i];
    return s;
}

/* Walks a and b (of equal total length) together: the pixels both cover
 * (*inter) and either covers (*uni); with out != NULL, also the canonical runs
 * of a | b (intersect = 0) or a & b (intersect = 1) into out (room for
 * a->m + b->m + 1 runs), their number in *mo. */
static void walk_pair(const dlt_coco_rle *a, const dlt_coco_rle *b, int intersect, uint64_t *inter,
                      uint64_t *uni, uint32_t *out, int64_t *mo)
{
    run_cursor ca, cb;
    cursor_init(&ca, a), cursor_init(&cb, b);
    uint64_t in = 0, un = 0;
    int64_t m = 0;
    uint32_t run = 0;
    int cur = 0;
    while (cursor_ready(&ca) && cursor_ready(&cb)) {
        uint32_t c = ca.left < cb.left ? ca.left : cb.left;
        if (ca.v || cb.v)
            un += c;
        if (ca.v && cb.v)
            in += c;
        if (out) {
            int v = intersect ? ca.v && cb.v : ca.v || cb.v;
            if (v != cur)
                out[m++] = run, run = 0, cur = v;
            run += c;
        }
        ca.left -= c, cb.left -= c;
    }
    if (out)
        out[m++] = run, *mo = m;
    if (inter)
        *inter = in;
    if (uni)
        *uni = un;
}

dlt_status dlt_coco_rle_merge(const dlt_coco_rle *rs, int n, int intersect, dlt_coco_rle *out)
{
    memset(out, 0, sizeof *out);
    if (n < 1)
        return dlt_seterr(DLT_ERR_INVALID, "COCO RLE merge: no masks");
    uint64_t total = run_sum(&rs[0]);
    for (int i = 1; i < n; i++)
        if (rs[i].h != rs[0].h || rs[i].w != rs[0].w || run_sum(&rs[i]) != total)
            return dlt_seterr(DLT_ERR_INVALID,
                              "COCO RLE merge: mask %d is %dx%d (%llu pixels in runs), mask 0 "
                              "%dx%d (%llu)",
                              i, rs[i].h, rs[i].w, (unsigned long long)run_sum(&rs[i]), rs[0].h,
                              rs[0].w, (unsigned long long)total);
    dlt_status st = dlt_coco_rle_copy(&rs[0], out);
    for (int i = 1; i < n && st == DLT_OK; i++) {
        dlt_coco_rle acc = *out, next;
        st = rle_alloc(acc.h, acc.w, acc.m + rs[i].m + 1, &next);
        if (st == DLT_OK) {
            walk_pair(&acc, &rs[i], intersect, NULL, NULL, next.cnts, &next.m);
            *out = next;
        }
        dlt_coco_rle_free(&acc);
    }
    return st;
}

dlt_status dlt_coco_rle_iou(const dlt_coco_rle *dt, int64_t m, const dlt_coco_rle *gt, int64_t n,
                            const uint8_t *iscrowd, double *o)
{
    for (int64_t d = 0; d < m; d++)
        for (int64_t g = 0; g < n; g++) {
            if (dt[d].h != gt[g].h || dt[d].w != gt[g].w)
                return dlt_seterr(DLT_ERR_INVALID,
                                  "COCO mask IoU: detection mask %lld is %dx%d, ground truth "
                                  "mask %lld %dx%d",
                                  (long long)d, dt[d].h, dt[d].w, (long long)g, gt[g].h, gt[g].w);
            uint64_t in, un;
            walk_pair(&dt[d], &gt[g], 0, &in, &un, NULL, NULL);
            /* a crowd region counts the detection's pixels inside it against
             * the detection's own area */
            if (in > 0 && iscrowd && iscrowd[g])
                un = dlt_coco_rle_area(&dt[d]);
            o[d * n + g] = in == 0 ? 0.0 : (double)in / (double)un;
        }
    return DLT_OK;
}

void dlt_coco_box_iou(const double *dt, int64_t m, const double *gt, int64_t n,
                      const uint8_t *iscrowd, double *o)
{
    for (int64_t d = 0; d < m; d++)
        for (int64_t g = 0; g < n; g++) {
            const double *D = dt + 4 * d, *G = gt + 4 * g;
            double *out = &o[d * n + g];
            *out = 0;
            double iw = fmin(D[2] + D[0], G[2] + G[0]) - fmax(D[0], G[0]);
            if (iw <= 0)
                continue;
            double ih = fmin(D[3] + D[1], G[3] + G[1]) - fmax(D[1], G[1]);
            if (ih <= 0)
                continue;
            double in = iw * ih, da = D[2] * D[3], ga = G[2] * G[3];
            *out = in / (iscrowd && iscrowd[g] ? da : da + ga - in);
        }
}
