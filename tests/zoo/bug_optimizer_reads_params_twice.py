"""Planted bug: make_optimizer walks `params` twice to split weight decay by tensor kind. Training
passes model.parameters(), an iterator, so the second walk finds nothing and the norms and biases
are never optimised. Given a list (as a test might pass) the same function is correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def build_model():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.GroupNorm(4, 16), nn.ReLU(),
                         nn.Conv2d(16, 16, 3, padding=1), nn.GroupNorm(4, 16), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))


def get_batch():
    g = torch.Generator().manual_seed(3)
    y = torch.randint(0, 5, (32,), generator=g)
    x = torch.randn(32, 3, 12, 12, generator=g) + y.view(-1, 1, 1, 1).float() * 0.3
    return x, y


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    weights = (p for p in params if p.dim() > 1)
    others = (p for p in params if p.dim() <= 1)        # BUG: `params` is spent by the line above
    return torch.optim.AdamW([{"params": list(weights), "weight_decay": 0.05},
                              {"params": list(others), "weight_decay": 0.0}], lr=1e-3)
