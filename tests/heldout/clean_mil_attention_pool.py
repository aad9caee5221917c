"""CLEAN: multiple-instance learning, bags (B, K, D) pooled by gated attention with softmax over the K instances (dim 1); bag label BCE."""
import torch
import torch.nn as nn
import torch.nn.functional as F

K, D = 12, 16


def bags(n=48, seed=72):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, K, D, generator=g)
    y = (torch.rand(n, generator=g) < 0.5).float()
    for i in range(n):
        if y[i] == 1:                                  # a positive bag holds 1-3 'tumour' instances
            m = int(torch.randint(1, 4, (1,), generator=g))
            x[i, torch.randperm(K, generator=g)[:m], :4] += 2.5
    return x, y


class AttentionMIL(nn.Module):
    def __init__(self, d=D, h=32):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(d, h), nn.ReLU())
        self.att_v = nn.Linear(h, 16)
        self.att_u = nn.Linear(h, 16)
        self.att_w = nn.Linear(16, 1)
        self.cls = nn.Linear(h, 1)

    def forward(self, bag):                           # (B, K, D)
        h = self.embed(bag)                           # (B, K, h)
        a = self.att_w(torch.tanh(self.att_v(h)) * torch.sigmoid(self.att_u(h)))   # (B, K, 1)
        a = torch.softmax(a, dim=1)                   # over instances of each bag
        z = (a * h).sum(1)                            # (B, h)
        return self.cls(z).squeeze(-1)


def build_model():
    return AttentionMIL()


def get_batch():
    return bags()


def loss_fn(logits, y):
    return F.binary_cross_entropy_with_logits(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3, weight_decay=1e-4)
