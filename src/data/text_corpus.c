/* Reading a plain-text corpus: files (gzip or plain, HTML with its tags dropped)
 * from a list of files and folders, cut into documents (one per file, or at
 * blank lines), paragraphs (blank lines) and sentences. */
#include "text_corpus.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

typedef struct {
    char **v;
    size_t n, cap;
} strlist;

static int sl_push(strlist *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->v, cap * sizeof *p);
        if (!p)
            return -1;
        l->v = p, l->cap = cap;
    }
    return (l->v[l->n] = strdup(s)) ? (int)(l->n++, 0) : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int wanted(const char *name, const char *exts)
{
    char base[512];
    snprintf(base, sizeof base, "%s", name);
    size_t n = strlen(base);
    if (n > 3 && strcmp(base + n - 3, ".gz") == 0)
        base[n - 3] = '\0';
    const char *dot = strrchr(base, '.');
    if (!dot)
        return 0;
    size_t el = strlen(dot + 1);
    for (const char *p = exts; *p;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == el && strncasecmp(p, dot + 1, k) == 0)
            return 1;
        p += k + (e ? 1 : 0);
    }
    return 0;
}

static dlt_status walk(const char *dir, const char *exts, strlist *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return dlt_seterr(DLT_ERR_IO, "cannot read folder %s", dir);
    strlist names = {0};
    struct dirent *e;
    dlt_status st = DLT_OK;
    while ((e = readdir(d)) && !st)
        if (e->d_name[0] != '.' && sl_push(&names, e->d_name))
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    closedir(d);
    if (names.n)
        qsort(names.v, names.n, sizeof *names.v, cmp_str);
    for (size_t i = 0; i < names.n && !st; i++) {
        char *path = malloc(strlen(dir) + strlen(names.v[i]) + 2);
        struct stat sb;
        if (!path) {
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
            break;
        }
        sprintf(path, "%s/%s", dir, names.v[i]);
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            st = walk(path, exts, out);
        else if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && wanted(names.v[i], exts) &&
                 sl_push(out, path))
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        free(path);
    }
    for (size_t i = 0; i < names.n; i++)
        free(names.v[i]);
    free(names.v);
    return st;
}

dlt_status dlt_corpus_list_files(const char *const *inputs, int n, const char *exts,
                                 char ***files, size_t *nfiles)
{
    strlist l = {0};
    dlt_status st = DLT_OK;
    for (int i = 0; i < n && !st; i++) {
        struct stat sb;
        if (stat(inputs[i], &sb) != 0)
            st = dlt_seterr(DLT_ERR_NOTFOUND, "%s: no such file or folder", inputs[i]);
        else if (S_ISDIR(sb.st_mode))
            st = walk(inputs[i], exts, &l);
        else if (sl_push(&l, inputs[i]))
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    if (!st && l.n == 0)
        st = dlt_seterr(DLT_ERR_NOTFOUND, "no text files found (extensions %s)", exts);
    if (st) {
        for (size_t i = 0; i < l.n; i++)
            free(l.v[i]);
        free(l.v);
        return st;
    }
    *files = l.v;
    *nfiles = l.n;
    return DLT_OK;
}

static dlt_status read_file(const char *path, char **out, size_t *n)
{
    gzFile f = gzopen(path, "rb"); /* reads plain files too */
    if (!f)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot open", path);
    size_t cap = 1 << 16, m = 0;
    char *b = malloc(cap + 1);
    int k = 0;
    while (b && (k = gzread(f, b + m, (unsigned)(cap - m))) > 0) {
        m += (size_t)k;
        if (m == cap) {
            char *q = realloc(b, cap * 2 + 1);
            if (!q) {
                free(b);
                b = NULL;
            }
            b = q, cap *= 2;
        }
    }
    gzclose(f);
    if (!b)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory reading %s", path);
    if (k < 0) {
        free(b);
        return dlt_seterr(DLT_ERR_IO, "%s: read error (corrupt gzip?)", path);
    }
    b[m] = '\0';
    *out = b;
    *n = m;
    return DLT_OK;
}

static const struct {
    const char *name, *text;
} entities[] = {{"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"},
                {"nbsp", " "}, {"#39", "'"}};

/* HTML to text in place: tags become spaces (block tags paragraph breaks),
 * script and style bodies go, the common entities are decoded. */
static size_t strip_html(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '<') {
            size_t j = i + 1;
            while (j < n && s[j] != '>')
                j++;
            const char *t = s + i + 1;
            int block = !strncasecmp(t, "p", 1) || !strncasecmp(t, "/p", 2) ||
                        !strncasecmp(t, "div", 3) || !strncasecmp(t, "/div", 4) ||
                        !strncasecmp(t, "br", 2) || !strncasecmp(t, "h", 1) ||
                        !strncasecmp(t, "/h", 2) || !strncasecmp(t, "li", 2) ||
                        !strncasecmp(t, "pre", 3) || !strncasecmp(t, "/pre", 4);
            if (!strncasecmp(t, "script", 6) || !strncasecmp(t, "style", 5)) {
                const char *end = strncasecmp(t, "script", 6) ? "</style" : "</script";
                char *e = strcasestr(s + j, end);
                j = e ? (size_t)(e - s) : n;
                while (j < n && s[j] != '>')
                    j++;
            }
            if (block) {
                s[o++] = '\n';
                s[o++] = '\n';
            } else
                s[o++] = ' ';
            i = j + 1;
            continue;
        }
        if (s[i] == '&') {
            size_t j = i + 1;
            while (j < n && j < i + 10 && s[j] != ';' && s[j] != '&')
                j++;
            int done = 0;
            for (size_t e = 0; j < n && s[j] == ';' && e < sizeof entities / sizeof *entities;
                 e++)
                if (strlen(entities[e].name) == j - i - 1 &&
                    !strncmp(s + i + 1, entities[e].name, j - i - 1)) {
                    s[o++] = entities[e].text[0];
                    i = j + 1, done = 1;
                    break;
                }
            if (done)
                continue;
        }
        s[o++] = s[i++];
    }
    s[o] = '\0';
    return o;
}

static int is_blank_line(const char *s, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

static dlt_status grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return DLT_OK;
    size_t c = need * 2 + 1024;
    void *q = realloc(*p, c * elem);
    if (!q)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    *p = q, *cap = c;
    return DLT_OK;
}

typedef struct {
    dlt_corpus *c;
    int64_t base;
    dlt_status st;
} sent_ctx;

static void add_sentence(const char *s, size_t n, void *user)
{
    sent_ctx *x = user;
    dlt_corpus *c = x->c;
    if (x->st || (x->st = grow((void **)&c->sent, &c->sent_cap, c->nsent + 1, sizeof *c->sent)))
        return;
    c->sent[c->nsent][0] = (int64_t)(s - c->text);
    c->sent[c->nsent++][1] = (int64_t)(s - c->text) + (int64_t)n;
}

/* Appends text[0..n) as one document: copies it, finds paragraphs and sentences. */
static dlt_status add_document(dlt_corpus *c, const char *text, size_t n)
{
    size_t a = 0, b = n;
    while (a < b && (text[a] == '\n' || text[a] == ' ' || text[a] == '\t' || text[a] == '\r'))
        a++;
    while (b > a && (text[b - 1] == '\n' || text[b - 1] == ' ' || text[b - 1] == '\t' ||
                     text[b - 1] == '\r'))
        b--;
    if (b == a)
        return DLT_OK;
    dlt_status st = grow((void **)&c->text, &c->text_cap, c->ntext + (b - a) + 1, 1);
    if (!st)
        st = grow((void **)&c->doc, &c->doc_cap, (size_t)c->ndocs + 1, sizeof *c->doc);
    if (st)
        return st;
    char *d = c->text + c->ntext;
    memcpy(d, text + a, b - a);
    d[b - a] = '\0';
    size_t len = b - a;
    c->doc[c->ndocs].start = (int64_t)c->ntext;
    c->doc[c->ndocs].end = (int64_t)(c->ntext + len);
    c->doc[c->ndocs].first_sent = c->nsent;
    sent_ctx x = {c, (int64_t)c->ntext, DLT_OK};
    /* paragraphs: runs of lines between blank lines */
    size_t p0 = 0, i = 0;
    while (i <= len && !x.st) {
        size_t e = i;
        while (e < len && d[e] != '\n')
            e++;
        if (e >= len || is_blank_line(d, i, e)) {
            size_t pe = e >= len && !is_blank_line(d, i, e) ? len : i;
            if (pe > p0)
                dlt_text_split_sentences(d + p0, pe - p0, add_sentence, &x);
            p0 = e + 1;
        }
        i = e + 1;
    }
    c->ntext += len + 1;
    c->doc[c->ndocs].end_sent = c->nsent;
    if (!x.st && c->nsent > c->doc[c->ndocs].first_sent)
        c->ndocs++;
    return x.st;
}

dlt_status dlt_corpus_add_file(dlt_corpus *c, const char *path, dlt_doc_split mode)
{
    char *buf = NULL;
    size_t n = 0;
    dlt_status st = read_file(path, &buf, &n);
    if (st)
        return st;
    c->bytes += (int64_t)n;
    if (memchr(buf, '\0', n < 4096 ? n : 4096)) { /* binary: skip */
        free(buf);
        c->skipped++;
        return DLT_OK;
    }
    char base[512];
    snprintf(base, sizeof base, "%s", path);
    size_t bl = strlen(base);
    if (bl > 3 && !strcmp(base + bl - 3, ".gz"))
        base[bl - 3] = '\0';
    const char *dot = strrchr(base, '.');
    if (dot && (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm")))
        n = strip_html(buf, n);
    c->files++;
    if (mode == DLT_DOCS_FILE) {
        st = add_document(c, buf, n);
    } else {
        size_t d0 = 0, i = 0;
        while (i <= n && !st) {
            size_t e = i;
            while (e < n && buf[e] != '\n')
                e++;
            if (e >= n || is_blank_line(buf, i, e)) {
                st = add_document(c, buf + d0, (e >= n ? n : i) - d0);
                d0 = e + 1;
            }
            i = e + 1;
        }
    }
    free(buf);
    return st;
}

void dlt_corpus_free(dlt_corpus *c)
{
    free(c->text);
    free(c->doc);
    free(c->sent);
    memset(c, 0, sizeof *c);
}
