"""Bug (grad-flow): a 20-layer sigmoid MLP with default init. Each layer multiplies the
backward signal by at most 0.25 x the weight scale, so the first layers get gradients
many orders of magnitude smaller than the last."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


def build_model():
    layers = [nn.Linear(20, 64), nn.Sigmoid()]
    for _ in range(19):
        layers += [nn.Linear(64, 64), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(64, 10))


def get_batch():
    return teacher_classification(64, 20, 10, seed=29)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
