"""CLEAN: heavily regularised MLP: input dropout 0.2, hidden dropout 0.5 x3 (nn.Dropout, respects eval), max-norm friendly SGD."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def gene_expression(n=64, d=50, seed=61):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.zeros(d, 3)
    w[:10, 0], w[10:20, 1], w[20:30, 2] = 1.0, 1.0, 1.0
    y = (x @ w + 0.3 * torch.randn(n, 3, generator=g)).argmax(1)
    return x, y


class DropoutNet(nn.Module):
    def __init__(self, d=50, h=256, c=3):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Dropout(0.2),
            nn.Linear(d, h), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(h, h), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(h, h), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(h, c))

    def forward(self, x):
        return self.layers(x)


def build_model():
    return DropoutNet()


def get_batch():
    return gene_expression()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.05, momentum=0.9)
