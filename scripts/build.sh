#!/bin/sh
# Configures and builds dltrain in ./build (out of tree). Extra arguments go to configure.
set -eu
cd "$(dirname "$0")/.."
[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure "$@"
make -j"$(nproc)"
