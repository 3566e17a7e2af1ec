/* Run-output writers: TensorBoard event files (TFRecord framing of hand-encoded
 * `Event` protocol buffers: scalars and PNG images) and Chrome-trace timelines
 * (Trace Event Format JSON, viewable in Perfetto or chrome://tracing). Both only write files;
 * what goes into them is decided by the trainer (src/train/report.c). */
#ifndef DLT_LOGIO_H
#define DLT_LOGIO_H

#include <stddef.h>
#include <stdint.h>

#include "dlt_base.h"
#include "dlt_png.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- TensorBoard */
/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of n bytes, continuing
 * from `crc` (0 to start): dlt_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t dlt_crc32c(uint32_t crc, const void *data, size_t n);
/* TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
uint32_t dlt_crc32c_mask(uint32_t crc);

/* One scalar of an event's summary. */
typedef struct {
    const char *tag;
    float value;
} dlt_tb_scalar;

/* Encodes an Event (wall_time = 1, step = 2, file_version = 3 when not NULL,
 * summary = 5 holding one Summary.Value {tag = 1, simple_value = 2} per scalar)
 * into buf. Returns the encoded length; when it exceeds cap, nothing useful is
 * in buf and the caller retries with a larger one. */
size_t dlt_tb_encode_event(uint8_t *buf, size_t cap, double wall_time, int64_t step,
                           const char *file_version, int n, const dlt_tb_scalar *scalars);
/* TFRecord framing of `len` bytes of data: uint64 length (little-endian), masked
 * CRC of those 8 bytes, the data, masked CRC of the data. out holds len + 16. */
void dlt_tfrecord_frame(uint8_t *out, const uint8_t *data, size_t len);

typedef struct dlt_tb_writer dlt_tb_writer;
/* Creates dir/events.out.tfevents.<unix time>.<hostname> and writes the
 * "brain.Event:2" version record. path (may be NULL) receives the file name. */
dlt_status dlt_tb_open(const char *dir, double wall_time, dlt_tb_writer **out, char *path,
                       size_t pathlen);
/* One event holding n scalars at `step`; flushed so TensorBoard sees it live. */
dlt_status dlt_tb_scalars(dlt_tb_writer *w, double wall_time, int64_t step, int n,
                          const dlt_tb_scalar *s);
/* Closes the file (NULL is a no-op). */
dlt_status dlt_tb_close(dlt_tb_writer *w);

/* An image summary: encoded PNG bytes and what TensorBoard's Images tab needs
 * to know of them (summary.proto's Summary.Image). */
typedef struct {
    const char *tag;
    int height, width;
    int colorspace; /* channels: 1 grayscale, 3 RGB (2 gray + alpha, 4 RGBA) */
    const uint8_t *png;
    size_t png_len;
} dlt_tb_png;
/* Encodes an Event (wall_time = 1, step = 2 when not 0, summary = 5) whose
 * Summary holds one Value {tag = 1, image = 4: Image {height = 1, width = 2,
 * colorspace = 3, encoded_image_string = 4}}. Returns the encoded length, as
 * dlt_tb_encode_event does (a result above cap means: retry larger). */
size_t dlt_tb_encode_image_event(uint8_t *buf, size_t cap, double wall_time, int64_t step,
                                 const dlt_tb_png *im);
/* One event holding the image summary `im` at `step`, flushed. NULL w: no-op. */
dlt_status dlt_tb_image_png(dlt_tb_writer *w, double wall_time, int64_t step, const dlt_tb_png *im);
/* The same for an 8-bit image (a sample grid from dlt_image_grid): encodes it
 * as PNG (dlt_png_encode) and writes it under `tag`. */
dlt_status dlt_tb_image(dlt_tb_writer *w, double wall_time, int64_t step, const char *tag,
                        const dlt_image8 *im);

/* ---------------------------------------------------------------- Chrome trace */
/* Spans ("ph": "X") are kept in memory and written by dlt_trace_flush, so that
 * writing never lands inside a timed region. Timestamps are seconds of
 * dlt_trace_clock (CLOCK_MONOTONIC), written as wall-clock microseconds since
 * the last UTC midnight (otherData.ts_origin_unix_s), so traces of ranks on
 * different nodes line up as well as their clocks. */
typedef struct dlt_trace dlt_trace;

double dlt_trace_clock(void);
/* Creates `path` for process `pid` (the rank); `process_name` labels it. */
dlt_status dlt_trace_open(const char *path, int pid, const char *process_name, dlt_trace **out);
/* Names thread `tid` in the viewer (a metadata event). */
void dlt_trace_thread_name(dlt_trace *t, int tid, const char *name);
/* A complete span [t0, t1] (dlt_trace_clock seconds). name and cat must stay
 * valid until the next flush; `op` (may be NULL) and `step` become args. */
void dlt_trace_span(dlt_trace *t, const char *name, const char *cat, int tid, double t0, double t1,
                    const char *op, int64_t step);
/* Same, copying the name (for names built on the fly). */
void dlt_trace_span_copy(dlt_trace *t, const char *name, const char *cat, int tid, double t0,
                         double t1, const char *op, int64_t step);
/* Writes the buffered spans. */
dlt_status dlt_trace_flush(dlt_trace *t);
/* Number of spans written or buffered so far. */
int64_t dlt_trace_count(const dlt_trace *t);
/* Flushes, terminates the JSON document and closes (NULL is a no-op). */
dlt_status dlt_trace_close(dlt_trace *t);

#ifdef __cplusplus
}
#endif
#endif
