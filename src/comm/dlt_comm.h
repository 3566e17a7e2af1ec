/* Process world (MPI ranks, node-local ranks), collectives over flat buffers,
 * the data-parallel gradient reducer over caller-given flat ranges of one
 * gradient buffer (bucketed, overlapped with backward through a readiness
 * signal, optionally ZeRO-1 sharded), replica checks over flat buffers and
 * metrics reduction. Comm knows buffers, ranges, element types and streams
 * only: whoever owns a graph (src/dist) maps it onto these.
 *
 * Never hang: every collective is waited on by a polling loop with a timeout.
 * When it expires, or when another rank reports trouble, the ranks still alive
 * exchange small reports, the lowest of them logs which collective (sequence
 * number, op, size, bucket, step) was stuck and which ranks never reached a
 * collective wait, and the job is stopped with MPI_Abort (non-zero exit). The
 * reports cost nothing until a wait times out: the normal path sends no extra
 * message, it only probes for a report every few polling iterations. */
#ifndef DLT_COMM_H
#define DLT_COMM_H

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- world */
typedef struct {
    int rank, size;             /* global */
    int local_rank, local_size; /* on this node (MPI_COMM_TYPE_SHARED) */
    int initialized_mpi;        /* 1 when dlt_world_init called MPI_Init itself */
    char host[256];
} dlt_world;

/* Initialise MPI (thread level FUNNELED) unless already initialised, and fill w.
 * Fails (DLT_ERR_COMM) on the singleton trap, see dlt_world_check_launch. Sets
 * the log's rank prefix when there are several ranks. */
dlt_status dlt_world_init(int *argc, char ***argv, dlt_world *w);
/* Finalise MPI when dlt_world_init initialised it. */
void dlt_world_finalize(dlt_world *w);
/* Abort every rank with `code` (used when a rank fails, so no rank hangs). */
void dlt_world_abort(int code);

/* The singleton trap: the launcher started N > 1 tasks (SLURM_STEP_NUM_TASKS,
 * SLURM_NTASKS, SLURM_NPROCS, OMPI_COMM_WORLD_SIZE or PMI_SIZE > 1) but MPI
 * reports `mpi_size` == 1, i.e. each task came up as its own one-rank world
 * (srun without --mpi=pmix, a PMI mismatch): N independent runs would follow.
 * Returns DLT_ERR_COMM with an explanation; DLT_ALLOW_SINGLETON=1 disables it. */
dlt_status dlt_world_check_launch(int mpi_size);

/* CUDA device for this rank: local_rank % device_count, or -1 (CPU) when
 * device_count <= 0. The caller counts the devices (dlt_gpu_device_count,
 * before any other CUDA call): comm does not call into the GPU module. */
int dlt_world_device(const dlt_world *w, int device_count);
/* CPU threads per rank: online cores / ranks on this node, at least 1. */
int dlt_world_default_threads(const dlt_world *w);
/* Collective: gathers host names and devices; rank 0 logs one line per rank
 * ("rank 3 -> node02 -> cuda:1" or "cpu, 8 threads"). */
dlt_status dlt_world_log_table(const dlt_world *w, int device, int threads);

/* Self-check: every rank contributes known values to a sum all-reduce and
 * compares the result with the closed form. Returns DLT_ERR_COMM on mismatch. */
dlt_status dlt_world_selftest(const dlt_world *w, size_t n, double *max_err);

/* MPI library version string (valid before MPI_Init). */
void dlt_mpi_version(char *buf, size_t len);

/* ---------------------------------------------------------------- communicator */
typedef enum { DLT_COMM_MPI = 0, DLT_COMM_NCCL } dlt_comm_backend;
/* BF16: 2-byte elements (dlt_bf16.h). Reductions on bf16 take SUM only: MPI
 * adds each pair in f32 and rounds the result to bf16 (as NCCL does per
 * step, with ncclBfloat16); other ops are refused. */
typedef enum { DLT_COMM_F32 = 0, DLT_COMM_F64, DLT_COMM_BF16 } dlt_comm_type;
typedef enum { DLT_COMM_SUM = 0, DLT_COMM_AVG, DLT_COMM_MAX, DLT_COMM_MIN } dlt_comm_op;

typedef struct {
    dlt_comm_backend backend; /* NCCL: buffers are device pointers (CUDA builds only) */
    int device;               /* NCCL: the CUDA device (dlt_world_device) */
    double timeout_s;         /* every wait; 0 = 600 */
    /* Before each collective all-gather a fingerprint (sequence number, op,
     * type, count, root, bucket, step) and stop at the first mismatch, naming
     * both sides. Costs one small all-gather per collective. */
    int debug_collectives;
    /* All-reduces (SUM, AVG) of host buffers of this many bytes or more run
     * as a ring over point-to-point messages with the gradient reducer's
     * division fused in (src/comm/ring.c), because MPI_Iallreduce in place is
     * a reduce plus a broadcast in Open MPI; smaller ones, and every other
     * collective, are MPI's. 0 = 32 KiB; < 0 = never (everything MPI's, the
     * reducer dividing in a pass of its own: for measurements). */
    long ring_min_bytes;
} dlt_comm_config;

typedef struct dlt_comm dlt_comm;
/* A pending non-blocking collective; zero-initialised = none. */
typedef struct {
    int id;
} dlt_comm_req;

/* Duplicates MPI_COMM_WORLD (collective). cfg may be NULL (MPI, 600 s). */
dlt_status dlt_comm_create(const dlt_world *w, const dlt_comm_config *cfg, dlt_comm **out);
/* Splits c into disjoint groups (collective over c): the ranks passing the
 * same color (>= 0) form one communicator, ranked by key, then by rank in c.
 * It has c's backend (NCCL: its own NCCL communicator over the group, on c's
 * device), timeout and settings, and its own sequence of collectives; free it
 * before c. A hang inside a group is reported by the group's ranks and stops
 * the whole job, as on the world. (NAS: one group per child network.) */
dlt_status dlt_comm_split(dlt_comm *c, int color, int key, dlt_comm **out);
void dlt_comm_free(dlt_comm *c);
int dlt_comm_rank(const dlt_comm *c);
int dlt_comm_size(const dlt_comm *c);
dlt_comm_backend dlt_comm_get_backend(const dlt_comm *c);
/* The training step, quoted by timeout and mismatch reports. */
void dlt_comm_set_step(dlt_comm *c, int64_t step);
void dlt_comm_set_timeout(dlt_comm *c, double timeout_s);
/* NCCL: the compute stream (cudaStream_t) collectives are ordered after (by an
 * event) and that waits for them; NULL = the legacy default stream. */
void dlt_comm_set_stream(dlt_comm *c, void *stream);

/* Collectives. With req == NULL the call blocks (with the timeout); otherwise
 * it starts the operation and fills *req for dlt_comm_wait/dlt_comm_test.
 * Buffers must stay valid and untouched until then. Every rank must call the
 * same collectives in the same order (debug_collectives checks this). */
dlt_status dlt_comm_allreduce(dlt_comm *c, void *buf, size_t count, dlt_comm_type t, dlt_comm_op op,
                              dlt_comm_req *req);
dlt_status dlt_comm_bcast(dlt_comm *c, void *buf, size_t count, dlt_comm_type t, int root,
                          dlt_comm_req *req);
/* recv holds size * count elements, rank r's block at r * count; send == NULL
 * means in place (this rank's block is already in recv). */
dlt_status dlt_comm_allgather(dlt_comm *c, const void *send, void *recv, size_t count,
                              dlt_comm_type t, dlt_comm_req *req);
/* send holds size * count elements (block r goes to rank r, reduced over the
 * ranks); recv gets this rank's count elements. Equal blocks, as NCCL needs:
 * pad with dlt_comm_shard. */
dlt_status dlt_comm_reduce_scatter(dlt_comm *c, const void *send, void *recv, size_t count,
                                   dlt_comm_type t, dlt_comm_op op, dlt_comm_req *req);
dlt_status dlt_comm_barrier(dlt_comm *c, dlt_comm_req *req);
/* Wait (polling, with the timeout) and release the request; no-op when none. */
dlt_status dlt_comm_wait(dlt_comm *c, dlt_comm_req *req);
/* 1 when complete (the request is then released), 0 when pending. */
int dlt_comm_test(dlt_comm *c, dlt_comm_req *req);
/* Drive MPI progress of every pending request (cheap; called between ops). */
void dlt_comm_progress(dlt_comm *c);
/* Number of collectives started so far (the sequence number of the next). */
int64_t dlt_comm_seq(const dlt_comm *c);

/* Equal blocks for `total` elements over `size` ranks: per = ceil(total/size)
 * rounded up to `align` elements (0 or 1 = none); rank r owns
 * [min(r*per, total), min((r+1)*per, total)), possibly empty. Returns per. */
size_t dlt_comm_shard(size_t total, int size, int rank, size_t align, size_t *lo, size_t *hi);

/* A failed rank: logs "rank R failed: msg" (from status and dlt_errmsg()),
 * tells the other ranks, and aborts the job with a non-zero code. */
void dlt_comm_fail(dlt_comm *c, dlt_status st) __attribute__((noreturn));

/* ---------------------------------------------------------------- replicas, metrics */
/* Collective, before anything else is exchanged: every rank describes what
 * it runs as lines "key<TAB>value" (the resolved job, parameter names and
 * shapes, bucket sizes, step count). One all-gather of a 64-bit hash of the
 * text proves they agree; only on a mismatch is rank 0's text broadcast and
 * the first differing rank names the first differing line. Every rank then
 * returns DLT_ERR_INVALID with the same message, e.g. "rank 1 differs from
 * rank 0: data.batch_size 16 vs 8 (...)", and nobody hangs. */
dlt_status dlt_comm_agree(dlt_comm *c, const char *text);
/* Rank 0's flat host buffers to every rank over MPI (params: np floats, the
 * trainable parameters; buffers: nb floats, the non-trainable ones, may be
 * empty), then dlt_replica_check_flat. src/dist does it for a graph. */
dlt_status dlt_replica_broadcast_flat(dlt_comm *c, float *params, size_t np, float *buffers,
                                      size_t nb);
/* Checksums (double sum and 64-bit FNV-1a of the bytes of the parameters and
 * buffers) gathered from every rank; DLT_ERR_COMM naming the ranks that
 * differ from rank 0. Call at start, after a resume, or every K steps. */
dlt_status dlt_replica_check_flat(dlt_comm *c, const float *params, size_t np,
                                  const float *buffers, size_t nb);
void dlt_replica_checksum(const float *x, size_t n, double *sum, uint64_t *hash);
/* Sum vals[0..n) over all ranks in place (loss sums, correct counts, sample
 * counts), in host memory over MPI whatever the backend. */
dlt_status dlt_comm_reduce_metrics(dlt_comm *c, double *vals, int n);

/* ---------------------------------------------------------------- gradient reducer */
/* How the local gradients relate to the samples (the averaging contract):
 *   SUM  (default): each rank's loss is the SUM of its per-sample losses; the
 *        reducer sums the gradients over ranks and divides by the global
 *        sample count, giving the gradient of the mean loss over all samples,
 *        exact for uneven batches and any number of micro-steps.
 *   MEAN: each rank's gradient is that of the MEAN loss over its samples of
 *        this (possibly accumulated) step; the reducer weights it by the
 *        rank's sample count before summing, then divides by the global count. */
typedef enum { DLT_GRAD_SUM = 0, DLT_GRAD_MEAN } dlt_grad_contract;

typedef struct {
    double bucket_mb;       /* 0 = 25 MiB */
    double first_bucket_mb; /* 0 = 1 MiB (small, so the first reduce starts early) */
    dlt_grad_contract contract;
    int zero; /* 1: ZeRO-1, optimizer updates and state sharded over the ranks (MPI or NCCL) */
    /* 1: all-reduce (or reduce-scatter, ZeRO-1) the gradients in bf16, half
     * the bytes of f32, like PyTorch DDP's bf16_compress_hook: per bucket the
     * f32 gradients (pre-scaled as in f32) are rounded to a bf16 shadow of the
     * gradient buffer, summed across ranks in bf16, and converted back into the
     * f32 gradients before the division by the global count. Each value loses
     * up to 2^-8 of its magnitude in the rounding and each of the P-1 additions
     * as much again. Device gradients convert on the device
     * (dlt_reducer_devops). 0 = f32, unchanged. */
    int bf16;
} dlt_reducer_config;

typedef struct dlt_reducer dlt_reducer;

/* A flat element range [lo, hi) of the gradient buffer. */
typedef struct {
    size_t lo, hi;
} dlt_comm_range;

/* Where the gradients live when that is not host memory (a device graph's
 * buffers, reduced with NCCL): the caller (src/dist, from the graph's
 * backend) fills these with kernels that work on that memory. ctx is passed
 * to each. scale: x[i] *= a. to_bf16 / from_bf16 (needed only with
 * cfg.bf16): round-to-nearest-even conversions that match dlt_bf16.h bit for
 * bit. alloc / release: memory of the same kind for the bf16 shadow. All are
 * queued in the order the caller's stream runs them. */
typedef struct {
    void *ctx;
    dlt_status (*scale)(void *ctx, float *x, double a, size_t n);
    /* dst = src, `bytes` bytes that do not overlap (ZeRO-1 moves this rank's
     * block to its place after MPI's in-place reduce-scatter) */
    dlt_status (*copy)(void *ctx, void *dst, const void *src, size_t bytes);
    dlt_status (*to_bf16)(void *ctx, uint16_t *dst, const float *src, size_t n);
    dlt_status (*from_bf16)(void *ctx, float *dst, const uint16_t *src, size_t n);
    dlt_status (*alloc)(void *ctx, size_t bytes, void **ptr);
    void (*release)(void *ctx, void *ptr);
} dlt_reducer_devops;

/* A reducer over ranges[0..n) of the flat f32 gradient buffer `grads`
 * (host memory; device memory when dev != NULL). The ranges are given in
 * the order backward produces them (range 0 first) and lie in increasing,
 * non-overlapping order in the buffer, so the first bucket is reduced first.
 * Consecutive ranges that touch (ranges[i].hi == ranges[i+1].lo) are
 * grouped into buckets of up to cfg's sizes, reduced in place; a gap starts
 * a new bucket, and elements outside every range are never read or written
 * (a reducer over a subset of the parameters, e.g. one GAN phase). The
 * reducer keeps grads and copies ranges; dev is copied, may be NULL (host).
 * cfg may be NULL (defaults). c may be NULL without zero and bf16 (buckets
 * only, as --dry-run uses them; nothing can be reduced then). */
dlt_status dlt_reducer_create(dlt_comm *c, float *grads, int n, const dlt_comm_range *ranges,
                              const dlt_reducer_config *cfg, const dlt_reducer_devops *dev,
                              dlt_reducer **out);
void dlt_reducer_free(dlt_reducer *r);
/* Before a (micro-)step's backward: local_samples this rank feeds; final =
 * 0 on non-final micro-steps of gradient accumulation (no reduction: counts
 * are only summed locally). A final begin starts the sample-count all-reduce
 * and arms the readiness signal. */
dlt_status dlt_reducer_begin(dlt_reducer *r, double local_samples, int final);
/* Readiness signal, between a final begin and finish: range i's gradients
 * are complete. Buckets start strictly in index order as soon as all their
 * ranges are ready and the bucket before has started, which is the same on
 * every rank whatever the caller's plan: MPI requires that order for
 * non-blocking collectives. Marking a range twice, or outside a step, does
 * nothing. Errors are kept and returned by finish (every rank must still
 * start the same collectives). */
void dlt_reducer_ready(dlt_reducer *r, int i);
/* Between begin and finish (e.g. after each plan node): drives MPI progress
 * of the started buckets and, with timing on, observes their completion. */
void dlt_reducer_poll(dlt_reducer *r);
/* Buckets started so far in this step (index order: buckets [0, k)). */
int dlt_reducer_num_started(const dlt_reducer *r);
/* After backward: starts the buckets not started yet, waits for all and
 * divides by the global sample count. Zero: only this rank's shard of each
 * bucket holds reduced values afterwards. No-op after a non-final begin. */
dlt_status dlt_reducer_finish(dlt_reducer *r);
/* finish also multiplies the gradients by f (1 / loss scale; default 1).
 * Set it before the final micro-step's begin: over MPI the multiplication
 * is fused into the all-reduce of each bucket, which may run during backward. */
void dlt_reducer_set_unscale(dlt_reducer *r, double f);
/* Sample count of the last reduced step (over all ranks and micro-steps). */
double dlt_reducer_global_samples(const dlt_reducer *r);
/* ZeRO-1 (cfg.zero): bucket b's elements this rank updates, [*lo, *hi)
 * absolute in the buffer, possibly empty; without ZeRO the whole bucket. */
void dlt_reducer_shard(const dlt_reducer *r, int b, size_t *lo, size_t *hi);
/* ZeRO-1: after each rank updated its shards of buf (a buffer with the
 * gradients' layout, e.g. the parameters, host memory), every rank gets all
 * of them (one all-gather per bucket). DLT_ERR_INVALID without ZeRO. */
dlt_status dlt_reducer_allgather_shards(dlt_reducer *r, float *buf);

/* Introspection (tests, benchmarks, the summary). */
int dlt_reducer_num_buckets(const dlt_reducer *r);
/* Bucket b: flat element range [lo, hi), its number of ranges. */
void dlt_reducer_bucket(const dlt_reducer *r, int b, size_t *lo, size_t *hi, int *nparams);
/* Timing for traces (off by default, no cost then): each bucket's all-reduce
 * start and observed completion, CLOCK_MONOTONIC seconds, in the last final
 * step. Completion is observed in dlt_reducer_poll (which then tests every
 * started bucket) or in dlt_reducer_finish. Returns 0 when unknown. */
void dlt_reducer_set_timing(dlt_reducer *r, int on);
int dlt_reducer_bucket_times(const dlt_reducer *r, int b, double *start, double *done);

#ifdef __cplusplus
}
#endif
#endif
