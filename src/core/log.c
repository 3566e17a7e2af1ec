/* The logger: the only place library code writes text. */
#include "dlt_base.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static dlt_log_level cur_level = DLT_LOG_INFO;
static int cur_rank = -1;
static dlt_log_sink cur_sink;
static void *cur_user;

void dlt_log_set_level(dlt_log_level lvl) { cur_level = lvl; }
dlt_log_level dlt_log_get_level(void) { return cur_level; }
void dlt_log_set_rank(int rank) { cur_rank = rank; }

void dlt_log_set_sink(dlt_log_sink sink, void *user)
{
    cur_sink = sink;
    cur_user = user;
}

void dlt_log(dlt_log_level lvl, const char *fmt, ...)
{
    static const char *const tag[] = {"error: ", "warning: ", "", ""};
    char msg[2048];
    int n = 0;
    va_list ap;
    if (lvl > cur_level)
        return;
    if (cur_rank >= 0)
        n = snprintf(msg, sizeof msg, "[rank %d] ", cur_rank);
    n += snprintf(msg + n, sizeof msg - (size_t)n, "%s", tag[lvl]);
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (cur_sink)
        cur_sink(lvl, msg, cur_user);
    else
        fprintf(stderr, "%s\n", msg);
}

void dlt_log_status(const char *line, int final)
{
    if (cur_sink || !isatty(STDERR_FILENO)) {
        dlt_log(DLT_LOG_INFO, "%s", line);
        return;
    }
    if (cur_level < DLT_LOG_INFO)
        return;
    fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    fflush(stderr);
}
