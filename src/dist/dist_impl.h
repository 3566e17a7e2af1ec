/* Private to src/dist: the state of a graph's data parallelism, shared by
 * dist.c (layout, ranges, readiness) and dist_optim.c (optimizer step). */
#ifndef DLT_DIST_IMPL_H
#define DLT_DIST_IMPL_H

#include "dlt_dist.h"

typedef struct {
    int step, idx;
} ready_at;

struct dlt_dist {
    dlt_comm *c;
    dlt_graph *g;
    dlt_reducer *red; /* owned */
    dlt_reducer_config cfg;
    int n;
    dlt_t *params, *grads; /* bindings in production order */
    dlt_t *layout;         /* the order given to dlt_graph_finalize (NULL: kept) */
    int nlayout;
    int nr;
    dlt_t *range_param; /* range i's parameter value (layout order) */
    ready_at *ready;    /* by readiness step, then range index (begin) */
    int cursor;         /* ranges [0, cursor) of `ready` signalled in this step */
    int *start_step;    /* by bucket, in the last final step */
    int started;        /* buckets whose start step is recorded */
    int nsteps, active;
    void (*chain)(dlt_plan *, int, void *);
    void *chain_user;
};

#endif
