"""Shared parts of the PyTorch language-model references (bert_mini_torch.py,
gpt_torch.py): dltrain's optimizer setup (AdamW, no-decay patterns on Hugging
Face parameter names), its warm-up schedules, the training loop with the
timing and the metrics lines that bench/lm_bench.sh puts beside dltrain's
metrics.jsonl.
"""
import argparse
import fnmatch
import json
import math
import time

import torch
import torch.nn.functional as F


def common_args(desc):
    ap = argparse.ArgumentParser(description=desc)
    ap.add_argument("--train", required=True, help="shard glob, as data.train")
    ap.add_argument("--val", default="", help="shard glob, as data.val (evaluated after the last step)")
    ap.add_argument("--steps", type=int, default=40, help="optimizer steps (the schedule's total)")
    ap.add_argument("--batch", type=int, default=32, help="sequences per step (dltrain's global batch)")
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--betas", type=float, nargs=2, required=True)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--weight-decay", type=float, required=True)
    ap.add_argument("--no-decay", required=True, help="comma-separated name patterns, as optim.no_decay")
    ap.add_argument("--schedule", choices=["warmup_linear", "warmup_cosine"], required=True)
    ap.add_argument("--warmup", type=int, required=True, help="schedule.warmup_steps")
    ap.add_argument("--clip", type=float, default=1.0, help="train.grad_clip (global norm)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=5, help="steps per metrics line; the first interval is warm-up")
    ap.add_argument("--metrics", default="", help="write JSON lines (step, loss, ..., tokens_per_s) here")
    ap.add_argument("--seed", type=int, default=1)
    return ap


def warmup_factor(kind, step, warmup, total):
    """dltrain's (and Hugging Face's) multiplier of the base lr at `step`
    optimizer steps done: linear warm-up from 0, then linear decay to 0 or a
    half cosine to 0. dltrain's warmup_cosine ignores schedule.min_lr."""
    if step < warmup:
        return step / max(warmup, 1)
    span = max(total - warmup, 1)
    if kind == "warmup_linear":
        return max((total - step) / span, 0.0)
    return max(0.5 * (1 + math.cos(math.pi * (step - warmup) / span)), 0.0)


def make_optimizer(model, a):
    pats = [p.strip() for p in a.no_decay.split(",") if p.strip()]
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if any(fnmatch.fnmatchcase(name, q) for q in pats) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=tuple(a.betas), eps=a.eps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_factor(a.schedule, s, a.warmup, a.steps))
    return opt, sched


def attention(q, k, v, mask, causal, p_drop, training):
    """q, k, v [B, H, T, D]; mask: additive [B, 1, 1, T] or None. The fused
    kernel where this PyTorch has it (2.0 and later), else the plain math."""
    sdpa = getattr(F, "scaled_dot_product_attention", None)
    p = p_drop if training else 0.0
    if sdpa is not None:
        return sdpa(q, k, v, attn_mask=mask, dropout_p=p, is_causal=causal and mask is None)
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s + mask
    if causal:
        T = q.shape[-2]
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return F.dropout(s.softmax(-1), p, training) @ v


def attention_kind():
    return "sdpa" if hasattr(F, "scaled_dot_product_attention") else "math"


def train(model, opt, sched, a, next_batch, step_fn, tokens_per_step, extra_keys):
    """Runs a.steps steps. step_fn(batch) returns (loss tensor, dict of floats
    to average over the interval). Returns (tokens/s after the first log
    interval, seconds per step, metrics lines)."""
    out = open(a.metrics, "w") if a.metrics else None
    lines, sums, n = [], {}, 0
    t_start = t_int = time.perf_counter()
    t_timed = None
    for step in range(1, a.steps + 1):
        batch = next_batch()
        loss, vals = step_fn(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip) if a.clip > 0 else float("nan")
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        vals["loss"] = loss.item()
        for kk, v in vals.items():
            sums[kk] = sums.get(kk, 0.0) + v
        n += 1
        if step % a.log_every == 0 or step == a.steps:
            now = time.perf_counter()
            line = {"step": step}
            for kk in ["loss"] + extra_keys:
                line[kk] = sums[kk] / n
            line.update(lr=lr, grad_norm=float(gnorm), tokens_per_s=n * tokens_per_step / (now - t_int))
            lines.append(line)
            if out:
                out.write(json.dumps(line) + "\n")
                out.flush()
            if t_timed is None:
                t_timed, s_timed = now, step
            sums, n, t_int = {}, 0, now
    t_end = time.perf_counter()
    if out:
        out.close()
    timed = a.steps - s_timed
    if timed > 0:
        return timed * tokens_per_step / (t_end - t_timed), (t_end - t_timed) / timed, lines
    return a.steps * tokens_per_step / (t_end - t_start), (t_end - t_start) / a.steps, lines
