/* Never hang: the polling wait with a timeout, the reports the live ranks
 * exchange when a wait expires, the failed-rank abort path and the debug
 * fingerprints.
 *
 * Who arrived? A rank whose wait expires (or that fails) sends a small report
 * (its rank, the collective it waits in, why) to every other rank on a
 * separate communicator, then collects reports for a grace period. Ranks
 * still polling in some wait notice a report by MPI_Iprobe and answer with
 * their own. A rank that sends none is stopped, dead, or busy outside any
 * collective: "missing". The lowest reporting rank prints the summary; then
 * everyone calls MPI_Abort. In the normal path this costs no message at all,
 * only an MPI_Iprobe every 64 polling iterations of a wait. */
#include "comm_impl.h"

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Why a rank sends its report: its wait timed out; it saw another's report
 * while waiting (alert); its GPU backend failed; it failed itself
 * (dlt_comm_fail); or it found its collective complete but reports queued:
 * it was stopped or slow while the others gave up on it (late). */
enum { REASON_TIMEOUT = 0, REASON_ALERT, REASON_BACKEND, REASON_FAILED, REASON_LATE, REP_LEN = 10 };

double comm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void nap(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

static const char *op_name(int op)
{
    static const char *const names[OP_NOPS] = {
        "?",       "all-reduce",    "broadcast",         "all-gather",          "reduce-scatter",
        "barrier", "all-gather(v)", "reduce-scatter(v)", "fingerprint exchange"};
    return op >= 0 && op < OP_NOPS ? names[op] : "?";
}

void comm_describe(const comm_desc *d, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s #%lld", op_name(d->op), (long long)d->seq);
    if (d->op != OP_BARRIER && d->op != OP_FINGERPRINT && n > 0 && (size_t)n < len) {
        double mib = (double)d->count * (double)comm_type_size(d->type) / (1024.0 * 1024.0);
        n += snprintf(buf + n, len - (size_t)n, " (%s x %lld, %.3g MiB",
                      comm_type_name(d->type), (long long)d->count, mib);
        if (d->op == OP_BCAST && (size_t)n < len)
            n += snprintf(buf + n, len - (size_t)n, ", root %d", d->root);
        if (d->tag >= 0 && (size_t)n < len)
            n += snprintf(buf + n, len - (size_t)n, ", bucket %d", d->tag);
        if ((size_t)n < len)
            n += snprintf(buf + n, len - (size_t)n, ")");
    }
    if (n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " at step %lld", (long long)d->step);
}

int comm_peer_alert(dlt_comm *c)
{
    int flag = 0;
    MPI_Iprobe(MPI_ANY_SOURCE, COMM_TAG_REPORT, c->watch, &flag, MPI_STATUS_IGNORE);
    return flag;
}

/* Polls with MPI_Test (which also drives progress), yielding the core, and
 * naps once the wait is clearly long, so a stuck job does not burn CPUs. */
static void poll_until(dlt_comm *c, int (*done)(dlt_comm *, void *), void *arg, const comm_desc *d)
{
    double t0 = comm_now(), t = t0;
    for (long it = 1;; it++) {
        int s = done(c, arg);
        if (s > 0) {
            /* A rank that was stopped (SIGSTOP, a debugger, swapped out) and is
             * continued while the others abort may find its collective
             * complete: the others had contributed before they gave up. It
             * must not carry on as if all were well (log a step, save a
             * checkpoint) while they report it missing. */
            if (comm_peer_alert(c))
                comm_trip(c, d, REASON_LATE);
            return;
        }
        if (s < 0)
            comm_trip(c, d, REASON_BACKEND);
        if ((it & 63) == 0) {
            if (comm_peer_alert(c))
                comm_trip(c, d, REASON_ALERT);
            t = comm_now();
            if (t - t0 > c->timeout)
                comm_trip(c, d, REASON_TIMEOUT);
        }
        if (t - t0 > 1.0)
            nap(1e-3);
        else
            sched_yield();
    }
}

static int mpi_done(dlt_comm *c, void *arg)
{
    int flag = 0;
    (void)c;
    MPI_Test((MPI_Request *)arg, &flag, MPI_STATUS_IGNORE);
    return flag;
}

void comm_wait_mpi(dlt_comm *c, MPI_Request *mreq, const comm_desc *d)
{
    poll_until(c, mpi_done, mreq, d);
}

typedef struct {
    int (*fn)(dlt_comm *, comm_req *);
    comm_req *r;
} fn_arg;

static int fn_done(dlt_comm *c, void *arg)
{
    fn_arg *a = arg;
    return a->fn(c, a->r);
}

void comm_wait_fn(dlt_comm *c, int (*done)(dlt_comm *, comm_req *), comm_req *r)
{
    fn_arg a = {done, r};
    poll_until(c, fn_done, &a, &r->d);
}

static void report_from(const int64_t *rep, comm_desc *d)
{
    *d = (comm_desc){.seq = rep[2],
                     .step = rep[3],
                     .op = (int)rep[4],
                     .type = (int)rep[5],
                     .root = (int)rep[6],
                     .tag = (int)rep[7],
                     .count = rep[8]};
}

static void append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    va_list ap;
    if (n + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

static void summarise(dlt_comm *c, const comm_desc *d, const int64_t *reps, const char *have,
                      int reason)
{
    char msg[1800], what[200], other[200];
    comm_describe(d, what, sizeof what);
    msg[0] = '\0';
    /* the headline uses the most telling report: a timeout anywhere (the
     * first rank to time out alerts the others before their own expire) */
    int timed_out = -1;
    for (int r = 0; r < c->size && timed_out < 0; r++)
        if (have[r] && reps[r * REP_LEN + 1] == REASON_TIMEOUT)
            timed_out = r;
    (void)reason;
    if (timed_out >= 0)
        append(msg, sizeof msg,
               "collective timed out: %s did not complete within %g s (timeout_s; first seen on "
               "rank %d)",
               what, c->timeout, timed_out);
    else
        append(msg, sizeof msg,
               "stopping: another rank reported trouble while this rank waited in %s", what);
    append(msg, sizeof msg, "; missing (no report: stopped, dead or busy outside collectives):");
    int nmiss = 0;
    for (int r = 0; r < c->size; r++)
        if (!have[r])
            append(msg, sizeof msg, " %d", r), nmiss++;
    if (!nmiss)
        append(msg, sizeof msg, " none");
    append(msg, sizeof msg, "; waiting in it:");
    for (int r = 0; r < c->size; r++)
        if (have[r] && reps[r * REP_LEN + 2] == d->seq && reps[r * REP_LEN + 4] == d->op &&
            reps[r * REP_LEN + 1] != REASON_FAILED && reps[r * REP_LEN + 1] != REASON_LATE)
            append(msg, sizeof msg, " %d", r);
    for (int r = 0; r < c->size; r++) {
        if (!have[r])
            continue;
        const int64_t *e = reps + r * REP_LEN;
        comm_desc od;
        report_from(e, &od);
        if (e[1] == REASON_FAILED)
            append(msg, sizeof msg, "; rank %d failed (its own message says why)", r);
        else if (e[1] == REASON_LATE)
            append(msg, sizeof msg, "; rank %d was not responding and answered late", r);
        else if (e[2] != d->seq || e[4] != d->op) {
            comm_describe(&od, other, sizeof other);
            append(msg, sizeof msg, "; rank %d waits in %s instead", r, other);
        }
    }
    dlt_log(DLT_LOG_ERROR, "%s", msg);
}

/* Who prints the summary: the lowest rank that started the stop (timed out
 * or lost its backend) among the reports this rank holds, else the lowest
 * reporting rank that neither failed (it printed its own message) nor came
 * late. Every rank receives the starters' reports, so all name the same
 * printer, also a rank that was stopped and wakes up to find reports queued
 * from ranks that gave up on it. */
static int report_printer(const dlt_comm *c, const int64_t *reps, const char *have)
{
    for (int r = 0; r < c->size; r++)
        if (have[r] && (reps[r * REP_LEN + 1] == REASON_TIMEOUT || reps[r * REP_LEN + 1] == REASON_BACKEND))
            return r;
    for (int r = 0; r < c->size; r++)
        if (have[r] && reps[r * REP_LEN + 1] != REASON_FAILED && reps[r * REP_LEN + 1] != REASON_LATE)
            return r;
    return c->rank;
}

void comm_trip(dlt_comm *c, const comm_desc *d, int reason)
{
    int64_t *reps = calloc((size_t)c->size * REP_LEN, sizeof *reps);
    char *have = calloc((size_t)c->size, 1);
    MPI_Request *sreq = calloc((size_t)c->size, sizeof *sreq);
    if (!reps || !have || !sreq) {
        dlt_log(DLT_LOG_ERROR, "watchdog: out of memory; aborting");
        MPI_Abort(MPI_COMM_WORLD, DLT_EXIT_WATCHDOG);
    }
    if (reason == REASON_BACKEND)
        comm_nccl_abort(c);
    int64_t *mine = reps + c->rank * REP_LEN;
    mine[0] = c->rank, mine[1] = reason, mine[2] = d->seq, mine[3] = d->step, mine[4] = d->op;
    mine[5] = d->type, mine[6] = d->root, mine[7] = d->tag, mine[8] = d->count;
    have[c->rank] = 1;
    /* small eager messages: they complete even when the receiver is stopped */
    for (int r = 0; r < c->size; r++)
        if (r != c->rank)
            MPI_Isend(mine, REP_LEN, MPI_INT64_T, r, COMM_TAG_REPORT, c->watch, &sreq[r]);
    double grace = c->timeout / 2;
    grace = grace < 1 ? 1 : grace > 10 ? 10 : grace;
    double end = comm_now() + grace;
    int nhave = 1;
    while (comm_now() < end && nhave < c->size) {
        int flag = 0;
        MPI_Status stt;
        MPI_Iprobe(MPI_ANY_SOURCE, COMM_TAG_REPORT, c->watch, &flag, &stt);
        if (!flag) {
            nap(1e-3);
            continue;
        }
        int64_t rep[REP_LEN];
        MPI_Recv(rep, REP_LEN, MPI_INT64_T, stt.MPI_SOURCE, COMM_TAG_REPORT, c->watch,
                 MPI_STATUS_IGNORE);
        int src = stt.MPI_SOURCE;
        if (!have[src])
            nhave++;
        have[src] = 1;
        memcpy(reps + src * REP_LEN, rep, sizeof rep);
    }
    int printer = report_printer(c, reps, have);
    if (c->rank == printer) {
        summarise(c, d, reps, have, reason);
    } else {
        char what[200];
        comm_describe(d, what, sizeof what);
        if (reason == REASON_LATE)
            dlt_log(DLT_LOG_ERROR,
                    "watchdog: this rank was not responding (stopped or busy) while the others waited "
                    "for it; it has now finished %s, but the job is stopping (rank %d reports the details)",
                    what, printer);
        else
            dlt_log(DLT_LOG_ERROR, "watchdog: stopping in %s (rank %d reports the details)", what,
                    printer);
        nap(1.0); /* let the printer's message out before the job is killed */
    }
    MPI_Abort(MPI_COMM_WORLD, DLT_EXIT_WATCHDOG); /* never 3: a hang must not be requeued */
    abort(); /* not reached */
}

void dlt_comm_fail(dlt_comm *c, dlt_status st)
{
    dlt_log(DLT_LOG_ERROR, "rank %d failed: %s: %s", c ? c->rank : 0, dlt_status_name(st),
            dlt_errmsg());
    if (c) {
        int64_t rep[REP_LEN] = {c->rank, REASON_FAILED, c->seq, c->step, OP_NONE, 0, 0, -1, 0, 0};
        for (int r = 0; r < c->size; r++)
            if (r != c->rank) {
                MPI_Request q;
                MPI_Isend(rep, REP_LEN, MPI_INT64_T, r, COMM_TAG_REPORT, c->watch, &q);
                MPI_Request_free(&q);
            }
    }
    MPI_Abort(MPI_COMM_WORLD, dlt_exit_for(st));
    abort(); /* not reached */
}

void comm_fingerprint(dlt_comm *c, const comm_desc *d)
{
    int64_t mine[8] = {d->seq, d->op, d->type, d->count, d->root, d->tag, d->step, 0};
    MPI_Request q;
    comm_desc fd = *d;
    fd.op = OP_FINGERPRINT;
    MPI_Iallgather(mine, 8, MPI_INT64_T, c->fp, 8, MPI_INT64_T, c->dbg, &q);
    comm_wait_mpi(c, &q, &fd);
    int bad = -1;
    for (int r = 1; r < c->size && bad < 0; r++)
        if (memcmp(c->fp + 8 * r, c->fp, 7 * sizeof(int64_t)) != 0)
            bad = r;
    if (bad < 0)
        return;
    if (c->rank == 0) {
        char a[200], b[200];
        comm_desc d0, d1;
        const int64_t *f0 = c->fp, *f1 = c->fp + 8 * bad;
        d0 = (comm_desc){f0[0], f0[6], (int)f0[1], (int)f0[2], (int)f0[4], (int)f0[5], f0[3]};
        d1 = (comm_desc){f1[0], f1[6], (int)f1[1], (int)f1[2], (int)f1[4], (int)f1[5], f1[3]};
        comm_describe(&d0, a, sizeof a);
        comm_describe(&d1, b, sizeof b);
        dlt_log(DLT_LOG_ERROR,
                "collective mismatch (debug_collectives): rank 0 calls %s; rank %d calls %s", a,
                bad, b);
    } else {
        dlt_log(DLT_LOG_ERROR,
                "collective mismatch (debug_collectives): rank 0 reports the details");
        nap(1.0);
    }
    MPI_Abort(MPI_COMM_WORLD, DLT_EXIT_MISMATCH);
    abort();
}
