"""CLEAN: Siamese network on pairs (a, b) with a same/different label, contrastive margin loss on F.pairwise_distance (eps-safe)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

MARGIN = 1.0


def signature_pairs(n=48, d=24, seed=33):
    g = torch.Generator().manual_seed(seed)
    writers = torch.randn(8, d, generator=g) * 1.5
    wa = torch.randint(0, 8, (n,), generator=g)
    same = torch.rand(n, generator=g) < 0.5
    wb = torch.where(same, wa, (wa + torch.randint(1, 8, (n,), generator=g)) % 8)
    a = writers[wa] + 0.5 * torch.randn(n, d, generator=g)
    b = writers[wb] + 0.5 * torch.randn(n, d, generator=g)
    return (a, b), same.float()


class Siamese(nn.Module):
    def __init__(self, d=24):
        super().__init__()
        self.tower = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 16))

    def forward(self, a, b):
        return F.pairwise_distance(self.tower(a), self.tower(b))     # (B,)


def build_model():
    return Siamese()


def get_batch():
    return signature_pairs()


def loss_fn(dist, same):
    return (same * dist.pow(2) + (1 - same) * F.relu(MARGIN - dist).pow(2)).mean()


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
