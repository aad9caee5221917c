"""CLEAN: churn model whose forward ends in a sigmoid (probabilities), trained with nn.BCELoss (which wants probabilities)."""
import torch
import torch.nn as nn


def customers(n=96, seed=74):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 9, generator=g)
    p = torch.sigmoid(1.5 * x[:, 0] - x[:, 1] + 0.8 * x[:, 2] * x[:, 3])
    return x, (torch.rand(n, generator=g) < p).float().unsqueeze(1)


class ChurnModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(9, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)                  # (N, 1) probabilities


def build_model():
    return ChurnModel()


def get_batch():
    return customers()


loss_fn = nn.BCELoss()


def make_optimizer(params):
    return torch.optim.Adam(params, lr=3e-3)
