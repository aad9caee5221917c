"""BUG eval-mode: attention helper applies F.dropout(weights, p) without training=self.training, so attention dropout stays on in eval."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

T, D_IN, N_CLASSES = 12, 10, 4


def scaled_dot_attention(q, k, v, dropout_p=0.0):
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    w = F.dropout(w, p=dropout_p)                       # BUG: training defaults to True
    return w @ v


def readings(n=32, seed=138):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    x = torch.randn(n, T, D_IN, generator=g)
    x[torch.arange(n), :, y] += 1.2
    return x, y


class AttnClassifier(nn.Module):
    def __init__(self, d=32, p_attn=0.2):
        super().__init__()
        self.inp = nn.Linear(D_IN, d)
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.p_attn = p_attn
        self.out = nn.Linear(d, N_CLASSES)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        h = h + scaled_dot_attention(self.q(h), self.k(h), self.v(h), self.p_attn)
        return self.out(h.mean(1))


def build_model():
    return AttnClassifier()


def get_batch():
    return readings()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
