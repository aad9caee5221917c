"""Bug (update-ratio, overfit-batch): the learning rate is 0."""
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
    return torch.optim.SGD(params, lr=0.0, momentum=0.9)   # BUG: lr=0
