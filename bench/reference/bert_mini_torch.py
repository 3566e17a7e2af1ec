#!/usr/bin/python3
"""PyTorch reference for bench/lm_bench.sh: BERT pre-training (masked LM +
next-sentence prediction) as dltrain's bert-* task and Hugging Face's
BertForPreTraining compute it, on the same bert-pretraining shards (h5py),
with the optimizer and schedule of jobs/bert_mini.toml.

  bench/reference/bert_mini_torch.py --train 'data/linux-doc-bert/train-*.h5' \\
      --val 'data/linux-doc-bert/val-*.h5' --steps 40 --batch 32 --threads 2 \\
      --lr 5e-4 --betas 0.9 0.999 --eps 1e-6 --weight-decay 0.01 \\
      --no-decay '*.bias,*LayerNorm*' --schedule warmup_linear --warmup 10

Model (src/models/bert.c, parameter names as Hugging Face's): post-LN encoder,
learned positions (512) and token types (2), GELU (erf), LayerNorm eps 1e-12,
dropout 0.1 (hidden and attention), tanh pooler on [CLS], MLM head dense +
GELU + LayerNorm + the word embeddings transposed (tied) + bias, over every
position as BertForPreTraining does; NSP head on the pooled output. Weights
N(0, 0.02^2), biases 0. Loss: mean MLM cross-entropy over the masked tokens
plus mean NSP cross-entropy. One process holds dltrain's global batch
(ranks x data.batch_size). Prints one line: tokens/s (sequences x L) after
the first log interval, the last interval's loss, and the validation losses.
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

SIZES = {"bert-tiny": (2, 128, 2), "bert-mini": (4, 256, 4), "bert-small": (4, 512, 8),
         "bert-medium": (8, 512, 8), "bert-base": (12, 768, 12)}


class SelfAttention(nn.Module):
    def __init__(self, c, heads, p):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
        self.heads, self.p = heads, p

    def forward(self, x, mask):
        B, T, C = x.shape
        q, k, v = (f(x).view(B, T, self.heads, C // self.heads).transpose(1, 2)
                   for f in (self.query, self.key, self.value))
        a = lm_common.attention(q, k, v, mask, False, self.p, self.training)
        return a.transpose(1, 2).reshape(B, T, C)


class DenseNorm(nn.Module):
    """BertSelfOutput / BertOutput: dense, dropout, residual, LayerNorm."""

    def __init__(self, cin, c, p):
        super().__init__()
        self.dense, self.LayerNorm, self.p = nn.Linear(cin, c), nn.LayerNorm(c, eps=1e-12), p

    def forward(self, h, x):
        return self.LayerNorm(x + F.dropout(self.dense(h), self.p, self.training))


class Attention(nn.Module):
    def __init__(self, c, heads, p):
        super().__init__()
        self.self = SelfAttention(c, heads, p)
        self.output = DenseNorm(c, c, p)

    def forward(self, x, mask):
        return self.output(self.self(x, mask), x)


class Intermediate(nn.Module):
    def __init__(self, c, ff):
        super().__init__()
        self.dense = nn.Linear(c, ff)

    def forward(self, x):
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, c, heads, ff, p):
        super().__init__()
        self.attention = Attention(c, heads, p)
        self.intermediate = Intermediate(c, ff)
        self.output = DenseNorm(ff, c, p)

    def forward(self, x, mask):
        x = self.attention(x, mask)
        return self.output(self.intermediate(x), x)


class Embeddings(nn.Module):
    def __init__(self, vocab, c, p):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, c)
        self.position_embeddings = nn.Embedding(512, c)
        self.token_type_embeddings = nn.Embedding(2, c)
        self.LayerNorm, self.p = nn.LayerNorm(c, eps=1e-12), p

    def forward(self, ids, types):
        x = self.word_embeddings(ids) + self.position_embeddings.weight[: ids.shape[1]] \
            + self.token_type_embeddings(types)
        return F.dropout(self.LayerNorm(x), self.p, self.training)


class Encoder(nn.Module):
    def __init__(self, n, c, heads, ff, p):
        super().__init__()
        self.layer = nn.ModuleList(Layer(c, heads, ff, p) for _ in range(n))


class Pooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c, c)


class Bert(nn.Module):
    def __init__(self, vocab, n, c, heads, p):
        super().__init__()
        self.embeddings = Embeddings(vocab, c, p)
        self.encoder = Encoder(n, c, heads, 4 * c, p)
        self.pooler = Pooler(c)


class Transform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(c, c), nn.LayerNorm(c, eps=1e-12)


class Predictions(nn.Module):
    def __init__(self, vocab, c):
        super().__init__()
        self.transform = Transform(c)
        self.bias = nn.Parameter(torch.zeros(vocab))


class Heads(nn.Module):
    def __init__(self, vocab, c):
        super().__init__()
        self.predictions = Predictions(vocab, c)
        self.seq_relationship = nn.Linear(c, 2)


class BertForPreTraining(nn.Module):
    def __init__(self, vocab, n, c, heads, p=0.1):
        super().__init__()
        self.bert = Bert(vocab, n, c, heads, p)
        self.cls = Heads(vocab, c)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, ids, types, lengths):
        T = ids.shape[1]
        keep = torch.arange(T)[None, :] < lengths[:, None]
        mask = torch.zeros(keep.shape).masked_fill(~keep, torch.finfo(torch.float32).min)[:, None, None, :]
        x = self.bert.embeddings(ids, types)
        for layer in self.bert.encoder.layer:
            x = layer(x, mask)
        pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
        t = self.cls.predictions.transform
        h = t.LayerNorm(F.gelu(t.dense(x)))
        mlm = h @ self.bert.embeddings.word_embeddings.weight.t() + self.cls.predictions.bias
        return mlm, self.cls.seq_relationship(pooled)


def load(pattern):
    names = ["input_ids", "token_type_ids", "lengths", "masked_lm_positions", "masked_lm_ids",
             "masked_lm_weights", "next_sentence_labels"]
    parts = {k: [] for k in names}
    vocab = None
    paths = sorted(glob.glob(pattern))
    if not paths:
        sys.exit("no shard matches %s" % pattern)
    for path in paths:
        with h5py.File(path, "r") as f:
            for k in names:
                parts[k].append(f[k][:])
            vocab = len(f["vocab"])
    d = {k: np.concatenate(v) for k, v in parts.items()}
    N, L = d["input_ids"].shape
    labels = np.full((N, L), -100, dtype=np.int64)
    rows = np.repeat(np.arange(N), d["masked_lm_positions"].shape[1])
    keep = d["masked_lm_weights"].reshape(-1) > 0
    labels[rows[keep], d["masked_lm_positions"].reshape(-1)[keep]] = d["masked_lm_ids"].reshape(-1)[keep]
    t = lambda k, dt=torch.int64: torch.from_numpy(d[k].astype(np.int64)).to(dt)
    return dict(ids=t("input_ids"), types=t("token_type_ids"), lengths=t("lengths"),
                labels=torch.from_numpy(labels), nsp=t("next_sentence_labels")), vocab, L


def losses(model, b):
    mlm, nsp = model(b["ids"], b["types"], b["lengths"])
    lm = F.cross_entropy(mlm.reshape(-1, mlm.shape[-1]), b["labels"].reshape(-1), ignore_index=-100)
    ln = F.cross_entropy(nsp, b["nsp"])
    return lm, ln, mlm, nsp


def main():
    ap = lm_common.common_args(__doc__.split("\n")[0])
    ap.add_argument("--arch", default="bert-mini", choices=sorted(SIZES))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    data, vocab, L = load(a.train)
    N = len(data["ids"])
    n, c, h = SIZES[a.arch]
    model = BertForPreTraining(vocab, n, c, h)
    opt, sched = lm_common.make_optimizer(model, a)
    gen = torch.Generator().manual_seed(a.seed)
    state = {"perm": torch.randperm(N, generator=gen), "pos": 0}

    def next_batch():
        if state["pos"] + a.batch > N:
            state["perm"], state["pos"] = torch.randperm(N, generator=gen), 0
        idx = state["perm"][state["pos"]:state["pos"] + a.batch]
        state["pos"] += a.batch
        return {k: v[idx] for k, v in data.items()}

    def step_fn(b):
        lm, ln, mlm, nsp = losses(model, b)
        sel = b["labels"] != -100
        acc = (mlm.detach().argmax(-1)[sel] == b["labels"][sel]).float().mean().item()
        return lm + ln, {"mlm_loss": lm.item(), "nsp_loss": ln.item(), "mlm_accuracy": acc}

    model.train()
    tps, sps, lines = lm_common.train(model, opt, sched, a, next_batch, step_fn, a.batch * L,
                                      ["mlm_loss", "nsp_loss", "mlm_accuracy"])
    msg = "pytorch %s (%s attention): %s, %d steps of %d x %d, %d threads: %.0f tokens/s (%.3f s/step), loss %.4f" % (
        torch.__version__, lm_common.attention_kind(), a.arch, a.steps, a.batch, L, a.threads, tps, sps,
        lines[-1]["loss"])
    if a.val:
        val, _, _ = load(a.val)
        model.eval()
        sm = sn = masked = hits = 0.0
        with torch.no_grad():
            for i in range(0, len(val["ids"]), 64):
                b = {k: v[i:i + 64] for k, v in val.items()}
                lm, ln, mlm, _ = losses(model, b)
                sel = b["labels"] != -100
                k = sel.sum().item()
                sm += lm.item() * k
                masked += k
                hits += (mlm.argmax(-1)[sel] == b["labels"][sel]).sum().item()
                sn += ln.item() * len(b["ids"])
        nv = len(val["ids"])
        msg += ", val loss %.4f (mlm %.4f, nsp %.4f, mlm_acc %.4f)" % (
            sm / masked + sn / nv, sm / masked, sn / nv, hits / masked)
    print(msg, flush=True)


if __name__ == "__main__":
    main()
