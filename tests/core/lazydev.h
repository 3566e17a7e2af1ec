/* A test device whose streams run late, to catch missing orderings and waits
 * in the core without a GPU. It wraps a stand-in-like backend (its memory and
 * its CPU kernels) and queues every copy, memset, add, scale, clamp and kernel
 * instead of running it, on a compute and a transfer queue:
 *   - the compute queue runs only when the host waits for it (sync, sumsq,
 *     wait_host of a compute event, elapsed);
 *   - the transfer queue (prefetch) runs each copy as soon as the compute
 *     mark it waits for is passed ("eager"), or only when something waits for
 *     it: join_prefetch reached on the compute queue, wait_host of
 *     DLT_EV_PREFETCHED ("lazy").
 * Copies from pinned memory (alloc_host) read their source when they run, as
 * a GPU's do; copies from other host memory read it at the call, as CUDA's
 * cudaMemcpyAsync from pageable memory does. A core that reads outputs before
 * waiting, overwrites a buffer still to be read, or takes a prefetch before
 * it is done then computes with stale or foreign data. */
#ifndef DLT_TEST_LAZYDEV_H
#define DLT_TEST_LAZYDEV_H

#include <stddef.h>

#include "dlt_backend.h"

enum { LAZYDEV_EAGER_TRANSFER = 1, LAZYDEV_NO_OVERLAP = 2 };
/* `flags`: LAZYDEV_EAGER_TRANSFER (else lazy); LAZYDEV_NO_OVERLAP leaves
 * record/wait_host/prefetch/join_prefetch NULL (the core's fallback). */
dlt_backend *lazydev_create(dlt_backend *base, int flags);
/* Runs what is left, then frees the device (not the blocks it handed out). */
void lazydev_destroy(dlt_backend *b);
/* Operations queued and not yet run (both queues). */
size_t lazydev_queued(const dlt_backend *b);
/* Blocks released while work was still queued (each is a core bug: the work
 * would have touched freed memory; the queue is run first). */
int lazydev_early_releases(const dlt_backend *b);

#endif
