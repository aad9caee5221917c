"""Bug: the hidden layer's weight and bias start at zero and feed a ReLU: every hidden unit
outputs 0, ReLU's gradient at 0 is 0, so neither the hidden layer nor the head can learn."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 64)
        self.head = nn.Linear(64, 10)
        nn.init.zeros_(self.hidden.weight)    # BUG: zero init before a ReLU
        nn.init.zeros_(self.hidden.bias)

    def forward(self, x):                     # (N, 20) -> (N, 10)
        return self.head(F.relu(self.hidden(x)))


def build_model():
    return Net()


def get_batch():
    return teacher_classification(64, 20, 10, seed=3)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
