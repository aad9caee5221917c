"""Clean (lr-schedule): linear warmup from base/WARMUP, then cosine decay to 0 exactly at
TOTAL_STEPS (a LambdaLR over AdamW with two param groups)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification

TOTAL_STEPS = 20000
WARMUP = 500


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))


def get_batch():
    return teacher_classification(64, 20, 10)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)


def make_optimizer(params):
    params = list(params)
    return torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.05},
                              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}], lr=6e-4)


def lr_factor(step):
    if step < WARMUP:
        return (step + 1) / WARMUP
    progress = (step - WARMUP) / (TOTAL_STEPS - WARMUP)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def make_scheduler(optimizer):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
