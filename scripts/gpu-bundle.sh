#!/bin/sh
# Build the GPU test suite and benchmark for a machine that has an NVIDIA GPU,
# its driver and the CUDA toolkit (at /usr/local/cuda) but none of dltrain's
# other dependencies (Open MPI, HDF5, OpenBLAS, Check, libpng ...): the shared
# libraries the programs need travel with them, taken from this machine's
# Debian packages.
#
#   scripts/gpu-bundle.sh [ARCH]     (default 90: H100/H200; "80 90" for both)
#
# DLT_GPU_BUILD=DIR bundles an existing CUDA build folder instead (its own
# architectures). Writes gpu-bundle.tar.xz at the top of the tree: bin/ (the GPU tests,
# bench/gpu_bench, dltrain, dlprep, ckpt_tool), lib/ (libdltrain and the Debian
# libraries), ompi/ (Open MPI's runtime: orted and its plugins),
# bench/reference/resnet_gpu_torch.py. Run scripts/gpu-check.sh there.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-90}
build=${DLT_GPU_BUILD:-$top/_gpu_build}
case $build in /*) ;; *) build=$top/$build ;; esac
stage=$top/_gpu_stage
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ]; then
    [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
    "$top/configure" --with-cuda --with-cuda-arch="$arch" >configure.log 2>&1 ||
        { tail -n 20 configure.log; exit 1; }
fi
# .cu objects built before nvcc-lt.sh wrote header dependencies (*.Pcu) may
# hold an old struct layout, and a .Pcu written before nvcc-lt.sh added empty
# rules for headers stops make when it names a header since renamed: rebuild them
for lo in src/gpu/*.lo; do
    if [ -f "$top/src/gpu/$(basename "$lo" .lo).cu" ] && [ ! -f "${lo%.lo}.Pcu" ]; then
        rm -f "$lo"
    fi
done
for pcu in src/gpu/*.Pcu; do
    [ -f "$pcu" ] || continue
    for h in $(grep -o '[^ :\\]*\.\(cu\)\{0,1\}h\>' "$pcu"); do
        [ -f "$h" ] || { rm -f "$pcu" "${pcu%.Pcu}.lo"; break; }
    done
done
# the real-GPU test programs (test_gpu_*; the emu_* ones run in make check here)
tests=$(sed -n 's/^GPU_T_[A-Z]* = *//p' "$top/tests/gpu/local.mk" | tr ' ' '\n' | grep '^tests/gpu/test_gpu_' | tr '\n' ' ')
progs="dltrain dlprep bench/gpu_bench tests/train/ckpt_tool $tests"
make -j"$(nproc)" libdltrain.la $progs >make.log 2>&1 || { tail -n 30 make.log; exit 1; }
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib" "$stage/bench/reference"
# libtool keeps the real programs in .libs/ (the top-level files are wrappers)
for p in $progs; do
    real=$(dirname "$p")/.libs/$(basename "$p")
    [ -f "$real" ] || real=$p
    cp "$real" "$stage/bin/"
done
soname=$(objdump -p .libs/libdltrain.so | sed -n 's/^ *SONAME *//p')
cp -L ".libs/$soname" "$stage/lib/"
# Open MPI's runtime, relocated (gpu-check.sh sets OPAL_* and PMIX_*): even one
# process (a singleton) starts orted, and the machine has no Open MPI
ompi=/usr/lib/x86_64-linux-gnu/openmpi pmix=/usr/lib/x86_64-linux-gnu/pmix2
mkdir -p "$stage/ompi/bin" "$stage/ompi/lib/openmpi3" "$stage/ompi/share/openmpi" "$stage/ompi/etc" \
    "$stage/ompi/pmix" "$stage/ompi/share/pmix"
cp /usr/bin/orted /usr/bin/orterun "$stage/ompi/bin/"
cp -L "$ompi"/lib/openmpi3/*.so "$stage/ompi/lib/openmpi3/"
cp -r /usr/share/openmpi/. "$stage/ompi/share/openmpi/"
cp /etc/openmpi/* "$stage/ompi/etc/"
cp -L "$pmix"/lib/pmix/*.so "$stage/ompi/pmix/"
cp -r "$pmix"/share/pmix/. "$stage/ompi/share/pmix/"
# every library the programs load, except the C library, the driver and CUDA
# (the GPU machine has its own, matching its driver)
for f in "$stage"/bin/* "$stage"/lib/libdltrain.so* "$stage"/ompi/bin/* "$stage"/ompi/lib/openmpi3/*.so \
    "$stage"/ompi/pmix/*.so; do
    LD_LIBRARY_PATH=$build/.libs ldd "$f" 2>/dev/null
done | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
    grep -v -E '/(libc|libm|libdl|libpthread|librt|libresolv|ld-linux[^/]*|libcuda|libnvidia[^/]*)\.so' |
    grep -v -E '^/usr/local/cuda' | grep -v libdltrain | while read -r lib; do
    cp -L "$lib" "$stage/lib/$(basename "$lib")"
done
cp "$top/bench/reference/resnet_gpu_torch.py" "$stage/bench/reference/"
strip --strip-unneeded "$stage"/bin/* "$stage"/lib/* 2>/dev/null || true
(cd "$stage" && tar cf - bin lib bench ompi | xz -T0 -6 >"$top/gpu-bundle.tar.xz")
archs=$(sed -n 's/^NVCC_GENCODE = //p' Makefile | grep -o 'code=sm_[0-9]*' | sed 's/code=sm_//' | tr '\n' ' ')
echo "gpu-bundle.tar.xz: $(du -h "$top/gpu-bundle.tar.xz" | cut -f1) ($(ls "$stage/bin" | wc -l) programs, $(ls "$stage/lib" | wc -l) libraries, sm ${archs% })"
