"""CLEAN: SimCLR-style encoder on two augmented views; InfoNCE over the batch in the loss (the loss mixes the batch, the model does not)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

TAU = 0.2


def two_views(n=32, d=32, seed=23):
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(n, d, generator=g)
    v1 = base + 0.3 * torch.randn(n, d, generator=g)
    v2 = base * (1 + 0.1 * torch.randn(n, d, generator=g)) + 0.3 * torch.randn(n, d, generator=g)
    labels = torch.randint(0, 5, (n,), generator=g)   # the dataset has labels; SSL ignores them
    return (v1, v2), labels


class SimCLR(nn.Module):
    def __init__(self, d=32, h=128, z=64):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        self.projector = nn.Sequential(nn.Linear(h, h), nn.ReLU(), nn.Linear(h, z))

    def embed(self, x):
        return F.normalize(self.projector(self.encoder(x)), dim=1)

    def forward(self, v1, v2):
        return self.embed(v1), self.embed(v2)


def build_model():
    return SimCLR()


def get_batch():
    return two_views()


def loss_fn(outputs, _labels):
    z1, z2 = outputs
    logits = z1 @ z2.t() / TAU                         # (B, B): positives on the diagonal
    target = torch.arange(z1.size(0), device=z1.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
