"""Bug (grad-flow): a two-branch model whose second branch is .detach()ed before the
head, so that branch's weights get no gradient and never train."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


class TwoBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.wide = nn.Sequential(nn.Linear(20, 32), nn.ReLU())
        self.deep = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def forward(self, x):                                  # (N, 20)
        a = self.wide(x)                                   # (N, 32)
        b = self.deep(x).detach()                          # BUG: cuts the deep branch from the loss
        return self.head(torch.cat([a, b], dim=1))         # (N, 10)


def build_model():
    return TwoBranch()


def get_batch():
    return teacher_classification(64, 20, 10, seed=22)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
