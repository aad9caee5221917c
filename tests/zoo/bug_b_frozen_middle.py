"""Bug (grad-flow, fail): one hidden layer in the middle of an MLP is left with
requires_grad=False (a freezing loop that went one layer too far), so it never trains: its
values are a fresh random init (they change with the seed), nothing was loaded into them."""
import torch.nn as nn
import torch.nn.functional as F
from _data import teacher_classification


def build_model():
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    model[2].requires_grad_(False)      # BUG: the second hidden layer is frozen
    return model


def get_batch():
    return teacher_classification(64, 20, 10, seed=23)


def loss_fn(outputs, targets):
    return F.cross_entropy(outputs, targets)
