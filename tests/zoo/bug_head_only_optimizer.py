"""Bug (update-ratio): the optimizer holds only the last layer; the body never trains."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


def build_model():
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def get_batch():
    return teacher_classification(64, 20, 10)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)


def make_optimizer(params):
    params = list(params)
    return torch.optim.Adam(params[-2:], lr=1e-3)   # BUG: only the head's weight and bias
