"""BUG update-ratio: SGD weight_decay=5e-1 (meant 5e-4) with momentum: the decay term shrinks every weight ~25% per step and dominates the update."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def spectra(n=64, seed=149):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 6, (n,), generator=g)
    x = 0.5 * torch.randn(n, 48, generator=g)
    x[torch.arange(n).unsqueeze(1), (y * 8).unsqueeze(1) + torch.arange(4)] += 1.5
    return x, y


def build_model():
    return nn.Sequential(nn.Linear(48, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 6))


def get_batch():
    return spectra()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-1)
