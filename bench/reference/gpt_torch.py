#!/usr/bin/python3
"""PyTorch reference for bench/lm_bench.sh: a GPT-2 causal language model as
dltrain's gpt* task and Hugging Face's GPT2LMHeadModel compute it, on the same
text-tokens shards (h5py), with the optimizer and schedule of
jobs/gpt_small.toml.

  bench/reference/gpt_torch.py --train 'data/linux-doc-gpt/train-*.h5' \\
      --val 'data/linux-doc-gpt/val-*.h5' --steps 40 --batch 32 --seq-len 128 --threads 2 \\
      --lr 1e-3 --betas 0.9 0.95 --weight-decay 0.1 --no-decay '*.bias,*ln_*' \\
      --schedule warmup_cosine --warmup 10

Model (src/models/gpt.c, parameter names as Hugging Face's; Conv1D weights
[in, out]): pre-LN blocks, learned positions (1024), tanh GELU, LayerNorm eps
1e-5, dropout 0.1 (embeddings, attention, residual branches), final ln_f,
logits through the token embeddings transposed (tied). Weights N(0, 0.02^2),
the residual projections c_proj N(0, (0.02 / sqrt(2 layers))^2), biases 0.
Data: the shards' token streams concatenated (glob order) and cut into
windows of seq_len + 1 tokens (window i starts at token i x seq_len); the
loss is the mean cross-entropy per target token. Validation: every window of
the val shards, perplexity = exp(mean token loss). Prints one line.
"""
import glob
import math
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import lm_common

SIZES = {"gpt-tiny": (2, 128, 2), "gpt-mini": (4, 256, 4), "gpt-small": (6, 512, 8), "gpt2": (12, 768, 12)}


class Conv1D(nn.Module):
    def __init__(self, cin, cout, std):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cin, cout) * std)
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


class Attn(nn.Module):
    def __init__(self, c, heads, std, proj_std, p):
        super().__init__()
        self.c_attn, self.c_proj = Conv1D(c, 3 * c, std), Conv1D(c, c, proj_std)
        self.heads, self.p = heads, p

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2)
                   for t in self.c_attn(x).split(C, dim=2))
        a = lm_common.attention(q, k, v, None, True, self.p, self.training)
        return F.dropout(self.c_proj(a.transpose(1, 2).reshape(B, T, C)), self.p, self.training)


class MLP(nn.Module):
    def __init__(self, c, std, proj_std, p):
        super().__init__()
        self.c_fc, self.c_proj, self.p = Conv1D(c, 4 * c, std), Conv1D(4 * c, c, proj_std), p

    def forward(self, x):
        return F.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")), self.p, self.training)


class Block(nn.Module):
    def __init__(self, c, heads, std, proj_std, p):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(c, eps=1e-5), nn.LayerNorm(c, eps=1e-5)
        self.attn, self.mlp = Attn(c, heads, std, proj_std, p), MLP(c, std, proj_std, p)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, vocab, n, c, heads, p):
        super().__init__()
        std, proj_std = 0.02, 0.02 / math.sqrt(2 * n)
        self.wte, self.wpe = nn.Embedding(vocab, c), nn.Embedding(1024, c)
        nn.init.normal_(self.wte.weight, 0, std)
        nn.init.normal_(self.wpe.weight, 0, std)
        self.h = nn.ModuleList(Block(c, heads, std, proj_std, p) for _ in range(n))
        self.ln_f, self.p = nn.LayerNorm(c, eps=1e-5), p


class GPT2LMHeadModel(nn.Module):
    def __init__(self, vocab, n, c, heads, p=0.1):
        super().__init__()
        self.transformer = Transformer(vocab, n, c, heads, p)

    def forward(self, ids):
        t = self.transformer
        x = F.dropout(t.wte(ids) + t.wpe.weight[: ids.shape[1]], t.p, self.training)
        for b in t.h:
            x = b(x)
        return t.ln_f(x) @ t.wte.weight.t()


def load(pattern, T):
    paths = sorted(glob.glob(pattern))
    if not paths:
        sys.exit("no shard matches %s" % pattern)
    toks, vocab = [], None
    for path in paths:
        with h5py.File(path, "r") as f:
            toks.append(f["tokens"][:])
            vocab = len(f["vocab"])
    stream = torch.from_numpy(np.concatenate(toks).astype(np.int64))
    n = (len(stream) - 1) // T
    return stream, n, vocab


def window(stream, idx, T):
    return torch.stack([stream[i * T:i * T + T + 1] for i in idx.tolist()])


def main():
    ap = lm_common.common_args(__doc__.split("\n")[0])
    ap.add_argument("--arch", default="gpt-mini", choices=sorted(SIZES))
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.1)
    a = ap.parse_args()
    T = a.seq_len
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    stream, N, vocab = load(a.train, T)
    n, c, h = SIZES[a.arch]
    model = GPT2LMHeadModel(vocab, n, c, h, a.dropout)
    opt, sched = lm_common.make_optimizer(model, a)
    gen = torch.Generator().manual_seed(a.seed)
    state = {"perm": torch.randperm(N, generator=gen), "pos": 0}

    def next_batch():
        if state["pos"] + a.batch > N:
            state["perm"], state["pos"] = torch.randperm(N, generator=gen), 0
        idx = state["perm"][state["pos"]:state["pos"] + a.batch]
        state["pos"] += a.batch
        return window(stream, idx, T)

    def step_fn(w):
        logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), w[:, 1:].reshape(-1))
        return loss, {}

    model.train()
    tps, sps, lines = lm_common.train(model, opt, sched, a, next_batch, step_fn, a.batch * T, [])
    msg = "pytorch %s (%s attention): %s, %d steps of %d x %d, %d threads: %.0f tokens/s (%.3f s/step), loss %.4f" % (
        torch.__version__, lm_common.attention_kind(), a.arch, a.steps, a.batch, T, a.threads, tps, sps,
        lines[-1]["loss"])
    if a.val:
        vs, vn, _ = load(a.val, T)
        model.eval()
        s = 0.0
        with torch.no_grad():
            for i in range(0, vn, 32):
                w = window(vs, torch.arange(i, min(i + 32, vn)), T)
                s += F.cross_entropy(model(w[:, :-1]).reshape(-1, vocab), w[:, 1:].reshape(-1),
                                     reduction="sum").item()
        msg += ", val loss %.4f, perplexity %.2f (%d windows)" % (s / (vn * T), math.exp(s / (vn * T)), vn)
    print(msg, flush=True)


if __name__ == "__main__":
    main()
