#!/usr/bin/python3
"""torchvision reference for bench/maskrcnn_synth.sh: Mask R-CNN on the
detection-synth shards (dlprep detection-synth: Fashion-MNIST items on
canvases, 11 classes with the background), read with h5py, so dltrain's
Mask R-CNN task has a baseline for speed and box / mask mAP.

  bench/reference/maskrcnn_synth.py --data data/detsynth --iters 200 --batch 4 \\
      --threads 2 --out /tmp/ref

Model: torchvision's MaskRCNN with a ResNet-FPN backbone of --depth (18 or
50, random init: nothing downloads) and the keys of a dltrain [maskrcnn]
table, each defaulting to torchvision's value: --norm frozen|bn|group
(FrozenBatchNorm2d as torchvision with a pretrained backbone, BatchNorm2d, or
GroupNorm with 32 groups, dltrain's norm = "group"), --trainable stages
(trainable_backbone_layers), --fpn-channels (256), --representation (the box
head's MLP width, 1024), --mask-channels (the mask head's conv width, 256),
--anchor-sizes (32,64,128,256,512; ratios 0.5/1/2), --rpn-pre-nms and
--rpn-post-nms (training: 2000 / 2000; test: torchvision's 1000 / 1000, as
dltrain's inference), --roi-batch (RoIs sampled per image, 512 at 25 %
positives), num_classes from the shards, the transform's min_size / max_size
(--min-size, --max-size; the canvas size by default, so images are not
resized), 28x28 masks, score 0.05, NMS 0.5, 100 detections.
Schedule: SGD (--lr 0.02, momentum 0.9, weight decay 1e-4) with a linear
warm-up over --warmup-iters from lr / 1000 (torchvision's reference),
multiplied by --schedule constant|cosine (cosine: to 0 over --iters, as
dltrain's cosine with t_max = the run's steps), gradients clipped to global
norm --grad-clip (0: none), --iters iterations in all of --batch images
(shuffled each epoch, the last partial batch dropped, horizontal flips with
probability 0.5 when --flip).
Images/s counts the iterations after --skip (start-up) iterations.

Evaluation: every val image through model.eval(); the detections (boxes
mapped back to the canvas by torchvision's transform, masks pasted and
thresholded at 0.5) written as COCO results: OUT/results_bbox.json (image_id,
category_id, bbox, score) and OUT/results_segm.json (image_id, category_id,
segmentation as uncompressed RLE, score), which `dltrain coco-eval --gt
DATA/instances_val.json --dt ... --iou bbox|segm` scores with COCOeval's
rules. Prints one line "torchvision: X images/s, Y s/iteration, loss Z".
"""
import argparse
import glob
import json
import os
import time

import h5py
import numpy as np
import torch
import math

import torchvision
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import misc as misc_nn_ops
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool


def load(pattern):
    items = []
    names = None
    for path in sorted(glob.glob(pattern)):
        with h5py.File(path, "r") as f:
            imgs, boxes, classes = f["images"][:], f["boxes"][:], f["classes"][:]
            masks, nb, sizes, ids = f["masks"][:], f["num_boxes"][:], f["image_sizes"][:], f["image_ids"][:]
            if names is None:
                names = [s.decode() if isinstance(s, bytes) else str(s) for s in f["class_names"][:]]
        for i in range(len(imgs)):
            h, w = int(sizes[i][0]), int(sizes[i][1])
            n = int(nb[i])
            items.append({
                "image": torch.from_numpy(imgs[i, :h, :w]).permute(2, 0, 1).float() / 255.0,
                "boxes": torch.from_numpy(boxes[i, :n].copy()),
                "labels": torch.from_numpy(classes[i, :n].astype(np.int64)),
                "masks": torch.from_numpy(masks[i, :n, :h, :w].copy()),
                "image_id": int(ids[i]),
            })
    if not items:
        raise SystemExit(f"no shards match {pattern}")
    return items, names


def flip(it):
    w = it["image"].shape[-1]
    b = it["boxes"].clone()
    b[:, 0], b[:, 2] = w - it["boxes"][:, 2], w - it["boxes"][:, 0]
    return {"image": it["image"].flip(-1), "boxes": b, "labels": it["labels"],
            "masks": it["masks"].flip(-1), "image_id": it["image_id"]}


def rle(mask):
    """uncompressed COCO RLE of a 0/1 mask: column-major runs starting with 0s"""
    flat = mask.T.reshape(-1).astype(np.uint8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [len(flat)]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def build(a, num_classes, min_size, max_size):
    """torchvision's maskrcnn_resnet50_fpn put together from its parts, so that
    the widths, anchors, proposal counts and normalisation follow the flags"""
    norm = {"frozen": misc_nn_ops.FrozenBatchNorm2d, "bn": torch.nn.BatchNorm2d,
            "group": lambda c: torch.nn.GroupNorm(32, c)}[a.norm]
    body = getattr(torchvision.models, f"resnet{a.depth}")(weights=None, norm_layer=norm)
    # trainable_backbone_layers as torchvision's _resnet_fpn_extractor counts them
    train = ["layer4", "layer3", "layer2", "layer1", "conv1"][:a.trainable]
    if a.trainable == 5:
        train.append("bn1")
    for name, p in body.named_parameters():
        if not any(name.startswith(t) for t in train):
            p.requires_grad_(False)
    c1 = body.inplanes // 8  # layer1's output channels: 64 (ResNet-18/34) or 256
    backbone = BackboneWithFPN(body, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
                               [c1, 2 * c1, 4 * c1, 8 * c1], a.fpn_channels,
                               extra_blocks=LastLevelMaxPool())
    sizes = tuple((float(x),) for x in a.anchor_sizes.split(","))
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    f, r, m = a.fpn_channels, a.representation, a.mask_channels
    # num_classes is the predictors' (MaskRCNN refuses it beside them)
    return MaskRCNN(backbone, num_classes=None, min_size=min_size, max_size=max_size,
                    rpn_anchor_generator=anchors, rpn_pre_nms_top_n_train=a.rpn_pre_nms,
                    rpn_post_nms_top_n_train=a.rpn_post_nms, box_batch_size_per_image=a.roi_batch,
                    box_head=TwoMLPHead(f * 7 * 7, r), box_predictor=FastRCNNPredictor(r, num_classes),
                    mask_head=MaskRCNNHeads(f, (m, m, m, m), 1),
                    mask_predictor=MaskRCNNPredictor(m, m, num_classes))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--skip", type=int, default=5)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--depth", type=int, default=18)
    ap.add_argument("--norm", choices=["frozen", "bn", "group"], default="frozen")
    ap.add_argument("--trainable", type=int, default=5)
    ap.add_argument("--fpn-channels", type=int, default=256)
    ap.add_argument("--representation", type=int, default=1024)
    ap.add_argument("--mask-channels", type=int, default=256)
    ap.add_argument("--anchor-sizes", default="32,64,128,256,512")
    ap.add_argument("--rpn-pre-nms", type=int, default=2000)
    ap.add_argument("--rpn-post-nms", type=int, default=2000)
    ap.add_argument("--roi-batch", type=int, default=512)
    ap.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    ap.add_argument("--grad-clip", type=float, default=0.0)
    ap.add_argument("--min-size", type=int, default=0)
    ap.add_argument("--max-size", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--warmup-iters", type=int, default=100)
    ap.add_argument("--flip", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-limit", type=int, default=0, help="val images evaluated (0: all)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)

    train, names = load(os.path.join(a.data, "train-*.h5"))
    val, _ = load(os.path.join(a.data, "val-*.h5"))
    canvas = max(max(it["image"].shape[1:]) for it in train)
    min_size, max_size = a.min_size or canvas, a.max_size or canvas
    model = build(a, len(names), min_size, max_size)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=a.lr, momentum=0.9, weight_decay=1e-4)
    warm = a.warmup_iters  # as dltrain: a warm-up longer than the run never ends

    def factor(it):
        w = 1.0 if it >= warm else 1e-3 * (1 - it / warm) + it / warm
        return w * ((1 + math.cos(math.pi * it / a.iters)) / 2 if a.schedule == "cosine" else 1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)

    g = torch.Generator().manual_seed(a.seed)
    model.train()
    order, pos, t0, loss = [], 0, None, float("nan")
    for it in range(a.iters):
        if it == a.skip:
            t0 = time.perf_counter()
        if pos + a.batch > len(order):
            order, pos = torch.randperm(len(train), generator=g).tolist(), 0
        batch = [train[i] for i in order[pos:pos + a.batch]]
        pos += a.batch
        if a.flip:
            batch = [flip(b) if torch.rand(1, generator=g).item() < 0.5 else b for b in batch]
        losses = model([b["image"] for b in batch],
                       [{"boxes": b["boxes"], "labels": b["labels"], "masks": b["masks"]} for b in batch])
        total = sum(losses.values())
        opt.zero_grad()
        total.backward()
        if a.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, a.grad_clip)
        opt.step()
        sched.step()
        loss = total.item()
        if it % 20 == 0:
            print(f"iter {it}: loss {loss:.4f} " +
                  " ".join(f"{k} {v.item():.4f}" for k, v in losses.items()), flush=True)
    dt = time.perf_counter() - t0 if t0 is not None else float("nan")
    timed = a.iters - a.skip
    ips = timed * a.batch / dt if timed > 0 else float("nan")
    print(f"torchvision: {ips:.2f} images/s, {dt / max(timed, 1):.4f} s/iteration, loss {loss:.4f}",
          flush=True)

    model.eval()
    boxes_out, segm_out = [], []
    todo = val[:a.eval_limit] if a.eval_limit > 0 else val
    t1 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(todo), a.batch):
            chunk = todo[s:s + a.batch]
            for it, det in zip(chunk, model([c["image"] for c in chunk])):
                for k in range(len(det["scores"])):
                    x1, y1, x2, y2 = det["boxes"][k].tolist()
                    common = {"image_id": it["image_id"], "category_id": int(det["labels"][k]),
                              "score": float(det["scores"][k])}
                    boxes_out.append(dict(common, bbox=[x1, y1, x2 - x1, y2 - y1]))
                    m = (det["masks"][k, 0] > 0.5).numpy()
                    segm_out.append(dict(common, segmentation=rle(m)))
    print(f"torchvision eval: {len(todo) / (time.perf_counter() - t1):.2f} images/s, "
          f"{len(boxes_out)} detections", flush=True)
    with open(os.path.join(a.out, "results_bbox.json"), "w") as f:
        json.dump(boxes_out, f)
    with open(os.path.join(a.out, "results_segm.json"), "w") as f:
        json.dump(segm_out, f)


if __name__ == "__main__":
    main()
