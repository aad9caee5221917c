"""Bug (nan-source): a siamese distance model computes ||f(a) - f(b)|| as
sqrt(sum of squares). Pairs whose two inputs are identical have distance exactly 0: the
forward is finite, but d sqrt/dx at 0 is infinite and the gradient becomes NaN."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Siamese(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))

    def forward(self, a, b):                                  # (N, 16), (N, 16)
        diff = self.f(a) - self.f(b)                          # (N, 8)
        return diff.pow(2).sum(1).sqrt()                      # BUG: sqrt at 0; add eps inside the sqrt


def build_model():
    return Siamese()


def get_batch():
    g = torch.Generator().manual_seed(28)
    a = torch.randn(64, 16, generator=g)
    b = torch.randn(64, 16, generator=g)
    same = torch.arange(64) % 4 == 0
    b[same] = a[same]                                         # positive pairs: the same item twice
    return (a, b), same.float()


def loss_fn(dist, same):
    margin = 1.0                                              # contrastive loss
    return (same * dist.pow(2) + (1 - same) * F.relu(margin - dist).pow(2)).mean()
