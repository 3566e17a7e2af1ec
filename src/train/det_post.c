/* Detection post-processing (dlt_det_post.h). */
#include <stdlib.h>
#include <string.h>

#include "dlt_det_post.h"

/* PyTorch's bilinear source index (align_corners = False): the output pixel
 * centre mapped back, clamped at 0; *i0 and the step to the next row or
 * column (0 at the last), *l1 the weight of the next. */
static void source(int dst, float scale, int in, int *i0, int *step, float *l1)
{
    float s = scale * ((float)dst + 0.5f) - 0.5f;
    if (s < 0)
        s = 0;
    *i0 = (int)s;
    *step = *i0 < in - 1 ? 1 : 0;
    *l1 = s - (float)*i0;
}

void dlt_det_paste_mask(const float *mask, int m, const float box[4], int im_h, int im_w,
                        float *out)
{
    memset(out, 0, (size_t)im_h * im_w * sizeof *out);
    /* the box widened as the padded mask is: scale (M + 2) / M about its centre */
    float scale = (float)(m + 2) / (float)m;
    float wh = (box[2] - box[0]) * 0.5f * scale, hh = (box[3] - box[1]) * 0.5f * scale;
    float xc = (box[2] + box[0]) * 0.5f, yc = (box[3] + box[1]) * 0.5f;
    long bx0 = (long)(xc - wh), by0 = (long)(yc - hh), bx1 = (long)(xc + wh), by1 = (long)(yc + hh);
    long w = bx1 - bx0 + 1, h = by1 - by0 + 1;
    w = w < 1 ? 1 : w, h = h < 1 ? 1 : h;
    long x0 = bx0 > 0 ? bx0 : 0, x1 = bx1 + 1 < im_w ? bx1 + 1 : im_w;
    long y0 = by0 > 0 ? by0 : 0, y1 = by1 + 1 < im_h ? by1 + 1 : im_h;
    int p = m + 2; /* the padded mask: value (r, c) is mask (r - 1, c - 1), 0 on the border */
#define PADDED(r, c)                                                                               \
    ((r) < 1 || (c) < 1 || (r) > m || (c) > m ? 0.f : mask[(size_t)((r)-1) * m + ((c)-1)])
    float sy = (float)p / (float)h, sx = (float)p / (float)w;
    for (long y = y0; y < y1; y++) {
        int r0, dr;
        float ly;
        source((int)(y - by0), sy, p, &r0, &dr, &ly);
        for (long x = x0; x < x1; x++) {
            int c0, dc;
            float lx;
            source((int)(x - bx0), sx, p, &c0, &dc, &lx);
            float top = (1 - lx) * PADDED(r0, c0) + lx * PADDED(r0, c0 + dc);
            float bot = (1 - lx) * PADDED(r0 + dr, c0) + lx * PADDED(r0 + dr, c0 + dc);
            out[(size_t)y * im_w + x] = (1 - ly) * top + ly * bot;
        }
    }
#undef PADDED
}
