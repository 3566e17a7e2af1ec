/* Private to src/data: image decoding and resizing for the image-folder converter. */
#ifndef DLT_IMAGE_IO_H
#define DLT_IMAGE_IO_H

#include "dlt_data.h"

typedef struct {
    int h, w, c;
    uint8_t *px; /* HWC */
} dlt_image;

int dlt_image_is_supported(const char *name); /* .png, .jpg, .jpeg */
/* Decodes to 8 bits with `channels` (1 or 3) channels. */
dlt_status dlt_image_load(const char *path, int channels, dlt_image *im);
void dlt_image_free(dlt_image *im);
void dlt_image_resize_bilinear(const uint8_t *src, int sh, int sw, int c, uint8_t *dst, int dh,
                               int dw);

#endif
