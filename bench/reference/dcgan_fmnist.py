#!/usr/bin/python3
"""PyTorch reference for bench/gan_fmnist.sh: the DCGAN of jobs/dcgan_fmnist.toml
(model.arch = "dcgan") on the same Fashion-MNIST shards (h5py), so dltrain's
GAN speed has a baseline.

  bench/reference/dcgan_fmnist.py --iters 50 --batch 128 --threads 2

One process with the job's GLOBAL batch (2 ranks x 64 = 128; dltrain's
data-parallel step averages the ranks' gradients, which is the gradient of the
global batch except for batch norm's per-rank statistics, a choice of the
DCGAN design that does not change the work done). Same model, init, loss,
optimizer and iteration as dltrain:

  generator, 28x28 (src/models/dcgan.c): z [N, 100] as 1x1, ConvT(100, 4ngf,
    7, 1, 0) -> 7x7, BN, ReLU, ConvT(4ngf, 2ngf, 4, 2, 1) -> 14, BN, ReLU,
    ConvT(2ngf, 1, 4, 2, 1) -> 28, tanh; ngf 64; no biases
  discriminator: Conv(1, ndf, 4, 2, 1) -> 14, LReLU(0.2), Conv(ndf, 2ndf, 4, 2,
    1) -> 7, BN, LReLU(0.2), Conv(2ndf, 1, 7, 1, 0) -> one logit; ndf 64
  init: conv weights N(0, 0.02), BN scales N(1, 0.02), BN shifts 0
  images (x/255 - 0.5)/0.5, shuffled each epoch, last partial batch dropped
  iteration: D: BCE(D(x), 1) + BCE(D(G(z).detach()), 0), Adam step; G: fresh z',
    BCE(D(G(z')), 1), Adam step; Adam 2e-4, betas (0.5, 0.999), both networks

Prints one line: real images/s (the batch of the discriminator's update per
iteration) after warm-up iterations, seconds per iteration and the last losses.
"""
import argparse
import glob
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def generator(z_dim, ngf):
    return nn.Sequential(
        nn.ConvTranspose2d(z_dim, 4 * ngf, 7, 1, 0, bias=False), nn.BatchNorm2d(4 * ngf), nn.ReLU(True),
        nn.ConvTranspose2d(4 * ngf, 2 * ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ngf), nn.ReLU(True),
        nn.ConvTranspose2d(2 * ngf, 1, 4, 2, 1, bias=False), nn.Tanh())


def discriminator(ndf):
    return nn.Sequential(
        nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2, True),
        nn.Conv2d(2 * ndf, 1, 7, 1, 0, bias=False))


def load(pattern):
    xs = []
    for path in sorted(glob.glob(pattern)):
        with h5py.File(path, "r") as f:
            xs.append(f["images"][:])
    if not xs:
        raise SystemExit("no shards match " + pattern)
    return torch.from_numpy(np.concatenate(xs).transpose(0, 3, 1, 2).copy())  # NHWC -> NCHW, uint8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default="data/fmnist/train-*.h5")
    ap.add_argument("--iters", type=int, default=50, help="GAN iterations (one D and one G update each)")
    ap.add_argument("--warmup", type=int, default=5, help="iterations left out of the timing")
    ap.add_argument("--batch", type=int, default=128, help="real images per iteration (the job's global batch)")
    ap.add_argument("--z-dim", type=int, default=100)
    ap.add_argument("--width", type=int, default=64, help="ngf = ndf")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(1)
    xtr = load(a.train)
    g, d = generator(a.z_dim, a.width), discriminator(a.width)
    g.apply(init)
    d.apply(init)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(a.batch), torch.zeros(a.batch)
    per_epoch = len(xtr) // a.batch
    it, t0 = 0, None
    while it < a.iters:
        perm = torch.randperm(len(xtr), generator=gen)
        for b in range(per_epoch):
            if it == a.iters:
                break
            if it == a.warmup:
                t0 = time.perf_counter()
            x = (xtr[perm[b * a.batch:(b + 1) * a.batch]].float() / 255.0 - 0.5) / 0.5
            fake = g(torch.randn(a.batch, a.z_dim, 1, 1, generator=gen))
            loss_d = bce(d(x).view(-1), ones) + bce(d(fake.detach()).view(-1), zeros)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            loss_g = bce(d(g(torch.randn(a.batch, a.z_dim, 1, 1, generator=gen))).view(-1), ones)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            it += 1
    t = time.perf_counter() - t0 if t0 is not None else float("nan")
    timed = a.iters - min(a.warmup, a.iters)
    print("pytorch %s: %d iterations of batch %d, %d threads: %.1f images/s (%.3f s/iteration), "
          "d_loss %.4f g_loss %.4f" % (torch.__version__, a.iters, a.batch, a.threads, timed * a.batch / t,
                                       t / max(timed, 1), loss_d.item(), loss_g.item()), flush=True)


if __name__ == "__main__":
    main()
