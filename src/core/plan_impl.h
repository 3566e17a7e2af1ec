/* Plan internals shared by the planner and the executor. */
#ifndef DLT_PLAN_IMPL_H
#define DLT_PLAN_IMPL_H

#include "graph_impl.h"

enum { STEP_NODE = 0, STEP_COPY, STEP_ADD };
enum { LOC_NONE = 0, LOC_ARENA, LOC_INPUT, LOC_EXTERNAL };

typedef struct {
    int kind;
    int node;          /* STEP_NODE */
    dlt_t src;         /* STEP_COPY/STEP_ADD: value copied (added) into dst */
    float *dst;
    size_t numel;
    size_t work_off, work_bytes;
    int poison_lo, poison_hi; /* range in the plan's poison list */
    dlt_kctx k;               /* prebuilt kernel context (pointers resolved) */
    dlt_kernel_fn dev_fn;     /* the backend's kernel */
    /* copies of the node and its shapes: the graph may grow (and move its
     * arrays) after the plan is made */
    dlt_node node_copy;
    dlt_shape in_shape[DLT_MAX_IN], out_shape[DLT_MAX_OUT];
} plan_step;

typedef struct {
    size_t off, bytes;
} region;

struct dlt_plan {
    dlt_graph *g;
    plan_step *steps;
    int nsteps;
    dlt_t *root;          /* storage root per value (views share their input's) */
    unsigned char *loc;   /* LOC_* per value */
    size_t *off;          /* arena or input-region offset per value */
    void **ext;           /* external storage per value */
    int *def, *last;      /* lifetime in steps (roots only) */
    dlt_t *inplace_of;    /* root whose block this root took over, or -1 */
    unsigned char *arena, *inputs;
    size_t arena_bytes, inputs_bytes, act_bytes;
    region *poison;
    int npoison;
    double *times;
    int *grad_ready; /* per value: step after which the bound gradient is complete */
    int do_poison;
    int nvals; /* values the graph had when planned (later ones are not ours) */
    int measure_only;
    /* arena and inputs are the backend's memory; inputs_host is the
     * page-locked staging dlt_plan_data hands out, uploaded at the start of a
     * run; outputs are downloaded into outs_host at its end. On a host-memory
     * backend inputs_host is inputs itself and no output is staged (nouts 0,
     * outs_host NULL). */
    dlt_backend *be;
    unsigned char *inputs_host, *outs_host;
    size_t outs_bytes;
    int nouts;
    dlt_t *outs;     /* plan outputs (roots) copied back */
    size_t *outs_off; /* per value: offset in outs_host, (size_t)-1 if none */
    int out_step;     /* the last step writing an output (-1: none): downloads follow it */
    /* overlap (exec_run.c): the device staging dlt_plan_prefetch fills
     * (allocated by its first call) and what is still queued */
    unsigned char *inputs_stage;
    int staged;        /* a prefetch is waiting for the next run */
    int xfer_busy;     /* a prefetch copy may still read inputs_host */
    int run_pending;   /* an async run whose end has not been waited for */
    int outs_pending;  /* ... whose outputs have not been waited for */
    /* CUDA graph (dlt_exec_opts.graph): the capture, what it was made for,
     * and whether a run to warm up was seen (or capture failed: never again) */
    void *graph;
    uint64_t *run_dev, *run_host; /* {seed, step} of the run: device copy, pinned staging (dlt_kctx.run_dev) */
    int graph_training, graph_marks, graph_warm, graph_failed;
};

void *dlt_plan_ptr(const dlt_plan *p, dlt_t v);
/* exec_run.c: a run of a plan; the waits dlt_plan_free needs */
dlt_status dlt_exec_run(dlt_plan *p, const dlt_exec_opts *o, uint64_t seed);
void dlt_exec_free(dlt_plan *p);

#endif
