"""Bug (update-ratio): weight decay of 100 wipes the weights out in a few dozen steps."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))


def get_batch():
    return teacher_classification(64, 20, 10)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)


def make_optimizer(params):
    return torch.optim.AdamW(params, lr=1e-3, weight_decay=100.0)   # BUG: meant 1e-2
