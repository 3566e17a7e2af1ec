/* XY plots (dlt_plot.h): a frame with nice ticks and their labels, the
 * series in palette colours, a legend in the top-right corner, the title
 * above and the axis labels below and at the left. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dlt_draw.h"
#include "dlt_plot.h"

int dlt_plot_ticks(double lo, double hi, int target, double *t0, double *t1, double *step)
{
    if (target < 1)
        target = 1;
    if (!(hi > lo)) { /* one value (or none): a unit range around it */
        double m = isfinite(lo) ? lo : 0, w = fabs(m) > 0 ? fabs(m) * 0.1 : 1;
        lo = m - w, hi = m + w;
    }
    double raw = (hi - lo) / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double s = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    *step = s;
    *t0 = floor(lo / s + 1e-9) * s;
    *t1 = ceil(hi / s - 1e-9) * s;
    return (int)lround((*t1 - *t0) / s) + 1;
}

/* A tick label: %g with as many digits as the step needs, "-0" as "0". */
static void tick_label(char *buf, size_t n, double v, double step)
{
    if (fabs(v) < step * 1e-9)
        v = 0;
    int digits = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) >= 1e6 || (fabs(v) > 0 && fabs(v) < 1e-4))
        snprintf(buf, n, "%.3g", v);
    else
        snprintf(buf, n, "%.*f", digits, v);
}

typedef struct {
    int left, top, right, bottom; /* the data area in pixels, inclusive */
    double x0, x1, y0, y1;        /* its data range */
} frame;

static int px_x(const frame *f, double x)
{
    return f->left + (int)lround((x - f->x0) / (f->x1 - f->x0) * (f->right - f->left));
}

static int px_y(const frame *f, double y)
{
    return f->bottom - (int)lround((y - f->y0) / (f->y1 - f->y0) * (f->bottom - f->top));
}

dlt_status dlt_plot_render(const dlt_plot_opts *o, const dlt_plot_series *s, int ns,
                           dlt_image8 *out)
{
    static const uint8_t white[3] = {255, 255, 255}, ink[3] = {20, 20, 20},
                         grid[3] = {225, 225, 225};
    dlt_plot_opts def = {0};
    if (!o)
        o = &def;
    int w = o->width > 0 ? o->width : 640, h = o->height > 0 ? o->height : 400;
    *out = (dlt_image8){0};
    if (w < 160 || h < 120)
        return dlt_seterr(DLT_ERR_INVALID, "plot: %dx%d pixels is too small (at least 160x120)", w,
                          h);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++)
            if (isfinite(s[k].x[i]) && isfinite(s[k].y[i])) {
                xlo = fmin(xlo, s[k].x[i]), xhi = fmax(xhi, s[k].x[i]);
                ylo = fmin(ylo, s[k].y[i]), yhi = fmax(yhi, s[k].y[i]);
            }
    if (!isfinite(xlo))
        return dlt_seterr(DLT_ERR_INVALID, "plot%s%s: no series has a finite point",
                          o->title ? " " : "", o->title ? o->title : "");
    dlt_status st = dlt_draw_canvas(out, w, h, white);
    if (st != DLT_OK)
        return st;
    frame f = {.left = 64,
               .top = o->title    ? 38
                      : o->ylabel ? 22
                                  : 12,
               .right = w - 16,
               .bottom = h - (o->xlabel ? 42 : 28)};
    double xs, ys;
    int nx = dlt_plot_ticks(xlo, xhi, 6, &f.x0, &f.x1, &xs),
        ny = dlt_plot_ticks(ylo, yhi, 5, &f.y0, &f.y1, &ys);
    char buf[64];
    for (int i = 0; i < nx; i++) { /* vertical grid lines and x labels */
        double v = f.x0 + i * xs;
        int x = px_x(&f, v);
        dlt_draw_line(out, x, f.top, x, f.bottom, grid, 1);
        tick_label(buf, sizeof buf, v, xs);
        dlt_draw_text(out, x - dlt_draw_text_width(buf, 1) / 2, f.bottom + 6, buf, ink, 1);
    }
    for (int i = 0; i < ny; i++) {
        double v = f.y0 + i * ys;
        int y = px_y(&f, v);
        dlt_draw_line(out, f.left, y, f.right, y, grid, 1);
        tick_label(buf, sizeof buf, v, ys);
        dlt_draw_text(out, f.left - 6 - dlt_draw_text_width(buf, 1), y - 3, buf, ink, 1);
    }
    dlt_draw_rect(out, f.left, f.top, f.right, f.bottom, ink, 1);
    for (int k = 0; k < ns; k++) {
        uint8_t c[3];
        dlt_draw_palette(k, c);
        int style = s[k].style ? s[k].style : DLT_PLOT_LINE, have = 0, px = 0, py = 0;
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i]))
                continue;
            int x = px_x(&f, s[k].x[i]), y = px_y(&f, s[k].y[i]);
            if ((style & DLT_PLOT_LINE) && have)
                dlt_draw_line(out, px, py, x, y, c, 2);
            if (style & DLT_PLOT_POINTS)
                dlt_draw_fill(out, x - 2, y - 2, x + 2, y + 2, c, 1.f);
            px = x, py = y, have = 1;
        }
        if (s[k].label) { /* legend: a swatch and the label, one row per series */
            int tw = dlt_draw_text_width(s[k].label, 1), ly = f.top + 6 + k * 12;
            dlt_draw_fill(out, f.right - tw - 26, ly, f.right - tw - 16, ly + 6, c, 1.f);
            dlt_draw_text(out, f.right - tw - 8, ly, s[k].label, ink, 1);
        }
    }
    if (o->title)
        dlt_draw_text(out, (w - dlt_draw_text_width(o->title, 2)) / 2, 6, o->title, ink, 2);
    if (o->xlabel)
        dlt_draw_text(out, (f.left + f.right - dlt_draw_text_width(o->xlabel, 1)) / 2, h - 14,
                      o->xlabel, ink, 1);
    if (o->ylabel) /* above the y tick labels, at the top left */
        dlt_draw_text(out, 4, f.top - 14 > 0 ? f.top - 14 : 0, o->ylabel, ink, 1);
    return DLT_OK;
}

dlt_status dlt_plot_png(const char *path, const dlt_plot_opts *o, const dlt_plot_series *s, int ns)
{
    dlt_image8 im;
    dlt_status st = dlt_plot_render(o, s, ns, &im);
    if (st == DLT_OK)
        st = dlt_png_write(path, &im);
    dlt_image8_free(&im);
    return st;
}
