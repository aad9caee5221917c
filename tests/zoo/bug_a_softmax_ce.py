"""Bug: a CNN whose forward ends in F.softmax, trained with nn.CrossEntropyLoss (which
applies log-softmax itself). The loss still falls a little, so nothing crashes."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import images


class Net(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4))  # (N, 8, 4, 4)
        self.fc = nn.Linear(8 * 4 * 4, classes)

    def forward(self, x):                               # x: (N, 1, 16, 16)
        logits = self.fc(self.conv(x).flatten(1))       # (N, classes)
        return F.softmax(logits, dim=1)                 # BUG: probabilities into CrossEntropyLoss


def build_model():
    return Net()


def get_batch():
    return images(32)


loss_fn = nn.CrossEntropyLoss()
