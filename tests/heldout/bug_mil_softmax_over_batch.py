"""BUG batch-independence: attention-MIL pooling takes the softmax over dim 0 (the bags of the batch) instead of dim 1 (the instances of a bag)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

K, D = 10, 16


def bags(n=32, seed=124):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, K, D, generator=g)
    y = (torch.rand(n, generator=g) < 0.5).float()
    for i in range(n):
        if y[i]:
            x[i, int(torch.randint(0, K, (1,), generator=g)), :4] += 3.0
    return x, y


class AttnPool(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(h, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, h):                          # (B, K, h)
        a = torch.softmax(self.score(h), dim=0)    # BUG: dim=1
        return (a * h).sum(1)


class MIL(nn.Module):
    def __init__(self, h=32):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(D, h), nn.ReLU())
        self.pool = AttnPool(h)
        self.cls = nn.Linear(h, 1)

    def forward(self, x):
        return self.cls(self.pool(self.embed(x))).squeeze(-1)


def build_model():
    return MIL()


def get_batch():
    return bags()


def loss_fn(logits, y):
    return F.binary_cross_entropy_with_logits(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
