/* Test helper for tests/train/test_predict.sh: encodes TEXT the way Hugging
 * Face's GPT2Tokenizer does from the vocab.json and merges.txt in DIR, and
 * prints the ids on one line:
 *   hf_tok_check DIR TEXT
 * Independent of libdltrain: its own JSON reader, GPT-2's bytes_to_unicode
 * (as encoder.py builds it), the pre-tokenizer regex for ASCII text (bytes
 * >= 0x80 count as letters) and the BPE loop over merge ranks. It also checks
 * that vocab.json maps ids 0..V-1 once each and spells all 256 bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXV 65536

static char *vocab[MAXV]; /* id -> token */
static int nvocab;
static char **merges;
static int nmerges;

static void die(const char *m, const char *x)
{
    fprintf(stderr, "hf_tok_check: %s%s\n", m, x ? x : "");
    exit(1);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open ", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        die("cannot read ", path);
    s[n] = 0;
    fclose(f);
    return s;
}

static int put_utf8(unsigned c, char *o)
{
    if (c < 0x80)
        return o[0] = (char)c, 1;
    if (c < 0x800)
        return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 63)), 2;
    o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | (c >> 6 & 63)),
    o[2] = (char)(0x80 | (c & 63));
    return 3;
}

/* A JSON string at *p (after the quote): its UTF-8 bytes, malloc'd. */
static char *json_string(const char **p)
{
    char *o = malloc(strlen(*p) + 1), *w = o;
    const char *s = *p;
    while (*s != '"') {
        if (!*s)
            die("vocab.json: unterminated string", NULL);
        if (*s != '\\') {
            *w++ = *s++;
            continue;
        }
        s++;
        switch (*s) {
        case 'n':
            *w++ = '\n';
            break;
        case 't':
            *w++ = '\t';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 'b':
            *w++ = '\b';
            break;
        case 'f':
            *w++ = '\f';
            break;
        case 'u': {
            unsigned c;
            if (sscanf(s + 1, "%4x", &c) != 1)
                die("vocab.json: bad \\u escape", NULL);
            w += put_utf8(c, w);
            s += 4;
            break;
        }
        default:
            *w++ = *s;
        }
        s++;
    }
    *w = 0;
    *p = s + 1;
    return o;
}

static void read_vocab(const char *dir)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    char *text = slurp(path);
    const char *p = text;
    while (*p == ' ' || *p == '\n')
        p++;
    if (*p++ != '{')
        die("vocab.json: no object", NULL);
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == ',')
            p++;
        if (*p == '}')
            break;
        if (*p++ != '"')
            die("vocab.json: expected a string key", NULL);
        char *tok = json_string(&p);
        char *end;
        while (*p == ' ' || *p == ':')
            p++;
        long id = strtol(p, &end, 10);
        if (end == p || id < 0 || id >= MAXV)
            die("vocab.json: bad id for ", tok);
        if (vocab[id])
            die("vocab.json: id given twice, token ", tok);
        vocab[id] = tok;
        nvocab++;
        p = end;
    }
    free(text);
    for (int i = 0; i < nvocab; i++)
        if (!vocab[i])
            die("vocab.json: ids are not 0..V-1", NULL);
}

static char *merges_text; /* merges[] point into it */

static void read_merges(const char *dir)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    char *s = merges_text = slurp(path), *save = NULL;
    merges = calloc(strlen(s) + 1, sizeof *merges);
    /* GPT2Tokenizer drops the first line whatever it says */
    if (strncmp(s, "#version", 8) != 0)
        die("merges.txt: the first line is not '#version: ...'", NULL);
    strtok_r(s, "\n", &save);
    for (char *l; (l = strtok_r(NULL, "\n", &save));)
        merges[nmerges++] = l;
}

static char byte_tok[256][4]; /* bytes_to_unicode as UTF-8 */

static void bytes_to_unicode(void)
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable =
            (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        byte_tok[b][put_utf8(printable ? (unsigned)b : 256u + (unsigned)n++, byte_tok[b])] = 0;
    }
}

static int find_id(const char *tok)
{
    for (int i = 0; i < nvocab; i++)
        if (strcmp(vocab[i], tok) == 0)
            return i;
    return -1;
}

static int rank_of(const char *a, const char *b)
{
    size_t la = strlen(a);
    for (int r = 0; r < nmerges; r++)
        if (strncmp(merges[r], a, la) == 0 && merges[r][la] == ' ' &&
            strcmp(merges[r] + la + 1, b) == 0)
            return r;
    return -1;
}

/* BPE of one pre-tokenized piece; prints its ids. */
static void bpe(const unsigned char *p, size_t n)
{
    char **w = malloc(n * sizeof *w);
    size_t m = n;
    for (size_t i = 0; i < n; i++)
        w[i] = strdup(byte_tok[p[i]]);
    for (;;) {
        int best = -1;
        for (size_t i = 0; i + 1 < m; i++) {
            int r = rank_of(w[i], w[i + 1]);
            if (r >= 0 && (best < 0 || r < best))
                best = r;
        }
        if (best < 0)
            break;
        const char *sp = strchr(merges[best], ' ');
        size_t la = (size_t)(sp - merges[best]), o = 0;
        for (size_t i = 0; i < m;) {
            if (i + 1 < m && strlen(w[i]) == la && strncmp(w[i], merges[best], la) == 0 &&
                strcmp(w[i + 1], sp + 1) == 0) {
                char *j = malloc(strlen(w[i]) + strlen(w[i + 1]) + 1);
                strcat(strcpy(j, w[i]), w[i + 1]);
                free(w[i]), free(w[i + 1]);
                w[o++] = j, i += 2;
            } else {
                w[o++] = w[i++];
            }
        }
        m = o;
    }
    static int first = 1;
    for (size_t i = 0; i < m; i++) {
        int id = find_id(w[i]);
        if (id < 0)
            die("BPE made a token that vocab.json lacks: ", w[i]);
        printf(first ? "%d" : " %d", id);
        first = 0;
    }
    for (size_t i = 0; i < m; i++)
        free(w[i]);
    free(w);
}

enum { LETTER, DIGIT, SPACE, OTHER };
static int cls(unsigned char c)
{
    if ((c | 32) >= 'a' && (c | 32) <= 'z')
        return LETTER;
    if (c >= 0x80)
        return LETTER;
    if (c >= '0' && c <= '9')
        return DIGIT;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
        return SPACE;
    return OTHER;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void pretokenize(const unsigned char *s, size_t n)
{
    static const char *con[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int hit = 0;
        for (int k = 0; k < 7 && !hit; k++) {
            size_t l = strlen(con[k]);
            if (i + l <= n && memcmp(s + i, con[k], l) == 0)
                j = i + l, hit = 1;
        }
        if (!hit) {
            size_t a = i + (s[i] == ' ' && i + 1 < n && cls(s[i + 1]) != SPACE);
            int c = cls(s[a]);
            if (c != SPACE) {
                j = a;
                while (j < n && cls(s[j]) == c)
                    j++;
            } else {
                j = i;
                while (j < n && cls(s[j]) == SPACE)
                    j++;
                if (j < n && j - i > 1) /* \s+(?!\S): leave the last space to the next word */
                    j--;
            }
        }
        bpe(s + i, j - i);
        i = j;
    }
}

int main(int argc, char **argv)
{
    if (argc != 3)
        die("usage: hf_tok_check DIR TEXT", NULL);
    read_vocab(argv[1]);
    read_merges(argv[1]);
    bytes_to_unicode();
    for (int b = 0; b < 256; b++)
        if (find_id(byte_tok[b]) < 0)
            die("vocab.json lacks the token of a byte: ", byte_tok[b]);
    for (int r = 0; r < nmerges; r++) {
        const char *sp = strchr(merges[r], ' ');
        char *j = malloc(strlen(merges[r]));
        if (!sp)
            die("merges.txt: no space in ", merges[r]);
        memcpy(j, merges[r], (size_t)(sp - merges[r]));
        strcpy(j + (sp - merges[r]), sp + 1);
        if (find_id(j) < 0)
            die("merges.txt: a merge makes a token vocab.json lacks: ", merges[r]);
        free(j);
    }
    fprintf(stderr, "hf_tok_check: %d tokens, %d merges, 256 bytes\n", nvocab, nmerges);
    pretokenize((const unsigned char *)argv[2], strlen(argv[2]));
    printf("\n");
    for (int i = 0; i < nvocab; i++)
        free(vocab[i]);
    free(merges), free(merges_text);
    return 0;
}
