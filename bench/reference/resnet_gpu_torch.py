#!/usr/bin/python3
"""PyTorch reference for bench/gpu_bench: the same models (ResNet-50 v1.5,
CIFAR ResNet-20 with shortcut A), batch and SGD step on random data, with the
usual speed settings: channels-last, bf16 autocast (AMP) and torch.compile
(--no-compile / --fp32 turn them off). Prints images/s."""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Bottleneck(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        out = planes * 4
        self.c1, self.b1 = nn.Conv2d(inp, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.c2, self.b2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.c3, self.b3 = nn.Conv2d(planes, out, 1, bias=False), nn.BatchNorm2d(out)
        self.down = None
        if stride != 1 or inp != out:
            self.down = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = F.relu(self.b2(self.c2(y)))
        y = self.b3(self.c3(y))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class ResNet50(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        layers, inp = [], 64
        for planes, n, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(n):
                layers.append(Bottleneck(inp, planes, stride if i == 0 else 1))
                inp = planes * 4
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(2048, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


class Basic(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.c2, self.b2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes)
        self.pad = planes - inp
        self.stride = stride

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        s = x
        if self.stride != 1 or self.pad:  # option A: subsample, zero-pad the channels
            s = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(y + s)


class ResNet20(nn.Module):
    def __init__(self, in_c=1, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_c, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        layers, inp = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                layers.append(Basic(inp, planes, stride if i == 0 else 1))
                inp = planes
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet50", choices=["resnet50", "resnet20"])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--fp32", action="store_true", help="no autocast, no TF32")
    ap.add_argument("--tf32", action="store_true", help="no autocast, TF32 for matmuls and convolutions "
                    "(dltrain's precision = \"tf32\")")
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args()
    dev = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32 or not a.fp32
    if a.arch == "resnet50":
        model, shape, classes = ResNet50(), (a.batch, 3, 224, 224), 1000
    else:
        model, shape, classes = ResNet20(), (a.batch, 1, 28, 28), 10
    model = model.to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(shape, device=dev).to(memory_format=torch.channels_last)
    y = torch.randint(0, classes, (a.batch,), device=dev)
    fwd = model
    amp = not (a.fp32 or a.tf32)
    mode = "tf32" if a.tf32 else "fp32" if a.fp32 else "bf16 autocast"
    if not a.no_compile:
        try:
            fwd = torch.compile(model)
            mode += ", torch.compile"
        except Exception as e:  # an old or broken inductor: eager
            print("torch.compile unavailable (%s): eager" % e)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(fwd(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(5):  # warm-up, compilation, cudnn autotuning
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    torch.cuda.synchronize()
    t = time.perf_counter() - t0
    print("pytorch %s %s on %s, batch %d, channels-last, %s: %.2f ms/step, %.1f images/s (loss %.4f)" % (
        torch.__version__, a.arch, torch.cuda.get_device_name(0), a.batch, mode, 1e3 * t / a.steps,
        a.batch * a.steps / t, loss.item()))


if __name__ == "__main__":
    main()
