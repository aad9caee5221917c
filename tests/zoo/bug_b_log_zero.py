"""Bug (nan-source): "log-compressed" hidden features taken as torch.log of a ReLU
output; every unit the ReLU zeroes becomes -inf, and the loss is NaN."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


class LogFeatures(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 64)
        self.head = nn.Linear(64, 10)

    def forward(self, x):                       # (N, 20)
        h = torch.log(F.relu(self.fc(x)))       # BUG: log(0) = -inf; meant log1p, or log(relu + eps)
        return self.head(h)                     # (N, 10)


def build_model():
    return LogFeatures()


def get_batch():
    return teacher_classification(64, 20, 10, seed=26)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
