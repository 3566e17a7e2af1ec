/* png_check: decodes PNG files with libpng's reader (independent of
 * dltrain's writer) for the sample-grid tests.
 *   png_check A.png          prints "WIDTH HEIGHT CHANNELS MIN MAX" of A
 *   png_check A.png B.png    exit 0 when both decode to the same size and
 *                            pixels, else prints how many bytes differ, exit 1
 *   png_check A.png B.png W H  the same for the top-left W x H pixels of
 *                            each (same channels, both at least that big)
 * Exit 2 when a file does not decode. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    png_uint_32 w, h;
    int c;
    unsigned char *px; /* h rows of w * c bytes */
} image;

static int decode(const char *path, image *im)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&pi, path)) {
        fprintf(stderr, "png_check: %s: %s\n", path, pi.message);
        return 0;
    }
    /* keep the file's own channels: gray stays gray, colour is read as RGB */
    pi.format = (pi.format & PNG_FORMAT_FLAG_COLOR) ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    im->w = pi.width, im->h = pi.height, im->c = PNG_IMAGE_SAMPLE_CHANNELS(pi.format);
    im->px = malloc(PNG_IMAGE_SIZE(pi));
    if (!im->px || !png_image_finish_read(&pi, NULL, im->px, 0, NULL)) {
        fprintf(stderr, "png_check: %s: %s\n", path, im->px ? pi.message : "out of memory");
        png_image_free(&pi);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    image a = {0}, b = {0};
    if (argc != 2 && argc != 3 && argc != 5) {
        fprintf(stderr, "usage: png_check A.png [B.png [W H]]\n");
        return 2;
    }
    if (!decode(argv[1], &a) || (argc >= 3 && !decode(argv[2], &b))) {
        free(a.px);
        return 2;
    }
    size_t n = (size_t)a.w * a.h * a.c;
    int rc = 0;
    if (argc == 2) {
        int lo = 255, hi = 0;
        for (size_t i = 0; i < n; i++) {
            lo = a.px[i] < lo ? a.px[i] : lo;
            hi = a.px[i] > hi ? a.px[i] : hi;
        }
        printf("%u %u %d %d %d\n", (unsigned)a.w, (unsigned)a.h, a.c, lo, hi);
    } else if (argc == 5) {
        png_uint_32 w = (png_uint_32)atoi(argv[3]), h = (png_uint_32)atoi(argv[4]);
        if (a.c != b.c || w > a.w || w > b.w || h > a.h || h > b.h) {
            printf("the region %ux%u is not in both images\n", (unsigned)w, (unsigned)h);
            rc = 1;
        }
        size_t diff = 0;
        for (png_uint_32 y = 0; !rc && y < h; y++)
            for (size_t x = 0; x < (size_t)w * a.c; x++)
                diff += a.px[(size_t)y * a.w * a.c + x] != b.px[(size_t)y * b.w * b.c + x];
        if (diff) {
            printf("%zu bytes of the %ux%u region differ\n", diff, (unsigned)w, (unsigned)h);
            rc = 1;
        }
    } else if (a.w != b.w || a.h != b.h || a.c != b.c) {
        printf("%s is %ux%ux%d, %s is %ux%ux%d\n", argv[1], (unsigned)a.w, (unsigned)a.h, a.c,
               argv[2], (unsigned)b.w, (unsigned)b.h, b.c);
        rc = 1;
    } else {
        size_t diff = 0;
        for (size_t i = 0; i < n; i++)
            diff += a.px[i] != b.px[i];
        if (diff) {
            printf("%zu of %zu bytes differ\n", diff, n);
            rc = 1;
        }
    }
    free(a.px);
    free(b.px);
    return rc;
}
