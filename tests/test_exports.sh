#!/bin/sh
# libdltrain.so exports its API only: every defined dynamic symbol starts with
# dlt_ (Makefile.am links it with -export-symbols-regex '^dlt_'); internal
# helpers (ckpt_*, comm_*, conv_*, the CUDA sources' C++ namespaces) stay
# local. SKIP (77) only when the shared library is not built.
lib=${top_builddir:-.}/.libs/libdltrain.so
[ -f "$lib" ] || { echo "SKIP: no shared library ($lib; configured with --disable-shared?)"; exit 77; }
command -v nm >/dev/null || { echo "FAIL: nm is needed to list $lib's symbols"; exit 1; }
syms=$(nm -D --defined-only "$lib") || { echo "FAIL: nm -D $lib"; exit 1; }
# the symbol is the last field; sanity: the API is there at all
total=$(printf '%s\n' "$syms" | awk 'NF >= 3 { n++ } END { print n + 0 }')
api=$(printf '%s\n' "$syms" | awk 'NF >= 3 && $NF ~ /^dlt_/ { n++ } END { print n + 0 }')
for want in dlt_graph_create dlt_train_run dlt_job_load dlt_errmsg; do
    printf '%s\n' "$syms" | awk -v w="$want" '$NF == w { f = 1 } END { exit !f }' ||
        { echo "FAIL: $lib does not export $want"; exit 1; }
done
bad=$(printf '%s\n' "$syms" | awk 'NF >= 3 && $NF !~ /^dlt_/ { print $NF }')
if [ -n "$bad" ]; then
    echo "FAIL: $lib exports $(printf '%s\n' "$bad" | wc -l) symbols outside the dlt_ API:"
    printf '%s\n' "$bad"
    exit 1
fi
echo "$lib: $api of $total exported symbols, all dlt_"
