"""Bug: a hand-rolled "normalisation" that centres features with the batch mean in every
mode, so in eval (and at inference) each prediction depends on the rest of the batch."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


class CenteredMLP(nn.Module):
    def __init__(self, d=20, hidden=64, classes=10):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):                   # x: (N, d)
        h = F.relu(self.fc1(x))             # (N, hidden)
        h = h - h.mean(0, keepdim=True)     # BUG: batch statistics, even in eval mode
        return self.fc2(h)                  # (N, classes)


def build_model():
    return CenteredMLP()


def get_batch():
    return teacher_classification(64, 20, 10)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
