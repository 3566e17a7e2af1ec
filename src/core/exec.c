/* The executor's entry (the run itself, for every backend: exec_run.c), the
 * CPU's thread count, and what a plan tells about its steps. */
#include <math.h>
#include <omp.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "plan_impl.h"

static int num_threads;

void dlt_set_num_threads(int n)
{
    if (n <= 0)
        n = omp_get_num_procs();
    num_threads = n;
    omp_set_num_threads(n);
    /* one thread pool: OpenBLAS stays single-threaded, dlt_gemm splits work */
    openblas_set_num_threads(1);
}

int dlt_get_num_threads(void)
{
    if (num_threads <= 0)
        dlt_set_num_threads(0);
    return num_threads;
}

static uint64_t run_seed(const dlt_plan *p, const dlt_exec_opts *o)
{
    return o->rng_stream ? dlt_rng_u64(p->g->seed, 0x72616e6bull, o->rng_stream) : p->g->seed;
}

dlt_status dlt_plan_run(dlt_plan *p, const dlt_exec_opts *opts)
{
    dlt_exec_opts def = {0};
    const dlt_exec_opts *o = opts ? opts : &def;
    if (p->measure_only)
        return dlt_seterr(DLT_ERR_INVALID, "this plan was made with measure_only and cannot run");
    return dlt_exec_run(p, o, run_seed(p, o));
}

int dlt_plan_num_steps(const dlt_plan *p) { return p->nsteps; }

const char *dlt_plan_step_name(const dlt_plan *p, int i)
{
    if (i < 0 || i >= p->nsteps)
        return "";
    const plan_step *ps = &p->steps[i];
    return ps->kind == STEP_NODE ? DLT_N(p->g, ps->node).name : DLT_V(p->g, ps->src).name;
}

const char *dlt_plan_step_op(const dlt_plan *p, int i)
{
    if (i < 0 || i >= p->nsteps)
        return "";
    const plan_step *ps = &p->steps[i];
    return ps->kind == STEP_NODE ? DLT_N(p->g, ps->node).op->name
                                 : ps->kind == STEP_COPY ? "grad_copy" : "grad_add";
}

double dlt_plan_step_time(const dlt_plan *p, int i)
{
    return i >= 0 && i < p->nsteps ? p->times[i] : 0;
}

int dlt_plan_grad_ready_step(const dlt_plan *p, dlt_t param)
{
    return param >= 0 && param < p->nvals ? p->grad_ready[param] : -1;
}

void dlt_plan_memory(const dlt_plan *p, dlt_mem_report *r)
{
    memset(r, 0, sizeof *r);
    r->params_bytes = p->g->pnumel * sizeof(float);
    r->grads_bytes = p->g->pnumel * sizeof(float);
    r->buffers_bytes = p->g->bnumel * sizeof(float);
    r->arena_bytes = p->arena_bytes;
    r->activations_bytes = p->act_bytes;
    r->inputs_bytes = p->inputs_bytes;
    r->nsteps = p->nsteps;
}

dlt_status dlt_plan_verify(const dlt_plan *p)
{
    const dlt_graph *g = p->g;
    int nv = p->nvals;
    for (int a = 0; a < nv; a++) {
        if (p->root[a] != a || p->loc[a] != LOC_ARENA)
            continue;
        size_t a0 = p->off[a], a1 = a0 + dlt_shape_bytes(&DLT_V(g, a).shape);
        int la = p->last[a] < 0 ? p->def[a] : p->last[a];
        for (int b = a + 1; b < nv; b++) {
            if (p->root[b] != b || p->loc[b] != LOC_ARENA)
                continue;
            if (p->inplace_of[b] == a || p->inplace_of[a] == b)
                continue;
            size_t b0 = p->off[b], b1 = b0 + dlt_shape_bytes(&DLT_V(g, b).shape);
            int lb = p->last[b] < 0 ? p->def[b] : p->last[b];
            int overlap_time = p->def[a] <= lb && p->def[b] <= la;
            if (overlap_time && a0 < b1 && b0 < a1)
                return dlt_seterr(DLT_ERR_INTERNAL,
                                  "plan: '%s' (steps %d..%d) and '%s' (steps %d..%d) share arena bytes",
                                  DLT_V(g, a).name, p->def[a], la, DLT_V(g, b).name, p->def[b], lb);
        }
    }
    return DLT_OK;
}
