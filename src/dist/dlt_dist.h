/* Data parallelism for a graph: the layer between the trainer and the
 * graph-free communication module. src/comm reduces caller-given flat
 * ranges of a gradient buffer; this module owns what needs the graph:
 * it finalizes the graph with its gradients in the order backward produces
 * them, maps each parameter's gradient to a range (and so to a bucket),
 * binds the gradients in the plan in that order, translates the plan's steps
 * into the reducer's readiness signals, broadcasts and checks the replica,
 * and steps the optimizer on the reduced gradients (plain, or ZeRO-1 over
 * this rank's shards). A reducer over a subset of the parameters (one phase
 * of a GAN) is a dlt_dist over that subset's gradients. */
#ifndef DLT_DIST_H
#define DLT_DIST_H

#include "dlt_base.h"
#include "dlt_comm.h"
#include "dlt_core.h"
#include "dlt_optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dlt_dist dlt_dist;

/* (params[i], grads[i]) are the gradients to reduce (e.g. from
 * dlt_grad_params): all of the graph's trainable parameters, or a subset.
 * Fixes the parameter layout in bucket order (gradients laid out in the
 * order backward produces them, see dist.c) with dlt_graph_finalize, so call
 * it BEFORE creating any plan of g. If g is already finalized its layout is
 * kept and buckets follow it (correct, but less overlap). Then creates the
 * comm reducer over the flat ranges of these parameters' gradients (device
 * memory and the backend's kernels for a device graph). c and g must outlive
 * the result. */
dlt_status dlt_dist_create(dlt_comm *c, dlt_graph *g, int n, const dlt_t *params, const dlt_t *grads,
                           const dlt_reducer_config *cfg, dlt_dist **out);
/* Several reducers over disjoint parameter groups (the phases of a GAN),
 * out[k] over group k's n[k] (params[k][i], grads[k][i]) pairs. Fixes the
 * layout for all groups at once, so that each group's parameters form ONE
 * contiguous range of the flat buffers (ordered inside it as
 * dlt_dist_create orders them, for bucket overlap): its gradients reduce
 * with no copy and its optimizer owns one range. The groups lie in the
 * order given; parameters in no group go after them. g must not be
 * finalized yet. */
dlt_status dlt_dist_create_groups(dlt_comm *c, dlt_graph *g, int ngroups, const int *n, const dlt_t *const *params,
                                  const dlt_t *const *grads, const dlt_reducer_config *cfg, dlt_dist **out);
/* The flat range [*lo, *hi) d's buckets cover (its group's range; the whole
 * buffer for a dist over every parameter). */
void dlt_dist_range(const dlt_dist *d, size_t *lo, size_t *hi);
void dlt_dist_free(dlt_dist *d);
/* The comm reducer it drives (owned by d): unscale, global samples,
 * buckets, ZeRO shards and timing live there. */
dlt_reducer *dlt_dist_reducer(const dlt_dist *d);
/* Fills o's gradient bindings (ngrads, grad_params, grad_values) in production
 * order, which also makes the planner emit gradients in that order. The arrays
 * belong to d. */
void dlt_dist_plan_opts(const dlt_dist *d, dlt_plan_opts *o);
/* Installs the after_node callback that turns plan steps into readiness
 * signals (chaining any callback already there). Pass o to dlt_plan_run
 * between begin and finish. One rank: nothing to overlap, o is left alone. */
void dlt_dist_exec_opts(dlt_dist *d, dlt_exec_opts *o);
/* Before a (micro-)step's dlt_plan_run of p: local_samples this rank feeds;
 * final = 0 on non-final micro-steps of gradient accumulation (no
 * reduction). On a final one, computes when each range is ready in p
 * (O(parameters); plans may be freed and recreated) and starts the buckets
 * ready before the first step. */
dlt_status dlt_dist_begin(dlt_dist *d, dlt_plan *p, double local_samples, int final);
/* After dlt_plan_run: dlt_reducer_finish (starts what is left, waits,
 * divides by the global sample count). */
dlt_status dlt_dist_finish(dlt_dist *d);
/* Optimizer step on the reduced gradients: dlt_optim_step, or with ZeRO-1
 * dlt_optim_step_range over this rank's shards, dlt_optim_advance and an
 * all-gather of the parameters (dist_optim.c). */
dlt_status dlt_dist_optim_step(dlt_dist *d, dlt_optim *o, double lr);
/* Global squared norm of the reduced gradients (for clipping, any mode). */
dlt_status dlt_dist_grad_sumsq(dlt_dist *d, double *sumsq);
/* Plan step after which bucket b's reduction started in the last final step
 * (-1: started before the first step, nsteps: after the run, in finish). */
int dlt_dist_bucket_start_step(const dlt_dist *d, int b);
/* Parameter-layout order chosen (n values; NULL when the layout was kept). */
const dlt_t *dlt_dist_layout(const dlt_dist *d, int *n);

/* Collective: finalizes g (if not yet) and sends rank 0's parameters and
 * buffers to every rank, then dlt_dist_replica_check. Host buffers over MPI
 * (a device graph uploads afterwards). */
dlt_status dlt_dist_replica_broadcast(dlt_comm *c, dlt_graph *g);
/* Collective: the checksums of g's parameters and buffers (host copies)
 * agree on every rank (dlt_replica_check_flat). */
dlt_status dlt_dist_replica_check(dlt_comm *c, dlt_graph *g);

#ifdef __cplusplus
}
#endif
#endif
