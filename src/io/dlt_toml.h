/* TOML 1.0 documents: parse into a tree of values, look values up by dotted
 * path, build or change trees, and write them back as TOML.
 *
 * Every node remembers where it came from (line and column, 1-based, columns
 * counted in characters) so that code checking a job file can point at the
 * offending line. Parse errors are reported through dlt_errmsg() as
 * "LINE:COL: what was expected". */
#ifndef DLT_TOML_H
#define DLT_TOML_H

#include "dlt_base.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DLT_TOML_TABLE = 0,
    DLT_TOML_ARRAY,
    DLT_TOML_STRING,
    DLT_TOML_INT,
    DLT_TOML_FLOAT,
    DLT_TOML_BOOL,
    DLT_TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
    DLT_TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
    DLT_TOML_DATE_LOCAL,     /* 1979-05-27 */
    DLT_TOML_TIME_LOCAL      /* 07:32:00 */
} dlt_toml_type;

/* Date and time fields; which ones mean something depends on the type. The
 * text is kept as written (or normalised when too long) so it prints back
 * unchanged. */
typedef struct {
    int year, month, day;
    int hour, minute, second;
    int nanosecond;     /* fraction of a second, digits past 9 dropped */
    int offset_minutes; /* DLT_TOML_DATETIME only; "Z" is 0 */
    char text[48];
} dlt_toml_datetime;

typedef struct dlt_toml_value dlt_toml_value;

/* One key of a table. Keys may contain any character, NUL included. */
typedef struct {
    char *key; /* NUL-terminated copy */
    size_t key_len;
    int line, col; /* where the key was written */
    dlt_toml_value *value;
} dlt_toml_entry;

struct dlt_toml_value {
    dlt_toml_type type;
    int line, col; /* where the value (a table: its header or first key) starts; 0 if built */
    unsigned flags; /* how a table was defined; the parser's business */
    union {
        struct {
            char *ptr; /* NUL-terminated; may contain NUL when len says so */
            size_t len;
        } str;
        int64_t i;
        double f;
        bool b;
        dlt_toml_datetime dt;
        struct {
            dlt_toml_value **items;
            size_t len, cap;
        } arr;
        struct {
            dlt_toml_entry *items; /* in the order of definition */
            size_t len, cap;
        } tab;
    };
};

/* Parses a whole document (need not be NUL-terminated). On success *out is a
 * table to release with dlt_toml_free. On failure *out is NULL and
 * dlt_errmsg() reads "LINE:COL: message"; the status is DLT_ERR_INVALID (or
 * DLT_ERR_NOMEM). */
dlt_status dlt_toml_parse(const char *text, size_t len, dlt_toml_value **out);
void dlt_toml_free(dlt_toml_value *v);

/* Key lookup in one table (exact key, no dots); NULL when absent or when t
 * is not a table. */
const dlt_toml_entry *dlt_toml_get_entry(const dlt_toml_value *t, const char *key, size_t key_len);
const dlt_toml_value *dlt_toml_get(const dlt_toml_value *t, const char *key);
/* Lookup by a dotted path of bare keys ("optim.lr"); NULL when any part is
 * missing or not a table. The entry form gives the key's source line. */
const dlt_toml_entry *dlt_toml_find_entry(const dlt_toml_value *root, const char *path);
const dlt_toml_value *dlt_toml_find(const dlt_toml_value *root, const char *path);

const char *dlt_toml_type_name(dlt_toml_type t);

/* Building and changing trees. Constructors return NULL when out of memory.
 * A value put into a table or array belongs to it from then on (also when
 * the call fails: it is freed). */
dlt_toml_value *dlt_toml_new(dlt_toml_type t);
dlt_toml_value *dlt_toml_new_string(const char *s, size_t len);
dlt_toml_value *dlt_toml_new_int(int64_t i);
dlt_toml_value *dlt_toml_new_float(double f);
dlt_toml_value *dlt_toml_new_bool(bool b);
dlt_toml_value *dlt_toml_clone(const dlt_toml_value *v);
/* Sets t[key] = v, replacing (and freeing) an existing value. */
dlt_status dlt_toml_table_put(dlt_toml_value *t, const char *key, size_t key_len, dlt_toml_value *v);
/* Removes t[key]; returns false when it was not there. */
bool dlt_toml_table_remove(dlt_toml_value *t, const char *key, size_t key_len);
dlt_status dlt_toml_array_push(dlt_toml_value *a, dlt_toml_value *v);

/* Deep equality of meaning: table key order and source positions are
 * ignored, NaN equals NaN, date-times compare by their fields. */
bool dlt_toml_equal(const dlt_toml_value *a, const dlt_toml_value *b);

/* Writes a table as a TOML document that parses back to an equal tree:
 * plain keys first, then [tables] and [[arrays of tables]]. Tables that were
 * inline in the source stay inline. Returns DLT_ERR_IO on a write error. */
dlt_status dlt_toml_write(FILE *f, const dlt_toml_value *table);
/* Writes one value in TOML syntax (a table as an inline table). */
dlt_status dlt_toml_write_value(FILE *f, const dlt_toml_value *v);
/* Writes a key, bare when possible, quoted otherwise. */
dlt_status dlt_toml_write_key(FILE *f, const char *key, size_t key_len);

#ifdef __cplusplus
}
#endif
#endif
