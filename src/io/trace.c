/* Chrome-trace timelines (Trace Event Format, JSON object form). Spans are
 * buffered and written by dlt_trace_flush, outside the regions being timed. */
#include "dlt_logio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *name, *cat, *op;
    char *owned; /* the copied name, if any */
    int tid;
    double t0, t1;
    int64_t step;
} span;

struct dlt_trace {
    FILE *f;
    int pid;
    int nwritten;  /* events in the file, for the separating commas */
    int64_t count; /* spans written or buffered */
    double offset; /* wall clock since the origin minus the monotonic clock, seconds */
    span *buf;
    int n, cap;
    dlt_status err;
};

double dlt_trace_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void begin_event(dlt_trace *t)
{
    fputs(t->nwritten++ ? ",\n" : "\n", t->f);
}

static void metadata(dlt_trace *t, const char *what, int tid, const char *name)
{
    begin_event(t);
    fprintf(t->f,
            "{\"name\": \"%s\", \"ph\": \"M\", \"pid\": %d, \"tid\": %d, \"args\": {\"name\": ",
            what, t->pid, tid);
    json_string(t->f, name);
    fputs("}}", t->f);
}

dlt_status dlt_trace_open(const char *path, int pid, const char *process_name, dlt_trace **out)
{
    *out = NULL;
    dlt_trace *t = calloc(1, sizeof *t);
    if (!t)
        return dlt_seterr(DLT_ERR_NOMEM, "trace: out of memory");
    t->f = fopen(path, "w");
    if (!t->f) {
        dlt_status st = dlt_seterr(DLT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(t);
        return st;
    }
    /* ts counts from the last UTC midnight: absolute epoch microseconds would
     * leave doubles (and the viewers' parsers) a 0.25 us resolution */
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    long long origin = (long long)rt.tv_sec / 86400 * 86400;
    t->offset =
        (double)((long long)rt.tv_sec - origin) + 1e-9 * (double)rt.tv_nsec - dlt_trace_clock();
    t->pid = pid;
    fprintf(t->f,
            "{\"displayTimeUnit\": \"ms\", \"otherData\": {\"ts_origin_unix_s\": %lld}, "
            "\"traceEvents\": [",
            origin);
    metadata(t, "process_name", 0, process_name);
    begin_event(t);
    fprintf(t->f,
            "{\"name\": \"process_sort_index\", \"ph\": \"M\", \"pid\": %d, \"tid\": 0, "
            "\"args\": {\"sort_index\": %d}}",
            pid, pid);
    *out = t;
    return DLT_OK;
}

void dlt_trace_thread_name(dlt_trace *t, int tid, const char *name)
{
    if (t)
        metadata(t, "thread_name", tid, name);
}

static span *push(dlt_trace *t)
{
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 1024;
        span *nb = realloc(t->buf, (size_t)cap * sizeof *nb);
        if (!nb) {
            if (t->err == DLT_OK)
                t->err = dlt_seterr(DLT_ERR_NOMEM, "trace: out of memory");
            return NULL;
        }
        t->buf = nb;
        t->cap = cap;
    }
    t->count++;
    return &t->buf[t->n++];
}

void dlt_trace_span(dlt_trace *t, const char *name, const char *cat, int tid, double t0, double t1,
                    const char *op, int64_t step)
{
    span *s = t ? push(t) : NULL;
    if (s)
        *s = (span){name, cat, op, NULL, tid, t0, t1, step};
}

void dlt_trace_span_copy(dlt_trace *t, const char *name, const char *cat, int tid, double t0,
                         double t1, const char *op, int64_t step)
{
    span *s = t ? push(t) : NULL;
    if (!s)
        return;
    *s = (span){NULL, cat, op, strdup(name), tid, t0, t1, step};
    s->name = s->owned ? s->owned : "?";
}

dlt_status dlt_trace_flush(dlt_trace *t)
{
    if (!t)
        return DLT_OK;
    for (int i = 0; i < t->n; i++) {
        span *s = &t->buf[i];
        begin_event(t);
        fputs("{\"name\": ", t->f);
        json_string(t->f, s->name);
        fputs(", \"cat\": ", t->f);
        json_string(t->f, s->cat);
        /* ts from the wall clock, dur from the difference: sub-microsecond
         * durations survive the large wall-clock magnitude */
        double dur = (s->t1 - s->t0) * 1e6;
        fprintf(t->f,
                ", \"ph\": \"X\", \"ts\": %.3f, \"dur\": %.3f, \"pid\": %d, \"tid\": %d, \"args\": "
                "{\"step\": %lld",
                (s->t0 + t->offset) * 1e6, dur > 0 ? dur : 0, t->pid, s->tid, (long long)s->step);
        if (s->op) {
            fputs(", \"op\": ", t->f);
            json_string(t->f, s->op);
        }
        fputs("}}", t->f);
        free(s->owned);
    }
    t->n = 0;
    if (fflush(t->f) != 0 && t->err == DLT_OK)
        t->err = dlt_seterr(DLT_ERR_IO, "trace: write failed: %s", strerror(errno));
    return t->err;
}

int64_t dlt_trace_count(const dlt_trace *t)
{
    return t ? t->count : 0;
}

dlt_status dlt_trace_close(dlt_trace *t)
{
    if (!t)
        return DLT_OK;
    dlt_status st = dlt_trace_flush(t);
    fputs("\n]}\n", t->f);
    if (fclose(t->f) != 0 && st == DLT_OK)
        st = dlt_seterr(DLT_ERR_IO, "trace: close failed: %s", strerror(errno));
    free(t->buf);
    free(t);
    return st;
}
