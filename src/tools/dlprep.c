/* dlprep: converts datasets into dltrain's HDF5 shards (docs/formats.md).
 * Thin: parses arguments and calls the converters in src/data/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_data.h"
#include "dlt_text.h"
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
            "  two-domain --a DIR_A --b DIR_B [--size HxW] [--channels 1|3]\n"
            "                                 two unpaired image domains (CycleGAN's trainA,\n"
            "                                 trainB): the PNG/JPEG files in each folder\n"
            "                                 -> image-pairs shards\n"
            "  fashion-mnist-pair [--src DIR] [--a CLASS --b CLASS]\n"
            "                                 two Fashion-MNIST classes as domains A and B\n"
            "                                 (names or ids; default sneaker <-> ankle-boot)\n"
            "  synthetic --num N --size HxWxC --classes K [--seed S]\n"
            "                                 learnable random images (tests, benchmarks)\n"
            "  text INPUT... [--target gpt|bert] [--tokenizer bpe|wordpiece]\n"
            "                                 plain-text files or folders (.txt .rst .md .html,\n"
            "                                 optionally .gz) -> GPT token streams (text-tokens)\n"
            "                                 or BERT pretraining instances (bert-pretraining)\n"
            "  detection-synth [--src DIR] [--n N] [--canvas S] [--seed S]\n"
            "                                 1-6 Fashion-MNIST items per SxS canvas (default\n"
            "                                 1000 images, 128): detection shards with boxes and\n"
            "                                 masks, train-* and val-*, + instances_*.json (COCO)\n"
            "  coco --images DIR --annotations FILE.json [--max-size S] [--max-boxes M]\n"
            "                                 COCO instances (polygons, RLE) -> detection shards\n"
            "                                 (default S 1333, M 100; --prefix names the split)\n"
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
            "Text options (dlprep text):\n"
            "  --target gpt|bert     token streams, or BERT instances (default gpt)\n"
            "  --tokenizer T         bpe (default for gpt) or wordpiece (default for bert)\n"
            "  --vocab-size N        vocabulary to learn (default 50257 bpe, 30522 wordpiece)\n"
            "  --vocab-from SHARD    reuse the tokenizer stored in a text shard\n"
            "  --docs file|blank     one document per file, or blank-line separated\n"
            "  --ext LIST            extensions taken from folders (default txt,rst,md,text,html,htm)\n"
            "  --cased               WordPiece: keep case and accents\n"
            "  --seq-len L           BERT sequence length (default 128)\n"
            "  --max-predictions P   BERT masked positions per sequence (default 20)\n"
            "  --masked-lm-prob F    default 0.15;  --short-seq-prob F  default 0.1\n"
            "  --dupe-factor N       BERT rounds with fresh pairs and masks (default 5)\n"
            "  --threads N           tokenizer threads (default 4)\n"
            "  (--shards, --shard-size: samples are documents (gpt) or instances (bert);\n"
            "   --val-fraction holds out whole documents; --seed drives all choices)\n"
            "\n"
            "Files are named OUT/PREFIX-00000-of-00004.h5.\n"
            "  --version      print the version of dlprep and of every enabled part\n"
            "  --help         print this message\n");
}

typedef struct {
    dlt_convert_opts o;
    const char *pos[64];
    int npos;
    const char *src, *resize, *size, *dom_a, *dom_b;
    const char *images, *annotations; /* coco */
    long long det_n, canvas, max_size, max_boxes; /* detection-synth, coco */
    int channels, classes, quiet;
    long long num;
    const char *target, *tokenizer, *docs;
    dlt_text_prep_opts t;
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
    dlt_text_prep_opts_default(&a->t);
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
        if (strcmp(k, "--cased") == 0) {
            a->t.lowercase = 0;
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
        else if (!strcmp(k, "--a"))
            a->dom_a = val;
        else if (!strcmp(k, "--images"))
            a->images = val;
        else if (!strcmp(k, "--annotations"))
            a->annotations = val;
        else if (!strcmp(k, "--n") || !strcmp(k, "--canvas") || !strcmp(k, "--max-size") ||
                 !strcmp(k, "--max-boxes")) {
            if (parse_ll(val, &v, k))
                return -1;
            if (v < 1 || v > 100000000)
                return fprintf(stderr, "dlprep: %s %lld is out of range\n", k, v), -1;
            *(!strcmp(k, "--n")        ? &a->det_n
              : !strcmp(k, "--canvas") ? &a->canvas
              : !strcmp(k, "--max-size") ? &a->max_size
                                         : &a->max_boxes) = v;
        }
        else if (!strcmp(k, "--b"))
            a->dom_b = val;
        else if (!strcmp(k, "--target"))
            a->target = val;
        else if (!strcmp(k, "--tokenizer"))
            a->tokenizer = val;
        else if (!strcmp(k, "--docs"))
            a->docs = val;
        else if (!strcmp(k, "--ext"))
            a->t.extensions = val;
        else if (!strcmp(k, "--vocab-from"))
            a->t.vocab_from = val;
        else if (!strcmp(k, "--masked-lm-prob") || !strcmp(k, "--short-seq-prob")) {
            char *end;
            double f = strtod(val, &end);
            if (*end || end == val || !(f >= 0 && f <= 1))
                return fprintf(stderr, "dlprep: %s expects a number in [0, 1]\n", k), -1;
            *(k[2] == 'm' ? &a->t.bert.masked_lm_prob : &a->t.bert.short_seq_prob) = f;
        } else if (!strcmp(k, "--vocab-size") || !strcmp(k, "--seq-len") ||
                   !strcmp(k, "--max-predictions") || !strcmp(k, "--dupe-factor") ||
                   !strcmp(k, "--threads")) {
            if (parse_ll(val, &v, k))
                return -1;
            if (v < 1 || v > 100000000)
                return fprintf(stderr, "dlprep: %s %lld is out of range\n", k, v), -1;
            if (!strcmp(k, "--vocab-size"))
                a->t.vocab_size = (int)v;
            else if (!strcmp(k, "--seq-len"))
                a->t.bert.seq_len = (int)v;
            else if (!strcmp(k, "--max-predictions"))
                a->t.bert.max_predictions = (int)v;
            else if (!strcmp(k, "--dupe-factor"))
                a->t.dupe_factor = (int)v;
            else
                a->t.threads = (int)v;
        }
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

static int text_cmd(args *a)
{
    dlt_text_prep_opts *t = &a->t;
    t->target = a->target && !strcmp(a->target, "bert") ? DLT_TEXT_BERT : DLT_TEXT_GPT;
    if (a->target && strcmp(a->target, "bert") && strcmp(a->target, "gpt"))
        return fprintf(stderr, "dlprep text: --target expects gpt or bert\n"), 2;
    t->tokenizer = t->target == DLT_TEXT_BERT ? DLT_TOK_WORDPIECE : DLT_TOK_BPE;
    if (a->tokenizer && dlt_tokenizer_type_parse(a->tokenizer, &t->tokenizer))
        return fprintf(stderr, "dlprep text: %s\n", dlt_errmsg()), 2;
    if (a->docs && strcmp(a->docs, "file") && strcmp(a->docs, "blank"))
        return fprintf(stderr, "dlprep text: --docs expects file or blank\n"), 2;
    t->docs = a->docs && !strcmp(a->docs, "blank") ? DLT_DOCS_BLANK_LINE : DLT_DOCS_FILE;
    dlt_text_prep_stats s;
    dlt_status st = dlt_text_prep(a->pos, a->npos, t, &a->o, &s);
    if (st) {
        fprintf(stderr, "dlprep text: %s\n", dlt_errmsg());
        return 1;
    }
    if (!a->quiet) {
        double tps = s.encode_s > 0 ? (double)s.tokens / s.encode_s : 0;
        fprintf(stderr, "%lld files, %.1f MB, %lld documents, %lld sentences\n"
                "tokenizer: %s, vocabulary %d (%d merges), learnt in %.1f s\n"
                "%lld tokens in %.1f s (%.0f tokens/s, %.1f MB/s)\n",
                (long long)s.files, (double)s.bytes / 1e6, (long long)s.documents,
                (long long)s.sentences, dlt_tokenizer_type_name(t->tokenizer), s.vocab_size,
                s.num_merges, s.train_s, (long long)s.tokens, s.encode_s, tps,
                s.encode_s > 0 ? (double)s.bytes / 1e6 / s.encode_s : 0);
        fprintf(stderr, "%s: train %lld (%lld documents), val %lld (%lld documents), "
                "written in %.1f s\n", t->target == DLT_TEXT_BERT ? "instances" : "documents",
                (long long)s.train_samples, (long long)s.train_documents,
                (long long)s.val_samples, (long long)s.val_documents, s.write_s);
    }
    return 0;
}

static int run(const char *cmd, args *a)
{
    dlt_status st;
    int h = 0, w = 0, c = 0;
    if (!strcmp(cmd, "info") || !strcmp(cmd, "verify"))
        return need_pos(a, -1, cmd) ? 2 : shards_cmd(a, cmd[0] == 'v');
    if (!strcmp(cmd, "text"))
        return need_pos(a, -1, cmd) ? 2 : text_cmd(a);
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
    } else if (!strcmp(cmd, "two-domain")) {
        int end = 0;
        if (need_pos(a, 0, cmd))
            return 2;
        if (!a->dom_a || !a->dom_b) {
            fprintf(stderr, "dlprep two-domain: --a DIR_A and --b DIR_B are both required\n");
            return 2;
        }
        if (a->size && (sscanf(a->size, "%dx%d%n", &h, &w, &end) != 2 || a->size[end] ||
                        h <= 0 || w <= 0)) {
            fprintf(stderr, "dlprep two-domain: --size expects HxW, e.g. 64x64\n");
            return 2;
        }
        st = dlt_convert_two_domain(a->dom_a, a->dom_b, h, w, a->channels, &a->o);
    } else if (!strcmp(cmd, "fashion-mnist-pair")) {
        if (need_pos(a, 0, cmd))
            return 2;
        st = dlt_convert_fashion_mnist_pair(
            a->src ? a->src : "/usr/share/datasets/fashion-mnist", a->dom_a, a->dom_b, &a->o);
    } else if (!strcmp(cmd, "detection-synth")) {
        if (need_pos(a, 0, cmd))
            return 2;
        st = dlt_convert_detection_synth(a->src ? a->src : "/usr/share/datasets/fashion-mnist",
                                         a->det_n ? a->det_n : 1000,
                                         a->canvas ? (int)a->canvas : 128, &a->o);
    } else if (!strcmp(cmd, "coco")) {
        if (need_pos(a, 0, cmd))
            return 2;
        if (!a->images || !a->annotations) {
            fprintf(stderr, "dlprep coco: --images DIR and --annotations FILE.json are both "
                            "required\n");
            return 2;
        }
        st = dlt_convert_coco(a->images, a->annotations, (int)a->max_size, (int)a->max_boxes,
                              &a->o);
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
