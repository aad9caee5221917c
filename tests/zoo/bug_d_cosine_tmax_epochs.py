"""Bug (lr-schedule): CosineAnnealingLR(T_max=EPOCHS) while scheduler.step() runs per batch:
the LR reaches 0 after 10 steps and then swings between 0 and the peak every 20 steps."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_regression

EPOCHS = 10
TOTAL_STEPS = 5000    # 10 epochs x 500 batches


def build_model():
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))


def get_batch():
    x, y = teacher_regression(64, 8)
    return x, y.unsqueeze(1)


def loss_fn(outputs, targets):
    return F.mse_loss(outputs, targets)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)


def make_scheduler(optimizer):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)   # BUG: T_max in epochs
