"""Bug (lr-schedule): the linear LR-scaling rule written with integer division,
0.1 * (BATCH // 256), gives lr = 0.0 for a batch of 64; there is no scheduler."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification

BATCH = 64


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))


def get_batch():
    return teacher_classification(BATCH, 20, 10)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.1 * (BATCH // 256), momentum=0.9)   # BUG: 64 // 256 == 0
