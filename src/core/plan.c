/* The planner: picks the nodes needed for some outputs, orders them, gives every
 * temporary an offset in one arena by liveness (with in-place reuse), and
 * resolves every kernel's pointers once, so running a plan allocates nothing. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "plan_impl.h"
#include "topo.h"

#define ALIGN 64
#define FOREVER INT_MAX

static size_t align_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* ---------------------------------------------------------------- arena allocator */
typedef struct {
    region *free;
    int nfree, cap;
    size_t end;
} allocator;

static size_t arena_alloc(allocator *a, size_t bytes)
{
    int best = -1;
    bytes = align_up(bytes ? bytes : 1);
    for (int i = 0; i < a->nfree; i++)
        if (a->free[i].bytes >= bytes && (best < 0 || a->free[i].bytes < a->free[best].bytes))
            best = i;
    if (best >= 0) {
        size_t off = a->free[best].off;
        a->free[best].off += bytes;
        a->free[best].bytes -= bytes;
        if (a->free[best].bytes == 0) {
            memmove(&a->free[best], &a->free[best + 1], (size_t)(a->nfree - best - 1) * sizeof(region));
            a->nfree--;
        }
        return off;
    }
    /* grow, starting inside a free block that touches the end */
    if (a->nfree > 0 && a->free[a->nfree - 1].off + a->free[a->nfree - 1].bytes == a->end) {
        size_t off = a->free[a->nfree - 1].off;
        a->nfree--;
        a->end = off + bytes;
        return off;
    }
    size_t off = a->end;
    a->end += bytes;
    return off;
}

static int arena_free(allocator *a, size_t off, size_t bytes)
{
    bytes = align_up(bytes ? bytes : 1);
    int i = 0;
    while (i < a->nfree && a->free[i].off < off)
        i++;
    if (a->nfree == a->cap) {
        int cap = a->cap ? 2 * a->cap : 64;
        region *r = realloc(a->free, (size_t)cap * sizeof *r);
        if (!r)
            return 0;
        a->free = r;
        a->cap = cap;
    }
    memmove(&a->free[i + 1], &a->free[i], (size_t)(a->nfree - i) * sizeof(region));
    a->free[i] = (region){off, bytes};
    a->nfree++;
    if (i + 1 < a->nfree && a->free[i].off + a->free[i].bytes == a->free[i + 1].off) {
        a->free[i].bytes += a->free[i + 1].bytes;
        memmove(&a->free[i + 1], &a->free[i + 2], (size_t)(a->nfree - i - 2) * sizeof(region));
        a->nfree--;
    }
    if (i > 0 && a->free[i - 1].off + a->free[i - 1].bytes == a->free[i].off) {
        a->free[i - 1].bytes += a->free[i].bytes;
        memmove(&a->free[i], &a->free[i + 1], (size_t)(a->nfree - i - 1) * sizeof(region));
        a->nfree--;
    }
    return 1;
}

/* ---------------------------------------------------------------- helpers */
static size_t vbytes(const dlt_graph *g, dlt_t v) { return dlt_shape_bytes(&DLT_V(g, v).shape); }

static int add_poison(dlt_plan *p, int *cap, size_t off, size_t bytes)
{
    if (p->npoison == *cap) {
        int c = *cap ? 2 * *cap : 64;
        region *r = realloc(p->poison, (size_t)c * sizeof *r);
        if (!r)
            return 0;
        p->poison = r;
        *cap = c;
    }
    p->poison[p->npoison++] = (region){off, bytes};
    return 1;
}

void dlt_plan_free(dlt_plan *p)
{
    if (!p)
        return;
    dlt_backend *be = p->be;
    dlt_exec_free(p); /* waits for queued work first */
    for (int s = 0; p->steps && s < p->nsteps; s++)
        if (p->steps[s].kind == STEP_NODE && p->steps[s].k.op_state && p->steps[s].k.node->op->release)
            p->steps[s].k.node->op->release(p->steps[s].k.op_state);
    if (p->inputs_host != p->inputs) /* a host-memory plan has no staging */
        be->release_host(be->ctx, p->inputs_host);
    be->release(be->ctx, p->arena);
    be->release(be->ctx, p->inputs);
    be->release_host(be->ctx, p->outs_host);
    if (p->run_dev)
        be->release(be->ctx, p->run_dev);
    be->release_host(be->ctx, p->run_host);
    free(p->outs);
    free(p->outs_off);
    free(p->steps);
    free(p->root);
    free(p->loc);
    free(p->off);
    free(p->ext);
    free(p->def);
    free(p->last);
    free(p->inplace_of);
    free(p->poison);
    free(p->times);
    free(p->grad_ready);
    free(p);
}

void *dlt_plan_ptr(const dlt_plan *p, dlt_t v)
{
    dlt_t r = p->root[v];
    switch (p->loc[r]) {
    case LOC_ARENA:
        return p->arena + p->off[r];
    case LOC_INPUT:
        return p->inputs + p->off[r];
    case LOC_EXTERNAL:
        return p->ext[r];
    default:
        return NULL;
    }
}

void *dlt_plan_data(dlt_plan *p, dlt_t v)
{
    if (v < 0 || v >= p->nvals || p->measure_only)
        return NULL;
    if (p->be->host_memory) /* the plan's own storage */
        return dlt_plan_ptr(p, v);
    dlt_t r = p->root[v];
    if (p->loc[r] == LOC_INPUT)
        return p->inputs_host + p->off[r];
    if (p->outs_off[r] != (size_t)-1)
        return p->outs_host + p->outs_off[r];
    switch (DLT_V(p->g, r).kind) {
    case DLT_VAL_PARAM:
    case DLT_VAL_BUFFER:
    case DLT_VAL_CONST:
        return dlt_param_data(p->g, r);
    default:
        return NULL;
    }
}

/* Each node's kernel on the plan's backend; one error names every op missing. */
static dlt_status find_kernels(dlt_plan *p, dlt_workspace_fn *ws)
{
    dlt_graph *g = p->g;
    char missing[512] = "";
    int nmiss = 0;
    for (int s = 0; s < p->nsteps; s++) {
        plan_step *ps = &p->steps[s];
        ws[s] = NULL;
        if (ps->kind != STEP_NODE)
            continue;
        const dlt_node *nd = &DLT_N(g, ps->node);
        if (nd->op->flags & DLT_OP_VIEW)
            continue;
        if (p->be->kernel(p->be->ctx, nd->op, &ps->dev_fn, &ws[s]))
            continue;
        if (!strstr(missing, nd->op->name)) {
            size_t len = strlen(missing);
            snprintf(missing + len, sizeof missing - len, "%s%s ('%s')", nmiss ? ", " : "", nd->op->name,
                     nd->name);
            nmiss++;
        }
    }
    if (nmiss)
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "plan: the %s backend has no kernel for %s", p->be->name, missing);
    return DLT_OK;
}

/* The arena and inputs on the backend and, on a device, host staging for
 * inputs and outputs (a host-memory plan hands out the inputs and outputs
 * themselves: nothing is staged or copied). */
static dlt_status alloc_storage(dlt_plan *p, int nout, const dlt_t *outputs)
{
    dlt_backend *be = p->be;
    dlt_graph *g = p->g;
    dlt_status st;
    p->outs = malloc(((size_t)nout + 1) * sizeof *p->outs);
    p->outs_off = malloc(((size_t)p->nvals + 1) * sizeof *p->outs_off);
    if (!p->outs || !p->outs_off)
        return dlt_seterr(DLT_ERR_NOMEM, "plan: out of memory");
    for (int v = 0; v < p->nvals; v++)
        p->outs_off[v] = (size_t)-1;
    for (int i = 0; i < nout && !be->host_memory; i++) {
        dlt_t r = p->root[outputs[i]];
        if ((p->loc[r] != LOC_ARENA && p->loc[r] != LOC_EXTERNAL) || p->outs_off[r] != (size_t)-1)
            continue;
        if (p->loc[r] == LOC_EXTERNAL && DLT_V(g, r).kind != DLT_VAL_TEMP)
            continue; /* parameters, buffers, constants: the graph's host mirrors */
        p->outs[p->nouts++] = r;
        p->outs_off[r] = p->outs_bytes;
        p->outs_bytes += align_up(vbytes(g, r));
    }
    /* an output's root is written by its producer only (outputs live to the
     * end: nothing takes their block over) */
    p->out_step = -1;
    for (int i = 0; i < p->nouts; i++)
        if (p->def[p->outs[i]] > p->out_step)
            p->out_step = p->def[p->outs[i]];
    if ((st = be->alloc(be->ctx, align_up(p->arena_bytes ? p->arena_bytes : 1), (void **)&p->arena)) ||
        (st = be->alloc(be->ctx, align_up(p->inputs_bytes ? p->inputs_bytes : 1), (void **)&p->inputs)))
        return dlt_adderr(st, "plan (arena of %zu bytes)", p->arena_bytes);
    if (be->host_memory)
        p->inputs_host = p->inputs;
    else if ((st = be->alloc_host(be->ctx, align_up(p->inputs_bytes ? p->inputs_bytes : 1), (void **)&p->inputs_host)) ||
             (st = be->alloc_host(be->ctx, align_up(p->outs_bytes ? p->outs_bytes : 1), (void **)&p->outs_host)))
        return dlt_adderr(st, "plan (staging of %zu input bytes)", p->inputs_bytes);
    if ((st = be->alloc(be->ctx, 2 * sizeof(uint64_t), (void **)&p->run_dev)) ||
        (st = be->alloc_host(be->ctx, 2 * sizeof(uint64_t), (void **)&p->run_host)))
        return dlt_adderr(st, "plan (arena of %zu bytes)", p->arena_bytes);
    if ((st = be->memset(be->ctx, p->arena, 0, align_up(p->arena_bytes ? p->arena_bytes : 1))) ||
        (st = be->memset(be->ctx, p->inputs, 0, align_up(p->inputs_bytes ? p->inputs_bytes : 1))))
        return st;
    return DLT_OK;
}

/* ---------------------------------------------------------------- planning */
static dlt_status build_steps(dlt_plan *p, const int *order, int norder, const dlt_plan_opts *o,
                              unsigned char *direct)
{
    dlt_graph *g = p->g;
    int ngr = o ? o->ngrads : 0;
    p->steps = calloc((size_t)(norder + ngr + 1), sizeof *p->steps);
    if (!p->steps)
        return dlt_seterr(DLT_ERR_NOMEM, "plan: out of memory");
    /* which gradient values can be written straight into the gradient buffer */
    int *bound_to = malloc(((size_t)g->nvals + 1) * sizeof *bound_to);
    if (!bound_to)
        return dlt_seterr(DLT_ERR_NOMEM, "plan: out of memory");
    for (int v = 0; v < g->nvals; v++)
        bound_to[v] = -1;
    for (int i = 0; i < ngr; i++) {
        dlt_t pv = o->grad_params[i], gv = o->grad_values[i];
        if (!dlt_valid(g, pv) || DLT_V(g, pv).kind != DLT_VAL_PARAM || !dlt_valid(g, gv)) {
            free(bound_to);
            return dlt_seterr(DLT_ERR_INVALID, "plan: gradient binding %d is not (parameter, value)", i);
        }
        if (!dlt_shape_equal(&DLT_V(g, pv).shape, &DLT_V(g, gv).shape)) {
            char a[128], b[128];
            free(bound_to);
            return dlt_seterr(DLT_ERR_SHAPE, "plan: gradient '%s' %s does not match parameter '%s' %s",
                              DLT_V(g, gv).name, dlt_shape_str(&DLT_V(g, gv).shape, a, sizeof a),
                              DLT_V(g, pv).name, dlt_shape_str(&DLT_V(g, pv).shape, b, sizeof b));
        }
        const dlt_node *nd = dlt_producer(g, gv);
        if (!o->accumulate && nd && !(nd->op->flags & DLT_OP_VIEW) && bound_to[gv] < 0) {
            bound_to[gv] = i;
            direct[i] = 1;
        }
    }
    int k = 0;
    /* leaves bound as gradients (zeros when the loss does not depend on a param) */
    for (int i = 0; i < ngr; i++)
        if (!direct[i] && !dlt_producer(g, o->grad_values[i]))
            p->steps[k++] = (plan_step){.kind = o->accumulate ? STEP_ADD : STEP_COPY,
                                        .src = o->grad_values[i], .node = i};
    for (int j = 0; j < norder; j++) {
        const dlt_node *nd = &DLT_N(g, order[j]);
        p->steps[k++] = (plan_step){.kind = STEP_NODE, .node = order[j]};
        for (int i = 0; i < ngr; i++) {
            dlt_t gv = o->grad_values[i];
            if (!direct[i] && DLT_V(g, gv).node == nd->id)
                p->steps[k++] = (plan_step){.kind = o->accumulate ? STEP_ADD : STEP_COPY, .src = gv,
                                            .node = i};
        }
    }
    p->nsteps = k;
    free(bound_to);
    return DLT_OK;
}

/* ---------------------------------------------------------------- phases of dlt_plan_create */

/* Per-value tables, every value unplaced; leaves (parameters, buffers,
 * constants) are external, their storage resolved by bind_storage. */
static dlt_status alloc_tables(dlt_plan *p)
{
    const dlt_graph *g = p->g;
    int nv = p->nvals;
    p->root = malloc((size_t)nv * sizeof *p->root);
    p->loc = calloc((size_t)nv, 1);
    p->off = calloc((size_t)nv, sizeof *p->off);
    p->ext = calloc((size_t)nv, sizeof *p->ext);
    p->def = malloc((size_t)nv * sizeof *p->def);
    p->last = malloc((size_t)nv * sizeof *p->last);
    p->inplace_of = malloc((size_t)nv * sizeof *p->inplace_of);
    p->times = calloc((size_t)p->nsteps + 1, sizeof *p->times);
    p->grad_ready = malloc((size_t)nv * sizeof *p->grad_ready);
    if (!p->root || !p->loc || !p->off || !p->ext || !p->def || !p->last || !p->inplace_of ||
        !p->times || !p->grad_ready)
        return dlt_seterr(DLT_ERR_NOMEM, "plan: out of memory");
    for (int v = 0; v < nv; v++) {
        p->root[v] = v;
        p->def[v] = -1;
        p->last[v] = -1;
        p->inplace_of[v] = -1;
        p->grad_ready[v] = -1;
        switch (DLT_V(g, v).kind) {
        case DLT_VAL_PARAM:
        case DLT_VAL_BUFFER:
        case DLT_VAL_CONST:
            p->loc[v] = LOC_EXTERNAL;
            p->ext[v] = NULL;
            break;
        default:
            break;
        }
    }
    return DLT_OK;
}

/* An input the plan reads gets its slot in the input area (once). */
static void place_input(dlt_plan *p, dlt_t r)
{
    if (DLT_V(p->g, r).kind == DLT_VAL_INPUT && p->loc[r] == LOC_NONE) {
        p->loc[r] = LOC_INPUT;
        p->off[r] = p->inputs_bytes;
        p->inputs_bytes += align_up(vbytes(p->g, r));
    }
}

/* Roots and definitions (views share their input's root; directly bound
 * gradients live in the gradient buffer), then lifetimes: the last step that
 * reads every root; outputs live to the end. */
static void lifetimes(dlt_plan *p, int nout, const dlt_t *outputs, const dlt_plan_opts *o,
                      const unsigned char *direct)
{
    dlt_graph *g = p->g;
    int ngr = o ? o->ngrads : 0;
    for (int s = 0; s < p->nsteps; s++) {
        plan_step *ps = &p->steps[s];
        if (ps->kind != STEP_NODE)
            continue;
        const dlt_node *nd = &DLT_N(g, ps->node);
        if (nd->op->flags & DLT_OP_VIEW)
            p->root[nd->out[0]] = p->root[nd->in[0]];
        for (int j = 0; j < nd->nout; j++)
            p->def[nd->out[j]] = s;
    }
    for (int i = 0; i < ngr; i++) {
        dlt_t pv = o->grad_params[i], gv = o->grad_values[i];
        if (direct[i]) {
            p->loc[gv] = LOC_EXTERNAL;
            p->ext[gv] = dlt_grads_dev(g) + DLT_V(g, pv).offset;
            p->last[gv] = FOREVER;
            p->grad_ready[pv] = p->def[gv];
        }
    }
    for (int s = 0; s < p->nsteps; s++) {
        plan_step *ps = &p->steps[s];
        if (ps->kind != STEP_NODE) {
            dlt_t r = p->root[ps->src];
            if (p->last[r] != FOREVER && p->last[r] < s)
                p->last[r] = s;
            ps->dst = dlt_grads_dev(g) + DLT_V(g, o->grad_params[ps->node]).offset;
            ps->numel = (size_t)dlt_shape_numel(&DLT_V(g, ps->src).shape);
            p->grad_ready[o->grad_params[ps->node]] = s;
            continue;
        }
        const dlt_node *nd = &DLT_N(g, ps->node);
        for (int i = 0; i < nd->nin; i++) {
            dlt_t r = p->root[nd->in[i]];
            if (p->last[r] != FOREVER && p->last[r] < s)
                p->last[r] = s;
            place_input(p, r);
        }
    }
    for (int i = 0; i < nout; i++) {
        dlt_t r = p->root[outputs[i]];
        p->last[r] = FOREVER;
        place_input(p, r);
    }
}

/* Arena offsets by liveness, in step order: outputs are allocated (or take
 * over their first input's block in place), workspaces live for their step
 * only, and every root is freed after its last use. */
static dlt_status assign_offsets(dlt_plan *p, allocator *al, dlt_workspace_fn *devws)
{
    dlt_graph *g = p->g;
    int pcap = 0;
    for (int s = 0; s < p->nsteps; s++) {
        plan_step *ps = &p->steps[s];
        int plo = p->npoison;
        if (ps->kind == STEP_NODE) {
            const dlt_node *nd = &DLT_N(g, ps->node);
            for (int j = 0; j < nd->nout; j++) {
                dlt_t v = nd->out[j];
                if (p->root[v] != v || p->loc[v] != LOC_NONE)
                    continue;
                if (j > 0 && (nd->op->flags & DLT_OP_OPT_OUTPUTS) && p->last[v] == -1)
                    continue; /* an optional output nothing reads: no storage, NULL to the kernel */
                /* the input whose block output 0 takes over: input 0 (INPLACE), or
                 * the first that qualifies (INPLACE_ANY) */
                dlt_t r0 = -1;
                int ntry = !(nd->op->flags & DLT_OP_INPLACE) || j > 0 ? 0
                           : (nd->op->flags & DLT_OP_INPLACE_ANY) ? nd->nin : nd->nin > 0;
                for (int i = 0; i < ntry && r0 < 0; i++) {
                    dlt_t r = p->root[nd->in[i]];
                    if (p->loc[r] == LOC_ARENA && p->last[r] == s && vbytes(g, r) == vbytes(g, v))
                        r0 = r;
                }
                p->act_bytes += align_up(vbytes(g, v));
                if (r0 >= 0) {
                    p->off[v] = p->off[r0];
                    p->inplace_of[v] = r0;
                    p->last[r0] = -(s + 2); /* handed over at step s: not freed below */
                } else {
                    p->off[v] = arena_alloc(al, vbytes(g, v));
                }
                p->loc[v] = LOC_ARENA;
            }
            dlt_workspace_fn wsfn = devws[s];
            if (wsfn) {
                const dlt_shape *ins[DLT_MAX_IN], *outs[DLT_MAX_OUT];
                for (int i = 0; i < nd->nin; i++)
                    ins[i] = &DLT_V(g, nd->in[i]).shape;
                for (int j = 0; j < nd->nout; j++)
                    outs[j] = &DLT_V(g, nd->out[j]).shape;
                ps->work_bytes = wsfn(nd, ins, outs);
                if (ps->work_bytes) {
                    ps->work_off = arena_alloc(al, ps->work_bytes);
                    if (!arena_free(al, ps->work_off, ps->work_bytes))
                        return DLT_ERR_NOMEM;
                }
            }
            /* outputs nobody reads die right away */
            for (int j = 0; j < nd->nout; j++) {
                dlt_t v = nd->out[j];
                if (p->root[v] == v && p->loc[v] == LOC_ARENA && p->last[v] == -1)
                    p->last[v] = s;
            }
        }
        /* free every arena root whose last use is this step */
        for (int v = 0; v < p->nvals; v++)
            if (p->root[v] == v && p->loc[v] == LOC_ARENA && p->last[v] == s) {
                if (!arena_free(al, p->off[v], vbytes(g, v)))
                    return DLT_ERR_NOMEM;
                if (p->do_poison && !add_poison(p, &pcap, p->off[v], vbytes(g, v)))
                    return DLT_ERR_NOMEM;
            }
        ps->poison_lo = plo;
        ps->poison_hi = p->npoison;
    }
    for (int v = 0; v < p->nvals; v++)
        if (p->last[v] < -1) /* restore the hand-over step for dlt_plan_verify */
            p->last[v] = -p->last[v] - 2;
    p->arena_bytes = al->end;
    return DLT_OK;
}

/* The storage of the leaves (device graphs: the device copies of those this
 * plan reads, so unused constants are never copied; host memory: all, so
 * dlt_plan_data finds every parameter), the arena and the input area. */
static dlt_status bind_storage(dlt_plan *p, int nout, const dlt_t *outputs)
{
    dlt_graph *g = p->g;
    for (int v = 0; v < p->nvals; v++)
        if (p->loc[v] == LOC_EXTERNAL && !p->ext[v] && (p->be->host_memory || p->last[v] >= 0) &&
            !(p->ext[v] = dlt_device_value_ptr(g, v)))
            return dlt_seterr(DLT_ERR_NOMEM, "plan: no storage for '%s'", DLT_V(g, v).name);
    return alloc_storage(p, nout, outputs);
}

/* Every kernel's pointers and shapes, resolved once: the step loop only reads
 * them; then the per-node state of CPU kernels whose op has `prepare`. */
static dlt_status resolve_kernels(dlt_plan *p)
{
    dlt_graph *g = p->g;
    for (int s = 0; s < p->nsteps; s++) {
        plan_step *ps = &p->steps[s];
        if (ps->kind != STEP_NODE)
            continue;
        const dlt_node *nd = &DLT_N(g, ps->node);
        ps->node_copy = *nd;
        ps->k.node = &ps->node_copy;
        ps->k.seed = g->seed;
        for (int i = 0; i < nd->nin; i++) {
            ps->in_shape[i] = DLT_V(g, nd->in[i]).shape;
            ps->k.in_shape[i] = &ps->in_shape[i];
            ps->k.in[i] = dlt_plan_ptr(p, nd->in[i]);
            if ((nd->op->flags & DLT_OP_STATEFUL) && DLT_V(g, nd->in[i]).kind == DLT_VAL_BUFFER)
                ps->k.state[i] = dlt_device_value_ptr(g, nd->in[i]);
        }
        for (int j = 0; j < nd->nout; j++) {
            ps->out_shape[j] = DLT_V(g, nd->out[j]).shape;
            ps->k.out_shape[j] = &ps->out_shape[j];
            ps->k.out[j] = dlt_plan_ptr(p, nd->out[j]);
        }
        ps->k.work = ps->work_bytes ? p->arena + ps->work_off : NULL;
        ps->k.work_bytes = ps->work_bytes;
        ps->k.dev = p->be->ctx;
        ps->k.run_dev = p->run_dev;
        if (nd->op->prepare && ps->dev_fn == nd->op->cpu) {
            int nt = p->be->threads ? p->be->threads(p->be->ctx) : 1;
            dlt_status st = nd->op->prepare(&ps->node_copy, ps->k.in_shape, ps->k.out_shape, nt,
                                            &ps->k.op_state);
            if (st != DLT_OK)
                return dlt_adderr(st, "plan: %s '%s'", nd->op->name, nd->name);
        }
    }
    return DLT_OK;
}

/* The depth-first order visits the roots by their producer's node id: the
 * forward's outputs first, then the gradients in the order dlt_grad created
 * them, which is the order the backward can finish them. So each weight
 * gradient runs as soon as its inputs exist and the saved activations die
 * early, whatever order the caller lists outputs and gradients in: visited in
 * parameter order, the first layer's gradient would pull the whole
 * data-gradient chain ahead of every weight gradient. Leaves go last; ties
 * keep the caller's order. Only the visiting order changes, not the bindings. */
static int root_key(const dlt_graph *g, dlt_t v)
{
    return DLT_V(g, v).node >= 0 ? DLT_V(g, v).node : INT_MAX;
}

static void order_roots(const dlt_graph *g, dlt_t *roots, int n)
{
    for (int i = 0; i < n; i++)
        if (!dlt_valid(g, roots[i]))
            return; /* dlt_topo_order reports it, by its position */
    for (int i = 1; i < n; i++) { /* insertion sort: stable */
        dlt_t v = roots[i];
        int j = i;
        for (; j > 0 && root_key(g, roots[j - 1]) > root_key(g, v); j--)
            roots[j] = roots[j - 1];
        roots[j] = v;
    }
}

/* The phases in order: finalize the graph; the steps (the nodes the outputs
 * and gradients need, topologically ordered, plus gradient copies); the
 * backend's kernels; per-value tables; lifetimes; arena offsets; storage;
 * kernel pointers. measure_only stops after the offsets. */
dlt_status dlt_plan_create(dlt_graph *g, int nout, const dlt_t *outputs, const dlt_plan_opts *o,
                           dlt_plan **out)
{
    dlt_status st;
    int *order = NULL, norder = 0;
    int ngr = o ? o->ngrads : 0;
    allocator al = {0};
    dlt_t *roots = NULL;
    unsigned char *direct = NULL;
    dlt_workspace_fn *devws = NULL;
    *out = NULL;
    if (g->status)
        return dlt_seterr(g->status, "%s", g->errmsg);
    if ((st = dlt_graph_finalize(g, NULL, 0)) != DLT_OK)
        return st;
    dlt_plan *p = calloc(1, sizeof *p);
    roots = malloc(((size_t)nout + ngr + 1) * sizeof *roots);
    direct = calloc((size_t)ngr + 1, 1);
    if (!p || !roots || !direct) {
        st = dlt_seterr(DLT_ERR_NOMEM, "plan: out of memory");
        goto out;
    }
    p->g = g;
    p->be = g->be;
    p->nvals = g->nvals;
    p->do_poison = o && o->poison;
    for (int i = 0; i < nout; i++)
        roots[i] = outputs[i];
    for (int i = 0; i < ngr; i++)
        roots[nout + i] = o->grad_values[i];
    order_roots(g, roots, nout + ngr);
    if ((st = dlt_topo_order(g, nout + ngr, roots, &order, &norder)) != DLT_OK ||
        (st = build_steps(p, order, norder, o, direct)) != DLT_OK)
        goto out;
    if (!(devws = calloc((size_t)p->nsteps + 1, sizeof *devws))) {
        st = dlt_seterr(DLT_ERR_NOMEM, "plan: out of memory");
        goto out;
    }
    if ((st = find_kernels(p, devws)) != DLT_OK)
        goto out;
    if ((st = alloc_tables(p)) != DLT_OK)
        goto out;
    lifetimes(p, nout, outputs, o, direct);
    if (assign_offsets(p, &al, devws) != DLT_OK) {
        st = dlt_seterr(DLT_ERR_NOMEM, "plan: out of memory (arena of %zu bytes)", al.end);
        goto out;
    }
    if (o && o->measure_only) /* sizes and order only: nothing to run */
        p->measure_only = 1;
    else if ((st = bind_storage(p, nout, outputs)) != DLT_OK)
        goto out;
    else
        st = resolve_kernels(p);
out:
    free(al.free);
    free(order);
    free(roots);
    free(direct);
    free(devws);
    if (st != DLT_OK)
        dlt_plan_free(p);
    else
        *out = p;
    return st;
}
