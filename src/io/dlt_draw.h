/* Drawing on 8-bit RGB images (dlt_image8 with c = 3): rectangles, lines,
 * translucent fills and masks, and text in a built-in 5x7 pixel font, for the
 * pictures a run writes (detections with their boxes, labels and masks; a
 * search's reward plot). Everything is clipped to the image; coordinates are
 * pixels, x to the right, y down, (0, 0) the top-left pixel. Colours are RGB
 * byte triples; alpha in [0, 1] blends a colour over the image as
 * round((1 - alpha) old + alpha colour). */
#ifndef DLT_DRAW_H
#define DLT_DRAW_H

#include <stdint.h>

#include "dlt_png.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A w x h RGB image filled with one colour; im->px is malloc'd (dlt_image8_free). */
dlt_status dlt_draw_canvas(dlt_image8 *im, int w, int h, const uint8_t rgb[3]);
/* A gray (c = 1) image as RGB (three equal channels); out->px is malloc'd. */
dlt_status dlt_draw_to_rgb(const dlt_image8 *gray, dlt_image8 *out);

/* Pixels x1..x2, y1..y2 (inclusive, any order) filled with rgb at alpha. */
void dlt_draw_fill(dlt_image8 *im, int x1, int y1, int x2, int y2, const uint8_t rgb[3], float alpha);
/* The outline of that rectangle, `thickness` pixels wide, inside it. */
void dlt_draw_rect(dlt_image8 *im, int x1, int y1, int x2, int y2, const uint8_t rgb[3], int thickness);
/* A straight line from (x0, y0) to (x1, y1), both ends included (Bresenham),
 * each point a thickness x thickness square centred on it. */
void dlt_draw_line(dlt_image8 *im, int x0, int y0, int x1, int y1, const uint8_t rgb[3], int thickness);
/* The pixels where mask (mh x mw bytes, row-major, nonzero = inside) is set,
 * placed with its top-left at (x, y), blended with rgb at alpha. */
void dlt_draw_mask(dlt_image8 *im, const uint8_t *mask, int mw, int mh, int x, int y, const uint8_t rgb[3],
                   float alpha);

/* Text in the 5x7 font, each font pixel a scale x scale square, glyphs 6
 * columns apart (one blank column), the top-left of the first at (x, y).
 * Letters draw as capitals; a character without a glyph draws as '?'.
 * Returns the width in pixels (dlt_draw_text_width). */
int dlt_draw_text(dlt_image8 *im, int x, int y, const char *text, const uint8_t rgb[3], int scale);
int dlt_draw_text_width(const char *text, int scale); /* 6 scale per character, less the last blank */
#define DLT_DRAW_TEXT_HEIGHT 7                        /* font pixels; times scale */

/* A distinct colour for index k (class or series): hues spread by the golden
 * ratio, full saturation, bright enough for white text. */
void dlt_draw_palette(int k, uint8_t rgb[3]);

#ifdef __cplusplus
}
#endif
#endif
