#!/bin/sh
# Mask R-CNN on detection-synth (jobs/maskrcnn_synth.toml): dltrain on 2 ranks
# for a fixed number of steps beside torchvision's Mask R-CNN with the same
# backbone, image sizes, schedule, global batch and threads
# (bench/reference/maskrcnn_synth.py: ONE process with the global batch and
# as many threads as both ranks together), on the same shards and machine:
# training images/s, and box and mask AP / AP50 on the val split, each scored
# by `dltrain coco-eval` from a COCO results file against the data set's
# instances_val.json (the same evaluator for both), with the ratios
# dltrain / torchvision. Prints figures; asserts nothing.
#
#   bench/maskrcnn_synth.sh [--data DIR] [--steps N] [--batch B] [--threads T]
#                           [--depth 18|50] [--lr LR] [--eval-images N] [--ref-only]
#     --data DIR    detection-synth shards + instances_val.json (default
#                   data/detsynth: dlprep detection-synth --out data/detsynth)
#     --steps N     training steps of both (default 300; 5 start-up steps untimed)
#     --batch B     global batch (default 4: 2 ranks x 2)
#     --threads T   threads in all, split between the 2 ranks (default: all cores)
#     --depth D     backbone ResNet depth (default 18)
#     --lr LR       SGD learning rate after the warm-up (default: the job's optim.lr)
#     --eval-images N  the first N val images evaluated by both (default 0: all)
#     --ref-only    run the torchvision half only
#
# The dltrain half runs jobs/maskrcnn_synth.toml with --set for the data
# (train-* and val-* of --data), steps, batch, threads, depth, lr and
# maskrcnn.eval_images; the task evaluates after the last step and writes
# the COCO results file val_results-<step>.json into the run folder, which
# coco-eval scores here. The reference gets the job's other keys, read from
# the job file: [maskrcnn] norm, trainable_layers, fpn_channels,
# representation, mask_channels, anchor_sizes, rpn_pre_nms_top_n,
# rpn_post_nms_top_n, roi_batch, min_size, max_size and flip, schedule.name
# (constant or cosine, over the --steps of the run) and warmup_steps, and
# train.grad_clip; a key the job does not set is torchvision's default on
# both sides. So both train the same configuration of the same architecture
# (dry-run parameter counts equal). Mask AP and AP50 do not depend on which
# area a results file gives (only APs/m/l do).
#
# Run from the top of the source tree after building (DLT_BUILD names the
# build folder, default .). DLT_TORCH_PYTHON names the Python with torch,
# torchvision and h5py (default /usr/bin/python3).
data=data/detsynth
steps=300
batch=4
threads=$(nproc 2>/dev/null || echo 2)
depth=18
lr=
eval_images=0
ref_only=0
while [ $# -gt 0 ]; do
    case $1 in
    --data) data=$2; shift ;;
    --steps) steps=$2; shift ;;
    --batch) batch=$2; shift ;;
    --threads) threads=$2; shift ;;
    --depth) depth=$2; shift ;;
    --lr) lr=$2; shift ;;
    --eval-images) eval_images=$2; shift ;;
    --ref-only) ref_only=1 ;;
    *) echo "usage: $0 [--data DIR] [--steps N] [--batch B] [--threads T] [--depth D] [--lr LR] [--eval-images N] [--ref-only]" >&2
       exit 2 ;;
    esac
    shift
done
build=${DLT_BUILD:-.}
py=${DLT_TORCH_PYTHON:-/usr/bin/python3}
dltrain=$build/dltrain
job=jobs/maskrcnn_synth.toml
gt=$data/instances_val.json
[ -f "$job" ] || { echo "no $job" >&2; exit 2; }
# the value of KEY in [SECTION] of the job file (arrays as a,b,c), or DEFAULT
jobkey() {
    v=$(awk -v sec="[$1]" -v key="$2" '
        /^[[:space:]]*\[/ { in_sec = ($1 == sec); next }
        in_sec && $1 == key && $2 == "=" {
            sub(/^[^=]*=[[:space:]]*/, ""); sub(/[[:space:]]*#.*$/, "")
            gsub(/[][" ]/, ""); print; exit
        }' "$job")
    echo "${v:-$3}"
}
[ -n "$lr" ] || lr=$(jobkey optim lr 0.02)
flip=
[ "$(jobkey maskrcnn flip true)" = true ] && flip=--flip
ref_keys="--norm $(jobkey maskrcnn norm frozen | sed 's/^batch$/bn/')
    --trainable $(jobkey maskrcnn trainable_layers 3)
    --fpn-channels $(jobkey maskrcnn fpn_channels 256)
    --representation $(jobkey maskrcnn representation 1024)
    --mask-channels $(jobkey maskrcnn mask_channels 256)
    --anchor-sizes $(jobkey maskrcnn anchor_sizes 32,64,128,256,512)
    --rpn-pre-nms $(jobkey maskrcnn rpn_pre_nms_top_n 2000)
    --rpn-post-nms $(jobkey maskrcnn rpn_post_nms_top_n 2000)
    --roi-batch $(jobkey maskrcnn roi_batch 512)
    --min-size $(jobkey maskrcnn min_size 800) --max-size $(jobkey maskrcnn max_size 1333)
    --schedule $(jobkey schedule name constant) --warmup-iters $(jobkey schedule warmup_steps 0)
    --grad-clip $(jobkey train grad_clip 0) $flip"
[ -x "$dltrain" ] || { echo "no $dltrain (set DLT_BUILD to the build folder)" >&2; exit 2; }
ls "$data"/train-*.h5 >/dev/null 2>&1 && [ -f "$gt" ] ||
    { echo "no shards or $gt in $data: dlprep detection-synth --out $data" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlt_bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$threads" "$@"; }
per=$((threads / 2 > 0 ? threads / 2 : 1))

# AP and AP50 (the first two of COCOeval's lines) of a results file
# (n/a n/a, with coco-eval's message on stderr, when it refuses the file: e.g. no detections)
ap() {
    if out=$("$dltrain" coco-eval --gt "$gt" --dt "$1" --iou "$2" 2>"$tmp/ce.err"); then
        echo "$out" | awk 'NR <= 2 { printf "%s%.4f", (NR > 1 ? " " : ""), $NF }'
    else
        sed 's/^/   /' "$tmp/ce.err" >&2
        echo "n/a n/a"
    fi
}

echo "== $(uname -n): $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $steps steps of global batch $batch, ResNet-$depth-FPN, $threads threads, lr $lr; $data"
echo "   the job's keys for torchvision:" $ref_keys
row() { printf '%-34s %9s %9s %9s %9s %9s\n' "$@"; }
row "" "images/s" "box AP" "box AP50" "mask AP" "mask AP50"

dlt_ips= dlt_box= dlt_segm=
if [ "$ref_only" = 0 ]; then
    if ! command -v mpirun >/dev/null 2>&1; then
        echo "dltrain: no mpirun (the job runs on 2 ranks): skipped"
    else
        run mpirun -np 2 --oversubscribe --bind-to none "$dltrain" "$job" --quiet \
            --set train.threads="$per" --set train.steps="$steps" \
            --set data.batch_size=$((batch / 2)) --set log.every_steps=5 \
            --set data.train="\"$data/train-*.h5\"" --set data.val="\"$data/val-*.h5\"" \
            --set maskrcnn.eval_images="$eval_images" --set maskrcnn.depth="$depth" \
            --set optim.lr="$lr" --set checkpoint.dir="\"$tmp\"" >"$tmp/dlt.out" 2>&1 ||
            { cat "$tmp/dlt.out"; exit 1; }
        m=$(ls "$tmp"/*/metrics.jsonl 2>/dev/null | head -1)
        dlt_ips=$(awk -F'"samples_per_s": ' 'NR > 1 && $2 != "" { split($2, a, ","); s += 1 / a[1]; n++ }
            END { if (n) printf "%.2f", n / s; else print "n/a" }' "$m")
        res=$(ls "$tmp"/*/val_results*.json 2>/dev/null | tail -1)
        if [ -n "$res" ]; then
            dlt_box=$(ap "$res" bbox) dlt_segm=$(ap "$res" segm)
        else
            echo "dltrain: no val_results*.json in the run folder (evaluation not merged)"
        fi
        set -- $dlt_box $dlt_segm
        row "dltrain 2 ranks x $per thread(s)" "$dlt_ips" "${1:-n/a}" "${2:-n/a}" "${3:-n/a}" "${4:-n/a}"
    fi
fi

run "$py" bench/reference/maskrcnn_synth.py --data "$data" --iters "$steps" --skip 5 \
    --batch "$batch" --threads "$threads" --depth "$depth" --lr "$lr" --out "$tmp/ref" \
    --eval-limit "$eval_images" $ref_keys \
    >"$tmp/pt.out" 2>&1 || { cat "$tmp/pt.out"; exit 1; }
pt_ips=$(sed -n 's/^torchvision: \([0-9.]*\) images\/s.*/\1/p' "$tmp/pt.out")
pt_box=$(ap "$tmp/ref/results_bbox.json" bbox)
pt_segm=$(ap "$tmp/ref/results_segm.json" segm)
set -- $pt_box $pt_segm
row "torchvision 1 process x $threads" "$pt_ips" "$1" "$2" "$3" "$4"
if [ -n "$dlt_ips" ] && [ -n "$dlt_box" ]; then
    set -- $dlt_ips $dlt_box $dlt_segm $pt_ips $pt_box $pt_segm
    row "ratio dltrain / torchvision" \
        "$(awk -v a="$1" -v b="$6" 'BEGIN { print (b > 0 ? sprintf("%.2f", a / b) : "n/a") }')" \
        "$(awk -v a="$2" -v b="$7" 'BEGIN { print (b > 0 ? sprintf("%.2f", a / b) : "n/a") }')" \
        "$(awk -v a="$3" -v b="$8" 'BEGIN { print (b > 0 ? sprintf("%.2f", a / b) : "n/a") }')" \
        "$(awk -v a="$4" -v b="$9" 'BEGIN { print (b > 0 ? sprintf("%.2f", a / b) : "n/a") }')" \
        "$(awk -v a="$5" -v b="${10}" 'BEGIN { print (b > 0 ? sprintf("%.2f", a / b) : "n/a") }')"
fi
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
