/* Job files: the schema of every key a job may set (type, default, allowed
 * values, one line of documentation), validation of a TOML job against it,
 * `--set key=value` overrides, and printing of the resolved job and of the
 * reference documentation (docs/jobs.md) from the same table.
 *
 * Errors name the place: "jobs/x.toml:12: optim.lr must be > 0 (got -0.1)",
 * "jobs/x.toml:4: unknown key optim.learning_rate (did you mean optim.lr?)",
 * "--set optim.lr must be > 0 (got -1)". */
#ifndef DLT_JOB_H
#define DLT_JOB_H

#include "dlt_base.h"
#include "dlt_toml.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DLT_JOB_STRING = 0,
    DLT_JOB_INT,
    DLT_JOB_FLOAT, /* an integer is accepted and stored as a float */
    DLT_JOB_BOOL,
    DLT_JOB_FLOATS, /* array of numbers: as many as the default has; up to 16 if it is [] */
    DLT_JOB_TABLE   /* a table kept as written, whose reader checks it (model.spec: src/train/spec_toml.c) */
} dlt_job_kind;

/* One row of the schema. */
typedef struct {
    const char *key;     /* "section.name" */
    dlt_job_kind kind;
    const char *def;     /* the default, written as a TOML value */
    const char *allowed; /* strings: "a|b|c"; numbers: an interval "[0, 1)", "(0, inf)",
                          * finite for integers (compared as int64); NULL: any */
    const char *doc;     /* one line */
} dlt_job_key;

/* The schema rows, in the order they are printed. */
const dlt_job_key *dlt_job_schema(size_t *n);
const dlt_job_key *dlt_job_schema_find(const char *key);
/* The model families a key applies to ("vgg|mlp|transformer"); NULL: all. */
const char *dlt_job_key_families(const char *key);

typedef struct dlt_job dlt_job;

/* A job holding every key's default. */
dlt_status dlt_job_new(dlt_job **out);
void dlt_job_free(dlt_job *job);
/* Parses `text` (named `file` in messages), checks every key against the
 * schema and sets the values it holds. On error the job is unchanged. */
dlt_status dlt_job_load(dlt_job *job, const char *file, const char *text, size_t len);
dlt_status dlt_job_load_file(dlt_job *job, const char *path);
/* One override "section.key=value"; the value is TOML ("2e-4", "true",
 * "[0.9, 0.99]", "'x'") or, for string keys, also bare text ("resnet20"). */
dlt_status dlt_job_set(dlt_job *job, const char *assignment);

/* The resolved value of a schema key (never NULL for a schema key). */
const dlt_toml_value *dlt_job_get(const dlt_job *job, const char *key);
double dlt_job_float(const dlt_job *job, const char *key);
int64_t dlt_job_int(const dlt_job *job, const char *key);
bool dlt_job_bool(const dlt_job *job, const char *key);
const char *dlt_job_string(const dlt_job *job, const char *key);
/* Where a key's value came from, for messages: "jobs/x.toml:12",
 * "--set" or "default". */
void dlt_job_where(const dlt_job *job, const char *key, char *buf, size_t n);

/* The families of the job's model.arch, space-separated ("classifier resnet
 * resnet-cifar"), which the caller knows from the model zoo; NULL (the
 * default): every key applies. */
void dlt_job_set_families(dlt_job *job, const char *families);
/* Whether a key applies to the job's model.arch (see dlt_job_set_families). */
bool dlt_job_applies(const dlt_job *job, const char *key);

/* The resolved job as a TOML document (schema order; only the keys that
 * apply to the job's model.arch once its families are set). */
dlt_status dlt_job_write(FILE *f, const dlt_job *job);
/* The keys in which two job texts differ, as "optim.lr 0.01 -> 0.02, ..."
 * (log.* and checkpoint.* keys, which change no result, are not compared)
 * (the first 8, then "and N more") into buf: their number, or -1 when a
 * text does not load as a job of this schema. */
int dlt_job_diff_text(const char *old_text, const char *new_text, char *buf, size_t len);
/* docs/jobs.md: the reference of every section and key. */
dlt_status dlt_job_write_reference(FILE *f);

#ifdef __cplusplus
}
#endif
#endif
