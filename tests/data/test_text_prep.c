/* Text pipeline: sentence splitting, BERT instances (masking 15% with 80/10/10,
 * NSP balance, [CLS]/[SEP] layout, lengths), dlprep text end to end into shards
 * (GPT streams with end-of-text separators, BERT shards), the text loader and
 * determinism by seed. Corpora are written by the test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_util.h"
#include "dlt_test.h"
#include "dlt_text.h"

#define OK(x) ck_assert_msg((x) == DLT_OK, "%s", dlt_errmsg())

START_TEST(sentences)
{
    char out[512] = "";
    const char *s = "Dr. Smith went home. He said \"Hi!\" Then J. R. left at 5 p.m. today. "
                    "Was it e.g. fine?  Yes.";
    dlt_text_split_sentences(s, strlen(s), dt_join_piece, out);
    ck_assert_str_eq(out, "Dr. Smith went home.|He said \"Hi!\"|Then J. R. left at 5 p.m. "
                          "today.|Was it e.g. fine?|Yes.");
}
END_TEST

/* A synthetic tokenized corpus: doc d has 12 + d % 10 sentences of 4..19 tokens. */
typedef struct {
    int32_t tok[60000];
    int64_t off[5000], ds[201];
    dlt_text_corpus c;
} corpus;

static void make_corpus(corpus *k, int ndocs)
{
    int64_t ns = 0, nt = 0;
    k->off[0] = 0;
    for (int d = 0; d < ndocs; d++) {
        k->ds[d] = ns;
        for (int s = 0; s < 12 + d % 10; s++, ns++) {
            int len = 4 + (int)((d * 7 + s * 3) % 16);
            for (int i = 0; i < len; i++)
                k->tok[nt++] = 5 + (int)((d * 131 + s * 17 + i) % 95);
            k->off[ns + 1] = nt;
        }
    }
    k->ds[ndocs] = ns;
    k->c = (dlt_text_corpus){k->tok, k->off, k->ds, ndocs};
}

typedef struct {
    int64_t n, nsp1, masked, mask_tok, kept, rnd, tokens, orig_equal;
    int L, P;
    const int32_t *orig; /* unused */
} tally;

static int check_instance(const dlt_bert_instance *x, void *user)
{
    tally *t = user;
    int L = t->L;
    ck_assert_int_le(x->length, L);
    ck_assert_int_eq(x->input_ids[0], DLT_WP_CLS);
    ck_assert_int_eq(x->input_ids[x->length - 1], DLT_WP_SEP);
    int seps = 0, sep_at = -1;
    for (int i = 0; i < x->length; i++)
        if (x->input_ids[i] == DLT_WP_SEP)
            seps++, sep_at = sep_at < 0 ? i : sep_at;
    ck_assert_int_eq(seps, 2);
    for (int i = 0; i < L; i++) {
        int want = i > sep_at && i < x->length;
        ck_assert_int_eq(x->token_type_ids[i], want);
        if (i >= x->length)
            ck_assert_int_eq(x->input_ids[i], 0);
    }
    int k = (int)(x->length * 0.15 + 0.5);
    k = k < 1 ? 1 : k > t->P ? t->P : k;
    ck_assert_int_eq(x->num_predictions, k);
    for (int i = 0; i < t->P; i++) {
        ck_assert(x->mlm_weights[i] == (i < k ? 1.0f : 0.0f));
        if (i >= k)
            continue;
        int p = x->mlm_positions[i];
        ck_assert(i == 0 || p > x->mlm_positions[i - 1]);
        ck_assert(p > 0 && p < x->length && p != sep_at && p != x->length - 1);
        int now = x->input_ids[p];
        t->mask_tok += now == DLT_WP_MASK;
        t->kept += now == x->mlm_ids[i];
        t->rnd += now != DLT_WP_MASK && now != x->mlm_ids[i];
    }
    t->n++;
    t->nsp1 += x->next_sentence_label;
    t->masked += k;
    t->tokens += x->length - 3;
    return 0;
}

START_TEST(bert_instances)
{
    static corpus k;
    make_corpus(&k, 200);
    dlt_bert_opts o;
    dlt_bert_opts_default(&o);
    o.seq_len = 32, o.max_predictions = 5, o.vocab_size = 100, o.seed = 7;
    tally t = {0};
    t.L = 32, t.P = 5;
    for (int r = 0; r < 10; r++)
        for (int d = 0; d < 200; d++)
            OK(dlt_bert_document_instances(&k.c, d, r, &o, check_instance, &t));
    double pm = (double)t.mask_tok / t.masked, pk = (double)t.kept / t.masked;
    double nsp = (double)t.nsp1 / t.n;
    printf("bert: %lld instances, %lld predictions: [MASK] %.3f kept %.3f random %.3f; "
           "NSP random %.3f\n", (long long)t.n, (long long)t.masked, pm, pk,
           (double)t.rnd / t.masked, nsp);
    fflush(stdout);
    ck_assert_int_gt(t.n, 2000);
    ck_assert(pm > 0.77 && pm < 0.83);
    /* kept includes random draws that hit the original id (1/95 of 10%) */
    ck_assert(pk > 0.085 && pk < 0.12);
    ck_assert(nsp > 0.45 && nsp < 0.60); /* one-sentence chunks are always random */
    /* determinism and count_only */
    tally u = {0}, v = {0};
    u.L = v.L = 32, u.P = v.P = 5;
    OK(dlt_bert_document_instances(&k.c, 17, 3, &o, check_instance, &u));
    OK(dlt_bert_document_instances(&k.c, 17, 3, &o, check_instance, &v));
    ck_assert_int_eq(u.n, v.n);
    ck_assert_int_eq(u.mask_tok, v.mask_tok);
}
END_TEST

static char *dir;

static void write_corpus(const char *d)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/corpus", d);
    dt_rmrf(path);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/sub", path);
    ck_assert_int_eq(system(cmd), 0);
    for (int f = 0; f < 12; f++) {
        snprintf(path, sizeof path, "%s/corpus/%s%02d.txt", d, f % 2 ? "sub/" : "", f);
        FILE *fp = fopen(path, "w");
        ck_assert_ptr_nonnull(fp);
        for (int s = 0; s < 6 + f; s++)
            fprintf(fp, "The kernel module %d loads driver number %d quickly. ", f, s);
        fprintf(fp, "\n\nA second paragraph talks about memory pages. It is short.\n");
        fclose(fp);
    }
    snprintf(path, sizeof path, "%s/corpus/skip.bin", d);
    FILE *fp = fopen(path, "w");
    fputs("not text", fp);
    fclose(fp);
}

START_TEST(gpt_pipeline_and_loader)
{
    dir = dt_tmpdir();
    write_corpus(dir);
    char in[4200], out[4200], glob[4300];
    snprintf(in, sizeof in, "%s/corpus", dir);
    snprintf(out, sizeof out, "%s/gpt", dir);
    dlt_text_prep_opts t;
    dlt_text_prep_opts_default(&t);
    t.vocab_size = 300;
    dlt_convert_opts o;
    dlt_convert_opts_default(&o);
    o.out_dir = out, o.num_shards = 2, o.val_fraction = 0.25, o.seed = 3;
    dlt_text_prep_stats st;
    const char *inputs[] = {in};
    OK(dlt_text_prep(inputs, 1, &t, &o, &st));
    ck_assert_int_eq(st.files, 12);
    ck_assert_int_eq(st.documents, 12);
    ck_assert_int_eq(st.val_documents, 3);
    ck_assert_int_eq(st.train_samples, 9);
    /* shards: documents end with <|endoftext|>, decode to the files' text */
    snprintf(glob, sizeof glob, "%s/train-*.h5", out);
    dlt_text_loader_config c;
    dlt_text_loader_config_default(&c);
    c.paths = glob, c.batch_size = 2, c.seq_len = 16, c.seed = 5;
    dlt_text_loader *l;
    OK(dlt_text_loader_open(&c, &l));
    const dlt_tokenizer *tok = dlt_text_loader_tokenizer(l);
    ck_assert_ptr_nonnull(tok);
    int eot = dlt_tokenizer_specials(tok).eot;
    ck_assert_int_eq(eot, 299);
    ck_assert_int_eq(dlt_text_loader_num_samples(l), (st.train_tokens - 1) / 16);
    /* the stream: read shard 0 document 0 and check the separator and the text */
    char p0[4300];
    snprintf(p0, sizeof p0, "%s/train-00000-of-00002.h5", out);
    dlt_shard *s;
    OK(dlt_shard_open(p0, NULL, &s));
    int32_t buf[4096];
    int64_t n;
    OK(dlt_shard_read_document(s, 0, buf, 4096, &n));
    ck_assert_int_eq(buf[n - 1], eot);
    for (int64_t i = 0; i < n - 1; i++)
        ck_assert_int_ne(buf[i], eot);
    char *text;
    OK(dlt_tokenizer_decode(tok, buf, n - 1, &text, NULL));
    ck_assert_msg(strncmp(text, "The kernel module ", 18) == 0, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "\n\nA second paragraph"));
    free(text);
    dlt_shard_close(s);
    /* windows overlap by one token and follow the stream */
    dlt_text_batch b;
    OK(dlt_text_loader_next(l, &b));
    ck_assert_int_eq(b.valid, 2);
    int64_t w = b.indices[0];
    int32_t first[17];
    memcpy(first, b.tokens, sizeof first);
    dlt_text_loader_close(l);
    c.shuffle = 0;
    OK(dlt_text_loader_open(&c, &l));
    for (int64_t step = 0; step <= w / 2; step++)
        OK(dlt_text_loader_next(l, &b));
    ck_assert_mem_eq(b.tokens + (w % 2) * 17, first, sizeof first);
    dlt_text_loader_close(l);
    dt_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(bert_pipeline_and_loader)
{
    dir = dt_tmpdir();
    write_corpus(dir);
    char in[4200], out[4200], glob[4300];
    snprintf(in, sizeof in, "%s/corpus", dir);
    snprintf(out, sizeof out, "%s/bert", dir);
    dlt_text_prep_opts t;
    dlt_text_prep_opts_default(&t);
    t.target = DLT_TEXT_BERT, t.tokenizer = DLT_TOK_WORDPIECE, t.vocab_size = 200;
    t.bert.seq_len = 24, t.bert.max_predictions = 4, t.dupe_factor = 3;
    dlt_convert_opts o;
    dlt_convert_opts_default(&o);
    o.out_dir = out, o.shard_size = 40, o.seed = 11;
    dlt_text_prep_stats st;
    const char *inputs[] = {in};
    OK(dlt_text_prep(inputs, 1, &t, &o, &st));
    ck_assert_int_gt(st.train_samples, 40);
    printf("bert pipeline: %lld sentences, %lld tokens, %lld instances, vocab %d\n",
           (long long)st.sentences, (long long)st.tokens, (long long)st.train_samples,
           st.vocab_size);
    snprintf(glob, sizeof glob, "%s/train-*.h5", out);
    dlt_text_loader_config c;
    dlt_text_loader_config_default(&c);
    c.paths = glob, c.batch_size = 4, c.seq_len = 0, c.seed = 1;
    dlt_text_loader *l;
    OK(dlt_text_loader_open(&c, &l));
    ck_assert(dlt_text_loader_is_bert(l));
    ck_assert_int_eq(dlt_text_loader_num_samples(l), st.train_samples);
    const dlt_tokenizer *tok = dlt_text_loader_tokenizer(l);
    ck_assert_int_ge(dlt_tokenizer_id(tok, "kernel"), 5);
    dlt_text_batch b;
    int64_t masks = 0, preds = 0;
    for (int step = 0; step < 10; step++) {
        OK(dlt_text_loader_next(l, &b));
        for (int k = 0; k < 4; k++) {
            ck_assert_int_eq(b.input_ids[k * 24], DLT_WP_CLS);
            ck_assert(b.attention_mask[k * 24] == 1.0f);
            ck_assert(b.nsp_labels[k] == 0 || b.nsp_labels[k] == 1);
            for (int p = 0; p < 4; p++) {
                if (b.mlm_weights[k * 4 + p] == 0)
                    continue;
                preds++;
                int pos = b.mlm_positions[k * 4 + p];
                masks += b.input_ids[k * 24 + pos] == DLT_WP_MASK;
                ck_assert(b.attention_mask[k * 24 + pos] == 1.0f);
            }
        }
    }
    ck_assert(masks > preds / 2);
    dlt_loader_cursor cur = dlt_text_loader_get_cursor(l);
    OK(dlt_text_loader_next(l, &b));
    int32_t row[24];
    memcpy(row, b.input_ids, sizeof row);
    OK(dlt_text_loader_set_cursor(l, cur));
    OK(dlt_text_loader_next(l, &b));
    ck_assert_mem_eq(row, b.input_ids, sizeof row);
    dlt_text_loader_close(l);
    /* same seed, same shards (checksums); another seed differs */
    char p0[4300], again[4200];
    snprintf(p0, sizeof p0, "%s/train-00000-of-%05d.h5", out,
             (int)((st.train_samples + 39) / 40));
    dlt_shard *s1, *s2;
    snprintf(again, sizeof again, "%s/bert2", dir);
    o.out_dir = again;
    OK(dlt_text_prep(inputs, 1, &t, &o, &st));
    char p1[4300];
    snprintf(p1, sizeof p1, "%s/%s", again, strrchr(p0, '/') + 1);
    OK(dlt_shard_open(p0, NULL, &s1));
    OK(dlt_shard_open(p1, NULL, &s2));
    ck_assert_uint_eq(dlt_shard_get_info(s1)->checksum, dlt_shard_get_info(s2)->checksum);
    ck_assert_int_eq(dlt_shard_get_info(s1)->seq_len, 24);
    ck_assert_str_eq(dlt_shard_get_info(s1)->tokenizer, "wordpiece");
    dlt_shard_close(s2);
    o.seed = 12;
    OK(dlt_text_prep(inputs, 1, &t, &o, &st));
    OK(dlt_shard_open(p1, NULL, &s2));
    ck_assert_uint_ne(dlt_shard_get_info(s1)->checksum, dlt_shard_get_info(s2)->checksum);
    dlt_shard_close(s1);
    dlt_shard_close(s2);
    /* BERT with BPE has no [CLS]: a clear error */
    t.tokenizer = DLT_TOK_BPE, t.vocab_size = 300;
    ck_assert_int_eq(dlt_text_prep(inputs, 1, &t, &o, &st), DLT_ERR_INVALID);
    ck_assert(dt_contains(dlt_errmsg(), "wordpiece", NULL));
    dt_rmrf(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text_prep");
    TCase *tc = tcase_create("prep");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sentences);
    tcase_add_test(tc, bert_instances);
    tcase_add_test(tc, gpt_pipeline_and_loader);
    tcase_add_test(tc, bert_pipeline_and_loader);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
