"""BUG grad-flow: a 'quantisation-aware' MLP rounds hidden activations with torch.round (no straight-through estimator): every layer before it gets zero gradient."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def keyword_spotting(n=64, seed=114):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 40, generator=g)
    y = (x[:, :8].sum(1) > 0).long() + (x[:, 8:16].sum(1) > 1).long()
    return x, y


class FakeQuant(nn.Module):
    def __init__(self, bits=4, scale=0.25):
        super().__init__()
        self.levels, self.scale = 2 ** bits - 1, scale

    def forward(self, x):
        return torch.clamp(torch.round(x / self.scale), 0, self.levels) * self.scale


class QuantMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(40, 64)
        self.q1 = FakeQuant()
        self.fc2 = nn.Linear(64, 64)
        self.q2 = FakeQuant()
        self.fc3 = nn.Linear(64, 3)

    def forward(self, x):
        x = self.q1(F.relu(self.fc1(x)))
        x = self.q2(F.relu(self.fc2(x)))
        return self.fc3(x)


def build_model():
    return QuantMLP()


def get_batch():
    return keyword_spotting()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
