#!/usr/bin/python3
"""PyTorch reference for bench/cpu_table.sh's ResNet-50 row: torchvision's
resnet50 (v1.5, as dltrain's resnet50) trained on the CPU with one random batch
of 3x224x224 images, SGD lr 0.1 momentum 0.9 weight decay 1e-4, label
smoothing 0.1 (jobs/resnet50_imagenet.toml's optimizer), fp32, eager.

  bench/reference/resnet50_cpu_torch.py --batch 32 --steps 5 --warmup 1 --threads 2

Prints one line: images/s over the steps after the warm-up ones, and the
process's peak resident set (getrusage)."""
import argparse
import resource
import time

import torch
import torch.nn.functional as F
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5, help="timed steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch's default)")
    ap.add_argument("--size", type=int, default=224)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = torchvision.models.resnet50(num_classes=1000)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, 1000, (a.batch,))

    def step():
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    t = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("pytorch %s resnet50 cpu, batch %d, %dx%d, %d threads: %.3f s/step, %.2f images/s "
          "(loss %.4f, peak RSS %.0f MiB)" % (torch.__version__, a.batch, a.size, a.size,
                                                torch.get_num_threads(), t / a.steps,
                                                a.batch * a.steps / t, loss.item(), rss))


if __name__ == "__main__":
    main()
