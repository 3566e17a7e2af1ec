/* COCO annotation masks as bitmaps for `dlprep coco` (dlt_data.h): polygons
 * and RLE counts decoded with the shared RLE code (dlt_coco_mask.h, the one
 * COCO evaluation uses), OR-ed into a row-major h x w mask. */
#include <stdlib.h>

#include "dlt_coco_mask.h"
#include "dlt_data.h"

/* r decoded and OR-ed into out (h x w); r is freed unless `borrowed`. */
static dlt_status or_into(dlt_coco_rle *r, uint8_t *out, int borrowed)
{
    size_t n = (size_t)r->h * r->w;
    uint8_t *m = malloc(n ? n : 1);
    dlt_status st = m ? dlt_coco_rle_decode(r, m) : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == DLT_OK && i < n; i++)
        out[i] |= m[i];
    free(m);
    if (!borrowed)
        dlt_coco_rle_free(r);
    return st;
}

dlt_status dlt_coco_poly_fill(const double *xy, int k, int h, int w, uint8_t *out)
{
    dlt_coco_rle r = {0};
    dlt_status st = dlt_coco_rle_from_poly(xy, k, h, w, &r);
    return st ? st : or_into(&r, out, 0);
}

dlt_status dlt_coco_rle_fill(const uint32_t *counts, int64_t n, int h, int w, uint8_t *out)
{
    dlt_coco_rle r = {.h = h, .w = w, .m = n, .cnts = (uint32_t *)counts};
    return or_into(&r, out, 1); /* decode checks that the runs cover h x w */
}

dlt_status dlt_coco_rle_decode_string(const char *s, uint32_t **counts, int64_t *n)
{
    dlt_coco_rle r = {0};
    dlt_status st = dlt_coco_rle_from_string(s, 0, 0, &r); /* the size is checked when filled */
    *counts = st ? NULL : r.cnts;
    *n = st ? 0 : r.m;
    return st;
}
