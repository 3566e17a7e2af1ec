/* COCO average precision and recall (dlt_coco_evaluate, dlt_coco.h) as
 * pycocotools' COCOeval computes them with its default parameters:
 *
 * evaluate: per image and category, the detections sorted by score (stable,
 *   highest first) and cut to 100, their IoU with every ground truth (box or
 *   mask; against a crowd region: intersection / detection area); per area
 *   range, ground truth that is crowd or outside the range is "ignored" and
 *   sorted last, and at each IoU threshold t every detection in turn takes the
 *   unmatched (or crowd) ground truth of highest IoU >= min(t, 1 - 1e-10),
 *   preferring regular ground truth: once it holds a regular match it stops at
 *   the first ignored one. A detection matched to ignored ground truth is
 *   ignored, and so is an unmatched one whose area is outside the range.
 * accumulate: per category, area range and maxDets (1, 10, 100), the first
 *   maxDets detections of every image merged by score (stable: image order,
 *   then rank); along them the counts of true positives (matched, not ignored)
 *   and false positives (unmatched, not ignored) give recall tp / npig (npig:
 *   the regular ground truth) and precision tp / (tp + fp + eps); precision is
 *   made non-increasing from the right and read at the recall points 0:.01:1
 *   (the first detection reaching each; 0 past the last recall). Recall is the
 *   last recall value. Categories without regular ground truth in a range keep
 *   -1 there.
 * summarize: each number is the mean of the entries that are not -1.
 *
 * The stored match is the ground truth's id and "unmatched" is id 0, as in
 * COCOeval (so a ground truth with id 0 counts as unmatched, as there).
 * Threshold values are computed as numpy.linspace does (start + i * step, the
 * last one exact), so comparisons with them agree too. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coco_gt.h"

enum { NT = 10, NR = 101, NA = 4, NM = 3, MAXDET = 100 };
static const int max_dets[NM] = {1, 10, 100};
static const double area_rng[NA][2] = {
    {0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}}; /* 1e5 ** 2 = 1e10 */

/* numpy.linspace(lo, hi, n) */
static void linspace(double lo, double hi, int n, double *out)
{
    double step = (hi - lo) / (n - 1);
    for (int i = 0; i < n; i++)
        out[i] = (double)i * step + lo;
    out[n - 1] = hi;
}

/* One (image, category) cell: ground truth (indices into gt->anns, file order)
 * and detections (indices into dets, by score, at most MAXDET) with their
 * IoUs [nd][ng]. */
typedef struct {
    const int64_t *g;
    int64_t ng, *d, nd, nd_all;
    double *iou;
} cell;

/* evaluateImg's output for one cell and area range */
typedef struct {
    int valid; /* COCOeval's evalImg is None when the cell has neither */
    int64_t nd, npig;
    int64_t *dtm;  /* [NT][nd]: matched ground truth id, 0 = none */
    uint8_t *dtig; /* [NT][nd] */
} cell_eval;

typedef struct {
    double score;
    int64_t img, rank; /* cell (by image) and position in it; sorting a cell's
                          detections: img is the detection's index */
} merged_det;

static int by_merged_score(const void *a, const void *b) /* stable mergesort order */
{
    const merged_det *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->img != y->img)
        return x->img < y->img ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static double det_area(const dlt_coco_det *d)
{
    return d->has_area ? d->area : d->bbox[2] * d->bbox[3];
}

/* The IoU matrix of a cell (computeIoU). */
static dlt_status cell_iou(const dlt_coco_gt *gt, const dlt_coco_det *dets,
                           const dlt_coco_rle *masks, dlt_coco_iou_type type, cell *c)
{
    if (c->nd == 0 || c->ng == 0)
        return DLT_OK;
    c->iou = malloc((size_t)(c->nd * c->ng) * sizeof *c->iou);
    uint8_t *crowd = malloc((size_t)c->ng);
    double *db = malloc((size_t)c->nd * 4 * sizeof *db),
           *gb = malloc((size_t)c->ng * 4 * sizeof *gb);
    dlt_coco_rle *dr = malloc((size_t)c->nd * sizeof *dr), *gr = malloc((size_t)c->ng * sizeof *gr);
    dlt_status st = DLT_OK;
    if (!c->iou || !crowd || !db || !gb || !dr || !gr) {
        st = dlt_seterr(DLT_ERR_NOMEM, "COCO evaluation: out of memory");
        goto done;
    }
    for (int64_t j = 0; j < c->ng; j++) {
        const coco_ann *a = &gt->anns[c->g[j]];
        crowd[j] = (uint8_t)a->iscrowd;
        memcpy(gb + 4 * j, a->bbox, sizeof a->bbox);
        if (type == DLT_COCO_SEGM && !a->has_segm) {
            st = dlt_seterr(DLT_ERR_INVALID,
                            "%s: annotation %lld (image %lld) has no segmentation to evaluate "
                            "masks with",
                            gt->path, (long long)a->id, (long long)a->image_id);
            goto done;
        }
        gr[j] = a->rle;
    }
    for (int64_t i = 0; i < c->nd; i++) {
        memcpy(db + 4 * i, dets[c->d[i]].bbox, 4 * sizeof(double));
        dr[i] = masks[c->d[i]];
    }
    if (type == DLT_COCO_BBOX)
        dlt_coco_box_iou(db, c->nd, gb, c->ng, crowd, c->iou);
    else
        st = dlt_coco_rle_iou(dr, c->nd, gr, c->ng, crowd, c->iou);
done:
    free(crowd), free(db), free(gb), free(dr), free(gr);
    return st;
}

/* evaluateImg for one cell and area range; e's arrays have room for NT * nd. */
static void cell_evaluate(const dlt_coco_gt *gt, const dlt_coco_det *dets, const cell *c, int a,
                          const double *thr, int64_t *perm, uint8_t *gig, int64_t *gtm,
                          cell_eval *e)
{
    double lo = area_rng[a][0], hi = area_rng[a][1];
    int64_t ng = c->ng, nd = c->nd;
    e->valid = ng > 0 || c->nd_all > 0;
    e->nd = nd, e->npig = 0;
    /* ground truth: regular first, ignored last, each in file order */
    int64_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int64_t j = 0; j < ng; j++) {
            const coco_ann *an = &gt->anns[c->g[j]];
            int ig = an->iscrowd || an->area < lo || an->area > hi;
            if (ig == pass)
                perm[k] = j, gig[k++] = (uint8_t)ig;
        }
    for (int64_t j = 0; j < ng; j++)
        e->npig += !gig[j];
    for (int t = 0; t < NT; t++) {
        int64_t *dtm = e->dtm + t * nd;
        uint8_t *dtig = e->dtig + t * nd;
        memset(gtm, 0, (size_t)ng * sizeof *gtm);
        for (int64_t i = 0; i < nd; i++) {
            dtm[i] = 0, dtig[i] = 0;
            double best = fmin(thr[t], 1 - 1e-10);
            int64_t m = -1;
            for (int64_t j = 0; j < ng; j++) {
                const coco_ann *an = &gt->anns[c->g[perm[j]]];
                if (gtm[j] > 0 && !an->iscrowd)
                    continue; /* taken, and not a crowd */
                if (m > -1 && gig[m] == 0 && gig[j] == 1)
                    break; /* holds a regular match: ignored ones are no better */
                double iou = c->iou[i * ng + perm[j]];
                if (iou < best)
                    continue;
                best = iou, m = j;
            }
            if (m == -1)
                continue;
            dtig[i] = gig[m];
            dtm[i] = gt->anns[c->g[perm[m]]].id;
            gtm[m] = c->d[i] + 1; /* the detection's id (loadRes numbers them from 1) */
        }
        for (int64_t i = 0; i < nd; i++) {
            double ar = det_area(&dets[c->d[i]]);
            if (dtm[i] == 0 && (ar < lo || ar > hi))
                dtig[i] = 1;
        }
    }
}

/* accumulate for one category, area range and maxDets over the images'
 * evaluations ev [nimg]; precision [NT][NR] and recall [NT] stay -1 when there
 * is nothing to average. */
static void accumulate(const dlt_coco_det *dets, const cell *cells, const cell_eval *ev,
                       int64_t nimg, int max_det, const double *rec_thr, merged_det *md, double *rc,
                       double *pr, double *precision, double *recall)
{
    int64_t n = 0, npig = 0, nvalid = 0;
    for (int64_t i = 0; i < nimg; i++) {
        if (!ev[i].valid)
            continue;
        nvalid++;
        npig += ev[i].npig;
        int64_t k = ev[i].nd < max_det ? ev[i].nd : max_det;
        for (int64_t r = 0; r < k; r++)
            md[n++] = (merged_det){dets[cells[i].d[r]].score, i, r};
    }
    if (nvalid == 0 || npig == 0)
        return;
    qsort(md, (size_t)n, sizeof *md, by_merged_score);
    for (int t = 0; t < NT; t++) {
        double tp = 0, fp = 0;
        for (int64_t j = 0; j < n; j++) {
            const cell_eval *e = &ev[md[j].img];
            int64_t matched = e->dtm[t * e->nd + md[j].rank];
            int ig = e->dtig[t * e->nd + md[j].rank];
            tp += matched != 0 && !ig;
            fp += matched == 0 && !ig;
            rc[j] = tp / (double)npig;
            pr[j] = tp / (fp + tp + DBL_EPSILON); /* numpy's spacing(1) */
        }
        recall[t] = n ? rc[n - 1] : 0;
        for (int64_t j = n - 1; j > 0; j--)
            if (pr[j] > pr[j - 1])
                pr[j - 1] = pr[j];
        int64_t j = 0;
        for (int r = 0; r < NR; r++) {
            while (j < n && rc[j] < rec_thr[r]) /* searchsorted(side="left") */
                j++;
            precision[t * NR + r] = j < n ? pr[j] : 0;
        }
    }
}

/* mean of the entries > -1 of a strided selection; -1 when there are none */
static double mean_valid(const double *v, const int64_t *idx, int64_t n)
{
    long double s = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (v[idx[i]] > -1)
            s += v[idx[i]], k++;
    return k ? (double)(s / k) : -1;
}

/* summarize(): precision [K][NA][NM][NT][NR], recall [K][NA][NM][NT] */
static dlt_status summarize(int64_t K, const double *thr, const double *precision,
                            const double *recall, double *stats)
{
    int64_t cap = K * NT * NR;
    int64_t *idx = malloc((size_t)(cap ? cap : 1) * sizeof *idx);
    if (!idx)
        return dlt_seterr(DLT_ERR_NOMEM, "COCO evaluation: out of memory");
    /* AP rows: IoU threshold (-1: all), area, maxDets index */
    const double ap_rows[6][3] = {{-1, 0, 2}, {.5, 0, 2}, {.75, 0, 2},
                                  {-1, 1, 2}, {-1, 2, 2}, {-1, 3, 2}};
    const int ar_rows[6][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 2}, {2, 2}, {3, 2}};
    for (int s = 0; s < 6; s++) {
        int64_t n = 0;
        for (int64_t k = 0; k < K; k++)
            for (int t = 0; t < NT; t++) {
                if (ap_rows[s][0] >= 0 && thr[t] != ap_rows[s][0])
                    continue; /* np.where(iouThr == p.iouThrs) */
                int64_t base = ((k * NA + (int)ap_rows[s][1]) * NM + (int)ap_rows[s][2]) * NT + t;
                for (int r = 0; r < NR; r++)
                    idx[n++] = base * NR + r;
            }
        stats[s] = mean_valid(precision, idx, n);
    }
    for (int s = 0; s < 6; s++) {
        int64_t n = 0;
        for (int64_t k = 0; k < K; k++)
            for (int t = 0; t < NT; t++)
                idx[n++] = ((k * NA + ar_rows[s][0]) * NM + ar_rows[s][1]) * NT + t;
        stats[6 + s] = mean_valid(recall, idx, n);
    }
    free(idx);
    return DLT_OK;
}

/* Masks of the detections for segm (bitmaps encoded into own[]), checked
 * against their images' sizes. */
static dlt_status det_masks(const dlt_coco_gt *gt, const dlt_coco_det *dets, int64_t n,
                            const int64_t *img, dlt_coco_rle *masks, dlt_coco_rle *own)
{
    for (int64_t i = 0; i < n; i++) {
        if (img[i] < 0) /* another category: never evaluated */
            continue;
        int h = gt->img_h[img[i]], w = gt->img_w[img[i]];
        const dlt_coco_det *d = &dets[i];
        if (d->rle) {
            masks[i] = *d->rle;
        } else if (d->mask) {
            dlt_status st = dlt_coco_rle_encode(d->mask, h, w, &own[i]);
            if (st != DLT_OK)
                return st;
            masks[i] = own[i];
        } else {
            return dlt_seterr(DLT_ERR_INVALID,
                              "COCO segm evaluation: detection %lld (image %lld) has no mask",
                              (long long)i, (long long)d->image_id);
        }
        if (masks[i].h != h || masks[i].w != w)
            return dlt_seterr(DLT_ERR_INVALID,
                              "COCO segm evaluation: detection %lld's mask is %dx%d, image %lld "
                              "is %dx%d",
                              (long long)i, masks[i].h, masks[i].w, (long long)d->image_id, h, w);
    }
    return DLT_OK;
}

/* Stable bucket lists: for each of nb buckets the items (in item order) whose
 * key is the bucket; key < 0: in none. start [nb + 1], list [nitems]. */
static dlt_status bucket(const int64_t *key, int64_t nitems, int64_t nb, int64_t **start,
                         int64_t **list)
{
    *start = calloc((size_t)nb + 1, sizeof **start);
    *list = malloc((size_t)(nitems ? nitems : 1) * sizeof **list);
    if (!*start || !*list)
        return dlt_seterr(DLT_ERR_NOMEM, "COCO evaluation: out of memory");
    for (int64_t i = 0; i < nitems; i++)
        if (key[i] >= 0)
            (*start)[key[i] + 1]++;
    for (int64_t b = 0; b < nb; b++)
        (*start)[b + 1] += (*start)[b];
    int64_t *fill = malloc((size_t)(nb ? nb : 1) * sizeof *fill);
    if (!fill)
        return dlt_seterr(DLT_ERR_NOMEM, "COCO evaluation: out of memory");
    memcpy(fill, *start, (size_t)nb * sizeof *fill);
    for (int64_t i = 0; i < nitems; i++)
        if (key[i] >= 0)
            (*list)[fill[key[i]]++] = i;
    free(fill);
    return DLT_OK;
}

/* Everything of one category: its cells' IoUs, evaluations and accumulation
 * into precision/recall (the category's block). */
typedef struct {
    const dlt_coco_gt *gt;
    const dlt_coco_det *dets;
    const dlt_coco_rle *masks;
    dlt_coco_iou_type type;
    const int64_t *gs, *gl, *ds, *dl; /* bucket starts and lists of gt and dets */
    const double *thr, *rec;
    int64_t maxg, maxn; /* largest cell's ground truth; detections of the category */
} eval_ctx;

static dlt_status eval_category(const eval_ctx *x, int64_t k, double *precision, double *recall)
{
    const int64_t I = x->gt->nimg;
    cell *cells = calloc((size_t)(I ? I : 1), sizeof *cells);
    cell_eval *ev = calloc((size_t)(I ? I : 1), sizeof *ev);
    int64_t *perm = malloc((size_t)(x->maxg + 1) * sizeof *perm);
    int64_t *gtm = malloc((size_t)(x->maxg + 1) * sizeof *gtm);
    uint8_t *gig = malloc((size_t)(x->maxg + 1));
    merged_det *md = malloc((size_t)(x->maxn + 1) * sizeof *md);
    double *rc = malloc((size_t)(x->maxn + 1) * sizeof *rc);
    double *pr = malloc((size_t)(x->maxn + 1) * sizeof *pr);
    dlt_status st = DLT_OK;
    if (!cells || !ev || !perm || !gtm || !gig || !md || !rc || !pr) {
        st = dlt_seterr(DLT_ERR_NOMEM, "COCO evaluation: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < I && st == DLT_OK; i++) {
        cell *c = &cells[i];
        int64_t b = k * I + i;
        c->g = x->gl + x->gs[b], c->ng = x->gs[b + 1] - x->gs[b];
        c->nd_all = x->ds[b + 1] - x->ds[b];
        c->nd = c->nd_all < MAXDET ? c->nd_all : MAXDET;
        c->d = malloc((size_t)(c->nd_all ? c->nd_all : 1) * sizeof *c->d);
        ev[i].dtm = malloc((size_t)(NT * c->nd + 1) * sizeof *ev[i].dtm);
        ev[i].dtig = malloc((size_t)(NT * c->nd + 1));
        if (!c->d || !ev[i].dtm || !ev[i].dtig) {
            st = dlt_seterr(DLT_ERR_NOMEM, "COCO evaluation: out of memory");
            break;
        }
        /* by score, ties in input order (COCOeval's mergesort); md is free here */
        for (int64_t j = 0; j < c->nd_all; j++) {
            int64_t di = x->dl[x->ds[b] + j];
            md[j] = (merged_det){x->dets[di].score, di, 0};
        }
        qsort(md, (size_t)c->nd_all, sizeof *md, by_merged_score);
        for (int64_t j = 0; j < c->nd_all; j++)
            c->d[j] = md[j].img;
        st = cell_iou(x->gt, x->dets, x->masks, x->type, c);
    }
    for (int a = 0; a < NA && st == DLT_OK; a++) {
        for (int64_t i = 0; i < I; i++)
            cell_evaluate(x->gt, x->dets, &cells[i], a, x->thr, perm, gig, gtm, &ev[i]);
        for (int m = 0; m < NM; m++) {
            int64_t blk = (k * NA + a) * NM + m;
            accumulate(x->dets, cells, ev, I, max_dets[m], x->rec, md, rc, pr,
                       precision + blk * NT * NR, recall + blk * NT);
        }
    }
done:
    for (int64_t i = 0; cells && ev && i < I; i++) {
        free(cells[i].d), free(cells[i].iou);
        free(ev[i].dtm), free(ev[i].dtig);
    }
    free(cells), free(ev), free(perm), free(gtm), free(gig), free(md), free(rc), free(pr);
    return st;
}

dlt_status dlt_coco_evaluate(const dlt_coco_gt *gt, const dlt_coco_det *dets, int64_t n,
                             dlt_coco_iou_type type, double stats[DLT_COCO_NSTATS])
{
    const int64_t I = gt->nimg, K = gt->ncat;
    double thr[NT], rec[NR];
    linspace(.5, .95, NT, thr);
    linspace(0, 1, NR, rec);
    int64_t *dkey = calloc((size_t)(n ? n : 1), sizeof *dkey);
    int64_t *gkey = calloc((size_t)(gt->nann ? gt->nann : 1), sizeof *gkey);
    int64_t *dimg = malloc((size_t)(n ? n : 1) * sizeof *dimg);
    int64_t *ncat_dets = calloc((size_t)(K ? K : 1), sizeof *ncat_dets);
    dlt_coco_rle *masks = calloc((size_t)(n ? n : 1), sizeof *masks);
    dlt_coco_rle *own = calloc((size_t)(n ? n : 1), sizeof *own);
    double *precision = malloc((size_t)(K * NA * NM * NT * NR + 1) * sizeof *precision);
    double *recall = malloc((size_t)(K * NA * NM * NT + 1) * sizeof *recall);
    int64_t *gs = NULL, *gl = NULL, *ds = NULL, *dl = NULL;
    dlt_status st = DLT_OK;
    if (!dkey || !gkey || !dimg || !ncat_dets || !masks || !own || !precision || !recall) {
        st = dlt_seterr(DLT_ERR_NOMEM, "COCO evaluation: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < K * NA * NM * NT * NR; i++)
        precision[i] = -1;
    for (int64_t i = 0; i < K * NA * NM * NT; i++)
        recall[i] = -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t im = coco_gt_image_index(gt, dets[i].image_id);
        int64_t k = coco_gt_category_index(gt, dets[i].category_id);
        if (im < 0) {
            st = dlt_seterr(DLT_ERR_INVALID,
                            "COCO evaluation: detection %lld is of image %lld, which %s does "
                            "not list",
                            (long long)i, (long long)dets[i].image_id, gt->path);
            goto done;
        }
        if (!isfinite(dets[i].score)) {
            st = dlt_seterr(DLT_ERR_NONFINITE, "COCO evaluation: detection %lld's score is %g",
                            (long long)i, dets[i].score);
            goto done;
        }
        dkey[i] = k < 0 ? -1 : k * I + im; /* unknown categories are dropped */
        dimg[i] = k < 0 ? -1 : im;
        if (k >= 0)
            ncat_dets[k]++;
    }
    int64_t maxg = 0;
    for (int64_t j = 0; j < gt->nann; j++) {
        int64_t im = coco_gt_image_index(gt, gt->anns[j].image_id);
        int64_t k = coco_gt_category_index(gt, gt->anns[j].category_id);
        gkey[j] = im < 0 || k < 0 ? -1 : k * I + im;
    }
    if (type == DLT_COCO_SEGM && (st = det_masks(gt, dets, n, dimg, masks, own)) != DLT_OK)
        goto done;
    if ((st = bucket(gkey, gt->nann, K * I, &gs, &gl)) != DLT_OK ||
        (st = bucket(dkey, n, K * I, &ds, &dl)) != DLT_OK)
        goto done;
    for (int64_t b = 0; b < K * I; b++)
        maxg = gs[b + 1] - gs[b] > maxg ? gs[b + 1] - gs[b] : maxg;
    for (int64_t k = 0; k < K && st == DLT_OK; k++) {
        eval_ctx x = {gt, dets, masks, type, gs, gl, ds, dl, thr, rec, maxg, ncat_dets[k]};
        st = eval_category(&x, k, precision, recall);
    }
    if (st == DLT_OK)
        st = summarize(K, thr, precision, recall, stats);
done:
    for (int64_t i = 0; own && i < n; i++)
        dlt_coco_rle_free(&own[i]);
    free(dkey), free(gkey), free(dimg), free(ncat_dets), free(masks), free(own);
    free(precision), free(recall), free(gs), free(gl), free(ds), free(dl);
    return st;
}

void dlt_coco_print_stats(FILE *out, const double stats[DLT_COCO_NSTATS])
{
    static const char *const area[4] = {"all", "small", "medium", "large"};
    for (int s = 0; s < DLT_COCO_NSTATS; s++) {
        int ap = s < 6;
        const char *iou = s == 1 ? "0.50" : s == 2 ? "0.75" : "0.50:0.95";
        int a = s >= 3 && s <= 5 ? s - 2 : s >= 9 ? s - 8 : 0;
        int md = s == 6 ? 1 : s == 7 ? 10 : 100;
        fprintf(out, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
                ap ? "Average Precision" : "Average Recall", ap ? "(AP)" : "(AR)", iou, area[a], md,
                stats[s]);
    }
}
