"""BUG silent-broadcast|loss-input: hand-written MSE where the (N,1) prediction meets an (N,) target and broadcasts to (N,N)."""
import torch
import torch.nn as nn


def housing(n=64, seed=104):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = 1.5 * x[:, 0] - x[:, 1] + torch.tanh(x[:, 2] * x[:, 3]) + 0.1 * torch.randn(n, generator=g)
    return x, (y - y.mean()) / y.std()          # (N,)


class PriceModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, x):
        return self.mlp(x)                        # (N, 1)


def build_model():
    return PriceModel()


def get_batch():
    return housing()


def mean_squared_error(pred, target):
    diff = pred - target
    return (diff * diff).mean()


def loss_fn(pred, target):
    return mean_squared_error(pred, target)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
