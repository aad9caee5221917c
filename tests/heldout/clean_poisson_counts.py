"""CLEAN: count regression (bike rentals per hour) with PoissonNLLLoss(log_input=True): the model outputs the log-rate."""
import math

import torch
import torch.nn as nn


def rentals(n=128, seed=58):
    g = torch.Generator().manual_seed(seed)
    hour = torch.randint(0, 24, (n,), generator=g).float()
    temp = torch.randn(n, generator=g)
    rain = (torch.rand(n, generator=g) < 0.2).float()
    x = torch.stack([torch.sin(2 * math.pi * hour / 24), torch.cos(2 * math.pi * hour / 24), temp, rain], 1)
    rate = torch.exp(1.5 + 0.8 * x[:, 0] + 0.5 * temp - 1.0 * rain)
    return x, torch.poisson(rate, generator=g)


class RateNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)          # log-rate, (N,)


def build_model():
    return RateNet()


def get_batch():
    return rentals()


loss_fn = nn.PoissonNLLLoss(log_input=True)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=5e-3)
