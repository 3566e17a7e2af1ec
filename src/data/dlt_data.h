/* dltrain data: HDF5 shards (format v1, docs/formats.md), the dataset
 * converters behind dlprep, and the distributed prefetching loader. */
#ifndef DLT_DATA_H
#define DLT_DATA_H

#include <stdint.h>
#include <stdio.h>

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLT_SHARD_FORMAT "dltrain-shard"
#define DLT_SHARD_VERSION 1
#define DLT_DATA_MAX_CHANNELS 4

/* ------------------------------------------------------------------ shards */

typedef enum {
    DLT_KIND_IMAGE_CLASSIFICATION = 0, /* images N×H×W×C u8, labels N i32, class_names */
    DLT_KIND_TEXT_TOKENS,              /* tokens T i32, offsets D+1 i64, vocab */
    DLT_KIND_DETECTION,                /* images, boxes, classes, masks, num_boxes */
    DLT_KIND_IMAGE_PAIRS,              /* images_a NA×H×W×C, images_b NB×H×W×C */
    DLT_KIND_BERT_PRETRAINING,         /* input_ids N×L, masked LM and NSP targets, vocab */
    DLT_NKINDS
} dlt_shard_kind;

const char *dlt_shard_kind_name(dlt_shard_kind k);
dlt_status dlt_shard_kind_parse(const char *name, dlt_shard_kind *k);

/* What a writer creates. Fields a kind does not use are ignored. */
typedef struct {
    dlt_shard_kind kind;
    int h, w, c;                     /* image kinds */
    int num_classes;                 /* classification, detection */
    const char *const *class_names;  /* num_classes names; NULL: "0", "1", ... */
    int max_boxes, mask_h, mask_w;   /* detection: M and the mask size */
    int vocab_size;                  /* text kinds */
    const char *const *vocab;        /* vocab_size strings; NULL: "0", "1", ... */
    const char *source;              /* free text: where the data came from */
    int deflate;                     /* 1..9; 0: 4 */
    int64_t chunk_samples;           /* samples per HDF5 chunk; 0: about 64 KiB per chunk */
    /* text kinds, optional: how token ids map back to text (dlt_text.h) */
    const char *tokenizer;           /* attribute "tokenizer": "wordpiece", "bpe"; NULL: none */
    int num_merges;                  /* BPE merges, "left right", rank order; 0: no dataset */
    const char *const *merges;
    int seq_len, max_predictions;    /* bert-pretraining: L and P */
} dlt_shard_spec;

typedef struct dlt_shard_writer dlt_shard_writer;

/* Creates PATH.tmp; dlt_shard_writer_close renames it to PATH once complete. */
dlt_status dlt_shard_writer_open(const char *path, const dlt_shard_spec *spec,
                                 dlt_shard_writer **out);
dlt_status dlt_shard_write_image(dlt_shard_writer *w, const uint8_t *hwc, int32_t label);
dlt_status dlt_shard_write_document(dlt_shard_writer *w, const int32_t *tokens, int64_t n);
/* boxes [nboxes,4] (x0,y0,x1,y1), classes [nboxes], masks [nboxes,mask_h,mask_w];
 * slots nboxes..M-1 are written as zeros. */
dlt_status dlt_shard_write_detection(dlt_shard_writer *w, const uint8_t *hwc, int nboxes,
                                     const float *boxes, const int32_t *classes,
                                     const uint8_t *masks);
/* domain 0 = A, 1 = B */
dlt_status dlt_shard_write_pair_image(dlt_shard_writer *w, int domain, const uint8_t *hwc);
/* One BERT pretraining instance: input_ids and token_type_ids [L] (padded with 0
 * past length), masked LM positions/ids/weights [P] (weight 0 past the real ones),
 * next_sentence_label 0 (B follows A) or 1 (B is random). */
dlt_status dlt_shard_write_bert(dlt_shard_writer *w, const int32_t *input_ids,
                                const uint8_t *token_type_ids, int32_t length,
                                const int32_t *mlm_positions, const int32_t *mlm_ids,
                                const float *mlm_weights, int32_t next_sentence_label);
/* Writes the attributes (with the checksum), closes and renames; frees w. */
dlt_status dlt_shard_writer_close(dlt_shard_writer *w);
/* Closes and removes the temporary file; frees w. NULL is a no-op. */
void dlt_shard_writer_abort(dlt_shard_writer *w);

/* Everything the root attributes and the dataset shapes say about a shard. */
typedef struct {
    dlt_shard_kind kind;
    int version;
    int64_t num_samples;     /* images, documents, or num_a + num_b */
    int h, w, c;
    int num_classes;
    char **class_names;
    int max_boxes, mask_h, mask_w;
    int64_t num_tokens;
    int vocab_size;
    char **vocab;
    int64_t num_a, num_b;    /* image-pairs */
    char *tokenizer;         /* text kinds: attribute "tokenizer", or NULL */
    int num_merges;          /* text kinds: rows of the optional "merges" dataset */
    char **merges;
    int seq_len, max_predictions; /* bert-pretraining */
    char *source;
    uint32_t checksum;       /* as stored (CRC-32, see docs/formats.md) */
    int in_memory;           /* datasets were read whole at open */
    int verified;            /* the checksum was recomputed and matched */
    int64_t data_bytes;      /* bytes the checksum covers */
} dlt_shard_info;

typedef struct {
    int64_t inmem_threshold; /* read datasets whole when they total less; default 256 MiB */
    int verify;              /* 0: never, 1: when read whole (default), 2: always */
} dlt_shard_open_opts;

typedef struct dlt_shard dlt_shard;

/* Opens and validates a shard: every error names the file. opts may be NULL. */
dlt_status dlt_shard_open(const char *path, const dlt_shard_open_opts *opts, dlt_shard **out);
const dlt_shard_info *dlt_shard_get_info(const dlt_shard *s);
const char *dlt_shard_path(const dlt_shard *s);
/* Recomputes the checksum (reading the file if needed) and compares. */
dlt_status dlt_shard_verify(dlt_shard *s);
void dlt_shard_close(dlt_shard *s);

/* Sample readers; safe to call from several threads at once. */
dlt_status dlt_shard_read_image(dlt_shard *s, int64_t i, uint8_t *hwc, int32_t *label);
/* Points *hwc at sample i when the shard is in memory; else returns DLT_ERR_UNSUPPORTED. */
dlt_status dlt_shard_peek_image(const dlt_shard *s, int64_t i, const uint8_t **hwc);
int32_t dlt_shard_label(const dlt_shard *s, int64_t i); /* classification; labels are kept */
/* Document i: *n tokens; copies min(*n, cap) of them into buf (buf may be NULL). */
dlt_status dlt_shard_read_document(dlt_shard *s, int64_t i, int32_t *buf, int64_t cap,
                                   int64_t *n);
/* Tokens [start, start + n) of the concatenated token stream of a text-tokens shard. */
dlt_status dlt_shard_read_tokens(dlt_shard *s, int64_t start, int64_t n, int32_t *buf);
/* Instance i of a bert-pretraining shard; any output may be NULL. */
dlt_status dlt_shard_read_bert(dlt_shard *s, int64_t i, int32_t *input_ids,
                               uint8_t *token_type_ids, int32_t *length,
                               int32_t *mlm_positions, int32_t *mlm_ids, float *mlm_weights,
                               int32_t *next_sentence_label);
dlt_status dlt_shard_read_detection(dlt_shard *s, int64_t i, uint8_t *hwc, float *boxes,
                                    int32_t *classes, uint8_t *masks, int *nboxes);
dlt_status dlt_shard_read_pair_image(dlt_shard *s, int domain, int64_t i, uint8_t *hwc);
/* Points *hwc at image i of domain 0 (A) or 1 (B) when the shard is in memory;
 * else returns DLT_ERR_UNSUPPORTED. */
dlt_status dlt_shard_peek_pair_image(const dlt_shard *s, int domain, int64_t i,
                                     const uint8_t **hwc);

/* Prints a human summary of the shard at path (kind, samples, shapes, dtypes,
 * classes, checksum status) to out. verify: recompute the checksum. */
dlt_status dlt_shard_describe(FILE *out, const char *path, int verify);

/* ---------------------------------------------------------------- converters */

typedef struct {
    const char *out_dir;    /* created if missing */
    const char *prefix;     /* file prefix for single-split sources; NULL: "train" */
    const char *split;      /* "train" or "test" for sources with splits; NULL: all */
    int num_shards;         /* per split; 0: from shard_size */
    int64_t shard_size;     /* samples per shard; 0: about 128 MiB of data per shard */
    double val_fraction;    /* move this fraction of the training samples to "val" shards */
    uint64_t seed;          /* picks the validation samples (and synthetic data) */
    int deflate;            /* 1..9; 0: 4 */
    FILE *progress;         /* progress bar stream (redrawn on a terminal); NULL: silent */
} dlt_convert_opts;

void dlt_convert_opts_default(dlt_convert_opts *o);

/* IDX pair (.gz or plain): images u8 [N,H,W] or [N,H,W,C], labels u8 [N]. */
dlt_status dlt_convert_idx(const char *images, const char *labels, const char *source_name,
                           const char *const *class_names, int num_classes,
                           const dlt_convert_opts *o);
/* Debian's dataset-fashion-mnist layout: {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
 * in src_dir; writes train-* and test-* shards with the 10 class names. */
dlt_status dlt_convert_fashion_mnist(const char *src_dir, const dlt_convert_opts *o);
/* CIFAR-10 (data_batch_*.bin, test_batch.bin) or CIFAR-100 (train.bin, test.bin) binary. */
dlt_status dlt_convert_cifar(const char *dir, const dlt_convert_opts *o);
/* One class per subfolder of dir (sorted names), PNG and JPEG files. resize_h/w 0:
 * keep (all images must then share one size); channels 1 or 3. */
dlt_status dlt_convert_image_folder(const char *dir, int resize_h, int resize_w, int channels,
                                    const dlt_convert_opts *o);
/* Learnable random images: each class has a fixed random template; samples add noise. */
dlt_status dlt_convert_synthetic(int64_t num, int h, int w, int c, int classes,
                                 const dlt_convert_opts *o);
/* Two unpaired image domains (CycleGAN's trainA/trainB) into image-pairs shards
 * OUT/PREFIX-*.h5: the PNG and JPEG files directly in dir_a are domain A, those in
 * dir_b domain B, each in sorted name order. size_h/w 0: keep (every image of both
 * folders must then share one size); else bilinear resize. channels 1 or 3.
 * o->val_fraction moves that fraction of each domain to val-* shards. */
dlt_status dlt_convert_two_domain(const char *dir_a, const char *dir_b, int size_h, int size_w,
                                  int channels, const dlt_convert_opts *o);
/* Fashion-MNIST class name or id -> 0..9: "7", "sneaker", "Ankle boot", "ankle-boot",
 * "t-shirt" (case, spaces and punctuation ignored; a unique prefix will do). */
dlt_status dlt_fashion_mnist_class(const char *name, int *id);
/* Two Fashion-MNIST classes of Debian's dataset-fashion-mnist (layout as
 * dlt_convert_fashion_mnist) as domains A and B, train-* and test-* image-pairs
 * shards (o->split: one of them). NULL classes: sneaker (7) and ankle boot (9). */
dlt_status dlt_convert_fashion_mnist_pair(const char *src_dir, const char *class_a,
                                          const char *class_b, const dlt_convert_opts *o);

/* ------------------------------------------------------------------- loader */

typedef struct {
    const char *paths;        /* glob of image-classification shards (image-pairs: pair loader) */
    int batch_size;           /* per rank */
    int shuffle;              /* permute every epoch (else dataset order) */
    uint64_t seed;
    int drop_last;            /* 1: drop the last incomplete global batch; 0: pad by wrapping */
    float mean[DLT_DATA_MAX_CHANNELS]; /* per channel, on pixel/255 */
    float std[DLT_DATA_MAX_CHANNELS];
    int crop_pad;             /* random crop after zero padding by this many pixels; 0: off */
    int flip;                 /* random horizontal flip */
    int prefetch;             /* batches prepared ahead; >= 1 */
    int threads;              /* background workers; 0: prepare batches in the caller */
    int rank, world_size;
    int64_t inmem_threshold;  /* see dlt_shard_open_opts */
    int verify;               /* see dlt_shard_open_opts */
} dlt_loader_config;

/* batch 32, shuffle, seed 0, drop_last, mean 0, std 1, no augmentation, prefetch 2,
 * 1 thread, rank 0 of 1, 256 MiB threshold, verify 1. */
void dlt_loader_config_default(dlt_loader_config *c);

typedef struct {
    float *images;      /* [size, C, H, W], normalised */
    int32_t *labels;    /* [size] */
    int64_t *indices;   /* [size] global sample indices */
    int size;           /* batch_size */
    int valid;          /* the first `valid` samples are real; the rest repeat earlier ones */
    int64_t epoch, step;
    int last_in_epoch;
} dlt_batch;

/* Where the next batch comes from: restoring it repeats the same batches. */
typedef struct {
    int64_t epoch, step;
} dlt_loader_cursor;

typedef struct dlt_loader dlt_loader;

/* Opens and validates every shard the glob matches; starts the workers. */
dlt_status dlt_loader_open(const dlt_loader_config *cfg, dlt_loader **out);
void dlt_loader_close(dlt_loader *l);
/* The batch stays valid until the next call to dlt_loader_next, set_cursor or close.
 * Batches run on across epochs; batch->last_in_epoch marks an epoch's end. */
dlt_status dlt_loader_next(dlt_loader *l, dlt_batch *batch);
dlt_loader_cursor dlt_loader_get_cursor(const dlt_loader *l);
dlt_status dlt_loader_set_cursor(dlt_loader *l, dlt_loader_cursor c);
int64_t dlt_loader_num_samples(const dlt_loader *l);   /* global */
int64_t dlt_loader_steps_per_epoch(const dlt_loader *l);
/* shape of one sample: C, H, W */
void dlt_loader_sample_shape(const dlt_loader *l, int *c, int *h, int *w);
int dlt_loader_num_classes(const dlt_loader *l);
const char *dlt_loader_class_name(const dlt_loader *l, int i);
/* The first shard the glob matched (sorted), for messages about the data. */
const char *dlt_loader_first_path(const dlt_loader *l);

/* ------------------------------------------------------- two-domain loader */

/* Unpaired batches of two image domains from image-pairs shards (CycleGAN):
 * a batch of A and a batch of B, drawn independently, each domain with its own
 * shuffled order per pass (seeded by hash(seed, 'A') and hash(seed, 'B')),
 * per-rank disjoint as the image loader's. An epoch is one pass over the larger
 * domain (A when equal); the smaller one cycles through fresh passes meanwhile.
 * The cursor is the image loader's (epoch, step): it fixes both streams. */
typedef struct {
    float *a, *b;                   /* [size, C, H, W] each, normalised */
    int64_t *indices_a, *indices_b; /* [size] image indices within their domain */
    int size;                       /* batch_size */
    int valid_a, valid_b;           /* real images first; the rest repeat (pad mode) */
    int64_t epoch, step;            /* of the larger domain's passes */
    int last_in_epoch;
} dlt_pair_batch;

typedef struct dlt_pair_loader dlt_pair_loader;

/* dlt_loader_config_default with mean = std = 0.5 for every channel, so pixels
 * come out as x/127.5 - 1 in [-1, 1] (GAN generators end in tanh). */
void dlt_pair_loader_config_default(dlt_loader_config *c);
/* cfg->paths: a glob of image-pairs shards; the other fields as for dlt_loader_open,
 * applied to both domains. */
dlt_status dlt_pair_loader_open(const dlt_loader_config *cfg, dlt_pair_loader **out);
void dlt_pair_loader_close(dlt_pair_loader *l);
/* The batch stays valid until the next call to next, set_cursor or close. */
dlt_status dlt_pair_loader_next(dlt_pair_loader *l, dlt_pair_batch *batch);
dlt_loader_cursor dlt_pair_loader_get_cursor(const dlt_pair_loader *l);
dlt_status dlt_pair_loader_set_cursor(dlt_pair_loader *l, dlt_loader_cursor c);
int64_t dlt_pair_loader_num_images(const dlt_pair_loader *l, int domain); /* 0 = A, 1 = B */
int64_t dlt_pair_loader_steps_per_epoch(const dlt_pair_loader *l);
int dlt_pair_loader_epoch_domain(const dlt_pair_loader *l); /* the larger: 0 = A, 1 = B */
void dlt_pair_loader_sample_shape(const dlt_pair_loader *l, int *c, int *h, int *w);
const char *dlt_pair_loader_first_path(const dlt_pair_loader *l);

/* ------------------------------------------ detection (Mask R-CNN data) */

/* One image of a detection shard (docs/formats.md). The canvas is the shard's
 * H×W×C; the image fills its top-left h×w and the rest is zero. Boxes and
 * masks are in canvas pixels; masks are 0/1 bitmaps of the shard's mask size
 * (the canvas size for everything dlprep writes). */
typedef struct {
    const uint8_t *hwc;     /* [H, W, C] */
    int h, w;               /* the image within the canvas; 0: the whole canvas */
    int orig_h, orig_w;     /* the source image's size (before any resize); 0: h, w */
    int64_t image_id;       /* e.g. COCO's image id */
    int nboxes;             /* 0..M */
    const float *boxes;     /* [nboxes, 4] x1, y1, x2, y2 in pixels */
    const int32_t *classes; /* [nboxes], 1..K-1 (0 is the background) */
    const uint8_t *iscrowd; /* [nboxes] 0/1; NULL: all 0 */
    const uint8_t *masks;   /* [nboxes, mask_h, mask_w]; NULL: zeros */
} dlt_det_sample;

dlt_status dlt_shard_write_det(dlt_shard_writer *w, const dlt_det_sample *s);
/* The per-image fields dlt_shard_read_detection does not return; any may be NULL.
 * sizes: h, w (the image in the canvas), orig_h, orig_w; iscrowd: [M]. */
dlt_status dlt_shard_read_det_meta(dlt_shard *s, int64_t i, int32_t sizes[4],
                                   int64_t *image_id, uint8_t *iscrowd);

/* dlprep detection-synth: 1-6 Fashion-MNIST items (src_dir as for
 * dlt_convert_fashion_mnist; train-* from its train set, val-* from t10k) on
 * canvas×canvas RGB images with exact boxes and masks, classes = FMNIST class
 * + 1; also OUT/instances_{train,val}.json (COCO ground truth, RLE masks).
 * num: images in all; o->val_fraction (0: 0.1) of them are val; o->seed. */
dlt_status dlt_convert_detection_synth(const char *src_dir, int64_t num, int canvas,
                                       const dlt_convert_opts *o);
/* dlprep coco: COCO instances JSON + image folder -> detection shards
 * OUT/PREFIX-*.h5 (PREFIX: o->prefix, default train). Images whose longer side
 * exceeds max_size (0: 1333) are downscaled to it; max_boxes (0: 100) objects
 * per image are kept, in file order (see docs/formats.md). */
dlt_status dlt_convert_coco(const char *images_dir, const char *annotations, int max_size,
                            int max_boxes, const dlt_convert_opts *o);
/* COCO masks, exposed for tests: polygon (xy[2k], pycocotools' rasteriser) and
 * RLE (counts[n] column-major runs, first of zeros) -> h×w row-major 0/1 mask,
 * OR-ed into out. The compressed counts string decodes into *counts (malloc'd). */
dlt_status dlt_coco_poly_fill(const double *xy, int k, int h, int w, uint8_t *out);
dlt_status dlt_coco_rle_fill(const uint32_t *counts, int64_t n, int h, int w, uint8_t *out);
dlt_status dlt_coco_rle_decode_string(const char *s, uint32_t **counts, int64_t *n);

/* Fixed-shape detection batches (torchvision's GeneralizedRCNNTransform with
 * static shapes): each image is resized keeping its aspect so that its shorter
 * side is min_size unless the longer would pass max_size (then the longer is
 * max_size), normalised, optionally flipped, and placed at the top-left of a
 * batch_h×batch_w canvas of zeros. Sampling, seeding, per-rank sharding and
 * prefetching are the image loader's (loader.c). */
typedef struct {
    dlt_loader_config base;  /* paths, batch_size, shuffle, seed, drop_last, mean, std,
                                flip, prefetch, threads, rank, world_size, inmem, verify;
                                crop_pad must be 0 */
    int min_size, max_size;  /* default 800, 1333 */
    int size_divisible;      /* the batch shape is a multiple of it; default 32 */
    int batch_h, batch_w;    /* 0: the largest resized image of the data set, rounded up */
    int masks;               /* 1 (default): produce per-box masks; 0: skip them */
    int skip_crowd;          /* 1: crowd regions are left out of the boxes (torchvision
                                trains without them); 0 (default): kept, flagged */
} dlt_det_loader_config;

/* The image loader's defaults with ImageNet's mean and std (as torchvision's
 * detection models), 800/1333, 32, masks on. */
void dlt_det_loader_config_default(dlt_det_loader_config *c);

typedef struct {
    float *images;        /* [B, C, batch_h, batch_w], zero past each image_size */
    float *boxes;         /* [B, M, 4] x1, y1, x2, y2 in batch pixels; 0 past num_boxes */
    int32_t *classes;     /* [B, M]; 0 past num_boxes */
    uint8_t *box_valid;   /* [B, M] 1 for the first num_boxes[b] slots */
    uint8_t *iscrowd;     /* [B, M] */
    uint8_t *masks;       /* [B, M, batch_h, batch_w] 0/1, or NULL (config masks = 0) */
    int32_t *num_boxes;   /* [B] */
    int32_t *image_sizes; /* [B, 2] h, w of the resized image (the rest is padding) */
    int32_t *orig_sizes;  /* [B, 2] the source image's h, w */
    float *scales;        /* [B, 2] resized / source size in y and x: a box of the
                             source image is box * scale (before the flip) */
    uint8_t *flipped;     /* [B] */
    int64_t *image_ids;   /* [B] */
    int64_t *indices;     /* [B] global sample indices */
    int size, valid;      /* as dlt_batch */
    int64_t epoch, step;
    int last_in_epoch;
} dlt_det_batch;

typedef struct dlt_det_loader dlt_det_loader;

dlt_status dlt_det_loader_open(const dlt_det_loader_config *cfg, dlt_det_loader **out);
void dlt_det_loader_close(dlt_det_loader *l);
/* The batch stays valid until the next call to next, set_cursor or close. */
dlt_status dlt_det_loader_next(dlt_det_loader *l, dlt_det_batch *batch);
dlt_loader_cursor dlt_det_loader_get_cursor(const dlt_det_loader *l);
dlt_status dlt_det_loader_set_cursor(dlt_det_loader *l, dlt_loader_cursor c);
int64_t dlt_det_loader_num_samples(const dlt_det_loader *l);
int64_t dlt_det_loader_steps_per_epoch(const dlt_det_loader *l);
/* C, batch_h, batch_w, M */
void dlt_det_loader_shape(const dlt_det_loader *l, int *c, int *h, int *w, int *max_boxes);
int dlt_det_loader_num_classes(const dlt_det_loader *l); /* with the background */
const char *dlt_det_loader_class_name(const dlt_det_loader *l, int i);
/* The resized size of an h×w image, exactly as torchvision computes it: s =
 * min(min_size / min(h, w), max_size / max(h, w)) in float32, then floor(h * s),
 * floor(w * s) (tests/fixtures/det_resize.h5 holds torchvision's answers). */
void dlt_det_resized_size(int h, int w, int min_size, int max_size, int *rh, int *rw);

/* The pieces the loader is made of, exposed for tests and other loaders. */
uint64_t dlt_data_hash(uint64_t a, uint64_t b);
/* perm[0..n) = the permutation of epoch `epoch` (identity when !shuffle). */
void dlt_data_permutation(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch, int shuffle);
/* u8 HWC → f32 CHW with optional crop/flip drawn from (seed, epoch, index), then
 * (x/255 - mean[c]) / std[c]. */
void dlt_data_transform(const uint8_t *hwc, int h, int w, int c, float *chw, const float *mean,
                        const float *std, int crop_pad, int flip, uint64_t seed,
                        int64_t epoch, int64_t index);

#ifdef __cplusplus
}
#endif
#endif
