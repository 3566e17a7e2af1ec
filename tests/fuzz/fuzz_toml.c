/* libFuzzer target for the TOML parser (see README.md here). Besides
 * crashes it checks the writer: every accepted document, written back out,
 * must parse again to an equal tree. */
#include "dlt_toml.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    dlt_toml_value *doc;
    if (dlt_toml_parse((const char *)data, size, &doc) != DLT_OK)
        return 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    if (dlt_toml_write(f, doc) != DLT_OK)
        abort();
    fclose(f);
    dlt_toml_value *again;
    if (dlt_toml_parse(buf, len, &again) != DLT_OK) {
        fprintf(stderr, "written TOML does not parse: %s\n---\n%s---\n", dlt_errmsg(), buf);
        abort();
    }
    if (!dlt_toml_equal(doc, again)) {
        fprintf(stderr, "written TOML parses to a different tree\n---\n%s---\n", buf);
        abort();
    }
    dlt_toml_value *copy = dlt_toml_clone(doc);
    if (!dlt_toml_equal(doc, copy))
        abort();
    dlt_toml_free(copy);
    dlt_toml_free(again);
    dlt_toml_free(doc);
    free(buf);
    return 0;
}
