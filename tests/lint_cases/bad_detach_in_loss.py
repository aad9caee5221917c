"""Detaching the prediction inside a loss, and a forward whose whole output is detached."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def compute_loss(pred, target):
    mse = F.mse_loss(pred, target)
    tv = (pred[:, 1:] - pred[:, :-1]).abs().mean()
    return mse + 0.1 * tv.detach()  # expect: detach-in-loss


class Smooth(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.fc = nn.Linear(d, d)

    def forward(self, x):                          # x: (N, d)
        return self.fc(x).detach()  # expect: detach-in-loss
