/* TensorBoard event files: TFRecord framing of Event protocol buffers, encoded
 * by hand (a handful of fields does not justify a protobuf dependency):
 * scalar summaries, and image summaries holding PNG bytes. */
#include "dlt_logio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dlt_tb_writer {
    FILE *f;
    uint8_t *buf;
    size_t cap;
};

/* Bitwise: event records are a few hundred bytes, and no table means no
 * lazily initialised global shared between threads. */
uint32_t dlt_crc32c(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

uint32_t dlt_crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/* A bounded output cursor: counts every byte, stores those that fit. */
typedef struct {
    uint8_t *p;
    size_t cap, n;
} sink;

static void put(sink *s, uint8_t b)
{
    if (s->n < s->cap)
        s->p[s->n] = b;
    s->n++;
}

static void put_varint(sink *s, uint64_t v)
{
    while (v >= 0x80) {
        put(s, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put(s, (uint8_t)v);
}

static void put_le(sink *s, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        put(s, (uint8_t)(v >> (8 * i)));
}

static void put_bytes(sink *s, const void *data, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(s, ((const uint8_t *)data)[i]);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80)
        v >>= 7, n++;
    return n;
}

/* Summary.Value {tag = 1 (string), simple_value = 2 (float)} */
static size_t value_len(const dlt_tb_scalar *v)
{
    size_t tl = strlen(v->tag);
    return 1 + varint_len(tl) + tl + 1 + 4;
}

size_t dlt_tb_encode_event(uint8_t *buf, size_t cap, double wall_time, int64_t step,
                           const char *file_version, int n, const dlt_tb_scalar *scalars)
{
    sink s = {buf, cap, 0};
    uint64_t bits;
    memcpy(&bits, &wall_time, sizeof bits);
    put(&s, 0x09); /* field 1, fixed64 */
    put_le(&s, bits, 8);
    if (step != 0) {   /* proto3 leaves defaults out, as TensorFlow's writer does */
        put(&s, 0x10); /* field 2, varint; a negative step takes ten bytes */
        put_varint(&s, (uint64_t)step);
    }
    if (file_version) {
        size_t l = strlen(file_version);
        put(&s, 0x1a); /* field 3, length-delimited */
        put_varint(&s, l);
        put_bytes(&s, file_version, l);
    }
    if (n > 0) {
        size_t sum = 0;
        for (int i = 0; i < n; i++) {
            size_t vl = value_len(&scalars[i]);
            sum += 1 + varint_len(vl) + vl;
        }
        put(&s, 0x2a); /* field 5: Summary */
        put_varint(&s, sum);
        for (int i = 0; i < n; i++) {
            size_t tl = strlen(scalars[i].tag);
            uint32_t fb;
            memcpy(&fb, &scalars[i].value, sizeof fb);
            put(&s, 0x0a); /* Summary.value = 1 */
            put_varint(&s, value_len(&scalars[i]));
            put(&s, 0x0a); /* Value.tag = 1 */
            put_varint(&s, tl);
            put_bytes(&s, scalars[i].tag, tl);
            put(&s, 0x15); /* Value.simple_value = 2, fixed32 */
            put_le(&s, fb, 4);
        }
    }
    return s.n;
}

void dlt_tfrecord_frame(uint8_t *out, const uint8_t *data, size_t len)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)((uint64_t)len >> (8 * i));
    uint32_t c = dlt_crc32c_mask(dlt_crc32c(0, out, 8));
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)(c >> (8 * i));
    memmove(out + 12, data, len);
    c = dlt_crc32c_mask(dlt_crc32c(0, data, len));
    for (int i = 0; i < 4; i++)
        out[12 + len + i] = (uint8_t)(c >> (8 * i));
}

/* What one record holds: scalars (with the file version), or an image. */
typedef struct {
    double wall_time;
    int64_t step;
    const char *version;
    int n;
    const dlt_tb_scalar *s;
    const dlt_tb_png *im;
} event_args;

static size_t encode(uint8_t *buf, size_t cap, const event_args *a)
{
    if (a->im)
        return dlt_tb_encode_image_event(buf, cap, a->wall_time, a->step, a->im);
    return dlt_tb_encode_event(buf, cap, a->wall_time, a->step, a->version, a->n, a->s);
}

static dlt_status write_record(dlt_tb_writer *w, const event_args *a)
{
    for (;;) {
        /* the event is encoded at offset 12, where the frame puts it */
        size_t len = encode(w->buf ? w->buf + 12 : NULL, w->cap > 16 ? w->cap - 16 : 0, a);
        if (len + 16 <= w->cap) {
            dlt_tfrecord_frame(w->buf, w->buf + 12, len);
            if (fwrite(w->buf, 1, len + 16, w->f) != len + 16 || fflush(w->f) != 0)
                return dlt_seterr(DLT_ERR_IO, "TensorBoard events: write failed: %s",
                                  strerror(errno));
            return DLT_OK;
        }
        uint8_t *nb = realloc(w->buf, len + 16);
        if (!nb)
            return dlt_seterr(DLT_ERR_NOMEM, "TensorBoard events: out of memory");
        w->buf = nb;
        w->cap = len + 16;
    }
}

static dlt_status write_event(dlt_tb_writer *w, double wall_time, int64_t step, const char *version,
                              int n, const dlt_tb_scalar *s)
{
    event_args a = {wall_time, step, version, n, s, NULL};
    return write_record(w, &a);
}

dlt_status dlt_tb_open(const char *dir, double wall_time, dlt_tb_writer **out, char *path,
                       size_t pathlen)
{
    char host[256] = "localhost", name[1400];
    *out = NULL;
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    dlt_tb_writer *w = calloc(1, sizeof *w);
    if (!w)
        return dlt_seterr(DLT_ERR_NOMEM, "TensorBoard events: out of memory");
    /* two writers in the same second (a quick resume) get distinct files */
    for (int k = 0; k < 100 && !w->f; k++) {
        if (k == 0)
            snprintf(name, sizeof name, "%s/events.out.tfevents.%lld.%s", dir, (long long)wall_time,
                     host);
        else
            snprintf(name, sizeof name, "%s/events.out.tfevents.%lld.%s.%d", dir,
                     (long long)wall_time, host, k);
        w->f = fopen(name, "wbx");
        if (!w->f && errno != EEXIST)
            break;
    }
    if (!w->f) {
        dlt_status st = dlt_seterr(DLT_ERR_IO, "%s: cannot create: %s", name, strerror(errno));
        free(w);
        return st;
    }
    if (path)
        snprintf(path, pathlen, "%s", name);
    dlt_status st = write_event(w, wall_time, 0, "brain.Event:2", 0, NULL);
    if (st != DLT_OK) {
        dlt_tb_close(w);
        return st;
    }
    *out = w;
    return DLT_OK;
}

dlt_status dlt_tb_scalars(dlt_tb_writer *w, double wall_time, int64_t step, int n,
                          const dlt_tb_scalar *s)
{
    if (!w)
        return DLT_OK;
    return write_event(w, wall_time, step, NULL, n, s);
}

dlt_status dlt_tb_close(dlt_tb_writer *w)
{
    if (!w)
        return DLT_OK;
    int e = fclose(w->f);
    free(w->buf);
    free(w);
    return e == 0 ? DLT_OK
                  : dlt_seterr(DLT_ERR_IO, "TensorBoard events: close failed: %s", strerror(errno));
}

/* Summary.Image {height = 1, width = 2, colorspace = 3 (varints),
 * encoded_image_string = 4 (bytes)}; zero fields are left out (proto3). */
static size_t image_len(const dlt_tb_png *im)
{
    size_t n = 1 + varint_len(im->png_len) + im->png_len;
    if (im->height)
        n += 1 + varint_len((uint64_t)im->height);
    if (im->width)
        n += 1 + varint_len((uint64_t)im->width);
    if (im->colorspace)
        n += 1 + varint_len((uint64_t)im->colorspace);
    return n;
}

size_t dlt_tb_encode_image_event(uint8_t *buf, size_t cap, double wall_time, int64_t step,
                                 const dlt_tb_png *im)
{
    sink s = {buf, cap, 0};
    uint64_t bits;
    memcpy(&bits, &wall_time, sizeof bits);
    put(&s, 0x09); /* Event.wall_time = 1, fixed64 */
    put_le(&s, bits, 8);
    if (step != 0) {
        put(&s, 0x10); /* Event.step = 2, varint */
        put_varint(&s, (uint64_t)step);
    }
    size_t tl = strlen(im->tag), il = image_len(im);
    /* the Summary.Value's length */
    size_t vl = 1 + varint_len(tl) + tl + 1 + varint_len(il) + il;
    put(&s, 0x2a); /* Event.summary = 5 */
    put_varint(&s, 1 + varint_len(vl) + vl);
    put(&s, 0x0a); /* Summary.value = 1 */
    put_varint(&s, vl);
    put(&s, 0x0a); /* Value.tag = 1 */
    put_varint(&s, tl);
    put_bytes(&s, im->tag, tl);
    put(&s, 0x22); /* Value.image = 4, length-delimited */
    put_varint(&s, il);
    if (im->height) {
        put(&s, 0x08); /* Image.height = 1 */
        put_varint(&s, (uint64_t)im->height);
    }
    if (im->width) {
        put(&s, 0x10); /* Image.width = 2 */
        put_varint(&s, (uint64_t)im->width);
    }
    if (im->colorspace) {
        put(&s, 0x18); /* Image.colorspace = 3 */
        put_varint(&s, (uint64_t)im->colorspace);
    }
    put(&s, 0x22); /* Image.encoded_image_string = 4 */
    put_varint(&s, im->png_len);
    put_bytes(&s, im->png, im->png_len);
    return s.n;
}

dlt_status dlt_tb_image_png(dlt_tb_writer *w, double wall_time, int64_t step, const dlt_tb_png *im)
{
    if (!w)
        return DLT_OK;
    if (!im || !im->tag || !im->png || im->height < 0 || im->width < 0 || im->colorspace < 0)
        return dlt_seterr(DLT_ERR_INVALID,
                          "TensorBoard image '%s': expected a tag, PNG bytes and "
                          "non-negative sizes",
                          im && im->tag ? im->tag : "(null)");
    event_args a = {wall_time, step, NULL, 0, NULL, im};
    return write_record(w, &a);
}

dlt_status dlt_tb_image(dlt_tb_writer *w, double wall_time, int64_t step, const char *tag,
                        const dlt_image8 *im)
{
    if (!w)
        return DLT_OK;
    uint8_t *png;
    size_t len;
    dlt_status st = dlt_png_encode(im, &png, &len);
    if (st != DLT_OK)
        return dlt_adderr(st, "TensorBoard image '%s'", tag ? tag : "(null)");
    dlt_tb_png p = {tag, im->h, im->w, im->c, png, len};
    st = dlt_tb_image_png(w, wall_time, step, &p);
    free(png);
    return st;
}
