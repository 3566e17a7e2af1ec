/* Loader throughput: samples/s of the prefetching loader with augmentation
 * (random crop with padding 2 + horizontal flip) and normalisation.
 *
 *   dlprep fashion-mnist --out data/fmnist
 *   bench/loader_bench ['data/fmnist/train-*.h5'] [--batch B] [--threads T]
 *                      [--epochs E] [--stream]
 * --stream forces hyperslab reads (as for shards above the in-memory threshold). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlt_data.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run(dlt_loader_config *c, int epochs, const char *label)
{
    dlt_loader *l;
    double t0 = now();
    if (dlt_loader_open(c, &l)) {
        fprintf(stderr, "loader_bench: %s\n", dlt_errmsg());
        return 1;
    }
    double t1 = now();
    int64_t steps = dlt_loader_steps_per_epoch(l) * epochs, samples = 0;
    double check = 0;
    for (int64_t s = 0; s < steps; s++) {
        dlt_batch b;
        if (dlt_loader_next(l, &b)) {
            fprintf(stderr, "loader_bench: %s\n", dlt_errmsg());
            dlt_loader_close(l);
            return 1;
        }
        samples += b.valid;
        check += b.images[0]; /* touch the data */
    }
    double t2 = now();
    printf("%-28s threads %2d batch %4d: open %.3f s, %lld samples in %.3f s = %.0f samples/s "
           "(checksum %.3f)\n", label, c->threads, c->batch_size, t1 - t0, (long long)samples,
           t2 - t1, (double)samples / (t2 - t1), check);
    dlt_loader_close(l);
    return 0;
}

int main(int argc, char **argv)
{
    dlt_loader_config c;
    dlt_loader_config_default(&c);
    c.paths = "data/fmnist/train-*.h5";
    c.batch_size = 128;
    c.crop_pad = 2;
    c.flip = 1;
    c.mean[0] = 0.2860f, c.std[0] = 0.3530f; /* Fashion-MNIST train statistics */
    c.prefetch = 4;
    int epochs = 1, stream = 0, threads = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            c.batch_size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--stream"))
            stream = 1;
        else if (argv[i][0] != '-')
            c.paths = argv[i];
        else {
            fprintf(stderr, "usage: loader_bench [GLOB] [--batch B] [--threads T] "
                            "[--epochs E] [--stream]\n");
            return 2;
        }
    }
    if (stream)
        c.inmem_threshold = 0, c.verify = 0;
    const int tlist[] = {0, 1, 2, 4};
    for (int i = 0; i < 4; i++) {
        if (threads >= 0 && tlist[i] != threads)
            continue;
        c.threads = tlist[i];
        if (run(&c, epochs, stream ? "hyperslab, crop+flip" : "in memory, crop+flip"))
            return 1;
    }
    return 0;
}
