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

With --fid-every K --fid-out DIR it also writes, after every K-th iteration,
--fid-n generated images as a shard set DIR/iter-<8 digits>/train-00000-of-00001.h5
(docs/formats.md, image-classification, one class "generated") for
`dltrain fid` to score (bench/gan_fmnist.sh: FID-FMNIST of both generators):
the generator in evaluation mode (batch norm's running statistics, as dltrain
samples), noise from its own fixed seed, pixels round((v + 1) / 2 * 255)
clamped to 0..255. That time is left out of the timing.
"""
import argparse
import glob
import os
import time
import zlib

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


def write_shard(path, images):
    """images uint8 [N, H, W, C] as an image-classification shard (docs/formats.md):
    written to path.tmp, renamed once complete; CRC-32 over images, labels,
    class names (each string's bytes and a NUL)."""
    n = images.shape[0]
    labels = np.zeros(n, dtype="<i4")
    names = ["generated"]
    crc = zlib.crc32(np.ascontiguousarray(images).tobytes(), 0)
    crc = zlib.crc32(labels.tobytes(), crc)
    for s in names:
        crc = zlib.crc32(s.encode() + b"\0", crc)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        rows = max(1, 65536 // int(np.prod(images.shape[1:])))
        f.create_dataset("images", data=images, dtype="u1", chunks=(min(rows, n),) + images.shape[1:],
                         maxshape=(None,) + images.shape[1:], shuffle=True, compression="gzip", compression_opts=4)
        f.create_dataset("labels", data=labels, chunks=(min(16384, n),), maxshape=(None,), shuffle=True,
                         compression="gzip", compression_opts=4)
        f.create_dataset("class_names", data=names, dtype=h5py.string_dtype("utf-8"))
        f.attrs["format"] = "dltrain-shard"
        f.attrs["version"] = np.int32(1)
        f.attrs["kind"] = "image-classification"
        f.attrs["num_samples"] = np.int64(n)
        f.attrs["source"] = "bench/reference/dcgan_fmnist.py generator samples"
        f.attrs["checksum_algorithm"] = "crc32"
        f.attrs["checksum"] = np.uint32(crc)
    os.replace(tmp, path)


def dump_samples(g, z_dim, n, out_dir, it):
    """n generator samples (evaluation mode, fixed noise seed) as a shard set."""
    g.eval()
    zg = torch.Generator().manual_seed(12345)
    xs = []
    with torch.no_grad():
        for i in range(0, n, 100):
            m = min(100, n - i)
            v = g(torch.randn(m, z_dim, 1, 1, generator=zg))
            xs.append(torch.round(((v + 1) / 2).clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())
    g.train()
    d = os.path.join(out_dir, "iter-%08d" % it)
    os.makedirs(d, exist_ok=True)
    write_shard(os.path.join(d, "train-00000-of-00001.h5"), np.concatenate(xs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default="data/fmnist/train-*.h5")
    ap.add_argument("--iters", type=int, default=50, help="GAN iterations (one D and one G update each)")
    ap.add_argument("--warmup", type=int, default=5, help="iterations left out of the timing")
    ap.add_argument("--batch", type=int, default=128, help="real images per iteration (the job's global batch)")
    ap.add_argument("--z-dim", type=int, default=100)
    ap.add_argument("--width", type=int, default=64, help="ngf = ndf")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fid-every", type=int, default=0, help="write generated shards every K iterations")
    ap.add_argument("--fid-n", type=int, default=10000, help="images per generated shard set")
    ap.add_argument("--fid-out", default="", help="folder of the generated shard sets")
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
            if a.fid_every > 0 and a.fid_out and it % a.fid_every == 0:
                t_dump = time.perf_counter()
                dump_samples(g, a.z_dim, a.fid_n, a.fid_out, it)
                if t0 is not None:
                    t0 += time.perf_counter() - t_dump
    t = time.perf_counter() - t0 if t0 is not None else float("nan")
    timed = a.iters - min(a.warmup, a.iters)
    print("pytorch %s: %d iterations of batch %d, %d threads: %.1f images/s (%.3f s/iteration), "
          "d_loss %.4f g_loss %.4f" % (torch.__version__, a.iters, a.batch, a.threads, timed * a.batch / t,
                                       t / max(timed, 1), loss_d.item(), loss_g.item()), flush=True)


if __name__ == "__main__":
    main()
