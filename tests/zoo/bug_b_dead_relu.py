"""Bug (activations, grad-flow): the first ReLU layer's bias is initialised to -10, so
every unit is negative for every input: the whole layer is dead from step 0."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


def build_model():
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    nn.init.constant_(model[0].bias, -10.0)   # BUG: meant a small positive bias (0.01)
    return model


def get_batch():
    return teacher_classification(64, 20, 10, seed=25)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
