#!/bin/sh
# From a fresh Debian 12 machine (as root): install dependencies, build, convert
# Fashion-MNIST and train ResNet-20 on 2 MPI ranks on the CPU (a short part of
# jobs/resnet20_fmnist.toml), printing progress and the final test accuracy.
# QUICKSTART_STEPS overrides the number of optimizer steps.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
[ -f data/fmnist/train-00000-of-00001.h5 ] || ./build/dlprep fashion-mnist --out data/fmnist
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
./build/dltrain --version
mpirun -np 2 --oversubscribe --bind-to none ./build/dltrain jobs/resnet20_fmnist.toml \
    --set train.steps="${QUICKSTART_STEPS:-300}" --set model.name=resnet20_fmnist_quick \
    --set eval.every_steps=0
