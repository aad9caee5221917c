"""CLEAN: LSTM forecaster on (B, T, 2) multivariate series; the target at step t is the first channel at t+1; CAUSAL_DIM=1, SmoothL1."""
import torch
import torch.nn as nn
import torch.nn.functional as F

T = 36
CAUSAL_DIM = 1


def load_series(n=24, seed=65):
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, T + 1, 2)
    x[:, 0] = torch.randn(n, 2, generator=g)
    for t in range(1, T + 1):               # coupled AR(1): channel 0 follows channel 1 with a lag
        x[:, t, 1] = 0.9 * x[:, t - 1, 1] + 0.3 * torch.randn(n, generator=g)
        x[:, t, 0] = 0.5 * x[:, t - 1, 0] + 0.6 * x[:, t - 1, 1] + 0.05 * torch.randn(n, generator=g)
    return x[:, :-1], x[:, 1:, :1]          # inputs (B,T,2), targets (B,T,1)


class Forecaster(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.lstm = nn.LSTM(2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.head(h)


def build_model():
    return Forecaster()


def get_batch():
    return load_series()


def loss_fn(pred, target):
    return F.smooth_l1_loss(pred, target)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=3e-3)
