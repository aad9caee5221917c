"""Bug (input-dependence): the forward multiplies the input by 0 (a leftover debugging
line), so the network can only learn a per-class bias: the label marginal."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):          # x: (B, 20)
        x = x * 0                  # BUG: "temporarily" switched the input off
        return self.net(x)         # (B, 10)


def build_model():
    return MLP()


def get_batch():
    return teacher_classification(64, 20, 10)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
