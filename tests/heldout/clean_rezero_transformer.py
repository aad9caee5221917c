"""CLEAN: ReZero transformer classifier: each residual branch is scaled by a learned scalar alpha initialised to 0 (Bachlechner et al. 2020)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

T, D_IN, N_CLASSES = 16, 8, 3


def events(n=32, seed=93):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, T, D_IN, generator=g)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)
    for i in range(n):
        p = torch.randperm(T, generator=g)[:2]
        x[i, p, int(y[i])] += 3.0
    return x, y


class ReZeroLayer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))
        self.alpha = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        x = x + self.alpha * self.attn(x, x, x, need_weights=False)[0]
        return x + self.alpha * self.ff(x)


class ReZeroClassifier(nn.Module):
    def __init__(self, d=32, heads=4, layers=3):
        super().__init__()
        self.inp = nn.Linear(D_IN, d)
        self.layers = nn.Sequential(*[ReZeroLayer(d, heads) for _ in range(layers)])
        self.out = nn.Linear(d, N_CLASSES)

    def forward(self, x):
        return self.out(self.layers(self.inp(x)).mean(1))


def build_model():
    return ReZeroClassifier()


def get_batch():
    return events()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
