#!/bin/sh
# dltrain --list-ops against facts found elsewhere: one row per line of the op
# list (src/core/dlt_op_list.h, counted here), unique names, and rows that
# must read as they do (conv2d has CPU and CUDA kernels and a gradient rule;
# topk_correct, cross_entropy_hvp and attention_grad have no gradient rule;
# reshape is a view). With CUDA built, every op with a CPU kernel says cuda
# yes; without, the cuda column says "-". Every family names a file in
# src/ops (src/core for accum) that defines the op, and every CUDA source named
# is the family's own, src/gpu/k_<family>.cu, and lists the op.
bld=${top_builddir:-.}
src=${top_srcdir:-.}
dltrain=$bld/dltrain
list=$src/src/core/dlt_op_list.h
[ -x "$dltrain" ] || { echo "missing $dltrain"; exit 1; }
[ -r "$list" ] || { echo "missing $list"; exit 1; }
out=$(mktemp "${TMPDIR:-/tmp}/dlt_ops.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

"$dltrain" --list-ops >"$out" || { echo "FAIL: dltrain --list-ops exited $?"; exit 1; }
cuda=-
"$dltrain" --version | grep -q 'CUDA *: not built' || cuda=yes

want=$(grep -c '^ *X([A-Z0-9_]*, [a-z0-9_]*, [a-z_]*, [a-z_]*)' "$list")
rows=$(grep -v '^#' "$out" | tail -n +2 | wc -l)
said=$(sed -n 's/^# \([0-9]*\) ops\..*/\1/p' "$out")
[ "$want" -gt 90 ] && [ "$rows" -eq "$want" ] && [ "$said" = "$want" ] &&
    ok "$rows rows, one per line of dlt_op_list.h" || bad "$rows rows, '$said' said, $want lines in $list"
hdr=$(grep -v '^#' "$out" | head -1)
echo "$hdr" | grep -q '^op  *family  *cpu  *cuda  *grad  *cuda source$' && ok "header" || bad "header: $hdr"
dups=$(grep -v '^#' "$out" | awk '{print $1}' | sort | uniq -d)
[ -z "$dups" ] && ok "names unique" || bad "names listed twice: $dups"

row() { # op family cpu cuda grad source
    got=$(awk -v n="$1" '$1 == n {print $1, $2, $3, $4, $5, $6}' "$out")
    [ "$got" = "$*" ] && ok "$*" || bad "row '$got', expected '$*'"
}
row conv2d conv yes $cuda yes src/gpu/k_conv.cu
row accum accum yes $cuda yes src/gpu/k_accum.cu
row relu_grad activation yes $cuda yes src/gpu/k_activation.cu
row topk_correct metric yes $cuda no src/gpu/k_metric.cu
row cross_entropy_hvp loss yes $cuda no src/gpu/k_loss.cu
row pointwise_loss loss_pw yes $cuda yes src/gpu/k_loss_pw.cu
row upsample_bilinear2d upsample yes $cuda yes src/gpu/k_upsample.cu
row pad_reflect shape_slice yes $cuda yes src/gpu/k_shape_slice.cu
row attention_grad attention yes $cuda no src/gpu/k_attention.cu
row reshape shape view view yes -
row stop_gradient shape view view yes -
# rnn family: a cell, its backward op (first order only), the sampler
row lstm_cell rnn yes $cuda yes src/gpu/k_rnn.cu
row gru_cell_grad rnn yes $cuda no src/gpu/k_rnn.cu
row categorical_sample rnn yes $cuda yes src/gpu/k_rnn.cu
# roi family: RoIAlign and its backward (each the other's gradient), the level index (a rule that gives no gradient)
row roi_align roi yes $cuda yes src/gpu/k_roi.cu
row roi_align_backward roi yes $cuda yes src/gpu/k_roi.cu
row roi_level roi yes $cuda yes src/gpu/k_roi.cu

# the files named: the family's file defines the op, the CUDA source exists
nf=0
for r in $(grep -v '^#' "$out" | tail -n +2 | awk '{print $1 ":" $2 ":" $6}'); do
    op=${r%%:*} rest=${r#*:}
    fam=${rest%%:*} cu=${rest#*:}
    f=$src/src/ops/$fam.c
    [ "$fam" = accum ] && f=$src/src/core/accum.c
    grep -q "dlt_op_def_$op = \|EW_DEFS\(_D1\)\?([A-Z_]*, ${op%_grad})" "$f" 2>/dev/null || { bad "$op: not defined in $f"; nf=1; }
    [ "$cu" = - ] || [ "$cu" = "src/gpu/k_$fam.cu" ] || { bad "$op: CUDA source $cu, not its family's"; nf=1; }
    id=$(echo "$op" | tr a-z A-Z)
    [ "$cu" = - ] || grep -q "{DLT_OP_$id, \|EW_ENTRIES(${id%_GRAD})" "$src/$cu" 2>/dev/null ||
        { bad "$op: not in the kernel list of $cu"; nf=1; }
done
[ $nf = 0 ] && ok "every op defined in its family's file, listed in its family's CUDA source"

# every op with a CPU kernel has a CUDA kernel where CUDA is built (the
# coverage test's rule, seen from the command line)
miss=$(grep -v '^#' "$out" | tail -n +2 | awk -v c="$cuda" '$3 == "yes" && $4 != c {print $1}')
[ -z "$miss" ] && ok "cuda column '$cuda' wherever cpu says yes" || bad "cuda column not '$cuda': $miss"
exit $fail
