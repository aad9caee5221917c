"""Bug (lr-schedule): linear warmup written with integer division, min(1, step // WARMUP),
so the LR multiplier is 0 for the whole warmup instead of rising to 1."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification

TOTAL_STEPS = 3000
WARMUP = 200


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))


def get_batch():
    return teacher_classification(64, 20, 10)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)


def make_scheduler(optimizer):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1, step // WARMUP))  # BUG: // not /
