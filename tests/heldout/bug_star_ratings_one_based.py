"""BUG batch-sanity: review star ratings 1..5 used directly as class ids for a 5-way head (valid ids are 0..4)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

N_CLASSES = 5


def reviews(n=48, seed=159):
    g = torch.Generator().manual_seed(seed)
    stars = torch.randint(1, 6, (n,), generator=g)           # 1..5 as stored in the CSV
    x = torch.randn(n, 30, generator=g)
    x[:, 0] += stars.float() - 3
    return x, stars                                           # BUG: stars - 1


def build_model():
    return nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, N_CLASSES))


def get_batch():
    return reviews()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
