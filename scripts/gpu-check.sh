#!/bin/sh
# On a GPU machine: unpack gpu-bundle.tar.xz (made by scripts/gpu-bundle.sh),
# run every GPU test (each op and whole models against the CPU backend) and
# the GPU benchmark beside PyTorch, and write one log: $OUT/gpu-check.log
# (or ./gpu-check.log). Exit status: the number of failed tests (0: all
# passed; a test that finds no usable GPU counts as failed here). Needs the
# CUDA driver and toolkit libraries; for the PyTorch comparison, a python3 with
# torch (optional: skipped without it). With the workplace's device tool:
#   scripts/gpu-bundle.sh, then run `sh scripts/gpu-check.sh` there carrying
#   gpu-bundle.tar.xz (git-ignored), and read $OUT/gpu-check.log.
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${OUT:-$top}
log=$dir/gpu-check.log
work=$(mktemp -d "${TMPDIR:-/tmp}/dlt_gpu.XXXXXX")
trap 'rm -rf "$work"' EXIT
: >"$log"
say() { echo "$*" | tee -a "$log"; }
xz -dc "$top/gpu-bundle.tar.xz" | (cd "$work" && tar xf -) || { say "cannot unpack gpu-bundle.tar.xz"; exit 1; }
cuda=${CUDA_HOME:-/usr/local/cuda}
# the bundled libraries for dltrain's programs only (not for PyTorch below)
libs="$work/lib:$cuda/lib64:${LD_LIBRARY_PATH:-}"
dlt() { LD_LIBRARY_PATH=$libs "$@"; }
say "== $(date -u '+%F %T') UTC on $(uname -n)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$log"
dlt "$work/bin/dltrain" --version 2>&1 | tee -a "$log"
failed=0 skipped=0
for t in "$work"/bin/test_gpu_*; do
    say "== $(basename "$t")"
    dlt timeout 600 "$t" >>"$log" 2>&1
    rc=$?
    case $rc in
    0) say "   passed" ;;
    77) say "   SKIPPED: no usable CUDA device"; skipped=$((skipped + 1)) ;;
    *) say "   FAILED (exit $rc)"; failed=$((failed + 1)) ;;
    esac
done
say "== benchmark (dltrain; same GPU, same run)"
dlt timeout 300 "$work/bin/gpu_bench" resnet50 256 20 3 224 224 tf32 >>"$log" 2>&1 || say "   resnet50 benchmark failed ($?)"
dlt timeout 300 "$work/bin/gpu_bench" resnet50 256 20 3 224 224 bf16 >>"$log" 2>&1 || say "   resnet50 bf16 benchmark failed ($?)"
dlt timeout 300 "$work/bin/gpu_bench" resnet50 256 20 3 224 224 fp16 >>"$log" 2>&1 || say "   resnet50 fp16 benchmark failed ($?)"
dlt timeout 300 "$work/bin/gpu_bench" resnet20 128 100 1 28 28 fp32 >>"$log" 2>&1 || say "   resnet20 benchmark failed ($?)"
dlt timeout 300 "$work/bin/gpu_bench" resnet20 128 100 1 28 28 fp32 graph >>"$log" 2>&1 || say "   resnet20 graph benchmark failed ($?)"
py=${DLT_TORCH_PYTHON:-python3}
if "$py" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    say "== benchmark (PyTorch $("$py" -c 'import torch; print(torch.__version__)'))"
    # AMP (bf16) + channels-last + torch.compile as the issue asks, and the same
    # precision as dltrain's run (tf32 / fp32) for a like-for-like ratio
    timeout 400 "$py" "$work/bench/reference/resnet_gpu_torch.py" --arch resnet50 --batch 256 --steps 20 >>"$log" 2>&1 ||
        say "   pytorch resnet50 failed"
    timeout 400 "$py" "$work/bench/reference/resnet_gpu_torch.py" --arch resnet50 --batch 256 --steps 20 --tf32 \
        >>"$log" 2>&1 || say "   pytorch resnet50 tf32 failed"
    timeout 300 "$py" "$work/bench/reference/resnet_gpu_torch.py" --arch resnet20 --batch 128 --steps 100 >>"$log" 2>&1 ||
        say "   pytorch resnet20 failed"
    timeout 300 "$py" "$work/bench/reference/resnet_gpu_torch.py" --arch resnet20 --batch 128 --steps 100 --fp32 \
        >>"$log" 2>&1 || say "   pytorch resnet20 fp32 failed"
else
    say "== no python3 with CUDA torch: PyTorch comparison skipped"
fi
say "== $failed GPU test program(s) failed, $skipped skipped"
[ $skipped = 0 ] || failed=$((failed + skipped)) # here a skip means the GPU was not usable
exit $failed
