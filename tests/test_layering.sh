#!/bin/sh
# The module layering of ../shared/DESIGN.md and docs/architecture.md, checked
# on the #include lines of src/*/*.{c,h,cu,cuh}:
#
#   Dependencies point one way: tools -> train -> models -> core <- ops/gpu;
#   comm, data, optim and io depend on core types only.
#
# A module is a directory under src/. A quoted #include names a header by its
# file name (every src/<module> is on the include path; names are unique), so
# it is looked up in src/*/ and belongs to that header's module; includes of a
# module's own headers, of config.h and of headers found nowhere in src/
# (system headers) are not dependencies. Each include of another module's
# header must be allowed by the table below; every violation prints one line
#
#   src/x/file.c: includes src/y/header.h (x may not depend on y)
#
# and the test fails, unless the line is listed in KNOWN_VIOLATIONS. A known
# violation that no longer happens fails too (delete its line), so the list
# only ever shrinks. Usage: test_layering.sh [SRCDIR] (default: the source
# tree's src/; `make check` runs it on the tree and on a synthetic one to show
# that a new violation is caught).

# ---------------------------------------------------------------- known violations
# Each line is a violation this branch still has, with the part of issue 17
# that removes it. The lead deletes a line when the branch that removes it is
# merged; keep the exact output format, "  # why" after it.
KNOWN_VIOLATIONS='
'

# ---------------------------------------------------------------- allowed dependencies
# One row per module: "module: entry...". An entry is
#   y        every public header of module y (dlt_*.h);
#   y:NAME   one header of y by name (a shell pattern), public or private;
#   *        anything (tools only).
# A module's headers that are not dlt_*.h are private to it unless a row names
# them. Why each row is what it is:
#   core    the base: tensors, graph IR, autodiff, planner, executor, the
#           backend interface (dlt_backend.h) and op definitions (dlt_opdef.h).
#   ops     op families: shape and gradient rules and CPU kernels, registered
#           with core.
#   gpu     the CUDA backend implements core's dlt_backend and the second half
#           of every op family: its kernels share each family's parameter
#           structs and host/device index and math rules (src/ops/*_impl.h,
#           ops_util.h, shape_util.h, unary_math.h, dlt_ops.h) so that CPU
#           and CUDA compute the same thing, and the fused optimizer kernel
#           shares optim's per-element update rules and slot roles
#           (optim_elem.h, made to be shared) and its algorithm ids
#           (dlt_optim.h) -- never optim's object or the graph's insides.
#   comm, data, optim
#           core types only: status, dtypes, logging (dlt_base.h), bf16
#           conversion (dlt_bf16.h), device memory and streams (dlt_backend.h);
#           comm sees flat buffers, ranges, element types and streams, never
#           a graph. optim also follows core's choice of the CPU's ISA level
#           (dlt_cpu_isa.h) for its vectorised update loops, as ops' vmath does.
#   io      core types, and dlt_core.h for the value types checkpoints and
#           exports describe parameters with (dlt_shape, dlt_param_info,
#           dlt_kvlist).
#   models  graph builders: core's graph API and the op constructors of
#           dlt_ops.h (which append nodes; a model never calls a kernel).
#   dist    owns the graph for data parallelism (finalize, gradient buckets,
#           replica broadcast, optimizer stepping): core, comm, optim.
#   train   training loops and tasks: everything below it except the
#           backends' and op families' insides; tasks append their loss heads
#           with dlt_ops.h's constructors. It opens the device a job asks for
#           through the GPU module's public header (dlt_gpu.h: open, backend,
#           precision, build report), as it opens MPI through comm's.
#   tools   main() of dltrain and dlprep, and src/dltrain.h, the umbrella
#           header (library code never includes the umbrella).
ALLOWED='
core:
ops: core
gpu: core ops ops:*_impl.h ops:ops_util.h ops:shape_util.h ops:unary_math.h optim:optim_elem.h optim:dlt_optim.h
comm: core:dlt_base.h core:dlt_bf16.h core:dlt_backend.h
data: core:dlt_base.h core:dlt_bf16.h core:dlt_backend.h
optim: core:dlt_base.h core:dlt_bf16.h core:dlt_backend.h core:dlt_cpu_isa.h
io: core:dlt_base.h core:dlt_bf16.h core:dlt_backend.h core:dlt_core.h
models: core ops:dlt_ops.h
dist: core comm optim
train: dist models data io comm optim core ops:dlt_ops.h gpu:dlt_gpu.h
tools: *
'

# ---------------------------------------------------------------- the check
# violations SRCDIR: every violation line of the tree, sorted
violations() {
    src=$1
    # header name -> path, for every header in a module directory
    for h in "$src"/*/*.h "$src"/*/*.cuh "$src"/dltrain.h; do
        [ -f "$h" ] && printf 'H %s\n' "${h#"$src"/}"
    done
    printf '%s\n' "$ALLOWED" | sed -n 's/^\([a-z_]*\):\(.*\)$/A \1 \2/p'
    for f in "$src"/*/*.c "$src"/*/*.h "$src"/*/*.cu "$src"/*/*.cuh; do
        [ -f "$f" ] || continue
        sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p' "$f" |
            while IFS= read -r inc; do printf 'I %s %s\n' "${f#"$src"/}" "$inc"; done
    done
} 2>/dev/null

check() {
    violations "$1" | awk '
    $1 == "H" { n = split($2, p, "/"); name = p[n]; where[name] = $2
                own[name] = (n == 1) ? "" : p[1]; next }
    $1 == "A" { allowed[$2] = " " substr($0, length($1) + length($2) + 3) " "; next }
    # a shell-like pattern: only "*" is special
    function match_pat(pat, s,   re) {
        re = pat; gsub(/[.+?()|^$\[\]{}]/, "\\\\&", re); gsub(/\*/, ".*", re)
        return s ~ ("^" re "$")
    }
    function ok(x, y, h,   n, e, i, parts) {
        n = split(allowed[x], e, " ")
        for (i = 1; i <= n; i++) {
            if (e[i] == "*") return 1
            if (e[i] == y && h ~ /^dlt_/) return 1
            if (index(e[i], ":") && split(e[i], parts, ":") == 2 && parts[1] == y && match_pat(parts[2], h)) return 1
        }
        return 0
    }
    $1 == "I" {
        file = $2; inc = $3; split(file, fp, "/"); x = fp[1]
        if (!(x in allowed)) {
            if (!(x in norow)) { norow[x] = 1; print "src/" file ": module " x " has no row in the allowed-dependency table" }
            next
        }
        n = split(inc, ip, "/"); h = ip[n]
        if (!(h in where) || h == "config.h") next       # system or generated header
        y = own[h]
        if (y == x) next
        if (y == "") {                                   # src/dltrain.h, the umbrella
            if (!ok(x, "*", "")) print "src/" file ": includes src/" where[h] " (" x " may not depend on the umbrella header)"
            next
        }
        if (!ok(x, y, h)) print "src/" file ": includes src/" where[h] " (" x " may not depend on " y ")"
    }' | sort -u
}

known() { printf '%s\n' "$KNOWN_VIOLATIONS" | sed -n 's/[[:space:]]*#.*$//; /^src\//p' | sort -u; }

# report SRCDIR: prints new and gone violations; exit status 1 when any
report() {
    check "$1" >"$tmp/found" || return 2
    known >"$tmp/known"
    new=$(grep -vxF -f "$tmp/known" "$tmp/found")
    gone=$(grep -vxF -f "$tmp/found" "$tmp/known")
    if [ -n "$new" ]; then
        echo "layering: dependencies against the table in tests/test_layering.sh:"
        printf '%s\n' "$new"
    fi
    if [ -n "$gone" ]; then
        echo "layering: known violations that no longer happen (delete them from KNOWN_VIOLATIONS):"
        printf '%s\n' "$gone"
    fi
    [ -z "$new" ] && [ -z "$gone" ]
}

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
srcdir=${1:-${top_srcdir:-$(dirname "$0")/..}/src}
[ -d "$srcdir" ] || { echo "layering: no source tree at $srcdir"; exit 2; }

if [ $# -eq 0 ]; then
    # the check catches a violation: a synthetic tree where ops includes train,
    # core includes the umbrella, and a module has no row
    mkdir -p "$tmp/t/core" "$tmp/t/ops" "$tmp/t/train" "$tmp/t/zzz"
    printf '#include "dlt_base.h"\n' >"$tmp/t/core/dlt_core.h"
    printf '/* */\n' >"$tmp/t/core/dlt_base.h"
    printf '/* */\n' >"$tmp/t/dltrain.h"
    printf '#include "dlt_train.h"\n' >"$tmp/t/ops/x.c"
    printf '#include "dlt_core.h"\n#include <stdio.h>\n#include "config.h"\n' >"$tmp/t/train/dlt_train.h"
    printf '#include "../dltrain.h"\n' >"$tmp/t/core/y.c"
    printf '#include "dlt_core.h"\n' >"$tmp/t/zzz/z.c"
    want='src/core/y.c: includes src/dltrain.h (core may not depend on the umbrella header)
src/ops/x.c: includes src/train/dlt_train.h (ops may not depend on train)
src/zzz/z.c: module zzz has no row in the allowed-dependency table'
    got=$(check "$tmp/t")
    if [ "$got" != "$want" ]; then
        echo "layering: the check itself is broken; on a synthetic tree it printed"
        printf '%s\n' "$got"
        echo "instead of"
        printf '%s\n' "$want"
        exit 1
    fi
fi

report "$srcdir"
