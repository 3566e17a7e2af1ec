/* One run per run directory: an exclusive flock(2) on <run_dir>/.lock, held
 * by rank 0 for the whole run. The kernel drops it when the process ends in
 * any way (an error, a signal, SIGKILL, an MPI abort), so a lock file left by
 * a dead run is stale by construction; the file itself stays (unlinking it
 * would let a third run lock a fresh inode while the second holds the old). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dlt_ckpt.h"

dlt_status dlt_run_lock_acquire(const char *dir, dlt_run_lock *lk)
{
    char path[4200], holder[256] = "", host[128] = "?", since[64];
    lk->fd = -1;
    snprintf(path, sizeof path, "%s/.lock", dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) /* dltrain makes the parents */
        return dlt_seterr(DLT_ERR_IO, "%s: cannot create the run directory: %s", dir,
                          strerror(errno));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot open the run lock: %s", path, strerror(errno));
    ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(fd);
        if (err == EWOULDBLOCK)
            return dlt_seterr(
                DLT_ERR_INVALID,
                "%s: another run is using this run directory (%s); one run per "
                "run directory: wait for it, or set another model.name or checkpoint.dir",
                dir, holder[0] ? holder : "holder unknown");
        return dlt_seterr(DLT_ERR_IO, "%s: cannot lock: %s", path, strerror(err));
    }
    if (holder[0])
        dlt_log(DLT_LOG_INFO, "%s: taking over a stale lock (%s, no longer running)", path, holder);
    time_t now = time(NULL);
    struct tm tmv;
    gethostname(host, sizeof host - 1);
    strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tmv));
    char line[400];
    int len = snprintf(line, sizeof line, "pid %ld on %s since %s\n", (long)getpid(), host, since);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len)
        dlt_log(DLT_LOG_WARN, "%s: cannot record the lock holder: %s", path, strerror(errno));
    lk->fd = fd;
    return DLT_OK;
}

void dlt_run_lock_release(dlt_run_lock *lk)
{
    if (lk->fd < 0)
        return;
    /* an empty file says nobody holds it */
    if (ftruncate(lk->fd, 0) != 0)
        dlt_log(DLT_LOG_DEBUG, "run lock: cannot clear the holder");
    flock(lk->fd, LOCK_UN);
    close(lk->fd);
    lk->fd = -1;
}
