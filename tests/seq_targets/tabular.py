"""A tabular regression / classification dataset (house features) and small models."""
import torch
import torch.nn as nn


def houses(n=48, features=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    price = x @ torch.linspace(-1, 1, features) + 0.1 * torch.randn(n, generator=g)
    return x, price                                    # price is (N,)


def classes(n=48, features=8, c=5, seed=0):
    x, price = houses(n, features, seed)
    return x, torch.bucketize(price, torch.linspace(-1.5, 1.5, c - 1))


class Regressor(nn.Module):
    def __init__(self, features=8, d=32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, d), nn.BatchNorm1d(d), nn.ReLU(), nn.Linear(d, 1))

    def forward(self, x):
        return self.net(x)                             # (N, 1), as nn.Linear gives it


class Classifier(nn.Module):
    def __init__(self, features=8, c=5, d=32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, d), nn.ReLU(), nn.Linear(d, c))

    def forward(self, x):
        return self.net(x)
