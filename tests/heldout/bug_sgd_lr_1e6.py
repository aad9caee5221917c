"""BUG update-ratio: SGD at lr=1e-6 (a fine-tuning LR reused for training from scratch, without momentum): the weights barely move."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def shapes(n=32, seed=147):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 5, (n,), generator=g)
    x = 0.4 * torch.randn(n, 1, 12, 12, generator=g)
    for i in range(n):
        k = int(y[i])
        x[i, 0, k * 2:k * 2 + 3, k * 2:k * 2 + 3] += 2.0
    return x, y


def build_model():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 36, 5))


def get_batch():
    return shapes()


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=1e-6)
