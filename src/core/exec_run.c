/* The executor, one for every backend: a plan's steps queued on the
 * backend's compute stream, inputs uploaded first (or taken from a prefetched
 * device copy), outputs downloaded as soon as the last of them is written,
 * and the waits for an asynchronous run (dlt_exec_opts.async) and a prefetch.
 * On the CPU backend every call is done when it returns and the uploads and
 * downloads are no-ops (a host-memory plan's inputs and outputs are its own
 * storage), so a run is the steps' kernels in order. */
#include <stdio.h>

#include "plan_impl.h"

/* A backend with a transfer stream and events (dlt_backend.h: all or none).
 * Without them a prefetch is an upload on the compute stream and every run is
 * synchronous: correct, only not overlapped. */
static int overlap(const dlt_backend *be)
{
    return be->record && be->wait_host && be->prefetch && be->join_prefetch;
}

/* run_pending / outs_pending: 0 nothing queued; MARKED: the end (outputs) is
 * marked by an event; QUEUED: work is queued without that mark (a run that
 * failed half-way, or a backend without events), so only a full sync waits
 * for it. */
enum { MARKED = 1, QUEUED = 2 };

static dlt_status wait_for(dlt_backend *be, int state, int ev)
{
    if (state == MARKED)
        return be->wait_host(be->ctx, ev);
    return be->sync(be->ctx);
}

dlt_status dlt_plan_wait_outputs(dlt_plan *p)
{
    if (!p->outs_pending)
        return DLT_OK;
    dlt_status st = wait_for(p->be, p->outs_pending, DLT_EV_OUTPUTS);
    p->outs_pending = 0;
    return st;
}

dlt_status dlt_plan_wait(dlt_plan *p)
{
    dlt_backend *be = p->be;
    dlt_status st = DLT_OK, st2;
    if (p->run_pending) {
        st = wait_for(be, p->run_pending, DLT_EV_DONE);
        p->run_pending = p->outs_pending = 0;
        /* the error flags kernels raised in this run (it may also see those of
         * work queued after it: they are reported once, by the first check) */
        if (st == DLT_OK && be->check)
            st = be->check(be->ctx);
    }
    if (p->xfer_busy) {
        st2 = wait_for(be, overlap(be) ? MARKED : QUEUED, DLT_EV_PREFETCHED);
        p->xfer_busy = 0;
        if (st == DLT_OK)
            st = st2;
    }
    return st;
}

dlt_status dlt_plan_prefetch(dlt_plan *p)
{
    dlt_backend *be = p->be;
    dlt_status st;
    if (p->measure_only)
        return dlt_seterr(DLT_ERR_INVALID, "this plan was made with measure_only and cannot prefetch");
    if (be->host_memory)
        return DLT_OK; /* the next run reads its inputs where they were written */
    size_t bytes = p->inputs_bytes ? p->inputs_bytes : 1;
    if (!p->inputs_stage && (st = be->alloc(be->ctx, bytes, (void **)&p->inputs_stage)) != DLT_OK)
        return dlt_adderr(st, "plan: device staging of the inputs (%zu bytes)", bytes);
    /* without a transfer stream the compute stream orders the copy after the
     * runs queued before, which is all the safety the device staging needs */
    st = overlap(be) ? be->prefetch(be->ctx, p->inputs_stage, p->inputs_host, p->inputs_bytes)
                     : be->upload(be->ctx, p->inputs_stage, p->inputs_host, p->inputs_bytes);
    if (st != DLT_OK)
        return dlt_adderr(st, "plan: prefetching the inputs");
    p->staged = 1;
    p->xfer_busy = 1;
    return DLT_OK;
}

void dlt_exec_free(dlt_plan *p)
{
    /* nothing queued may touch the memory about to be released; an error of
     * that run has nobody left to report to */
    if (p->run_pending || p->xfer_busy)
        (void)dlt_plan_wait(p);
    if (p->inputs_stage)
        p->be->release(p->be->ctx, p->inputs_stage);
    p->inputs_stage = NULL;
    if (p->graph)
        p->be->graph_free(p->be->ctx, p->graph);
    p->graph = NULL;
}

/* The inputs into the plan's input region: the prefetched device copy (a fast
 * device-to-device copy once the transfer is done) or the host staging. */
static dlt_status take_inputs(dlt_plan *p)
{
    dlt_backend *be = p->be;
    dlt_status st;
    if (!p->staged)
        return be->upload(be->ctx, p->inputs, p->inputs_host, p->inputs_bytes);
    p->staged = 0;
    if (overlap(be) && (st = be->join_prefetch(be->ctx)) != DLT_OK)
        return st;
    if ((st = be->copy(be->ctx, p->inputs, p->inputs_stage, p->inputs_bytes)) != DLT_OK)
        return st;
    /* the next prefetch may overwrite the device staging after this */
    return overlap(be) ? be->record(be->ctx, DLT_EV_CONSUMED) : DLT_OK;
}

static dlt_status download_outputs(dlt_plan *p, int marks)
{
    dlt_backend *be = p->be;
    dlt_status st;
    for (int i = 0; i < p->nouts; i++) {
        dlt_t r = p->outs[i];
        if ((st = be->download(be->ctx, p->outs_host + p->outs_off[r], dlt_plan_ptr(p, r),
                               dlt_shape_bytes(&DLT_V(p->g, r).shape))) != DLT_OK)
            return st;
    }
    if (!marks)
        return DLT_OK;
    if ((st = be->record(be->ctx, DLT_EV_OUTPUTS)) != DLT_OK)
        return st;
    p->outs_pending = MARKED;
    return DLT_OK;
}

int dlt_plan_graphable(const dlt_plan *p, char *why, size_t len)
{
    const char *no = !p->be->capture_begin || !p->be->capture_end || !p->be->graph_launch || !p->be->graph_free
                         ? "the backend has no graphs"
                         : NULL;
    if (why && len)
        snprintf(why, len, "%s", no ? no : "");
    return !no;
}

/* The steps of a run (and the output downloads among them) on the compute
 * stream: run, or recorded while a capture is open. */
static dlt_status queue_steps(dlt_plan *p, const dlt_exec_opts *o, uint64_t seed, int marks, int out_step)
{
    dlt_backend *be = p->be;
    void *cx = be->ctx;
    int nt = be->threads ? be->threads(cx) : 1;
    dlt_status st;
    if (out_step < 0 && (st = download_outputs(p, marks)) != DLT_OK)
        return st;
    for (int s = 0; s < p->nsteps; s++) {
        plan_step *ps = &p->steps[s];
        if (ps->kind == STEP_NODE) {
            const dlt_node *nd = ps->k.node;
            if (!(nd->op->flags & DLT_OP_VIEW)) {
                ps->k.training = o->training;
                ps->k.step = o->step;
                ps->k.seed = seed;
                ps->k.nthreads = nt;
                if ((st = ps->dev_fn(&ps->k)) != DLT_OK)
                    return dlt_adderr(st, "%s '%s'", nd->op->name, nd->name);
            }
        } else {
            const float *src = dlt_plan_ptr(p, ps->src);
            st = ps->kind == STEP_COPY ? be->copy(cx, ps->dst, src, ps->numel * sizeof(float))
                                       : be->add(cx, ps->dst, src, ps->numel);
            if (st != DLT_OK)
                return st;
        }
        for (int i = ps->poison_lo; i < ps->poison_hi; i++)
            if ((st = be->memset(cx, p->arena + p->poison[i].off, 0xff, p->poison[i].bytes)) != DLT_OK)
                return st;
        if (o->profile)
            p->times[s] += be->elapsed(cx);
        if (o->after_node)
            o->after_node(p, s, o->user);
        if (s == out_step && (st = download_outputs(p, marks)) != DLT_OK)
            return st;
    }
    return DLT_OK;
}

/* A run from a CUDA graph: the second eligible run is captured (the first
 * warms up what must not happen during a capture: cuDNN's algorithm choice,
 * lazy module loading, shared-memory opt-ins), later ones launch it. Values a
 * kernel takes as arguments are frozen in the capture: training and async
 * (the outputs mark) key it; seed and step reach random kernels through
 * dlt_kctx.run_dev, uploaded before each run. A failed capture is reported
 * once and the plan runs without graphs from then on. */
static dlt_status graph_run(dlt_plan *p, const dlt_exec_opts *o, uint64_t seed, int marks, int out_step)
{
    dlt_backend *be = p->be;
    dlt_status st, st2;
    if (p->graph && (p->graph_training != o->training || p->graph_marks != marks)) {
        be->graph_free(be->ctx, p->graph);
        p->graph = NULL;
    }
    if (!p->graph && !p->graph_warm) {
        p->graph_warm = 1;
        return queue_steps(p, o, seed, marks, out_step);
    }
    if (!p->graph) {
        void *gr = NULL;
        if ((st = be->capture_begin(be->ctx)) != DLT_OK)
            return st;
        char why[256] = "";
        st = queue_steps(p, o, seed, marks, out_step);
        if (st != DLT_OK) /* a library call refused inside the capture, or the run's own error */
            snprintf(why, sizeof why, "%s", dlt_errmsg());
        st2 = be->capture_end(be->ctx, &gr);
        if (st2 != DLT_OK && st == DLT_OK)
            snprintf(why, sizeof why, "%s", dlt_errmsg());
        if (st != DLT_OK || st2 != DLT_OK) {
            /* nothing of the captured work ran: run it plainly (a real error
             * shows again there and is returned) */
            be->graph_free(be->ctx, gr);
            dlt_log(DLT_LOG_WARN, "CUDA graph capture failed, running without graphs: %s", why);
            dlt_clearerr();
            p->graph_failed = 1;
            return queue_steps(p, o, seed, marks, out_step);
        }
        p->graph = gr;
        p->graph_training = o->training;
        p->graph_marks = marks;
    }
    if ((st = be->graph_launch(be->ctx, p->graph)) != DLT_OK)
        return st;
    if (marks) /* the capture holds the outputs mark */
        p->outs_pending = MARKED;
    return DLT_OK;
}

/* Profiling waits after every step (so the times are the device's) and keeps
 * the downloads at the end, out of the steps' times. */
dlt_status dlt_exec_run(dlt_plan *p, const dlt_exec_opts *o, uint64_t seed)
{
    dlt_backend *be = p->be;
    void *cx = be->ctx;
    dlt_status st;
    int marks = o->async && overlap(be);
    int out_step = o->profile ? p->nsteps - 1 : p->out_step;
    int use_graph = o->graph && !o->profile && !o->after_node && !p->graph_failed && dlt_plan_graphable(p, NULL, 0);
    /* the outputs and the error flags of a pending run are not overwritten
     * unseen: wait for it (and report its error) first */
    if (p->run_pending && (st = dlt_plan_wait(p)) != DLT_OK)
        return st;
    p->run_pending = p->outs_pending = QUEUED;
    /* the run's RNG key where device kernels read it (outside any graph) */
    p->run_host[0] = seed, p->run_host[1] = (uint64_t)o->step;
    if ((st = be->upload(cx, p->run_dev, p->run_host, 2 * sizeof(uint64_t))) != DLT_OK)
        return st;
    if ((st = take_inputs(p)) != DLT_OK)
        return st;
    if (o->profile)
        (void)be->elapsed(cx);
    st = use_graph ? graph_run(p, o, seed, marks, out_step) : queue_steps(p, o, seed, marks, out_step);
    if (st != DLT_OK)
        return st;
    if (marks) {
        if ((st = be->record(cx, DLT_EV_DONE)) != DLT_OK)
            return st;
        p->run_pending = MARKED;
        return DLT_OK;
    }
    /* synchronous: as before, the run returns with its outputs on the host and
     * its errors checked */
    return dlt_plan_wait(p);
}
