/* The run's timeline (log.trace): every rank records a few steps after a
 * warm-up into runs/<name>/trace-rank<R>.json. Spans are buffered in memory
 * and written at the start of the next step, so writing is never timed.
 *
 * Threads of the timeline: 0 compute (plan nodes, data wait, gradient sync
 * wait, optimizer), 1 steps (one span per optimizer step), 100 + b the
 * all-reduce of gradient bucket b (buckets overlap each other and backward,
 * so each gets its own row). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"

enum { TID_COMPUTE = 0, TID_STEPS = 1, TID_BUCKET0 = 100 };

struct dlt_report_trace {
    dlt_trace *t;
    dlt_reducer *red;
    char path[DLT_PATH_MAX + 32];
    int64_t warmup, steps, first, recorded, step;
    int on;
    double step_t0;
    int nb;
    char (*bucket_name)[64];
    /* the plan being timed */
    const dlt_plan *plan;
    unsigned char *bwd; /* per plan step: a backward node */
    int nsteps;
    double node_t0, plan_end;
    void (*chain)(dlt_plan *, int, void *);
    void *chain_user;
};

/* mkdir -p; a failure shows when the file is created */
static void make_dirs(const char *path)
{
    char buf[DLT_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0777);
            *p = '/';
        }
    mkdir(buf, 0777);
}

void dlt_report_trace_open(dlt_report *r, const dlt_train_config *c, int rank, dlt_reducer *red)
{
    if (!c->trace)
        return;
    dlt_report_trace *rt = calloc(1, sizeof *rt);
    if (!rt) {
        dlt_log(DLT_LOG_WARN, "trace: out of memory; no trace written");
        return;
    }
    make_dirs(c->run_dir); /* ranks other than 0 may get here first */
    snprintf(rt->path, sizeof rt->path, "%s/trace-rank%d.json", c->run_dir, rank);
    char pname[32];
    snprintf(pname, sizeof pname, "rank %d", rank);
    if (dlt_trace_open(rt->path, rank, pname, &rt->t) != DLT_OK) {
        dlt_log(DLT_LOG_WARN, "trace: %s; no trace written", dlt_errmsg());
        free(rt);
        return;
    }
    rt->red = red;
    rt->warmup = c->trace_warmup;
    rt->steps = c->trace_steps > 0 ? c->trace_steps : 20;
    rt->first = -1;
    rt->nb = red ? dlt_reducer_num_buckets(red) : 0;
    rt->bucket_name = calloc((size_t)(rt->nb > 0 ? rt->nb : 1), sizeof *rt->bucket_name);
    dlt_trace_thread_name(rt->t, TID_COMPUTE, "compute");
    dlt_trace_thread_name(rt->t, TID_STEPS, "steps");
    for (int b = 0; b < rt->nb && rt->bucket_name; b++) {
        size_t lo, hi;
        int np;
        char tname[48];
        dlt_reducer_bucket(red, b, &lo, &hi, &np);
        snprintf(rt->bucket_name[b], sizeof rt->bucket_name[b],
                 "all-reduce bucket %d (%.2f MiB, %d tensor%s)", b,
                 (double)(hi - lo) * sizeof(float) / 1048576.0, np, np == 1 ? "" : "s");
        snprintf(tname, sizeof tname, "all-reduce bucket %d", b);
        dlt_trace_thread_name(rt->t, TID_BUCKET0 + b, tname);
    }
    r->trace = rt;
}

static void finish_file(dlt_report_trace *rt)
{
    if (rt->red)
        dlt_reducer_set_timing(rt->red, 0);
    rt->on = 0;
    if (!rt->t)
        return;
    int64_t n = dlt_trace_count(rt->t);
    if (dlt_trace_close(rt->t) != DLT_OK)
        dlt_log(DLT_LOG_WARN, "trace: %s", dlt_errmsg());
    else if (rt->recorded == 0)
        dlt_log(
            DLT_LOG_WARN,
            "trace: no step recorded in %s (the run ended within log.trace_warmup = %lld steps)",
            rt->path, (long long)rt->warmup);
    else
        dlt_log(DLT_LOG_DEBUG, "trace: %lld spans of %lld steps in %s", (long long)n,
                (long long)rt->recorded, rt->path);
    rt->t = NULL;
}

void dlt_report_trace_step(dlt_report *r, int64_t step)
{
    dlt_report_trace *rt = r->trace;
    if (!rt || !rt->t)
        return;
    if (rt->on) {
        char name[40];
        snprintf(name, sizeof name, "step %lld", (long long)rt->step);
        dlt_trace_span_copy(rt->t, name, "step", TID_STEPS, rt->step_t0, dlt_trace_clock(), NULL,
                            rt->step);
        rt->recorded++;
    }
    if (rt->first < 0)
        rt->first = step;
    if (dlt_trace_flush(rt->t) != DLT_OK) {
        dlt_log(DLT_LOG_WARN, "trace: %s; trace stopped", dlt_errmsg());
        rt->recorded = rt->steps;
    }
    if (rt->recorded >= rt->steps) {
        finish_file(rt);
        return;
    }
    rt->on = step - rt->first >= rt->warmup;
    rt->step = step + 1; /* as the progress lines count */
    rt->plan_end = 0;
    if (rt->red)
        dlt_reducer_set_timing(rt->red, rt->on);
    rt->step_t0 = dlt_trace_clock();
}

double dlt_report_trace_now(const dlt_report *r)
{
    return r->trace && r->trace->on ? dlt_trace_clock() : 0;
}

void dlt_report_trace_span(dlt_report *r, const char *name, const char *cat, double since)
{
    dlt_report_trace *rt = r->trace;
    if (rt && rt->on && since > 0)
        dlt_trace_span(rt->t, name, cat, TID_COMPUTE, since, dlt_trace_clock(), NULL, rt->step);
}

/* Backward nodes live in the "grad" scope (autodiff.c); gradient copies and
 * sums into the flat buffer are backward too. */
static int is_backward(const char *name, const char *op)
{
    return !strncmp(name, "grad.", 5) || strstr(name, ".grad.") || !strcmp(op, "grad_copy") ||
           !strcmp(op, "grad_add");
}

static void on_node(dlt_plan *p, int s, void *user)
{
    dlt_report_trace *rt = user;
    double t = dlt_trace_clock();
    if (rt->on && s < rt->nsteps)
        dlt_trace_span(rt->t, dlt_plan_step_name(p, s), rt->bwd[s] ? "backward" : "forward",
                       TID_COMPUTE, rt->node_t0, t, dlt_plan_step_op(p, s), rt->step);
    rt->plan_end = t;
    if (rt->chain)
        rt->chain(p, s, rt->chain_user);
    /* the reducer's work between nodes (starting and testing all-reduces) is
     * left as a gap before the next node */
    rt->node_t0 = dlt_trace_clock();
}

void dlt_report_trace_plan(dlt_report *r, dlt_plan *p, dlt_exec_opts *o)
{
    dlt_report_trace *rt = r->trace;
    if (!rt || !rt->on)
        return;
    if (rt->plan != p) {
        int n = dlt_plan_num_steps(p);
        unsigned char *bwd = realloc(rt->bwd, (size_t)(n > 0 ? n : 1));
        if (!bwd)
            return;
        for (int s = 0; s < n; s++)
            bwd[s] = (unsigned char)is_backward(dlt_plan_step_name(p, s), dlt_plan_step_op(p, s));
        rt->bwd = bwd;
        rt->nsteps = n;
        rt->plan = p;
    }
    if (o->after_node != on_node) {
        rt->chain = o->after_node;
        rt->chain_user = o->user;
    }
    o->after_node = on_node;
    o->user = rt;
    rt->node_t0 = dlt_trace_clock();
}

void dlt_report_trace_buckets(dlt_report *r)
{
    dlt_report_trace *rt = r->trace;
    if (!rt || !rt->on)
        return;
    double now = dlt_trace_clock();
    if (rt->plan_end > 0)
        dlt_trace_span(rt->t, "gradient sync wait", "allreduce_wait", TID_COMPUTE, rt->plan_end,
                       now, NULL, rt->step);
    for (int b = 0; b < rt->nb && rt->bucket_name; b++) {
        double t0, t1;
        if (dlt_reducer_bucket_times(rt->red, b, &t0, &t1))
            dlt_trace_span(rt->t, rt->bucket_name[b], "allreduce", TID_BUCKET0 + b, t0, t1, NULL,
                           rt->step);
    }
}

void dlt_report_trace_close(dlt_report *r)
{
    dlt_report_trace *rt = r->trace;
    if (!rt)
        return;
    if (rt->on && rt->t) {
        char name[40];
        snprintf(name, sizeof name, "step %lld", (long long)rt->step);
        dlt_trace_span_copy(rt->t, name, "step", TID_STEPS, rt->step_t0, dlt_trace_clock(), NULL,
                            rt->step);
        rt->recorded++;
    }
    finish_file(rt);
    free(rt->bwd);
    free(rt->bucket_name);
    free(rt);
    r->trace = NULL;
}
