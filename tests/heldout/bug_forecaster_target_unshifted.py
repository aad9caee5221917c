"""BUG target-offset: a GRU demand forecaster's windowing returns y = x[:, :, 0] (the current value) instead of the value one step ahead."""
import torch
import torch.nn as nn
import torch.nn.functional as F

T, HORIZON = 30, 1
CAUSAL_DIM = 1


def make_windows(series, T):
    xs, ys = [], []
    for start in range(0, series.size(1) - T - HORIZON, 7):
        xs.append(series[:, start:start + T])
        ys.append(series[:, start:start + T, 0])                 # BUG: start + HORIZON : start + T + HORIZON
    return torch.cat(xs), torch.cat(ys).unsqueeze(-1)


def demand(seed=136):
    g = torch.Generator().manual_seed(seed)
    L = 120
    t = torch.arange(L).float()
    base = torch.sin(2 * 3.14159 * t / 7) + 0.3 * torch.randn(4, L, generator=g).cumsum(1) * 0.1
    temp = torch.cos(2 * 3.14159 * t / 30).expand(4, L)
    return torch.stack([base, temp], -1)                         # (stores, L, 2)


def build_model():
    class Forecaster(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(2, 32, batch_first=True)
            self.out = nn.Linear(32, 1)

        def forward(self, x):
            return self.out(self.gru(x)[0])
    return Forecaster()


def get_batch():
    x, y = make_windows(demand(), T)
    return x[:32], y[:32]


def loss_fn(pred, y):
    return F.mse_loss(pred, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=3e-3)
