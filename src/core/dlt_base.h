/* dltrain base types: status codes, error messages, logging, dtypes.
 * Every module depends on this header only (plus its own). */
#ifndef DLT_BASE_H
#define DLT_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Functions shared by CPU code and CUDA kernels (per-element math, the RNG). */
#ifdef __CUDACC__
#define DLT_HD __host__ __device__
#else
#define DLT_HD
#endif

/* Library functions return a dlt_status and leave a one-line message that
 * dlt_errmsg() returns (per thread, like dlerror). They never exit(). */
typedef enum {
    DLT_OK = 0,
    DLT_ERR_INVALID,     /* bad argument or user input (job, shape, name) */
    DLT_ERR_SHAPE,       /* shape rule failed */
    DLT_ERR_DTYPE,       /* dtype mismatch */
    DLT_ERR_NOTFOUND,    /* unknown name, missing file or dataset */
    DLT_ERR_IO,          /* read/write failure, corrupt file */
    DLT_ERR_NOMEM,       /* allocation failure */
    DLT_ERR_CYCLE,       /* graph is not a DAG */
    DLT_ERR_COMM,        /* collective failed, peer died */
    DLT_ERR_TIMEOUT,     /* watchdog expired */
    DLT_ERR_NONFINITE,   /* NaN/Inf detected */
    DLT_ERR_UNSUPPORTED, /* feature not available in this build/backend */
    DLT_ERR_INTERNAL     /* bug: an invariant did not hold */
} dlt_status;

/* Set the calling thread's error message (printf-style) and return s. */
dlt_status dlt_seterr(dlt_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix the current message with "prefix: " (adds context while unwinding). */
dlt_status dlt_adderr(dlt_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *dlt_errmsg(void);
void dlt_clearerr(void);
/* Input files (jobs, shards, checkpoints) must be regular files: opening a
 * FIFO blocks until a writer comes, a directory or a device is no input.
 * DLT_ERR_INVALID "is a FIFO (named pipe), not a regular file" (no path: the
 * caller names it) for those; DLT_OK otherwise, also when path does not exist
 * (the caller's open reports that). */
dlt_status dlt_check_regular_file(const char *path);
const char *dlt_status_name(dlt_status s);

/* Exit statuses of dltrain (and of every rank the watchdog aborts), one table
 * for the CLI, comm's MPI_Abort and the Slurm scripts (README "Exit status").
 * Only DLT_EXIT_REQUEUE asks a batch script to requeue. */
typedef enum {
    DLT_EXIT_OK = 0,
    DLT_EXIT_FAILED = 1,   /* the run failed (I/O, memory, non-finite loss, ...) */
    DLT_EXIT_USAGE = 2,    /* bad arguments, job file, data or checkpoint */
    DLT_EXIT_REQUEUE = 3,  /* SIGUSR1 (Slurm's warning signal): checkpoint saved, requeue me */
    DLT_EXIT_STOPPED = 4,  /* SIGTERM (scancel, kill): checkpoint saved, do not requeue */
    DLT_EXIT_WATCHDOG = 5, /* a rank hung, stopped or died: the watchdog aborted the job */
    DLT_EXIT_MISMATCH = 6  /* ranks called different collectives (debug_collectives) */
} dlt_exit_status;

/* The exit status for an error: bad input (INVALID, NOTFOUND) is DLT_EXIT_USAGE,
 * everything else DLT_EXIT_FAILED. */
static inline int dlt_exit_for(dlt_status s)
{
    return s == DLT_OK ? DLT_EXIT_OK
           : s == DLT_ERR_INVALID || s == DLT_ERR_NOTFOUND ? DLT_EXIT_USAGE
                                                           : DLT_EXIT_FAILED;
}

/* Logging: the only way library code prints. Messages go to stderr (or the
 * sink set with dlt_log_set_sink) prefixed by "[rank R] " when the rank is set. */
typedef enum { DLT_LOG_ERROR = 0, DLT_LOG_WARN, DLT_LOG_INFO, DLT_LOG_DEBUG } dlt_log_level;
void dlt_log(dlt_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dlt_log_set_level(dlt_log_level lvl);
dlt_log_level dlt_log_get_level(void);
void dlt_log_set_rank(int rank); /* -1: no prefix */
/* A progress line: redrawn in place when stderr is a terminal (final = 1 ends
 * it with a newline), otherwise logged as one INFO line. */
void dlt_log_status(const char *line, int final);
typedef void (*dlt_log_sink)(dlt_log_level lvl, const char *line, void *user);
void dlt_log_set_sink(dlt_log_sink sink, void *user); /* NULL restores stderr */

/* Element types. The CPU computes in f32, i32 and u8; f16/bf16 are storage
 * types for the GPU backend. */
typedef enum { DLT_F32 = 0, DLT_F16, DLT_BF16, DLT_I32, DLT_I64, DLT_U8, DLT_NDTYPES } dlt_dtype;
size_t dlt_dtype_size(dlt_dtype t);
const char *dlt_dtype_name(dlt_dtype t);
/* Returns DLT_OK and sets *t when name is one of "f32","f16","bf16","i32","i64","u8". */
dlt_status dlt_dtype_parse(const char *name, dlt_dtype *t);

/* CRC-32 (IEEE 802.3, as zlib and Python's zlib.crc32) of a byte range, chained
 * (start with crc = 0). Shards and checkpoints carry it (docs/formats.md). */
uint32_t dlt_crc32(uint32_t crc, const void *p, size_t n);

/* Checks the DLT_* variables that choose CPU kernels and memory (DLT_GEMM,
 * DLT_CONV, DLT_CONV_LAYOUT, DLT_CPU_ISA, DLT_HUGEPAGES): DLT_OK when each is unset, empty or one of
 * its values; otherwise DLT_ERR_INVALID naming the variable and its values. */
dlt_status dlt_env_check(void);

/* A host buffer of `bytes`, zeroed when `zero`, 64-byte aligned; from 4 MiB
 * on, 2 MiB aligned and on transparent huge pages unless DLT_HUGEPAGES=off
 * (hostmem.c says why); a zeroed one from 4 MiB is its own mapping, zero
 * until touched. NULL when out of memory. Released with dlt_host_free and the
 * same bytes and zero (free() for one not zeroed). */
void *dlt_host_alloc(size_t bytes, int zero);
void dlt_host_free(void *p, size_t bytes, int zero);
/* 0 when DLT_HUGEPAGES=off, else 1 */
int dlt_hugepages_on(void);
/* One line for --version: the page policy and the kernel's THP mode. */
void dlt_hugepages_info(char *buf, size_t len);

/* Library version string, e.g. "0.1.0". */
const char *dlt_version(void);

#ifdef __cplusplus
}
#endif
#endif
