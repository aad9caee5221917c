"""CLEAN: TCN forecaster with left-padded dilated causal Conv1d (B, C, T); predicts x[t+1] at every t, MSE; CAUSAL_DIM=2."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

T = 48
CAUSAL_DIM = 2


def series(n=32, seed=15):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T + 1).float()
    f = 0.1 + 0.3 * torch.rand(n, 1, generator=g)
    ph = 2 * math.pi * torch.rand(n, 1, generator=g)
    s = torch.sin(f * t + ph) + 0.5 * torch.sin(2.3 * f * t) + 0.05 * torch.randn(n, T + 1, generator=g)
    return s[:, :-1].unsqueeze(1), s[:, 1:].unsqueeze(1)       # (B, 1, T) each: target = next value


class CausalConv(nn.Module):
    def __init__(self, cin, cout, k, dilation):
        super().__init__()
        self.pad = (k - 1) * dilation
        self.conv = nn.Conv1d(cin, cout, k, dilation=dilation)

    def forward(self, x):
        return self.conv(F.pad(x, (self.pad, 0)))             # pad on the left only


class TCN(nn.Module):
    def __init__(self, ch=24, k=3, levels=4):
        super().__init__()
        self.inp = CausalConv(1, ch, k, 1)
        self.res = nn.ModuleList([CausalConv(ch, ch, k, 2 ** i) for i in range(1, levels)])
        self.out = nn.Conv1d(ch, 1, 1)

    def forward(self, x):
        h = F.relu(self.inp(x))
        for layer in self.res:
            h = h + F.relu(layer(h))
        return self.out(h)


def build_model():
    return TCN()


def get_batch():
    return series()


def loss_fn(pred, target):
    return F.mse_loss(pred, target)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=2e-3)
