"""Bug (input-dependence): a small CNN whose forward replaces its input with a registered
buffer (a placeholder from shape-debugging that was never removed)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import images


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("example", torch.zeros(1, 1, 16, 16))
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, stride=2)
        self.head = nn.Linear(16 * 8 * 8, 10)

    def forward(self, x):                                   # x: (B, 1, 16, 16)
        x = self.example.expand(x.shape[0], -1, -1, -1)     # BUG: the input is overwritten
        h = F.relu(self.conv1(x))                           # (B, 8, 16, 16)
        h = F.relu(self.conv2(h))                           # (B, 16, 8, 8)
        return self.head(h.flatten(1))                      # (B, 10)


def build_model():
    return CNN()


def get_batch():
    return images(32, 10, 16)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
