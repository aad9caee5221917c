"""BUG batch-independence: BatchNorm1d(track_running_stats=False) in a tabular model normalises with batch statistics in eval too (predictions depend on the batch)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def insurance(n=64, seed=126):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=g)
    y = ((x[:, 0] * 1.5 + x[:, 1] - x[:, 2] * x[:, 3]) > 0).long()
    return x, y


def make_mlp(widths=(10, 64, 64), bn_kwargs=None):
    bn_kwargs = bn_kwargs or {}
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b, **bn_kwargs), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], 2))


def build_model():
    return make_mlp(bn_kwargs={"track_running_stats": False, "momentum": None})


def get_batch():
    return insurance()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
