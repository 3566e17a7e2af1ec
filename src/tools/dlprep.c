/* dlprep: converts datasets into dltrain's HDF5 shards (docs/formats.md).
 * Thin: parses arguments and calls the converters in src/data/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_data.h"
#include "dltrain.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: dlprep [--version] [--help] COMMAND [ARGS] [OPTIONS]\n"
            "\n"
            "Converts datasets into dltrain's HDF5 shards (docs/formats.md).\n"
            "\n"
            "Commands:\n"
            "  fashion-mnist [--src DIR]      Debian's dataset-fashion-mnist IDX files\n"
            "                                 (default DIR /usr/share/datasets/fashion-mnist)\n"
            "  idx IMAGES LABELS              a generic IDX pair (.gz or plain)\n"
            "  cifar DIR                      CIFAR-10 or CIFAR-100 binary version\n"
            "  image-folder DIR [--resize HxW] [--channels 1|3]\n"
            "                                 one class per subfolder, PNG and JPEG files\n"
            "  synthetic --num N --size HxWxC --classes K [--seed S]\n"
            "                                 learnable random images (tests, benchmarks)\n"
            "  info SHARD...                  summary of shards, checksum verified\n"
            "  verify SHARD...                verify checksums only (exit status 1 on failure)\n"
            "\n"
            "Output options:\n"
            "  --out DIR            output folder (default .), created if missing\n"
            "  --prefix NAME        file prefix for sources without splits (default train)\n"
            "  --split train|test   convert one split of sources that have splits\n"
            "  --shards N           shards per split\n"
            "  --shard-size N       samples per shard (default: about 128 MiB per shard)\n"
            "  --val-fraction F     move a random fraction F of train into val-* shards\n"
            "  --seed S             seed for the validation split and synthetic data\n"
            "  --deflate L          compression level 1..9 (default 4)\n"
            "  --quiet              no progress bar\n"
            "\n"
            "Files are named OUT/PREFIX-00000-of-00004.h5.\n"
            "  --version      print the version of dlprep and of every enabled part\n"
            "  --help         print this message\n");
}

typedef struct {
    dlt_convert_opts o;
    const char *pos[64];
    int npos;
    const char *src, *resize, *size;
    int channels, classes, quiet;
    long long num;
} args;

static int parse_ll(const char *s, long long *v, const char *opt)
{
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    if (errno || *end || end == s) {
        fprintf(stderr, "dlprep: %s expects an integer, got '%s'\n", opt, s);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, args *a)
{
    dlt_convert_opts_default(&a->o);
    a->o.progress = stderr;
    a->channels = 3;
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        long long v = 0;
        if (k[0] != '-' || k[1] != '-') {
            if (a->npos == 64)
                return fprintf(stderr, "dlprep: too many arguments\n"), -1;
            a->pos[a->npos++] = k;
            continue;
        }
        if (strcmp(k, "--quiet") == 0) {
            a->quiet = 1;
            continue;
        }
        if (i + 1 >= argc)
            return fprintf(stderr, "dlprep: %s needs a value\n", k), -1;
        const char *val = argv[++i];
        if (!strcmp(k, "--out"))
            a->o.out_dir = val;
        else if (!strcmp(k, "--prefix"))
            a->o.prefix = val;
        else if (!strcmp(k, "--split"))
            a->o.split = val;
        else if (!strcmp(k, "--src"))
            a->src = val;
        else if (!strcmp(k, "--resize"))
            a->resize = val;
        else if (!strcmp(k, "--size"))
            a->size = val;
        else if (!strcmp(k, "--val-fraction")) {
            char *end;
            a->o.val_fraction = strtod(val, &end);
            if (*end || end == val)
                return fprintf(stderr, "dlprep: --val-fraction expects a number\n"), -1;
        } else if (!strcmp(k, "--shards") || !strcmp(k, "--shard-size") ||
                   !strcmp(k, "--seed") || !strcmp(k, "--deflate") || !strcmp(k, "--num") ||
                   !strcmp(k, "--classes") || !strcmp(k, "--channels")) {
            if (parse_ll(val, &v, k))
                return -1;
            if (v < 0 || (strcmp(k, "--seed") && strcmp(k, "--shard-size") &&
                          strcmp(k, "--num") && v > 1000000))
                return fprintf(stderr, "dlprep: %s %lld is out of range\n", k, v), -1;
            if (!strcmp(k, "--shards"))
                a->o.num_shards = (int)v;
            else if (!strcmp(k, "--shard-size"))
                a->o.shard_size = v;
            else if (!strcmp(k, "--seed"))
                a->o.seed = (uint64_t)v;
            else if (!strcmp(k, "--deflate"))
                a->o.deflate = (int)v;
            else if (!strcmp(k, "--num"))
                a->num = v;
            else if (!strcmp(k, "--classes"))
                a->classes = (int)v;
            else
                a->channels = (int)v;
        } else
            return fprintf(stderr, "dlprep: unknown option %s (see dlprep --help)\n", k), -1;
    }
    if (a->quiet)
        a->o.progress = NULL;
    return 0;
}

static int need_pos(const args *a, int n, const char *cmd)
{
    if (a->npos == n || (n < 0 && a->npos >= -n))
        return 0;
    fprintf(stderr, "dlprep %s: wrong number of arguments (see dlprep --help)\n", cmd);
    return -1;
}

static int shards_cmd(const args *a, int verify_only)
{
    int bad = 0;
    for (int i = 0; i < a->npos; i++) {
        dlt_status st;
        if (verify_only) {
            dlt_shard *s;
            dlt_shard_open_opts o = {256ll << 20, 2};
            st = dlt_shard_open(a->pos[i], &o, &s);
            if (!st) {
                printf("%s: ok (crc32 %08x)\n", a->pos[i], dlt_shard_get_info(s)->checksum);
                dlt_shard_close(s);
            }
        } else {
            st = dlt_shard_describe(stdout, a->pos[i], 1);
        }
        if (st) {
            fprintf(stderr, "dlprep: %s\n", dlt_errmsg());
            bad = 1;
        }
    }
    return bad;
}

static int run(const char *cmd, const args *a)
{
    dlt_status st;
    int h = 0, w = 0, c = 0;
    if (!strcmp(cmd, "info") || !strcmp(cmd, "verify"))
        return need_pos(a, -1, cmd) ? 2 : shards_cmd(a, cmd[0] == 'v');
    if (!strcmp(cmd, "fashion-mnist")) {
        if (need_pos(a, 0, cmd))
            return 2;
        st = dlt_convert_fashion_mnist(a->src ? a->src : "/usr/share/datasets/fashion-mnist",
                                       &a->o);
    } else if (!strcmp(cmd, "idx")) {
        if (need_pos(a, 2, cmd))
            return 2;
        st = dlt_convert_idx(a->pos[0], a->pos[1], NULL, NULL, a->classes, &a->o);
    } else if (!strcmp(cmd, "cifar")) {
        if (need_pos(a, 1, cmd))
            return 2;
        st = dlt_convert_cifar(a->pos[0], &a->o);
    } else if (!strcmp(cmd, "image-folder")) {
        if (need_pos(a, 1, cmd))
            return 2;
        if (a->resize && (sscanf(a->resize, "%dx%d", &h, &w) != 2 || h <= 0 || w <= 0)) {
            fprintf(stderr, "dlprep: --resize expects HxW, e.g. 64x64\n");
            return 2;
        }
        st = dlt_convert_image_folder(a->pos[0], h, w, a->channels, &a->o);
    } else if (!strcmp(cmd, "synthetic")) {
        if (need_pos(a, 0, cmd))
            return 2;
        if (!a->size || sscanf(a->size, "%dx%dx%d", &h, &w, &c) != 3) {
            fprintf(stderr, "dlprep synthetic: --size HxWxC is required, e.g. 28x28x1\n");
            return 2;
        }
        st = dlt_convert_synthetic(a->num, h, w, c, a->classes, &a->o);
    } else {
        fprintf(stderr, "dlprep: unknown command '%s' (see dlprep --help)\n", cmd);
        return 2;
    }
    if (st) {
        fprintf(stderr, "dlprep %s: %s\n", cmd, dlt_errmsg());
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0) {
        dlt_print_build_info(stdout, "dlprep");
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    args a;
    memset(&a, 0, sizeof a);
    if (parse_args(argc, argv, &a))
        return 2;
    return run(argv[1], &a);
}
