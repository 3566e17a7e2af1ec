/* Job schema: defaults, validation messages with file:line, did-you-mean,
 * --set overrides, printing, and docs/jobs.md kept equal to the schema.
 * `test_job --write-reference` prints the reference (to regenerate the doc). */
#include "dlt_job.h"
#include "dlt_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static dlt_job *job_new(void)
{
    dlt_job *job;
    ck_assert_int_eq(dlt_job_new(&job), DLT_OK);
    return job;
}

static void load_ok(dlt_job *job, const char *text)
{
    dlt_status st = dlt_job_load(job, "jobs/x.toml", text, strlen(text));
    ck_assert_msg(st == DLT_OK, "%s", dlt_errmsg());
}

static void load_err(const char *text, const char *msg)
{
    dlt_job *job = job_new();
    ck_assert_int_eq(dlt_job_load(job, "jobs/x.toml", text, strlen(text)), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), msg);
    dlt_job_free(job);
}

START_TEST(test_defaults)
{
    dlt_job *job = job_new();
    size_t n;
    const dlt_job_key *schema = dlt_job_schema(&n);
    ck_assert_uint_ge(n, 37);
    for (size_t j = 0; j < n; j++) /* every key resolves, with the declared type */
        ck_assert_ptr_nonnull(dlt_job_get(job, schema[j].key));
    ck_assert(dlt_job_float(job, "optim.lr") == 0.01);
    ck_assert(dlt_job_float(job, "optim.eps") == 1e-8);
    ck_assert_str_eq(dlt_job_string(job, "optim.name"), "sgd");
    ck_assert_int_eq(dlt_job_int(job, "data.batch_size"), 32);
    ck_assert(dlt_job_bool(job, "data.shuffle"));
    ck_assert(!dlt_job_bool(job, "log.trace"));
    const dlt_toml_value *b = dlt_job_get(job, "optim.betas");
    ck_assert_uint_eq(b->arr.len, 2);
    ck_assert(b->arr.items[1]->f == 0.999);
    ck_assert_ptr_null(dlt_job_get(job, "optim.nope"));
    ck_assert(isnan(dlt_job_float(job, "optim.nope")));
    char where[64];
    dlt_job_where(job, "optim.lr", where, sizeof where);
    ck_assert_str_eq(where, "default");
    dlt_job_free(job);
}
END_TEST

START_TEST(test_load)
{
    dlt_job *job = job_new();
    load_ok(job, "# a job\n[model]\nname = \"r20\"\narch = \"resnet20\"\n\n[optim]\nname = 'adamw'\nlr = 1\n"
                 "betas = [0, 0.95]\n[train]\nsteps = 500\nprecision = \"bf16\"\n[dist]\nzero = 1\n");
    ck_assert_str_eq(dlt_job_string(job, "model.arch"), "resnet20");
    const dlt_toml_value *lr = dlt_job_get(job, "optim.lr");
    ck_assert_int_eq(lr->type, DLT_TOML_FLOAT); /* integers are widened for float keys */
    ck_assert(lr->f == 1.0);
    ck_assert_int_eq(dlt_job_get(job, "optim.betas")->arr.items[0]->type, DLT_TOML_FLOAT);
    ck_assert_int_eq(dlt_job_int(job, "train.steps"), 500);
    ck_assert_int_eq(dlt_job_int(job, "train.epochs"), 1); /* untouched default */
    char where[64];
    dlt_job_where(job, "optim.lr", where, sizeof where);
    ck_assert_str_eq(where, "jobs/x.toml:8");
    dlt_job_where(job, "train.seed", where, sizeof where);
    ck_assert_str_eq(where, "default");

    /* a bad file leaves the job as it was */
    ck_assert_int_eq(dlt_job_load(job, "b.toml", "[optim]\nlr = 5\nname = 'x'", 24), DLT_ERR_INVALID);
    ck_assert(dlt_job_float(job, "optim.lr") == 1.0);
    ck_assert_str_eq(dlt_job_string(job, "optim.name"), "adamw");
    dlt_job_free(job);
}
END_TEST

START_TEST(test_errors)
{
    load_err("[optim]\n\nlr = -0.1\n", "jobs/x.toml:3: optim.lr must be > 0 (got -0.1)");
    load_err("[optim]\nmomentum = 1\n", "jobs/x.toml:2: optim.momentum must be >= 0 and < 1 (got 1)");
    load_err("[dist]\nzero = 2\n", "jobs/x.toml:2: dist.zero must be >= 0 and <= 1 (got 2)");
    load_err("[data]\nbatch_size = 0\n", "jobs/x.toml:2: data.batch_size must be >= 1 and <= 1048576 (got 0)");
    load_err("[data]\nbatch_size = 32.5\n", "jobs/x.toml:2: data.batch_size must be an integer (got 32.5)");
    load_err("[data]\nshuffle = \"yes\"\n", "jobs/x.toml:2: data.shuffle must be true or false (got \"yes\")");
    load_err("[model]\nname = 3\n", "jobs/x.toml:2: model.name must be a string (got 3)");
    load_err("[optim]\nlr = {a = 1}\n", "jobs/x.toml:2: optim.lr must be a number (got a table)");
    load_err("[optim]\nname = \"adamx\"\n",
             "jobs/x.toml:2: optim.name must be one of sgd, adam, adamw, rmsprop, adadelta, adagrad, lamb (got \"adamx\")");
    load_err("[optim]\nbetas = [0.9, 1]\n", "jobs/x.toml:2: optim.betas[1] must be >= 0 and < 1 (got 1)");
    if (dlt_job_schema_find("data.mean")) /* an empty default: any length */
        load_err("[data]\nmean = [0.5, 'x']\n", "jobs/x.toml:2: data.mean must be an array of numbers (got [0.5, \"x\"])");
    load_err("[optim]\nbetas = [0.9]\n", "jobs/x.toml:2: optim.betas must hold 2 numbers (got [0.9])");
    load_err("[optim]\nbetas = [0.9, 'a']\n", "jobs/x.toml:2: optim.betas must be an array of numbers (got [0.9, \"a\"])");
    load_err("[optim]\nmomentun = 0.9\n", "jobs/x.toml:2: unknown key optim.momentun (did you mean optim.momentum?)");
    load_err("[train]\nlr = 0.1\n", "jobs/x.toml:2: unknown key train.lr (did you mean optim.lr?)");
    load_err("[train]\nzzz = 0.1\n", "jobs/x.toml:2: unknown key train.zzz");
    load_err("[optim.adam]\nx = 1\n", "jobs/x.toml:1: unknown key optim.adam");
    load_err("\n[optimizer]\nlr = 0.1\n", "jobs/x.toml:2: unknown section [optimizer] (did you mean [optim]?)");
    load_err("[chekpoint]\n", "jobs/x.toml:1: unknown section [chekpoint] (did you mean [checkpoint]?)");
    load_err("[foo]\n", "jobs/x.toml:1: unknown section [foo]");
    load_err("lr = 0.1\n", "jobs/x.toml:1: key lr must be inside a section such as [model] or [optim]");
    load_err("[optim]\nlr = = 1\n", "jobs/x.toml:2:6: expected a value (string, number, boolean, date-time, array or "
                                   "inline table)");
}
END_TEST

START_TEST(test_set)
{
    dlt_job *job = job_new();
    load_ok(job, "[optim]\nlr = 0.5\n");
    ck_assert_int_eq(dlt_job_set(job, "optim.lr=2e-4"), DLT_OK);
    ck_assert(dlt_job_float(job, "optim.lr") == 2e-4);
    char where[64];
    dlt_job_where(job, "optim.lr", where, sizeof where);
    ck_assert_str_eq(where, "--set");
    ck_assert_int_eq(dlt_job_set(job, " model.arch = resnet20 "), DLT_OK);
    ck_assert_str_eq(dlt_job_string(job, "model.arch"), "resnet20");
    ck_assert_int_eq(dlt_job_set(job, "data.train='data/a b/*.h5'"), DLT_OK);
    ck_assert_str_eq(dlt_job_string(job, "data.train"), "data/a b/*.h5");
    ck_assert_int_eq(dlt_job_set(job, "optim.betas=[0.8, 0.9]"), DLT_OK);
    ck_assert(dlt_job_get(job, "optim.betas")->arr.items[0]->f == 0.8);
    ck_assert_int_eq(dlt_job_set(job, "train.precision=bf16"), DLT_OK);

    ck_assert_int_eq(dlt_job_set(job, "optim.lr=-1"), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "--set optim.lr must be > 0 (got -1)");
    ck_assert_int_eq(dlt_job_set(job, "optim.lrr=1"), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "--set optim.lrr: unknown key (did you mean optim.lr?)");
    ck_assert_int_eq(dlt_job_set(job, "optim.lr"), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "--set optim.lr: expected section.key=value");
    ck_assert_int_eq(dlt_job_set(job, "optim.lr=fast"), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "--set optim.lr: 'fast' is not a TOML value (1:5: expected a value (string, "
                                   "number, boolean, date-time, array or inline table))");
    ck_assert_int_eq(dlt_job_set(job, "train.precision=fp8"), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "--set train.precision must be one of fp32, tf32, bf16, fp16 (got \"fp8\")");
    ck_assert(dlt_job_float(job, "optim.lr") == 2e-4); /* failed overrides change nothing */
    dlt_job_free(job);
}
END_TEST

START_TEST(test_write)
{
    dlt_job *job = job_new();
    load_ok(job, "[optim]\nname = 'adam'\nlr = 3e-4\n[model]\nname = \"x\\ty\"\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(dlt_job_write(f, job), DLT_OK);
    fclose(f);
    /* schema order, every key, re-loadable to the same values */
    ck_assert_ptr_nonnull(strstr(buf, "[model]\nname = \"x\\ty\"\narch = \"mlp\"\nnum_classes = 10\n"));
    ck_assert_ptr_nonnull(strstr(buf, "[optim]\nname = \"adam\"\nlr = 0.0003\nmomentum = 0.0\n"));
    ck_assert_ptr_nonnull(strstr(buf, "betas = [0.9, 0.999]\neps = 1e-08\n"));
    dlt_job *again = job_new();
    load_ok(again, buf);
    size_t n;
    const dlt_job_key *schema = dlt_job_schema(&n);
    for (size_t j = 0; j < n; j++)
        ck_assert_msg(dlt_toml_equal(dlt_job_get(job, schema[j].key), dlt_job_get(again, schema[j].key)), "%s",
                      schema[j].key);
    free(buf);
    dlt_job_free(again);
    dlt_job_free(job);
}
END_TEST

/* Every integer key has a finite range, the C type its value lands in at
 * most, checked exactly: one above the maximum is refused with file:line,
 * the maximum itself loads (2^63 - 1 too, which a double would round up). */
START_TEST(test_int_ranges)
{
    size_t n;
    const dlt_job_key *schema = dlt_job_schema(&n);
    char text[256], msg[512];
    int nint = 0;
    for (size_t j = 0; j < n; j++) {
        const dlt_job_key *k = &schema[j];
        if (k->kind != DLT_JOB_INT)
            continue;
        nint++;
        ck_assert_msg(k->allowed && k->allowed[0] == '[' && !strstr(k->allowed, "inf"), "%s: no finite range",
                      k->key);
        long long lo, hi;
        ck_assert_int_eq(sscanf(k->allowed, "[%lld, %lld]", &lo, &hi), 2);
        const char *dot = strchr(k->key, '.');
        snprintf(text, sizeof text, "[%.*s]\n%s = %lld\n", (int)(dot - k->key), k->key, dot + 1, hi);
        dlt_job *job = job_new();
        load_ok(job, text);
        ck_assert_int_eq(dlt_job_int(job, k->key), hi);
        dlt_job_free(job);
        if (hi == INT64_MAX)
            continue;
        snprintf(text, sizeof text, "[%.*s]\n%s = %lld\n", (int)(dot - k->key), k->key, dot + 1, hi + 1);
        snprintf(msg, sizeof msg, "jobs/x.toml:2: %s must be >= %lld and <= %lld (got %lld)", k->key, lo, hi, hi + 1);
        load_err(text, msg);
    }
    ck_assert_int_ge(nint, 20);
    /* cut to 32 bits before: 4294967424 = 2^32 + 128 trained as 128 */
    load_err("[data]\nbatch_size = 4294967424\n",
             "jobs/x.toml:2: data.batch_size must be >= 1 and <= 1048576 (got 4294967424)");
    load_err("[train]\n\nepochs = 9223372036854775807\n",
             "jobs/x.toml:3: train.epochs must be >= 0 and <= 1000000 (got 9223372036854775807)");
    load_err("[train]\nsteps = -9223372036854775808\n",
             "jobs/x.toml:2: train.steps must be >= 0 and <= 1000000000000 (got -9223372036854775808)");
    load_err("[schedule]\nmilestones = [10, 1e19]\n",
             "jobs/x.toml:2: schedule.milestones[1] must be >= 0 and <= 1e+12 (got 1e+19)");
    /* integers beyond int64 are the parser's: still with file:line */
    load_err("[train]\nsteps = 9223372036854775808\n",
             "jobs/x.toml:2:9: integer does not fit in 64 bits (range -9223372036854775808 to 9223372036854775807)");
    load_err("[train]\nseed = -9223372036854775809\n",
             "jobs/x.toml:2:8: integer does not fit in 64 bits (range -9223372036854775808 to 9223372036854775807)");
    dlt_job *job = job_new();
    ck_assert_int_eq(dlt_job_set(job, "train.steps=1000000000001"), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "--set train.steps must be >= 0 and <= 1000000000000 (got 1000000000001)");
    dlt_job_free(job);
}
END_TEST

static char *written(const dlt_job *job)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(dlt_job_write(f, job), DLT_OK);
    fclose(f);
    return buf;
}

/* Once the caller says which families model.arch belongs to, the resolved
 * job leaves out the keys of other architectures (a GPT job has no
 * model.shortcut), and the text still loads, also into an unscoped job. */
START_TEST(test_write_scoped)
{
    dlt_job *job = job_new();
    load_ok(job, "[model]\narch = 'gpt-tiny'\nshortcut = 'B'\n[data]\nseq_len = 64\n");
    ck_assert(dlt_job_applies(job, "model.shortcut")); /* unscoped: everything applies */
    dlt_job_set_families(job, "transformer gpt");
    ck_assert(!dlt_job_applies(job, "model.shortcut"));
    ck_assert(!dlt_job_applies(job, "model.num_classes"));
    ck_assert(dlt_job_applies(job, "model.dropout"));   /* vgg|mlp|transformer */
    ck_assert(dlt_job_applies(job, "data.seq_len"));    /* gpt */
    ck_assert(dlt_job_applies(job, "optim.lr"));        /* every arch */
    char *buf = written(job);
    const char *gone[] = {"num_classes", "shortcut", "zero_init_residual", "small_input", "hidden =",
                          "layers =", "label_smoothing", "augment", "crop_padding", "mean =", "std ="};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        ck_assert_msg(!strstr(buf, gone[i]), "%s in a gpt job:\n%s", gone[i], buf);
    ck_assert_ptr_nonnull(strstr(buf, "[model]\nname = \"model\"\narch = \"gpt-tiny\"\ndropout = 0.0\n"));
    ck_assert_ptr_nonnull(strstr(buf, "seq_len = 64\n"));
    dlt_job *again = job_new();
    load_ok(again, buf);
    ck_assert_str_eq(dlt_job_string(again, "model.shortcut"), "A"); /* the default again */
    free(buf);
    /* a CIFAR ResNet keeps shortcut, drops the mlp's and the transformers' keys */
    dlt_job_set_families(again, "classifier resnet resnet-cifar");
    buf = written(again);
    ck_assert_ptr_nonnull(strstr(buf, "num_classes = 10\nshortcut = \"A\"\nzero_init_residual = false\n"));
    ck_assert(!strstr(buf, "seq_len") && !strstr(buf, "small_input") && !strstr(buf, "dropout"));
    free(buf);
    dlt_job_free(again);
    dlt_job_free(job);
}
END_TEST

/* data.mean and data.std: finite numbers (TOML has nan and inf) */
START_TEST(test_finite)
{
    load_err("[data]\nmean = [0.5, nan]\n", "jobs/x.toml:2: data.mean[1] must be finite (got nan)");
    load_err("[data]\nmean = [-inf]\n", "jobs/x.toml:2: data.mean[0] must be finite (got -inf)");
    load_err("[data]\nstd = [0.2, inf]\n", "jobs/x.toml:2: data.std[1] must be > 0 (got inf)");
    load_err("[data]\nstd = [nan]\n", "jobs/x.toml:2: data.std[0] must be > 0 (got nan)");
    load_err("[data]\nstd = [0.0]\n", "jobs/x.toml:2: data.std[0] must be > 0 (got 0)");
}
END_TEST

/* docs/jobs.md is generated from the schema; this keeps the two equal. */
START_TEST(test_reference_doc)
{
    char *want = NULL;
    size_t want_len = 0;
    FILE *f = open_memstream(&want, &want_len);
    ck_assert_int_eq(dlt_job_write_reference(f), DLT_OK);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(want, "| `lr` | float | `0.01` | (0, inf) | all | base learning rate"));
    ck_assert_ptr_nonnull(strstr(want, "| `name` | string | `\"sgd\"` | sgd, adam, adamw"));
    const char *src = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/jobs.md", src ? src : "..");
    FILE *doc = fopen(path, "rb");
    ck_assert_msg(doc != NULL, "cannot open %s", path);
    char *have = malloc(want_len + 2);
    size_t have_len = fread(have, 1, want_len + 1, doc);
    fclose(doc);
    ck_assert_msg(have_len == want_len && !memcmp(have, want, want_len),
                  "%s is out of date: regenerate it with tests/io/test_job --write-reference > docs/jobs.md", path);
    free(have);
    free(want);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--write-reference"))
        return dlt_job_write_reference(stdout) == DLT_OK ? 0 : 1;
    Suite *s = suite_create("job");
    TCase *tc = tcase_create("job");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_load);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_set);
    tcase_add_test(tc, test_write);
    tcase_add_test(tc, test_int_ranges);
    tcase_add_test(tc, test_finite);
    tcase_add_test(tc, test_write_scoped);
    tcase_add_test(tc, test_reference_doc);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
