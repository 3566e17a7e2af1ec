/* Tokenizers: BERT basic tokenizer, GPT-2 pre-tokenizer, WordPiece and byte-level
 * BPE training on small corpora against hand-computed merges and ids, [UNK],
 * exact BPE round trips (ASCII, UTF-8, emoji, random bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_util.h"
#include "dlt_test.h"
#include "dlt_text.h"

#define OK(x) ck_assert_msg((x) == DLT_OK, "%s", dlt_errmsg())

START_TEST(basic_tokenizer)
{
    char out[512] = "";
    OK(dlt_text_basic_tokenize("H\xc3\xa9llo, WORLD! \xc3\x87" "a va?\x01 na\xc3\xafve \xc3\x86X",
                               strlen("H\xc3\xa9llo, WORLD! \xc3\x87" "a va?\x01 na\xc3\xafve \xc3\x86X"),
                               1, dt_join_piece, out));
    ck_assert_str_eq(out, "hello|,|world|!|ca|va|?|naive|\xc3\xa6x");
    out[0] = '\0';
    const char *cjk = "\xe6\x88\x91\xe7\x88\xb1NLP e\xcc\x81t\xc3\xa9";
    OK(dlt_text_basic_tokenize(cjk, strlen(cjk), 1, dt_join_piece, out));
    ck_assert_str_eq(out, "\xe6\x88\x91|\xe7\x88\xb1|nlp|ete");
    out[0] = '\0';
    OK(dlt_text_basic_tokenize("Don't STOP", 10, 0, dt_join_piece, out));
    ck_assert_str_eq(out, "Don|'|t|STOP");
}
END_TEST

START_TEST(gpt2_pretokenizer)
{
    char out[512] = "";
    const char *s = "Hello world's  test\n\n123abc!!  ";
    dlt_text_gpt2_pretokenize(s, strlen(s), dt_join_piece, out);
    ck_assert_str_eq(out, "Hello| world|'s| | test|\n|\n|123|abc|!!|  ");
    ck_assert_uint_eq(dlt_text_byte_to_unicode('!'), '!');
    ck_assert_uint_eq(dlt_text_byte_to_unicode(' '), 0x120); /* Ġ */
    ck_assert_uint_eq(dlt_text_byte_to_unicode(0), 0x100);
    ck_assert_uint_eq(dlt_text_byte_to_unicode(0xAD), 0x143);
}
END_TEST

static const char *classic =
    "low low low low low lower lower newest newest newest newest newest newest "
    "widest widest widest";

START_TEST(wordpiece_training_and_encoding)
{
    dlt_tokenizer_train_opts o;
    dlt_tokenizer_trainer *tr;
    dlt_tokenizer *t;
    dlt_tokenizer_train_opts_default(&o, DLT_TOK_WORDPIECE);
    o.vocab_size = 64;
    OK(dlt_tokenizer_trainer_new(&o, &tr));
    OK(dlt_tokenizer_trainer_feed(tr, classic, strlen(classic)));
    OK(dlt_tokenizer_trainer_finish(tr, &t));
    /* 5 specials, 10 characters d e i l n o r s t w, their 10 ## forms, then the
     * merges worked out by hand (ties: smaller left string, '#' < letters) */
    const char *want[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "d", "e", "i", "l",
                          "n", "o", "r", "s", "t", "w", "##d", "##e", "##i", "##l", "##n",
                          "##o", "##r", "##s", "##t", "##w", "##es", "##est", "##ow", "low",
                          "##ew", "##ewest", "newest", "##dest", "##idest", "widest", "##er",
                          "lower"};
    ck_assert_int_eq(dlt_tokenizer_vocab_size(t), 37);
    for (int i = 0; i < 37; i++)
        ck_assert_str_eq(dlt_tokenizer_token(t, i), want[i]);
    dlt_ids ids = {0};
    const char *s = "Lowest newer wider Lowly, x";
    OK(dlt_tokenizer_encode(t, s, strlen(s), &ids));
    int32_t exp[] = {28, 26, 9, 29, 35, 14, 17, 15, 35, 1, 1, 1};
    ck_assert_int_eq(ids.n, 12);
    for (int i = 0; i < 12; i++)
        ck_assert_int_eq(ids.ids[i], exp[i]);
    char *text;
    OK(dlt_tokenizer_decode(t, ids.ids, 5, &text, NULL));
    ck_assert_str_eq(text, "lowest newer");
    free(text);
    /* a word of 101 characters is [UNK] even when its pieces exist */
    char longw[102];
    memset(longw, 'l', 101);
    longw[101] = '\0';
    ids.n = 0;
    OK(dlt_tokenizer_encode(t, longw, 101, &ids));
    ck_assert_int_eq(ids.n, 1);
    ck_assert_int_eq(ids.ids[0], DLT_WP_UNK);
    ids.n = 0;
    OK(dlt_tokenizer_encode(t, longw, 100, &ids));
    ck_assert_int_eq(ids.n, 100);
    ck_assert_int_eq(ids.ids[1], 18); /* ##l */
    dlt_special_ids sp = dlt_tokenizer_specials(t);
    ck_assert_int_eq(sp.mask, 4);
    ck_assert_int_eq(sp.cls, 2);
    dlt_ids_free(&ids);
    dlt_tokenizer_free(t);
    /* a smaller target stops after the first five merges */
    o.vocab_size = 30;
    OK(dlt_tokenizer_trainer_new(&o, &tr));
    OK(dlt_tokenizer_trainer_feed(tr, classic, strlen(classic)));
    OK(dlt_tokenizer_trainer_finish(tr, &t));
    ck_assert_int_eq(dlt_tokenizer_vocab_size(t), 30);
    ck_assert_str_eq(dlt_tokenizer_token(t, 29), "##ew");
    dlt_tokenizer_free(t);
}
END_TEST

static dlt_tokenizer *train_bpe(const char *text, int vocab)
{
    dlt_tokenizer_train_opts o;
    dlt_tokenizer_trainer *tr;
    dlt_tokenizer *t;
    dlt_tokenizer_train_opts_default(&o, DLT_TOK_BPE);
    o.vocab_size = vocab;
    OK(dlt_tokenizer_trainer_new(&o, &tr));
    OK(dlt_tokenizer_trainer_feed(tr, text, strlen(text)));
    OK(dlt_tokenizer_trainer_finish(tr, &t));
    return t;
}

START_TEST(bpe_first_merges)
{
    /* aaabdaaabac: aa (4) first; then ab and (aa, a) tie at 2 and "a" < "aa";
     * then (aa, ab) at 2; the rest occur once */
    dlt_tokenizer *t = train_bpe("aaabdaaabac", 1000);
    ck_assert_int_eq(dlt_tokenizer_num_merges(t), 3);
    ck_assert_str_eq(dlt_tokenizer_merge(t, 0), "a a");
    ck_assert_str_eq(dlt_tokenizer_merge(t, 1), "a b");
    ck_assert_str_eq(dlt_tokenizer_merge(t, 2), "aa ab");
    ck_assert_int_eq(dlt_tokenizer_vocab_size(t), 260);
    ck_assert_str_eq(dlt_tokenizer_token(t, 259), DLT_BPE_EOT);
    ck_assert_int_eq(dlt_tokenizer_specials(t).eot, 259);
    ck_assert_str_eq(dlt_tokenizer_token(t, 32), "\xc4\xa0"); /* Ġ: the space byte */
    dlt_ids ids = {0};
    OK(dlt_tokenizer_encode(t, "aaabdaaabac", 11, &ids));
    int32_t exp[] = {258, 'd', 258, 'a', 'c'};
    ck_assert_int_eq(ids.n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(ids.ids[i], exp[i]);
    /* the stored form rebuilds the same tokenizer */
    dlt_tokenizer *u;
    OK(dlt_tokenizer_from_vocab(DLT_TOK_BPE, dlt_tokenizer_vocab(t), 260,
                                dlt_tokenizer_merges(t), 3, 1, &u));
    dlt_ids ids2 = {0};
    OK(dlt_tokenizer_encode(u, "aaabdaaabac", 11, &ids2));
    ck_assert_int_eq(ids2.n, 5);
    ck_assert_mem_eq(ids.ids, ids2.ids, 5 * sizeof(int32_t));
    dlt_ids_free(&ids);
    dlt_ids_free(&ids2);
    dlt_tokenizer_free(u);
    dlt_tokenizer_free(t);
}
END_TEST

static void roundtrip(dlt_tokenizer *t, const char *s, size_t n)
{
    dlt_ids ids = {0};
    char *back;
    size_t len;
    OK(dlt_tokenizer_encode(t, s, n, &ids));
    OK(dlt_tokenizer_decode(t, ids.ids, ids.n, &back, &len));
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(memcmp(back, s, n), 0);
    free(back);
    dlt_ids_free(&ids);
}

START_TEST(bpe_roundtrip)
{
    const char *corpus =
        "The quick brown fox jumps over the lazy dog. The dog's owner isn't amused; "
        "the fox'll be back at 10:30 tomorrow.\n\n  Indented  text\tand tabs. "
        "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
        "\xf0\x9f\x98\x80\xf0\x9f\x98\x80 the the the fox fox";
    dlt_tokenizer *t = train_bpe(corpus, 400);
    ck_assert_int_gt(dlt_tokenizer_num_merges(t), 20);
    roundtrip(t, corpus, strlen(corpus));
    const char *ascii = "Hello, World! 1234 -- isn't it   grand?\n";
    roundtrip(t, ascii, strlen(ascii));
    const char *utf8 = "\xce\xb1\xce\xb2\xce\xb3 \xd0\xbf\xd1\x80\xd0\xb8 "
                       "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd \xe2\x82\xac" "5";
    roundtrip(t, utf8, strlen(utf8));
    uint64_t x = 88172645463325252ull;
    for (int rep = 0; rep < 20; rep++) {
        char buf[300];
        size_t n = (size_t)rep * 15;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (char)(x & 0xff);
        }
        roundtrip(t, buf, n);
    }
    /* a shorter encoding than bytes for the training text */
    dlt_ids ids = {0};
    OK(dlt_tokenizer_encode(t, corpus, strlen(corpus), &ids));
    ck_assert_int_lt(ids.n, (int64_t)strlen(corpus) * 3 / 4);
    dlt_ids_free(&ids);
    dlt_tokenizer_free(t);
}
END_TEST

START_TEST(errors)
{
    dlt_tokenizer *t;
    const char *bad[] = {"a", "b"};
    ck_assert_int_eq(dlt_tokenizer_from_vocab(DLT_TOK_WORDPIECE, bad, 2, NULL, 0, 1, &t),
                     DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_tokenizer_from_vocab(DLT_TOK_BPE, bad, 2, NULL, 0, 1, &t),
                     DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "lacks byte"));
    dlt_tokenizer_type ty;
    ck_assert_int_eq(dlt_tokenizer_type_parse("sentencepiece", &ty), DLT_ERR_INVALID);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text_tok");
    TCase *tc = tcase_create("tok");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, basic_tokenizer);
    tcase_add_test(tc, gpt2_pretokenizer);
    tcase_add_test(tc, wordpiece_training_and_encoding);
    tcase_add_test(tc, bpe_first_merges);
    tcase_add_test(tc, bpe_roundtrip);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
