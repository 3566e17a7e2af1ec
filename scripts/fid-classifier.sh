#!/bin/sh
# The classifier FID-FMNIST needs (docs/metrics.md): trains ResNet-20 on
# Fashion-MNIST with jobs/resnet20_fmnist.toml into runs/fid_resnet20 on one
# process and prints the checkpoint's path, the value for a GAN job's
# gan.fid_classifier. FID_STEPS (default 2000) shortens or lengthens the run
# (the job's full schedule is 30 epochs: bench/resnet20_fmnist.sh); FID
# values are comparable only under the same checkpoint.
#   scripts/fid-classifier.sh            # after dlprep fashion-mnist --out data/fmnist
#   dltrain jobs/gan_mlp_fmnist.toml --set gan.fid_classifier="$(scripts/fid-classifier.sh | tail -1)"
set -eu
cd "$(dirname "$0")/.."
DLTRAIN=${DLTRAIN:-./build/dltrain}
[ -f data/fmnist/train-00000-of-00001.h5 ] || ./build/dlprep fashion-mnist --out data/fmnist >&2
"$DLTRAIN" jobs/resnet20_fmnist.toml --set model.name=fid_resnet20 --set checkpoint.dir=runs \
    --set train.steps="${FID_STEPS:-2000}" --set checkpoint.keep_last=1 >&2
ckpt=$(readlink -f runs/fid_resnet20/latest)
[ -f "$ckpt" ] || { echo "fid-classifier.sh: no checkpoint in runs/fid_resnet20" >&2; exit 1; }
echo "$ckpt"
