/* Mask R-CNN on one image (dlt_maskrcnn_infer.h, "one image"): the transform,
 * inference, the detections mapped back to the image and drawn. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ckpt.h"
#include "dlt_ckpt_model.h"
#include "dlt_data.h"
#include "dlt_det_post.h"
#include "dlt_job.h"
#include "dlt_maskrcnn_infer.h"
#include "task.h"

dlt_status dlt_mrcnn_transform(const uint8_t *rgb, int h, int w, int min_size, int max_size,
                               float **out, int *rh, int *rw, int *ph, int *pw)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    *out = NULL;
    if (h < 1 || w < 1 || min_size < 1 || max_size < 1)
        return dlt_seterr(DLT_ERR_INVALID, "Mask R-CNN transform: image %dx%d, sizes %d, %d", h, w,
                          min_size, max_size);
    dlt_det_resized_size(h, w, min_size, max_size, rh, rw);
    *ph = (*rh + 31) / 32 * 32, *pw = (*rw + 31) / 32 * 32;
    size_t plane = (size_t)*ph * *pw;
    float *x = calloc(3 * plane, sizeof *x);
    if (!x)
        return dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN transform: out of memory for %dx%d", *ph, *pw);
    /* PyTorch's bilinear source coordinate (align_corners = False) with the
     * scale in / out, clamped at 0; interpolated bytes, then normalised */
    float sy = (float)h / (float)*rh, sx = (float)w / (float)*rw;
    for (int y = 0; y < *rh; y++) {
        float fy = fmaxf(((float)y + 0.5f) * sy - 0.5f, 0.f);
        int y0 = (int)fy, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
        float wy = fy - (float)y0;
        for (int xo = 0; xo < *rw; xo++) {
            float fx = fmaxf(((float)xo + 0.5f) * sx - 0.5f, 0.f);
            int x0 = (int)fx, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
            float wx = fx - (float)x0;
            for (int k = 0; k < 3; k++) {
                float a = rgb[((size_t)y0 * w + x0) * 3 + k],
                      b = rgb[((size_t)y0 * w + x1) * 3 + k];
                float d = rgb[((size_t)y1 * w + x0) * 3 + k],
                      e = rgb[((size_t)y1 * w + x1) * 3 + k];
                float v = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
                x[k * plane + (size_t)y * *pw + xo] =
                    v * (1.f / (255.f * std[k])) - mean[k] / std[k];
            }
        }
    }
    *out = x;
    return DLT_OK;
}

void dlt_mrcnn_found_free(dlt_mrcnn_found *f)
{
    if (!f)
        return;
    free(f->boxes), free(f->scores), free(f->masks), free(f->labels);
    memset(f, 0, sizeof *f);
}

dlt_status dlt_mrcnn_detect(const dlt_maskrcnn_spec *s, dlt_mrcnn_load_fn load, void *user,
                            const dlt_image8 *im, const dlt_mrcnn_detect_opts *o,
                            dlt_mrcnn_found *found, dlt_image8 *picture)
{
    if (found)
        memset(found, 0, sizeof *found);
    if (picture)
        memset(picture, 0, sizeof *picture);
    if (im->c != 3)
        return dlt_seterr(DLT_ERR_INVALID, "Mask R-CNN detect: an image of %d channels (RGB: 3)",
                          im->c);
    float *x;
    int rh, rw, ph, pw;
    dlt_status st =
        dlt_mrcnn_transform(im->px, im->h, im->w, o->min_size, o->max_size, &x, &rh, &rw, &ph, &pw);
    if (st != DLT_OK)
        return st;
    dlt_mrcnn_infer_config c;
    dlt_mrcnn_infer_config_default(&c, s, 1, ph, pw);
    if (o->sizes[0] > 0) {
        memcpy(c.sizes, o->sizes, sizeof c.sizes);
        memcpy(c.ratios, o->ratios, sizeof c.ratios);
    }
    int D = c.det.detections, M = 28, H = im->h, W = im->w;
    dlt_mrcnn_infer *m = NULL;
    dlt_mrcnn_found f = {.h = H, .w = W};
    float *valid = malloc(sizeof(float) * D), *probs = malloc(sizeof(float) * D * M * M);
    f.boxes = malloc(sizeof(float) * 4 * D), f.scores = malloc(sizeof(float) * D);
    f.labels = malloc(sizeof(int32_t) * D);
    if (!valid || !probs || !f.boxes || !f.scores || !f.labels)
        st = dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN detect: out of memory");
    if (st == DLT_OK)
        st = dlt_mrcnn_infer_create(&c, &m);
    if (st == DLT_OK)
        st = load(dlt_mrcnn_infer_graph(m), user);
    const int32_t size[2] = {rh, rw};
    if (st == DLT_OK)
        st = dlt_mrcnn_infer_run(m, x, size, f.boxes, f.scores, f.labels, valid, probs);
    if (st == DLT_OK) {
        while (f.n < D && valid[f.n] != 0.f)
            f.n++;
        /* resize_boxes: the f32 ratios source / resized per axis */
        float ry = (float)H / (float)rh, rx = (float)W / (float)rw;
        for (int k = 0; k < f.n; k++) {
            float *b = f.boxes + 4 * k;
            b[0] *= rx, b[2] *= rx, b[1] *= ry, b[3] *= ry;
        }
        f.masks = malloc(sizeof(float) * (size_t)(f.n > 0 ? f.n : 1) * H * W);
        if (!f.masks)
            st = dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN detect: out of memory for %d masks", f.n);
        for (int k = 0; k < f.n && st == DLT_OK; k++)
            dlt_det_paste_mask(probs + (size_t)k * M * M, M, f.boxes + 4 * k, H, W,
                               f.masks + (size_t)k * H * W);
    }
    if (st == DLT_OK && picture) {
        uint8_t *bits = malloc((size_t)(f.n > 0 ? f.n : 1) * H * W);
        picture->px = malloc((size_t)H * W * 3);
        if (!bits || !picture->px) {
            free(bits), free(picture->px), picture->px = NULL;
            st = dlt_seterr(DLT_ERR_NOMEM, "Mask R-CNN detect: out of memory for the picture");
        } else {
            picture->h = H, picture->w = W, picture->c = 3;
            memcpy(picture->px, im->px, (size_t)H * W * 3);
            for (size_t i = 0; i < (size_t)f.n * H * W; i++)
                bits[i] = f.masks[i] > 0.5f;
            dlt_det_draw(picture, f.n, f.boxes, f.scores, f.labels, NULL, bits, o->names, &o->draw);
            free(bits);
        }
    }
    free(x), free(valid), free(probs);
    dlt_mrcnn_infer_free(m);
    if (st == DLT_OK && found)
        *found = f;
    else
        dlt_mrcnn_found_free(&f);
    return st;
}

/* The class count the run took from its shards, from the checkpoint's /model. */
static void model_attr(const char *key, const char *value, void *user)
{
    if (!strcmp(key, "num_classes"))
        *(int *)user = atoi(value);
}

dlt_status dlt_mrcnn_ckpt_spec(const char *ckpt, dlt_maskrcnn_spec *s, dlt_mrcnn_detect_opts *o,
                               char ***names, int *nnames)
{
    dlt_job *job = NULL;
    char *text = NULL;
    dlt_train_config c;
    int classes = 0;
    dlt_maskrcnn_spec_default(s);
    *names = NULL, *nnames = 0;
    dlt_status st = dlt_task_config_from_ckpt(ckpt, &job, &text, &c);
    if (st == DLT_OK && c.task != DLT_TASK_MASKRCNN)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: model.arch = %s is not a Mask R-CNN (maskrcnn)", ckpt,
                        c.arch);
    if (st == DLT_OK)
        st = dlt_ckpt_read_model(ckpt, model_attr, &classes);
    if (st == DLT_OK && classes < 2)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: /model records no num_classes", ckpt);
    if (st == DLT_OK) {
        dlt_task_maskrcnn_spec(&c, classes, s);
        o->min_size = c.mrcnn.min_size, o->max_size = c.mrcnn.max_size;
        memcpy(o->sizes, c.mrcnn.anchor_sizes, sizeof o->sizes);
        memset(o->ratios, 0, sizeof o->ratios);
        memcpy(o->ratios, c.mrcnn.anchor_ratios, sizeof(float) * (size_t)c.mrcnn.nratios);
    }
    dlt_job_free(job);
    free(text);
    return st;
}

dlt_status dlt_mrcnn_load_ckpt(dlt_graph *g, void *user)
{
    dlt_ckpt_tensors t;
    dlt_ckpt_state cs;
    memset(&cs, 0, sizeof cs);
    dlt_ckpt_tensors_from_graph(g, &t);
    t.nslots = 0;
    dlt_status st = dlt_ckpt_load((const char *)user, &t, &cs);
    dlt_ckpt_state_free(&cs);
    return st;
}
