/* Per-thread error messages and status names; the check that refuses
 * non-regular input files before an open could block on them. */
#include "dlt_base.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define DLT_ERRMSG_MAX 1024
static _Thread_local char errbuf[DLT_ERRMSG_MAX];

dlt_status dlt_seterr(dlt_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return s;
}

dlt_status dlt_adderr(dlt_status s, const char *fmt, ...)
{
    char prefix[DLT_ERRMSG_MAX], old[DLT_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errbuf, sizeof old);
    /* truncation is fine: the message is for humans */
    size_t n = strlen(prefix);
    if (n > sizeof errbuf - 3)
        n = sizeof errbuf - 3;
    memcpy(errbuf, prefix, n);
    memcpy(errbuf + n, ": ", 2);
    n += 2;
    size_t m = strlen(old);
    if (m > sizeof errbuf - 1 - n)
        m = sizeof errbuf - 1 - n;
    memcpy(errbuf + n, old, m);
    errbuf[n + m] = '\0';
    return s;
}

const char *dlt_errmsg(void) { return errbuf[0] ? errbuf : "no error"; }

void dlt_clearerr(void) { errbuf[0] = '\0'; }

const char *dlt_status_name(dlt_status s)
{
    static const char *const names[] = {
        "ok", "invalid input", "shape error", "dtype error", "not found",
        "I/O error", "out of memory", "cycle", "communication error",
        "timeout", "non-finite value", "unsupported", "internal error"};
    if ((unsigned)s < sizeof names / sizeof names[0])
        return names[s];
    return "unknown status";
}

dlt_status dlt_check_regular_file(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || S_ISREG(sb.st_mode))
        return DLT_OK;
    const char *what = S_ISFIFO(sb.st_mode)   ? "a FIFO (named pipe)"
                       : S_ISDIR(sb.st_mode)  ? "a directory"
                       : S_ISCHR(sb.st_mode)  ? "a character device"
                       : S_ISBLK(sb.st_mode)  ? "a block device"
                       : S_ISSOCK(sb.st_mode) ? "a socket"
                                              : "not a file";
    return dlt_seterr(DLT_ERR_INVALID, "is %s, not a regular file", what);
}
