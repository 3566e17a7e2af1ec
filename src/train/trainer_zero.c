/* ZeRO-1 on the trainer's side: which flat ranges of the optimizer state a
 * rank holds (its shard of every reducer bucket), the whole state gathered to
 * the writing rank for a checkpoint and a loaded state cut back into shards,
 * and the optimizer memory per rank that the start-up line and --dry-run
 * report. The shards are the reducer's: dlt_comm_shard of each bucket in
 * 16-float blocks (src/comm/reducer.c), rank 0's the first and largest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "trainer.h"

#define ZERO_ALIGN 16 /* the reducer's shard alignment, in floats */

/* Rank `rank`'s shard of bucket b: flat elements [*lo, *hi), possibly empty. */
static void shard_of(const dlt_reducer *red, int world, int rank, int b, size_t *lo, size_t *hi)
{
    size_t blo, bhi, slo, shi;
    dlt_reducer_bucket(red, b, &blo, &bhi, NULL);
    dlt_comm_shard(bhi - blo, world, rank, ZERO_ALIGN, &slo, &shi);
    *lo = blo + slo, *hi = blo + shi;
}

dlt_status dlt_zero_ranges(const dlt_reducer *red, int world, int rank, dlt_optim_range **out, int *n)
{
    int nb = dlt_reducer_num_buckets(red);
    *n = 0;
    *out = calloc((size_t)(nb > 0 ? nb : 1), sizeof **out);
    if (!*out)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int b = 0; b < nb; b++)
        shard_of(red, world, rank, b, &(*out)[b].lo, &(*out)[b].hi);
    *n = nb;
    return DLT_OK;
}

size_t dlt_zero_state_bytes(const dlt_reducer *red, int world, int rank, int nslots)
{
    size_t n = 0;
    for (int b = 0; b < dlt_reducer_num_buckets(red); b++) {
        size_t lo, hi;
        shard_of(red, world, rank, b, &lo, &hi);
        n += hi - lo;
    }
    return (size_t)nslots * n * sizeof(float);
}

void dlt_optim_memory_line(char *buf, size_t len, size_t per_rank, size_t unsharded, int zero, int world)
{
    double mib = 1024.0 * 1024.0;
    if (zero)
        snprintf(buf, len, "optimizer state %.2f MiB (%zu bytes) per rank (ZeRO-1 over %d rank%s; %.2f MiB, "
                           "%zu bytes unsharded)",
                 (double)per_rank / mib, per_rank, world, world > 1 ? "s" : "", (double)unsharded / mib, unsharded);
    else
        snprintf(buf, len, "optimizer state %.2f MiB (%zu bytes) per rank", (double)per_rank / mib, per_rank);
}

dlt_status dlt_trainer_zero_gather(dlt_trainer *r, float *const *full)
{
    return dlt_zero_gather(r, r->red, r->opt, full);
}

dlt_status dlt_zero_gather(dlt_trainer *r, const dlt_reducer *red, dlt_optim *opt, float *const *full)
{
    int nslots = dlt_optim_num_slots(opt), nb = dlt_reducer_num_buckets(red);
    size_t most = 0, lo, hi;
    for (int b = 0; b < nb; b++) {
        shard_of(red, r->world, 0, b, &lo, &hi);
        most = hi - lo > most ? hi - lo : most;
    }
    /* the other ranks' shards arrive where the collectives run: device memory
     * for a device model (NCCL, or the stand-in's memory over MPI) */
    size_t bytes = (most ? most : 1) * sizeof(float);
    void *scratch = NULL;
    dlt_status st = r->be->alloc(r->be->ctx, bytes, &scratch);
    size_t mine = 0; /* this rank's shards, one after the other (the optimizer's compact state) */
    for (int b = 0; b < nb && st == DLT_OK; b++)
        for (int k = 0; k < r->world && st == DLT_OK; k++) {
            shard_of(red, r->world, k, b, &lo, &hi);
            size_t n = hi - lo;
            for (int s = 0; s < nslots && n && st == DLT_OK; s++) {
                float *src = k == r->rank ? dlt_optim_slot_dev(opt, s) + mine : scratch;
                if ((st = dlt_comm_bcast(r->comm, src, n, DLT_COMM_F32, k, NULL)) != DLT_OK || r->rank != 0)
                    continue;
                float *dst = full[s] + lo;
                if (k == 0) /* the host mirror, downloaded before */
                    memcpy(dst, dlt_optim_slot(opt, s) + mine, n * sizeof(float));
                else if ((st = r->be->download(r->be->ctx, dst, scratch, n * sizeof(float))) == DLT_OK)
                    st = r->be->sync(r->be->ctx);
            }
            if (k == r->rank)
                mine += n;
        }
    r->be->release(r->be->ctx, scratch);
    return st;
}

void dlt_trainer_zero_scatter(dlt_trainer *r, float *const *full)
{
    for (int k = 0; k < dlt_optim_num_owned(r->opt); k++) {
        size_t lo, hi, off;
        dlt_optim_owned(r->opt, k, &lo, &hi, &off);
        for (int s = 0; s < dlt_optim_num_slots(r->opt); s++)
            memcpy(dlt_optim_slot(r->opt, s) + off, full[s] + lo, (hi - lo) * sizeof(float));
    }
}

dlt_status dlt_trainer_full_state(dlt_trainer *r, float ***full)
{
    int nslots = dlt_optim_num_slots(r->opt);
    size_t total = dlt_optim_total(r->opt);
    *full = calloc((size_t)nslots + 1, sizeof **full);
    for (int s = 0; s < nslots && *full; s++)
        if (!((*full)[s] = calloc(total ? total : 1, sizeof(float)))) {
            dlt_trainer_free_full_state(r, *full);
            *full = NULL;
        }
    return *full ? DLT_OK
                 : dlt_seterr(DLT_ERR_NOMEM, "checkpoint: out of memory for the whole optimizer state (%d x %zu floats)",
                              nslots, total);
}

void dlt_trainer_free_full_state(dlt_trainer *r, float **full)
{
    for (int s = 0; full && s < dlt_optim_num_slots(r->opt); s++)
        free(full[s]);
    free(full);
}
