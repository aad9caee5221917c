"""Bug: dropout called as F.dropout(x, 0.3, training=True) inside forward, so it stays on
in model.eval() and every evaluation is noisy."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


class MLP(nn.Module):
    def __init__(self, d=20, hidden=64, classes=10):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):                                  # x: (N, d)
        h = F.relu(self.fc1(x))                            # (N, hidden)
        h = F.dropout(h, 0.3, training=True)               # BUG: should be training=self.training
        h = F.relu(self.fc2(h))                            # (N, hidden)
        return self.out(h)                                 # (N, classes)


def build_model():
    return MLP()


def get_batch():
    return teacher_classification(64, 20, 10)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
