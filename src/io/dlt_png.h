/* Image outputs of a run: 8-bit PNG encoding (libpng) to memory or a file, and
 * sample grids, N images [N, C, H, W] f32 laid out in rows like
 * torchvision.utils.make_grid and quantised like torchvision.utils.save_image.
 * A GAN or VAE trainer writes its samples with dlt_image_grid + dlt_png_write
 * (runs/<name>/samples-<step>.png) and dlt_tb_image (dlt_logio.h). */
#ifndef DLT_PNG_H
#define DLT_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An 8-bit image, rows top to bottom, channels interleaved (HWC): c = 1
 * (grayscale) or 3 (RGB). */
typedef struct {
    int h, w, c;
    uint8_t *px; /* malloc'd by dlt_image_grid; dlt_image8_free */
} dlt_image8;

void dlt_image8_free(dlt_image8 *im); /* frees px, NULL is a no-op */

/* PNG bytes of im (8 bits per sample, gray or RGB, no alpha), malloc'd into
 * *png (the caller frees it) with their length in *len. DLT_ERR_INVALID for a
 * size or channel count PNG cannot hold. */
dlt_status dlt_png_encode(const dlt_image8 *im, uint8_t **png, size_t *len);
/* Writes im as a PNG file at path: the bytes go to "<path>.tmp", which is then
 * renamed, so a viewer never sees half a file. */
dlt_status dlt_png_write(const char *path, const dlt_image8 *im);

/* How dlt_image_grid lays images out and maps values to bytes; all zeros (or
 * NULL) is 8 columns, padding 2, range [-1, 1]. */
#define DLT_GRID_NO_PAD (-1)
typedef struct {
    int cols;     /* images per row (make_grid's nrow); <= 0: 8 */
    int pad;      /* pixels around and between images (make_grid's padding); 0: 2,
                   * DLT_GRID_NO_PAD (or any value < 0): none */
    float lo, hi; /* value range mapped to 0..255; lo == hi: [-1, 1] (tanh outputs) */
} dlt_grid_opts;

/* The grid of n images x [n, c, h, w] (f32, NCHW, c = 1 or 3):
 *   cols' = min(cols, n) columns, rows = ceil(n / cols') rows;
 *   the grid is (rows * (h + pad) + pad) x (cols' * (w + pad) + pad) pixels,
 *   filled with 0 (black), image k at row k / cols', column k % cols', its
 *   top-left pixel at (pad + row * (h + pad), pad + column * (w + pad));
 *   each value v becomes the byte
 *     floor(clamp((clamp(v, lo, hi) - lo) / (hi - lo) * 255 + 0.5, 0, 255))
 *   computed in f32 (a NaN becomes 0).
 * This is torchvision's make_grid(x, nrow=cols, padding=pad, normalize=True,
 * value_range=(lo, hi)) followed by save_image's mul(255).add_(0.5).clamp_(0,
 * 255) byte conversion, with two differences: one channel stays a gray image
 * (make_grid repeats it into three equal RGB channels: the same pixels), and a
 * single image (n = 1) is padded like any other (make_grid returns it bare).
 * out->px is malloc'd (dlt_image8_free). */
dlt_status dlt_image_grid(const float *x, int n, int c, int h, int w, const dlt_grid_opts *o,
                          dlt_image8 *out);

#ifdef __cplusplus
}
#endif
#endif
