"""Functional dropout that ignores model.eval()."""
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, d=20, hidden=64, classes=10, p=0.3):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, classes)
        self.p = p

    def forward(self, x):                          # x: (N, d)
        h = F.relu(self.fc1(x))                    # (N, hidden)
        h = F.dropout(h, self.p)  # expect: functional-dropout-always-on
        h = F.dropout(h, p=self.p, training=True)  # expect: functional-dropout-always-on
        return self.fc2(h)                         # (N, classes)
