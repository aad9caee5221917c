"""Bug: an MLP whose custom init fills every Linear weight with one constant (and zero
biases): all hidden units compute the same thing and get the same gradient forever."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, 0.05)   # BUG: no randomness
        nn.init.zeros_(m.bias)


def build_model():
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    model.apply(init_weights)
    return model


def get_batch():
    return teacher_classification(64, 20, 10)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
