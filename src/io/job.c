/* Jobs: defaults from the schema, validation of job files and --set
 * overrides, lookups, and printing of the resolved job. */
#include "dlt_job.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The resolved job is a TOML tree with every schema key. An entry's line
 * says where its value came from: > 0 a line of `file`, 0 the default,
 * SET_LINE a --set override. */
#define SET_LINE (-1)

struct dlt_job {
    dlt_toml_value *root;
    char file[256];
    char families[128]; /* of model.arch; "" before dlt_job_set_families: all keys apply */
};

/* ---------------------------------------------------------------- helpers */

static dlt_status parse_value(const char *text, dlt_toml_value **out)
{
    *out = NULL;
    size_t n = strlen(text);
    char *doc = malloc(n + 5);
    if (!doc)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    memcpy(doc, "v = ", 4);
    memcpy(doc + 4, text, n + 1);
    dlt_toml_value *t;
    dlt_status st = dlt_toml_parse(doc, n + 4, &t);
    free(doc);
    if (st)
        return st;
    if (t->tab.len != 1) { /* "1\nw = 2" smuggles in a second key */
        dlt_toml_free(t);
        return dlt_seterr(DLT_ERR_INVALID, "expected a single value");
    }
    *out = t->tab.items[0].value;
    (*out)->line = (*out)->col = 0; /* not from the job file */
    t->tab.items[0].value = dlt_toml_new_bool(false);
    dlt_toml_free(t);
    return DLT_OK;
}

/* Splits "section.key" at the first dot into the section table and key. */
static dlt_toml_entry *entry_of(const dlt_job *job, const char *key)
{
    const char *dot = strchr(key, '.');
    const dlt_toml_entry *s = dlt_toml_get_entry(job->root, key, (size_t)(dot - key));
    return (dlt_toml_entry *)dlt_toml_get_entry(s->value, dot + 1, strlen(dot + 1));
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63)
        return 64;
    size_t row[64];
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[m];
}

/* " (did you mean X?)" for the closest schema key or section, or "". A key
 * whose last part names a key of another section suggests that key. */
static void suggest(const char *name, bool section, char *buf, size_t n)
{
    size_t count, best_d = (size_t)-1;
    const dlt_job_key *schema = dlt_job_schema(&count);
    char best[64] = "", cand[64];
    const char *leaf = strrchr(name, '.');
    for (size_t j = 0; j < count; j++) {
        const char *dot = strchr(schema[j].key, '.');
        if (section)
            snprintf(cand, sizeof cand, "%.*s", (int)(dot - schema[j].key), schema[j].key);
        else
            snprintf(cand, sizeof cand, "%s", schema[j].key);
        size_t d = edit_distance(name, cand);
        if (!section && leaf && !strcmp(leaf + 1, dot + 1))
            d = 1; /* train.lr -> optim.lr */
        if (section && (!strncmp(name, cand, strlen(cand)) || !strncmp(name, cand, strlen(name))))
            d = d < 1 ? d : 1; /* [optimizer] -> [optim] */
        if (d < best_d) {
            best_d = d;
            snprintf(best, sizeof best, "%s", cand);
        }
    }
    /* a typo changes about one letter in three of the part that was typed */
    size_t len = strlen(leaf && !section ? leaf + 1 : name);
    if (best[0] && best_d <= (len < 6 ? 1 : len / 3))
        snprintf(buf, n, section ? " (did you mean [%s]?)" : " (did you mean %s?)", best);
    else
        buf[0] = '\0';
}

static void describe(const dlt_toml_value *v, char *buf, size_t n)
{
    FILE *f = fmemopen(buf, n, "w");
    if (!f) {
        snprintf(buf, n, "?");
        return;
    }
    if (v->type == DLT_TOML_TABLE)
        fputs("a table", f);
    else
        dlt_toml_write_value(f, v);
    fclose(f);
    buf[n - 1] = '\0';
}

/* "must be >= 0 and < 1" from an interval "[0, 1)"; false when x is inside.
 * NaN is never inside; "(-inf, inf)" asks for a finite number. */
static bool out_of_range(const char *interval, double x, char *buf, size_t n)
{
    char lo_c = interval[0];
    char *end;
    double lo = strtod(interval + 1, &end);
    double hi = strtod(end + 1, &end);
    while (*end == ' ')
        end++;
    char hi_c = *end;
    bool ok = (lo_c == '[' ? x >= lo : x > lo) && (hi_c == ']' ? x <= hi : x < hi);
    if (ok)
        return false;
    if (isinf(lo) && isinf(hi)) {
        snprintf(buf, n, "must be finite");
        return true;
    }
    size_t o = (size_t)snprintf(buf, n, "must be");
    if (!isinf(lo))
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, " %s %g", lo_c == '[' ? ">=" : ">", lo);
    if (!isinf(hi))
        snprintf(buf + o, o < n ? n - o : 0, "%s %s %g", isinf(lo) ? "" : " and", hi_c == ']' ? "<=" : "<", hi);
    return true;
}

/* One end of an integer interval: "inf"/"-inf" is no bound (the int64
 * limit), else the exact integer written. */
static int64_t int_bound(const char *s, char **end, int64_t unbounded)
{
    while (*s == ' ')
        s++;
    if (!strncmp(s, "inf", 3) || !strncmp(s, "-inf", 4)) {
        *end = (char *)s + (*s == '-' ? 4 : 3);
        return unbounded;
    }
    return strtoll(s, end, 10);
}

/* out_of_range for an integer key: compared as int64, exact up to 2^63 - 1
 * (a double would round 2^63 - 1 up to 2^63). */
static bool out_of_range_int(const char *interval, int64_t x, char *buf, size_t n)
{
    char lo_c = interval[0], *end;
    int64_t lo = int_bound(interval + 1, &end, INT64_MIN);
    int64_t hi = int_bound(end + 1, &end, INT64_MAX);
    while (*end == ' ')
        end++;
    char hi_c = *end;
    bool ok = (lo_c == '[' ? x >= lo : x > lo) && (hi_c == ']' ? x <= hi : x < hi);
    if (ok)
        return false;
    size_t o = (size_t)snprintf(buf, n, "must be");
    if (lo != INT64_MIN)
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, " %s %lld", lo_c == '[' ? ">=" : ">", (long long)lo);
    if (hi != INT64_MAX || hi_c == ')')
        snprintf(buf + o, o < n ? n - o : 0, "%s %s %lld", lo == INT64_MIN ? "" : " and", hi_c == ']' ? "<=" : "<",
                 (long long)hi);
    return true;
}

static bool allowed_string(const char *allowed, const char *s, size_t len)
{
    for (const char *a = allowed;;) {
        const char *bar = strchr(a, '|');
        size_t n = bar ? (size_t)(bar - a) : strlen(a);
        if (n == len && !memcmp(a, s, n))
            return true;
        if (!bar)
            return false;
        a = bar + 1;
    }
}

/* Checks v against row k; on success *out is the value to store (ints
 * widened for float keys). `where` prefixes the message. */
static dlt_status check(const dlt_job_key *k, const dlt_toml_value *v, const char *where, dlt_toml_value **out)
{
    char got[96], why[128];
    static const dlt_toml_type want[] = {DLT_TOML_STRING, DLT_TOML_INT, DLT_TOML_FLOAT, DLT_TOML_BOOL, DLT_TOML_ARRAY,
                                         DLT_TOML_TABLE};
    dlt_toml_value *c = NULL;
    describe(v, got, sizeof got);
    if (k->kind == DLT_JOB_FLOAT && v->type == DLT_TOML_INT)
        c = dlt_toml_new_float((double)v->i);
    else if (v->type == want[k->kind])
        c = dlt_toml_clone(v);
    else
        return dlt_seterr(DLT_ERR_INVALID, "%s%s must be %s (got %s)", where, k->key,
                          k->kind == DLT_JOB_STRING   ? "a string"
                          : k->kind == DLT_JOB_INT    ? "an integer"
                          : k->kind == DLT_JOB_FLOAT  ? "a number"
                          : k->kind == DLT_JOB_BOOL   ? "true or false"
                          : k->kind == DLT_JOB_TABLE  ? "a table"
                                                      : "an array of numbers",
                          got);
    if (!c)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    dlt_status st = DLT_OK;
    if (k->kind == DLT_JOB_FLOATS) {
        dlt_toml_value *def;
        size_t want_n = parse_value(k->def, &def) ? 0 : def->arr.len;
        dlt_toml_free(def);
        /* an empty default means "any number of values, up to 16" */
        if (want_n > 0 && c->arr.len != want_n)
            st = dlt_seterr(DLT_ERR_INVALID, "%s%s must hold %zu numbers (got %s)", where, k->key, want_n, got);
        else if (want_n == 0 && c->arr.len > 16)
            st = dlt_seterr(DLT_ERR_INVALID, "%s%s must hold at most 16 numbers (got %s)", where, k->key, got);
        for (size_t j = 0; !st && j < c->arr.len; j++) {
            dlt_toml_value *x = c->arr.items[j];
            if (x->type == DLT_TOML_INT) {
                x->type = DLT_TOML_FLOAT;
                x->f = (double)x->i;
            }
            if (x->type != DLT_TOML_FLOAT)
                st = dlt_seterr(DLT_ERR_INVALID, "%s%s must be an array of numbers (got %s)", where, k->key, got);
            else if (k->allowed && out_of_range(k->allowed, x->f, why, sizeof why))
                st = dlt_seterr(DLT_ERR_INVALID, "%s%s[%zu] %s (got %.17g)", where, k->key, j, why, x->f);
        }
    } else if (k->allowed && k->kind == DLT_JOB_STRING && !allowed_string(k->allowed, c->str.ptr, c->str.len)) {
        char list[512];
        size_t o = 0;
        for (const char *a = k->allowed; *a && o + 3 < sizeof list; a++) {
            if (*a == '|') {
                list[o++] = ',';
                list[o++] = ' ';
            } else {
                list[o++] = *a;
            }
        }
        list[o] = '\0';
        st = dlt_seterr(DLT_ERR_INVALID, "%s%s must be one of %s (got %s)", where, k->key, list, got);
    } else if (k->allowed && k->kind == DLT_JOB_INT && out_of_range_int(k->allowed, c->i, why, sizeof why)) {
        st = dlt_seterr(DLT_ERR_INVALID, "%s%s %s (got %s)", where, k->key, why, got);
    } else if (k->allowed && k->kind == DLT_JOB_FLOAT && out_of_range(k->allowed, c->f, why, sizeof why)) {
        st = dlt_seterr(DLT_ERR_INVALID, "%s%s %s (got %s)", where, k->key, why, got);
    }
    if (st) {
        dlt_toml_free(c);
        return st;
    }
    *out = c;
    return DLT_OK;
}

/* Stores a checked value, remembering where it came from. */
static void store(dlt_job *job, const char *key, dlt_toml_value *v, int line)
{
    dlt_toml_entry *e = entry_of(job, key);
    dlt_toml_free(e->value);
    e->value = v;
    e->line = line;
}

/* ---------------------------------------------------------------- API */

dlt_status dlt_job_new(dlt_job **out)
{
    *out = NULL;
    dlt_job *job = calloc(1, sizeof *job);
    if (!job || !(job->root = dlt_toml_new(DLT_TOML_TABLE))) {
        free(job);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    size_t n;
    const dlt_job_key *schema = dlt_job_schema(&n);
    for (size_t j = 0; j < n; j++) {
        const char *dot = strchr(schema[j].key, '.');
        size_t slen = (size_t)(dot - schema[j].key);
        dlt_toml_value *v, *sec = NULL;
        const dlt_toml_entry *se = dlt_toml_get_entry(job->root, schema[j].key, slen);
        dlt_status st = parse_value(schema[j].def, &v);
        if (!st && !se) {
            sec = dlt_toml_new(DLT_TOML_TABLE);
            st = sec ? dlt_toml_table_put(job->root, schema[j].key, slen, sec)
                     : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        } else if (se) {
            sec = se->value;
        }
        if (!st)
            st = dlt_toml_table_put(sec, dot + 1, strlen(dot + 1), v);
        else
            dlt_toml_free(v);
        if (st) {
            dlt_job_free(job);
            return dlt_adderr(st, "job schema, %s", schema[j].key);
        }
    }
    *out = job;
    return DLT_OK;
}

void dlt_job_free(dlt_job *job)
{
    if (!job)
        return;
    dlt_toml_free(job->root);
    free(job);
}

dlt_status dlt_job_load(dlt_job *job, const char *file, const char *text, size_t len)
{
    dlt_toml_value *doc;
    if (dlt_toml_parse(text, len, &doc)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dlt_errmsg());
        return dlt_seterr(DLT_ERR_INVALID, "%s:%s", file, msg);
    }
    /* validate everything into a copy first so that a bad file changes nothing */
    dlt_job staged = {dlt_toml_clone(job->root), "", ""};
    dlt_status st = staged.root ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    char name[160], hint[96], where[300];
    for (size_t s = 0; !st && s < doc->tab.len; s++) {
        const dlt_toml_entry *sec = &doc->tab.items[s];
        if (sec->value->type != DLT_TOML_TABLE) {
            st = dlt_seterr(DLT_ERR_INVALID, "%s:%d: key %s must be inside a section such as [model] or [optim]", file,
                            sec->line, sec->key);
            break;
        }
        if (!dlt_toml_get_entry(staged.root, sec->key, sec->key_len)) {
            suggest(sec->key, true, hint, sizeof hint);
            st = dlt_seterr(DLT_ERR_INVALID, "%s:%d: unknown section [%s]%s", file, sec->line, sec->key, hint);
            break;
        }
        for (size_t j = 0; !st && j < sec->value->tab.len; j++) {
            const dlt_toml_entry *e = &sec->value->tab.items[j];
            snprintf(name, sizeof name, "%s.%s", sec->key, e->key);
            const dlt_job_key *k = dlt_job_schema_find(name);
            if (!k) {
                suggest(name, false, hint, sizeof hint);
                st = dlt_seterr(DLT_ERR_INVALID, "%s:%d: unknown key %s%s", file, e->line, name, hint);
                break;
            }
            snprintf(where, sizeof where, "%s:%d: ", file, e->line);
            dlt_toml_value *v;
            if (!(st = check(k, e->value, where, &v)))
                store(&staged, name, v, e->line);
        }
    }
    dlt_toml_free(doc);
    if (st) {
        dlt_toml_free(staged.root);
        return st;
    }
    dlt_toml_free(job->root);
    job->root = staged.root;
    snprintf(job->file, sizeof job->file, "%s", file);
    return DLT_OK;
}

dlt_status dlt_job_load_file(dlt_job *job, const char *path)
{
    if (dlt_check_regular_file(path) != DLT_OK)
        return dlt_adderr(DLT_ERR_INVALID, "%s: not a job file", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return dlt_seterr(DLT_ERR_NOTFOUND, "%s: cannot open job file", path);
    size_t cap = 4096, len = 0, got;
    char *text = malloc(cap);
    while (text && (got = fread(text + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *q = realloc(text, cap *= 2);
            if (!q) {
                free(text);
                text = NULL;
            }
            text = q;
        }
    }
    bool err = ferror(f);
    fclose(f);
    if (!text)
        return dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", path);
    dlt_status st = err ? dlt_seterr(DLT_ERR_IO, "%s: read error", path) : dlt_job_load(job, path, text, len);
    free(text);
    return st;
}

dlt_status dlt_job_set(dlt_job *job, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return dlt_seterr(DLT_ERR_INVALID, "--set %s: expected section.key=value", assignment);
    const char *k0 = assignment, *k1 = eq;
    while (*k0 == ' ')
        k0++;
    while (k1 > k0 && k1[-1] == ' ')
        k1--;
    char name[160], hint[96], where[200];
    snprintf(name, sizeof name, "%.*s", (int)(k1 - k0), k0);
    const dlt_job_key *k = dlt_job_schema_find(name);
    if (!k) {
        suggest(name, false, hint, sizeof hint);
        return dlt_seterr(DLT_ERR_INVALID, "--set %s: unknown key%s", name, hint);
    }
    const char *val = eq + 1;
    while (*val == ' ')
        val++;
    dlt_toml_value *v;
    if (parse_value(val, &v)) {
        /* strings may be given bare: --set model.arch=resnet20 */
        if (k->kind != DLT_JOB_STRING) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", dlt_errmsg());
            return dlt_seterr(DLT_ERR_INVALID, "--set %s: '%s' is not a TOML value (%s)", name, val, msg);
        }
        size_t n = strlen(val);
        while (n && val[n - 1] == ' ')
            n--;
        if (!(v = dlt_toml_new_string(val, n)))
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    snprintf(where, sizeof where, "--set ");
    dlt_toml_value *c;
    dlt_status st = check(k, v, where, &c);
    dlt_toml_free(v);
    if (st)
        return st;
    store(job, name, c, SET_LINE);
    return DLT_OK;
}

const dlt_toml_value *dlt_job_get(const dlt_job *job, const char *key)
{
    if (!dlt_job_schema_find(key))
        return NULL;
    return entry_of(job, key)->value;
}

double dlt_job_float(const dlt_job *job, const char *key)
{
    const dlt_toml_value *v = dlt_job_get(job, key);
    return v && v->type == DLT_TOML_FLOAT ? v->f : v && v->type == DLT_TOML_INT ? (double)v->i : NAN;
}

int64_t dlt_job_int(const dlt_job *job, const char *key)
{
    const dlt_toml_value *v = dlt_job_get(job, key);
    return v && v->type == DLT_TOML_INT ? v->i : 0;
}

bool dlt_job_bool(const dlt_job *job, const char *key)
{
    const dlt_toml_value *v = dlt_job_get(job, key);
    return v && v->type == DLT_TOML_BOOL && v->b;
}

const char *dlt_job_string(const dlt_job *job, const char *key)
{
    const dlt_toml_value *v = dlt_job_get(job, key);
    return v && v->type == DLT_TOML_STRING ? v->str.ptr : "";
}

void dlt_job_where(const dlt_job *job, const char *key, char *buf, size_t n)
{
    const dlt_toml_entry *e = dlt_job_schema_find(key) ? entry_of(job, key) : NULL;
    if (e && e->line > 0)
        snprintf(buf, n, "%s:%d", job->file, e->line);
    else
        snprintf(buf, n, "%s", e && e->line == SET_LINE ? "--set" : "default");
}

void dlt_job_set_families(dlt_job *job, const char *families)
{
    snprintf(job->families, sizeof job->families, "%s", families ? families : "");
}

bool dlt_job_applies(const dlt_job *job, const char *key)
{
    const char *fam = dlt_job_key_families(key);
    if (!fam || !job->families[0])
        return true;
    for (const char *a = fam;;) {
        size_t n = strcspn(a, "|");
        for (const char *h = job->families; *h;) {
            size_t m = strcspn(h, " ");
            if (m == n && !memcmp(a, h, n))
                return true;
            h += m;
            h += strspn(h, " ");
        }
        if (!a[n])
            return false;
        a += n + 1;
    }
}

dlt_status dlt_job_write(FILE *f, const dlt_job *job)
{
    dlt_toml_value *out = dlt_toml_clone(job->root);
    if (!out)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    size_t n;
    const dlt_job_key *schema = dlt_job_schema(&n);
    for (size_t j = 0; j < n; j++) {
        if (dlt_job_applies(job, schema[j].key))
            continue;
        const char *dot = strchr(schema[j].key, '.');
        const dlt_toml_entry *s = dlt_toml_get_entry(out, schema[j].key, (size_t)(dot - schema[j].key));
        dlt_toml_table_remove(s->value, dot + 1, strlen(dot + 1));
    }
    /* a section none of whose keys apply (a classifier's [gan], a spec's [nas]) goes too */
    for (size_t i = out->tab.len; i-- > 0;) {
        const dlt_toml_entry *e = &out->tab.items[i];
        if (e->value->type == DLT_TOML_TABLE && e->value->tab.len == 0)
            dlt_toml_table_remove(out, e->key, e->key_len);
    }
    dlt_status st = dlt_toml_write(f, out);
    dlt_toml_free(out);
    return st;
}
