"""BUG update-ratio: make_optimizer splits `params` (a generator) into decay / no-decay lists; the first comprehension exhausts it, so biases and norms are never optimised."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def tabular(n=64, seed=148):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=g) * 3 + 1
    y = ((x[:, 0] - 1) * (x[:, 1] - 1) > 0).long() + (x[:, 2] > 2).long()
    return x, y


def build_model():
    return nn.Sequential(nn.BatchNorm1d(16), nn.Linear(16, 64), nn.LayerNorm(64), nn.ReLU(),
                         nn.Linear(64, 64), nn.LayerNorm(64), nn.ReLU(), nn.Linear(64, 3))


def get_batch():
    return tabular()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]          # BUG: params is already exhausted -> []
    groups = [{"params": decay, "weight_decay": 0.01}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=1e-3)
