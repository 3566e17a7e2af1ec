/* Merge learning shared by the byte-level BPE and WordPiece trainers: the most
 * frequent adjacent symbol pair over a weighted word list is merged, again and
 * again. Pair counts are updated only for the words that hold the merged pair
 * (each pair keeps the list of words it ever occurred in), and a lazy max-heap
 * picks the next pair, so training costs about the number of symbols touched. */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t a, b;
    int64_t count, old;
    int32_t *words;
    int64_t nw, capw;
    int64_t stamp;
} pair;

typedef struct {
    int64_t count;
    int32_t p;
} hent;

typedef struct {
    dlt_merge_state *s;
    pair *pairs;
    int64_t np, capp;
    dlt_pmap index; /* (a, b) -> pair */
    hent *heap;
    int64_t nh, caph;
    int32_t *touched;
    int64_t nt, capt;
} trainer;

static int raw_cmp(const dlt_merge_state *s, int32_t x, int32_t y)
{
    uint32_t lx = s->lens[x], ly = s->lens[y];
    int c = memcmp(s->syms[x], s->syms[y], lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

/* Does heap entry x come before y? More frequent first, then smaller strings. */
static int before(const trainer *t, const hent *x, const hent *y)
{
    if (x->count != y->count)
        return x->count > y->count;
    const pair *p = &t->pairs[x->p], *q = &t->pairs[y->p];
    int c = raw_cmp(t->s, p->a, q->a);
    if (!c)
        c = raw_cmp(t->s, p->b, q->b);
    return c < 0;
}

static int heap_push(trainer *t, int32_t p)
{
    if (t->nh == t->caph) {
        int64_t cap = t->caph ? t->caph * 2 : 4096;
        hent *h = realloc(t->heap, (size_t)cap * sizeof *h);
        if (!h)
            return -1;
        t->heap = h, t->caph = cap;
    }
    hent e = {t->pairs[p].count, p};
    int64_t i = t->nh++;
    while (i > 0 && before(t, &e, &t->heap[(i - 1) / 2])) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = e;
    return 0;
}

static hent heap_pop(trainer *t)
{
    hent top = t->heap[0], last = t->heap[--t->nh];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= t->nh)
            break;
        if (c + 1 < t->nh && before(t, &t->heap[c + 1], &t->heap[c]))
            c++;
        if (!before(t, &t->heap[c], &last))
            break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (t->nh > 0)
        t->heap[i] = last;
    return top;
}

/* Adds delta occurrences of (a, b) in word w; records the pair as touched. */
static int add_pair(trainer *t, int32_t a, int32_t b, int64_t delta, int32_t w, int64_t iter)
{
    int64_t *slot = dlt_pmap_put(&t->index, a, b, -1);
    if (!slot)
        return -1;
    if (*slot < 0) {
        if (t->np == t->capp) {
            int64_t cap = t->capp ? t->capp * 2 : 4096;
            pair *q = realloc(t->pairs, (size_t)cap * sizeof *q);
            if (!q)
                return -1;
            t->pairs = q, t->capp = cap;
        }
        memset(&t->pairs[t->np], 0, sizeof *t->pairs);
        t->pairs[t->np].a = a, t->pairs[t->np].b = b, t->pairs[t->np].stamp = -1;
        *slot = t->np++;
    }
    pair *p = &t->pairs[*slot];
    if (p->stamp != iter) {
        if (t->nt == t->capt) {
            int64_t cap = t->capt ? t->capt * 2 : 1024;
            int32_t *q = realloc(t->touched, (size_t)cap * sizeof *q);
            if (!q)
                return -1;
            t->touched = q, t->capt = cap;
        }
        t->touched[t->nt++] = (int32_t)*slot;
        p->stamp = iter;
        p->old = p->count;
    }
    p->count += delta;
    if (delta > 0 && (p->nw == 0 || p->words[p->nw - 1] != w)) {
        if (p->nw == p->capw) {
            int64_t cap = p->capw ? p->capw * 2 : 4;
            int32_t *q = realloc(p->words, (size_t)cap * sizeof *q);
            if (!q)
                return -1;
            p->words = q, p->capw = cap;
        }
        p->words[p->nw++] = w;
    }
    return 0;
}

static int word_pairs(trainer *t, int32_t w, int sign, int64_t iter)
{
    const dlt_merge_state *s = t->s;
    for (int32_t i = 0; i + 1 < s->wlen[w]; i++)
        if (add_pair(t, s->words[w][i], s->words[w][i + 1], sign * s->counts[w], w, iter))
            return -1;
    return 0;
}

static int32_t new_symbol(dlt_merge_state *s, int32_t a, int32_t b, dlt_smap *ids)
{
    uint32_t skip = s->wordpiece && s->lens[b] >= 2 && s->syms[b][0] == '#' ? 2 : 0;
    uint32_t n = s->lens[a] + s->lens[b] - skip;
    char *raw = malloc(n + 1);
    if (!raw)
        return -1;
    memcpy(raw, s->syms[a], s->lens[a]);
    memcpy(raw + s->lens[a], s->syms[b] + skip, s->lens[b] - skip);
    raw[n] = '\0';
    int created;
    dlt_smap_slot *slot = dlt_smap_put(ids, raw, n, s->nsyms, &created);
    if (!slot || !created) {
        free(raw);
        return slot ? (int32_t)slot->val : -1;
    }
    if (s->nsyms == s->cap) {
        int64_t cap = s->cap * 2 + 256;
        char **q = realloc(s->syms, (size_t)cap * sizeof *q);
        uint32_t *l = q ? realloc(s->lens, (size_t)cap * sizeof *l) : NULL;
        if (q)
            s->syms = q;
        if (!l) {
            free(raw);
            return -1;
        }
        s->lens = l, s->cap = cap;
    }
    s->syms[s->nsyms] = raw;
    s->lens[s->nsyms] = n;
    return (int32_t)s->nsyms++;
}

static void merge_word(dlt_merge_state *s, int32_t w, int32_t a, int32_t b, int32_t id)
{
    int32_t *x = s->words[w], n = s->wlen[w], o = 0;
    for (int32_t i = 0; i < n;) {
        if (i + 1 < n && x[i] == a && x[i + 1] == b)
            x[o++] = id, i += 2;
        else
            x[o++] = x[i++];
    }
    s->wlen[w] = o;
}

static dlt_status run(trainer *t, int64_t max_syms, int64_t min_count, dlt_smap *ids)
{
    dlt_merge_state *s = t->s;
    int64_t *wstamp = malloc((size_t)(s->nwords + 1) * sizeof *wstamp);
    if (!wstamp)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int64_t w = 0; w < s->nwords; w++)
        wstamp[w] = -1;
    int64_t capm = 0;
    for (int32_t w = 0; w < s->nwords; w++)
        if (word_pairs(t, w, 1, 0))
            goto nomem;
    for (int64_t p = 0; p < t->np; p++)
        if (t->pairs[p].count > 0 && heap_push(t, (int32_t)p))
            goto nomem;
    for (int64_t iter = 1; s->nsyms < max_syms && t->nh > 0; iter++) {
        hent e = heap_pop(t);
        pair *p = &t->pairs[e.p];
        if (e.count != p->count || p->count <= 0) {
            iter--;
            continue;
        }
        if (p->count < min_count)
            break;
        int32_t a = p->a, b = p->b, id = new_symbol(s, a, b, ids);
        if (id < 0)
            goto nomem;
        if (s->nmerges == capm) {
            capm = capm * 2 + 1024;
            int32_t(*m)[3] = realloc(s->merges, (size_t)capm * sizeof *m);
            if (!m)
                goto nomem;
            s->merges = m;
        }
        s->merges[s->nmerges][0] = a, s->merges[s->nmerges][1] = b;
        s->merges[s->nmerges++][2] = id;
        t->nt = 0;
        /* p's word list may grow (and move) while we walk it: index, not pointer */
        int32_t pi = e.p;
        for (int64_t k = 0; k < t->pairs[pi].nw; k++) {
            int32_t w = t->pairs[pi].words[k];
            if (wstamp[w] == iter)
                continue;
            wstamp[w] = iter;
            if (word_pairs(t, w, -1, iter))
                goto nomem;
            merge_word(s, w, a, b, id);
            if (word_pairs(t, w, 1, iter))
                goto nomem;
        }
        for (int64_t k = 0; k < t->nt; k++) {
            pair *q = &t->pairs[t->touched[k]];
            if (q->count != q->old && q->count > 0 && heap_push(t, t->touched[k]))
                goto nomem;
        }
    }
    free(wstamp);
    return DLT_OK;
nomem:
    free(wstamp);
    return dlt_seterr(DLT_ERR_NOMEM, "out of memory learning merges");
}

dlt_status dlt_learn_merges(dlt_merge_state *s, int64_t max_syms, int64_t min_count,
                            dlt_smap *sym_ids)
{
    trainer t;
    memset(&t, 0, sizeof t);
    t.s = s;
    dlt_status st = run(&t, max_syms, min_count < 1 ? 1 : min_count, sym_ids);
    for (int64_t p = 0; p < t.np; p++)
        free(t.pairs[p].words);
    free(t.pairs);
    free(t.heap);
    free(t.touched);
    dlt_pmap_free(&t.index);
    return st;
}
