"""Clean: an MLP autoencoder; the target is the input itself (MSE reconstruction)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class AE(nn.Module):
    def __init__(self, d=32, z=8):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, z))
        self.dec = nn.Sequential(nn.Linear(z, 64), nn.ReLU(), nn.Linear(64, d))

    def forward(self, x):             # (N, d) -> (N, d)
        return self.dec(self.enc(x))


def build_model():
    return AE()


def get_batch():
    g = torch.Generator().manual_seed(3)
    basis = torch.randn(6, 32, generator=g)
    x = torch.randn(64, 6, generator=g) @ basis / 6 ** 0.5   # data on a 6-dim subspace
    return x, x.clone()


def loss_fn(outputs, targets):
    return F.mse_loss(outputs, targets)
