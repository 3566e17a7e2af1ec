/* XY plots as PNG (plot.c, drawn with dlt_draw.h): a NAS search's reward per
 * child and running best, a benchmark's FID or loss curves. Axes span the
 * data rounded out to "nice" ticks (1, 2 or 5 times a power of ten), each
 * series in its palette colour as points, a line, or both, with a legend. */
#ifndef DLT_PLOT_H
#define DLT_PLOT_H

#include "dlt_png.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DLT_PLOT_POINTS = 1, DLT_PLOT_LINE = 2 };

typedef struct {
    const char *label; /* legend text (NULL: none) */
    int n;
    const double *x, *y; /* n points; non-finite ones are skipped */
    int style;           /* DLT_PLOT_POINTS | DLT_PLOT_LINE; 0: line */
} dlt_plot_series;

typedef struct {
    const char *title, *xlabel, *ylabel; /* NULL: none */
    int width, height;                   /* pixels; 0: 640 x 400 */
} dlt_plot_opts;

/* The plot of ns series as an RGB image (out->px malloc'd, dlt_image8_free).
 * DLT_ERR_INVALID when no series has a finite point or the size is too small. */
dlt_status dlt_plot_render(const dlt_plot_opts *o, const dlt_plot_series *s, int ns, dlt_image8 *out);
/* dlt_plot_render written to path (dlt_png_write: never half a file). */
dlt_status dlt_plot_png(const char *path, const dlt_plot_opts *o, const dlt_plot_series *s, int ns);

/* The axis of [lo, hi]: ticks t0, t0 + step, ..., t1 covering it with step
 * 1, 2 or 5 times a power of ten and about `target` intervals; an empty range
 * is widened around its value. Returns the number of ticks. */
int dlt_plot_ticks(double lo, double hi, int target, double *t0, double *t1, double *step);

#ifdef __cplusplus
}
#endif
#endif
