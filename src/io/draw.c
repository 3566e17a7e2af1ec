/* Drawing on 8-bit RGB images (dlt_draw.h): fills, outlines, lines, masks and
 * 5x7 pixel text, every pixel clipped to the image. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_draw.h"

/* The 5x7 font: seven rows of five pixels ('#' set), rows separated by a
 * space, so a glyph reads as its picture turned on its side. Capitals only:
 * lower case draws as upper case. */
static const char *const font[128] = {
    ['0'] = ".###. #...# #..## #.#.# ##..# #...# .###.",
    ['1'] = "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    ['2'] = ".###. #...# ....# ...#. ..#.. .#... #####",
    ['3'] = "##### ...#. ..#.. ...#. ....# #...# .###.",
    ['4'] = "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    ['5'] = "##### #.... ####. ....# ....# #...# .###.",
    ['6'] = "..##. .#... #.... ####. #...# #...# .###.",
    ['7'] = "##### ....# ...#. ..#.. .#... .#... .#...",
    ['8'] = ".###. #...# #...# .###. #...# #...# .###.",
    ['9'] = ".###. #...# #...# .#### ....# ...#. .##..",
    ['A'] = ".###. #...# #...# ##### #...# #...# #...#",
    ['B'] = "####. #...# #...# ####. #...# #...# ####.",
    ['C'] = ".###. #...# #.... #.... #.... #...# .###.",
    ['D'] = "###.. #..#. #...# #...# #...# #..#. ###..",
    ['E'] = "##### #.... #.... ####. #.... #.... #####",
    ['F'] = "##### #.... #.... ####. #.... #.... #....",
    ['G'] = ".###. #...# #.... #.### #...# #...# .####",
    ['H'] = "#...# #...# #...# ##### #...# #...# #...#",
    ['I'] = ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    ['J'] = "..### ...#. ...#. ...#. ...#. #..#. .##..",
    ['K'] = "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    ['L'] = "#.... #.... #.... #.... #.... #.... #####",
    ['M'] = "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    ['N'] = "#...# #...# ##..# #.#.# #..## #...# #...#",
    ['O'] = ".###. #...# #...# #...# #...# #...# .###.",
    ['P'] = "####. #...# #...# ####. #.... #.... #....",
    ['Q'] = ".###. #...# #...# #...# #.#.# #..#. .##.#",
    ['R'] = "####. #...# #...# ####. #.#.. #..#. #...#",
    ['S'] = ".#### #.... #.... .###. ....# ....# ####.",
    ['T'] = "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    ['U'] = "#...# #...# #...# #...# #...# #...# .###.",
    ['V'] = "#...# #...# #...# #...# #...# .#.#. ..#..",
    ['W'] = "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    ['X'] = "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    ['Y'] = "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    ['Z'] = "##### ....# ...#. ..#.. .#... #.... #####",
    [' '] = "..... ..... ..... ..... ..... ..... .....",
    ['.'] = "..... ..... ..... ..... ..... .##.. .##..",
    [':'] = "..... .##.. .##.. ..... .##.. .##.. .....",
    ['-'] = "..... ..... ..... ##### ..... ..... .....",
    ['_'] = "..... ..... ..... ..... ..... ..... #####",
    ['%'] = "##... ##..# ...#. ..#.. .#... #..## ...##",
    ['('] = "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    [')'] = ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
    ['/'] = "..... ....# ...#. ..#.. .#... #.... .....",
    [','] = "..... ..... ..... ..... .##.. ..#.. .#...",
    ['+'] = "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
    ['='] = "..... ..... ##### ..... ##### ..... .....",
    ['?'] = ".###. #...# ....# ...#. ..#.. ..... ..#..",
    ['#'] = ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
    ['\''] = "..#.. ..#.. .#... ..... ..... ..... .....",
    ['['] = ".###. .#... .#... .#... .#... .#... .###.",
    [']'] = ".###. ...#. ...#. ...#. ...#. ...#. .###.",
    ['<'] = "...#. ..#.. .#... #.... .#... ..#.. ...#.",
    ['>'] = ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
    ['*'] = "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
    ['!'] = "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
};

static uint8_t blend(uint8_t old, uint8_t c, float alpha)
{
    float v = (1.f - alpha) * (float)old + alpha * (float)c;
    return (uint8_t)(v < 0.f ? 0 : v > 255.f ? 255 : (int)(v + 0.5f));
}

static void put(dlt_image8 *im, int x, int y, const uint8_t rgb[3], float alpha)
{
    if (x < 0 || y < 0 || x >= im->w || y >= im->h)
        return;
    uint8_t *p = im->px + ((size_t)y * im->w + x) * 3;
    for (int k = 0; k < 3; k++)
        p[k] = alpha >= 1.f ? rgb[k] : blend(p[k], rgb[k], alpha);
}

dlt_status dlt_draw_canvas(dlt_image8 *im, int w, int h, const uint8_t rgb[3])
{
    *im = (dlt_image8){0};
    if (w <= 0 || h <= 0)
        return dlt_seterr(DLT_ERR_INVALID, "canvas: size %dx%d must be positive", w, h);
    im->px = malloc((size_t)w * h * 3);
    if (!im->px)
        return dlt_seterr(DLT_ERR_NOMEM, "canvas: out of memory for %dx%d pixels", w, h);
    im->w = w, im->h = h, im->c = 3;
    for (size_t i = 0; i < (size_t)w * h; i++)
        memcpy(im->px + i * 3, rgb, 3);
    return DLT_OK;
}

dlt_status dlt_draw_to_rgb(const dlt_image8 *gray, dlt_image8 *out)
{
    static const uint8_t black[3] = {0, 0, 0};
    if (gray->c != 1 && gray->c != 3)
        return dlt_seterr(DLT_ERR_INVALID, "canvas: %d channels (expected 1 or 3)", gray->c);
    dlt_status st = dlt_draw_canvas(out, gray->w, gray->h, black);
    for (size_t i = 0; st == DLT_OK && i < (size_t)gray->w * gray->h; i++)
        for (int k = 0; k < 3; k++)
            out->px[i * 3 + k] = gray->px[i * gray->c + (gray->c == 3 ? k : 0)];
    return st;
}

void dlt_draw_fill(dlt_image8 *im, int x1, int y1, int x2, int y2, const uint8_t rgb[3],
                   float alpha)
{
    int xa = x1 < x2 ? x1 : x2, xb = x1 < x2 ? x2 : x1, ya = y1 < y2 ? y1 : y2,
        yb = y1 < y2 ? y2 : y1;
    xa = xa < 0 ? 0 : xa, ya = ya < 0 ? 0 : ya;
    xb = xb >= im->w ? im->w - 1 : xb, yb = yb >= im->h ? im->h - 1 : yb;
    for (int y = ya; y <= yb; y++)
        for (int x = xa; x <= xb; x++)
            put(im, x, y, rgb, alpha);
}

void dlt_draw_rect(dlt_image8 *im, int x1, int y1, int x2, int y2, const uint8_t rgb[3],
                   int thickness)
{
    int xa = x1 < x2 ? x1 : x2, xb = x1 < x2 ? x2 : x1, ya = y1 < y2 ? y1 : y2,
        yb = y1 < y2 ? y2 : y1;
    for (int t = 0; t < thickness && xa + t <= xb - t && ya + t <= yb - t; t++) {
        dlt_draw_fill(im, xa + t, ya + t, xb - t, ya + t, rgb, 1.f); /* top */
        dlt_draw_fill(im, xa + t, yb - t, xb - t, yb - t, rgb, 1.f); /* bottom */
        dlt_draw_fill(im, xa + t, ya + t, xa + t, yb - t, rgb, 1.f); /* left */
        dlt_draw_fill(im, xb - t, ya + t, xb - t, yb - t, rgb, 1.f); /* right */
    }
}

void dlt_draw_line(dlt_image8 *im, int x0, int y0, int x1, int y1, const uint8_t rgb[3],
                   int thickness)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy, lo = (thickness - 1) / 2, hi = thickness / 2;
    for (;;) {
        dlt_draw_fill(im, x0 - lo, y0 - lo, x0 + hi, y0 + hi, rgb, 1.f);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * err;
        if (e2 >= dy)
            err += dy, x0 += sx;
        if (e2 <= dx)
            err += dx, y0 += sy;
    }
}

void dlt_draw_mask(dlt_image8 *im, const uint8_t *mask, int mw, int mh, int x, int y,
                   const uint8_t rgb[3], float alpha)
{
    for (int r = 0; r < mh; r++)
        for (int c = 0; c < mw; c++)
            if (mask[(size_t)r * mw + c])
                put(im, x + c, y + r, rgb, alpha);
}

static const char *glyph(char ch)
{
    unsigned char u = (unsigned char)ch;
    if (u >= 'a' && u <= 'z')
        u = (unsigned char)(u - 'a' + 'A');
    return u < 128 && font[u] ? font[u] : font['?'];
}

int dlt_draw_text_width(const char *text, int scale)
{
    size_t n = strlen(text);
    return n ? (int)(6 * n - 1) * scale : 0;
}

int dlt_draw_text(dlt_image8 *im, int x, int y, const char *text, const uint8_t rgb[3], int scale)
{
    for (size_t i = 0; text[i]; i++) {
        const char *g = glyph(text[i]);
        int gx = x + (int)i * 6 * scale;
        for (int r = 0; r < 7; r++)
            for (int c = 0; c < 5; c++)
                if (g[r * 6 + c] == '#')
                    dlt_draw_fill(im, gx + c * scale, y + r * scale, gx + (c + 1) * scale - 1,
                                  y + (r + 1) * scale - 1, rgb, 1.f);
    }
    return dlt_draw_text_width(text, scale);
}

void dlt_draw_palette(int k, uint8_t rgb[3])
{
    /* hue k * 0.618... of the circle, HSV with S = 0.85, V = 0.95 */
    double h = fmod(k * 0.6180339887498949, 1.0) * 6.0, s = 0.85, v = 0.95;
    int i = (int)h;
    double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double r, g, b;
    switch (i) {
    case 0:
        r = v, g = t, b = p;
        break;
    case 1:
        r = q, g = v, b = p;
        break;
    case 2:
        r = p, g = v, b = t;
        break;
    case 3:
        r = p, g = q, b = v;
        break;
    case 4:
        r = t, g = p, b = v;
        break;
    default:
        r = v, g = p, b = q;
        break;
    }
    rgb[0] = (uint8_t)lround(r * 255), rgb[1] = (uint8_t)lround(g * 255),
    rgb[2] = (uint8_t)lround(b * 255);
}
