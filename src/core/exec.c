/* The executor: runs a plan's steps in order on the CPU backend (device plans:
 * exec_device.c). */
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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t run_seed(const dlt_plan *p, const dlt_exec_opts *o)
{
    return o->rng_stream ? dlt_rng_u64(p->g->seed, 0x72616e6bull, o->rng_stream) : p->g->seed;
}

dlt_status dlt_plan_run(dlt_plan *p, const dlt_exec_opts *opts)
{
    dlt_exec_opts def = {0};
    const dlt_exec_opts *o = opts ? opts : &def;
    int nt = dlt_get_num_threads();
    if (p->measure_only)
        return dlt_seterr(DLT_ERR_INVALID, "this plan was made with measure_only and cannot run");
    if (p->be) /* exec_device.c */
        return dlt_exec_device(p, o, run_seed(p, o));
    for (int s = 0; s < p->nsteps; s++) {
        plan_step *ps = &p->steps[s];
        double t0 = o->profile ? now() : 0;
        if (ps->kind == STEP_NODE) {
            const dlt_node *nd = ps->k.node;
            if (!(nd->op->flags & DLT_OP_VIEW)) {
                ps->k.training = o->training;
                ps->k.step = o->step;
                ps->k.seed = run_seed(p, o);
                ps->k.nthreads = nt;
                dlt_status st = nd->op->cpu(&ps->k);
                if (st != DLT_OK)
                    return dlt_adderr(st, "%s '%s'", nd->op->name, nd->name);
            }
        } else {
            const float *src = dlt_plan_ptr(p, ps->src);
            if (ps->kind == STEP_COPY)
                memcpy(ps->dst, src, ps->numel * sizeof(float));
            else
                for (size_t i = 0; i < ps->numel; i++)
                    ps->dst[i] += src[i];
        }
        for (int i = ps->poison_lo; i < ps->poison_hi; i++)
            memset(p->arena + p->poison[i].off, 0xff, p->poison[i].bytes); /* NaN pattern */
        if (o->profile)
            p->times[s] += now() - t0;
        if (o->after_node)
            o->after_node(p, s, o->user);
    }
    return DLT_OK;
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
