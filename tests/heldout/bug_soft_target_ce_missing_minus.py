"""BUG init-loss: hand-written soft-target cross-entropy (for mixed/soft labels) without the minus sign: the optimiser maximises the true loss."""
import torch
import torch.nn as nn
import torch.nn.functional as F

N_CLASSES = 10


def soft_labelled(n=64, d=20, seed=110):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = (x @ torch.randn(d, N_CLASSES, generator=g)).argmax(1)
    soft = F.one_hot(y, N_CLASSES).float() * 0.9 + 0.1 / N_CLASSES
    return x, soft


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, N_CLASSES))


def get_batch():
    return soft_labelled()


def soft_cross_entropy(logits, soft_targets):
    return (soft_targets * F.log_softmax(logits, dim=-1)).sum(-1).mean()


def loss_fn(logits, soft_targets):
    return soft_cross_entropy(logits, soft_targets)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
