"""Bug (grad-flow): the model builds three residual blocks but its forward loop stops one
short, so the last block never runs and never gets a gradient."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

    def forward(self, x):                       # (N, d)
        return x + self.fc2(F.relu(self.fc1(x)))


class ResMLP(nn.Module):
    def __init__(self, d_in=20, d=48, classes=10, depth=3):
        super().__init__()
        self.inp = nn.Linear(d_in, d)
        self.blocks = nn.ModuleList(Block(d) for _ in range(depth))
        self.head = nn.Linear(d, classes)

    def forward(self, x):                       # (N, 20) -> (N, 10)
        h = self.inp(x)
        for blk in self.blocks[:-1]:            # BUG: skips the last block
            h = blk(h)
        return self.head(h)


def build_model():
    return ResMLP()


def get_batch():
    return teacher_classification(64, 20, 10, seed=21)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
