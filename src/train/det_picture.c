/* Pictures of detections (dlt_det_picture.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_det_picture.h"
#include "dlt_det_post.h"

void dlt_det_draw_opts_default(dlt_det_draw_opts *o)
{
    *o = (dlt_det_draw_opts){
        .score_min = 0.5f, .mask_alpha = 0.45f, .thickness = 1, .text_scale = 1};
}

static int shown(const float *scores, const float *valid, int k, const dlt_det_draw_opts *o)
{
    return (!valid || valid[k] != 0.f) && scores[k] >= o->score_min;
}

void dlt_det_draw(dlt_image8 *im, int n, const float *boxes, const float *scores,
                  const int32_t *labels, const float *valid, const uint8_t *masks,
                  const char *const *names, const dlt_det_draw_opts *o)
{
    static const uint8_t white[3] = {255, 255, 255};
    uint8_t rgb[3];
    if (masks)
        for (int k = 0; k < n; k++)
            if (shown(scores, valid, k, o)) {
                dlt_draw_palette(labels[k], rgb);
                dlt_draw_mask(im, masks + (size_t)k * im->h * im->w, im->w, im->h, 0, 0, rgb,
                              o->mask_alpha);
            }
    for (int k = 0; k < n; k++) {
        if (!shown(scores, valid, k, o))
            continue;
        const float *b = boxes + 4 * k;
        int x1 = (int)floorf(b[0]), y1 = (int)floorf(b[1]);
        int x2 = (int)ceilf(b[2]) - 1, y2 = (int)ceilf(b[3]) - 1;
        x2 = x2 < x1 ? x1 : x2, y2 = y2 < y1 ? y1 : y2;
        dlt_draw_palette(labels[k], rgb);
        dlt_draw_rect(im, x1, y1, x2, y2, rgb, o->thickness);
    }
    for (int k = 0; k < n; k++) {
        if (!shown(scores, valid, k, o))
            continue;
        const float *b = boxes + 4 * k;
        int x1 = (int)floorf(b[0]), y1 = (int)floorf(b[1]), s = o->text_scale;
        char text[96];
        const char *name = names ? names[labels[k]] : NULL;
        if (name)
            snprintf(text, sizeof text, "%s %.2f", name, (double)scores[k]);
        else
            snprintf(text, sizeof text, "%d %.2f", (int)labels[k], (double)scores[k]);
        int th = DLT_DRAW_TEXT_HEIGHT * s + 2, tw = dlt_draw_text_width(text, s) + 2;
        int ty = y1 >= th ? y1 - th : y1; /* above the box, or inside at the top */
        dlt_draw_palette(labels[k], rgb);
        dlt_draw_fill(im, x1, ty, x1 + tw - 1, ty + th - 1, rgb, 1.f);
        dlt_draw_text(im, x1 + 1, ty + 1, text, white, s);
    }
}

static uint8_t to_byte(float v)
{
    float x = floorf(v * 255.f + 0.5f);
    return x != x || x < 0.f ? 0 : x > 255.f ? 255 : (uint8_t)x;
}

dlt_status dlt_det_grid(const float *images, int n, int h, int w, const float mean[3],
                        const float std[3], const dlt_mrcnn_dets *d, const char *const *names,
                        const dlt_det_draw_opts *o, int cols, dlt_image8 *out)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || n > d->batch || h < 1 || w < 1)
        return dlt_seterr(DLT_ERR_INVALID, "detection grid: %d images of a batch of %d, %dx%d", n,
                          d->batch, h, w);
    cols = cols < 1 || cols > n ? n : cols;
    int rows = (n + cols - 1) / cols, pad = 2, D = d->per_image, M = d->mask_size;
    static const uint8_t black[3] = {0, 0, 0};
    dlt_status st = dlt_draw_canvas(out, cols * (w + pad) + pad, rows * (h + pad) + pad, black);
    if (st != DLT_OK)
        return st;
    dlt_image8 cell = {.h = h, .w = w, .c = 3};
    cell.px = calloc((size_t)h * w * 3, 1);
    uint8_t *masks = M > 0 && d->masks ? malloc((size_t)D * h * w) : NULL;
    float *pasted = malloc(sizeof(float) * (size_t)h * w);
    if (!cell.px || !pasted || (M > 0 && d->masks && !masks)) {
        free(cell.px), free(masks), free(pasted), dlt_image8_free(out);
        return dlt_seterr(DLT_ERR_NOMEM, "detection grid: out of memory");
    }
    for (int b = 0; b < n; b++) {
        int ih = d->image_sizes[2 * b] < h ? d->image_sizes[2 * b] : h;
        int iw = d->image_sizes[2 * b + 1] < w ? d->image_sizes[2 * b + 1] : w;
        memset(cell.px, 0, (size_t)h * w * 3);
        for (int y = 0; y < ih; y++)
            for (int x = 0; x < iw; x++)
                for (int c = 0; c < 3; c++) {
                    float v = images[(((size_t)b * 3 + c) * h + y) * w + x];
                    cell.px[((size_t)y * w + x) * 3 + c] = to_byte(v * std[c] + mean[c]);
                }
        if (masks)
            for (int k = 0; k < D; k++) {
                size_t s = (size_t)b * D + k;
                uint8_t *mk = masks + (size_t)k * h * w;
                dlt_det_paste_mask(d->masks + s * M * M, M, d->boxes + 4 * s, h, w, pasted);
                for (size_t i = 0; i < (size_t)h * w; i++)
                    mk[i] = pasted[i] > 0.5f;
            }
        dlt_det_draw(&cell, D, d->boxes + (size_t)b * D * 4, d->scores + (size_t)b * D,
                     d->labels + (size_t)b * D, d->valid ? d->valid + (size_t)b * D : NULL, masks,
                     names, o);
        int oy = pad + (b / cols) * (h + pad), ox = pad + (b % cols) * (w + pad);
        for (int y = 0; y < h; y++)
            memcpy(out->px + ((size_t)(oy + y) * out->w + ox) * 3, cell.px + (size_t)y * w * 3,
                   (size_t)w * 3);
    }
    free(cell.px), free(masks), free(pasted);
    return DLT_OK;
}
