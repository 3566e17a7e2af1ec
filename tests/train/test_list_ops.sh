#!/bin/sh
# dltrain --list-ops against facts found elsewhere: one row per line of the op
# list (src/core/dlt_op_list.h, counted here), unique names, and rows that
# must read as they do (conv2d has CPU and CUDA kernels and a gradient rule;
# topk_correct, cross_entropy_hvp and attention_grad have no gradient rule;
# reshape is a view). With CUDA built, every op with a CPU kernel says cuda
# yes; without, the cuda column says "-".
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

want=$(grep -c '^ *X([A-Z0-9_]*, [a-z0-9_]*, [a-z_]*)' "$list")
rows=$(grep -v '^#' "$out" | tail -n +2 | wc -l)
said=$(sed -n 's/^# \([0-9]*\) ops\..*/\1/p' "$out")
[ "$want" -gt 90 ] && [ "$rows" -eq "$want" ] && [ "$said" = "$want" ] &&
    ok "$rows rows, one per line of dlt_op_list.h" || bad "$rows rows, '$said' said, $want lines in $list"
head -3 "$out" | tail -1 | grep -q '^op  *family  *cpu  *cuda  *grad$' && ok "header" || bad "header: $(sed -n 3p "$out")"
dups=$(grep -v '^#' "$out" | awk '{print $1}' | sort | uniq -d)
[ -z "$dups" ] && ok "names unique" || bad "names listed twice: $dups"

row() { # op family cpu cuda grad
    got=$(awk -v n="$1" '$1 == n {print $1, $2, $3, $4, $5}' "$out")
    [ "$got" = "$*" ] && ok "$*" || bad "row '$got', expected '$*'"
}
row conv2d conv yes $cuda yes
row accum accum yes $cuda yes
row relu_grad activation yes $cuda yes
row topk_correct metric yes $cuda no
row cross_entropy_hvp loss yes $cuda no
row attention_grad attention yes $cuda no
row reshape shape view view yes
row stop_gradient shape view view yes

# every op with a CPU kernel has a CUDA kernel where CUDA is built (the
# coverage test's rule, seen from the command line)
miss=$(grep -v '^#' "$out" | tail -n +2 | awk -v c="$cuda" '$3 == "yes" && $4 != c {print $1}')
[ -z "$miss" ] && ok "cuda column '$cuda' wherever cpu says yes" || bad "cuda column not '$cuda': $miss"
exit $fail
