"""CLEAN: tabular MLP with LayerNorm and dropout, AdamW with decay on matrices only, per-step warm-up then cosine to 10%."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

N_FEATURES, N_CLASSES = 24, 6
TOTAL_STEPS = 3000
WARMUP = 200


def _make_split(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, N_FEATURES, generator=g)
    w = torch.randn(N_FEATURES, N_CLASSES, generator=torch.Generator().manual_seed(7))
    logits = x @ w + 0.5 * torch.tanh(2 * x[:, :N_CLASSES])
    return x, logits.argmax(1)


class TabularMLP(nn.Module):
    def __init__(self, d_in, d_hidden, n_out, p_drop=0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, d_hidden), nn.LayerNorm(d_hidden), nn.GELU(), nn.Dropout(p_drop),
            nn.Linear(d_hidden, d_hidden), nn.LayerNorm(d_hidden), nn.GELU(), nn.Dropout(p_drop),
            nn.Linear(d_hidden, n_out),
        )

    def forward(self, x):
        return self.net(x)


def build_model():
    return TabularMLP(N_FEATURES, 128, N_CLASSES)


def get_batch():
    return _make_split(64, seed=0)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    params = list(params)
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                              {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95))


def make_scheduler(opt):
    def factor(step):
        if step < WARMUP:
            return (step + 1) / WARMUP
        progress = min(1.0, (step - WARMUP) / max(1, TOTAL_STEPS - WARMUP))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))
    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
