"""BUG causality: a TCN pads (k-1)*d on both sides and then chomps the first (k-1)*d outputs instead of the last, so each output sees the future."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

T = 40
CAUSAL_DIM = 2


def load_curve(n=24, seed=129):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T + 1).float()
    s = torch.sin(0.25 * t + 2 * math.pi * torch.rand(n, 1, generator=g)) + 0.1 * torch.randn(n, T + 1, generator=g)
    return s[:, :-1].unsqueeze(1), s[:, 1:].unsqueeze(1)


class Chomp(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.n = n

    def forward(self, x):
        return x[:, :, self.n:]                    # BUG: should drop the tail, x[:, :, :-self.n]


class TemporalBlock(nn.Module):
    def __init__(self, cin, cout, k, d):
        super().__init__()
        pad = (k - 1) * d
        self.net = nn.Sequential(nn.Conv1d(cin, cout, k, padding=pad, dilation=d), Chomp(pad), nn.ReLU())
        self.down = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        return F.relu(self.net(x) + self.down(x))


class TCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(TemporalBlock(1, 16, 3, 1), TemporalBlock(16, 16, 3, 2), TemporalBlock(16, 16, 3, 4))
        self.out = nn.Conv1d(16, 1, 1)

    def forward(self, x):
        return self.out(self.blocks(x))


def build_model():
    return TCN()


def get_batch():
    return load_curve()


def loss_fn(pred, y):
    return F.mse_loss(pred, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
