"""A small healthy classifier the bad targets below break one way each."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def build_model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def get_batch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 8, generator=g)
    y = torch.randint(0, 4, (32,), generator=g)
    return x, y


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
