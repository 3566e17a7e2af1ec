#!/bin/sh
# From a fresh Debian 12 machine (as root): install dependencies, build, and run
# the main job. Until the first model lands, the main job is the 2-rank
# all-reduce self-check.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
./build/dltrain --version
mpirun -np 2 --oversubscribe ./build/dltrain selftest
