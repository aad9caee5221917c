"""Planted bug: the classifier squashes its logits with tanh "to keep them stable", so they stay in
[-1, 1]; with 5 classes cross-entropy can't fall below ln(1 + 4/e^2) ~ 0.43 even when every
example is right. The model trains and its accuracy looks fine; its confidence never can."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(32, 5)

    def forward(self, x):                       # x: (B, 1, 16, 16)
        h = self.features(x).flatten(1)         # (B, 32)
        return torch.tanh(self.head(h))         # BUG: (B, 5) logits bounded to [-1, 1]


def build_model():
    return SmallCNN()


def get_batch():
    g = torch.Generator().manual_seed(11)
    y = torch.randint(0, 5, (32,), generator=g)
    x = torch.randn(32, 1, 16, 16, generator=g)
    x[torch.arange(32), 0, y * 3, :] += 2.0    # the class is a bright row
    return x, y


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=3e-3)
