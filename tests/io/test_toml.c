/* TOML parser and writer beyond the shared conformance suite: every error
 * message with its hand-counted LINE:COL, source positions of keys and
 * values, lookups, tree building, and write -> parse round trips. */
#include "dlt_test.h"
#include "dlt_toml.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static dlt_toml_value *parse_ok(const char *text)
{
    dlt_toml_value *doc = NULL;
    dlt_status st = dlt_toml_parse(text, strlen(text), &doc);
    ck_assert_msg(st == DLT_OK, "parse failed: %s\n%s", dlt_errmsg(), text);
    return doc;
}

/* Each case: a document and the exact message it must fail with. Columns
 * count characters from 1; the cases are short so they can be checked by eye. */
static const struct {
    const char *doc, *msg;
} errors[] = {
    /* UTF-8 and control characters */
    {"a = \"\xff\"", "1:6: invalid UTF-8 (byte 0xFF)"},
    {"a = \"\xc3\"", "1:6: invalid UTF-8 (truncated sequence)"},
    {"a = \"\xc3\x28\"", "1:6: invalid UTF-8 (truncated sequence)"},
    {"a = \"\xe0\x80\xaf\"", "1:6: invalid UTF-8 (overlong form, surrogate or beyond U+10FFFF)"},
    {"a = \"\xed\xa0\x80\"", "1:6: invalid UTF-8 (overlong form, surrogate or beyond U+10FFFF)"},
    {"a = \"\xf4\x90\x80\x80\"", "1:6: invalid UTF-8 (overlong form, surrogate or beyond U+10FFFF)"},
    {"a = 1 # \x01", "1:9: control character U+0001 is not allowed in a comment"},
    {"# x\x7f", "1:4: control character U+007F is not allowed in a comment"},
    {"a = \"a\x01" "b\"", "1:7: control character U+0001 must be escaped in a string"},
    {"a = \"\xc3\xa9\x01\"", "1:7: control character U+0001 must be escaped in a string"},
    {"a = '''x\x7f'''", "1:9: control character U+007F must be escaped in a string"},
    /* line structure */
    {"= 1", "1:1: expected a key (letters, digits, '_', '-' or a quoted string)"},
    {"\xc3\xa9 = 1", "1:1: expected a key (letters, digits, '_', '-' or a quoted string)"},
    {"a. = 1", "1:4: expected a key (letters, digits, '_', '-' or a quoted string)"},
    {"a 1", "1:3: expected '=' after a key"},
    {"a =", "1:4: expected a value (string, number, boolean, date-time, array or inline table)"},
    {"a = @", "1:5: expected a value (string, number, boolean, date-time, array or inline table)"},
    {"a = truth", "1:5: expected a value (string, number, boolean, date-time, array or inline table)"},
    {"a = 1 b = 2", "1:7: expected the end of the line"},
    {"a = true2", "1:9: expected the end of the line"},
    {"a = 1\rb = 2", "1:6: carriage return must be followed by a line feed"},
    {"a = [1,\r]", "1:8: carriage return must be followed by a line feed"},
    {"a = \"\"\"x\ry\"\"\"", "1:9: carriage return must be followed by a line feed"},
    /* keys and tables */
    {"a = 1\na = 2", "2:1: duplicate key 'a' (first defined at line 1)"},
    {"a.b = 1\n\"a\".'b' = 2", "2:5: duplicate key 'a.b' (first defined at line 1)"},
    {"\"x y\" = 1\n'x y' = 2", "2:1: duplicate key '\"x y\"' (first defined at line 1)"},
    {"a = 1\na.b = 2", "2:1: key 'a' (line 1) is an integer, not a table"},
    {"a = {b = 1}\na.c = 2", "2:1: inline table 'a' (line 1) cannot be extended"},
    {"a = {b = 1}\n[a.c]", "2:2: inline table 'a' (line 1) cannot be extended"},
    {"a = {b = 1}\n[a]", "2:2: table [a] is already defined (line 1)"},
    {"a = {b = {c = 1}, b.d = 2}", "1:19: inline table 'b' (line 1) cannot be extended"},
    {"[a.b]\nx = 1\n[a]\nb.y = 2",
     "4:1: table 'b' was defined by a [header] (line 1); dotted keys cannot add to it"},
    {"[a]\nb.c = 1\n[a.b]", "3:4: table [a.b] is already defined (line 2)"},
    {"[a\n", "1:3: expected ']' to close the table header"},
    {"[[a]\n", "1:4: expected ']]' to close the array-of-tables header"},
    {"[[a] ]\n", "1:4: expected ']]' to close the array-of-tables header"},
    {"[a]\n[a]", "2:2: table [a] is already defined (line 1)"},
    {"[a]\n\n  [ a ]", "3:5: table [a] is already defined (line 1)"},
    {"a = 1\n[a.b]", "2:2: key 'a' (line 1) is an integer, not a table"},
    {"a = 1\n[a]", "2:2: key 'a' (line 1) is an integer, not a table"},
    {"a = [1]\n[[a]]", "2:3: cannot append to 'a' with [[...]]: it is a static array (line 1)"},
    {"a = 'x'\n[[a]]", "2:3: cannot append to 'a' with [[...]]: it is a string (line 1)"},
    {"[[a]]\n[a]", "2:2: key 'a' (line 1) is an array, not a table"},
    {"[a]\n[[a]]", "2:3: cannot append to 'a' with [[...]]: it is a table (line 1)"},
    {"[x] # c\n[x.\"y z\".w]\n[x.\"y z\".w]", "3:10: table [x.\"y z\".w] is already defined (line 2)"},
    /* strings */
    {"a = \"abc", "1:5: unterminated string (expected closing \")"},
    {"a = 'abc", "1:5: unterminated string (expected closing ')"},
    {"a = \"\"\"abc\n", "1:5: unterminated string (expected closing \"\"\")"},
    {"a = '''abc", "1:5: unterminated string (expected closing ''')"},
    {"a = \"ab\nc\"", "1:8: expected closing \" before the end of the line"},
    {"a = 'ab\nc'", "1:8: expected closing ' before the end of the line"},
    {"a = \"\"\"ab\"\"\"\"\"\"", "1:15: too many quotes: a multi-line string ends with at most 5"},
    {"a = \"\\q\"", "1:6: invalid escape '\\q' (expected one of \\b \\t \\n \\f \\r \\\" \\\\ \\u \\U)"},
    {"a = \"\\ \"", "1:6: invalid escape (expected one of \\b \\t \\n \\f \\r \\\" \\\\ \\u \\U)"},
    {"a = \"\\u12\"", "1:6: expected 4 hex digits after '\\u'"},
    {"a = \"\\U0001F60\"", "1:6: expected 8 hex digits after '\\U'"},
    {"a = \"\\uD800\"", "1:6: escape '\\u' is not a Unicode scalar value (U+D800)"},
    {"a = \"\\U00110000\"", "1:6: escape '\\U' is not a Unicode scalar value (U+110000)"},
    {"a = \"\"\"\nok\n\\ x\"\"\"", "3:1: invalid escape (expected one of \\b \\t \\n \\f \\r \\\" \\\\ \\u \\U)"},
    {"\"\"\"k\"\"\" = 1", "1:3: expected '=' after a key"},
    /* numbers */
    {"a = +0x10", "1:5: a sign is not allowed on hexadecimal, octal or binary integers"},
    {"a = 0x", "1:7: expected a base-16 digit"},
    {"a = 0xG", "1:7: expected a base-16 digit"},
    {"a = 0o78", "1:8: expected a base-8 digit"},
    {"a = 0b102", "1:9: expected a base-2 digit"},
    {"a = 0x_1", "1:7: '_' must stand between two digits"},
    {"a = 0x8000000000000000", "1:5: integer does not fit in 64 bits (max 9223372036854775807)"},
    {"a = 9223372036854775808",
     "1:5: integer does not fit in 64 bits (range -9223372036854775808 to 9223372036854775807)"},
    {"a = -9223372036854775809",
     "1:5: integer does not fit in 64 bits (range -9223372036854775808 to 9223372036854775807)"},
    {"a = 0123", "1:5: leading zeros are not allowed in numbers"},
    {"a = -01.5", "1:6: leading zeros are not allowed in numbers"},
    {"a = 1__2", "1:7: '_' must stand between two digits"},
    {"a = 12_", "1:7: '_' must stand between two digits"},
    {"a = _1", "1:5: expected a value (string, number, boolean, date-time, array or inline table)"},
    {"a = 1.", "1:7: expected a digit after the decimal point"},
    {"a = .5", "1:5: expected a value (string, number, boolean, date-time, array or inline table)"},
    {"a = 1._5", "1:7: '_' must stand between two digits"},
    {"a = 1e", "1:7: expected a digit in the exponent"},
    {"a = 1e+", "1:8: expected a digit in the exponent"},
    {"a = 1.2.3", "1:8: unexpected '.' in number"},
    {"a = 1e5.0", "1:8: unexpected '.' in number"},
    {"a = +", "1:6: expected a value (string, number, boolean, date-time, array or inline table)"},
    {"a = infinity", "1:5: expected a value (string, number, boolean, date-time, array or inline table)"},
    /* date-times */
    {"a = 25:61:00", "1:5: time 25:61:00 is out of range"},
    {"a = 12:30", "1:5: expected a time as HH:MM:SS"},
    {"a = 2023-02-29", "1:5: date 2023-02-29 does not exist"},
    {"a = 2023-13-01", "1:5: date 2023-13-01 does not exist"},
    {"a = 2023-1-01", "1:5: expected a date as YYYY-MM-DD"},
    {"a = 2023-01-01T10:00", "1:16: expected a time as HH:MM:SS"},
    {"a = 2023-01-01T10:00:00+2:00", "1:24: expected a time offset as +HH:MM or -HH:MM"},
    {"a = 2023-01-01T10:00:00+24:00", "1:24: time offset +24:00 is out of range"},
    {"a = 10:00:00.", "1:14: expected a digit after the decimal point of the seconds"},
    {"a = 2023-01-01 10:00:00Zx", "1:25: expected the end of the line"},
    /* arrays and inline tables */
    {"a = [1 2]", "1:8: expected ',' or ']' after an array element"},
    {"a = [1,,2]", "1:8: expected a value (string, number, boolean, date-time, array or inline table)"},
    {"a = [\n  1,\n  # c\n  2\n  3]", "5:3: expected ',' or ']' after an array element"},
    {"a = [", "1:6: expected a value (string, number, boolean, date-time, array or inline table)"},
    {"a = {b = 1 c = 2}", "1:12: expected ',' or '}' in an inline table (which must fit on one line)"},
    {"a = {b = 1,}", "1:12: expected a key after ',' (no trailing comma in an inline table)"},
    {"a = {b = 1\n}", "1:11: expected ',' or '}' in an inline table (which must fit on one line)"},
    {"a = {b = 1, b = 2}", "1:13: duplicate key 'b' (first defined at line 1)"},
};

START_TEST(test_errors)
{
    dlt_toml_value *doc = (dlt_toml_value *)1;
    dlt_status st = dlt_toml_parse(errors[_i].doc, strlen(errors[_i].doc), &doc);
    ck_assert_msg(st == DLT_ERR_INVALID, "case %d accepted: %s", _i, errors[_i].doc);
    ck_assert_ptr_null(doc);
    ck_assert_msg(!strcmp(dlt_errmsg(), errors[_i].msg), "case %d: %s\n  got  %s\n  want %s", _i, errors[_i].doc,
                  dlt_errmsg(), errors[_i].msg);
}
END_TEST

static void expect_err(const char *doc, const char *msg)
{
    dlt_toml_value *v = (dlt_toml_value *)1;
    ck_assert_int_eq(dlt_toml_parse(doc, strlen(doc), &v), DLT_ERR_INVALID);
    ck_assert_ptr_null(v);
    ck_assert_str_eq(dlt_errmsg(), msg);
}

/* The limit is on the depth of the tree (root 0), however it is written. */
START_TEST(test_depth_limit)
{
    char doc[2048] = "a = ";
    size_t n = strlen(doc);
    for (int k = 0; k < 300; k++)
        doc[n++] = '[';
    doc[n] = '\0';
    /* the k-th '[' is at depth k: the 200th (column 204) would hold depth 201 */
    expect_err(doc, "1:204: values nested too deeply (limit 200 levels)");
    n = 4;
    for (int k = 0; k < 199; k++)
        doc[n++] = '[';
    for (int k = 0; k < 199; k++)
        doc[n++] = ']';
    doc[n] = '\0';
    dlt_toml_value *v = parse_ok(doc);
    dlt_toml_free(v);

    /* dotted keys: 200 parts are fine, the 201st (column 401) is not */
    n = 0;
    for (int k = 0; k < 200; k++)
        n += (size_t)sprintf(doc + n, "%sa", k ? "." : "");
    strcpy(doc + n, " = 1");
    v = parse_ok(doc);
    dlt_toml_free(v);
    sprintf(doc + n, ".b = 1");
    expect_err(doc, "1:401: values nested too deeply (limit 200 levels)");
    /* headers: [a.a...] with 200 parts is a table at depth 200; nothing fits inside it */
    doc[0] = '[';
    n = 1;
    for (int k = 0; k < 200; k++)
        n += (size_t)sprintf(doc + n, "%sa", k ? "." : "");
    strcpy(doc + n, "]\nx = {}");
    expect_err(doc, "2:1: values nested too deeply (limit 200 levels)");
    strcpy(doc + n, ".b]");
    expect_err(doc, "1:402: tables nested too deeply (limit 200 levels)");
    /* an array of tables costs two levels */
    strcpy(doc, "[[a]]\n[[a.b]]\n[a.b");
    n = strlen(doc);
    for (int k = 0; k < 197; k++)
        n += (size_t)sprintf(doc + n, ".b");
    strcpy(doc + n, "]");
    expect_err(doc, "3:398: tables nested too deeply (limit 200 levels)");
    doc[n - 2] = ']';
    doc[n - 1] = '\0';
    v = parse_ok(doc);
    dlt_toml_free(v);
}
END_TEST

/* A NUL byte inside the text is a control character, not an end. */
START_TEST(test_embedded_nul)
{
    const char doc[] = "a = \"x\0y\"\n";
    dlt_toml_value *v;
    ck_assert_int_eq(dlt_toml_parse(doc, sizeof doc - 1, &v), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "1:7: control character U+0000 must be escaped in a string");
    /* but \u0000 is a fine escape, kept with its length */
    v = parse_ok("a = \"x\\u0000y\"\n\"k\\u0000\" = 1");
    const dlt_toml_value *a = dlt_toml_get(v, "a");
    ck_assert_uint_eq(a->str.len, 3);
    ck_assert_mem_eq(a->str.ptr, "x\0y", 3);
    ck_assert_ptr_nonnull(dlt_toml_get_entry(v, "k\0", 2));
    ck_assert_ptr_null(dlt_toml_get(v, "k"));
    dlt_toml_free(v);
}
END_TEST

START_TEST(test_positions)
{
    const char *doc = "# header comment\n"                /* 1 */
                      "title = \"x\"\n"                   /* 2 */
                      "s = \"\"\"\n"                      /* 3 */
                      "one\n"                             /* 4 */
                      "two\"\"\"\n"                       /* 5 */
                      "arr = [\n"                         /* 6 */
                      "  1,\n"                            /* 7 */
                      "  'é', 3.5 ]\n"                    /* 8 */
                      "\n"                                /* 9 */
                      "[optim]\n"                         /* 10 */
                      "  lr = -0.1   # bad\n"             /* 11 */
                      "  \"ü\".x = true\n"                /* 12 */
                      "[[runs]]\n"                        /* 13 */
                      "name = 'a'\n"                      /* 14 */
                      "[[runs]]\r\n"                      /* 15 */
                      "name = '''\r\nb\\\r\n'''\n"        /* 16-18 */
                      "t = 07:32:00\n";                   /* 19 */
    dlt_toml_value *v = parse_ok(doc);
    const dlt_toml_entry *e = dlt_toml_find_entry(v, "title");
    ck_assert_int_eq(e->line, 2);
    ck_assert_int_eq(e->col, 1);
    ck_assert_int_eq(e->value->line, 2);
    ck_assert_int_eq(e->value->col, 9);
    e = dlt_toml_find_entry(v, "arr");
    ck_assert_int_eq(e->line, 6);
    ck_assert_int_eq(e->value->col, 7);
    ck_assert_int_eq(e->value->arr.items[0]->line, 7);
    ck_assert_int_eq(e->value->arr.items[0]->col, 3);
    ck_assert_int_eq(e->value->arr.items[1]->line, 8);
    ck_assert_int_eq(e->value->arr.items[2]->line, 8);
    ck_assert_int_eq(e->value->arr.items[2]->col, 8); /* 'é' is one column */
    ck_assert_str_eq(dlt_toml_get(v, "s")->str.ptr, "one\ntwo");
    e = dlt_toml_find_entry(v, "optim.lr");
    ck_assert_int_eq(e->line, 11);
    ck_assert_int_eq(e->col, 3);
    ck_assert_int_eq(e->value->col, 8);
    ck_assert(e->value->type == DLT_TOML_FLOAT && e->value->f == -0.1);
    const dlt_toml_value *optim = dlt_toml_get(v, "optim");
    ck_assert_int_eq(optim->line, 10);
    const dlt_toml_entry *u = dlt_toml_get_entry(optim, "\xc3\xbc", 2);
    ck_assert_ptr_nonnull(u);
    ck_assert_int_eq(u->line, 12);
    ck_assert_int_eq(u->col, 3);
    e = dlt_toml_get_entry(u->value, "x", 1);
    ck_assert_int_eq(e->col, 7);
    ck_assert_int_eq(e->value->col, 11);
    const dlt_toml_value *runs = dlt_toml_get(v, "runs");
    ck_assert_uint_eq(runs->arr.len, 2);
    ck_assert_int_eq(runs->arr.items[0]->line, 13);
    ck_assert_int_eq(runs->arr.items[1]->line, 15);
    e = dlt_toml_get_entry(runs->arr.items[1], "name", 4);
    ck_assert_int_eq(e->line, 16);
    ck_assert_str_eq(e->value->str.ptr, "b\\\r\n"); /* literal: no escapes; CRLF kept */
    e = dlt_toml_get_entry(runs->arr.items[1], "t", 1);
    ck_assert_int_eq(e->line, 19);
    ck_assert_int_eq(e->value->col, 5);
    dlt_toml_free(v);

    /* errors after multi-line constructs land on the right line */
    const char *bad = "a = \"\"\"\n\n\\\n   \n  x\"\"\"\nb = [\n1,\n2,\n]\nc = [1, 2] x\n";
    ck_assert_int_eq(dlt_toml_parse(bad, strlen(bad), &v), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "10:12: expected the end of the line");
    /* a byte order mark is not a column */
    bad = "\xef\xbb\xbf" "a 1";
    ck_assert_int_eq(dlt_toml_parse(bad, strlen(bad), &v), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "1:3: expected '=' after a key");
}
END_TEST

START_TEST(test_values)
{
    dlt_toml_value *v = parse_ok("i1 = 0xDEAD_beef\ni2 = 0o755\ni3 = 0b1101\ni4 = -9223372036854775808\n"
                                 "i5 = 9_223_372_036_854_775_807\ni6 = 0x7FFFFFFFFFFFFFFF\ni7 = +0\ni8 = -0\n"
                                 "f1 = 6.626e-34\nf2 = -1_000.5E+2\nf3 = -inf\nf4 = +nan\nf5 = -0.0\nf6 = 1e06\n"
                                 "b = false\n"
                                 "d1 = 1979-05-27T07:32:00.999999999999-07:30\nd2 = 1979-05-27 00:32:00\n"
                                 "d3 = 2000-02-29\nd4 = 23:59:60.5\nd5 = 1987-07-05t17:45:00z\n"
                                 "s1 = \"tab\\there \\\"q\\\" \\\\ \\u00E9\\U0001F600\"\n"
                                 "s2 = 'C:\\path'\n"
                                 "s3 = \"\"\"\\\n   The quick \\\n\n   fox\"\"\"\n"
                                 "s4 = '''a''''\n");
    ck_assert_int_eq(dlt_toml_get(v, "i1")->i, 0xDEADBEEF);
    ck_assert_int_eq(dlt_toml_get(v, "i2")->i, 0755);
    ck_assert_int_eq(dlt_toml_get(v, "i3")->i, 13);
    ck_assert(dlt_toml_get(v, "i4")->i == INT64_MIN);
    ck_assert(dlt_toml_get(v, "i5")->i == INT64_MAX);
    ck_assert(dlt_toml_get(v, "i6")->i == INT64_MAX);
    ck_assert_int_eq(dlt_toml_get(v, "i7")->i, 0);
    ck_assert_int_eq(dlt_toml_get(v, "i8")->type, DLT_TOML_INT);
    ck_assert(dlt_toml_get(v, "f1")->f == 6.626e-34);
    ck_assert(dlt_toml_get(v, "f2")->f == -100050.0);
    ck_assert(isinf(dlt_toml_get(v, "f3")->f) && dlt_toml_get(v, "f3")->f < 0);
    ck_assert(isnan(dlt_toml_get(v, "f4")->f));
    ck_assert(signbit(dlt_toml_get(v, "f5")->f));
    ck_assert(dlt_toml_get(v, "f6")->f == 1e6);
    ck_assert_int_eq(dlt_toml_get(v, "b")->type, DLT_TOML_BOOL);
    ck_assert(!dlt_toml_get(v, "b")->b);
    const dlt_toml_value *d = dlt_toml_get(v, "d1");
    ck_assert_int_eq(d->type, DLT_TOML_DATETIME);
    ck_assert_int_eq(d->dt.year, 1979);
    ck_assert_int_eq(d->dt.day, 27);
    ck_assert_int_eq(d->dt.nanosecond, 999999999);
    ck_assert_int_eq(d->dt.offset_minutes, -(7 * 60 + 30));
    ck_assert_str_eq(d->dt.text, "1979-05-27T07:32:00.999999999999-07:30");
    d = dlt_toml_get(v, "d2");
    ck_assert_int_eq(d->type, DLT_TOML_DATETIME_LOCAL);
    ck_assert_int_eq(d->dt.hour, 0);
    ck_assert_int_eq(d->dt.minute, 32);
    ck_assert_int_eq(dlt_toml_get(v, "d3")->type, DLT_TOML_DATE_LOCAL);
    d = dlt_toml_get(v, "d4");
    ck_assert_int_eq(d->type, DLT_TOML_TIME_LOCAL);
    ck_assert_int_eq(d->dt.second, 60);
    ck_assert_int_eq(d->dt.nanosecond, 500000000);
    d = dlt_toml_get(v, "d5");
    ck_assert_int_eq(d->type, DLT_TOML_DATETIME);
    ck_assert_int_eq(d->dt.offset_minutes, 0);
    ck_assert_str_eq(dlt_toml_get(v, "s1")->str.ptr, "tab\there \"q\" \\ \xc3\xa9\xf0\x9f\x98\x80");
    ck_assert_str_eq(dlt_toml_get(v, "s2")->str.ptr, "C:\\path");
    ck_assert_str_eq(dlt_toml_get(v, "s3")->str.ptr, "The quick fox");
    ck_assert_str_eq(dlt_toml_get(v, "s4")->str.ptr, "a'");
    dlt_toml_free(v);

    /* a datetime text that does not fit is normalised to nanoseconds */
    v = parse_ok("d = 1979-05-27T07:32:00.123456789123456789123456789123+01:00");
    ck_assert_str_eq(dlt_toml_get(v, "d")->dt.text, "1979-05-27T07:32:00.123456789+01:00");
    dlt_toml_free(v);
}
END_TEST

START_TEST(test_tables_and_lookup)
{
    dlt_toml_value *v = parse_ok("a.b.c = 1\n"
                                 "[x.y.z]\n[x]\nk = 2\n"
                                 "[fruit]\napple.color = 'red'\n[fruit.apple.texture]\nsmooth = true\n"
                                 "[[p]]\nq.r = 1\n[p.s]\nt = 1\n[[p]]\n[[p.u]]\nw = 3\n");
    ck_assert_int_eq(dlt_toml_find(v, "a.b.c")->i, 1);
    ck_assert_int_eq(dlt_toml_find(v, "x.k")->i, 2);
    ck_assert_int_eq(dlt_toml_find(v, "x.y.z")->type, DLT_TOML_TABLE);
    ck_assert(dlt_toml_find(v, "fruit.apple.texture.smooth")->b);
    ck_assert_ptr_null(dlt_toml_find(v, "fruit.apple.taste"));
    ck_assert_ptr_null(dlt_toml_find(v, "a.b.c.d")); /* through a non-table */
    ck_assert_ptr_null(dlt_toml_find(v, "p.q"));     /* through an array */
    ck_assert_ptr_null(dlt_toml_find(v, ""));
    ck_assert_ptr_null(dlt_toml_get(dlt_toml_find(v, "a.b.c"), "x"));
    const dlt_toml_value *p = dlt_toml_get(v, "p");
    ck_assert_uint_eq(p->arr.len, 2);
    ck_assert_int_eq(dlt_toml_find(p->arr.items[0], "s.t")->i, 1);
    ck_assert_int_eq(dlt_toml_find(p->arr.items[0], "q.r")->i, 1);
    ck_assert_int_eq(dlt_toml_get(p->arr.items[1], "u")->arr.items[0]->tab.items[0].value->i, 3);
    /* keys keep their order of definition */
    ck_assert_str_eq(v->tab.items[0].key, "a");
    ck_assert_str_eq(v->tab.items[1].key, "x");
    ck_assert_str_eq(v->tab.items[2].key, "fruit");
    ck_assert_str_eq(v->tab.items[3].key, "p");
    ck_assert_str_eq(dlt_toml_type_name(DLT_TOML_DATE_LOCAL), "local date");
    dlt_toml_free(v);
}
END_TEST

START_TEST(test_build)
{
    dlt_toml_value *t = dlt_toml_new(DLT_TOML_TABLE);
    ck_assert_int_eq(dlt_toml_table_put(t, "lr", 2, dlt_toml_new_float(0.1)), DLT_OK);
    ck_assert_int_eq(dlt_toml_table_put(t, "name", 4, dlt_toml_new_string("sgd", 3)), DLT_OK);
    ck_assert_int_eq(dlt_toml_table_put(t, "lr", 2, dlt_toml_new_float(0.2)), DLT_OK); /* replaces */
    ck_assert_uint_eq(t->tab.len, 2);
    ck_assert(dlt_toml_get(t, "lr")->f == 0.2);
    dlt_toml_value *a = dlt_toml_new(DLT_TOML_ARRAY);
    ck_assert_int_eq(dlt_toml_array_push(a, dlt_toml_new_int(1)), DLT_OK);
    ck_assert_int_eq(dlt_toml_array_push(a, dlt_toml_new_bool(true)), DLT_OK);
    ck_assert_int_eq(dlt_toml_table_put(t, "a", 1, a), DLT_OK);
    /* misuse is an error and the value is released (no leak under ASan) */
    ck_assert_int_eq(dlt_toml_array_push(t, dlt_toml_new_int(1)), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_toml_table_put(a, "x", 1, dlt_toml_new_int(1)), DLT_ERR_INVALID);
    dlt_toml_value *c = dlt_toml_clone(t);
    ck_assert(dlt_toml_equal(t, c));
    ck_assert(dlt_toml_table_remove(c, "name", 4));
    ck_assert(!dlt_toml_table_remove(c, "name", 4));
    ck_assert(!dlt_toml_equal(t, c));
    ck_assert_str_eq(c->tab.items[1].key, "a"); /* order kept after removal */
    dlt_toml_free(c);
    /* equality ignores key order; NaN equals NaN; 0.0 and -0.0 differ */
    dlt_toml_value *x = parse_ok("a = 1\nb = nan\n"), *y = parse_ok("b = -nan\na = 1\n");
    ck_assert(dlt_toml_equal(x, y));
    dlt_toml_free(x);
    dlt_toml_free(y);
    x = parse_ok("a = 0.0");
    y = parse_ok("a = -0.0");
    ck_assert(!dlt_toml_equal(x, y));
    dlt_toml_free(x);
    dlt_toml_free(y);
    x = parse_ok("a = 1");
    y = parse_ok("a = 1.0");
    ck_assert(!dlt_toml_equal(x, y));
    dlt_toml_free(x);
    dlt_toml_free(y);
    dlt_toml_free(t);
}
END_TEST

static char *write_doc(const dlt_toml_value *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(dlt_toml_write(f, t), DLT_OK);
    fclose(f);
    return buf;
}

static void roundtrip(const char *doc)
{
    dlt_toml_value *v = parse_ok(doc);
    char *out = write_doc(v);
    dlt_toml_value *w = parse_ok(out);
    ck_assert_msg(dlt_toml_equal(v, w), "round trip changed the tree:\n%s\n---\n%s", doc, out);
    /* writing is a fixed point after the first time */
    char *out2 = write_doc(w);
    ck_assert_str_eq(out, out2);
    free(out);
    free(out2);
    dlt_toml_free(v);
    dlt_toml_free(w);
}

START_TEST(test_write_exact)
{
    dlt_toml_value *v = parse_ok("[optim]\nlr = 0.1\nbetas = [0.9, 0.999]\nname = \"adam\"\n"
                                 "[model]\nname = 'resnet20'\nblock = {kind = \"basic\", n.k = 3}\n"
                                 "[[data.aug]]\nop = 'flip'\n[[data.aug]]\nop = 'crop'\n"
                                 "[\"weird key\"]\n\"a\\tb\" = \"x\\u0001\\\"\"\n"
                                 "t = 1979-05-27T07:32:00Z\nbig = 1e300\nsmall = -5e-324\nhuge = 0x7FFFFFFFFFFFFFFF\n"
                                 "flt = 3.0\nneg = -0.0\n");
    char *out = write_doc(v);
    ck_assert_str_eq(out, "[optim]\nlr = 0.1\nbetas = [0.9, 0.999]\nname = \"adam\"\n"
                          "\n[model]\nname = \"resnet20\"\nblock = { kind = \"basic\", n = { k = 3 } }\n"
                          "\n[[data.aug]]\nop = \"flip\"\n"
                          "\n[[data.aug]]\nop = \"crop\"\n"
                          "\n[\"weird key\"]\n\"a\\tb\" = \"x\\u0001\\\"\"\n"
                          "t = 1979-05-27T07:32:00Z\nbig = 1e+300\nsmall = -5e-324\n"
                          "huge = 9223372036854775807\nflt = 3.0\nneg = -0.0\n");
    free(out);
    dlt_toml_free(v);

    /* trees built in code: date-times from their fields, plain tables as sections */
    dlt_toml_value *t = dlt_toml_new(DLT_TOML_TABLE), *d = dlt_toml_new(DLT_TOML_DATETIME);
    d->dt = (dlt_toml_datetime){.year = 2024, .month = 2, .day = 29, .hour = 13, .minute = 5, .second = 9,
                                .nanosecond = 5000000, .offset_minutes = -90};
    dlt_toml_value *sub = dlt_toml_new(DLT_TOML_TABLE), *tm = dlt_toml_new(DLT_TOML_TIME_LOCAL);
    tm->dt = (dlt_toml_datetime){.hour = 1, .minute = 2, .second = 3};
    dlt_toml_table_put(sub, "when", 4, d);
    dlt_toml_table_put(sub, "at", 2, tm);
    dlt_toml_table_put(t, "", 0, dlt_toml_new_int(-7));
    dlt_toml_table_put(t, "s", 1, sub);
    out = write_doc(t);
    ck_assert_str_eq(out, "\"\" = -7\n\n[s]\nwhen = 2024-02-29T13:05:09.005000000-01:30\nat = 01:02:03\n");
    dlt_toml_value *back = parse_ok(out);
    ck_assert(dlt_toml_equal(t, back));
    free(out);
    dlt_toml_free(back);
    dlt_toml_free(t);
}
END_TEST

START_TEST(test_roundtrip)
{
    roundtrip("");
    roundtrip("a = 1");
    roundtrip("a.b.c = 1\n[a.x]\ny = 2\n[a.x.z]\n");
    roundtrip("[x.y.z]\n[x]\nk = 2\n[[x.arr]]\n[[x.arr]]\nv = [1, 'two', 3.5, [true], {a = {}}]\n");
    roundtrip("s = \"\\u0000 \\u007f \\b\\f\\r\\n\\t é 😀 \\\"\\\\\"\nml = '''\nline1\nline2'''\n");
    roundtrip("f = [0.1, 1e-7, 123456789.123, 1.7976931348623157e308, 5e-324, inf, -inf, nan, -0.0, 100.0]\n");
    roundtrip("d = [1979-05-27T07:32:00.5+05:45, 1979-05-27 07:32:00, 1979-05-27, 07:32:00.123]\n");
    roundtrip("[[a]]\nb.c = 1\n[[a.d]]\n[[a.d.e]]\nf = 1\n[a.d.g]\n[[a]]\n");
    roundtrip("\"\" = 1\n'.' = 2\n\"a.b\".c = 3\n[\" \"]\nx = {\"\" = [], '#' = {}}\n");
    roundtrip("e = []\nt = {}\naot = [{a = 1}, {b = 2}]\n[empty]\n");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("toml");
    TCase *tc = tcase_create("toml");
    tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof errors / sizeof errors[0]));
    tcase_add_test(tc, test_depth_limit);
    tcase_add_test(tc, test_embedded_nul);
    tcase_add_test(tc, test_positions);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_tables_and_lookup);
    tcase_add_test(tc, test_build);
    tcase_add_test(tc, test_write_exact);
    tcase_add_test(tc, test_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dlt_test_run(suite()); }
