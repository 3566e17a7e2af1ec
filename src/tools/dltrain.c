/* dltrain: the training command. Thin: parses arguments, loads the job and
 * calls the library. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlt_coco.h"
#include "dlt_export.h"
#include "dlt_fid.h"
#include "dlt_gan_sample.h"
#include "dlt_job.h"
#include "dlt_maskrcnn_infer.h"
#include "dlt_nas.h"
#include "dltrain.h"
#include "image_io.h"
#include "vmath.h"

enum { EXIT_RUNTIME = DLT_EXIT_FAILED, EXIT_USAGE = DLT_EXIT_USAGE };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: dltrain JOB.toml [--set KEY=VALUE ...] [--resume PATH|auto [--resume-changed]] [--dry-run]\n"
            "                        [--quiet|--verbose] [--debug-collectives]\n"
            "       dltrain --print-config JOB.toml [--set KEY=VALUE ...]\n"
            "       dltrain --print-job-reference\n"
            "       dltrain --list-ops\n"
            "       dltrain export CKPT.h5 [--format safetensors] [--out FILE] [--no-buffers]\n"
            "                        [--data GLOB] [--no-tokenizer]\n"
            "       dltrain generate CKPT.h5 --prompt TEXT|--prompt-ids IDS [--ids] [--max-new-tokens N]\n"
            "                        [--temperature T] [--top-k K] [--seed S] [--data GLOB] [--threads N]\n"
            "       dltrain predict CKPT.h5 [--data GLOB] [--out FILE] [--batch N] [--threads N] [--logits]\n"
            "       dltrain sample CKPT.h5 --out GRID.png [--n N] [--label K] [--seed S] [--data GLOB]\n"
            "       dltrain fid SET1 SET2 --classifier CKPT.h5 [--n N] [--threads N]\n"
            "       dltrain coco-eval --gt GT.json --dt RESULTS.json [--iou bbox|segm]\n"
            "       dltrain detect CKPT.h5 IMAGE.png [--out OUT.png] [--score S]\n"
            "       dltrain selftest [N]\n"
            "       dltrain --version | --help\n"
            "\n"
            "Runs the training job described by JOB.toml (see docs/jobs.md) on every MPI rank;\n"
            "model.arch picks the task: image classifiers, bert-* (BERT pre-training), gpt*\n"
            "(causal language model), gan-mlp/dcgan/cgan/wgan/wgan-gp (GANs, trained in phases),\n"
            "cyclegan (two image domains), vae:\n"
            "    dltrain jobs/resnet20_fmnist.toml                 one process\n"
            "    mpirun -np 8 dltrain jobs/resnet20_fmnist.toml    data-parallel over 8 ranks\n"
            "\n"
            "Options:\n"
            "  --set KEY=VALUE       override a job key, e.g. --set optim.lr=2e-4 (VALUE is TOML;\n"
            "                        strings may be bare); later --set win over earlier ones\n"
            "  --resume PATH|auto    continue from a checkpoint; auto: the newest complete one in\n"
            "                        <checkpoint.dir>/<model.name> (none: start from scratch; damaged\n"
            "                        ones are skipped with a warning and kept as *.damaged; all\n"
            "                        damaged: refused). A finished run resumed says so and exits 0\n"
            "                        writing nothing; an unfinished one continues with this job,\n"
            "                        listing the keys that differ from the checkpoint's\n"
            "  --resume-changed      accept a finished run's checkpoint whose job differs (refused\n"
            "                        otherwise, naming the keys: old -> new)\n"
            "  --dry-run             build the model, print the resolved job, the model summary\n"
            "                        (layers, parameters, FLOPs) and memory per rank, and exit\n"
            "  --print-config        print the resolved job as TOML and exit\n"
            "  --print-job-reference print the job file reference (docs/jobs.md) and exit\n"
            "  --quiet, --verbose    less output; or one progress line per interval on a terminal too\n"
            "  --debug-collectives   check that every rank calls the same collective (dist.debug_collectives)\n"
            "  export CKPT.h5        write the checkpoint's parameters and batch-norm buffers as\n"
            "                        safetensors (default FILE: CKPT with .safetensors for .h5);\n"
            "                        --no-buffers: parameters only; GPT and BERT checkpoints also\n"
            "                        get their tokenizer beside FILE as Hugging Face files (GPT:\n"
            "                        vocab.json, merges.txt; BERT: vocab.txt; tokenizer_config.json)\n"
            "                        from the job's data.train shards (--data GLOB: other shards;\n"
            "                        --no-tokenizer: none)\n"
            "  generate CKPT.h5      sample text from a GPT checkpoint: the prompt, then up to N new\n"
            "                        tokens (default 64; stops at end of text), temperature T\n"
            "                        (default 1; 0: greedy), the K most likely tokens (default 0:\n"
            "                        all), seed S (default 0); the tokenizer comes from the job's\n"
            "                        data.train shards (--data GLOB: other shards); --prompt-ids\n"
            "                        \"464 3797\": start from token ids; --ids: print the token ids\n"
            "                        (prompt, then the new ones) on one line instead of the text\n"
            "                        (--max-new-tokens 0 --ids: tokenize; --prompt-ids: detokenize)\n"
            "  predict CKPT.h5       run the checkpoint's model (as evaluation does) over every sample\n"
            "                        of the shards GLOB (default: the job's data.val) and write an\n"
            "                        HDF5 file FILE (default: CKPT with .predictions.h5; see\n"
            "                        docs/formats.md): classifiers: logits, pred, label per image; GPT:\n"
            "                        loss and next-token predictions per window; BERT: MLM and NSP\n"
            "                        predictions and labels; --logits: GPT/BERT per-token logits too;\n"
            "                        prints the evaluation metrics; batch N (default: the job's)\n"
            "  sample CKPT.h5        draw N images (default 64) from a GAN checkpoint's generator in\n"
            "                        evaluation mode and write their grid (8 columns) as a PNG; the\n"
            "                        run's fixed noise (seed S: the job's unless given), so without\n"
            "                        --seed it is the grid the run wrote at that step; conditional\n"
            "                        models: every image of class K (default: row r of class r mod K);\n"
            "                        a VAE checkpoint: its decoder's means of prior samples z ~ N(0, I)\n"
            "                        (the run's samples/vae-prior.png without --seed);\n"
            "                        a CycleGAN checkpoint: the first N images (default 8) of each domain\n"
            "                        of the image-pairs shards GLOB (default: the job's data.val, else\n"
            "                        data.train) translated, as GRID_a2b2a.png and GRID_b2a2b.png (rows\n"
            "                        real, translated, reconstructed)\n"
            "  fid SET1 SET2         FID-FMNIST (docs/metrics.md) between two image sets, each a shard\n"
            "                        glob (its first N images) or a GAN checkpoint (N images drawn as\n"
            "                        FID during training draws them), with the features of the\n"
            "                        classifier checkpoint CKPT (N default 10000); prints\n"
            "                        FID-FMNIST <value> (<n1> vs <n2> images)\n"
            "  coco-eval             COCO box (default) or mask AP/AR of a COCO results file against\n"
            "                        COCO instances ground truth, as pycocotools' COCOeval computes\n"
            "                        and prints them (12 lines; docs/metrics.md)\n"
            "  detect CKPT.h5 IMG    a Mask R-CNN checkpoint's detections on one image: printed, and\n"
            "                        drawn (boxes, labels, scores, masks at --score, default 0.5)\n"
            "                        into --out (default detections.png)\n"
            "  selftest [N]          all-reduce N doubles (default 1048576) across the ranks and check\n"
            "  --version             versions of dltrain, BLAS, MPI, HDF5, CUDA, cuDNN, NCCL\n"
            "  --list-ops            every op (name, family) with the backends that have a kernel for\n"
            "                        it (cpu, cuda) and whether it has a gradient rule (grad)\n"
            "\n"
            "Stopping: on SIGUSR1 or SIGTERM (to any rank; under Open MPI's mpirun send SIGUSR1\n"
            "to mpirun, which forwards it) every rank finishes the current step and a checkpoint\n"
            "is saved. SIGUSR1 is the warning signal of a batch system (Slurm: --signal=B:USR1@120,\n"
            "relayed by jobs/slurm-run.sh) and asks to be requeued; SIGTERM (scancel, kill) stops\n"
            "for good. The first signal decides; repeated signals are absorbed.\n"
            "\n"
            "One run per run directory: a second run into <checkpoint.dir>/<model.name> while one\n"
            "is running is refused (status 2) naming the holder of <run dir>/.lock.\n"
            "\n"
            "Exit status:\n"
            "  %d  done\n"
            "  %d  the run failed (the failing rank's message is printed)\n"
            "  %d  bad arguments, job file, data or checkpoint (one line naming what)\n"
            "  %d  stopped by SIGUSR1 after saving a checkpoint: requeue, --resume auto continues\n"
            "  %d  stopped by SIGTERM after saving a checkpoint: do not requeue\n"
            "  %d  the watchdog aborted: a rank hung, was stopped or died (not requeued)\n"
            "  %d  ranks called different collectives (--debug-collectives)\n",
            DLT_EXIT_OK, DLT_EXIT_FAILED, DLT_EXIT_USAGE, DLT_EXIT_REQUEUE, DLT_EXIT_STOPPED,
            DLT_EXIT_WATCHDOG, DLT_EXIT_MISMATCH);
}

static int selftest(int argc, char **argv, int n_arg)
{
    dlt_world w;
    double err = 0;
    size_t n = 1u << 20;
    if (n_arg < argc && sscanf(argv[n_arg], "%zu", &n) != 1) {
        fprintf(stderr, "dltrain selftest: N must be a positive integer (got '%s')\n", argv[n_arg]);
        return EXIT_USAGE;
    }
    if (dlt_world_init(&argc, &argv, &w) != DLT_OK) {
        fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
        return EXIT_RUNTIME;
    }
    dlt_status st = dlt_world_selftest(&w, n, &err);
    if (w.rank == 0) {
        if (st == DLT_OK)
            printf("selftest: all-reduce of %zu doubles across %d rank%s: max error %g: ok\n", n, w.size,
                   w.size > 1 ? "s" : "", err);
        else
            fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
    }
    dlt_world_finalize(&w);
    return st == DLT_OK ? 0 : EXIT_RUNTIME;
}

typedef struct {
    const char *job_path, *resume;
    const char **sets;
    int nsets, dry_run, print_config, quiet, verbose, debug_collectives, resume_changed;
} args;

static int parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--set") == 0 || strcmp(s, "--resume") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "dltrain: %s needs a value (see dltrain --help)\n", s);
                return 0;
            }
            if (s[2] == 's')
                a->sets[a->nsets++] = argv[++i];
            else
                a->resume = argv[++i];
        } else if (strncmp(s, "--set=", 6) == 0) {
            a->sets[a->nsets++] = s + 6;
        } else if (strncmp(s, "--resume=", 9) == 0) {
            a->resume = s + 9;
        } else if (strcmp(s, "--resume-changed") == 0) {
            a->resume_changed = 1;
        } else if (strcmp(s, "--dry-run") == 0) {
            a->dry_run = 1;
        } else if (strcmp(s, "--print-config") == 0) {
            a->print_config = 1;
        } else if (strcmp(s, "--quiet") == 0 || strcmp(s, "-q") == 0) {
            a->quiet = 1;
        } else if (strcmp(s, "--verbose") == 0 || strcmp(s, "-v") == 0) {
            a->verbose = 1;
        } else if (strcmp(s, "--debug-collectives") == 0) {
            a->debug_collectives = 1;
        } else if (s[0] == '-') {
            fprintf(stderr, "dltrain: unknown option '%s' (see dltrain --help)\n", s);
            return 0;
        } else if (!a->job_path) {
            a->job_path = s;
        } else {
            fprintf(stderr, "dltrain: unexpected argument '%s' (one job file; see dltrain --help)\n", s);
            return 0;
        }
    }
    if (!a->job_path) {
        fprintf(stderr, "dltrain: no job file given (see dltrain --help)\n");
        return 0;
    }
    return 1;
}

static dlt_status load_job(const args *a, dlt_job **out)
{
    dlt_job *job;
    dlt_status st = dlt_job_new(&job);
    if (st != DLT_OK)
        return st;
    st = dlt_job_load_file(job, a->job_path);
    for (int i = 0; st == DLT_OK && i < a->nsets; i++)
        st = dlt_job_set(job, a->sets[i]);
    if (st == DLT_OK && a->debug_collectives)
        st = dlt_job_set(job, "dist.debug_collectives=true");
    if (st != DLT_OK) {
        dlt_job_free(job);
        return st;
    }
    *out = job;
    return DLT_OK;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[DLT_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return 0;
            *p = '/';
        }
    return mkdir(buf, 0777) == 0 || errno == EEXIST;
}

static char *job_text(const dlt_job *job)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    dlt_job_write(f, job);
    fclose(f);
    return text;
}

static int train(args *a, int argc, char **argv)
{
    dlt_world w;
    dlt_job *job = NULL;
    dlt_train_config cfg;
    dlt_train_result res;
    char *text = NULL;
    int rc = 0;
    if (dlt_world_init(&argc, &argv, &w) != DLT_OK) {
        fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
        return EXIT_RUNTIME;
    }
    if (a->quiet)
        dlt_log_set_level(DLT_LOG_WARN);
    /* every rank reads and checks the job; only rank 0 reports a bad one */
    dlt_status st = load_job(a, &job);
    /* model.arch = "nas": an architecture search (src/train/nas_job.c) */
    if (st == DLT_OK && !strcmp(dlt_job_string(job, "model.arch"), "nas")) {
        rc = dlt_nas_main(job, a->resume, a->quiet, a->print_config, a->dry_run);
        goto out;
    }
    if (st == DLT_OK)
        st = dlt_train_config_from_job(job, &cfg);
    if (st != DLT_OK) {
        if (w.rank == 0)
            fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
        rc = EXIT_USAGE;
        goto out;
    }
    cfg.quiet = a->quiet, cfg.verbose = a->verbose;
    /* the resolved job must say what runs (a transformer's default dropout) */
    if (dlt_train_job_record_defaults(job, &cfg) != DLT_OK)
        dlt_clearerr();
    if (a->resume && strlen(a->resume) >= sizeof cfg.resume) {
        if (w.rank == 0)
            fprintf(stderr, "dltrain: --resume: the path is %zu bytes long, at most %zu\n", strlen(a->resume),
                    sizeof cfg.resume - 1);
        rc = EXIT_USAGE;
        goto out;
    }
    if (a->resume)
        snprintf(cfg.resume, sizeof cfg.resume, "%s", a->resume);
    cfg.resume_changed = a->resume_changed;
    text = job_text(job);
    cfg.job_text = text;
    if (a->print_config) {
        if (w.rank == 0)
            dlt_job_write(stdout, job);
        goto out;
    }
    /* every rank checks the data (headers only) and agrees: bad data is bad input */
    if ((st = dlt_train_check_data(&cfg, w.size)) != DLT_OK) {
        if (w.rank == 0)
            fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
        rc = EXIT_USAGE;
        goto out;
    }
    if (w.rank == 0) /* after the checks: a refused job prints one line */
        dlt_train_job_warn_ignored(job);
    if (a->dry_run) {
        if (w.rank == 0) {
            printf("# resolved job\n%s\n", text ? text : "");
            st = dlt_train_describe(&cfg, w.size, stdout);
            if (st != DLT_OK) {
                fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
                rc = EXIT_USAGE;
            }
        }
        goto out;
    }
    if (w.rank == 0 && !make_dirs(cfg.run_dir)) {
        fprintf(stderr, "dltrain: %s: cannot create the run directory: %s\n", cfg.run_dir, strerror(errno));
        dlt_world_abort(EXIT_RUNTIME);
    }
    st = dlt_train_run(&cfg, &res);
    if (st != DLT_OK) {
        rc = dlt_exit_for(st);
        if (w.rank == 0 || !res.error_on_all_ranks)
            fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
        /* one rank failing stops the whole job instead of leaving the others waiting */
        if (w.size > 1 && !res.error_on_all_ranks)
            dlt_world_abort(rc);
    } else if (res.preempted) {
        rc = res.stop_signal == SIGUSR1 ? DLT_EXIT_REQUEUE : DLT_EXIT_STOPPED;
    }
out:
    free(text);
    dlt_job_free(job);
    dlt_world_finalize(&w);
    return rc;
}

static int export_ckpt(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *format = "safetensors", *data = NULL;
    char def[DLT_PATH_MAX + 16], dir[DLT_PATH_MAX + 16];
    int tokenizer = 1;
    dlt_export_opts o;
    dlt_export_info info;
    dlt_export_opts_default(&o);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--no-tokenizer") == 0)
            tokenizer = 0;
        else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            format = argv[++i];
        else if (strcmp(argv[i], "--no-buffers") == 0)
            o.buffers = 0;
        else if (argv[i][0] != '-' && !ckpt)
            ckpt = argv[i];
        else {
            fprintf(stderr, "dltrain export: unexpected argument '%s' (see dltrain --help)\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!ckpt || strcmp(format, "safetensors") != 0) {
        fprintf(stderr, ckpt ? "dltrain export: unknown format '%s' (known: safetensors)\n"
                             : "dltrain export: no checkpoint given (see dltrain --help)\n",
                format);
        return EXIT_USAGE;
    }
    if (!out) {
        size_t n = strlen(ckpt);
        int h5 = n > 3 && strcmp(ckpt + n - 3, ".h5") == 0;
        snprintf(def, sizeof def, "%.*s.safetensors", (int)(h5 ? n - 3 : n), ckpt);
        out = def;
    }
    /* the tokenizer first: a bad --data leaves nothing half-exported */
    dlt_tokenizer_export_info ti = {0};
    const char *slash = strrchr(out, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out) : 1, slash ? out : ".");
    dlt_status st = tokenizer ? dlt_export_tokenizer(ckpt, data, dir[0] ? dir : "/", &ti) : DLT_OK;
    if (st != DLT_OK && (data || st == DLT_ERR_IO || st == DLT_ERR_NOMEM)) {
        fprintf(stderr, "dltrain export: %s\n", dlt_errmsg());
        return st == DLT_ERR_NOMEM || st == DLT_ERR_IO ? EXIT_RUNTIME : EXIT_USAGE;
    }
    if (st != DLT_OK) /* the weights are still worth having */
        fprintf(stderr, "dltrain export: warning: no tokenizer written: %s\n", dlt_errmsg());
    st = dlt_export_safetensors(ckpt, out, &o, &info);
    if (st != DLT_OK) {
        fprintf(stderr, "dltrain export: %s\n", dlt_errmsg());
        return st == DLT_ERR_INVALID || st == DLT_ERR_NOTFOUND ? EXIT_USAGE : EXIT_RUNTIME;
    }
    printf("%s: %d tensors of step %lld, %lld bytes\n", out, info.ntensors, (long long)info.step,
           (long long)info.file_bytes);
    if (ti.written)
        printf("%s: tokenizer (%s, %d tokens, %d merges): %s\n", dir, ti.type, ti.vocab_size,
               ti.num_merges, ti.files);
    return 0;
}

/* A number option's value; 0 when it does not parse. */
static int num_arg(const char *cmd, const char *opt, const char *v, double lo, double *out)
{
    char *end;
    *out = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end || !(*out >= lo)) {
        fprintf(stderr, "dltrain %s: %s needs a number >= %g (got '%s')\n", cmd, opt, lo, v ? v : "");
        return 0;
    }
    return 1;
}

/* --prompt-ids "464 3797 ...": ids separated by spaces or commas; NULL and a
 * message when one is no integer. */
static int32_t *parse_ids(const char *v, int64_t *n)
{
    int32_t *ids = malloc((strlen(v) / 2 + 1) * sizeof *ids);
    *n = 0;
    for (const char *p = v; ids && *p;) {
        if (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') {
            p++;
            continue;
        }
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX || (*end && !strchr(" ,\t\n", *end))) {
            fprintf(stderr, "dltrain generate: --prompt-ids needs token ids (integers >= 0) separated by "
                            "spaces or commas (got '%s')\n", v);
            free(ids);
            return NULL;
        }
        ids[(*n)++] = (int32_t)x;
        p = end;
    }
    return ids;
}

static int generate(int argc, char **argv)
{
    dlt_generate_opts o;
    int print_ids = 0;
    int32_t *pids = NULL;
    dlt_generate_opts_default(&o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        if (strcmp(a, "--prompt") == 0 && v)
            o.prompt = v, i++;
        else if (strcmp(a, "--ids") == 0)
            print_ids = 1;
        else if (strcmp(a, "--prompt-ids") == 0 && v && !pids) {
            if (!(pids = parse_ids(v, &o.nprompt_ids)))
                return EXIT_USAGE;
            o.prompt_ids = pids, i++;
        }
        else if (strcmp(a, "--data") == 0 && v)
            o.data_override = v, i++;
        else if (strcmp(a, "--max-new-tokens") == 0 || strcmp(a, "--top-k") == 0 || strcmp(a, "--seed") == 0 ||
                 strcmp(a, "--threads") == 0 || strcmp(a, "--temperature") == 0) {
            if (!num_arg("generate", a, v, 0, &x))
                return EXIT_USAGE;
            i++;
            if (a[2] == 'm')
                o.max_new_tokens = (int)x;
            else if (a[2] == 't' && a[3] == 'o')
                o.top_k = (int)x;
            else if (a[2] == 's')
                o.seed = (uint64_t)x;
            else if (a[2] == 't' && a[3] == 'h')
                o.threads = (int)x;
            else
                o.temperature = x;
        } else if (a[0] != '-' && !o.ckpt) {
            o.ckpt = a;
        } else {
            fprintf(stderr, "dltrain generate: unexpected argument '%s' (see dltrain --help)\n", a);
            free(pids);
            return EXIT_USAGE;
        }
    }
    if (!o.ckpt || !o.prompt == !pids) {
        fprintf(stderr, "dltrain generate: %s (usage: dltrain generate CKPT.h5 --prompt TEXT ...)\n",
                !o.ckpt ? "no checkpoint given"
                : pids  ? "--prompt and --prompt-ids exclude each other"
                        : "no --prompt or --prompt-ids given");
        free(pids);
        return EXIT_USAGE;
    }
    dlt_generate_result r;
    dlt_status st = dlt_generate_ids(&o, &r);
    free(pids);
    if (st != DLT_OK) {
        fprintf(stderr, "dltrain generate: %s\n", dlt_errmsg());
        return st == DLT_ERR_NOMEM ? EXIT_RUNTIME : EXIT_USAGE;
    }
    if (print_ids) /* prompt then continuation, as Hugging Face's generate() returns them */
        for (int64_t i = 0; i < r.nids; i++)
            printf("%d%c", r.ids[i], i + 1 < r.nids ? ' ' : '\n');
    else
        printf("%s\n", r.text);
    dlt_generate_result_free(&r);
    return 0;
}

static int predict(int argc, char **argv)
{
    dlt_predict_opts o = {0};
    char def[DLT_PATH_MAX + 32];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        if (strcmp(a, "--data") == 0 && v)
            o.data = v, i++;
        else if (strcmp(a, "--out") == 0 && v)
            o.out = v, i++;
        else if (strcmp(a, "--logits") == 0)
            o.logits = 1;
        else if (strcmp(a, "--batch") == 0 || strcmp(a, "--threads") == 0) {
            if (!num_arg("predict", a, v, 1, &x) || x > 1 << 20)
                return EXIT_USAGE;
            i++;
            *(a[2] == 'b' ? &o.batch : &o.threads) = (int)x;
        } else if (a[0] != '-' && !o.ckpt) {
            o.ckpt = a;
        } else {
            fprintf(stderr, "dltrain predict: unexpected argument '%s' (see dltrain --help)\n", a);
            return EXIT_USAGE;
        }
    }
    if (!o.ckpt) {
        fprintf(stderr, "dltrain predict: no checkpoint given (usage: dltrain predict CKPT.h5 --data GLOB ...)\n");
        return EXIT_USAGE;
    }
    if (!o.out) {
        size_t n = strlen(o.ckpt);
        int h5 = n > 3 && strcmp(o.ckpt + n - 3, ".h5") == 0;
        snprintf(def, sizeof def, "%.*s.predictions.h5", (int)(h5 ? n - 3 : n), o.ckpt);
        o.out = def;
    }
    dlt_predict_result r;
    dlt_status st = dlt_predict(&o, &r);
    if (st != DLT_OK) {
        fprintf(stderr, "dltrain predict: %s\n", dlt_errmsg());
        return st == DLT_ERR_INVALID || st == DLT_ERR_NOTFOUND ? EXIT_USAGE : EXIT_RUNTIME;
    }
    printf("%s: %lld samples, step %lld", o.out, (long long)r.samples, (long long)r.step);
    for (int i = 0; i < r.n; i++)
        printf(", %s %.9g", r.key[i], r.val[i]);
    printf("\n");
    return 0;
}

static int sample(int argc, char **argv)
{
    dlt_gan_sample_opts o = {.label = -1};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        if (strcmp(a, "--out") == 0 && v)
            o.out = v, i++;
        else if (strcmp(a, "--data") == 0 && v)
            o.data = v, i++;
        else if (strcmp(a, "--n") == 0 || strcmp(a, "--label") == 0 || strcmp(a, "--seed") == 0) {
            if (!num_arg("sample", a, v, a[2] == 'n' ? 1 : 0, &x) || (a[2] != 's' && x > 1 << 20))
                return EXIT_USAGE;
            i++;
            if (a[2] == 'n')
                o.n = (int)x;
            else if (a[2] == 'l')
                o.label = (int)x;
            else
                o.seed = (uint64_t)x, o.has_seed = 1;
        } else if (a[0] != '-' && !o.ckpt) {
            o.ckpt = a;
        } else {
            fprintf(stderr, "dltrain sample: unexpected argument '%s' (see dltrain --help)\n", a);
            return EXIT_USAGE;
        }
    }
    if (!o.ckpt || !o.out) {
        fprintf(stderr, "dltrain sample: %s (usage: dltrain sample CKPT.h5 --out GRID.png ...)\n",
                !o.ckpt ? "no checkpoint given" : "no --out given");
        return EXIT_USAGE;
    }
    if (dlt_ckpt_is_cyclegan(o.ckpt)) {
        dlt_cyclegan_sample_result r;
        dlt_status st = dlt_cyclegan_sample_ckpt(&o, &r);
        if (st != DLT_OK) {
            fprintf(stderr, "dltrain sample: %s\n", dlt_errmsg());
            return st == DLT_ERR_INVALID || st == DLT_ERR_NOTFOUND ? EXIT_USAGE : EXIT_RUNTIME;
        }
        for (int d = 0; d < 2; d++)
            printf("%s: %s of %d images, %dx%d pixels\n", r.files[d], d ? "B->A->B" : "A->B->A", r.n,
                   r.w, r.h);
        return 0;
    }
    int h = 0, w = 0;
    dlt_status st = dlt_gan_sample_ckpt(&o, &h, &w);
    if (st != DLT_OK) {
        fprintf(stderr, "dltrain sample: %s\n", dlt_errmsg());
        return st == DLT_ERR_INVALID || st == DLT_ERR_NOTFOUND ? EXIT_USAGE : EXIT_RUNTIME;
    }
    printf("%s: %d images, %dx%d pixels\n", o.out, o.n > 0 ? o.n : DLT_GAN_SAMPLE_N, w, h);
    return 0;
}

static int fid(int argc, char **argv)
{
    dlt_fid_sets_opts o = {0};
    int nsets = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        if (strcmp(a, "--classifier") == 0 && v)
            o.classifier = v, i++;
        else if (strcmp(a, "--n") == 0 || strcmp(a, "--threads") == 0) {
            if (!num_arg("fid", a, v, a[2] == 'n' ? 2 : 1, &x) || x > 1e9)
                return EXIT_USAGE;
            i++;
            if (a[2] == 'n')
                o.n = (int64_t)x;
            else
                o.threads = (int)x;
        } else if (a[0] != '-' && nsets < 2) {
            o.set[nsets++] = a;
        } else {
            fprintf(stderr, "dltrain fid: unexpected argument '%s' (see dltrain --help)\n", a);
            return EXIT_USAGE;
        }
    }
    if (nsets < 2 || !o.classifier) {
        fprintf(stderr, "dltrain fid: %s (usage: dltrain fid SET1 SET2 --classifier CKPT.h5 [--n N])\n",
                nsets < 2 ? "two image sets needed" : "no --classifier given");
        return EXIT_USAGE;
    }
    dlt_fid_sets_result r;
    dlt_status st = dlt_fid_sets(&o, &r);
    if (st != DLT_OK) {
        fprintf(stderr, "dltrain fid: %s\n", dlt_errmsg());
        return st == DLT_ERR_INVALID || st == DLT_ERR_NOTFOUND ? EXIT_USAGE : EXIT_RUNTIME;
    }
    printf("FID-FMNIST %.9g (%lld vs %lld images)\n", r.fid, (long long)r.n[0], (long long)r.n[1]);
    return 0;
}

/* dltrain detect: a Mask R-CNN checkpoint's detections on one image, printed
 * and drawn (dlt_maskrcnn_infer.h) */
static int detect(int argc, char **argv)
{
    const char *ckpt = NULL, *image = NULL, *out = "detections.png";
    double score = 0.5;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--out") == 0 && v) {
            out = v, i++;
        } else if (strcmp(a, "--score") == 0) {
            if (!num_arg("detect", a, v, 0, &score) || score > 1)
                return EXIT_USAGE;
            i++;
        } else if (a[0] != '-' && !ckpt) {
            ckpt = a;
        } else if (a[0] != '-' && !image) {
            image = a;
        } else {
            fprintf(stderr, "dltrain detect: unexpected argument '%s' (see dltrain --help)\n", a);
            return EXIT_USAGE;
        }
    }
    if (!ckpt || !image) {
        fprintf(stderr,
                "dltrain detect: %s (usage: dltrain detect CKPT.h5 IMAGE.png [--out OUT.png] "
                "[--score S])\n",
                !ckpt ? "no checkpoint given" : "no image given");
        return EXIT_USAGE;
    }
    dlt_maskrcnn_spec s;
    dlt_mrcnn_detect_opts o = {0};
    char **names = NULL;
    int nnames = 0;
    dlt_det_draw_opts_default(&o.draw);
    o.draw.score_min = (float)score;
    dlt_image im = {0};
    dlt_image8 pic = {0};
    dlt_mrcnn_found f = {0};
    dlt_status st = dlt_mrcnn_ckpt_spec(ckpt, &s, &o, &names, &nnames);
    o.names = (const char *const *)names;
    if (st == DLT_OK)
        st = dlt_image_load(image, 3, &im);
    dlt_image8 rgb = {.h = im.h, .w = im.w, .c = 3, .px = im.px};
    if (st == DLT_OK)
        st = dlt_mrcnn_detect(&s, dlt_mrcnn_load_ckpt, (void *)ckpt, &rgb, &o, &f, &pic);
    if (st == DLT_OK)
        st = dlt_png_write(out, &pic);
    if (st == DLT_OK) {
        int shown = 0;
        for (int k = 0; k < f.n; k++) {
            if (f.scores[k] < o.draw.score_min)
                continue;
            const float *b = f.boxes + 4 * k;
            const char *name = names && f.labels[k] < nnames ? names[f.labels[k]] : NULL;
            char num[24];
            snprintf(num, sizeof num, "class %d", (int)f.labels[k]);
            printf("%-12s %.3f  %.1f %.1f %.1f %.1f\n", name ? name : num, (double)f.scores[k],
                   (double)b[0], (double)b[1], (double)b[2], (double)b[3]);
            shown++;
        }
        printf("%s: %d detections at score >= %.2f (%d in all)\n", out, shown, score, f.n);
    } else {
        fprintf(stderr, "dltrain detect: %s\n", dlt_errmsg());
    }
    for (int i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    dlt_image_free(&im), dlt_image8_free(&pic), dlt_mrcnn_found_free(&f);
    return st == DLT_OK                                        ? 0
           : st == DLT_ERR_INVALID || st == DLT_ERR_NOTFOUND ? EXIT_USAGE
                                                             : EXIT_RUNTIME;
}

/* dltrain coco-eval: COCOeval's 12 numbers of a results file (dlt_coco.h) */
static int coco_eval(int argc, char **argv)
{
    const char *gt_path = NULL, *dt_path = NULL, *iou = "bbox";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && (strcmp(a, "--gt") == 0 || strcmp(a, "--dt") == 0 || strcmp(a, "--iou") == 0)) {
            *(a[2] == 'g' ? &gt_path : a[2] == 'd' ? &dt_path : &iou) = v;
            i++;
        } else {
            fprintf(stderr, "dltrain coco-eval: unexpected argument '%s' (see dltrain --help)\n",
                    a);
            return EXIT_USAGE;
        }
    }
    if (!gt_path || !dt_path || (strcmp(iou, "bbox") != 0 && strcmp(iou, "segm") != 0)) {
        fprintf(stderr,
                "dltrain coco-eval: %s (usage: dltrain coco-eval --gt GT.json --dt "
                "RESULTS.json [--iou bbox|segm])\n",
                !gt_path ? "no --gt given" : !dt_path ? "no --dt given" : "--iou is bbox or segm");
        return EXIT_USAGE;
    }
    dlt_coco_gt *gt = NULL;
    dlt_coco_det *dets = NULL;
    int64_t n = 0;
    double stats[DLT_COCO_NSTATS];
    dlt_status st = dlt_coco_gt_load(gt_path, &gt);
    if (st == DLT_OK)
        st = dlt_coco_results_load(dt_path, gt, &dets, &n);
    if (st == DLT_OK)
        st = dlt_coco_evaluate(gt, dets, n, iou[0] == 's' ? DLT_COCO_SEGM : DLT_COCO_BBOX, stats);
    if (st == DLT_OK)
        dlt_coco_print_stats(stdout, stats);
    else
        fprintf(stderr, "dltrain coco-eval: %s\n", dlt_errmsg());
    dlt_coco_dets_free(dets, n);
    dlt_coco_gt_free(gt);
    return dlt_exit_for(st);
}

int main(int argc, char **argv)
{
    args a;
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0) {
        dlt_print_build_info(stdout, "dltrain");
        printf("%s\n", dlt_vmath_describe()); /* the vmath ISA path (src/ops/vmath.h) */
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (dlt_env_check() != DLT_OK) {
        fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--print-job-reference") == 0)
        return dlt_job_write_reference(stdout) == DLT_OK ? 0 : EXIT_RUNTIME;
    if (strcmp(argv[1], "--list-ops") == 0) {
        dlt_print_ops(stdout);
        return 0;
    }
    if (strcmp(argv[1], "selftest") == 0)
        return selftest(argc, argv, 2);
    if (strcmp(argv[1], "export") == 0)
        return export_ckpt(argc, argv);
    if (strcmp(argv[1], "generate") == 0)
        return generate(argc, argv);
    if (strcmp(argv[1], "predict") == 0)
        return predict(argc, argv);
    if (strcmp(argv[1], "sample") == 0)
        return sample(argc, argv);
    if (strcmp(argv[1], "fid") == 0)
        return fid(argc, argv);
    if (strcmp(argv[1], "coco-eval") == 0)
        return coco_eval(argc, argv);
    if (strcmp(argv[1], "detect") == 0)
        return detect(argc, argv);
    if (!parse_args(argc, argv, &a)) {
        free(a.sets);
        return EXIT_USAGE;
    }
    int rc = train(&a, argc, argv);
    free(a.sets);
    return rc;
}
