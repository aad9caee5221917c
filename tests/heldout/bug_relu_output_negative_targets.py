"""BUG overfit-batch: a regressor ends with ReLU ('prices are positive') but its targets are standardised, half of them negative: those can never be fitted."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def energy_use(n=64, seed=141):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = 2 * x[:, 0] + x[:, 1] * x[:, 2] + 0.1 * torch.randn(n, generator=g)
    y = (y - y.mean()) / y.std()                    # standardised targets in the pipeline
    return x, y.unsqueeze(1)


def build_model():
    return nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1),
                         nn.ReLU())                  # BUG: output non-negative


def get_batch():
    return energy_use()


def loss_fn(pred, y):
    return F.mse_loss(pred, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
