"""BUG batch-independence: a 'FeatureScaler' module standardises with the current batch's mean/std in every mode, so each eval prediction depends on the rest of the batch."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def credit(n=64, seed=123):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=g) * torch.linspace(1, 50, 12) + torch.linspace(0, 300, 12)
    z = (x - torch.linspace(0, 300, 12)) / torch.linspace(1, 50, 12)
    y = ((z[:, 0] + z[:, 1] - z[:, 2]) > 0).long()
    return x, y


class FeatureScaler(nn.Module):
    def forward(self, x):
        return (x - x.mean(0, keepdim=True)) / (x.std(0, keepdim=True) + 1e-5)


def build_model():
    return nn.Sequential(FeatureScaler(), nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 2))


def get_batch():
    return credit()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
