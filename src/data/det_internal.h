/* Private to src/data: the pieces of the detection data path shared by its
 * files (det_transform.c, det_loader.c, the two converters). */
#ifndef DLT_DET_INTERNAL_H
#define DLT_DET_INTERNAL_H

#include "dlt_data.h"

/* One stored detection sample, as read from a shard (canvas pixels). */
typedef struct {
    const uint8_t *hwc; /* [H, W, C] canvas */
    int H, W, C;        /* canvas */
    int h, w;           /* the image at its top-left */
    int nboxes;
    const float *boxes; /* [nboxes, 4] */
    const int32_t *classes;
    const uint8_t *iscrowd;
    const uint8_t *masks; /* [nboxes, H, W] or NULL */
} dlt_det_stored;

/* Where one sample goes in a batch: row b of each array of a dlt_det_batch
 * (already offset by the caller), of M slots and a bh×bw canvas. */
typedef struct {
    float *image;                 /* [C, bh, bw] */
    float *boxes;                 /* [M, 4] */
    int32_t *classes;             /* [M] */
    uint8_t *box_valid, *iscrowd; /* [M] */
    uint8_t *masks;               /* [M, bh, bw] or NULL */
    int32_t *num_boxes;
    int32_t *image_size; /* [2] */
    int M, bh, bw;
} dlt_det_out;

/* Resizes (torchvision's rule, bilinear for the image, nearest for the masks),
 * normalises ((x/255 - mean) / std), flips when flip, and writes one sample;
 * crowd boxes are dropped when skip_crowd. The resized image must fit bh×bw. */
dlt_status dlt_det_transform(const dlt_det_stored *in, int min_size, int max_size, int flip,
                             int skip_crowd, const float *mean, const float *std,
                             const dlt_det_out *out);

/* Masks <-> COCO RLE (column-major runs starting with zeros) and the tight box
 * of a mask: (x1, y1, x2, y2) with x2, y2 one past the last pixel; 0 when empty. */
int64_t dlt_det_mask_area(const uint8_t *m, int h, int w);
int dlt_det_mask_box(const uint8_t *m, int h, int w, float box[4]);
/* counts: at most h*w + 1 entries; returns their number. */
int64_t dlt_det_mask_rle(const uint8_t *m, int h, int w, uint32_t *counts);

/* Detection shard output of the converters: `total` samples into
 * OUT/PREFIX-0000s-of-0000S.h5, shard s holding samples [s*N/S, (s+1)*N/S)
 * (S from o->num_shards, else o->shard_size, else about 128 MiB per shard). */
typedef struct {
    char *dir, *prefix;
    dlt_shard_spec spec;
    int64_t total, done;
    int nshards, cur;
    dlt_shard_writer *w;
} dlt_det_sink;

dlt_status dlt_det_sink_open(dlt_det_sink *s, const dlt_convert_opts *o, const char *prefix,
                             const dlt_shard_spec *spec, int64_t total);
dlt_status dlt_det_sink_add(dlt_det_sink *s, const dlt_det_sample *x);
/* The file sample i went to: "PREFIX-0000s-of-0000S.h5" and its row. */
void dlt_det_sink_name(const dlt_det_sink *s, int64_t i, char *name, size_t cap, int64_t *row);
dlt_status dlt_det_sink_close(dlt_det_sink *s);
void dlt_det_sink_abort(dlt_det_sink *s); /* removes the unfinished file */

#endif
