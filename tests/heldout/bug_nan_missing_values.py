"""BUG batch-sanity: a tabular loader leaves missing lab values as NaN (no imputation); a few NaNs poison the whole batch's loss."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def lab_results(n=64, seed=160):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 14, generator=g)
    y = (x[:, 0] + x[:, 3] > 0).long()
    missing = torch.rand(n, 14, generator=g) < 0.03
    x[missing] = float("nan")                     # what pandas gives for empty cells
    return x, y


def build_model():
    return nn.Sequential(nn.Linear(14, 32), nn.ReLU(), nn.Linear(32, 2))


def get_batch():
    return lab_results()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
