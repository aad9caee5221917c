"""BUG lr-schedule: ExponentialLR(gamma=0.95) meant per epoch but stepped per batch: after 200 of 20,000 steps the LR is ~3e-5 of its start."""
import torch
import torch.nn as nn
import torch.nn.functional as F

EPOCHS, BATCHES_PER_EPOCH = 100, 200
TOTAL_STEPS = EPOCHS * BATCHES_PER_EPOCH


def batch(n=64, seed=150):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=g)
    return x, (x[:, :4].sum(1) > 0).long()


def build_model():
    return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 2))


def get_batch():
    return batch()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def make_scheduler(opt):
    return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.95)
