/* The replica of a graph: rank 0's parameters and buffers to every rank and
 * the checksum exchange, on the graph's flat host buffers (src/comm does the
 * collectives). */
#include "dlt_dist.h"

dlt_status dlt_dist_replica_broadcast(dlt_comm *c, dlt_graph *g)
{
    dlt_status st;
    if ((st = dlt_graph_finalize(g, NULL, 0)) != DLT_OK)
        return st;
    return dlt_replica_broadcast_flat(c, dlt_params_data(g), dlt_params_numel(g), dlt_buffers_data(g),
                                      dlt_buffers_numel(g));
}

dlt_status dlt_dist_replica_check(dlt_comm *c, dlt_graph *g)
{
    return dlt_replica_check_flat(c, dlt_params_data(g), dlt_params_numel(g), dlt_buffers_data(g),
                                  dlt_buffers_numel(g));
}
