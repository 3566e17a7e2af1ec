/* Polygon -> COCO RLE (dlt_coco_rle_from_poly), the rasterisation
 * pycocotools' frPoly defines, so that masks of COCO polygon annotations are
 * the pixels COCO's own evaluation uses:
 *
 *  1. the vertices are scaled by 5 and rounded ((int)(5 v + 0.5), which
 *     truncates toward zero), and every edge is walked along its longer axis
 *     one step at a time, the other coordinate rounded the same way: a dense
 *     closed outline on the 5x grid;
 *  2. wherever consecutive outline points change column, the crossing is taken
 *     back to pixel units: the column x = (u + 0.5) / 5 - 0.5 with u the
 *     lower-left of the two columns, kept only when x is a whole pixel column
 *     inside the image, and the row y = ceil(clamp((v + 0.5) / 5 - 0.5, 0, h))
 *     with v the smaller of the two rows;
 *  3. each crossing (x, y) toggles inside/outside at column-major position
 *     x * h + y: sorted, the gaps between the positions (and h * w at the
 *     end) are the runs, two crossings at one position cancelling.
 *
 * A pixel is therefore inside when an odd number of crossings lie at or above
 * its centre in its column. The arithmetic (operand order, truncation,
 * clamping) follows frPoly step for step: the masks agree bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_coco_mask.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Step 1: the outline points (u, v) on the 5x grid; *np of them. */
static dlt_status outline(const int *px, const int *py, int k, int **uo, int **vo, size_t *np)
{
    size_t n = 0;
    for (int j = 0; j < k; j++) {
        int dx = abs(px[j + 1] - px[j]), dy = abs(py[j + 1] - py[j]);
        n += (size_t)(dx > dy ? dx : dy) + 1;
    }
    int *u = malloc((n ? n : 1) * sizeof *u), *v = malloc((n ? n : 1) * sizeof *v);
    if (!u || !v) {
        free(u), free(v);
        return dlt_seterr(DLT_ERR_NOMEM, "COCO polygon: out of memory for %zu outline points", n);
    }
    size_t m = 0;
    for (int j = 0; j < k; j++) {
        int xs = px[j], xe = px[j + 1], ys = py[j], ye = py[j + 1];
        int dx = abs(xe - xs), dy = abs(ye - ys);
        /* walk from the lower end of the longer axis; t counts from the
         * original start, so the points still run start -> end */
        int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if (flip) {
            int t = xs;
            xs = xe, xe = t;
            t = ys, ys = ye, ye = t;
        }
        if (dx == 0 && dy == 0) { /* a repeated vertex: one point (frPoly divides 0 by 0
                                     here; the point never starts a column change) */
            u[m] = xs, v[m] = ys, m++;
        } else if (dx >= dy) {
            double s = (double)(ye - ys) / dx;
            for (int d = 0; d <= dx; d++) {
                int t = flip ? dx - d : d;
                u[m] = t + xs, v[m] = (int)(ys + s * t + .5), m++;
            }
        } else {
            double s = (double)(xe - xs) / dy;
            for (int d = 0; d <= dy; d++) {
                int t = flip ? dy - d : d;
                v[m] = t + ys, u[m] = (int)(xs + s * t + .5), m++;
            }
        }
    }
    *uo = u, *vo = v, *np = m;
    return DLT_OK;
}

dlt_status dlt_coco_rle_from_poly(const double *xy, int k, int h, int w, dlt_coco_rle *out)
{
    const double scale = 5;
    memset(out, 0, sizeof *out);
    if (k < 1 || h < 0 || w < 0 || (uint64_t)h * (uint64_t)w >= UINT32_MAX)
        return dlt_seterr(DLT_ERR_INVALID, "COCO polygon: %d points in a %dx%d image", k, h, w);
    /* the 5x grid in int with room for differences: |coordinates| <= 1e7 */
    for (int j = 0; j < 2 * k; j++)
        if (!(fabs(xy[j]) <= 1e7))
            return dlt_seterr(DLT_ERR_INVALID,
                              "COCO polygon: coordinate %d is %g (want a finite value within "
                              "+-1e7)",
                              j, xy[j]);
    int *px = malloc((size_t)(k + 1) * sizeof *px), *py = malloc((size_t)(k + 1) * sizeof *py);
    int *u = NULL, *v = NULL;
    uint64_t *pos = NULL;
    dlt_status st = DLT_OK;
    if (!px || !py) {
        st = dlt_seterr(DLT_ERR_NOMEM, "COCO polygon: out of memory");
        goto done;
    }
    for (int j = 0; j < k; j++) {
        px[j] = (int)(scale * xy[2 * j] + .5);
        py[j] = (int)(scale * xy[2 * j + 1] + .5);
    }
    px[k] = px[0], py[k] = py[0];
    size_t np = 0;
    if ((st = outline(px, py, k, &u, &v, &np)) != DLT_OK)
        goto done;

    /* step 2: crossings; step 3 needs one more slot for h * w */
    pos = malloc((np + 1) * sizeof *pos);
    if (!pos) {
        st = dlt_seterr(DLT_ERR_NOMEM, "COCO polygon: out of memory");
        goto done;
    }
    size_t nc = 0;
    for (size_t j = 1; j < np; j++) {
        if (u[j] == u[j - 1])
            continue;
        double xd = (double)(u[j] < u[j - 1] ? u[j] : u[j] - 1);
        xd = (xd + .5) / scale - .5;
        if (floor(xd) != xd || xd < 0 || xd > (double)w - 1)
            continue;
        double yd = (double)(v[j] < v[j - 1] ? v[j] : v[j - 1]);
        yd = (yd + .5) / scale - .5;
        if (yd < 0)
            yd = 0;
        else if (yd > h)
            yd = h;
        yd = ceil(yd);
        pos[nc++] = (uint64_t)xd * (uint64_t)h + (uint64_t)yd;
    }
    uint64_t npix = (uint64_t)h * (uint64_t)w;
    pos[nc++] = npix;
    qsort(pos, nc, sizeof *pos, cmp_u64);

    /* step 3: gaps between sorted positions; a zero gap (two crossings at
     * one position) joins the runs around it */
    out->h = h, out->w = w;
    out->cnts = malloc(nc * sizeof *out->cnts);
    if (!out->cnts) {
        st = dlt_seterr(DLT_ERR_NOMEM, "COCO polygon: out of memory");
        goto done;
    }
    uint64_t prev = 0;
    for (size_t j = 0; j < nc; j++) {
        uint64_t t = pos[j];
        pos[j] -= prev, prev = t;
    }
    int64_t m = 0;
    size_t j = 0;
    out->cnts[m++] = (uint32_t)pos[j++];
    while (j < nc) {
        if (pos[j] > 0) {
            out->cnts[m++] = (uint32_t)pos[j++];
        } else {
            j++;
            if (j < nc)
                out->cnts[m - 1] += (uint32_t)pos[j++];
        }
    }
    out->m = m;
done:
    free(px), free(py), free(u), free(v), free(pos);
    return st;
}
