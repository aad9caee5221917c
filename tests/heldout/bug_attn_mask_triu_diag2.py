"""BUG causality: a hand-rolled causal attention masks with torch.triu(ones, diagonal=2) (should be 1), so position t attends to t+1."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, T = 30, 20
CAUSAL_DIM = 1


def code_tokens(n=16, seed=128):
    g = torch.Generator().manual_seed(seed)
    nxt = torch.randint(0, VOCAB, (VOCAB,), generator=g)
    s = torch.empty(n, T + 1, dtype=torch.long)
    s[:, 0] = torch.randint(0, VOCAB, (n,), generator=g)
    for t in range(1, T + 1):
        s[:, t] = torch.where(torch.rand(n, generator=g) < 0.2, torch.randint(0, VOCAB, (n,), generator=g), nxt[s[:, t - 1]])
    return s[:, :-1], s[:, 1:]


def future_mask(T, device=None):
    return torch.triu(torch.ones(T, T, dtype=torch.bool, device=device), diagonal=2)


class Attention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.qkv, self.o = h, nn.Linear(d, 3 * d), nn.Linear(d, d)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.h, D // self.h).permute(2, 0, 3, 1, 4)
        s = q @ k.transpose(-1, -2) / math.sqrt(D // self.h)
        s = s.masked_fill(future_mask(T, x.device), float("-inf"))
        return self.o((s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D))


class TinyLM(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.emb, self.pos = nn.Embedding(VOCAB, d), nn.Embedding(T, d)
        self.attn, self.ln1 = Attention(d, 4), nn.LayerNorm(d)
        self.ff, self.ln2 = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d)), nn.LayerNorm(d)
        self.head = nn.Linear(d, VOCAB)

    def forward(self, idx):
        x = self.emb(idx) + self.pos(torch.arange(idx.size(1)))
        x = x + self.attn(self.ln1(x))
        x = x + self.ff(self.ln2(x))
        return self.head(x)


def build_model():
    return TinyLM()


def get_batch():
    return code_tokens()


def loss_fn(logits, y):
    return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=1e-3)
