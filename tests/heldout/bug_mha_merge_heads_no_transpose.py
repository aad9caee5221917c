"""BUG causality: multi-head attention merges heads with out.reshape(B, T, D) straight from (B, H, T, dh) (missing transpose(1, 2)): rows mix time steps, future included."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, T = 28, 16
CAUSAL_DIM = 1


def logs(n=16, seed=133):
    g = torch.Generator().manual_seed(seed)
    table = torch.randint(0, VOCAB, (VOCAB,), generator=g)
    s = torch.empty(n, T + 1, dtype=torch.long)
    s[:, 0] = torch.randint(0, VOCAB, (n,), generator=g)
    for t in range(1, T + 1):
        s[:, t] = table[s[:, t - 1]]
    return s[:, :-1], s[:, 1:]


class MHA(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.dh = h, d // h
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.register_buffer("causal", torch.tril(torch.ones(T, T)).bool())

    def forward(self, x):
        B, T_, D = x.shape
        heads = lambda z: z.view(B, T_, self.h, self.dh).transpose(1, 2)      # (B, H, T, dh)
        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.dh)
        att = att.masked_fill(~self.causal[:T_, :T_], float("-inf")).softmax(-1)
        out = att @ v                                                       # (B, H, T, dh)
        return self.o(out.reshape(B, T_, D))                                # BUG: needs .transpose(1, 2) first


class LM(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.emb, self.pos = nn.Embedding(VOCAB, d), nn.Embedding(T, d)
        self.ln, self.attn = nn.LayerNorm(d), MHA(d, 4)
        self.head = nn.Linear(d, VOCAB)

    def forward(self, idx):
        x = self.emb(idx) + self.pos(torch.arange(idx.size(1)))
        return self.head(x + self.attn(self.ln(x)))


def build_model():
    return LM()


def get_batch():
    return logs()


def loss_fn(logits, y):
    return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
