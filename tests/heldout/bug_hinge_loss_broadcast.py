"""BUG silent-broadcast|loss-input: linear SVM-style hinge loss clamp(1 - y*f(x)) with f(x) of shape (N,1) and y of shape (N,) in {-1,+1}: (N,N)."""
import torch
import torch.nn as nn


def spam(n=64, seed=106):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 30, generator=g)
    w = torch.randn(30, generator=g)
    y = torch.sign(x @ w + 0.1)
    return x, y


class LinearSVM(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(30, 1)

    def forward(self, x):
        return self.fc(x)


def build_model():
    return LinearSVM()


def get_batch():
    return spam()


def loss_fn(scores, y, C=1.0):
    hinge = torch.clamp(1 - y * scores, min=0)
    return C * hinge.mean()


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.01, weight_decay=1e-3)
