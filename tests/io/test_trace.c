/* Chrome-trace writer: the file is valid JSON (checked by a small strict
 * parser here, itself tested on malformed input), every span comes back with
 * its name (escaping undone), category, pid, tid, step, op, and ts/dur equal
 * to the clock values given, in microseconds.
 *
 * `test_trace --check FILE [KIND...]` validates a trace written by dltrain and
 * prints how many spans each category has; it fails when the file is not
 * valid JSON or a listed category has no span (tests/train/test_cli.sh).
 * `test_trace --jsonl FILE` checks that every line of a JSON Lines file is a
 * JSON object and prints its keys, nested ones dotted ("eval.top1"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlt_logio.h"
#include "dlt_test.h"

/* ------------------------------------------------------------ a tiny JSON DOM */
typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jkind;
typedef struct jval {
    jkind kind;
    double num;
    char *str;   /* J_STR, unescaped */
    int n;       /* J_ARR, J_OBJ */
    char **keys; /* J_OBJ */
    struct jval **kids;
} jval;

typedef struct {
    const char *p, *end;
    int depth;
} jparser;

static void jfree(jval *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n; i++) {
        jfree(v->kids[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->kids);
    free(v->keys);
    free(v->str);
    free(v);
}

static void ws(jparser *q)
{
    while (q->p < q->end && (*q->p == ' ' || *q->p == '\n' || *q->p == '\r' || *q->p == '\t'))
        q->p++;
}

static char *jstring(jparser *q)
{
    if (q->p >= q->end || *q->p != '"')
        return NULL;
    q->p++;
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    while (q->p < q->end && *q->p != '"') {
        unsigned char c = (unsigned char)*q->p++;
        if (c < 0x20)
            goto bad;
        if (c == '\\') {
            if (q->p >= q->end)
                goto bad;
            char e = *q->p++;
            const char *map = "\"\"\\\\//b\bf\fn\nr\rt\t";
            const char *m = e ? strchr(map, e) : NULL;
            if (e == 'u') {
                unsigned u = 0;
                for (int k = 0; k < 4; k++, q->p++) {
                    if (q->p >= q->end || !strchr("0123456789abcdefABCDEF", *q->p) || !*q->p)
                        goto bad;
                    u = u * 16 + (unsigned)(*q->p <= '9' ? *q->p - '0' : (*q->p | 32) - 'a' + 10);
                }
                c = u < 0x80 ? (unsigned char)u : '?';
            } else if (m && (m - map) % 2 == 0) {
                c = (unsigned char)m[1];
            } else {
                goto bad;
            }
        }
        if (n + 2 > cap)
            s = realloc(s, cap *= 2);
        s[n++] = (char)c;
    }
    if (q->p >= q->end)
        goto bad;
    q->p++;
    s[n] = '\0';
    return s;
bad:
    free(s);
    return NULL;
}

static jval *jparse(jparser *q);

static jval *jcontainer(jparser *q, int obj)
{
    jval *v = calloc(1, sizeof *v);
    v->kind = obj ? J_OBJ : J_ARR;
    q->p++;
    ws(q);
    if (q->p < q->end && *q->p == (obj ? '}' : ']')) {
        q->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        ws(q);
        if (obj) {
            if (!(key = jstring(q)))
                goto bad;
            ws(q);
            if (q->p >= q->end || *q->p++ != ':') {
                free(key);
                goto bad;
            }
        }
        jval *kid = jparse(q);
        if (!kid) {
            free(key);
            goto bad;
        }
        v->kids = realloc(v->kids, (size_t)(v->n + 1) * sizeof *v->kids);
        if (obj)
            v->keys = realloc(v->keys, (size_t)(v->n + 1) * sizeof *v->keys), v->keys[v->n] = key;
        v->kids[v->n++] = kid;
        ws(q);
        if (q->p < q->end && *q->p == ',') {
            q->p++;
            continue;
        }
        if (q->p < q->end && *q->p == (obj ? '}' : ']')) {
            q->p++;
            return v;
        }
        goto bad;
    }
bad:
    jfree(v);
    return NULL;
}

static jval *jparse(jparser *q)
{
    ws(q);
    if (q->p >= q->end || ++q->depth > 64)
        return NULL;
    jval *v = NULL;
    char c = *q->p;
    if (c == '{' || c == '[') {
        v = jcontainer(q, c == '{');
    } else if (c == '"') {
        char *s = jstring(q);
        if (s) {
            v = calloc(1, sizeof *v);
            v->kind = J_STR;
            v->str = s;
        }
    } else if (!strncmp(q->p, "true", 4) || !strncmp(q->p, "null", 4) ||
               !strncmp(q->p, "false", 5)) {
        v = calloc(1, sizeof *v);
        v->kind = c == 'n' ? J_NULL : J_BOOL;
        v->num = c == 't';
        q->p += c == 'f' ? 5 : 4;
    } else {
        /* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
        const char *s = q->p;
        if (*s == '-')
            s++;
        if (s >= q->end || *s < '0' || *s > '9')
            return NULL;
        if (*s == '0')
            s++;
        else
            while (s < q->end && *s >= '0' && *s <= '9')
                s++;
        if (s < q->end && *s == '.') {
            if (++s >= q->end || *s < '0' || *s > '9')
                return NULL;
            while (s < q->end && *s >= '0' && *s <= '9')
                s++;
        }
        if (s < q->end && (*s == 'e' || *s == 'E')) {
            s++;
            if (s < q->end && (*s == '+' || *s == '-'))
                s++;
            if (s >= q->end || *s < '0' || *s > '9')
                return NULL;
            while (s < q->end && *s >= '0' && *s <= '9')
                s++;
        }
        v = calloc(1, sizeof *v);
        v->kind = J_NUM;
        v->num = strtod(q->p, NULL);
        q->p = s;
    }
    q->depth--;
    return v;
}

/* The whole text must be one JSON value. */
static jval *jdoc(const char *text, size_t len)
{
    jparser q = {text, text + len, 0};
    jval *v = jparse(&q);
    ws(&q);
    if (v && q.p != q.end) {
        jfree(v);
        v = NULL;
    }
    return v;
}

static const jval *jget(const jval *o, const char *key)
{
    for (int i = 0; o && o->kind == J_OBJ && i < o->n; i++)
        if (!strcmp(o->keys[i], key))
            return o->kids[i];
    return NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    *len = fread(s, 1, (size_t)n, f);
    s[*len] = '\0';
    fclose(f);
    return s;
}

/* ------------------------------------------------------------ tests */
START_TEST(checker_rejects_malformed)
{
    const char *bad[] = {"",      "{",    "[1,]",     "{\"a\" 1}",     "{\"a\": 1,}", "[01]",
                         "[1.]",  "[.5]", "\"a\nb\"", "[\"\\x\"]",     "[1] [2]",     "{1: 2}",
                         "[tru]", "[-]",  "[1e]",     "{\"a\": [1, 2}"};
    const char *good[] = {"{}", "[]", " [1, -0.5e-3, 2E+7, true, false, null, \"\\u0041\\n\"] ",
                          "{\"a\": {\"b\": [{}]}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jval *v = jdoc(bad[i], strlen(bad[i]));
        ck_assert_msg(v == NULL, "accepted malformed JSON: %s", bad[i]);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        jval *v = jdoc(good[i], strlen(good[i]));
        ck_assert_msg(v != NULL, "rejected valid JSON: %s", good[i]);
        jfree(v);
    }
    jval *v = jdoc("[\"\\u0041\\n\\\"\"]", 14);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v->kids[0]->str, "A\n\"");
    jfree(v);
}
END_TEST

static const jval *nth_span(const jval *events, int k)
{
    for (int i = 0; i < events->n; i++) {
        const jval *ph = jget(events->kids[i], "ph");
        if (ph && ph->kind == J_STR && !strcmp(ph->str, "X") && k-- == 0)
            return events->kids[i];
    }
    return NULL;
}

START_TEST(spans_round_trip)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/dlt-trace-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    dlt_trace *t = NULL;
    ck_assert_int_eq(dlt_trace_open(path, 3, "rank 3", &t), DLT_OK);
    dlt_trace_thread_name(t, 0, "compute");
    dlt_trace_thread_name(t, 7, "all-reduce \"bucket\" 0");
    double base = dlt_trace_clock();
    dlt_trace_span(t, "layer1.0.conv1", "forward", 0, base, base + 0.0015, "conv2d", 11);
    dlt_trace_span(t, "grad.fc\\x \"q\"\n", "backward", 0, base + 0.002, base + 0.0020004, NULL,
                   11);
    ck_assert_int_eq(dlt_trace_flush(t), DLT_OK);
    char tmp[32];
    snprintf(tmp, sizeof tmp, "bucket %d", 5);
    dlt_trace_span_copy(t, tmp, "allreduce", 7, base + 1.0, base + 1.25, NULL, 12);
    memset(tmp, 0, sizeof tmp);    /* the trace kept its own copy */
    for (int i = 0; i < 3000; i++) /* past the initial buffer */
        dlt_trace_span(t, "step", "step", 1, base + i, base + i + 0.5, NULL, i);
    ck_assert_int_eq(dlt_trace_count(t), 3003);
    ck_assert_int_eq(dlt_trace_close(t), DLT_OK);

    size_t len;
    char *text = slurp(path, &len);
    ck_assert_ptr_nonnull(text);
    jval *doc = jdoc(text, len);
    ck_assert_msg(doc != NULL, "trace is not valid JSON");
    const jval *events = jget(doc, "traceEvents");
    ck_assert_ptr_nonnull(events);
    ck_assert_int_eq(events->kind, J_ARR);
    ck_assert_int_eq(events->n, 3003 + 4); /* 3 names + sort index */
    int threads = 0;
    for (int i = 0; i < events->n; i++) {
        const jval *e = events->kids[i];
        ck_assert_int_eq((int)jget(e, "pid")->num, 3);
        if (!strcmp(jget(e, "ph")->str, "M") && !strcmp(jget(e, "name")->str, "thread_name"))
            threads++;
    }
    ck_assert_int_eq(threads, 2);
    ck_assert_str_eq(jget(jget(events->kids[3], "args"), "name")->str, "all-reduce \"bucket\" 0");

    const jval *a = nth_span(events, 0), *b = nth_span(events, 1), *c = nth_span(events, 2);
    ck_assert_str_eq(jget(a, "name")->str, "layer1.0.conv1");
    ck_assert_str_eq(jget(a, "cat")->str, "forward");
    ck_assert_str_eq(jget(jget(a, "args"), "op")->str, "conv2d");
    ck_assert_int_eq((int)jget(jget(a, "args"), "step")->num, 11);
    ck_assert_int_eq((int)jget(a, "tid")->num, 0);
    ck_assert_double_eq_tol(jget(a, "dur")->num, 1500.0, 1e-3);
    ck_assert_str_eq(jget(b, "name")->str, "grad.fc\\x \"q\"\n");
    ck_assert_ptr_null(jget(jget(b, "args"), "op"));
    ck_assert_double_eq_tol(jget(b, "dur")->num, 0.4, 1e-3);
    /* ts: microseconds; differences are the clock differences */
    ck_assert_double_eq_tol(jget(b, "ts")->num - jget(a, "ts")->num, 2000.0, 0.01);
    ck_assert_double_eq_tol(jget(c, "ts")->num - jget(a, "ts")->num, 1e6, 0.01);
    ck_assert_str_eq(jget(c, "name")->str, "bucket 5");
    ck_assert_int_eq((int)jget(c, "tid")->num, 7);
    /* wall-clock microseconds since the origin, a UTC midnight */
    const jval *origin = jget(jget(doc, "otherData"), "ts_origin_unix_s");
    ck_assert_ptr_nonnull(origin);
    ck_assert_int_eq((long long)origin->num % 86400, 0);
    double wall = origin->num + jget(a, "ts")->num / 1e6;
    ck_assert(fabs(wall - (double)time(NULL)) < 60);
    ck_assert(jget(a, "ts")->num >= 0 && jget(a, "ts")->num < 86400e6 + 60e6);
    jfree(doc);
    free(text);
    unlink(path);
}
END_TEST

START_TEST(empty_and_errors)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/dlt-trace-XXXXXX");
    int fd = mkstemp(path);
    close(fd);
    dlt_trace *t = NULL;
    ck_assert_int_eq(dlt_trace_open(path, 0, "rank 0", &t), DLT_OK);
    ck_assert_int_eq(dlt_trace_close(t), DLT_OK);
    size_t len;
    char *text = slurp(path, &len);
    jval *doc = jdoc(text, len);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(jget(doc, "traceEvents")->n, 2);
    jfree(doc);
    free(text);
    unlink(path);
    ck_assert_int_eq(dlt_trace_open("/nonexistent-dir/t.json", 0, "x", &t), DLT_ERR_IO);
    ck_assert_ptr_null(t);
    /* a NULL trace is a no-op everywhere, so callers need no checks */
    dlt_trace_span(NULL, "a", "b", 0, 0, 1, NULL, 0);
    dlt_trace_thread_name(NULL, 0, "x");
    ck_assert_int_eq(dlt_trace_flush(NULL), DLT_OK);
    ck_assert_int_eq(dlt_trace_close(NULL), DLT_OK);
}
END_TEST

/* test_trace --check FILE [CATEGORY...] */
static int check_file(int argc, char **argv)
{
    size_t len;
    char *text = slurp(argv[2], &len);
    if (!text) {
        fprintf(stderr, "%s: cannot read\n", argv[2]);
        return 1;
    }
    jval *doc = jdoc(text, len);
    free(text);
    const jval *ev = jget(doc, "traceEvents");
    if (!ev || ev->kind != J_ARR) {
        fprintf(stderr, "%s: not a JSON trace (invalid JSON or no traceEvents array)\n", argv[2]);
        jfree(doc);
        return 1;
    }
    int rc = 0, spans = 0;
    for (int i = 0; i < ev->n; i++) {
        const jval *e = ev->kids[i], *ph = jget(e, "ph");
        if (!ph || ph->kind != J_STR || !jget(e, "pid") || !jget(e, "name")) {
            fprintf(stderr, "%s: event %d lacks ph, pid or name\n", argv[2], i);
            rc = 1;
        } else if (!strcmp(ph->str, "X")) {
            const jval *ts = jget(e, "ts"), *dur = jget(e, "dur");
            if (!ts || ts->kind != J_NUM || !dur || dur->kind != J_NUM || dur->num < 0 ||
                !jget(e, "tid")) {
                fprintf(stderr, "%s: span %d lacks ts, dur >= 0 or tid\n", argv[2], i);
                rc = 1;
            }
            spans++;
        }
    }
    printf("%s: %d events, %d spans", argv[2], ev->n, spans);
    for (int k = 3; k < argc; k++) {
        int n = 0;
        for (int i = 0; i < ev->n; i++) {
            const jval *cat = jget(ev->kids[i], "cat");
            n += cat && cat->kind == J_STR && !strcmp(cat->str, argv[k]);
        }
        printf(", %s %d", argv[k], n);
        if (!n)
            rc = 1;
    }
    printf("\n");
    jfree(doc);
    return rc;
}

static void print_keys(const jval *o, const char *prefix)
{
    for (int i = 0; i < o->n; i++) {
        if (o->kids[i]->kind == J_OBJ) {
            char p[256];
            snprintf(p, sizeof p, "%s%s.", prefix, o->keys[i]);
            print_keys(o->kids[i], p);
        } else {
            printf(" %s%s", prefix, o->keys[i]);
        }
    }
}

static int check_jsonl(const char *path)
{
    size_t len;
    char *text = slurp(path, &len);
    if (!text) {
        fprintf(stderr, "%s: cannot read\n", path);
        return 1;
    }
    int rc = len == 0 || text[len - 1] != '\n', line = 0;
    for (char *p = text; p < text + len; line++) {
        char *e = memchr(p, '\n', (size_t)(text + len - p));
        if (!e)
            e = text + len;
        jval *v = jdoc(p, (size_t)(e - p));
        if (!v || v->kind != J_OBJ) {
            fprintf(stderr, "%s:%d: not a JSON object: %.*s\n", path, line + 1, (int)(e - p), p);
            rc = 1;
        } else {
            printf("%d:", line + 1);
            print_keys(v, "");
            printf("\n");
        }
        jfree(v);
        p = e + 1;
    }
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--check"))
        return check_file(argc, argv);
    if (argc == 3 && !strcmp(argv[1], "--jsonl"))
        return check_jsonl(argv[2]);
    Suite *s = suite_create("trace");
    TCase *tc = tcase_create("trace");
    tcase_add_test(tc, checker_rejects_malformed);
    tcase_add_test(tc, spans_round_trip);
    tcase_add_test(tc, empty_and_errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
