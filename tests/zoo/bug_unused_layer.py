"""Bug (update-ratio, grad-flow): forward skips a layer it builds, so it never gets a gradient."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(20, 64)
        self.fc2 = nn.Linear(64, 64)
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        h2 = F.relu(self.fc2(h))   # computed ...
        return self.out(h)         # BUG: ... but the head reads h, not h2


def build_model():
    return MLP()


def get_batch():
    return teacher_classification(64, 20, 10)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
