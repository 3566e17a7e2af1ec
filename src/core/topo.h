/* Node ordering shared by autodiff and the planner. */
#ifndef DLT_TOPO_H
#define DLT_TOPO_H
#include "dlt_core.h"
/* Node ids needed for `roots`, inputs before consumers; *order is malloc'd.
 * DLT_ERR_CYCLE names a node on the cycle. */
dlt_status dlt_topo_order(const dlt_graph *g, int nroots, const dlt_t *roots, int **order, int *n);
#endif
