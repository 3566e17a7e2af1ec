# Shared by the end-to-end checkpoint tests tests/train/test_*.sh (sourced).
# make check exports top_builddir, top_srcdir and MPIRUN.
: "${top_builddir:?run through make check}" "${top_srcdir:?}"
DLTRAIN=$top_builddir/dltrain
PLAIN_DLTRAIN=$DLTRAIN
# dltrain with the stand-in device under DLT_TEST_STANDIN_DEVICE=1
STANDIN_DLTRAIN=$top_builddir/tests/train/standin_dltrain
DLPREP=$top_builddir/dlprep
TOOL=$top_builddir/tests/train/ckpt_tool
: "${MPIRUN:=mpirun}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d /tmp/dlt-train-XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
t_start=$(date +%s)

fail() { echo "FAIL: $*"; exit 1; }
ck() { printf 'ckpt-%08d.h5' "$1"; }

have_mpi() { command -v "${MPIRUN%% *}" >/dev/null 2>&1; }
need_mpi() { have_mpi || { echo "SKIP: no mpirun"; exit 77; }; }

# run NP ARGS...: dltrain on NP ranks (1: no launcher), killed after RUN_TIMEOUT s
# (120, times DLT_TEST_SLOW: 4 in a sanitizer build)
RUN_TIMEOUT=${RUN_TIMEOUT:-$((120 * ${DLT_TEST_SLOW:-1}))}
run() {
    np=$1
    shift
    if [ "$np" = 1 ]; then
        timeout "$RUN_TIMEOUT" "$DLTRAIN" "$@"
    else
        timeout "$RUN_TIMEOUT" $MPIRUN -np "$np" --oversubscribe --bind-to none "$DLTRAIN" "$@"
    fi
}

# A: every dataset of /params, /buffers, /optim and /state of two checkpoints is
# byte-for-byte the same
same() { "$TOOL" cmp "$1" "$2" /params /buffers /optim /state || fail "$1 and $2 differ"; }

# Tiny learnable synthetic shards: 250 images 8x8x1 of 4 classes (250 is no
# multiple of the batch, so the last batch of an epoch is padded).
make_data() {
    "$DLPREP" synthetic --num "${1:-250}" --size 8x8x1 --classes 4 --seed 5 --out data --quiet ||
        fail "dlprep synthetic"
}

# A small job that exercises everything a resume must restore: dropout (RNG
# keys), gradient accumulation, AdamW (moments, bias-correction step), a warm-up
# + cosine schedule, shuffling, random crop/flip, padded last batches.
write_job() {
    cat >job.toml <<'JOB'
[model]
name = "t"
arch = "mlp"
hidden = 16
layers = 2
dropout = 0.25
[data]
train = "data/train-*.h5"
batch_size = 8
augment = "flip_crop"
crop_padding = 1
drop_last = false
[optim]
name = "adamw"
lr = 0.01
weight_decay = 0.01
[schedule]
name = "cosine"
warmup_steps = 2
[train]
steps = 20
seed = 3
threads = 1
accumulate = 2
[checkpoint]
dir = "runs"
keep_last = 0
[log]
every_steps = 1000
JOB
}

# make_text_shards: ~12 KB of sentences over a small vocabulary in 4 files of
# paragraphs (text0-3.txt), made into GPT shards (gpt/, vocab 300) and BERT
# shards (bert/, vocab 200, seq_len 32) by dlprep text
make_text_shards() {
    awk 'BEGIN {
        split("the a cat dog bird mat park tree sat ran sang on in to and while green tall small old", w, " ")
        s = 7
        for (f = 0; f < 4; f++) {
            out = "text" f ".txt"
            for (p = 0; p < 14; p++) {
                line = ""
                for (k = 0; k < 5; k++) {
                    s = (s * 1103515245 + 12345) % 2147483648
                    i = int(s / 65536) % 12
                    line = line toupper(substr(w[i + 1], 1, 1)) substr(w[i + 1], 2) " " w[i + 2] " " w[i + 3] " " \
                           w[i + 4] " " w[i + 5] " " w[i + 6] ". "
                }
                print line > out
                print "" > out
            }
        }
    }' || fail "awk"
    "$DLPREP" text text0.txt text1.txt text2.txt text3.txt --target gpt --vocab-size 300 --out gpt \
        --val-fraction 0.25 --seed 1 --quiet || fail "dlprep text --target gpt"
    "$DLPREP" text text0.txt text1.txt text2.txt text3.txt --target bert --vocab-size 200 --seq-len 32 \
        --max-predictions 5 --dupe-factor 2 --docs blank --out bert --val-fraction 0.2 --seed 1 --quiet ||
        fail "dlprep text --target bert"
}

elapsed() { echo "$(($(date +%s) - t_start)) s"; }
