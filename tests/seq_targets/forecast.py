"""Hourly demand with a temperature covariate, windowed for a GRU forecaster."""
import math

import torch
import torch.nn as nn


def hourly(n=24, length=49, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length).float()
    phase = torch.rand(n, 1, generator=g) * 2 * math.pi
    demand = torch.sin(2 * math.pi * t / 24 + phase) + 0.1 * torch.randn(n, length, generator=g)
    temp = torch.cos(2 * math.pi * t / 24 + phase) + 0.1 * torch.randn(n, length, generator=g)
    return torch.stack([demand, temp], -1)        # (n, length, 2): feature 0 is the demand


def windows(series, horizon=1):
    """(inputs, targets): targets are the demand `horizon` steps after each input step."""
    x = series[:, :-horizon] if horizon else series
    y = series[:, horizon:, 0] if horizon else series[:, :, 0].clone()
    return x, y


class GRUForecaster(nn.Module):
    def __init__(self, features=2, d=32):
        super().__init__()
        self.rnn = nn.GRU(features, d, batch_first=True)
        self.head = nn.Linear(d, 1)

    def forward(self, x):
        return self.head(self.rnn(x)[0]).squeeze(-1)
