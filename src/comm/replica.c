/* Replica consistency: rank 0's parameters and buffers to every rank, and a
 * checksum exchange that proves the replicas agree (at start, after a resume,
 * or every K steps). Works on the graph's flat host buffers over MPI. */
#include "comm_impl.h"

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

dlt_status dlt_replica_broadcast(dlt_comm *c, dlt_graph *g)
{
    dlt_status st;
    if ((st = dlt_graph_finalize(g, NULL, 0)) != DLT_OK)
        return st;
    st = comm_host(c, OP_BCAST, NULL, dlt_params_data(g), dlt_params_numel(g), DLT_COMM_F32, 0, 0);
    if (st == DLT_OK && dlt_buffers_numel(g) > 0)
        st = comm_host(c, OP_BCAST, NULL, dlt_buffers_data(g), dlt_buffers_numel(g), DLT_COMM_F32,
                       0, 0);
    if (st != DLT_OK)
        return dlt_adderr(st, "broadcasting rank 0's parameters");
    return dlt_replica_check(c, g);
}

dlt_status dlt_replica_check(dlt_comm *c, dlt_graph *g)
{
    double mine[4], *all = malloc((size_t)c->size * sizeof mine);
    uint64_t hp, hb;
    if (!all)
        return dlt_seterr(DLT_ERR_NOMEM, "replica check: out of memory");
    dlt_replica_checksum(dlt_params_data(g), dlt_params_numel(g), &mine[0], &hp);
    dlt_replica_checksum(dlt_buffers_data(g), dlt_buffers_numel(g), &mine[2], &hb);
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
