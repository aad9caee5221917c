"""Functional dropout tied to the module's mode, and nn.Dropout."""
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, d=20, hidden=64, classes=10, p=0.3):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.drop = nn.Dropout(p)
        self.fc2 = nn.Linear(hidden, classes)
        self.p = p

    def forward(self, x):                          # x: (N, d)
        h = F.dropout(F.relu(self.fc1(x)), self.p, self.training)
        h = F.dropout(h, p=self.p, training=self.training)
        return self.fc2(self.drop(h))


def augment(x, p=0.1):
    return F.dropout(x, p)                         # data augmentation outside a module: not a mode bug
