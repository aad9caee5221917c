"""BUG reproducibility: stochastic depth decides which residual blocks to skip with Python's unseeded random.random(): training steps differ between runs with the same seed."""
import random

import torch
import torch.nn as nn
import torch.nn.functional as F


def signals(n=32, seed=155):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 20, generator=g)
    return x, (x @ torch.randn(20, 5, generator=g)).argmax(1)


class ResBlock(nn.Module):
    def __init__(self, d, drop_prob):
        super().__init__()
        self.f = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
        self.drop_prob = drop_prob

    def forward(self, x):
        if self.training and random.random() < self.drop_prob:
            return x
        return x + self.f(x)


class DeepResMLP(nn.Module):
    def __init__(self, d=48, depth=6):
        super().__init__()
        self.inp = nn.Linear(20, d)
        self.blocks = nn.Sequential(*[ResBlock(d, 0.5 * i / depth) for i in range(depth)])
        self.out = nn.Linear(d, 5)

    def forward(self, x):
        return self.out(self.blocks(self.inp(x)))


def build_model():
    return DeepResMLP()


def get_batch():
    return signals()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
