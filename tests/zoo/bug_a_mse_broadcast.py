"""Bug: the regressor returns (N, 1) while the targets are (N,); F.mse_loss broadcasts
them to (N, N) (with only a UserWarning), so every prediction is fit to every target."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_regression


def build_model():
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))   # (N, 8) -> (N, 1)


def get_batch():
    return teacher_regression(64, 8)        # targets (N,)


def loss_fn(pred, y):
    return F.mse_loss(pred, y)              # BUG: (N, 1) vs (N,)
