"""Bug (init-loss): the output layer is initialised with std 1, so logits start huge."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


def build_model():
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    nn.init.normal_(model[-1].weight, std=1.0)   # BUG: 14x the default 1/sqrt(3*64)
    return model


def get_batch():
    return teacher_classification(64, 20, 10)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
