#!/bin/sh
# From a fresh Debian 12 machine (as root): install dependencies, build, run the
# whole test suite (`make check`) and print "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
./scripts/install-deps.sh || exit 1
./scripts/build.sh || exit 1
cd build
make -j"$(nproc)" check
rc=$?
count() { sed -n "s/^# $1: *//p" test-suite.log 2>/dev/null | head -n 1; }
if [ -f test-suite.log ]; then
    pass=$(count PASS); fail=$(count FAIL); skip=$(count SKIP); err=$(count ERROR)
    echo "${pass:-0} passed, $(( ${fail:-0} + ${err:-0} )) failed, ${skip:-0} skipped"
fi
exit $rc
