/* toml-test decoder: TOML on stdin, the suite's tagged JSON on stdout; exit
 * status 1 (message on stderr) for invalid TOML. Used by
 * tests/io/toml_conformance.sh with ../shared/toml-test/run.py. */
#include "dlt_toml.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void json_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t j = 0; j < len; j++) {
        unsigned char c = (unsigned char)s[j];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7F)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void tagged(const char *type, const char *text)
{
    printf("{\"type\": \"%s\", \"value\": ", type);
    json_string(text, strlen(text));
    putchar('}');
}

static void json(const dlt_toml_value *v)
{
    char buf[64];
    switch (v->type) {
    case DLT_TOML_TABLE:
        putchar('{');
        for (size_t j = 0; j < v->tab.len; j++) {
            if (j)
                putchar(',');
            json_string(v->tab.items[j].key, v->tab.items[j].key_len);
            putchar(':');
            json(v->tab.items[j].value);
        }
        putchar('}');
        break;
    case DLT_TOML_ARRAY:
        putchar('[');
        for (size_t j = 0; j < v->arr.len; j++) {
            if (j)
                putchar(',');
            json(v->arr.items[j]);
        }
        putchar(']');
        break;
    case DLT_TOML_STRING:
        printf("{\"type\": \"string\", \"value\": ");
        json_string(v->str.ptr, v->str.len);
        putchar('}');
        break;
    case DLT_TOML_INT:
        snprintf(buf, sizeof buf, "%" PRId64, v->i);
        tagged("integer", buf);
        break;
    case DLT_TOML_FLOAT:
        if (isnan(v->f))
            snprintf(buf, sizeof buf, "nan");
        else if (isinf(v->f))
            snprintf(buf, sizeof buf, "%sinf", v->f < 0 ? "-" : "");
        else
            snprintf(buf, sizeof buf, "%.17g", v->f);
        tagged("float", buf);
        break;
    case DLT_TOML_BOOL: tagged("bool", v->b ? "true" : "false"); break;
    case DLT_TOML_DATETIME: tagged("datetime", v->dt.text); break;
    case DLT_TOML_DATETIME_LOCAL: tagged("datetime-local", v->dt.text); break;
    case DLT_TOML_DATE_LOCAL: tagged("date-local", v->dt.text); break;
    case DLT_TOML_TIME_LOCAL: tagged("time-local", v->dt.text); break;
    }
}

int main(void)
{
    size_t cap = 1 << 16, len = 0, got;
    char *text = malloc(cap);
    while (text && (got = fread(text + len, 1, cap - len, stdin)) > 0) {
        len += got;
        if (len == cap)
            text = realloc(text, cap *= 2);
    }
    if (!text)
        return 2;
    dlt_toml_value *doc;
    if (dlt_toml_parse(text, len, &doc)) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        free(text);
        return 1;
    }
    json(doc);
    putchar('\n');
    dlt_toml_free(doc);
    free(text);
    return 0;
}
