#!/usr/bin/python3
"""PyTorch reference for bench/resnet20_fmnist.sh: the model, optimizer,
schedule, batch and augmentation of jobs/resnet20_fmnist.toml, on the same
shards (h5py), so dltrain's speed and accuracy have a baseline.

  bench/reference/resnet20_fmnist_torch.py --steps 200 --threads 2      # speed only
  bench/reference/resnet20_fmnist_torch.py --epochs 30 --threads 2      # full schedule, test accuracy

ResNet-20 (He et al. 2015 §4.2, option A shortcuts) on 1x28x28; SGD lr 0.1,
momentum 0.9, Nesterov, weight decay 5e-4 except biases and batch norm;
per-step cosine decay over the run; batch 64 (the job's per-rank batch; the
job's 2 ranks make 128: --batch 128 for the same global batch in one
process); random flip and a 2-pixel padded random crop; mean 0.2860, std 0.3530.
Prints one line: images/s after warm-up steps, and test accuracy if evaluated.
"""
import argparse
import glob
import math
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride, self.extra = stride, planes - inp

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        sc = x
        if self.stride != 1 or self.extra:
            sc = F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return F.relu(y + sc)


class ResNet20(nn.Module):
    def __init__(self, in_c=1, classes=10, n=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_c, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, inp = [], 16
        for s in range(3):
            for b in range(n):
                layers.append(Block(inp, 16 << s, 2 if s > 0 and b == 0 else 1))
                inp = 16 << s
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)
        for m in self.modules():  # as dltrain's builders (torchvision's resnet init)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


def load(pattern):
    xs, ys = [], []
    for path in sorted(glob.glob(pattern)):
        with h5py.File(path, "r") as f:
            xs.append(f["images"][:])
            ys.append(f["labels"][:])
    x = np.concatenate(xs).transpose(0, 3, 1, 2)  # NHWC -> NCHW
    return torch.from_numpy(x), torch.from_numpy(np.concatenate(ys).astype(np.int64))


def augment(x, pad, gen):
    """Random horizontal flip and a crop of the zero-padded image, per sample."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    return torch.stack([xp[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default="data/fmnist/train-*.h5")
    ap.add_argument("--test", default="data/fmnist/test-*.h5")
    ap.add_argument("--steps", type=int, default=200, help="optimizer steps (ignored with --epochs)")
    ap.add_argument("--epochs", type=int, default=0, help="full schedule over this many epochs, then evaluate")
    ap.add_argument("--warmup", type=int, default=10, help="steps left out of the timing")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(1)
    xtr, ytr = load(a.train)
    mean, std = 0.2860, 0.3530
    model = ResNet20()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]  # biases and BN
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0}],
                          lr=0.1, momentum=0.9, nesterov=True)
    per_epoch = len(ytr) // a.batch
    total = a.epochs * per_epoch if a.epochs else a.steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    model.train()
    step, t0 = 0, None
    while step < total:
        perm = torch.randperm(len(ytr), generator=gen)
        for b in range(per_epoch):
            if step == total:
                break
            if step == a.warmup:
                t0 = time.perf_counter()
            idx = perm[b * a.batch:(b + 1) * a.batch]
            x = augment(xtr[idx].float() / 255.0, 2, gen)
            x = (x - mean) / std
            loss = F.cross_entropy(model(x), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
    t = time.perf_counter() - t0 if t0 is not None else float("nan")
    timed = total - min(a.warmup, total)
    line = "pytorch %s: %d steps of batch %d, %d threads: %.1f images/s (%.3f s/step), final loss %.4f" % (
        torch.__version__, total, a.batch, a.threads, timed * a.batch / t, t / max(timed, 1), loss.item())
    if a.epochs:
        xte, yte = load(a.test)
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(yte), 500):
                x = (xte[i:i + 500].float() / 255.0 - mean) / std
                correct += (model(x).argmax(1) == yte[i:i + 500]).sum().item()
        line += ", test top-1 %.4f" % (correct / len(yte))
    print(line, flush=True)


if __name__ == "__main__":
    main()
