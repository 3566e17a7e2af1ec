#!/bin/sh
# Installs every Debian package dltrain needs to build, test and run its jobs.
# Idempotent; run as root on Debian 12. The CUDA toolkit is not a Debian package:
# configure uses /usr/local/cuda when it exists (see README "Build options").
set -eu
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: run as root (apt-get needs it)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
    build-essential autoconf automake libtool pkg-config \
    libopenmpi-dev openmpi-bin \
    libhdf5-dev hdf5-tools \
    libopenblas-dev libdnnl-dev \
    check libsubunit-dev \
    libpng-dev libjpeg-dev zlib1g-dev libcjson-dev \
    python3 \
    slurmctld slurmd slurm-client munge \
    dataset-fashion-mnist
