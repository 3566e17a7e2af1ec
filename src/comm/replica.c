/* Replica consistency: that every rank runs the same job and model (before
 * anything is broadcast), rank 0's parameters and buffers to every rank, and
 * a checksum exchange that proves the replicas agree (at start, after a
 * resume, or every K steps). Works on flat host buffers over MPI; src/dist
 * applies it to a graph's parameters and buffers. */
#include "comm_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dlt_replica_checksum(const float *x, size_t n, double *sum, uint64_t *hash)
{
    /* FNV-1a over the bytes catches any bit difference; the sum in double
     * gives a readable magnitude in the message */
    uint64_t h = 14695981039346656037ull;
    const unsigned char *b = (const unsigned char *)x;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    for (size_t i = 0; i < n * sizeof *x; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    *sum = s;
    *hash = h;
}

dlt_status dlt_replica_broadcast_flat(dlt_comm *c, float *params, size_t np, float *buffers,
                                      size_t nb)
{
    dlt_status st = comm_host(c, OP_BCAST, NULL, params, np, DLT_COMM_F32, 0, 0);
    if (st == DLT_OK && nb > 0)
        st = comm_host(c, OP_BCAST, NULL, buffers, nb, DLT_COMM_F32, 0, 0);
    if (st != DLT_OK)
        return dlt_adderr(st, "broadcasting rank 0's parameters");
    return dlt_replica_check_flat(c, params, np, buffers, nb);
}

dlt_status dlt_replica_check_flat(dlt_comm *c, const float *params, size_t np,
                                  const float *buffers, size_t nb)
{
    double mine[4], *all = malloc((size_t)c->size * sizeof mine);
    uint64_t hp, hb;
    if (!all)
        return dlt_seterr(DLT_ERR_NOMEM, "replica check: out of memory");
    dlt_replica_checksum(params, np, &mine[0], &hp);
    dlt_replica_checksum(buffers, nb, &mine[2], &hb);
    memcpy(&mine[1], &hp, sizeof hp); /* bits travel unchanged in a gather */
    memcpy(&mine[3], &hb, sizeof hb);
    dlt_status st = comm_host(c, OP_ALLGATHER, mine, all, 4, DLT_COMM_F64, 0, 0);
    if (st != DLT_OK) {
        free(all);
        return st;
    }
    char bad[512] = "";
    size_t len = 0;
    int nbad = 0;
    for (int r = 1; r < c->size; r++)
        if (memcmp(all + 4 * r, all, sizeof mine) != 0) {
            nbad++;
            if (len + 80 < sizeof bad)
                len += (size_t)snprintf(bad + len, sizeof bad - len, " rank %d (sum %.17g)", r,
                                        all[4 * r]);
        }
    double sum0 = all[0];
    free(all);
    if (nbad)
        return dlt_seterr(DLT_ERR_COMM,
                          "replica check: %d rank(s) hold parameters or buffers that differ from "
                          "rank 0 (sum %.17g):%s",
                          nbad, sum0, bad);
    return DLT_OK;
}

/* Line i of text (without its newline): *len bytes at the result, NULL past
 * the end. */
static const char *line_at(const char *text, size_t i, size_t *len)
{
    for (; i > 0 && *text; i--) {
        const char *nl = strchr(text, '\n');
        if (!nl)
            return NULL;
        text = nl + 1;
    }
    if (!*text)
        return NULL;
    const char *nl = strchr(text, '\n');
    *len = nl ? (size_t)(nl - text) : strlen(text);
    return text;
}

/* "key mine vs theirs" for the first line that differs ("key\tvalue"
 * lines), "mine vs theirs" when the keys differ too. */
static void first_difference(const char *mine, const char *theirs, char *buf, size_t n)
{
    size_t i = 0, la = 0, lb = 0;
    const char *a, *b;
    for (;; i++) {
        a = line_at(mine, i, &la);
        b = line_at(theirs, i, &lb);
        if (!a || !b || la != lb || memcmp(a, b, la) != 0)
            break;
    }
    if (!a && !b) { /* same lines: a difference in trailing bytes */
        snprintf(buf, n, "the same lines, other bytes");
        return;
    }
    const char *ta = a ? memchr(a, '\t', la) : NULL, *tb = b ? memchr(b, '\t', lb) : NULL;
    if (ta && tb && ta - a == tb - b && !memcmp(a, b, (size_t)(ta - a))) {
        int k = (int)(ta - a);
        snprintf(buf, n, "%.*s %.*s vs %.*s", k, a, (int)(la - (size_t)k - 1 > 100 ? 100 : la - (size_t)k - 1), ta + 1,
                 (int)(lb - (size_t)k - 1 > 100 ? 100 : lb - (size_t)k - 1), tb + 1);
        return;
    }
    char x[120], y[120];
    snprintf(x, sizeof x, "%.*s", a ? (int)(la > 100 ? 100 : la) : 9, a ? a : "(nothing)");
    snprintf(y, sizeof y, "%.*s", b ? (int)(lb > 100 ? 100 : lb) : 9, b ? b : "(nothing)");
    for (char *t = x; *t; t++)
        *t = *t == '\t' ? ' ' : *t;
    for (char *t = y; *t; t++)
        *t = *t == '\t' ? ' ' : *t;
    snprintf(buf, n, "%s vs %s", x, y);
}

dlt_status dlt_comm_agree(dlt_comm *c, const char *text)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *b = (const unsigned char *)text; *b; b++) {
        h ^= *b;
        h *= 1099511628211ull;
    }
    double mine, *all = malloc((size_t)c->size * sizeof mine);
    if (!all)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    memcpy(&mine, &h, sizeof h); /* bits travel unchanged in a gather */
    dlt_status st = comm_host(c, OP_ALLGATHER, &mine, all, 1, DLT_COMM_F64, 0, 0);
    int bad = -1;
    for (int r = 1; st == DLT_OK && r < c->size && bad < 0; r++)
        if (memcmp(&all[r], &all[0], sizeof mine) != 0)
            bad = r;
    free(all);
    if (st != DLT_OK || bad < 0)
        return st;
    /* only now, on a mismatch: rank 0's text to every rank, and the first
     * rank that differs describes the difference to the others */
    double len = c->rank == 0 ? (double)strlen(text) + 1 : 0, msg[32];
    if ((st = comm_host(c, OP_BCAST, NULL, &len, 1, DLT_COMM_F64, 0, 0)) != DLT_OK)
        return st;
    size_t nd = ((size_t)len + sizeof(double) - 1) / sizeof(double);
    double *text0 = calloc(nd, sizeof *text0);
    if (!text0)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (c->rank == 0)
        memcpy(text0, text, (size_t)len);
    st = comm_host(c, OP_BCAST, NULL, text0, nd, DLT_COMM_F64, 0, 0);
    memset(msg, 0, sizeof msg);
    if (st == DLT_OK && c->rank == bad)
        first_difference(text, (const char *)text0, (char *)msg, sizeof msg);
    free(text0);
    if (st == DLT_OK)
        st = comm_host(c, OP_BCAST, NULL, msg, sizeof msg / sizeof msg[0], DLT_COMM_F64, 0, bad);
    if (st != DLT_OK)
        return st;
    ((char *)msg)[sizeof msg - 1] = '\0';
    return dlt_seterr(DLT_ERR_INVALID, "rank %d differs from rank 0: %s (every rank must run the same job and model)",
                      bad, (const char *)msg);
}
