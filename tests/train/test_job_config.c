/* dlt_train_config_from_job and the job policy beside it: every config owns
 * its optim.no_decay patterns (a second config does not overwrite the
 * first's), and a transformer's architecture dropout is recorded in the
 * resolved job while an image classifier's job is left as it was. */
#include "dlt_job.h"
#include "dlt_test.h"
#include "dlt_train.h"

#include <stdlib.h>
#include <string.h>

static dlt_job *load(const char *text)
{
    dlt_job *job;
    ck_assert_int_eq(dlt_job_new(&job), DLT_OK);
    dlt_status st = dlt_job_load(job, "jobs/x.toml", text, strlen(text));
    ck_assert_msg(st == DLT_OK, "%s", dlt_errmsg());
    return job;
}

static void config(dlt_job *job, dlt_train_config *c)
{
    dlt_status st = dlt_train_config_from_job(job, c);
    ck_assert_msg(st == DLT_OK, "%s", dlt_errmsg());
}

static void expect_rules(const dlt_train_config *c, int n, const char *const *want)
{
    ck_assert_int_eq(c->nrules, n);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(c->rules[i].pattern, want[i]);
        ck_assert_int_eq(c->rules[i].set_weight_decay, 1);
        ck_assert(c->rules[i].weight_decay == 0);
    }
}

START_TEST(test_patterns_per_config)
{
    dlt_job *ja = load("[data]\ntrain = \"a/*.h5\"\n[optim]\nno_decay = \"*.bias, *bn*,,\"\n");
    dlt_job *jb = load("[data]\ntrain = \"b/*.h5\"\n[optim]\nno_decay = \"embed.weight,ln_*,head.*\"\n");
    dlt_train_config *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    config(ja, a);
    config(jb, b);
    /* the first config's patterns survive the second, and neither points
     * into the jobs, which are gone */
    dlt_job_free(ja);
    dlt_job_free(jb);
    static const char *const wa[] = {"*.bias", "*bn*"}, *const wb[] = {"embed.weight", "ln_*", "head.*"};
    expect_rules(a, 2, wa);
    expect_rules(b, 3, wb);
    for (int i = 0; i < a->nrules; i++)
        ck_assert(a->rules[i].pattern >= a->rule_patterns &&
                  a->rules[i].pattern < a->rule_patterns + sizeof a->rule_patterns);
    /* the same job again: the same rules, b untouched */
    dlt_job *jc = load("[data]\ntrain = \"c/*.h5\"\n[optim]\nno_decay = \"\"\n");
    config(jc, a);
    dlt_job_free(jc);
    ck_assert_int_eq(a->nrules, 0);
    expect_rules(b, 3, wb);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_too_many_patterns)
{
    dlt_job *j = load("[data]\ntrain = \"a/*.h5\"\n[optim]\nno_decay = \"a,b,c,d,e,f,g,h,i\"\n");
    dlt_train_config *c = malloc(sizeof *c);
    ck_assert_int_eq(dlt_train_config_from_job(j, c), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "jobs/x.toml:4: optim.no_decay holds too many patterns (at most 8)");
    dlt_job_free(j);
    free(c);
}
END_TEST

static void expect_dropout(dlt_job *job, const char *where, double value)
{
    char w[300];
    dlt_job_where(job, "model.dropout", w, sizeof w);
    ck_assert_str_eq(w, where);
    ck_assert(dlt_job_float(job, "model.dropout") == value);
}

START_TEST(test_record_defaults)
{
    dlt_train_config *c = malloc(sizeof *c);
    /* a transformer without model.dropout: its architecture's, 0.1 (GPT-2's) */
    dlt_job *j = load("[model]\narch = \"gpt-tiny\"\n[data]\ntrain = \"t/*.h5\"\nseq_len = 16\n");
    config(j, c);
    ck_assert_int_eq(c->task, DLT_TASK_CAUSAL_LM);
    ck_assert(c->tf.hidden_dropout == 0.1f);
    expect_dropout(j, "default", 0.0);
    ck_assert_int_eq(dlt_train_job_record_defaults(j, c), DLT_OK);
    char w[300];
    dlt_job_where(j, "model.dropout", w, sizeof w);
    ck_assert_str_ne(w, "default");
    ck_assert(dlt_job_float(j, "model.dropout") == 0.1);
    dlt_job_free(j);
    /* a transformer with model.dropout keeps the job's value and place */
    j = load("[model]\narch = \"bert-tiny\"\ndropout = 0.25\n[data]\ntrain = \"t/*.h5\"\n");
    config(j, c);
    ck_assert(c->tf.hidden_dropout == 0.25f && c->tf.attn_dropout == 0.25f);
    ck_assert_int_eq(dlt_train_job_record_defaults(j, c), DLT_OK);
    expect_dropout(j, "jobs/x.toml:3", 0.25);
    dlt_job_free(j);
    /* an image classifier: model.dropout stays at its default */
    j = load("[model]\narch = \"resnet20\"\n[data]\ntrain = \"i/*.h5\"\n");
    config(j, c);
    ck_assert_int_eq(dlt_train_job_record_defaults(j, c), DLT_OK);
    expect_dropout(j, "default", 0.0);
    dlt_job_free(j);
    free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("job_config");
    TCase *tc = tcase_create("job_config");
    tcase_add_test(tc, test_patterns_per_config);
    tcase_add_test(tc, test_too_many_patterns);
    tcase_add_test(tc, test_record_defaults);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
