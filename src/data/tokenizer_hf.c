/* A tokenizer as the files Hugging Face's tokenizers load from a folder:
 * byte-level BPE as GPT-2's vocab.json + merges.txt (GPT2Tokenizer), WordPiece
 * as BERT's vocab.txt (BertTokenizer), each with a tokenizer_config.json naming
 * the class and special_tokens_map.json. dltrain's BPE vocabulary already spells
 * bytes in GPT-2's printable alphabet (bytes_to_unicode) and merges rank by
 * line, as GPT-2's do, so the strings are written as they are. */
#include "text_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON string: quotes, backslashes and control bytes escaped, UTF-8 as is. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

typedef struct {
    char path[1200], tmp[1220];
    FILE *f;
} out_file;

static dlt_status out_open(out_file *o, const char *dir, const char *name)
{
    snprintf(o->path, sizeof o->path, "%s/%s", dir && dir[0] ? dir : ".", name);
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp", o->path);
    if (!(o->f = fopen(o->tmp, "w")))
        return dlt_seterr(DLT_ERR_IO, "%s: cannot write: %s", o->tmp, strerror(errno));
    return DLT_OK;
}

/* Closes and renames into place; on error the temporary file goes. */
static dlt_status out_close(out_file *o, dlt_status st)
{
    int bad = ferror(o->f);
    if (fclose(o->f) != 0 || bad)
        if (st == DLT_OK)
            st = dlt_seterr(DLT_ERR_IO, "%s: write failed: %s", o->tmp, strerror(errno));
    if (st == DLT_OK && rename(o->tmp, o->path) != 0)
        st =
            dlt_seterr(DLT_ERR_IO, "%s: cannot rename to %s: %s", o->tmp, o->path, strerror(errno));
    if (st != DLT_OK)
        remove(o->tmp);
    return st;
}

static dlt_status write_vocab_json(const dlt_tokenizer *t, const char *dir)
{
    out_file o;
    dlt_status st = out_open(&o, dir, "vocab.json");
    if (st != DLT_OK)
        return st;
    fputc('{', o.f);
    for (int i = 0; i < t->nvocab; i++) {
        fputs(i ? ", " : "", o.f);
        json_str(o.f, t->vocab[i]);
        fprintf(o.f, ": %d", i);
    }
    fputs("}\n", o.f);
    return out_close(&o, st);
}

static dlt_status write_lines(const char *dir, const char *name, const char *first,
                              char *const *lines, int n)
{
    out_file o;
    dlt_status st = out_open(&o, dir, name);
    if (st != DLT_OK)
        return st;
    if (first)
        fprintf(o.f, "%s\n", first);
    for (int i = 0; i < n; i++)
        fprintf(o.f, "%s\n", lines[i]);
    return out_close(&o, st);
}

/* tokenizer_config.json and special_tokens_map.json. */
static dlt_status write_configs(const dlt_tokenizer *t, const char *dir, int max_len)
{
    int bpe = t->type == DLT_TOK_BPE;
    const char *eot = bpe && t->eot >= 0 ? t->vocab[t->eot] : NULL;
    out_file o;
    dlt_status st = out_open(&o, dir, "tokenizer_config.json");
    if (st != DLT_OK)
        return st;
    fprintf(o.f, "{\n  \"tokenizer_class\": \"%s\",\n", bpe ? "GPT2Tokenizer" : "BertTokenizer");
    if (max_len > 0)
        fprintf(o.f, "  \"model_max_length\": %d,\n", max_len);
    if (bpe) {
        fputs("  \"add_prefix_space\": false", o.f);
        const char *keys[] = {"bos_token", "eos_token", "unk_token"};
        for (int i = 0; eot && i < 3; i++) {
            fprintf(o.f, ",\n  \"%s\": ", keys[i]);
            json_str(o.f, eot);
        }
    } else {
        fprintf(o.f,
                "  \"do_lower_case\": %s,\n  \"strip_accents\": null,\n"
                "  \"tokenize_chinese_chars\": true,\n  \"unk_token\": \"[UNK]\",\n"
                "  \"sep_token\": \"[SEP]\",\n  \"pad_token\": \"[PAD]\",\n"
                "  \"cls_token\": \"[CLS]\",\n  \"mask_token\": \"[MASK]\"",
                t->lowercase ? "true" : "false");
    }
    fputs("\n}\n", o.f);
    if ((st = out_close(&o, st)) != DLT_OK || (st = out_open(&o, dir, "special_tokens_map.json")))
        return st;
    if (bpe && eot) {
        fputs("{\"bos_token\": ", o.f);
        json_str(o.f, eot);
        fputs(", \"eos_token\": ", o.f);
        json_str(o.f, eot);
        fputs(", \"unk_token\": ", o.f);
        json_str(o.f, eot);
        fputs("}\n", o.f);
    } else if (bpe) {
        fputs("{}\n", o.f);
    } else {
        fputs("{\"unk_token\": \"[UNK]\", \"sep_token\": \"[SEP]\", \"pad_token\": \"[PAD]\", "
              "\"cls_token\": \"[CLS]\", \"mask_token\": \"[MASK]\"}\n",
              o.f);
    }
    return out_close(&o, st);
}

dlt_status dlt_tokenizer_write_hf(const dlt_tokenizer *t, const char *dir, int max_len, char *files,
                                  size_t len)
{
    dlt_status st;
    if (t->type == DLT_TOK_BPE) {
        /* GPT2Tokenizer skips merges.txt's first line: it must be the version */
        if ((st = write_vocab_json(t, dir)) != DLT_OK ||
            (st = write_lines(dir, "merges.txt", "#version: 0.2", t->merges, t->nmerges)) != DLT_OK)
            return st;
    } else if ((st = write_lines(dir, "vocab.txt", NULL, t->vocab, t->nvocab)) != DLT_OK) {
        return st;
    }
    if ((st = write_configs(t, dir, max_len)) != DLT_OK)
        return st;
    if (files)
        snprintf(files, len, "%s, tokenizer_config.json, special_tokens_map.json",
                 t->type == DLT_TOK_BPE ? "vocab.json, merges.txt" : "vocab.txt");
    return DLT_OK;
}
