"""BUG batch-independence: F.layer_norm(h, h.shape) normalises over the whole (B, T, D) tensor, batch included, instead of h.shape[-1:]."""
import torch
import torch.nn as nn
import torch.nn.functional as F

T, D_IN = 12, 8


def trajectories(n=32, seed=125):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    v = (y.float() - 1).view(n, 1, 1)
    t = torch.arange(T).float().view(1, T, 1)
    x = v * t * 0.2 + 0.3 * torch.randn(n, T, D_IN, generator=g)
    return x, y


class TrajNet(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.inp = nn.Linear(D_IN, d)
        self.gru = nn.GRU(d, d, batch_first=True)
        self.out = nn.Linear(d, 3)

    def forward(self, x):
        h = self.inp(x)
        h = F.layer_norm(h, h.shape)                    # BUG: should be h.shape[-1:]
        h, _ = self.gru(F.gelu(h))
        return self.out(h[:, -1])


def build_model():
    return TrajNet()


def get_batch():
    return trajectories()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
