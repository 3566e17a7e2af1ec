/* Private to src/data: a plain-text corpus in memory (documents, sentences as
 * byte ranges of the documents' text), read by text_corpus.c for dlprep. */
#ifndef DLT_TEXT_CORPUS_H
#define DLT_TEXT_CORPUS_H

#include "text_internal.h"

typedef struct {
    int64_t start, end;           /* bytes of text */
    int64_t first_sent, end_sent; /* sentences */
} dlt_corpus_doc;

typedef struct {
    char *text; /* documents, each followed by a NUL */
    size_t ntext, text_cap;
    dlt_corpus_doc *doc;
    int64_t ndocs;
    size_t doc_cap;
    int64_t (*sent)[2]; /* [start, end) bytes of text */
    int64_t nsent;
    size_t sent_cap;
    int64_t files, skipped, bytes;
} dlt_corpus;

/* The files of inputs (folders searched recursively for the extensions, each
 * optionally .gz; names sorted), malloc'd. */
dlt_status dlt_corpus_list_files(const char *const *inputs, int n, const char *exts,
                                 char ***files, size_t *nfiles);
/* Reads one file (gzip or plain; HTML stripped; binary files skipped) into c. */
dlt_status dlt_corpus_add_file(dlt_corpus *c, const char *path, dlt_doc_split mode);
void dlt_corpus_free(dlt_corpus *c);

#endif
