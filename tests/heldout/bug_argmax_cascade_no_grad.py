"""BUG grad-flow: a two-stage cascade feeds stage 1's argmax (as an embedding index) into stage 2: argmax has no gradient, so stage 1 never learns."""
import torch
import torch.nn as nn
import torch.nn.functional as F

N_COARSE, N_FINE = 4, 12


def products(n=64, seed=116):
    g = torch.Generator().manual_seed(seed)
    fine = torch.randint(0, N_FINE, (n,), generator=g)
    x = torch.randn(n, 24, generator=g)
    x[torch.arange(n), fine] += 2.5
    return x, fine


class Cascade(nn.Module):
    def __init__(self):
        super().__init__()
        self.coarse = nn.Sequential(nn.Linear(24, 32), nn.ReLU(), nn.Linear(32, N_COARSE))
        self.coarse_emb = nn.Embedding(N_COARSE, 16)
        self.fine = nn.Sequential(nn.Linear(24 + 16, 64), nn.ReLU(), nn.Linear(64, N_FINE))

    def forward(self, x):
        coarse_id = self.coarse(x).argmax(-1)                  # hard routing decision
        return self.fine(torch.cat([x, self.coarse_emb(coarse_id)], -1))


def build_model():
    return Cascade()


def get_batch():
    return products()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
