"""CLEAN: MLP with BatchNorm1d trained on small batches of 16 (BatchNorm mixes the batch in train mode only), Adam."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def wine_like(n=16, seed=88):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 11, generator=g) * torch.linspace(0.5, 3.0, 11) + torch.linspace(-2, 5, 11)
    y = ((x[:, 0] - 0.5 * x[:, 3] + 0.2 * x[:, 7]) > 0.4).long() + (x[:, 10] > 5).long()
    return x, y          # raw features: the model's first BatchNorm standardises them


class BNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.BatchNorm1d(11), nn.Linear(11, 64), nn.BatchNorm1d(64), nn.ReLU(),
                                 nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 3))

    def forward(self, x):
        return self.net(x)


def build_model():
    return BNNet()


def get_batch():
    return wine_like()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
